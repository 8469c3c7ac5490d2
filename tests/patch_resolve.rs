//! The `patch` feature's `getaddrinfo`, which runs on the thread pool
//! inside greenlets, and glibc's fortified `__*_chk` variants of the
//! patched reads.
//!
//! `CARGO_TARGET_DIR=target/patch cargo test --features patch --test
//! patch_resolve` runs them all; the default build runs the symbol check.

mod util;

/// What this part of `patch` defines (the `__*_chk` ones on glibc only).
const RESOLVE: &[&str] = &["getaddrinfo"];
const FORTIFIED: &[&str] = &["__read_chk", "__recv_chk", "__recvfrom_chk", "__poll_chk"];

#[test]
fn getaddrinfo_and_the_fortified_calls_are_defined_exactly_when_the_feature_is_on() {
    let defined = util::defined_functions();
    let on = cfg!(feature = "patch");
    let fortify = on && cfg!(target_env = "gnu");
    let expected = RESOLVE.iter().map(|name| (name, on));
    for (name, want) in expected.chain(FORTIFIED.iter().map(|name| (name, fortify))) {
        let has = defined.iter().any(|d| d == name);
        assert_eq!(has, want, "`{name}` defined: {has}, feature patch: {on}");
    }
    // The list is libc's, freed by libc's `freeaddrinfo`; the other lookups
    // are not patched.
    for name in ["freeaddrinfo", "getnameinfo", "gethostbyname"] {
        assert!(!defined.iter().any(|d| d == name), "`{name}` is defined");
    }
}

#[cfg(feature = "patch")]
mod patched {
    use std::cell::Cell;
    use std::ffi::{CStr, c_int};
    use std::io;
    use std::net::{SocketAddr, ToSocketAddrs};
    use std::rc::Rc;
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::{Duration, Instant};

    use greenlet::threadpool::{JoinHandle, default_pool};

    use super::util::{assert_child_passes, is_child};

    /// How long a child process, or a wait of a pool task, may take.
    const LIMIT: Duration = Duration::from_secs(60);

    fn lookup(host: (&str, u16)) -> io::Result<Vec<SocketAddr>> {
        let mut addrs: Vec<_> = host.to_socket_addrs()?.collect();
        addrs.sort();
        Ok(addrs)
    }

    /// A greenlet that counts its turns (it yields after each) until
    /// stopped, a million at most.
    struct YieldTicker {
        ticks: Rc<Cell<usize>>,
        stop: Rc<Cell<bool>>,
        greenlet: greenlet::Greenlet<()>,
    }

    impl YieldTicker {
        fn spawn() -> YieldTicker {
            let (ticks, stop) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
            let (t, s) = (ticks.clone(), stop.clone());
            let greenlet = greenlet::spawn(move || {
                for _ in 0..1_000_000 {
                    if s.get() {
                        break;
                    }
                    t.set(t.get() + 1);
                    greenlet::yield_now();
                }
            });
            YieldTicker {
                ticks,
                stop,
                greenlet,
            }
        }

        fn stop(self) {
            self.stop.set(true);
            self.greenlet.join().unwrap();
        }
    }

