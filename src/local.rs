//! Greenlet-local storage: `greenlet_local!`, the greenlet counterpart of
//! `thread_local!` (Python's `threading.local` under gevent).

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use crate::hub::with_locals;

/// Declares greenlet-local statics: each greenlet (and the main context)
/// sees its own value, made by the initialiser on first use and dropped
/// when that greenlet ends.
///
/// The syntax is `thread_local!`'s; each static is a [`GreenletLocal`].
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
///
/// greenlet::greenlet_local! {
///     static STUDENT: RefCell<String> = RefCell::new(String::new());
/// }
///
/// let alice = greenlet::spawn(|| {
///     STUDENT.with(|s| s.borrow_mut().push_str("Alice"));
///     greenlet::yield_now(); // Bob runs meanwhile, with his own value
///     STUDENT.with(|s| s.borrow().clone())
/// });
/// let bob = greenlet::spawn(|| {
///     STUDENT.with(|s| s.borrow_mut().push_str("Bob"));
///     STUDENT.with(|s| s.borrow().clone())
/// });
/// assert_eq!(alice.join().unwrap(), "Alice");
/// assert_eq!(bob.join().unwrap(), "Bob");
/// assert_eq!(STUDENT.with(|s| s.borrow().clone()), ""); // the main context's own
/// ```
#[macro_export]
macro_rules! greenlet_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::GreenletLocal<$t> = $crate::GreenletLocal::new({
            fn init() -> $t {
                $init
            }
            init
        });
        $crate::greenlet_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::greenlet_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}

/// A greenlet-local value, declared with [`greenlet_local!`].
///
/// # Implementation notes
///
/// Each greenlet keeps a small map from each static's address to its value.
/// Values are reference-counted, so [`with`](Self::with) may nest, also on
/// the same key.
///
/// # When values are dropped
///
/// - A greenlet's values are dropped by the greenlet itself right after its
///   body ends, the last made first, like `thread_local!`'s at thread exit:
///   `current()` in their destructors names the greenlet, and a destructor
///   may block (a `BufWriter` over a green socket flushes) as the greenlet
///   would. A kill that ended the body is spent by then; a new kill
///   interrupts such a destructor. A destructor that panics is logged with
///   `log::error!` and the next value is still dropped.
/// - The main context's values are dropped by the hub's teardown at thread
///   exit. After that teardown (in other thread-locals' destructors), values
///   are not kept: each access makes its value afresh and drops it after.
/// - A value made by another one's destructor is dropped too (up to four
///   rounds, as `PTHREAD_DESTRUCTOR_ITERATIONS`; what is left then is
///   leaked).
/// - A greenlet torn down at thread exit unwinds first, then its values are
///   dropped on the thread's own stack.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
///
/// greenlet::greenlet_local!(static COUNT: Cell<u32> = Cell::new(0));
///
/// COUNT.with(|c| c.set(c.get() + 1));
/// let inside = greenlet::spawn(|| COUNT.with(|c| c.get())).join().unwrap();
/// assert_eq!(inside, 0, "a new greenlet starts from the initialiser");
/// assert_eq!(COUNT.with(|c| c.get()), 1);
/// ```
pub struct GreenletLocal<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> GreenletLocal<T> {
    /// Used by [`greenlet_local!`]; not meant to be called directly.
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        GreenletLocal { init }
    }

    fn key(&'static self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The running context's value, made by the initialiser if it has none.
    fn get(&'static self) -> Rc<T> {
        let key = self.key();
        let found = with_locals(|cell| {
            let map = cell.take().unwrap_or_default();
            let found = map.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
            cell.set(Some(map));
            found
        });
        let value = match found {
            Some(value) => value,
            None => {
                // The initialiser runs with the map in place: it may use
                // other greenlet-locals.
                let value: Rc<dyn Any> = Rc::new((self.init)());
                self.store(value.clone());
                value
            }
        };
        value
            .downcast::<T>()
            .expect("a greenlet_local! key holds its own type")
    }

    /// Puts `value` under this key, returning what was there.
    fn store(&'static self, value: Rc<dyn Any>) -> Option<Rc<dyn Any>> {
        let key = self.key();
        with_locals(|cell| {
            let mut map = cell.take().unwrap_or_default();
            let old = match map.iter_mut().find(|(k, _)| *k == key) {
                Some((_, slot)) => Some(std::mem::replace(slot, value)),
                None => {
                    map.push((key, value));
                    None
                }
            };
            cell.set(Some(map));
            old
        })
    }

    /// Runs `f` with a reference to the running greenlet's value (made by
    /// the initialiser on first use). Use `Cell` or `RefCell` to change it.
    ///
    /// # Examples
    ///
    /// ```
    /// greenlet::greenlet_local!(static NAME: String = String::from("anonymous"));
    ///
    /// assert_eq!(NAME.with(|n| n.len()), 9);
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let value = self.get();
        f(&value)
    }

    /// Replaces the running greenlet's value with `value`, returning the
    /// old one (made by the initialiser if there was none).
    ///
    /// # Panics
    ///
    /// Panics if called inside a [`with`](Self::with) of the same key, which
    /// still borrows the old value.
    ///
    /// # Examples
    ///
    /// ```
    /// greenlet::greenlet_local!(static LEVEL: u8 = 1);
    ///
    /// assert_eq!(LEVEL.replace(5), 1);
    /// assert_eq!(LEVEL.with(|l| *l), 5);
    /// ```
    #[track_caller]
    pub fn replace(&'static self, value: T) -> T {
        let old = self.get();
        self.store(Rc::new(value));
        Rc::try_unwrap(old).unwrap_or_else(|_| {
            panic!("greenlet_local!: replace() or take() inside a with() of the same key")
        })
    }

    /// Sets the running greenlet's value, dropping the old one.
    ///
    /// # Panics
    ///
    /// As [`replace`](Self::replace).
    ///
    /// # Examples
    ///
    /// ```
    /// greenlet::greenlet_local!(static USER: Option<String> = None);
    ///
    /// USER.set(Some("Alice".into()));
    /// assert_eq!(USER.with(|u| u.clone()), Some("Alice".into()));
    /// ```
    #[track_caller]
    pub fn set(&'static self, value: T) {
        drop(self.replace(value));
    }

    /// Takes the running greenlet's value, leaving `T::default()`.
    ///
    /// # Panics
    ///
    /// As [`replace`](Self::replace).
    ///
    /// # Examples
    ///
    /// ```
    /// greenlet::greenlet_local!(static LOG: Vec<&'static str> = vec!["start"]);
    ///
    /// assert_eq!(LOG.take(), ["start"]);
    /// assert!(LOG.with(|l| l.is_empty()));
    /// ```
    #[track_caller]
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.replace(T::default())
    }
}

impl<T: 'static> fmt::Debug for GreenletLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenletLocal").finish_non_exhaustive()
    }
}
