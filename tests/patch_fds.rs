//! The `patch` feature's calls about descriptors: `poll` switches greenlets,
//! `close` wakes a greenlet waiting on the descriptor it closes, and a
//! forked child's greenlets go on with patched calls (libco's and libgo's
//! users' pitfalls). Run with `cargo test --features patch --test
//! patch_fds` (`tests/patch.rs` checks which symbols each build defines).

#[cfg(feature = "patch")]
mod util;

#[cfg(feature = "patch")]
mod patched {
    use std::io::{Read, Write};
    use std::mem::ManuallyDrop;
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::util::{self, SleepTicker};

    fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
        libc::pollfd {
            fd,
            events,
            revents: 0,
        }
    }

    /// `poll` on `fds` with `timeout` ms, as C code calls it: the result
    /// and the entries' `revents`.
    fn poll(fds: &mut [libc::pollfd], timeout: i32) -> (i32, Vec<libc::c_short>) {
        // SAFETY: `fds` is a valid array of its length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        (n, fds.iter().map(|f| f.revents).collect())
    }

    /// Spawns `f`, then lets the hub run until the greenlet waits on I/O
    /// (or 1,000 turns pass).
    fn spawn_waiting<T: 'static>(f: impl FnOnce() -> T + 'static) -> greenlet::Greenlet<T> {
        let g = greenlet::spawn(f);
        for _ in 0..1_000 {
            if greenlet::run_info().contains("waits on I/O") {
                break;
            }
            greenlet::yield_now();
        }
        assert!(greenlet::run_info().contains("waits on I/O"), "it waits");
        g
    }

    #[test]
    fn poll_in_a_greenlet_switches_until_a_descriptor_is_ready() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
        let writer = greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(100));
            b.write_all(b"x").unwrap();
            b
        });
        let fd = a.as_raw_fd();
        let poller = greenlet::spawn(move || poll(&mut [pollfd(fd, libc::POLLIN)], 5_000));
        let (n, revents) = poller.join().unwrap();
        let ticks = ticker.stop();
        assert_eq!((n, revents), (1, vec![libc::POLLIN]));
        let _b = writer.join().unwrap();
        // With the hub blocked for 100 ms the ticker would tick once.
        assert!(ticks >= 10, "ticks: {ticks}");
    }

    #[test]
    fn poll_reports_which_of_several_descriptors_is_ready() {
        let (a1, b1) = UnixStream::pair().unwrap();
        let (a2, mut b2) = UnixStream::pair().unwrap();
        let (fd1, fd2) = (a1.as_raw_fd(), a2.as_raw_fd());
        let poller = greenlet::spawn(move || {
            let mut fds = [pollfd(fd1, libc::POLLIN), pollfd(-1, libc::POLLIN)];
            fds[1].fd = fd2;
            poll(&mut fds, 5_000)
        });
        greenlet::yield_now(); // it polls, and waits
        assert!(!poller.is_finished());
        b2.write_all(b"y").unwrap();
        assert_eq!(poller.join().unwrap(), (1, vec![0, libc::POLLIN]));
        // Ready at once: a writable socket, and a hung-up one.
        drop(b1);
        let ready = greenlet::spawn(move || {
            let mut fds = [pollfd(fd1, libc::POLLIN), pollfd(fd2, libc::POLLOUT)];
            poll(&mut fds, -1)
        });
        let (n, revents) = ready.join().unwrap();
        assert_eq!(n, 2);
        assert_ne!(revents[0] & libc::POLLHUP, 0, "{revents:?}");
        assert_eq!(revents[1], libc::POLLOUT);
    }

    #[test]
    fn poll_times_out_and_no_descriptors_is_a_green_sleep() {
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
        let poller = greenlet::spawn(move || {
            let timed_out = poll(&mut [pollfd(fd, libc::POLLIN)], 60);
            // SAFETY: no descriptors: a sleep of 60 ms.
            let slept = unsafe { libc::poll(std::ptr::null_mut(), 0, 60) };
            (timed_out, slept)
        });
        let (timed_out, slept) = poller.join().unwrap();
        let ticks = ticker.stop();
        assert_eq!(timed_out, (0, vec![0]));
        assert_eq!(slept, 0);
        assert!(ticks >= 10, "ticks: {ticks}");
    }

    #[test]
    fn poll_outside_greenlets_passes_straight_to_the_kernel() {
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        // The main context, and a thread without greenlets: the kernel's
        // poll, which waits its 20 ms and finds nothing.
        let start = std::time::Instant::now();
        assert_eq!(poll(&mut [pollfd(fd, libc::POLLIN)], 20), (0, vec![0]));
        assert!(start.elapsed() >= Duration::from_millis(20));
        let thread = std::thread::spawn(move || poll(&mut [pollfd(fd, libc::POLLIN)], 20));
        assert_eq!(thread.join().unwrap(), (0, vec![0]));
    }

    #[test]
    fn a_killed_greenlet_in_poll_fails_it_with_ecanceled() {
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let poller = spawn_waiting(move || {
            let result = poll(&mut [pollfd(fd, libc::POLLIN)], -1);
            let errno = std::io::Error::last_os_error().raw_os_error();
            assert_eq!((result.0, errno), (-1, Some(libc::ECANCELED)));
            greenlet::yield_now(); // the kill unwinds here
            unreachable!("killed");
        });
        poller.kill();
        assert!(poller.join().unwrap_err().is_killed());
    }

    /// Closes `fd` from under its waiter, then at once makes a new socket
    /// pair (whose descriptor may take the closed one's number) with data
    /// to read: the waiter must fail with `EBADF` and leave the new
    /// socket's data alone.
    fn close_under_waiter(fd: RawFd) -> UnixStream {
        // SAFETY: the test's own descriptor, closed once: its waiter holds
        // it in a `ManuallyDrop` that is never dropped.
        assert_eq!(unsafe { libc::close(fd) }, 0);
        let (new, mut peer) = UnixStream::pair().unwrap();
        peer.write_all(b"new").unwrap();
        new
    }

    #[test]
    fn close_wakes_a_greenlet_reading_the_descriptor_with_ebadf() {
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.into_raw_fd();
        let reader = spawn_waiting(move || {
            // SAFETY: owns `fd` but never closes it (`close_under_waiter`
            // does).
            let mut a = ManuallyDrop::new(unsafe { UnixStream::from_raw_fd(fd) });
            a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 3];
            a.read(&mut buf).map_err(|e| e.raw_os_error())
        });
        let mut new = close_under_waiter(fd);
        assert_eq!(reader.join().unwrap(), Err(Some(libc::EBADF)));
        let mut got = [0u8; 3];
        new.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"new", "the new socket's data is untouched");
    }

    #[test]
    fn close_during_poll_reports_pollnval() {
        let (a, _b) = UnixStream::pair().unwrap();
        let (other, _other_peer) = UnixStream::pair().unwrap();
        let fd = a.into_raw_fd();
        let other_fd = other.as_raw_fd();
        let poller = spawn_waiting(move || {
            let mut fds = [pollfd(other_fd, libc::POLLIN), pollfd(fd, libc::POLLIN)];
            poll(&mut fds, 10_000)
        });
        let _new = close_under_waiter(fd);
        assert_eq!(poller.join().unwrap(), (1, vec![0, libc::POLLNVAL]));
    }

    #[test]
    fn close_wakes_a_greenlet_in_io_wait_readable() {
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.into_raw_fd();
        let waiter = spawn_waiting(move || {
            // SAFETY: borrowed for the wait only; closed by the main
            // context meanwhile, which the wait reports.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            greenlet::io::wait_readable(fd, Some(Duration::from_secs(10)))
                .map_err(|e| e.raw_os_error())
        });
        let _new = close_under_waiter(fd);
        assert_eq!(waiter.join().unwrap(), Err(Some(libc::EBADF)));
    }

    /// A forked child's greenlets go on with patched calls on the sockets
    /// they inherited, on an epoll instance of the child's own: a std read
    /// waiting before the fork gets in the child what the parent writes
    /// after it, and the parent's reader, the next message.
    #[test]
    fn a_forked_child_goes_on_with_patched_calls() {
        if !util::is_child() {
            util::assert_child_passes(
                "patched::a_forked_child_goes_on_with_patched_calls",
                Duration::from_secs(90),
                "1 passed",
            );
            return;
        }
        let (a, mut b) = UnixStream::pair().unwrap();
        let reader = spawn_waiting(move || {
            let mut a = a;
            let mut got = [0u8; 5];
            a.read_exact(&mut got).map(|()| got)
        });
        let child = util::fork();
        if child == 0 {
            util::exit_child(move || match reader.join() {
                Ok(Ok(got)) if &got == b"hello" => 0,
                _ => 1,
            });
        }
        b.write_all(b"hello").unwrap();
        assert_eq!(util::reap(child), 0, "the child's reader got the data");
        b.write_all(b"again").unwrap();
        assert_eq!(&reader.join().unwrap().unwrap(), b"again");
    }
}
