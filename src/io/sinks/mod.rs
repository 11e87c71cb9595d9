//! Sinks: what the ingest driver's batches are kept as ([`crate::io::ingest::BatchSink`]).
//!
//! One module per kind of summary, so that a new one (a seeded cell sampler, a per-gene
//! histogram) is a new module here and a line where a reader lists its sinks:
//! - [`moments`]: count, Σx and Σx² per (group, gene), gene-major — the observed cells;
//! - [`profiles`]: Σx per (group, gene), group-major, divided into means — the predictions.

pub mod moments;
pub mod profiles;
pub mod samples;

pub use moments::Accumulator;
pub use profiles::ProfileSums;
pub use samples::{CellSampler, GroupSample};
