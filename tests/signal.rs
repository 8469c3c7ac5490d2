//! `greenlet::signal`: waiting for Unix signals in a greenlet without
//! blocking the hub. Every test that sends a signal runs in a child copy of
//! this binary, so that no signal reaches the test harness.

mod util;

use std::io::ErrorKind;
use std::time::Duration;

use greenlet::signal::{
    self, SIGBUS, SIGKILL, SIGSEGV, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2, Signals,
};
use util::{DropCounter, SleepTicker, assert_child_passes, is_child};

/// What a child prints when its body has run to the end.
const PASSED: &str = "signal child passed";

/// Runs `body` in a child copy of the test named `test` (this process only
/// starts it and checks that it exited 0, not killed by a signal).
fn in_child(test: &str, body: impl FnOnce()) {
    if is_child() {
        body();
        println!("{PASSED}");
        return;
    }
    assert_child_passes(test, Duration::from_secs(60), PASSED);
}

/// Sends `signal` to this process.
fn raise(signal: i32) {
    // SAFETY: `kill` takes no pointers; every signal a test sends has a
    // handler registered first.
    let rc = unsafe { libc::kill(libc::getpid(), signal) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Sleeps (letting the hub run) until `ticker` has counted `ticks` more,
/// for 10 000 turns at most.
fn wait_for_ticks(ticker: &SleepTicker, ticks: usize) {
    let goal = ticker.ticks() + ticks;
    for _ in 0..10_000 {
        if ticker.ticks() >= goal {
            return;
        }
        greenlet::sleep(Duration::from_millis(1));
    }
    panic!("the ticker did not reach {goal} ticks");
}

#[test]
fn a_greenlet_waits_for_sigterm_while_the_hub_ticks() {
    in_child("a_greenlet_waits_for_sigterm_while_the_hub_ticks", || {
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 100_000);
        let mut signals = Signals::new(&[SIGTERM]).unwrap();
        let waiter = greenlet::spawn(move || signals.wait());
        greenlet::yield_now(); // the waiter waits
        let before = ticker.ticks();
        wait_for_ticks(&ticker, 20);
        assert!(!waiter.is_finished(), "nothing to receive yet");
        raise(SIGTERM);
        assert_eq!(waiter.join().unwrap().unwrap(), SIGTERM);
        let ticked = ticker.stop() - before;
        assert!(
            ticked >= 20,
            "the ticker ticked {ticked} times while it waited"
        );
        println!("received SIGTERM after {ticked} ticks");
    });
}

#[test]
fn two_different_signals_in_quick_succession_are_both_seen() {
    in_child(
        "two_different_signals_in_quick_succession_are_both_seen",
        || {
            let mut signals = Signals::new(&[SIGUSR1, SIGUSR2]).unwrap();
            raise(SIGUSR1);
            raise(SIGUSR2);
            let mut seen = vec![signals.wait().unwrap(), signals.wait().unwrap()];
            seen.sort_unstable();
            assert_eq!(seen, [SIGUSR1, SIGUSR2]);
            assert_eq!(signals.try_next(), None);
        },
    );
}

#[test]
fn the_same_signal_twice_is_seen_at_least_once() {
    in_child("the_same_signal_twice_is_seen_at_least_once", || {
        let mut signals = Signals::new(&[SIGUSR1]).unwrap();
        raise(SIGUSR1);
        raise(SIGUSR1);
        assert_eq!(signals.wait().unwrap(), SIGUSR1);
        // Coalesced (documented), or the second arrived after the first was
        // taken: either way nothing else is there.
        let rest: Vec<i32> = signals.pending().collect();
        assert!(rest.iter().all(|&s| s == SIGUSR1), "{rest:?}");
        assert!(rest.len() <= 1, "{rest:?}");
        // The second may still be on its way (to another thread): keep
        // listening, or its default action would end the child.
        std::mem::forget(signals);
    });
}

#[test]
fn pending_takes_what_arrived_without_waiting() {
    in_child("pending_takes_what_arrived_without_waiting", || {
        let mut signals = Signals::new(&[SIGUSR1, SIGUSR2]).unwrap();
        assert_eq!(signals.pending().count(), 0);
        raise(SIGUSR2);
        // A process-directed signal may be handled on another thread
        // after `kill` returns: wait for it, then nothing more is pending.
        assert_eq!(signals.wait().unwrap(), SIGUSR2);
        assert_eq!(signals.pending().count(), 0);
        assert_eq!(signals.try_next(), None);
    });
}

#[test]
fn the_main_context_waits_and_runs_the_hub() {
    in_child("the_main_context_waits_and_runs_the_hub", || {
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 100_000);
        let counter = ticker.counter();
        let sender = greenlet::spawn(move || {
            let goal = counter.load(std::sync::atomic::Ordering::SeqCst) + 20;
            for _ in 0..10_000 {
                if counter.load(std::sync::atomic::Ordering::SeqCst) >= goal {
                    break;
                }
                greenlet::sleep(Duration::from_millis(1));
            }
            raise(SIGUSR1);
        });
        assert_eq!(signal::wait(&[SIGUSR1]).unwrap(), SIGUSR1);
        sender.join().unwrap();
        let ticks = ticker.stop();
        assert!(ticks >= 20, "the hub ran while main waited: {ticks} ticks");
    });
}

