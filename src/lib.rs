//! # calibra
//!
//! Calibrated evaluation of single-cell perturbation-response models (Miller et al. 2025,
//! Mejia et al. 2025): DEG-weighted and rank metrics, positive and negative control baselines,
//! and the Dynamic Range Fraction, computed from streamed sufficient statistics so memory is
//! O(perturbations × genes). The same core runs natively (CLI, library) and in the browser
//! (WebAssembly).
//!
//! Layers, each depending only on those before it:
//! [`io`] → [`stats`] → [`de`] → [`baselines`] → [`metrics`] → [`calibration`] /
//! [`significance`] → [`report`]; [`pipeline`] wires them into an [`evaluation`] (plain
//! results, which `report` reads) under the [`options`] table; adapters (`cli`, `wasm`) sit on
//! top.

pub mod baselines;
pub mod budget;
pub mod calibration;
#[cfg(feature = "cli")]
pub mod cli;
pub mod data;
pub mod de;
pub mod design;
pub mod error;
pub mod evaluation;
pub mod io;
pub mod metrics;
pub mod options;
pub mod pipeline;
pub mod report;
pub mod significance;
pub mod simulate;
pub mod stats;
pub mod sweep;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
pub mod weights;

pub use data::{Dataset, GroupStats, Half, ModelPredictions};
pub use error::{Error, Location, Result};
