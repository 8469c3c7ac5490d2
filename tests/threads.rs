//! Greenlets meet OS threads: the thread pool (`threadpool`) and the hub's
//! `Handle`. Counts, never times: a blocking call that no longer stalls the
//! hub shows as ticks a ticker greenlet managed meanwhile.

mod util;

use std::panic;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use greenlet::threadpool::{self, ThreadPool};
use greenlet::{Handle, JoinError};
use util::{SleepTicker, SyncDropCounter};

const TICK: Duration = Duration::from_millis(2);

#[test]
fn apply_blocks_only_the_calling_greenlet() {
    let ticker = SleepTicker::spawn(TICK, 1_000);
    let worker = greenlet::spawn(|| {
        threadpool::apply(|| {
            thread::sleep(Duration::from_millis(200));
            7
        })
    });
    assert_eq!(worker.join().unwrap(), 7);
    let ticks = ticker.stop();
    assert!(ticks >= 20, "the ticker ticked only {ticks} times");
}

#[test]
fn apply_in_the_main_context_drives_the_hub() {
    let ticker = SleepTicker::spawn(TICK, 1_000);
    let value = threadpool::apply(|| {
        thread::sleep(Duration::from_millis(200));
        "done"
    });
    assert_eq!(value, "done");
    let ticks = ticker.stop();
    assert!(ticks >= 20, "the ticker ticked only {ticks} times");
}

#[test]
fn a_panic_in_apply_resumes_in_the_caller() {
    let caught = panic::catch_unwind(|| threadpool::apply(|| panic!("boom in the pool")));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom in the pool"));
    // The pool thread survived it.
    assert_eq!(threadpool::apply(|| 1 + 1), 2);
}

#[test]
fn join_returns_a_panic_as_an_error() {
    let pool = ThreadPool::new(1);
    let task = pool.spawn(|| -> u32 { panic!("task panicked") });
    match task.join() {
        Err(JoinError::Panicked(payload)) => {
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"task panicked"));
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}

