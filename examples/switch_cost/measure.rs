//! The measuring functions of the switch-cost report: coroutines and
//! greenlets here, OS threads in `threads.rs`.
//!
//! Each runs `reps` timed repetitions of about `per_rep` operations and
//! returns one [`Sample`] per repetition: how many operations it timed and how
//! long they took. An operation is one *switch* (one transfer of control from
//! one task to another: a message handed over, a `yield_now`, a resume that
//! comes back) or one *spawn + join*. Set-up (spawning the tasks, starting
//! threads, mapping stacks) and tear-down happen outside the timed window.
//!
//! The tasks tell their [`Tally`] once per timed operation, so a test can
//! count that the switches claimed were really performed. The report uses
//! [`NoTally`], which compiles to nothing.
//!
//! The functions that hold many greenlets at once return `Err` with the
//! reason when some of them cannot start (no stack could be mapped), after
//! killing and joining the ones that did.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use greenlet::sync::Queue;
use greenlet::{DEFAULT_STACK_SIZE, Generator, GeneratorState, Greenlet};

/// One timed repetition.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Operations performed inside the timed window.
    pub ops: u64,
    /// How long they took.
    pub elapsed: Duration,
}

impl Sample {
    /// Nanoseconds per operation.
    pub fn ns_per_op(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.ops.max(1) as f64
    }
}

/// Told once per timed operation, from inside the task that performed it.
pub trait Tally: Clone + Send + 'static {
    /// Counts one operation.
    fn tick(&self);
}

/// The tally of the report: counts nothing, costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTally;

impl Tally for NoTally {
    #[inline(always)]
    fn tick(&self) {}
}

/// What the tasks of the message-passing measurements hand each other:
/// `left` hand-offs still to go, and whether they are timed (`counted`) or a
/// warm-up.
#[derive(Clone, Copy, Debug)]
pub struct Token {
    /// Hand-offs still to go.
    pub left: u64,
    /// Timed (`true`) or a warm-up.
    pub counted: bool,
}

/// The samples between consecutive `stamps`, `ops` operations each.
pub fn between(stamps: &[Instant], ops: u64) -> Vec<Sample> {
    stamps
        .windows(2)
        .map(|w| Sample {
            ops,
            elapsed: w[1] - w[0],
        })
        .collect()
}

/// Raw corosensei: one `resume` into a coroutine that `suspend`s straight
/// back is one switch (two stack switches, the floor for any switch here).
pub fn raw_corosensei(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let task = tally.clone();
    let mut coroutine: Coroutine<u64, u64, ()> = Coroutine::with_stack(
        DefaultStack::new(DEFAULT_STACK_SIZE).expect("a coroutine stack"),
        move |yielder, mut x: u64| {
            loop {
                task.tick();
                x = yielder.suspend(x.wrapping_add(1));
            }
        },
    );
    timed_steps(per_rep, reps, |i| match coroutine.resume(black_box(i)) {
        CoroutineResult::Yield(v) => black_box(v),
        CoroutineResult::Return(()) => unreachable!("the body loops"),
    })
}

/// `Generator::send` into a body that `yield_`s straight back: one switch.
pub fn generator_send(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let task = tally.clone();
    let mut generator: Generator<u64, u64> = Generator::new(move |co, mut x: u64| {
        loop {
            task.tick();
            x = co.yield_(x.wrapping_add(1));
        }
    });
    timed_steps(per_rep, reps, |i| match generator.send(black_box(i)) {
        GeneratorState::Yielded(v) => black_box(v),
        GeneratorState::Complete(()) => unreachable!("the body loops"),
    })
}

/// Times `reps` repetitions of `per_rep` calls of `step` (one switch each),
/// passing each call its index.
fn timed_steps(per_rep: u64, reps: usize, mut step: impl FnMut(u64) -> u64) -> Vec<Sample> {
    (0..reps)
        .map(|_| {
            let start = Instant::now();
            for i in 0..per_rep {
                step(i);
            }
            Sample {
                ops: per_rep,
                elapsed: start.elapsed(),
            }
        })
        .collect()
}

/// Checks, after the main context has yielded once, that all `tasks`
/// greenlets have started; otherwise kills and joins them all and says why.
fn all_started<T>(greenlets: &mut Vec<Greenlet<T>>, started: usize) -> Result<(), String> {
    let tasks = greenlets.len();
    if started == tasks {
        return Ok(());
    }
    greenlets.iter().for_each(Greenlet::kill);
    let reason = greenlet::joinall(greenlets.drain(..))
        .into_iter()
        .filter_map(Result::err)
        .find(|e| e.is_panic())
        .map_or_else(|| "no reason given".to_string(), |e| e.to_string());
    Err(format!(
        "only {started} of {tasks} greenlets started: {reason}"
    ))
}

/// Spawns `f` into `greenlets`; when it cannot be spawned (no stack can be
/// reserved), kills those spawned so far and says how many there were.
fn spawn_into<T: 'static>(
    greenlets: &mut Vec<Greenlet<T>>,
    tasks: usize,
    f: impl FnOnce() -> T + 'static,
) -> Result<(), String> {
    match greenlet::Builder::new().spawn(f) {
        Ok(g) => {
            greenlets.push(g);
            Ok(())
        }
        Err(e) => {
            let spawned = greenlets.len();
            greenlets.iter().for_each(Greenlet::kill);
            greenlets.clear();
            Err(format!(
                "only {spawned} of {tasks} greenlets started: cannot spawn: {e}"
            ))
        }
    }
}