#[test]
fn forever_yields_each_signal() {
    in_child("forever_yields_each_signal", || {
        let mut signals = Signals::new(&[SIGUSR1, SIGUSR2]).unwrap();
        let mut seen = Vec::new();
        raise(SIGUSR1);
        for signal in &mut signals {
            seen.push(signal);
            if seen.len() == 1 {
                raise(SIGUSR2);
            } else {
                break;
            }
        }
        assert_eq!(seen, [SIGUSR1, SIGUSR2]);
    });
}

#[test]
fn a_killed_waiter_unwinds_and_drops_its_registration() {
    in_child("a_killed_waiter_unwinds_and_drops_its_registration", || {
        let mut survivor = Signals::new(&[SIGUSR1]).unwrap();
        let dropped = DropCounter::new();
        let token = dropped.token();
        let mut doomed = Signals::new(&[SIGUSR1]).unwrap();
        let waiter = greenlet::spawn(move || {
            let _token = token;
            doomed.wait()
        });
        greenlet::yield_now(); // the waiter waits
        waiter.kill();
        assert!(matches!(waiter.join(), Err(greenlet::JoinError::Killed)));
        assert_eq!(dropped.count(), 1, "the waiter's stack unwound");
        // The handlers left are still called; the killed one's were
        // unregistered when its `Signals` dropped.
        raise(SIGUSR1);
        assert_eq!(survivor.wait().unwrap(), SIGUSR1);
        let mut fresh = Signals::new(&[SIGUSR1]).unwrap();
        raise(SIGUSR1);
        assert_eq!(fresh.wait().unwrap(), SIGUSR1);
    });
}

#[test]
fn several_signals_for_one_signal_each_receive_it() {
    in_child("several_signals_for_one_signal_each_receive_it", || {
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let mut signals = Signals::new(&[SIGUSR2]).unwrap();
                greenlet::spawn(move || signals.wait())
            })
            .collect();
        greenlet::yield_now(); // all of them wait
        raise(SIGUSR2);
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap().unwrap(), SIGUSR2);
        }
    });
}

#[test]
fn forbidden_signals_and_non_signals_are_refused() {
    in_child(
        "forbidden_signals_and_non_signals_are_refused",
        refuse_forbidden,
    );
}

