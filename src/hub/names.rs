//! Names given to objects that contexts wait on (`Event::named`), for
//! `run_info` and the deadlock report: a thread-local map from an object's
//! address (as a [`WaitReason`](super::wait::WaitReason) records it) to its
//! name. Unnamed objects cost nothing: the map is only read to describe a
//! wait, and only named objects are in it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::rc::Rc;

thread_local! {
    // `ManuallyDrop`: no TLS destructor to order against the hub's teardown;
    // an object unregisters itself when it is dropped.
    static NAMES: ManuallyDrop<RefCell<HashMap<usize, Rc<str>>>> =
        ManuallyDrop::new(RefCell::new(HashMap::new()));
}

/// The name of an object, registered while this value lives: the object
/// keeps it beside the part of it whose address its waits record (that
/// address must not change meanwhile: it lives in an `Rc`).
pub(crate) struct ObjectName {
    address: usize,
    name: Rc<str>,
}

impl ObjectName {
    /// Names the object whose waits record `address`.
    pub(crate) fn new<T: ?Sized>(address: *const T, name: &str) -> ObjectName {
        let name: Rc<str> = Rc::from(name);
        let address = key(address);
        let _ = NAMES.try_with(|names| names.borrow_mut().insert(address, name.clone()));
        ObjectName { address, name }
    }

    /// The name.
    pub(crate) fn get(&self) -> &str {
        &self.name
    }
}

impl Drop for ObjectName {
    fn drop(&mut self) {
        let _ = NAMES.try_with(|names| names.borrow_mut().remove(&self.address));
    }
}

/// The name of the object at `address`, if it was given one.
pub(crate) fn name_of(address: usize) -> Option<Rc<str>> {
    NAMES
        .try_with(|names| names.borrow().get(&address).cloned())
        .ok()
        .flatten()
}

fn key<T: ?Sized>(address: *const T) -> usize {
    address.cast::<()>() as usize
}
