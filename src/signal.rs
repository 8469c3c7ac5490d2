//! Waiting for Unix signals without blocking the hub: gevent's
//! `signal_handler`, tokio's `signal`.
//!
//! A [`Signals`] registers handlers for a set of signals; [`Signals::wait`]
//! then waits, in the calling greenlet only (the main context runs the hub
//! meanwhile), for the next one to arrive. [`wait`] is the one-shot form: a
//! server that stops on `SIGINT` or `SIGTERM` spawns its work and calls
//! `signal::wait(&[SIGINT, SIGTERM])`.
//!
//! # Examples
//!
//! ```
//! use greenlet::signal::{SIGUSR1, Signals};
//! use std::process::Command;
//!
//! let mut signals = Signals::new(&[SIGUSR1])?;
//! let pid = std::process::id().to_string();
//! Command::new("kill").args(["-USR1", &pid]).status()?;
//! assert_eq!(signals.wait()?, SIGUSR1); // other greenlets run meanwhile
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Implementation notes
//!
//! The handlers and their self-pipe are the `signal-hook` crate's: its
//! handler (async-signal-safe, chained to any handler installed before it)
//! records the signal and writes a byte to a `UnixStream` pair, whose read
//! end the waiting greenlet watches with the hub's reactor, as
//! [`io::wait_readable`](crate::io::wait_readable) does.

use std::collections::VecDeque;
use std::io;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

pub use libc::{
    SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGHUP, SIGILL, SIGINT, SIGIO, SIGKILL,
    SIGPIPE, SIGPROF, SIGQUIT, SIGSEGV, SIGSTOP, SIGSYS, SIGTERM, SIGTRAP, SIGTSTP, SIGTTIN,
    SIGTTOU, SIGURG, SIGUSR1, SIGUSR2, SIGVTALRM, SIGWINCH, SIGXCPU, SIGXFSZ,
};

/// The signals that usually ask a program to stop: `SIGTERM`, `SIGQUIT`
/// and `SIGINT` (as `signal_hook::consts::TERM_SIGNALS`).
///
/// # Examples
///
/// ```
/// use greenlet::signal::{SIGINT, TERM_SIGNALS};
///
/// assert!(TERM_SIGNALS.contains(&SIGINT));
/// ```
pub const TERM_SIGNALS: &[i32] = &[SIGTERM, SIGQUIT, SIGINT];

/// The signals that cannot be waited for: `SIGKILL` and `SIGSTOP`, which
/// cannot be caught; `SIGILL`, `SIGFPE` and `SIGSEGV`, which report a
/// fault in the thread that raised it and which `signal-hook` refuses; and
/// `SIGBUS`, a fault too, whose handler (with `SIGSEGV`'s) reports this
/// crate's stack overflows.
///
/// # Examples
///
/// ```
/// use greenlet::signal::{FORBIDDEN, SIGKILL, SIGTERM};
///
/// assert!(FORBIDDEN.contains(&SIGKILL));
/// assert!(!FORBIDDEN.contains(&SIGTERM));
/// ```
pub const FORBIDDEN: &[i32] = &[SIGKILL, SIGSTOP, SIGILL, SIGFPE, SIGSEGV, SIGBUS];

/// The first signal number that `signal-hook` cannot record (its table
/// holds 128 slots; Linux stops at 64).
const SIGNAL_LIMIT: i32 = 128;

