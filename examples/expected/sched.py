# The Python original of examples/sched.rs: seed 002's listing 12-10
# (recipe 12-8, `sched.scheduler().enter(delay, priority, f)`), scaled down
# from seconds to milliseconds (the seed's 10 s are 50 ms), with five more
# events to show the order: time first, then priority.
# `python3 examples/expected/sched.py > examples/expected/sched.txt`
import sys

# This file is named sched.py: keep its own directory off the path, or
# `import sched` would import this file.
sys.path.pop(0)

import sched  # noqa: E402
import time  # noqa: E402

start = time.monotonic()


def print_time(name):
    # The seed prints time.time(). Here stdout names the event, so that it
    # reads the same on every run, and stderr says when it ran.
    print(name)
    print(f'  {name}: at {(time.monotonic() - start) * 1000:.1f} ms', file=sys.stderr)


my_sched = sched.scheduler(time.monotonic, time.sleep)

# The seed's event: enter(10, 1, print_time), 10 s scaled down to 50 ms.
my_sched.enter(0.050, 1, print_time, ("50 ms, priority 1 (the seed's 10 s)",))

# enter() reads the clock at each call, so two enter()s with the same delay
# get two different times and the first entered runs first, whatever the
# priorities. Priority decides between events due at the same time: enter
# them at one reading of the clock, with enterabs().
now = my_sched.timefunc()
my_sched.enterabs(now + 0.020, 2, print_time, ('20 ms, priority 2',))
my_sched.enterabs(now + 0.030, 1, print_time, ('30 ms, priority 1',))
my_sched.enterabs(now + 0.020, 1, print_time, ('20 ms, priority 1',))
my_sched.enterabs(now + 0.010, 3, print_time, ('10 ms, priority 3',))
my_sched.enterabs(now + 0.020, 3, print_time, ('20 ms, priority 3',))

print(len(my_sched.queue), 'events queued')
my_sched.run()  # waits for each event's time and runs it
print(len(my_sched.queue), 'events left')
