# The Python original of examples/join_all.rs: seed 004's section 2.3
# ("线程阻塞", blocking the main thread with join), with threads as in the
# seed and each sleep scaled down from 5 s to 50 ms. The seed prints
# threading.current_thread(), whose repr holds an address; here each thread
# has a name, and the main thread says when each join returns, so that
# stdout shows the order and is the same on every run. The totals vary, so
# they go to stderr.
# `python3 examples/expected/join_all.py > examples/expected/join_all.txt`
import sys
import threading
import time


# Greenlets start in the order spawned; threads race to print. So each
# thread says it has printed, and the main thread waits for that before it
# starts the next: the five sleeps still overlap.
printed = threading.Semaphore(0)


def test():
    print(threading.current_thread().name)
    printed.release()
    time.sleep(0.05)


def join_after_the_loop():
    thread_list = []
    for i in range(5):
        th = threading.Thread(target=test, name=f'test-{i + 1}')
        th.start()
        printed.acquire()
        thread_list.append(th)
    for th in thread_list:
        th.join()
        print('joined', th.name)
    print('主线程结束')


def join_inside_the_loop():
    for i in range(5):
        th = threading.Thread(target=test, name=f'test-{i + 1}')
        th.start()
        printed.acquire()
        th.join()
        print('joined', th.name)
    print('主线程结束')


for name, run in [('join after the loop', join_after_the_loop), ('join inside the loop', join_inside_the_loop)]:
    print(f'{name}:')
    start = time.monotonic()
    run()
    print(f'{name}: five sleeps of 0.05 s took {time.monotonic() - start:.2f} s', file=sys.stderr)