/// A set of signals that arrive to be waited for, until dropped.
///
/// Each `Signals` has handlers of its own: several registered for the same
/// signal each receive it, so greenlets (on this hub or others) may wait on
/// different `Signals` at once.
///
/// # Coalescing
///
/// A signal is a flag, not a message: the same signal arriving several
/// times before it is taken is seen once (as the kernel coalesces a
/// pending signal). Different signals are each seen; those that arrived
/// together come out in the order of their numbers.
///
/// # Threads
///
/// A `Signals` is [`Send`]: it may be made early on the main thread (as
/// `signal-hook` advises, before other threads start) and moved to the
/// thread whose hub will wait on it. A signal is delivered to whichever
/// thread the kernel picks; the handler only writes to the pipe that the
/// waiting hub watches, so that does not matter.
///
/// # After drop
///
/// Dropping a `Signals` (or [`close`](Self::close)) unregisters its
/// handlers. Once every `Signals` for a signal is gone, the signal does
/// what it did before the first one: its default action (a `SIGTERM` ends
/// the process again) if that was its disposition, emulated by
/// `signal-hook`, whose handler stays installed; nothing if it was ignored;
/// and a handler installed by other code before it is still called. (A
/// signal whose default action `signal-hook` cannot emulate, such as a
/// real-time one, is ignored instead.) A signal still on its way when the
/// last one drops gets that action too: keep a `Signals` for as long as
/// its signals may come.
///
/// # Examples
///
/// ```
/// use greenlet::signal::{SIGUSR2, Signals};
/// use std::process::Command;
///
/// let mut signals = Signals::new(&[SIGUSR2])?;
/// let waiter = greenlet::spawn(move || signals.wait());
/// greenlet::yield_now(); // the waiter waits, and the hub goes on
/// assert!(!waiter.is_finished());
/// let pid = std::process::id().to_string();
/// Command::new("kill").args(["-USR2", &pid]).status()?;
/// assert_eq!(waiter.join().unwrap()?, SIGUSR2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Signals {
    /// The handlers' records and the self-pipe's read end; dropping it
    /// unregisters the handlers.
    delivery: SignalDelivery<UnixStream, SignalOnly>,
    /// Signals taken from `delivery` and not yet returned.
    taken: VecDeque<i32>,
    /// The signals of the set, each counted once in [`LISTENERS`].
    set: Mutex<Vec<i32>>,
}

/// Per signal number, how many [`Signals`] listen to it, and what it does
/// when none does.
struct Listeners {
    count: [usize; SIGNAL_LIMIT as usize],
    fallback: [Fallback; SIGNAL_LIMIT as usize],
}

/// What a signal does when no [`Signals`] listens to it, looked at before
/// the first one registers.
enum Fallback {
    /// Not looked at yet.
    Unknown,
    /// Its disposition was not the default (ignored, or another handler,
    /// which `signal-hook` calls on): nothing to do.
    Unchanged,
    /// Its disposition was the default: `signal-hook` emulates it while
    /// the flag is set.
    Default(Arc<AtomicBool>),
}

static LISTENERS: Mutex<Listeners> = Mutex::new(Listeners {
    count: [0; SIGNAL_LIMIT as usize],
    fallback: [const { Fallback::Unknown }; SIGNAL_LIMIT as usize],
});

/// The process's [`Listeners`] (a panic while they were held left nothing
/// half done: each holder makes one update).
fn listeners() -> std::sync::MutexGuard<'static, Listeners> {
    LISTENERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Before the first handler for `signal` (a checked signal number) is
/// registered: if its disposition is the default, arranges that
/// `signal-hook` emulates the default whenever nobody listens.
fn prepare(signal: i32) {
    let mut listeners = listeners();
    let at = signal as usize;
    if let Fallback::Unknown = listeners.fallback[at] {
        listeners.fallback[at] = default_fallback(signal);
    }
}

/// Counts one more listener of `signal`, [`prepare`]d.
fn listen(signal: i32) {
    let mut listeners = listeners();
    let at = signal as usize;
    listeners.count[at] += 1;
    if let Fallback::Default(unheard) = &listeners.fallback[at] {
        unheard.store(false, Ordering::SeqCst);
    }
}

/// Counts one listener of `signal` less; the last one gone, the signal
/// does what it did before.
fn unlisten(signal: i32) {
    let mut listeners = listeners();
    let at = signal as usize;
    listeners.count[at] -= 1;
    if listeners.count[at] == 0
        && let Fallback::Default(unheard) = &listeners.fallback[at]
    {
        unheard.store(true, Ordering::SeqCst);
    }
}

/// The [`Fallback`] of `signal`, looked at now: before any handler of this
/// module's, so what the process set up before it.
fn default_fallback(signal: i32) -> Fallback {
    // SAFETY: an all-zero sigaction is a valid buffer for the kernel.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reads the disposition only (no new action).
    let read = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
    if read != 0 || old.sa_sigaction != libc::SIG_DFL {
        return Fallback::Unchanged;
    }
    // Nobody listens yet: `listen` clears it once the handlers are in.
    let unheard = Arc::new(AtomicBool::new(true));
    match signal_hook::flag::register_conditional_default(signal, unheard.clone()) {
        Ok(_) => Fallback::Default(unheard),
        Err(e) => {
            log::debug!("signal {signal}: its default action cannot be emulated ({e})");
            Fallback::Unchanged
        }
    }
}

