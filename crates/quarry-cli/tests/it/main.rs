//! Integration tests of the `quarry` binary: real processes, real cases on disk.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod classify;
mod common;
mod corpus;
mod email;
mod exports;
mod ingest;
mod isolation;
mod learn;
mod limits;
mod rar;
mod review;
mod search;
mod verify;
