//! Seed 002's listing 12-10 (recipe 12-8, "scheduling events"): Python's
//! `sched.scheduler().enter(delay, priority, f)`, scaled down from seconds to
//! milliseconds, with five more events to show the order: time first, then
//! priority. The Python original is `examples/expected/sched.py`.
//!
//! ```python
//! my_sched = sched.scheduler(time.monotonic, time.sleep)
//! my_sched.enter(0.050, 1, print_time, ("50 ms, priority 1 (the seed's 10 s)",))
//! now = my_sched.timefunc()
//! my_sched.enterabs(now + 0.020, 2, print_time, ('20 ms, priority 2',))
//! my_sched.enterabs(now + 0.030, 1, print_time, ('30 ms, priority 1',))
//! my_sched.enterabs(now + 0.020, 1, print_time, ('20 ms, priority 1',))
//! my_sched.enterabs(now + 0.010, 3, print_time, ('10 ms, priority 3',))
//! my_sched.enterabs(now + 0.020, 3, print_time, ('20 ms, priority 3',))
//! my_sched.run()
//! ```
//!
//! The `Scheduler` below is Python's, over the hub: its queue is sorted by
//! (time, priority, order entered), its `run` waits for the next event's time
//! with `greenlet::sleep` (a timer) and starts each due event's action as a
//! greenlet. One loop takes the events in queue order, so events due at the
//! same time start in priority order by construction. One `spawn_later` per
//! event would not say that: each call reads the clock, as `enter` does, and
//! the order of timers due at one instant is not part of the library's API.
//!
//! Run it with `cargo run --example sched`. Stdout names the events in the
//! order they ran; stderr says when each ran.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// An event's action: what Python's `action(*argument)` is.
type Action = Box<dyn FnOnce()>;

/// Python's `sched.scheduler(time.monotonic, greenlet.sleep)`.
#[derive(Default)]
struct Scheduler {
    /// The events by (time, priority, sequence): the first is the next to
    /// run, and the sequence keeps equal (time, priority) in the order
    /// entered, as Python's does.
    queue: BTreeMap<(Instant, i32, u64), Action>,
    sequence: u64,
}

impl Scheduler {
    /// Python's `enterabs`: run `action` at `time`; a lower priority runs
    /// first among events at the same time.
    fn enterabs(&mut self, time: Instant, priority: i32, action: impl FnOnce() + 'static) {
        self.sequence += 1;
        self.queue
            .insert((time, priority, self.sequence), Box::new(action));
    }

    /// Python's `enter`: `enterabs(now + delay, ..)`, reading the clock at
    /// each call.
    fn enter(&mut self, delay: Duration, priority: i32, action: impl FnOnce() + 'static) {
        self.enterabs(Instant::now() + delay, priority, action);
    }

    /// How many events wait (Python's `len(queue)`).
    fn len(&self) -> usize {
        self.queue.len()
    }

    /// Python's `run`: waits for each event's time and runs it, until the
    /// queue is empty. Each action runs in a greenlet of its own, started in
    /// queue order, so an action that blocks does not hold up the next
    /// event (Python's `run` calls it inline). Returns once all have ended.
    fn run(&mut self) {
        let mut started = Vec::new();
        while let Some((&(time, _, _), _)) = self.queue.first_key_value() {
            let now = Instant::now();
            if time > now {
                // Only this context waits: other greenlets, such as the
                // actions already started, run meanwhile.
                greenlet::sleep(time - now);
                continue;
            }
            let (_, action) = self.queue.pop_first().expect("a first event");
            // Greenlets start in the order spawned, once this one blocks.
            started.push(greenlet::spawn(action));
        }
        for ended in greenlet::joinall(started) {
            ended.expect("an event's action ends");
        }
    }
}

fn main() {
    let start = Instant::now();
    // The seed prints `time.time()`. Here stdout names the event, so that it
    // reads the same on every run, and stderr says when it ran.
    let print_time = move |name: &'static str| {
        move || {
            println!("{name}");
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            eprintln!("  {name}: at {ms:.1} ms");
        }
    };
    let ms = Duration::from_millis;

    let mut my_sched = Scheduler::default();
    // The seed's event: enter(10, 1, print_time), 10 s scaled down to 50 ms.
    my_sched.enter(ms(50), 1, print_time("50 ms, priority 1 (the seed's 10 s)"));

    // `enter` reads the clock at each call, so two `enter`s with the same
    // delay get two different times and the first entered runs first,
    // whatever the priorities. Priority decides between events due at the
    // same time: enter them at one reading of the clock, with `enterabs`.
    let now = Instant::now();
    my_sched.enterabs(now + ms(20), 2, print_time("20 ms, priority 2"));
    my_sched.enterabs(now + ms(30), 1, print_time("30 ms, priority 1"));
    my_sched.enterabs(now + ms(20), 1, print_time("20 ms, priority 1"));
    my_sched.enterabs(now + ms(10), 3, print_time("10 ms, priority 3"));
    my_sched.enterabs(now + ms(20), 3, print_time("20 ms, priority 3"));

    println!("{} events queued", my_sched.len());
    my_sched.run(); // waits for each event's time and runs it
    println!("{} events left", my_sched.len());
}