/// Runs `tasks` tasks that each hold a slot until `expect` hold one at
/// once (or 2 s pass), and returns the most that held one at once.
fn most_at_once(pool: &ThreadPool, tasks: usize, expect: usize) -> usize {
    let live = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (live, most) = (live.clone(), most.clone());
            pool.spawn(move || {
                let now = live.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                for _ in 0..2_000 {
                    if live.load(SeqCst) >= expect {
                        break;
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                thread::sleep(Duration::from_millis(5));
                most.fetch_max(live.load(SeqCst), SeqCst);
                live.fetch_sub(1, SeqCst);
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    most.load(SeqCst)
}

#[test]
fn a_pool_runs_tasks_in_parallel_up_to_its_bound() {
    let pool = ThreadPool::new(4);
    assert_eq!(most_at_once(&pool, 4, 4), 4);
    let small = ThreadPool::new(2);
    assert_eq!(most_at_once(&small, 6, 2), 2);
    assert!(small.threads() <= 2);
}

#[test]
fn map_keeps_the_items_order() {
    let pool = ThreadPool::new(4);
    let doubled: Vec<u64> = pool.map(
        |a: u64| {
            // Later items finish first.
            thread::sleep(Duration::from_millis(10 - a));
            a + a
        },
        0..10,
    );
    assert_eq!(doubled, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    let mut squares = pool.imap(|a: u32| a * a, 1..4);
    assert_eq!(squares.len(), 3);
    assert_eq!(squares.next(), Some(1));
    assert_eq!(squares.collect::<Vec<_>>(), [4, 9]);
}

#[test]
fn idle_threads_leave_after_the_keep_alive() {
    // A keep-alive long enough that the three threads are still there when
    // the joins return, even on a loaded machine (30 ms was not, under
    // parallel builds).
    let pool = ThreadPool::with_keep_alive(3, Duration::from_millis(300));
    most_at_once(&pool, 3, 3);
    assert_eq!(pool.threads(), 3);
    for _ in 0..1_000 {
        if pool.threads() == 0 {
            break;
        }
        greenlet::sleep(Duration::from_millis(5));
    }
    assert_eq!(pool.threads(), 0, "idle threads stayed");
    // And it starts them again on demand.
    assert_eq!(pool.spawn(|| 5).join().unwrap(), 5);
}

/// A gate a pool task waits at (1 ms at a time, 5 s at most) until the
/// test opens it.
#[derive(Clone, Default)]
struct Gate(Arc<(AtomicUsize, AtomicUsize)>);

impl Gate {
    /// In the task: says it has started, then waits for the gate to open.
    fn pass(&self) {
        self.0.0.store(1, SeqCst);
        for _ in 0..5_000 {
            if self.0.1.load(SeqCst) == 1 {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// In the test: waits (cooperatively) until the task has started.
    fn wait_started(&self) {
        for _ in 0..5_000 {
            if self.0.0.load(SeqCst) == 1 {
                return;
            }
            greenlet::sleep(Duration::from_millis(1));
        }
        panic!("the task never started");
    }

    fn open(&self) {
        self.0.1.store(1, SeqCst);
    }
}

#[test]
fn a_killed_waiter_unwinds_at_once_and_the_late_result_is_dropped() {
    let results = SyncDropCounter::new();
    let locals = SyncDropCounter::new();
    let (result, local) = (results.token(), locals.token());
    let gate = Gate::default();
    let task_gate = gate.clone();
    let waiter = greenlet::spawn(move || {
        let _local = local;
        threadpool::apply(move || {
            task_gate.pass();
            result
        })
    });
    gate.wait_started(); // the waiter waits on the pool now
    waiter.kill();
    assert_eq!(locals.count(), 1, "the waiter's destructors ran");
    assert_eq!(results.count(), 0, "the task is still running");
    gate.open();
    assert_eq!(results.wait_for(1, 5_000), 1, "the late result was dropped");
}

#[test]
fn a_timed_out_join_leaves_the_task_running_and_drops_its_result() {
    let results = SyncDropCounter::new();
    let result = results.token();
    let gate = Gate::default();
    let task_gate = gate.clone();
    let pool = ThreadPool::new(1);
    let task = pool.spawn(move || {
        task_gate.pass();
        result
    });
    let outcome = greenlet::with_timeout(Duration::from_millis(5), move || task.join());
    assert!(outcome.is_err(), "the join timed out");
    assert_eq!(results.count(), 0, "the task is still running");
    gate.open();
    assert_eq!(results.wait_for(1, 5_000), 1, "the late result was dropped");
    // The pool goes on.
    assert_eq!(pool.apply(|| 3), 3);
}

#[test]
fn a_detached_task_still_runs() {
    let ran = SyncDropCounter::new();
    let token = ran.token();
    drop(threadpool::default_pool().spawn(move || drop(token)));
    assert_eq!(ran.wait_for(1, 2_000), 1);
}

thread_local! {
    static SPAWNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static ALL_SPAWNED: greenlet::sync::Event = greenlet::sync::Event::new();
}

#[test]
fn handle_spawn_from_eight_threads_while_the_hub_sleeps() {
    thread::spawn(|| {
        let handle = Handle::current();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let handle = handle.clone();
                thread::spawn(move || {
                    handle
                        .spawn(|| {
                            SPAWNED.with(|n| n.set(n.get() + 1));
                            if SPAWNED.with(|n| n.get()) == 8 {
                                ALL_SPAWNED.with(|e| e.set());
                            }
                        })
                        .unwrap();
                })
            })
            .collect();
        drop(handle);
        // No greenlet, no timer, no I/O: the hub sleeps in epoll_wait until
        // the handles' spawns wake it.
        ALL_SPAWNED.with(|e| e.wait());
        assert_eq!(SPAWNED.with(|n| n.get()), 8);
        for thread in threads {
            thread.join().unwrap();
        }
    })
    .join()
    .unwrap();
}

#[test]
fn run_runs_what_other_threads_spawned() {
    let handle = Handle::current();
    thread::spawn(move || handle.spawn(|| SPAWNED.with(|n| n.set(100))).unwrap())
        .join()
        .unwrap();
    greenlet::run();
    assert_eq!(SPAWNED.with(|n| n.get()), 100);
}

#[test]
fn an_event_waited_on_while_only_a_handle_can_set_it() {
    thread::spawn(|| {
        thread_local! {
            static DONE: greenlet::sync::Event = greenlet::sync::Event::new();
        }
        let handle = Handle::current();
        let remote = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            handle.spawn(|| DONE.with(|e| e.set())).unwrap();
        });
        // Without the handle this would panic: "would block forever".
        DONE.with(|e| e.wait());
        remote.join().unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn handle_spawn_after_the_thread_ended_fails_and_drops_the_closure() {
    let handle = thread::spawn(Handle::current).join().unwrap();
    assert!(handle.is_closed());
    let drops = SyncDropCounter::new();
    let token = drops.token();
    let error = handle.spawn(move || drop(token)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
    assert_eq!(drops.count(), 1, "the closure was dropped");
}

#[test]
fn thread_exit_with_pool_tasks_running_and_handles_held_elsewhere() {
    let results = SyncDropCounter::new();
    let result = results.token();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        tx.send(Handle::current()).unwrap();
        // A greenlet waits on a pool task when the thread ends: the teardown
        // kills it; the task goes on.
        greenlet::spawn(move || {
            threadpool::apply(move || {
                thread::sleep(Duration::from_millis(50));
                result
            })
        });
        greenlet::yield_now();
    })
    .join()
    .unwrap();
    let handle = rx.recv().unwrap();
    assert!(handle.is_closed());
    assert!(handle.spawn(|| ()).is_err());
    assert_eq!(results.wait_for(1, 2_000), 1, "the late result was dropped");
}

#[test]
fn a_panicking_callback_is_logged_and_the_others_run() {
    let handle = Handle::current();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    thread::spawn(move || {
        handle.spawn(|| panic!("a remote greenlet panics")).unwrap();
        handle
            .spawn(move || {
                r.fetch_add(1, SeqCst);
            })
            .unwrap();
    })
    .join()
    .unwrap();
    greenlet::run();
    assert_eq!(ran.load(SeqCst), 1);
}

#[test]
fn apply_falls_back_to_blocking_the_thread_without_descriptors() {
    if util::is_child() {
        // Use up every descriptor: the hub cannot make its eventfd.
        let mut files = Vec::new();
        for _ in 0..1_000_000 {
            match std::fs::File::open("/dev/null") {
                Ok(file) => files.push(file),
                Err(_) => break,
            }
        }
        let error = Handle::try_current().unwrap_err();
        assert_eq!(error.raw_os_error(), Some(24), "EMFILE: {error}");
        // The pool's threads need no descriptors; the wait blocks the thread.
        let value = threadpool::apply(|| 6 * 7);
        drop(files);
        assert_eq!(value, 42);
        return;
    }
    let output = util::run_in_child(
        "apply_falls_back_to_blocking_the_thread_without_descriptors",
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn join_from_another_thread_greenlet() {
    let pool = ThreadPool::new(2);
    let task = pool.spawn(|| {
        thread::sleep(Duration::from_millis(10));
        9
    });
    let value = thread::spawn(move || greenlet::spawn(move || task.join()).join())
        .join()
        .unwrap();
    assert!(matches!(value, Ok(Ok(9))));
}
