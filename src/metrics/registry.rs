//! The registry of the 13 calibrated metrics (SPEC §6): name, direction, perfect value, and
//! which baseline is the null / DRF negative control. DRF and the statistics read this table
//! instead of special-casing names.

/// Whether larger or smaller values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Direction {
    /// Larger is better (Pearson, R², NIR).
    HigherBetter,
    /// Smaller is better (MSE, WMSE).
    LowerBetter,
}

/// A calibrated metric's fixed properties.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSpec {
    /// The SPEC name, as written in `metrics.csv`.
    pub name: &'static str,
    /// Which direction is better.
    pub direction: Direction,
    /// The value of a perfect prediction (0 for errors, 1 for correlations / R² / NIR).
    pub perfect: f64,
}

impl MetricSpec {
    /// True for the five Δpert metrics (their name contains `deltapert`).
    pub fn is_deltapert(&self) -> bool {
        self.name.contains("deltapert")
    }

    /// The null model of §8 and the negative control of `drf_mean` / `drf_interpolated` (§7):
    /// `control_mean` for Δpert metrics, else `dataset_mean`.
    pub fn null_baseline(&self) -> &'static str {
        if self.is_deltapert() {
            "control_mean"
        } else {
            "dataset_mean"
        }
    }

    /// True if larger values are better.
    pub fn higher_is_better(&self) -> bool {
        self.direction == Direction::HigherBetter
    }
}

const fn higher(name: &'static str) -> MetricSpec {
    MetricSpec {
        name,
        direction: Direction::HigherBetter,
        perfect: 1.0,
    }
}

const fn lower(name: &'static str) -> MetricSpec {
    MetricSpec {
        name,
        direction: Direction::LowerBetter,
        perfect: 0.0,
    }
}

/// The 13 metrics in output order (SPEC §6 table).
pub const METRICS: [MetricSpec; 13] = [
    lower("mse"),
    lower("wmse"),
    higher("pearson_deltactrl"),
    higher("pearson_deltactrl_degs"),
    higher("r2_deltactrl"),
    higher("r2_deltactrl_degs"),
    higher("weighted_r2_deltactrl"),
    higher("pearson_deltapert"),
    higher("pearson_deltapert_degs"),
    higher("r2_deltapert"),
    higher("r2_deltapert_degs"),
    higher("weighted_r2_deltapert"),
    higher("nir"),
];

/// Position of a metric in [`METRICS`] by name.
pub fn metric_index(name: &str) -> Option<usize> {
    METRICS.iter().position(|m| m.name == name)
}

/// Baseline names in output order (SPEC §5).
pub const BASELINES: [&str; 6] = [
    "control_mean",
    "dataset_mean",
    "technical_duplicate",
    "interpolated_duplicate",
    "linear",
    "additive",
];

/// Name of the GT-half mean rows in `baselines.parquet`; reserved like the baselines.
pub const GROUND_TRUTH: &str = "ground_truth";
