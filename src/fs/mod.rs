//! Files off the hub: `std::fs` with std's signatures, each call made on the
//! [default thread pool](crate::threadpool::default_pool) while only the
//! calling greenlet waits (gevent's `gevent.os` and `FileObjectThread`,
//! tokio's `tokio::fs`).
//!
//! The kernel has no readiness for regular files: a read from a cold disk,
//! a network file system or a FIFO blocks the thread, and so every greenlet
//! of it. Here each function, and each method of [`File`], hands the std
//! call to a pool thread; the hub runs the other greenlets meanwhile (in the
//! main context too).
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("greenlet-fs-doc-{}", std::process::id()));
//! greenlet::fs::create_dir_all(&dir)?;
//! greenlet::fs::write(dir.join("hello.txt"), "hello")?;
//! assert_eq!(greenlet::fs::read_to_string(dir.join("hello.txt"))?, "hello");
//! greenlet::fs::remove_file(dir.join("hello.txt"))?;
//! # std::fs::remove_dir(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Errors
//!
//! Every function returns std's error unchanged (`NotFound`,
//! `PermissionDenied`, …), as the same call on the calling thread would.
//!
//! # Kills and timeouts
//!
//! An operation on a pool thread cannot be stopped. A greenlet killed (or
//! whose [`Timeout`](crate::Timeout) expires) while it waits for one unwinds
//! at once; the pool thread completes the operation, and its result (the
//! bytes read, a directory listing) is dropped when it arrives. A write or
//! a rename may thus still happen after the kill, and a [`File`]'s position
//! may have moved.
//!
//! # Implementation notes
//!
//! Pool threads need owned, `'static` data: paths are copied into a
//! `PathBuf`, written bytes into a `Vec`, and [`File`] reads go through a
//! bounce buffer of the pool's own (at most [`File::MAX_BUF`] bytes per
//! call), copied into the caller's buffer afterwards. Each call costs a
//! round trip to a pool thread (tens of microseconds): read small files
//! whole, or through a large buffer.

mod file;
mod functions;

pub use file::File;
pub use functions::{
    ReadDir, copy, create_dir, create_dir_all, metadata, read, read_dir, read_to_string,
    remove_dir, remove_dir_all, remove_file, rename, write,
};
