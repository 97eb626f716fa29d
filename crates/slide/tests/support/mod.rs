//! The shared test kit, plus what only this crate's tests use.

#![allow(dead_code, unused_imports)]

pub mod counting;

pub use kh_testkit::*;
