//! `Group` and `Pool`: greenlets joined and killed together, gevent's
//! `gevent.pool.Group` and `gevent.pool.Pool`.
//!
//! # Examples
//!
//! ```
//! use greenlet::pool::Pool;
//!
//! // At most two at once; results in the inputs' order.
//! let pool = Pool::new(2);
//! let lengths = pool.map(|word: &str| word.len(), ["one", "three", "five"]);
//! assert_eq!(lengths, [3, 5, 4]);
//! ```
//!
//! # Implementation notes
//!
//! Each member is one greenlet. The caller gets its [`Greenlet`](crate::Greenlet) handle; the
//! group keeps a crate-internal, type-erased handle to the same greenlet, so
//! it can kill it and wait for it without taking the caller's. Guards
//! captured by the member's closure take it out of the group (and give back
//! its [`Pool`] slot) however it ends: returning, panicking, killed, or
//! killed before it starts (the hub then drops the closure unrun). A member
//! counts in [`Group::len`], and against a pool's size, until then.
//! [`Group::add`] tracks a greenlet spawned elsewhere through the same
//! handle and a small watcher greenlet.

mod bounded;
mod group;
mod imap;
mod map;
mod member;

pub use bounded::Pool;
pub use group::Group;
pub use imap::ImapUnordered;
