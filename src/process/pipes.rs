//! The child's standard streams: green pipes.
//!
//! Each is a pipe end of mio's in non-blocking mode, registered with this
//! thread's hub through an [`IoSource`]: a read or write that would block
//! suspends the calling greenlet until the pipe is ready, as a green
//! socket's does.
//!
//! Ground rules: this file knows nothing of `Child` or `Command`.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use mio::unix::pipe::{Receiver, Sender};

use crate::hub::{Direction, IoSource};

/// A handle to a child's standard input: [`Write`] suspends only the
/// calling greenlet while the pipe is full.
///
/// Dropping it closes the pipe, which the child reads as end of file.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use greenlet::process::{Command, Stdio};
///
/// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
/// child.stdin.take().unwrap().write_all(b"meow")?; // dropped: end of file
/// assert_eq!(child.wait_with_output()?.stdout, b"meow");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChildStdin(IoSource<Sender>);

/// A handle to a child's standard output: [`Read`] suspends only the
/// calling greenlet until the child writes (or closes the pipe).
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use greenlet::process::{Command, Stdio};
///
/// let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
/// let mut out = String::new();
/// child.stdout.take().unwrap().read_to_string(&mut out)?;
/// assert_eq!(out, "hi\n");
/// child.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChildStdout(IoSource<Receiver>);

/// A handle to a child's standard error: [`Read`] suspends only the calling
/// greenlet until the child writes (or closes the pipe).
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use greenlet::process::{Command, Stdio};
///
/// let mut child = Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped()).spawn()?;
/// let mut err = String::new();
/// child.stderr.take().unwrap().read_to_string(&mut err)?;
/// assert_eq!(err, "oops\n");
/// child.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChildStderr(IoSource<Receiver>);

/// Switches a pipe end to non-blocking mode and registers it.
fn register<P: AsRawFd>(
    pipe: P,
    set_nonblocking: impl Fn(&P) -> io::Result<()>,
) -> io::Result<IoSource<P>> {
    set_nonblocking(&pipe)?;
    IoSource::new(pipe)
}

impl ChildStdin {
    /// Takes over std's handle: non-blocking, registered with this
    /// thread's hub.
    pub(crate) fn from_std(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        register(Sender::from(stdin), |p| p.set_nonblocking(true)).map(ChildStdin)
    }

    /// Leaves the hub and returns std's handle, in blocking mode again: to
    /// pass it to another child as its standard input (`Stdio::from`), or
    /// to another thread.
    ///
    /// # Errors
    ///
    /// The kernel's error when switching the pipe back to blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::process::{Command, Stdio};
    ///
    /// let mut child = Command::new("cat").stdin(Stdio::piped()).spawn()?;
    /// let stdin: std::process::ChildStdin = child.stdin.take().unwrap().into_std()?;
    /// drop(stdin);
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::process::ChildStdin> {
        let pipe = self.0.into_inner();
        pipe.set_nonblocking(false)?;
        Ok(OwnedFd::from(pipe).into())
    }
}

impl ChildStdout {
    /// Takes over std's handle: non-blocking, registered with this
    /// thread's hub.
    pub(crate) fn from_std(stdout: std::process::ChildStdout) -> io::Result<ChildStdout> {
        register(Receiver::from(stdout), |p| p.set_nonblocking(true)).map(ChildStdout)
    }

    /// Leaves the hub and returns std's handle, in blocking mode again: to
    /// pass it to another child as its standard input, as in a shell's
    /// pipeline.
    ///
    /// # Errors
    ///
    /// The kernel's error when switching the pipe back to blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::process::{Command, Stdio};
    ///
    /// let mut echo = Command::new("echo").arg("b\na").stdout(Stdio::piped()).spawn()?;
    /// let piped = Stdio::from(echo.stdout.take().unwrap().into_std()?);
    /// let sorted = Command::new("sort").stdin(piped).output()?;
    /// assert_eq!(sorted.stdout, b"a\nb\n");
    /// echo.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::process::ChildStdout> {
        let pipe = self.0.into_inner();
        pipe.set_nonblocking(false)?;
        Ok(OwnedFd::from(pipe).into())
    }
}

