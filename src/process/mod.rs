//! Child processes that never stall the hub: std's `std::process` shapes
//! (Python's `subprocess`, gevent's `gevent.subprocess`).
//!
//! [`Command`] is std's builder; the [`Child`] it spawns waits for its exit
//! by switching greenlets (a pidfd registered with the hub's reactor), and
//! its piped standard streams ([`ChildStdin`], [`ChildStdout`],
//! [`ChildStderr`]) read and write as green sockets do. A child dropped
//! before it exits runs on, as std's, and is reaped by a thread of the
//! library once it exits, so no zombie is left (see [`Child`]'s
//! "Dropping").
//!
//! ```
//! use std::io::Write;
//! use greenlet::process::{Command, Stdio};
//!
//! // Python's `Popen(['tr', 'a-z', 'A-Z'], stdin=PIPE, stdout=PIPE).communicate(b'hello')`
//! let mut child = Command::new("tr")
//!     .args(["a-z", "A-Z"])
//!     .stdin(Stdio::piped())
//!     .stdout(Stdio::piped())
//!     .spawn()?;
//! let mut stdin = child.stdin.take().unwrap();
//! let writer = greenlet::spawn(move || stdin.write_all(b"hello")); // closed when done
//! let output = child.wait_with_output()?;
//! writer.join().unwrap()?;
//! assert_eq!(output.stdout, b"HELLO");
//! assert!(output.status.success());
//! # Ok::<(), std::io::Error>(())
//! ```

mod child;
mod command;
mod pipes;
mod reaper;
mod waiting;

pub use child::Child;
pub use command::Command;
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

pub(crate) use waiting::disable_pidfd;
