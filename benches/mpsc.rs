//! `sync::mpsc` from a std thread into a greenlet, beside std's `mpsc` from
//! a thread into a thread and tokio's `mpsc` from a thread into a task of a
//! current-thread runtime, in the same run.
//!
//! `cargo bench --bench mpsc`

use std::hint::black_box;
use std::thread;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Messages per measured batch: enough that spawning the producer thread
/// is a small part of the time.
const BATCH: u64 = 20_000;

/// Sends `0..BATCH` through `send` on a new std thread.
fn producer(send: impl Fn(u64) + Send + 'static) -> thread::JoinHandle<()> {
    thread::spawn(move || (0..BATCH).for_each(send))
}

/// The capacity of the bounded variants.
const BOUND: usize = 16;

fn thread_to_consumer(c: &mut Criterion, bound: Option<usize>) {
    let name = match bound {
        None => "mpsc_thread_to_consumer_unbounded".to_string(),
        Some(n) => format!("mpsc_thread_to_consumer_bounded_{n}"),
    };
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(BATCH));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("greenlet_thread_to_greenlet", |b| {
        b.iter(|| {
            let (rx, feeder) = match bound {
                None => {
                    let (tx, rx) = greenlet::sync::mpsc::channel();
                    (rx, producer(move |v| tx.send(v).unwrap()))
                }
                Some(n) => {
                    let (tx, rx) = greenlet::sync::mpsc::sync_channel(n);
                    (rx, producer(move |v| tx.send(v).unwrap()))
                }
            };
            let consumer = greenlet::spawn(move || rx.iter().fold(0, u64::wrapping_add));
            black_box(consumer.join().unwrap());
            feeder.join().unwrap();
        })
    });
    group.bench_function("std_thread_to_thread", |b| {
        b.iter(|| {
            let (rx, feeder) = match bound {
                None => {
                    let (tx, rx) = std::sync::mpsc::channel();
                    (rx, producer(move |v| tx.send(v).unwrap()))
                }
                Some(n) => {
                    let (tx, rx) = std::sync::mpsc::sync_channel(n);
                    (rx, producer(move |v| tx.send(v).unwrap()))
                }
            };
            let consumer = thread::spawn(move || rx.iter().fold(0, u64::wrapping_add));
            black_box(consumer.join().unwrap());
            feeder.join().unwrap();
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("tokio_thread_to_task", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (task, feeder) = match bound {
                    None => {
                        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                        let feeder = producer(move |v| tx.send(v).unwrap());
                        let task = tokio::spawn(async move {
                            let mut sum = 0u64;
                            while let Some(v) = rx.recv().await {
                                sum = sum.wrapping_add(v);
                            }
                            sum
                        });
                        (task, feeder)
                    }
                    Some(n) => {
                        let (tx, mut rx) = tokio::sync::mpsc::channel(n);
                        let feeder = producer(move |v| tx.blocking_send(v).unwrap());
                        let task = tokio::spawn(async move {
                            let mut sum = 0u64;
                            while let Some(v) = rx.recv().await {
                                sum = sum.wrapping_add(v);
                            }
                            sum
                        });
                        (task, feeder)
                    }
                };
                black_box(task.await.unwrap());
                feeder.join().unwrap();
            })
        })
    });
    group.finish();
}

fn unbounded(c: &mut Criterion) {
    thread_to_consumer(c, None);
}

fn bounded(c: &mut Criterion) {
    thread_to_consumer(c, Some(BOUND));
}

criterion_group!(benches, unbounded, bounded);
criterion_main!(benches);