fn refuse_forbidden() {
    for signal in [SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, 0, -1, 500] {
        let err = Signals::new(&[SIGTERM, signal]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{signal}: {err}");
        assert!(err.to_string().contains(&signal.to_string()), "{err}");
        let err = signal::wait(&[signal]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{signal}: {err}");
    }
    let signals = Signals::new(&[SIGUSR2]).unwrap();
    assert_eq!(
        signals.add_signal(SIGKILL).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn wait_timeout_times_out_without_a_signal() {
    in_child("wait_timeout_times_out_without_a_signal", || {
        let mut signals = Signals::new(&[SIGUSR2]).unwrap();
        let err = signals.wait_timeout(Duration::from_millis(5)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn a_second_threads_hub_waits_on_its_own_signals() {
    in_child("a_second_threads_hub_waits_on_its_own_signals", || {
        let mut here = Signals::new(&[SIGUSR1]).unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let ticker = SleepTicker::spawn(Duration::from_millis(1), 100_000);
            let mut there = Signals::new(&[SIGUSR1]).unwrap();
            let waiter = greenlet::spawn(move || there.wait());
            greenlet::yield_now(); // the waiter waits
            ready_tx.send(()).unwrap();
            let got = waiter.join().unwrap().unwrap();
            (got, ticker.stop())
        });
        ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        raise(SIGUSR1);
        assert_eq!(here.wait().unwrap(), SIGUSR1);
        let (got, ticks) = thread.join().unwrap();
        assert_eq!(got, SIGUSR1);
        println!("the other thread's ticker ticked {ticks} times");
    });
}

#[test]
fn signals_made_before_a_thread_can_move_into_it() {
    in_child("signals_made_before_a_thread_can_move_into_it", || {
        let mut signals = Signals::new(&[SIGUSR2]).unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            ready_tx.send(()).unwrap();
            signals.wait().unwrap()
        });
        ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        raise(SIGUSR2);
        assert_eq!(thread.join().unwrap(), SIGUSR2);
    });
}

#[test]
fn signals_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Signals>();
}

/// Waits for a signal in its destructor, which runs at thread exit after the
/// hub's (it was made before the hub was).
struct WaitsWhenDropped {
    signals: Signals,
    got: std::sync::mpsc::Sender<i32>,
}

impl Drop for WaitsWhenDropped {
    fn drop(&mut self) {
        // From another thread, a little later: most runs then wait.
        let sender = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            raise(SIGUSR2);
        });
        let got = self.signals.wait().unwrap();
        sender.join().unwrap();
        self.got.send(got).unwrap();
    }
}

thread_local! {
    static LATE: std::cell::RefCell<Option<WaitsWhenDropped>> =
        const { std::cell::RefCell::new(None) };
}

#[test]
fn a_wait_at_thread_exit_after_the_hub_still_gets_the_signal() {
    in_child(
        "a_wait_at_thread_exit_after_the_hub_still_gets_the_signal",
        || {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let signals = Signals::new(&[SIGUSR2]).unwrap();
                LATE.with(|late| *late.borrow_mut() = Some(WaitsWhenDropped { signals, got: tx }));
                // The hub starts after `LATE`: its teardown runs first.
                greenlet::spawn(|| ()).join().unwrap();
            })
            .join()
            .unwrap();
            assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), SIGUSR2);
        },
    );
}

/// Runs `body` in a child copy of the test `test`, which must die of
/// `signal` (the body raises it once no `Signals` listens).
fn dies_in_child_of(test: &str, signal: i32, body: impl FnOnce()) {
    if is_child() {
        body();
        println!("survived");
        return;
    }
    let run = util::run_child(test, Duration::from_secs(60));
    assert_eq!(run.signal(), Some(signal), "{run}");
    assert!(!run.stdout.contains("survived"), "{run}");
}

/// Once the last `Signals` for `SIGTERM` is gone, `SIGTERM` ends the
/// process again, as before the first one; while one is left, it does not.
#[test]
fn after_the_last_signals_drops_the_default_action_is_back() {
    let test = "after_the_last_signals_drops_the_default_action_is_back";
    dies_in_child_of(test, SIGTERM, || {
        let mut first = Signals::new(&[SIGTERM]).unwrap();
        let second = Signals::new(&[SIGTERM]).unwrap();
        raise(SIGTERM);
        assert_eq!(first.wait().unwrap(), SIGTERM, "caught, not the end");
        drop(first);
        raise(SIGTERM); // `second` listens still
        greenlet::sleep(Duration::from_millis(10));
        drop(second);
        raise(SIGTERM); // the end
        for _ in 0..1_000 {
            greenlet::sleep(Duration::from_millis(1));
        }
    });
}

/// A signal added to a set gets its default back too; one that was
/// ignored before stays ignored.
#[test]
fn an_added_signal_gets_its_default_back_and_an_ignored_one_stays_ignored() {
    let test = "an_added_signal_gets_its_default_back_and_an_ignored_one_stays_ignored";
    dies_in_child_of(test, SIGUSR2, || {
        // SAFETY: sets SIGUSR1 to be ignored, before anything handles it.
        unsafe { libc::signal(SIGUSR1, libc::SIG_IGN) };
        let signals = Signals::new(&[SIGUSR1]).unwrap();
        signals.add_signal(SIGUSR2).unwrap();
        drop(signals);
        raise(SIGUSR1); // ignored, as before
        greenlet::sleep(Duration::from_millis(10));
        raise(SIGUSR2); // the end: SIGUSR2's default
        for _ in 0..1_000 {
            greenlet::sleep(Duration::from_millis(1));
        }
    });
}
