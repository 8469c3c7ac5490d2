//! Seed 002, listings 12-5 and 12-6: a `Pipe` and a `Queue` between two
//! processes, here between a std thread and a greenlet through
//! `greenlet::sync::mpsc`.
//!
//! ```python
//! def func(pipe_end):                      # listing 12-5
//!     pipe_end.send(['hello', 'world'])
//!     pipe_end.close()
//! parent_end, child_end = multiprocessing.Pipe()
//! proc1 = multiprocessing.Process(target=func, args=(child_end,))
//! proc1.start()
//! print(parent_end.recv())
//! proc1.join()
//!
//! def func(queue1):                        # listing 12-6
//!    queue1.put(['hello', 'world'])
//! my_queue = multiprocessing.Queue()
//! proc1 = multiprocessing.Process(target=func, args=(my_queue,))
//! proc1.start()
//! print(my_queue.get())
//! proc1.join()
//! ```
//!
//! Run it with `cargo run --example pipe`.

use greenlet::sync::mpsc::{self, Receiver, Sender};

type Message = Vec<&'static str>;

/// One end of a full-duplex pipe: it sends to the other end and receives
/// from it, as `multiprocessing.Pipe()`'s ends do.
struct PipeEnd {
    tx: Sender<Message>,
    rx: Receiver<Message>,
}

/// Two ends, joined by a channel each way.
fn pipe() -> (PipeEnd, PipeEnd) {
    let (a_tx, b_rx) = mpsc::channel();
    let (b_tx, a_rx) = mpsc::channel();
    (
        PipeEnd { tx: a_tx, rx: a_rx },
        PipeEnd { tx: b_tx, rx: b_rx },
    )
}

/// Python's `print` of a list of strings.
fn py_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn main() {
    // Listing 12-5: a std thread sends through its end of the pipe and
    // closes it (drops it); a greenlet receives at the other end.
    let (parent_end, child_end) = pipe();
    let proc1 = std::thread::spawn(move || {
        child_end.tx.send(vec!["hello", "world"]).unwrap();
        drop(child_end);
    });
    let parent = greenlet::spawn(move || {
        // Only this greenlet waits; the hub runs others meanwhile.
        println!("{}", py_list(&parent_end.rx.recv().unwrap()));
    });
    parent.join().unwrap();
    proc1.join().unwrap();

    // Listing 12-6: the other way round, a greenlet puts into the queue
    // and a std thread gets from it.
    let (my_queue, from_queue) = mpsc::channel::<Message>();
    let proc1 = greenlet::spawn(move || my_queue.send(vec!["hello", "world"]).unwrap());
    let main = std::thread::spawn(move || println!("{}", py_list(&from_queue.recv().unwrap())));
    proc1.join().unwrap();
    main.join().unwrap();
}
