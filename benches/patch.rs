//! The `patch` feature's overhead: a 1-byte `read` on a socket that has a
//! byte ready, made three ways in the same run.
//!
//! `cargo bench --features patch --bench patch`
//!
//! - `raw_syscall`: `syscall(SYS_read, …)`, the kernel alone;
//! - `patched_plain_thread`: the patched `read` (std's `Read` calls it)
//!   outside greenlets, where it passes straight to the kernel;
//! - `patched_in_greenlet`: the same inside a greenlet, on a blocking
//!   socket, where it tries a `recvfrom` with `MSG_DONTWAIT` first (which
//!   on a ready socket is the whole call).
//!
//! Three runs on the 2-core VM (2026-11-30), raw / plain thread / greenlet:
//! 2.58 / 2.41 / 2.74 µs, 2.36 / 2.71 / 2.85, 2.43 / 2.76 / 2.53: the
//! greenlet's 1.04–1.21× the raw call, within this machine's noise (1.73×
//! before the `MSG_DONTWAIT` fast path, which spent `fstat`, `fcntl`,
//! `getsockopt` and `poll` first).
//!
//! Each iteration first writes the byte with a raw system call, the same
//! for all three.

use std::hint::black_box;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use criterion::{Criterion, criterion_group, criterion_main};

fn raw_write(fd: i32) {
    // SAFETY: a valid descriptor and a one-byte buffer.
    let n = unsafe { libc::syscall(libc::SYS_write, fd, b"x".as_ptr(), 1usize) };
    assert_eq!(n, 1);
}

fn patched_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("patched_read_ready_socket");
    let (a, mut b) = UnixStream::pair().unwrap();
    let (afd, bfd) = (a.as_raw_fd(), b.as_raw_fd());
    group.bench_function("raw_syscall", |bench| {
        let mut byte = [0u8; 1];
        bench.iter(|| {
            raw_write(afd);
            // SAFETY: a valid descriptor and buffer.
            let n = unsafe { libc::syscall(libc::SYS_read, bfd, byte.as_mut_ptr(), 1usize) };
            black_box(n)
        })
    });
    group.bench_function("patched_plain_thread", |bench| {
        let mut byte = [0u8; 1];
        bench.iter(|| {
            raw_write(afd);
            black_box(b.read(&mut byte).unwrap())
        })
    });
    group.bench_function("patched_in_greenlet", |bench| {
        bench.iter_custom(|iters| {
            let (a, mut b) = UnixStream::pair().unwrap();
            let afd = a.as_raw_fd();
            let g = greenlet::spawn(move || {
                let mut byte = [0u8; 1];
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    raw_write(afd);
                    black_box(b.read(&mut byte).unwrap());
                }
                start.elapsed()
            });
            let elapsed = g.join().unwrap();
            drop(a);
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, patched_read);
criterion_main!(benches);