impl ChildStderr {
    /// Takes over std's handle: non-blocking, registered with this
    /// thread's hub.
    pub(crate) fn from_std(stderr: std::process::ChildStderr) -> io::Result<ChildStderr> {
        register(Receiver::from(stderr), |p| p.set_nonblocking(true)).map(ChildStderr)
    }

    /// Leaves the hub and returns std's handle, in blocking mode again.
    ///
    /// # Errors
    ///
    /// The kernel's error when switching the pipe back to blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use greenlet::process::{Command, Stdio};
    ///
    /// let mut child = Command::new("sh").args(["-c", "echo e >&2"]).stderr(Stdio::piped()).spawn()?;
    /// let mut stderr: std::process::ChildStderr = child.stderr.take().unwrap().into_std()?;
    /// let mut err = String::new();
    /// stderr.read_to_string(&mut err)?; // blocks the thread, as std's does
    /// assert_eq!(err, "e\n");
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::process::ChildStderr> {
        let pipe = self.0.into_inner();
        pipe.set_nonblocking(false)?;
        Ok(OwnedFd::from(pipe).into())
    }
}

impl Write for ChildStdin {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &ChildStdin {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .io_stream(Direction::Write, buf.len(), |mut p| p.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Implements `Read` for a reading pipe end `$T` and for `&$T`.
macro_rules! impl_read {
    ($($T:ident),*) => {$(
        impl Read for $T {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                (&*self).read(buf)
            }
        }

        impl Read for &$T {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0.io_stream(Direction::Read, buf.len(), |mut p| p.read(buf))
            }
        }
    )*};
}

/// Implements `AsFd`, `AsRawFd`, `From<$T> for OwnedFd` (the descriptor
/// leaves the hub, still in non-blocking mode) and a `Debug` showing the
/// descriptor, for each pipe end `$T`.
macro_rules! impl_pipe_traits {
    ($($T:ident),*) => {$(
        impl AsFd for $T {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.get().as_fd()
            }
        }

        impl AsRawFd for $T {
            fn as_raw_fd(&self) -> RawFd {
                self.0.get().as_raw_fd()
            }
        }

        impl From<$T> for OwnedFd {
            /// Leaves the hub and hands over the descriptor, still in
            /// non-blocking mode (`into_std` returns a blocking one).
            fn from(pipe: $T) -> OwnedFd {
                pipe.0.into_inner().into()
            }
        }

        impl fmt::Debug for $T {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($T)).field("fd", &self.as_raw_fd()).finish()
            }
        }
    )*};
}

impl_read!(ChildStdout, ChildStderr);
impl_pipe_traits!(ChildStdin, ChildStdout, ChildStderr);

/// Reads `stdout` and `stderr` to their ends at once (stderr in a greenlet
/// of its own), so that a child filling one pipe while its parent waits on
/// the other cannot deadlock.
///
/// # Errors
///
/// The first read error; `Other` when the greenlet reading stderr was
/// killed or panicked.
pub(crate) fn read_both(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    fn read_all(mut pipe: impl Read) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
    match (stdout, stderr) {
        (None, None) => Ok((Vec::new(), Vec::new())),
        (Some(out), None) => Ok((read_all(out)?, Vec::new())),
        (None, Some(err)) => Ok((Vec::new(), read_all(err)?)),
        (Some(out), Some(err)) => {
            let reader = KillOnDrop(Some(crate::spawn(move || read_all(err))));
            let out = read_all(out)?;
            let err = reader.join().map_err(|e| {
                io::Error::other(format!("greenlet: the child's stderr reader failed: {e}"))
            })??;
            Ok((out, err))
        }
    }
}

/// A helper greenlet, killed if its owner unwinds (or returns early) before
/// joining it.
struct KillOnDrop<T>(Option<crate::Greenlet<T>>);

impl<T> KillOnDrop<T> {
    fn join(mut self) -> Result<T, crate::JoinError> {
        self.0.take().expect("joined once").join()
    }
}

impl<T> Drop for KillOnDrop<T> {
    fn drop(&mut self) {
        if let Some(greenlet) = self.0.take() {
            greenlet.kill();
        }
    }
}
