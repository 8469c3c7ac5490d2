//! `ThreadPool`: its bound, its threads' reuse, keep-alive and shutdown,
//! from the main context and from greenlets. Real OS threads; every wait is
//! bounded and nothing asserts on elapsed time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use greenlet::threadpool::ThreadPool;

/// Spins (sleeping 1 ms at a time) until `done()` or ten seconds pass;
/// returns `done()`.
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    done()
}

#[test]
fn a_full_pool_runs_max_threads_tasks_at_once() {
    let pool = ThreadPool::new(4);
    let started = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let started = started.clone();
            pool.spawn(move || {
                started.fetch_add(1, SeqCst);
                eventually(|| started.load(SeqCst) == 4)
            })
        })
        .collect();
    for task in tasks {
        assert!(task.join().unwrap(), "all four ran at once");
    }
    assert_eq!(pool.threads(), 4);
}

#[test]
fn back_to_back_applies_reuse_one_thread() {
    let pool = ThreadPool::new(8);
    for i in 0..2_000u64 {
        assert_eq!(pool.apply(move || i * 2), i * 2);
    }
    // The thread that woke the caller takes its next task: no other starts.
    assert_eq!(pool.threads(), 1);
}

#[test]
fn many_greenlets_apply_at_once_within_the_bound() {
    let pool = ThreadPool::new(4);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let greenlets: Vec<_> = (0..100u64)
        .map(|i| {
            let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
            greenlet::spawn(move || {
                pool.apply(move || {
                    let now = running.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    std::thread::sleep(Duration::from_micros(200));
                    running.fetch_sub(1, SeqCst);
                    i
                })
            })
        })
        .collect();
    for (i, g) in greenlets.into_iter().enumerate() {
        assert_eq!(g.join().unwrap(), i as u64);
    }
    assert!(most.load(SeqCst) <= 4, "at most 4 at once");
    assert!(pool.threads() <= 4);
}

#[test]
fn queued_tasks_finish_after_the_pool_is_dropped() {
    let pool = ThreadPool::new(1);
    let tasks: Vec<_> = (0..20).map(|i| pool.spawn(move || i)).collect();
    drop(pool);
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.join().unwrap(), i);
    }
}

#[test]
fn idle_threads_leave_after_the_keep_alive_and_come_back() {
    let pool = ThreadPool::with_keep_alive(3, Duration::from_millis(10));
    let tasks: Vec<_> = (0..3)
        .map(|_| pool.spawn(|| std::thread::sleep(Duration::from_millis(5))))
        .collect();
    for task in tasks {
        task.join().unwrap();
    }
    assert!(eventually(|| pool.threads() == 0), "{pool:?}");
    assert_eq!(pool.apply(|| 7), 7);
}

#[test]
fn a_burst_of_tasks_from_other_threads_all_finish() {
    let pool = ThreadPool::new(3);
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (pool, done) = (pool.clone(), done.clone());
            std::thread::spawn(move || {
                let tasks: Vec<_> = (0..250)
                    .map(|_| {
                        let done = done.clone();
                        pool.spawn(move || done.fetch_add(1, SeqCst))
                    })
                    .collect();
                for task in tasks {
                    task.join().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(done.load(SeqCst), 1_000);
    assert!(pool.threads() <= 3);
}
