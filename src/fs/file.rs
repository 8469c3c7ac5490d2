//! `File`: `std::fs::File` whose every call runs on the default thread pool.

use std::fmt;
use std::fs::{Metadata, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use crate::threadpool::apply;

/// An open file, like [`std::fs::File`], whose calls run on the
/// [default thread pool](crate::threadpool::default_pool) while only the
/// calling greenlet waits.
///
/// `Read`, `Write` and `Seek` work as with std, also on `&File`, so
/// `BufReader`, `BufWriter` and `io::copy` work unchanged; each call is one
/// round trip to a pool thread, so wrap the file in a `BufReader` or
/// `BufWriter` for small reads and writes. Unlike the green sockets, a
/// `File` is `Send` and `Sync`: it is not registered with any hub.
///
/// # Errors
///
/// std's, unchanged: `NotFound` from [`open`](Self::open) for a missing
/// file, `PermissionDenied`, a full disk on write, …
///
/// # Panics
///
/// As every blocking call: a kill or an expired timeout unwinds the caller
/// at once, while the pool thread completes the operation. The file's
/// position may have moved (a read's bytes are dropped, a write's are
/// written).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
///
/// let path = std::env::temp_dir().join(format!("greenlet-file-doc-{}", std::process::id()));
/// let mut file = greenlet::fs::File::create(&path)?;
/// file.write_all(b"hello, world")?;
/// file.sync_all()?;
/// let mut file = greenlet::fs::File::open(&path)?;
/// file.seek(SeekFrom::Start(7))?;
/// let mut rest = String::new();
/// file.read_to_string(&mut rest)?;
/// assert_eq!(rest, "world");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    /// Shared with the pool task of the call in progress, which needs a
    /// `'static` file; only a task whose caller was killed outlives its
    /// call.
    inner: Arc<std::fs::File>,
}

impl File {
    /// The most bytes one `read` or `write` call moves: the size of the
    /// pool's bounce buffer. A larger buffer is served in part, as
    /// [`Read::read`] and [`Write::write`] allow; `read_to_end`,
    /// `read_to_string` and `write_all` go on until done.
    pub const MAX_BUF: usize = 1 << 20;

