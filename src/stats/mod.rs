//! Statistical building blocks: distributions, multiple testing, the paired t-test, numpy's
//! MT19937 bootstrap, and numpy-compatible descriptive statistics.

pub mod bootstrap;
pub mod descriptive;
pub mod distributions;
pub mod multitest;
pub mod paired;
