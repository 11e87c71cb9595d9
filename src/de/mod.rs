//! Differentially expressed genes (SPEC §3) and the weights / DEG masks built from them (§4).
//!
//! The test is scanpy's `t-test_overestim_var` against the rest, computed from sufficient
//! statistics (no second pass over cells).

pub mod mannwhitney;
pub mod ttest;
pub mod weights;

pub use mannwhitney::{
    mann_whitney_u, pdex_ref, MannWhitney, PdexGroup, PdexOptions, PdexReference, PdexTable,
    SortedControls,
};
pub use ttest::{
    deg_half, deg_half_rows, ttest_overestim_var, DegDetail, DegHalf, CALLS_T_BOUND, MIN_CELLS_DEG,
};
pub use weights::{deg_mask, deg_mask_top_k, deg_weights, PADJ_THRESHOLD};

/// DEG results for both halves.
#[derive(Debug, Clone)]
pub struct DegResults {
    /// Ground-truth half: weights and masks come from here.
    pub gt: DegHalf,
    /// Technical-duplicate half: the interpolated duplicate's α comes from here.
    pub td: DegHalf,
}
