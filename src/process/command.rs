//! A process builder: std's `Command`, spawning green [`Child`]ren.
//!
//! Ground rules: the standard streams' defaults (which differ between
//! `spawn`, `output` and `status`, as std's) are set here, on every spawn,
//! for each stream the caller did not set.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

use super::child::Child;

/// A process builder, as std's [`std::process::Command`], whose
/// [`spawn`](Self::spawn) returns a [`Child`] that waits (and whose pipes
/// read and write) by switching greenlets instead of blocking the thread.
///
/// The builder methods are std's, and so are the defaults of the standard
/// streams: inherited by [`spawn`](Self::spawn) and
/// [`status`](Self::status); for [`output`](Self::output), standard input
/// null and the others piped.
///
/// # Examples
///
/// Seed 002's `subprocess.run(['ls', '-l'], stdout=subprocess.PIPE)`:
///
/// ```
/// use greenlet::process::{Command, Stdio};
///
/// let results = Command::new("echo").arg("hello").stdout(Stdio::piped()).output()?;
/// assert_eq!(results.stdout, b"hello\n");
/// assert_eq!(results.status.code(), Some(0));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Command {
    inner: std::process::Command,
    /// Which standard streams the caller set (the others take the default
    /// of the call that spawns).
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
}

/// A default for a standard stream the caller did not set.
type Default = fn() -> Stdio;

impl Command {
    /// A builder for the program `program`, looked up in `PATH` as std's.
    ///
    /// # Examples
    ///
    /// ```
    /// let status = greenlet::process::Command::new("true").status()?;
    /// assert!(status.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            inner: std::process::Command::new(program),
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
        }
    }

    /// Adds an argument.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = greenlet::process::Command::new("echo").arg("one").arg("two").output()?;
    /// assert_eq!(out.stdout, b"one two\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = greenlet::process::Command::new("printf").args(["%s-%s", "a", "b"]).output()?;
    /// assert_eq!(out.stdout, b"a-b");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = greenlet::process::Command::new("sh")
    ///     .args(["-c", "echo $GREETING"])
    ///     .env("GREETING", "hi")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"hi\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, value);
        self
    }

    /// Sets environment variables for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = greenlet::process::Command::new("sh")
    ///     .args(["-c", "echo $A$B"])
    ///     .envs([("A", "1"), ("B", "2")])
    ///     .output()?;
    /// assert_eq!(out.stdout, b"12\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = greenlet::process::Command::new("sh")
    ///     .args(["-c", "echo ${HOME-unset}"])
    ///     .env_remove("HOME")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"unset\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Clears the child's environment: it inherits no variable.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = greenlet::process::Command::new("/usr/bin/env").env_clear().output()?;
    /// assert!(out.stdout.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = greenlet::process::Command::new("pwd").current_dir("/").output()?;
    /// assert_eq!(out.stdout, b"/\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Sets the child's standard input: [`Stdio::piped`] makes
    /// [`Child::stdin`] a green pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::process::{Command, Stdio};
    ///
    /// let child = Command::new("cat").stdin(Stdio::null()).stdout(Stdio::piped()).spawn()?;
    /// assert!(child.wait_with_output()?.stdout.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Sets the child's standard output: [`Stdio::piped`] makes
    /// [`Child::stdout`] a green pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::process::{Command, Stdio};
    ///
    /// // `output` pipes standard output unless told otherwise.
    /// let out = Command::new("echo").arg("lost").stdout(Stdio::null()).output()?;
    /// assert!(out.stdout.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(cfg);
        self.stdout_set = true;
        self
    }

    /// Sets the child's standard error: [`Stdio::piped`] makes
    /// [`Child::stderr`] a green pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::process::{Command, Stdio};
    ///
    /// let out = Command::new("sh").args(["-c", "echo e >&2"]).stderr(Stdio::piped()).output()?;
    /// assert_eq!(out.stderr, b"e\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(cfg);
        self.stderr_set = true;
        self
    }

    /// std's builder, for what this one lacks (the `CommandExt` methods:
    /// `uid`, `process_group`, `pre_exec`, …). Set the standard streams
    /// through this builder's own methods: a stream set only on std's is
    /// reset to the spawning call's default.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    ///
    /// let mut cmd = greenlet::process::Command::new("true");
    /// cmd.as_std_mut().process_group(0);
    /// assert!(cmd.status()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }

    /// std's builder, to read what is set (`get_program`, `get_args`, …).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = greenlet::process::Command::new("ls");
    /// cmd.arg("-l");
    /// assert_eq!(cmd.as_std().get_args().collect::<Vec<_>>(), ["-l"]);
    /// ```
    pub fn as_std(&self) -> &std::process::Command {
        &self.inner
    }

    /// Spawns the child; standard streams not set are inherited. Starting
    /// the process (`fork` and `exec`) blocks the thread briefly, as std's
    /// does; waiting for it then switches greenlets.
    ///
    /// # Errors
    ///
    /// std's error when the program cannot be started (`NotFound`,
    /// `PermissionDenied`, …), or the kernel's when a pipe cannot be
    /// registered with the hub.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = greenlet::process::Command::new("true").spawn()?;
    /// assert!(child.wait()?.success());
    /// let missing = greenlet::process::Command::new("no-such-program-here").spawn();
    /// assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.spawn_with([Stdio::inherit, Stdio::inherit, Stdio::inherit])
    }

    /// Runs the child to its exit and collects its output: standard input
    /// null and the other streams piped unless set. Both pipes are read at
    /// once, so a child filling either cannot deadlock.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn) and [`Child::wait_with_output`].
    ///
    /// # Panics
    ///
    /// As [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let out = greenlet::process::Command::new("sh").args(["-c", "echo hi; exit 2"]).output()?;
    /// assert_eq!((out.stdout, out.status.code()), (b"hi\n".to_vec(), Some(2)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn output(&mut self) -> io::Result<Output> {
        self.spawn_with([Stdio::null, Stdio::piped, Stdio::piped])?
            .wait_with_output()
    }

    /// Runs the child to its exit, with standard streams not set inherited,
    /// and returns its status.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn) and [`Child::wait`].
    ///
    /// # Panics
    ///
    /// As [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let status = greenlet::process::Command::new("false").status()?;
    /// assert_eq!(status.code(), Some(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// Spawns with `defaults` (stdin, stdout, stderr) for the streams the
    /// caller did not set.
    fn spawn_with(&mut self, [stdin, stdout, stderr]: [Default; 3]) -> io::Result<Child> {
        if !self.stdin_set {
            self.inner.stdin(stdin());
        }
        if !self.stdout_set {
            self.inner.stdout(stdout());
        }
        if !self.stderr_set {
            self.inner.stderr(stderr());
        }
        Child::from_std(self.inner.spawn()?)
    }
}
