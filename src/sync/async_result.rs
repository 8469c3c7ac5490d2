//! `AsyncResult`: placeholder, being written.
#![allow(dead_code, missing_docs, missing_debug_implementations)]
pub struct AsyncResult<T>(std::marker::PhantomData<T>);
pub struct AlreadySet;
