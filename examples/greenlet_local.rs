//! Seed 000's ThreadLocal example, with greenlets: each greenlet binds its
//! own student, and a function deep in the call stack reads it back without
//! being passed it.
//!
//! ```python
//! local_school = threading.local()
//!
//! def process_student():
//!     std = local_school.student
//!     print('Hello, %s (in %s)' % (std, threading.current_thread().name))
//!
//! def process_thread(name):
//!     local_school.student = name
//!     process_student()
//! ```
//!
//! Run it with `cargo run --example greenlet_local`.

use std::cell::RefCell;

use greenlet::Builder;

greenlet::greenlet_local! {
    /// The student bound to the running greenlet.
    static STUDENT: RefCell<String> = RefCell::new(String::new());
}

fn process_student() {
    let student = STUDENT.with(|s| s.borrow().clone());
    let me = greenlet::current();
    println!("Hello, {student} (in {})", me.name().unwrap_or("?"));
}

fn process_greenlet(name: &str) {
    STUDENT.with(|s| *s.borrow_mut() = name.to_owned());
    greenlet::yield_now(); // the other greenlet binds its own student meanwhile
    process_student();
}

fn main() {
    let t1 = Builder::new()
        .name("Greenlet-A")
        .spawn(|| process_greenlet("Alice"))
        .expect("a valid builder");
    let t2 = Builder::new()
        .name("Greenlet-B")
        .spawn(|| process_greenlet("Bob"))
        .expect("a valid builder");
    t1.join().unwrap();
    t2.join().unwrap();
}