impl Signals {
    /// Registers handlers for `signals`, from now until the `Signals` is
    /// dropped. A signal that arrived before is not seen.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` for a signal in [`FORBIDDEN`], and for a number that
    ///   is no signal (0, negative, or too large).
    /// - The kernel's error from making the self-pipe or from `sigaction`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::signal::{SIGINT, SIGKILL, SIGTERM, Signals};
    /// use std::io::ErrorKind;
    ///
    /// let signals = Signals::new(&[SIGINT, SIGTERM])?;
    /// let refused = Signals::new(&[SIGKILL]).unwrap_err();
    /// assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    /// # drop(signals);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(signals: &[i32]) -> io::Result<Signals> {
        for &signal in signals {
            check(signal)?;
            prepare(signal);
        }
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let delivery = SignalDelivery::with_pipe(read, write, SignalOnly, signals)?;
        log::debug!("registered handlers for signals {signals:?}");
        let mut set = signals.to_vec();
        set.sort_unstable();
        set.dedup();
        for &signal in &set {
            listen(signal);
        }
        Ok(Signals {
            delivery,
            taken: VecDeque::new(),
            set: Mutex::new(set),
        })
    }

    /// Adds `signal` to the set (nothing if it is in already).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::signal::{SIGHUP, SIGTERM, SIGSTOP, Signals};
    ///
    /// let signals = Signals::new(&[SIGTERM])?;
    /// signals.add_signal(SIGHUP)?;
    /// assert!(signals.add_signal(SIGSTOP).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_signal(&self, signal: i32) -> io::Result<()> {
        check(signal)?;
        prepare(signal);
        self.delivery.handle().add_signal(signal)?;
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        if !set.contains(&signal) {
            set.push(signal);
            listen(signal);
        }
        Ok(())
    }

    /// Waits for the next signal of the set (the main context runs the
    /// hub meanwhile) and returns its number; at once if one has arrived
    /// already.
    ///
    /// # Errors
    ///
    /// An error instead of waiting while the thread is unwinding, and the
    /// kernel's error if the pipe cannot be watched.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout
    /// ([`with_timeout`](crate::with_timeout)) expires while it waits; the
    /// `Signals` is left as it was (and dropped, with its handlers, if the
    /// greenlet owned it).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::signal::{SIGWINCH, Signals};
    /// use std::process::Command;
    ///
    /// let mut signals = Signals::new(&[SIGWINCH])?;
    /// let pid = std::process::id().to_string();
    /// greenlet::spawn(move || Command::new("kill").args(["-WINCH", &pid]).status());
    /// assert_eq!(signals.wait()?, SIGWINCH); // runs the greenlet that kills
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn wait(&mut self) -> io::Result<i32> {
        self.wait_until(None)
    }

    /// As [`wait`](Self::wait), for at most `timeout`.
    ///
    /// # Errors
    ///
    /// `TimedOut` when no signal arrived in time; otherwise as
    /// [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::signal::{SIGUSR1, Signals};
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    ///
    /// let mut signals = Signals::new(&[SIGUSR1])?;
    /// let none = signals.wait_timeout(Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(none.kind(), ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<i32> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_until(Some(deadline)),
            None => self.wait(),
        }
    }

    #[track_caller]
    fn wait_until(&mut self, deadline: Option<Instant>) -> io::Result<i32> {
        loop {
            if let Some(signal) = self.try_next() {
                return Ok(signal);
            }
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match crate::io::wait_readable(self.delivery.get_read(), timeout) {
                Ok(()) => {}
                // One that arrived as the time ran out is still taken.
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return self.try_next().ok_or(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next signal that has arrived already, without waiting (`None`:
    /// none has).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::signal::{SIGUSR2, Signals};
    ///
    /// let mut signals = Signals::new(&[SIGUSR2])?;
    /// assert_eq!(signals.try_next(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_next(&mut self) -> Option<i32> {
        if self.taken.is_empty() {
            self.taken.extend(self.delivery.pending());
        }
        self.taken.pop_front()
    }

    /// Takes every signal that has arrived already, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::signal::{SIGHUP, Signals};
    ///
    /// let mut signals = Signals::new(&[SIGHUP])?;
    /// assert_eq!(signals.pending().count(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pending(&mut self) -> impl Iterator<Item = i32> + '_ {
        self.taken.extend(self.delivery.pending());
        self.taken.drain(..)
    }

    /// An iterator that [`wait`](Self::wait)s for each next signal. It
    /// ends only when a wait fails (see [`wait`](Self::wait)'s errors);
    /// `for signal in &mut signals` is the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::signal::{SIGUSR1, Signals};
    /// use std::process::Command;
    ///
    /// let mut signals = Signals::new(&[SIGUSR1])?;
    /// let pid = std::process::id().to_string();
    /// Command::new("kill").args(["-USR1", &pid]).status()?;
    /// for signal in signals.forever() {
    ///     assert_eq!(signal, SIGUSR1);
    ///     break;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn forever(&mut self) -> Forever<'_> {
        Forever { signals: self }
    }

    /// Unregisters the handlers: the same as dropping the `Signals` (see
    /// the type's docs on what that leaves behind).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::signal::{SIGUSR1, Signals};
    ///
    /// Signals::new(&[SIGUSR1])?.close();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(self) {}
}

impl Drop for Signals {
    fn drop(&mut self) {
        log::debug!("unregistering a set of signal handlers");
        let set = self.set.get_mut().unwrap_or_else(PoisonError::into_inner);
        for &signal in set.iter() {
            unlisten(signal);
        }
    }
}

/// The iterator of [`Signals::forever`].
#[derive(Debug)]
pub struct Forever<'a> {
    signals: &'a mut Signals,
}

