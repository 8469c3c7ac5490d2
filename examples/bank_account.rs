//! Seed 000's bank account: 100 greenlets each deposit 1, with a pause
//! inside the critical section.
//!
//! ```python
//! def deposit(self, money):
//!     self._lock.acquire()
//!     try:
//!         new_balance = self._balance + money
//!         sleep(0.01)
//!         self._balance = new_balance
//!     finally:
//!         self._lock.release()
//! ```
//!
//! Greenlets switch only at blocking calls, so the race is easy to point at:
//! without the lock, every greenlet reads the balance (0), then sleeps — and
//! while it sleeps the others read the same 0 — then each writes back 1.
//! With the `Mutex`, the read, the sleep and the write happen as one.
//!
//! Run it with `cargo run --example bank_account`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use greenlet::sync::Mutex;

/// The account with a lock: the read-sleep-write is one critical section.
fn with_lock() -> u32 {
    let balance = Rc::new(Mutex::new(0u32));
    let depositors: Vec<_> = (0..100)
        .map(|_| {
            let balance = balance.clone();
            greenlet::spawn(move || {
                let mut guard = balance.lock(); // released on drop, even on unwinding
                let new_balance = *guard + 1;
                greenlet::sleep(Duration::from_millis(10)); // others wait for the lock
                *guard = new_balance;
            })
        })
        .collect();
    greenlet::joinall(depositors);
    *balance.lock()
}

/// The same code without the lock.
fn without_lock() -> u32 {
    let balance = Rc::new(Cell::new(0u32));
    let depositors: Vec<_> = (0..100)
        .map(|_| {
            let balance = balance.clone();
            greenlet::spawn(move || {
                let new_balance = balance.get() + 1; // every greenlet reads 0 here...
                greenlet::sleep(Duration::from_millis(10)); // ...because this switches
                balance.set(new_balance); // and each writes back 1
            })
        })
        .collect();
    greenlet::joinall(depositors);
    balance.get()
}

fn main() {
    println!("账户余额为: ￥{}元 (with the Mutex)", with_lock());
    println!(
        "账户余额为: ￥{}元 (without it: all 100 read the balance before any wrote it back)",
        without_lock()
    );
}