    /// In a fresh process (the default pool has no thread yet), lookups in
    /// four greenlets at once get what a plain thread's std lookup gets,
    /// are in flight together, and start pool threads.
    #[test]
    fn std_lookups_in_greenlets_run_on_the_pool_and_match_std() {
        if !is_child() {
            let test = "patched::std_lookups_in_greenlets_run_on_the_pool_and_match_std";
            assert_child_passes(test, LIMIT, "lookups matched");
            return;
        }
        let pool = default_pool();
        let std = std::thread::spawn(|| lookup(("localhost", 80)).unwrap())
            .join()
            .unwrap();
        assert!(!std.is_empty());
        assert_eq!(pool.threads(), 0, "a plain thread's lookup is direct");
        let ticker = YieldTicker::spawn();
        let (in_flight, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let lookups: Vec<_> = (0..4)
            .map(|_| {
                let (f, m, t) = (in_flight.clone(), most.clone(), ticker.ticks.clone());
                greenlet::spawn(move || {
                    f.set(f.get() + 1);
                    m.set(m.get().max(f.get()));
                    let before = t.get();
                    let addrs = lookup(("localhost", 80)).unwrap();
                    f.set(f.get() - 1);
                    (addrs, t.get() - before)
                })
            })
            .collect();
        let mut ticked = 0;
        for g in lookups {
            let (addrs, ticks) = g.join().unwrap();
            assert_eq!(addrs, std);
            ticked += ticks;
        }
        ticker.stop();
        // Blocking the hub, each lookup would end before the next began,
        // with no tick in between.
        assert!(most.get() >= 2, "at most {} in flight", most.get());
        assert!(ticked > 0, "the ticker never ran during a lookup");
        assert!(pool.threads() >= 1, "no pool thread started");
        println!(
            "lookups matched: {} in flight at most, {ticked} ticks meanwhile, {} pool threads",
            most.get(),
            pool.threads()
        );
    }

    /// A name under `.invalid` (RFC 6761) fails at once, even offline:
    /// the same error in a greenlet (through the pool) as outside.
    #[test]
    fn an_unknown_name_fails_in_a_greenlet_as_outside() {
        const NAME: (&str, u16) = ("no-such-host.invalid", 80);
        let outside = lookup(NAME).unwrap_err();
        let inside = greenlet::spawn(|| lookup(NAME).unwrap_err())
            .join()
            .unwrap();
        assert_eq!(inside.kind(), outside.kind());
        assert_eq!(inside.to_string(), outside.to_string());
    }

    /// In a fresh process, lookups in the main context of a thread with no
    /// greenlet left to run, and on a plain thread, are libc's own: no pool
    /// thread. With a greenlet to run, the main context's lookup goes to the
    /// pool (gevent's main greenlet), as a greenlet's does.
    #[test]
    fn getaddrinfo_without_greenlets_to_run_passes_straight_through() {
        if !is_child() {
            let test = "patched::getaddrinfo_without_greenlets_to_run_passes_straight_through";
            assert_child_passes(test, LIMIT, "passed through");
            return;
        }
        greenlet::spawn(|| ()).join().unwrap(); // this thread's hub ran
        let main = lookup(("localhost", 80)).unwrap();
        let thread = std::thread::spawn(|| lookup(("localhost", 80)).unwrap());
        assert_eq!(thread.join().unwrap(), main);
        let direct = raw(Some(c"localhost"), None, None);
        assert_eq!(
            default_pool().threads(),
            0,
            "a lookup outside used the pool"
        );
        let other = greenlet::spawn(|| greenlet::sleep(Duration::from_millis(1)));
        assert_eq!(raw(Some(c"localhost"), None, None), direct);
        assert_eq!(
            default_pool().threads(),
            1,
            "main's lookup, beside a greenlet"
        );
        other.join().unwrap();
        let green = greenlet::spawn(|| raw(Some(c"localhost"), None, None));
        assert_eq!(green.join().unwrap(), direct);
        assert_eq!(default_pool().threads(), 1);
        println!("passed through");
    }

    /// An address as getaddrinfo gives it: family, type, protocol, bytes.
    type Entry = (c_int, c_int, c_int, Vec<u8>);

    /// `getaddrinfo` itself, with hints of (flags, family, socktype,
    /// protocol): the entries, or its error code.
    fn raw(
        node: Option<&CStr>,
        service: Option<&CStr>,
        hints: Option<(c_int, c_int, c_int, c_int)>,
    ) -> Result<Vec<Entry>, c_int> {
        // SAFETY: an all-zero addrinfo is valid.
        let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
        if let Some((flags, family, socktype, protocol)) = hints {
            (h.ai_flags, h.ai_family) = (flags, family);
            (h.ai_socktype, h.ai_protocol) = (socktype, protocol);
        }
        let mut res = std::ptr::null_mut();
        let ptr = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
        let h = if hints.is_some() {
            &h
        } else {
            std::ptr::null()
        };
        // SAFETY: valid strings or null, valid hints or null, and a place
        // for the list.
        let code = unsafe { libc::getaddrinfo(ptr(node), ptr(service), h, &mut res) };
        if code != 0 {
            return Err(code);
        }
        let mut entries = Vec::new();
        let mut at = res;
        // SAFETY: the list getaddrinfo returned, read until its end, then
        // freed once.
        unsafe {
            while let Some(ai) = at.as_ref() {
                let bytes = std::slice::from_raw_parts(ai.ai_addr.cast::<u8>(), ai.ai_addrlen as _);
                entries.push((ai.ai_family, ai.ai_socktype, ai.ai_protocol, bytes.to_vec()));
                at = ai.ai_next;
            }
            libc::freeaddrinfo(res);
        }
        entries.sort();
        Ok(entries)
    }

    /// Null node, service or hints mean in a greenlet what they mean to
    /// libc.
    #[test]
    fn null_arguments_mean_what_they_mean_to_libc() {
        let passive = Some((libc::AI_PASSIVE, libc::AF_INET, libc::SOCK_STREAM, 0));
        let cases = move || {
            [
                raw(Some(c"localhost"), None, None),
                raw(None, Some(c"80"), passive),
                raw(None, Some(c"80"), None),
                raw(Some(c"127.0.0.1"), Some(c"80"), None),
                raw(None, None, None),
            ]
        };
        let outside = cases();
        let inside = greenlet::spawn(cases).join().unwrap();
        assert_eq!(inside, outside);
        assert!(outside[0].as_ref().is_ok_and(|e| !e.is_empty()));
        assert_eq!(outside[4], Err(libc::EAI_NONAME));
    }

    /// A meeting point for pool tasks: a count of arrivals and a flag.
    #[derive(Default)]
    struct Meeting {
        state: Mutex<(usize, bool)>,
        changed: Condvar,
    }

    impl Meeting {
        /// Counts one arrival, then waits (for `LIMIT` at most) until
        /// `done` holds for (arrivals, open); whether it did.
        fn arrive_and_wait(&self, done: impl Fn(usize, bool) -> bool) -> bool {
            let mut state = self.state.lock().unwrap();
            state.0 += 1;
            self.changed.notify_all();
            let deadline = Instant::now() + LIMIT;
            while !done(state.0, state.1) {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    return false;
                };
                state = self.changed.wait_timeout(state, left).unwrap().0;
            }
            true
        }

        fn wait_for(&self, arrivals: usize) {
            let state = self.state.lock().unwrap();
            let (state, _) = (self.changed)
                .wait_timeout_while(state, LIMIT, |s| s.0 < arrivals)
                .unwrap();
            assert_eq!(state.0, arrivals, "the pool tasks did not all start");
        }

        fn open(&self) {
            self.state.lock().unwrap().1 = true;
            self.changed.notify_all();
        }
    }

