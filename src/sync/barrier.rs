//! `Barrier`: placeholder, being written.
#![allow(dead_code, missing_docs, missing_debug_implementations)]
pub struct Barrier;
pub struct BarrierWaitResult;
