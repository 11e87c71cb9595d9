//! Statistical building blocks: distributions, multiple testing, the paired t-test, numpy's
//! MT19937 bootstrap, numpy-compatible descriptive statistics, and a small deterministic
//! uniform stream.

pub mod bootstrap;
pub mod descriptive;
pub mod distributions;
pub mod expm1f;
pub mod lcg;
pub mod multitest;
pub mod paired;