    /// Runs a task on every thread of the default pool that holds it until
    /// `open`; once this returns, all are held.
    fn hold_the_pool() -> (Arc<Meeting>, Vec<JoinHandle<bool>>) {
        let meeting = Arc::new(Meeting::default());
        let n = default_pool().max_threads();
        let tasks = (0..n)
            .map(|_| {
                let m = meeting.clone();
                default_pool().spawn(move || m.arrive_and_wait(|_, open| open))
            })
            .collect();
        meeting.wait_for(n);
        (meeting, tasks)
    }

    /// Waits until every task queued on the default pool so far has
    /// finished: one task per thread, which meet.
    fn drain_the_pool() {
        let n = default_pool().max_threads();
        let meeting = Arc::new(Meeting::default());
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let m = meeting.clone();
                default_pool().spawn(move || m.arrive_and_wait(|arrived, _| arrived == n))
            })
            .collect();
        for task in tasks {
            assert!(task.join().unwrap(), "the pool's threads did not meet");
        }
    }

    /// `rounds` greenlets, one at a time, ask for a lookup that the held
    /// pool queues, and are killed while it waits there: each lookup fails
    /// with `ECANCELED`, and the greenlet unwinds at its next blocking
    /// call.
    fn killed_lookups(rounds: usize) {
        for _ in 0..rounds {
            let (seen, reached) = (Rc::new(Cell::new(None)), Rc::new(Cell::new(false)));
            let (s, r) = (seen.clone(), reached.clone());
            let g = greenlet::spawn(move || {
                s.set(Some(
                    lookup(("localhost", 80)).map_err(|e| e.raw_os_error()),
                ));
                greenlet::sleep(LIMIT); // the pending kill unwinds here
                r.set(true);
            });
            greenlet::yield_now(); // it asks, and waits for the pool
            g.kill();
            assert!(g.join().unwrap_err().is_killed());
            assert_eq!(seen.take(), Some(Err(Some(libc::ECANCELED))));
            assert!(!reached.get());
        }
    }

    /// In a fresh process: greenlets killed while their lookups wait for
    /// the pool (every thread of it held) get `ECANCELED`; the lookups
    /// then run, and the lists that come back for nobody are freed: the
    /// heap in use does not grow by the lists of a second batch.
    #[test]
    fn a_killed_lookup_fails_with_ecanceled_and_its_late_list_is_freed() {
        if !is_child() {
            let test = "patched::a_killed_lookup_fails_with_ecanceled_and_its_late_list_is_freed";
            assert_child_passes(test, LIMIT, "late lists freed");
            return;
        }
        const ROUNDS: usize = 2000;
        let in_use = || {
            // SAFETY: mallinfo2 only reads the allocator's counters.
            unsafe { libc::mallinfo2() }.uordblks
        };
        let batch = || {
            let (meeting, held) = hold_the_pool();
            killed_lookups(ROUNDS);
            meeting.open();
            for task in held {
                assert!(task.join().unwrap(), "a held pool task timed out");
            }
            drain_the_pool();
        };
        batch(); // warms the allocator, the pool's queue and the hub up
        let before = in_use();
        batch();
        let growth = in_use().saturating_sub(before);
        // Leaked, each list would add at least an addrinfo (48 bytes; 88
        // measured, about 175 KB for the batch); the allocator's own caches
        // (per-thread, bounded) moved the count by up to 15 KB when the
        // lists were freed.
        let lists = ROUNDS * std::mem::size_of::<libc::addrinfo>();
        assert!(growth < lists / 2, "{growth} bytes more in use");
        // The pool still answers.
        let addrs = greenlet::spawn(|| lookup(("localhost", 80))).join();
        assert!(!addrs.unwrap().unwrap().is_empty());
        println!("late lists freed: {growth} bytes more in use after {ROUNDS}");
    }
}