impl Iterator for Forever<'_> {
    type Item = i32;

    #[track_caller]
    fn next(&mut self) -> Option<i32> {
        match self.signals.wait() {
            Ok(signal) => Some(signal),
            Err(e) => {
                log::debug!("waiting for signals ended: {e}");
                None
            }
        }
    }
}

impl<'a> IntoIterator for &'a mut Signals {
    type Item = i32;
    type IntoIter = Forever<'a>;

    fn into_iter(self) -> Forever<'a> {
        self.forever()
    }
}

/// Waits for the next of `signals` to arrive and returns it: the one-shot
/// [`Signals`] (registered for this wait only, so a signal that arrived
/// before the call is not seen).
///
/// # Errors
///
/// As [`Signals::new`] and [`Signals::wait`].
///
/// # Examples
///
/// A server that stops on `SIGINT` or `SIGTERM`:
///
/// ```
/// use greenlet::signal::{self, SIGINT, SIGTERM};
/// use std::process::Command;
///
/// let pid = std::process::id().to_string();
/// greenlet::spawn(move || {
///     greenlet::sleep(std::time::Duration::from_millis(5)); // serving
///     Command::new("kill").args(["-TERM", &pid]).status()
/// });
/// let stop = signal::wait(&[SIGINT, SIGTERM])?;
/// assert_eq!(stop, SIGTERM);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn wait(signals: &[i32]) -> io::Result<i32> {
    Signals::new(signals)?.wait()
}

/// Refuses what cannot be waited for, before `signal-hook` would panic on
/// it.
fn check(signal: i32) -> io::Result<()> {
    if FORBIDDEN.contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("greenlet: signal {signal} cannot be waited for (see signal::FORBIDDEN)"),
        ));
    }
    if !(1..SIGNAL_LIMIT).contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("greenlet: {signal} is not a signal number"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_covers_signal_hooks_own() {
        for signal in signal_hook::consts::FORBIDDEN {
            assert!(FORBIDDEN.contains(signal), "{signal}");
        }
    }

    #[test]
    fn check_refuses_non_signals() {
        for signal in [0, -1, SIGNAL_LIMIT, i32::MAX, SIGKILL, SIGBUS] {
            assert_eq!(
                check(signal).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
        check(SIGTERM).unwrap();
    }
}
