//! `Mutex`: placeholder, being written.
#![allow(dead_code, missing_docs, missing_debug_implementations)]
pub struct Mutex<T>(std::marker::PhantomData<T>);
pub struct MutexGuard<'a, T>(&'a Mutex<T>);