    /// Opens a file for reading, as [`std::fs::File::open`].
    ///
    /// # Errors
    ///
    /// std's: `NotFound`, `PermissionDenied`, …
    ///
    /// # Examples
    ///
    /// ```
    /// let file = greenlet::fs::File::open("Cargo.toml")?;
    /// assert!(file.metadata()?.len() > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_path_buf();
        apply(move || std::fs::File::open(path)).map(File::from)
    }

    /// Opens a file for writing, creating it or truncating it, as
    /// [`std::fs::File::create`].
    ///
    /// # Errors
    ///
    /// std's: `NotFound` when the directory does not exist,
    /// `PermissionDenied`, …
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("greenlet-create-doc-{}", std::process::id()));
    /// let file = greenlet::fs::File::create(&path)?;
    /// assert_eq!(file.metadata()?.len(), 0);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_path_buf();
        apply(move || std::fs::File::create(path)).map(File::from)
    }

    /// Runs `op` on the file on the default pool.
    #[track_caller]
    fn run<T, F>(&self, op: F) -> T
    where
        F: FnOnce(&std::fs::File) -> T + Send + 'static,
        T: Send + 'static,
    {
        let file = self.inner.clone();
        apply(move || op(&file))
    }

    /// The file's metadata, as [`std::fs::File::metadata`].
    ///
    /// # Errors
    ///
    /// std's (`fstat`'s).
    ///
    /// # Examples
    ///
    /// ```
    /// let file = greenlet::fs::File::open("Cargo.toml")?;
    /// assert!(file.metadata()?.is_file());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.run(std::fs::File::metadata)
    }

    /// Flushes the file's data and metadata to the device, as
    /// [`std::fs::File::sync_all`].
    ///
    /// # Errors
    ///
    /// std's (`fsync`'s), such as an I/O error of the device.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-sync-doc-{}", std::process::id()));
    /// let mut file = greenlet::fs::File::create(&path)?;
    /// file.write_all(b"durable")?;
    /// file.sync_all()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn sync_all(&self) -> io::Result<()> {
        self.run(std::fs::File::sync_all)
    }

    /// Flushes the file's data (not all of its metadata) to the device, as
    /// [`std::fs::File::sync_data`].
    ///
    /// # Errors
    ///
    /// std's (`fdatasync`'s).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("greenlet-sdata-doc-{}", std::process::id()));
    /// let file = greenlet::fs::File::create(&path)?;
    /// file.sync_data()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn sync_data(&self) -> io::Result<()> {
        self.run(std::fs::File::sync_data)
    }

    /// Truncates or extends the file to `size` bytes, as
    /// [`std::fs::File::set_len`]. The position does not move.
    ///
    /// # Errors
    ///
    /// std's: an error when the file is not open for writing, …
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("greenlet-setlen-doc-{}", std::process::id()));
    /// let file = greenlet::fs::File::create(&path)?;
    /// file.set_len(10)?;
    /// assert_eq!(file.metadata()?.len(), 10);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.run(move |file| file.set_len(size))
    }

    /// Changes the file's permissions, as
    /// [`std::fs::File::set_permissions`].
    ///
    /// # Errors
    ///
    /// std's: `PermissionDenied` when the caller does not own the file, …
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("greenlet-perm-doc-{}", std::process::id()));
    /// let file = greenlet::fs::File::create(&path)?;
    /// let mut perms = file.metadata()?.permissions();
    /// perms.set_readonly(true);
    /// file.set_permissions(perms)?;
    /// assert!(file.metadata()?.permissions().readonly());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.run(move |file| file.set_permissions(perm))
    }

    /// A new `File` for the same open file (a duplicate descriptor: the two
    /// share the position), as [`std::fs::File::try_clone`].
    ///
    /// # Errors
    ///
    /// std's (`dup`'s), such as running out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Seek, SeekFrom};
    ///
    /// let mut file = greenlet::fs::File::open("Cargo.toml")?;
    /// let mut clone = file.try_clone()?;
    /// file.seek(SeekFrom::Start(1))?;
    /// let mut byte = [0];
    /// clone.read_exact(&mut byte)?; // from the shared position
    /// assert_eq!(&byte, b"p");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn try_clone(&self) -> io::Result<File> {
        self.run(std::fs::File::try_clone).map(File::from)
    }

    /// The std file, to be used on the calling thread (its calls block it).
    ///
    /// # Panics
    ///
    /// Only if a greenlet was killed during a call whose operation still
    /// runs on the pool: that operation holds the file, so this returns a
    /// duplicate descriptor (same open file, same position), and panics if
    /// the kernel refuses one (out of descriptors). The original closes
    /// when the operation ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let mut std_file = greenlet::fs::File::open("Cargo.toml")?.into_std();
    /// let mut text = String::new();
    /// std_file.read_to_string(&mut text)?;
    /// assert!(text.starts_with("[package]"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn into_std(self) -> std::fs::File {
        Arc::try_unwrap(self.inner).unwrap_or_else(|shared| {
            shared
                .try_clone()
                .expect("greenlet: cannot duplicate a file descriptor a pool task still holds")
        })
    }
}

impl From<std::fs::File> for File {
    /// Wraps a std file: its calls run on the default pool from now on.
    fn from(file: std::fs::File) -> File {
        File {
            inner: Arc::new(file),
        }
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std's shows the descriptor, the path and the access mode.
        fmt::Debug::fmt(&*self.inner, f)
    }
}

impl Read for &File {
    /// Reads at most [`File::MAX_BUF`] bytes into a buffer of the pool's,
    /// then copies them into `buf`.
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(File::MAX_BUF);
        let bytes = self.run(move |mut file| {
            let mut bounce = vec![0; len];
            let n = file.read(&mut bounce)?;
            bounce.truncate(n);
            Ok::<_, io::Error>(bounce)
        })?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// Reads to the end in one pool call, then appends. On an error, the
    /// bytes read before it are appended too, as std does.
    #[track_caller]
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let (result, bytes) = self.run(|mut file| {
            let mut bytes = Vec::new();
            (file.read_to_end(&mut bytes), bytes)
        });
        if buf.is_empty() {
            *buf = bytes;
        } else {
            buf.extend_from_slice(&bytes);
        }
        result
    }

    /// Reads to the end in one pool call, then appends. As std, nothing is
    /// appended when the bytes are not UTF-8 (`InvalidData`).
    #[track_caller]
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let (result, text) = self.run(|mut file| {
            let mut text = String::new();
            (file.read_to_string(&mut text), text)
        });
        buf.push_str(&text);
        result
    }
}

impl Write for &File {
    /// Copies at most [`File::MAX_BUF`] bytes of `buf` and writes them on
    /// the pool.
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bytes = buf[..buf.len().min(File::MAX_BUF)].to_vec();
        self.run(move |mut file| file.write(&bytes))
    }

    /// Does nothing, as std's: a `File` keeps no buffer (see
    /// [`File::sync_all`] for the device's).
    #[track_caller]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    #[track_caller]
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.run(move |mut file| file.seek(pos))
    }
}

impl Read for File {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    #[track_caller]
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    #[track_caller]
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    #[track_caller]
    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Seek for File {
    #[track_caller]
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}