/// Joins every greenlet, turning the first failure into its message.
fn join_all<T>(greenlets: Vec<Greenlet<T>>) -> Result<Vec<T>, String> {
    greenlet::joinall(greenlets)
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

/// `yield_now()` among `tasks` ready greenlets (at least one): each call is
/// one switch, to the next greenlet in FIFO order. A repetition is
/// `ceil(per_rep / tasks)` rounds, in each of which every greenlet yields
/// once.
///
/// # Errors
///
/// When not every greenlet could start (no stack).
pub fn yield_ring(
    tasks: usize,
    per_rep: u64,
    reps: usize,
    tally: &impl Tally,
) -> Result<Vec<Sample>, String> {
    assert!(tasks >= 1, "at least one greenlet");
    let rounds = per_rep.div_ceil(tasks as u64).max(1);
    let started = Rc::new(Cell::new(0));
    let mut greenlets = Vec::with_capacity(tasks);
    // The first greenlet keeps time. Strict FIFO means that between two of
    // its stamps every greenlet yields exactly `rounds` times.
    let (first_started, first_task) = (started.clone(), tally.clone());
    spawn_into(&mut greenlets, tasks, move || {
        let (started, task) = (first_started, first_task);
        {
            started.set(started.get() + 1);
            greenlet::yield_now(); // the main context checks that all started
            let mut stamps = Vec::with_capacity(reps + 1);
            stamps.push(Instant::now());
            for _ in 0..reps {
                for _ in 0..rounds {
                    greenlet::yield_now();
                    task.tick();
                }
                stamps.push(Instant::now());
            }
            stamps
        }
    })?;
    for _ in 1..tasks {
        let (started, task) = (started.clone(), tally.clone());
        spawn_into(&mut greenlets, tasks, move || {
            started.set(started.get() + 1);
            greenlet::yield_now();
            for _ in 0..rounds * reps as u64 {
                greenlet::yield_now();
                task.tick();
            }
            Vec::new()
        })?;
    }
    greenlet::yield_now(); // every greenlet starts, or fails to
    all_started(&mut greenlets, started.get())?;
    let stamps = join_all(greenlets)?.swap_remove(0);
    Ok(between(&stamps, rounds * tasks as u64))
}

/// A token passed around a ring of `tasks` greenlets, each blocked on its own
/// [`Queue`]: every hand-off is one switch (a wake-up and a block), the same
/// shape as the OS-thread ring of `threads.rs`. The main context injects `per_rep` hops (at
/// least one) and takes the token back: `per_rep + 1` switches.
///
/// # Errors
///
/// When not every greenlet could start (no stack).
pub fn greenlet_ring(
    tasks: usize,
    per_rep: u64,
    reps: usize,
    tally: &impl Tally,
) -> Result<Vec<Sample>, String> {
    assert!(tasks >= 1, "at least one greenlet");
    let hops = per_rep.max(1);
    let boxes: Vec<Queue<Token>> = (0..tasks).map(|_| Queue::unbounded()).collect();
    let done: Queue<Token> = Queue::unbounded();
    let started = Rc::new(Cell::new(0));
    let mut greenlets: Vec<Greenlet<()>> = Vec::with_capacity(tasks);
    for i in 0..tasks {
        let (inbox, next) = (boxes[i].clone(), boxes[(i + 1) % tasks].clone());
        let (done, started, task) = (done.clone(), started.clone(), tally.clone());
        spawn_into(&mut greenlets, tasks, move || {
            started.set(started.get() + 1);
            // A put fails only once the ring is closed, when it stops.
            while let Ok(token) = inbox.get() {
                if token.counted {
                    task.tick();
                }
                if token.left <= 1 {
                    let _ = done.put(token);
                } else {
                    let _ = next.put(Token {
                        left: token.left - 1,
                        ..token
                    });
                }
            }
            next.close(); // pass the stop on
        })?;
    }
    greenlet::yield_now(); // every greenlet starts and waits, or fails to
    all_started(&mut greenlets, started.get())?;
    let first = &boxes[0];
    let lap = |token: Token| {
        first.put(token).expect("the ring is open");
        done.get().expect("the token comes back");
    };
    lap(Token {
        left: tasks as u64,
        counted: false,
    });
    let samples = (0..reps)
        .map(|_| {
            let start = Instant::now();
            lap(Token {
                left: hops,
                counted: true,
            });
            tally.tick(); // the hand-off back to the main context
            Sample {
                ops: hops + 1,
                elapsed: start.elapsed(),
            }
        })
        .collect();
    first.close();
    join_all(greenlets)?;
    Ok(samples)
}

/// Spawn + join of empty greenlets in batches: spawn `per_rep` (at least
/// one), then join them all. Each greenlet is one operation.
///
/// # Errors
///
/// When a greenlet fails (it could not start).
pub fn greenlet_spawn_join(
    per_rep: u64,
    reps: usize,
    tally: &impl Tally,
) -> Result<Vec<Sample>, String> {
    let batch = per_rep.max(1);
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        let greenlets: Vec<_> = (0..batch)
            .map(|i| {
                let task = tally.clone();
                greenlet::spawn(move || {
                    task.tick();
                    black_box(i)
                })
            })
            .collect();
        for g in greenlets {
            black_box(g.join().map_err(|e| e.to_string())?);
        }
        samples.push(Sample {
            ops: batch,
            elapsed: start.elapsed(),
        });
    }
    Ok(samples)
}
