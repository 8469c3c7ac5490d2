//! A running child process: std's `Child`, whose waits and pipes switch
//! greenlets instead of blocking the thread.
//!
//! Ground rules: this file owns the `std::process::Child` and is the only
//! one to reap it, through [`ExitWatch`] while it is alive and through the
//! reaper once it is dropped.

use std::io::{self, Write};
use std::process::{ExitStatus, Output};
use std::time::{Duration, Instant};

use super::pipes::{self, ChildStderr, ChildStdin, ChildStdout};
use super::reaper;
use super::waiting::ExitWatch;

/// A child process, as std's [`std::process::Child`], whose waits suspend
/// only the calling greenlet (in the main context, the hub runs the other
/// greenlets meanwhile).
///
/// Made by [`Command::spawn`](super::Command::spawn) or from a std child
/// with [`Child::from_std`]. It is registered with this thread's hub, so it
/// stays on this thread (it is neither `Send` nor `Sync`).
///
/// # Dropping
///
/// As with std, dropping a `Child` neither kills the process nor waits for
/// it: the process runs on. Unlike std's, it is never left a zombie: a
/// child that has not exited yet when it is dropped (by its owner, or by a
/// greenlet that unwinds from a kill while it waits) is handed to the
/// `greenlet-reaper` thread, which reaps it once it exits (within 100 ms of
/// the exit). Its pipes are closed on drop.
///
/// # Implementation notes
///
/// The exit is watched through a pidfd registered with the hub's reactor
/// (Linux 5.3 and later); without one (an older kernel, a sandbox that
/// refuses `pidfd_open`), a wait polls with a non-blocking `waitpid` and a
/// green sleep of 1 ms doubling up to 50 ms.
///
/// # Examples
///
/// ```
/// use greenlet::process::Command;
///
/// let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
/// assert_eq!(child.wait()?.code(), Some(3));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// A child is bound to its thread:
///
/// ```compile_fail
/// fn is_send<T: Send>() {}
/// is_send::<greenlet::process::Child>();
/// ```
#[derive(Debug)]
pub struct Child {
    /// `None` only once dropped.
    inner: Option<std::process::Child>,
    watch: ExitWatch,
    /// The child's standard input, if [piped](super::Stdio::piped).
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if [piped](super::Stdio::piped).
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if [piped](super::Stdio::piped).
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// Takes over a child spawned by std: its pipes turn green and its
    /// exit is watched by this thread's hub.
    ///
    /// # Errors
    ///
    /// The kernel's error when a pipe cannot be registered (out of memory or
    /// descriptors); the child is then handed to the reaper (see
    /// [Dropping](Child#dropping)).
    ///
    /// # Examples
    ///
    /// ```
    /// let std_child = std::process::Command::new("true").spawn()?;
    /// let mut child = greenlet::process::Child::from_std(std_child)?;
    /// assert!(child.wait()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(mut child: std::process::Child) -> io::Result<Child> {
        let watch = ExitWatch::new(child.id());
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        // The child is owned from here: an error below drops it, reaped.
        let mut green = Child {
            inner: Some(child),
            watch,
            stdin: None,
            stdout: None,
            stderr: None,
        };
        green.stdin = stdin.map(ChildStdin::from_std).transpose()?;
        green.stdout = stdout.map(ChildStdout::from_std).transpose()?;
        green.stderr = stderr.map(ChildStderr::from_std).transpose()?;
        Ok(green)
    }

    fn inner(&mut self) -> &mut std::process::Child {
        self.inner.as_mut().expect("a live child")
    }

    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = greenlet::process::Command::new("true").spawn()?;
    /// assert!(child.id() > 0);
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> u32 {
        self.inner.as_ref().expect("a live child").id()
    }

    /// Sends `SIGKILL` to the child, as std's `kill`. It does not wait:
    /// call [`wait`](Self::wait) for the status (`signal()` is then 9).
    ///
    /// # Errors
    ///
    /// The kernel's error from `kill`. Killing a child that has exited but
    /// not been waited for does nothing and succeeds, as std's does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// let mut child = greenlet::process::Command::new("sleep").arg("10").spawn()?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(9));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner().kill()
    }

    /// Waits for the child to exit and reaps it; only the calling greenlet
    /// waits. As std's, it first closes the child's standard input (so a
    /// child reading it to its end can finish), and once the child is
    /// reaped, calls return its status again.
    ///
    /// # Errors
    ///
    /// The kernel's error from `waitpid`; an error instead of waiting while
    /// the thread is unwinding.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed, or its timeout expires, while it
    /// waits; the child is then reaped by the reaper once this `Child` is
    /// dropped (see [Dropping](Child#dropping)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let ticks = Rc::new(Cell::new(0));
    /// let counter = ticks.clone();
    /// let ticker = greenlet::spawn(move || loop {
    ///     greenlet::sleep(Duration::from_millis(1));
    ///     counter.set(counter.get() + 1);
    /// });
    /// let mut child = greenlet::process::Command::new("sleep").arg("0.1").spawn()?;
    /// assert!(child.wait()?.success());
    /// assert!(ticks.get() > 0); // the ticker ticked meanwhile
    /// ticker.kill();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let (inner, watch) = (self.inner.as_mut().expect("a live child"), &self.watch);
        let status = watch.wait_until(inner, None)?;
        Ok(status.expect("a wait without a deadline returns a status"))
    }

    /// Reaps the child if it has exited, without waiting: std's `try_wait`.
    ///
    /// # Errors
    ///
    /// The kernel's error from `waitpid`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = greenlet::process::Command::new("sleep").arg("10").spawn()?;
    /// assert!(child.try_wait()?.is_none());
    /// child.kill()?;
    /// child.wait()?;
    /// assert!(child.try_wait()?.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner().try_wait()
    }

    /// Waits at most `timeout` for the child to exit, and reaps it if it
    /// did: `None` when the time ran out first (the child runs on, and can
    /// be waited for again). Unlike [`wait`](Self::wait), it leaves the
    /// standard input open.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut child = greenlet::process::Command::new("sleep").arg("10").spawn()?;
    /// assert!(child.wait_timeout(Duration::from_millis(20))?.is_none());
    /// child.kill()?;
    /// assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        // A timeout too long to represent is no timeout.
        let deadline = Instant::now().checked_add(timeout);
        let (inner, watch) = (self.inner.as_mut().expect("a live child"), &self.watch);
        match deadline {
            Some(deadline) => watch.wait_until(inner, Some(deadline)),
            None => watch.wait_until(inner, None),
        }
    }

    /// Closes the standard input, reads standard output and standard error
    /// to their ends at once (so a child filling either pipe cannot
    /// deadlock), then waits for the child: std's `wait_with_output`. A
    /// stream that was not piped comes back empty.
    ///
    /// # Errors
    ///
    /// A read error, or [`wait`](Self::wait)'s.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait); the greenlet reading standard error is
    /// killed too.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::process::{Command, Stdio};
    ///
    /// let child = Command::new("sh")
    ///     .args(["-c", "echo out; echo err >&2"])
    ///     .stdout(Stdio::piped())
    ///     .stderr(Stdio::piped())
    ///     .spawn()?;
    /// let output = child.wait_with_output()?;
    /// assert_eq!((&output.stdout[..], &output.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = pipes::read_both(self.stdout.take(), self.stderr.take())?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Writes `input` to the child's standard input and closes it, while
    /// reading standard output and standard error to their ends, then
    /// waits for the child: Python's `Popen.communicate(input)`. Writing
    /// and reading at once, in greenlets, means that a child which answers
    /// before it has read all of its input (`cat` with more than a pipe
    /// holds) cannot deadlock. A stream that was not piped comes back empty.
    ///
    /// To bound it, run it under [`with_timeout`](crate::with_timeout): the
    /// child then runs on (kill it with [`kill`](Self::kill) through
    /// [`id`](Self::id) if need be, or keep the `Child` and use the pipes).
    ///
    /// # Errors
    ///
    /// - `InvalidInput` when `input` is not empty and standard input was
    ///   not piped.
    /// - A write error, except `BrokenPipe`: a child that exits without
    ///   reading all its input is no error, as in Python.
    /// - A read error, or [`wait`](Self::wait)'s.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait); the greenlets writing and reading are
    /// killed first.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::process::{Command, Stdio};
    ///
    /// let child = Command::new("tr")
    ///     .args(["a-z", "A-Z"])
    ///     .stdin(Stdio::piped())
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// let output = child.communicate(b"hello")?;
    /// assert_eq!(output.stdout, b"HELLO");
    /// assert!(output.status.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn communicate(mut self, input: &[u8]) -> io::Result<Output> {
        let stdin = self.stdin.take();
        if stdin.is_none() && !input.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "greenlet: communicate was given input, but the child's stdin is not piped",
            ));
        }
        let (stdout, stderr) = (self.stdout.take(), self.stderr.take());
        let (written, read) = crate::scope(|s| {
            let writer = stdin.map(|mut stdin| s.spawn(move || stdin.write_all(input)));
            let read = pipes::read_both(stdout, stderr);
            if read.is_err()
                && let Some(writer) = &writer
            {
                // Nobody will read the child's answer: stop feeding it.
                writer.greenlet().kill();
            }
            (writer.map(|w| w.join()), read)
        });
        let (stdout, stderr) = read?;
        match written {
            Some(Ok(Err(e))) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e),
            Some(Err(e)) => {
                return Err(io::Error::other(format!(
                    "greenlet: the child's stdin writer failed: {e}"
                )));
            }
            _ => {}
        }
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Whether the exit is watched through a pidfd (for the tests).
    pub(crate) fn has_pidfd(&self) -> bool {
        self.watch.has_pidfd()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(mut child) = self.inner.take() {
            // Reaped already, or reaped now: nothing is left to do. A
            // `waitpid` error means nothing can reap it.
            if let Ok(None) = child.try_wait() {
                reaper::adopt(child);
            }
        }
    }
}