#[cfg(all(feature = "patch", target_env = "gnu"))]
mod fortified {
    use std::cell::Cell;
    use std::ffi::{c_int, c_void};
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::rc::Rc;
    use std::time::Duration;

    use libc::{nfds_t, pollfd, sockaddr, socklen_t};

    use super::util::{is_child, run_child};

    // The test binary's own definitions, the library's.
    unsafe extern "C" {
        fn __read_chk(fd: c_int, buf: *mut c_void, nbytes: usize, buflen: usize) -> isize;
        fn __recv_chk(
            fd: c_int,
            buf: *mut c_void,
            len: usize,
            buflen: usize,
            flags: c_int,
        ) -> isize;
        fn __recvfrom_chk(
            fd: c_int,
            buf: *mut c_void,
            len: usize,
            buflen: usize,
            flags: c_int,
            addr: *mut sockaddr,
            addrlen: *mut socklen_t,
        ) -> isize;
        fn __poll_chk(fds: *mut pollfd, nfds: nfds_t, timeout: c_int, fdslen: usize) -> c_int;
    }

    /// Which fortified read.
    #[derive(Clone, Copy, Debug)]
    enum Chk {
        Read,
        Recv,
        RecvFrom,
    }

    /// Reads up to `len` bytes into `buf` with the variant `how`, telling
    /// it the buffer is `buf.len()` bytes.
    fn read_chk(how: Chk, fd: c_int, buf: &mut [u8], len: usize) -> isize {
        let (ptr, buflen) = (buf.as_mut_ptr().cast(), buf.len());
        let null = std::ptr::null_mut();
        // SAFETY: a valid descriptor and buffer; a length beyond the buffer
        // is what the check stops, before any read.
        unsafe {
            match how {
                Chk::Read => __read_chk(fd, ptr, len, buflen),
                Chk::Recv => __recv_chk(fd, ptr, len, buflen, 0),
                Chk::RecvFrom => __recvfrom_chk(fd, ptr, len, buflen, 0, null, null.cast()),
            }
        }
    }

