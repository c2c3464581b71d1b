//! The black-box tests: the `pinpipe` binary started as a user would start it (through
//! [`support::Pinpipe`] and [`support::pinpipe`]), spoken to over HTTP, SQL and files. One test
//! binary, one module per area; a new area is a new file here and one `mod` line below.
//!
//! Run one area: `cargo test -p pinpipe --test blackbox ingest_api::`.

mod support;

mod airflow;
mod ballista;
mod batch;
mod batch_stores;
mod cli;
mod dashboard;
mod emulate;
mod emulate_sources;
mod faults;
mod golden;
mod ingest_api;
mod ingest_malformed;
mod observe;
mod schedule;
mod stream;
mod stream_faults;
mod top;
