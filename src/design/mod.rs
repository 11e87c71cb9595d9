//! Evaluation design (SPEC §2): which cells form each perturbation's ground-truth and
//! technical-duplicate halves, which fold tests each perturbation, which label is the control,
//! and how a file's labels become per-context datasets.
//!
//! This is policy, not file reading: [`crate::io`] reads labels and sums and asks this module
//! what to do with them, so that a change of design (another split, another control rule) is
//! made here and nowhere in the readers.

pub mod contexts;
pub mod control;
pub mod splits;
pub mod tasks;
pub mod user_split;

pub use contexts::{context_control, context_dataset, context_folds};
pub use control::{choose_control, DEFAULT_CONTROL_LABELS};
pub use splits::{assign_folds, assign_halves};
pub use tasks::{make_split, split_csv, LabelsByContext, Task, TaskOptions};
pub use user_split::{Split, SplitTable, FOLD_TEST};

/// Default seed of the halves and folds calibra assigns when the file has none (SPEC §2).
pub const DEFAULT_SEED: u64 = 42;