    /// Each variant, on a blocking socket with nothing to read yet, lets
    /// the other greenlets run until the writer greenlet has written.
    #[test]
    fn the_fortified_reads_switch_greenlets_and_get_the_data() {
        for how in [Chk::Read, Chk::Recv, Chk::RecvFrom] {
            let (a, mut b) = UnixStream::pair().unwrap();
            // A read that blocked the hub would fail here, not hang.
            a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let (wrote, turns) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(0)));
            let (w, t) = (wrote.clone(), turns.clone());
            let reader = greenlet::spawn(move || {
                let mut buf = [0u8; 8];
                let n = read_chk(how, a.as_raw_fd(), &mut buf, 8);
                (n, buf, w.get())
            });
            let writer = greenlet::spawn(move || {
                for _ in 0..3 {
                    t.set(t.get() + 1);
                    greenlet::yield_now();
                }
                wrote.set(true);
                b.write_all(b"ping").unwrap();
                b
            });
            let (n, buf, wrote_first) = reader.join().unwrap();
            let _b = writer.join().unwrap();
            assert_eq!(n, 4, "{how:?}");
            assert_eq!(&buf[..4], b"ping", "{how:?}");
            assert!(wrote_first, "{how:?}: the writer had not run");
            assert_eq!(turns.get(), 3, "{how:?}");
        }
    }

    #[test]
    fn poll_chk_polls() {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"x").unwrap();
        let mut fds = [pollfd {
            fd: a.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd, of the size given; no waiting.
        let n = unsafe { __poll_chk(fds.as_mut_ptr(), 1, 0, size_of_val(&fds)) };
        assert_eq!(n, 1);
        assert_ne!(fds[0].revents & libc::POLLIN, 0);
    }

    /// `__poll_chk` is the patched `poll`: in a greenlet, it lets the
    /// writer greenlet run until there is something to read.
    #[test]
    fn poll_chk_switches_greenlets() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let wrote = Rc::new(Cell::new(false));
        let w = wrote.clone();
        let poller = greenlet::spawn(move || {
            let mut fds = [pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd, of the size given; at most 10 s.
            let n = unsafe { __poll_chk(fds.as_mut_ptr(), 1, 10_000, size_of_val(&fds)) };
            (n, fds[0].revents, w.get())
        });
        let writer = greenlet::spawn(move || {
            greenlet::yield_now();
            wrote.set(true);
            b.write_all(b"x").unwrap();
            b
        });
        assert_eq!(poller.join().unwrap(), (1, libc::POLLIN, true));
        drop((a, writer.join().unwrap()));
    }

    /// Makes `call` in a child (this test run again), which must die by
    /// `SIGABRT` with glibc's message, as glibc's own variant would.
    fn aborts_in_a_child(test: &str, call: impl FnOnce(c_int)) {
        if is_child() {
            let (a, mut b) = UnixStream::pair().unwrap();
            // Data waits, so a call that is not stopped returns at once.
            b.write_all(&[7; 16]).unwrap();
            call(a.as_raw_fd());
            println!("not stopped");
            return;
        }
        let run = run_child(&format!("fortified::{test}"), Duration::from_secs(60));
        assert_eq!(run.signal(), Some(libc::SIGABRT), "{run}");
        assert!(run.stderr.contains("buffer overflow detected"), "{run}");
    }

    #[test]
    fn read_chk_beyond_the_buffer_aborts() {
        aborts_in_a_child("read_chk_beyond_the_buffer_aborts", |fd| {
            read_chk(Chk::Read, fd, &mut [0; 4], 8);
        });
    }

    #[test]
    fn recv_chk_beyond_the_buffer_aborts() {
        aborts_in_a_child("recv_chk_beyond_the_buffer_aborts", |fd| {
            read_chk(Chk::Recv, fd, &mut [0; 4], 8);
        });
    }

    #[test]
    fn recvfrom_chk_beyond_the_buffer_aborts() {
        aborts_in_a_child("recvfrom_chk_beyond_the_buffer_aborts", |fd| {
            read_chk(Chk::RecvFrom, fd, &mut [0; 4], 8);
        });
    }

    #[test]
    fn poll_chk_beyond_the_array_aborts() {
        aborts_in_a_child("poll_chk_beyond_the_array_aborts", |fd| {
            let mut fds = [pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            }; 2];
            // Two entries claimed, the bytes of one and a half given.
            let fdslen = size_of::<pollfd>() * 3 / 2;
            // SAFETY: valid entries; the check stops the call.
            unsafe { __poll_chk(fds.as_mut_ptr(), 2, 0, fdslen) };
        });
    }
}
