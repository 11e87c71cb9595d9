//! What a metric *is*, declared once beside its code: [`MetricSpec`].
//!
//! Everything downstream — the summary (§6.2), DRF (§7), the model-vs-null statistics (§8), the
//! report, the text summary and the page (which receives the specs from WASM) — reads a metric's
//! direction, perfect value and null model from its spec, never from its name.

/// Whether larger or smaller values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Larger is better (Pearson, R², NIR).
    HigherBetter,
    /// Smaller is better (MSE, WMSE).
    LowerBetter,
    /// Neither: a description of the prediction (cell-eval's counts of significant genes),
    /// reported but never calibrated or tested (DRF and the tests of §8 are NaN).
    Descriptive,
}

impl Direction {
    /// The perfect value of a score going this way: 1 (correlations, R², overlaps) or 0
    /// (errors, distances); NaN for a descriptive value.
    pub const fn usual_perfect(self) -> f64 {
        match self {
            Direction::HigherBetter => 1.0,
            Direction::LowerBetter => 0.0,
            Direction::Descriptive => f64::NAN,
        }
    }
}

/// The trivial model a metric's values are judged against: the null of §8 and the negative
/// control of `drf_mean` / `drf_interpolated` (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NullModel {
    /// The mean of all control cells (the null of the Δpert metrics, which subtract the
    /// dataset mean from both sides and so cannot judge it).
    ControlMean,
    /// The dataset mean of the perturbation's test fold.
    DatasetMean,
}

impl NullModel {
    /// The baseline model whose values are the null.
    pub fn baseline(self) -> &'static str {
        match self {
            NullModel::ControlMean => "control_mean",
            NullModel::DatasetMean => "dataset_mean",
        }
    }
}

/// What a metric needs besides a model's predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricInput {
    /// One predicted and one observed mean profile per perturbation (and the reference
    /// profiles: control mean, dataset mean).
    Profiles,
    /// Profiles and the perturbation's DEG weights (SPEC §4).
    DegWeights,
    /// Profiles restricted to the perturbation's DEG set (SPEC §4).
    DegSet,
    /// Every perturbation's profiles at once (a rank among perturbations).
    AllProfiles,
    /// Samples of cells (cell-level, distributional metrics).
    Cells,
}

/// A metric's fixed properties: one declaration, read by every consumer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MetricSpec {
    /// The SPEC name, as written in `metrics.csv`; unique across families.
    pub name: &'static str,
    /// One line saying what it measures.
    pub doc: &'static str,
    /// The family that computes it ([`super::family::MetricFamily::name`]).
    pub family: &'static str,
    /// Which direction is better.
    pub direction: Direction,
    /// The value of a perfect prediction (0 for errors, 1 for correlations / R² / NIR); NaN
    /// when there is none (an unbounded score, or an unbiased estimate that can cross it).
    pub perfect: f64,
    /// The null model (§8) and negative control (§7).
    pub null: NullModel,
    /// What it needs as input.
    pub input: MetricInput,
}

impl MetricSpec {
    /// A score of `family` judged against the dataset mean, perfect at its direction's usual
    /// value (1 or 0): how the peer families declare their metrics.
    pub const fn against_dataset_mean(
        name: &'static str,
        doc: &'static str,
        family: &'static str,
        direction: Direction,
        input: MetricInput,
    ) -> MetricSpec {
        MetricSpec {
            name,
            doc,
            family,
            direction,
            perfect: direction.usual_perfect(),
            null: NullModel::DatasetMean,
            input,
        }
    }

    /// [`Self::against_dataset_mean`] without a perfect value: an unbounded score, or an
    /// estimate that can cross its ideal (DRF then measures the gain relative to the negative
    /// control, see [`crate::calibration::drf_value`]).
    pub const fn open(self) -> MetricSpec {
        MetricSpec {
            perfect: f64::NAN,
            ..self
        }
    }

    /// True if larger values are better.
    pub fn higher_is_better(&self) -> bool {
        self.direction == Direction::HigherBetter
    }

    /// True if no direction is better ([`Direction::Descriptive`]).
    pub fn is_descriptive(&self) -> bool {
        self.direction == Direction::Descriptive
    }

    /// +1 if larger is better, −1 if smaller is, NaN for a descriptive metric: multiplied
    /// into a value, larger is better.
    pub fn orientation(&self) -> f64 {
        match self.direction {
            Direction::HigherBetter => 1.0,
            Direction::LowerBetter => -1.0,
            Direction::Descriptive => f64::NAN,
        }
    }

    /// The null baseline's model name (§8), the negative control of §7's `drf_mean` and
    /// `drf_interpolated`.
    pub fn null_baseline(&self) -> &'static str {
        self.null.baseline()
    }
}
