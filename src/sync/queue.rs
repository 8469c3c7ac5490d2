//! `Queue`: placeholder, being written.
#![allow(dead_code, missing_docs, missing_debug_implementations)]
pub struct Queue<T>(std::marker::PhantomData<T>);
pub enum PutError<T> { Full(T), Closed(T), TimedOut(T) }
pub enum GetError { Empty, Closed, TimedOut }
pub struct Iter<T>(std::marker::PhantomData<T>);
