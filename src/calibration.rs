//! The Dynamic Range Fraction (SPEC §7): per metric and evaluated perturbation, where a metric
//! places the positive control between the negative control (0) and perfect (1) — in three
//! versions, with censoring and a per-metric summary.

use crate::baselines::COLLAPSED_DUPLICATE;
use crate::error::{Error, Result};
use crate::metrics::{MetricInput, MetricSpec, MetricTable};
use crate::stats::descriptive::{mean, median, percentile_linear, std};

/// Added to DRF denominators (as published).
pub const DRF_EPS: f64 = 1e-6;

/// Fewer valid interpolated-duplicate values than this censor a metric's DRF.
pub const MIN_PERTURBATIONS_DRF: usize = 10;

/// The three DRF versions, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DrfType {
    /// Positive: technical duplicate; negative: the metric's null (dataset or control mean).
    Mean,
    /// Positive: technical duplicate; negative: control mean.
    Ctrl,
    /// Positive: interpolated duplicate; negative: the metric's null. The headline number.
    Interpolated,
    /// Cell-level metrics only (SPEC §12.3): positive: technical duplicate (the TD-half
    /// cells); negative: the collapsed duplicate (the TD mean repeated, mode collapse) — can
    /// the metric see the distribution beyond the mean?
    Collapsed,
}

impl DrfType {
    /// The versions of every metric, in output order.
    pub const ALL: [DrfType; 3] = [DrfType::Mean, DrfType::Ctrl, DrfType::Interpolated];

    /// The versions of a metric in a table (`drf_collapsed` for cell-level metrics when the
    /// table has the collapsed duplicate).
    pub fn of(spec: &MetricSpec, table: &MetricTable) -> Vec<DrfType> {
        let mut out = Self::ALL.to_vec();
        if spec.input == MetricInput::Cells && table.model_index(COLLAPSED_DUPLICATE).is_some() {
            out.push(DrfType::Collapsed);
        }
        out
    }

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            DrfType::Mean => "drf_mean",
            DrfType::Ctrl => "drf_ctrl",
            DrfType::Interpolated => "drf_interpolated",
            DrfType::Collapsed => "drf_collapsed",
        }
    }

    /// Negative-control baseline for a metric.
    pub fn negative(self, spec: &MetricSpec) -> &'static str {
        match self {
            DrfType::Ctrl => "control_mean",
            DrfType::Collapsed => COLLAPSED_DUPLICATE,
            _ => spec.null_baseline(),
        }
    }

    /// Positive-control baseline.
    pub fn positive(self) -> &'static str {
        match self {
            DrfType::Interpolated => "interpolated_duplicate",
            _ => "technical_duplicate",
        }
    }
}

/// One row of `drf.csv`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DrfRow {
    /// Metric name.
    pub metric: &'static str,
    /// DRF version.
    pub drf_type: DrfType,
    /// Evaluated perturbation.
    pub perturbation: String,
    /// DRF in [−1, 1], or NaN.
    pub value: f64,
}

/// One row of `drf_summary.csv`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DrfSummaryRow {
    /// Metric name.
    pub metric: &'static str,
    /// DRF version.
    pub drf_type: DrfType,
    /// Negative-control baseline.
    pub negative_control: &'static str,
    /// Positive-control baseline.
    pub positive_control: &'static str,
    /// Perturbations with a non-NaN DRF.
    pub n_perturbations: usize,
    /// Non-NaN interpolated-duplicate values of the metric (censoring count).
    pub n_valid_interpolated: usize,
    /// Fewer than the minimum valid interpolated values: every DRF of the metric is NaN.
    pub censored: bool,
    /// Mean DRF (the headline).
    pub mean_drf: f64,
    /// Median DRF.
    pub median_drf: f64,
    /// 25th percentile (linear).
    pub q25_drf: f64,
    /// 75th percentile (linear).
    pub q75_drf: f64,
    /// Standard deviation (ddof 0).
    pub std_drf: f64,
    /// Mean negative-control value over the same perturbations.
    pub baseline: f64,
    /// Mean technical-duplicate value over the same perturbations.
    pub tech_duplicate: f64,
}

impl DrfSummaryRow {
    /// The one rule for "this metric can be trusted on this dataset": its headline DRF
    /// (`drf_interpolated`) is not censored and its mean is positive — the positive control
    /// beats the null on this metric.
    pub fn trusted(&self) -> bool {
        self.drf_type == DrfType::Interpolated && !self.censored && self.mean_drf > 0.0
    }
}

/// DRF rows and summary.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    /// `drf.csv` rows: metric × version × evaluated perturbation.
    pub rows: Vec<DrfRow>,
    /// `drf_summary.csv` rows: metric × version.
    pub summary: Vec<DrfSummaryRow>,
}

impl Calibration {
    /// The metrics that can be trusted on this dataset ([`DrfSummaryRow::trusted`]), in table
    /// order.
    pub fn trusted_metrics(&self) -> Vec<&'static str> {
        self.summary
            .iter()
            .filter(|r| r.trusted())
            .map(|r| r.metric)
            .collect()
    }
}

/// Options for [`calibrate`].
#[derive(Debug, Clone, Copy)]
pub struct CalibrationOptions {
    /// Censoring threshold ([`MIN_PERTURBATIONS_DRF`]; 0 disables censoring).
    pub min_perturbations: usize,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        CalibrationOptions {
            min_perturbations: MIN_PERTURBATIONS_DRF,
        }
    }
}

/// DRF of one value: higher-better (pos − neg)/((perfect − neg) + ε), lower-better
/// (neg − pos)/(neg + ε), clipped to [−1, 1]; NaN when neg is NaN or the metric is
/// descriptive. A metric without a perfect value (NaN: unbounded, or an unbiased estimate
/// that can cross its ideal) measures the gain relative to the negative control's size,
/// ±(pos − neg)/(|neg| + ε), as cell-eval2 scores its anchorless metrics. A negative control
/// better than perfect is an error.
pub fn drf_value(neg: f64, pos: f64, spec: &MetricSpec) -> Result<f64> {
    if neg.is_nan() || spec.is_descriptive() {
        return Ok(f64::NAN);
    }
    let gain = if spec.higher_is_better() {
        pos - neg
    } else {
        neg - pos
    };
    if spec.perfect.is_nan() {
        return Ok((gain / (neg.abs() + DRF_EPS)).clamp(-1.0, 1.0));
    }
    let beyond_perfect = if spec.higher_is_better() {
        neg > spec.perfect
    } else {
        neg < spec.perfect
    };
    if beyond_perfect {
        return Err(Error::Numerical(format!(
            "negative control better than perfect for {}: {neg}",
            spec.name
        )));
    }
    let v = if spec.higher_is_better() {
        gain / ((spec.perfect - neg) + DRF_EPS)
    } else {
        gain / (neg + DRF_EPS)
    };
    Ok(v.clamp(-1.0, 1.0))
}

/// Computes every DRF and its summary from the metric table (SPEC §7).
pub fn calibrate(table: &MetricTable, opts: &CalibrationOptions) -> Result<Calibration> {
    let n_p = table.perturbations.len();
    let column = |model: &str, k: usize| -> Vec<f64> {
        match table.model_index(model) {
            Some(m) => (0..n_p).map(|p| table.values[[m, k, p]]).collect(),
            None => vec![f64::NAN; n_p],
        }
    };
    let mut out = Calibration::default();
    for (k, spec) in table.specs.iter().enumerate() {
        let interp = column("interpolated_duplicate", k);
        let n_valid = interp.iter().filter(|x| !x.is_nan()).count();
        let censored = n_valid < opts.min_perturbations;
        let get = |model: &str| {
            if censored {
                vec![f64::NAN; n_p]
            } else {
                column(model, k)
            }
        };
        let td = get("technical_duplicate");
        let ip = get("interpolated_duplicate");
        for drf_type in DrfType::of(spec, table) {
            let neg = get(drf_type.negative(spec));
            let pos = if drf_type == DrfType::Interpolated {
                &ip
            } else {
                &td
            };
            let mut values = Vec::with_capacity(n_p);
            for p in 0..n_p {
                let v = if td[p].is_nan() || pos[p].is_nan() {
                    f64::NAN
                } else {
                    drf_value(neg[p], pos[p], spec)?
                };
                values.push(v);
                out.rows.push(DrfRow {
                    metric: spec.name,
                    drf_type,
                    perturbation: table.perturbations[p].clone(),
                    value: v,
                });
            }
            let keys: Vec<usize> = (0..n_p).filter(|&p| !values[p].is_nan()).collect();
            let vals: Vec<f64> = keys.iter().map(|&p| values[p]).collect();
            let over = |x: &[f64]| mean(&keys.iter().map(|&p| x[p]).collect::<Vec<_>>());
            out.summary.push(DrfSummaryRow {
                metric: spec.name,
                drf_type,
                negative_control: drf_type.negative(spec),
                positive_control: drf_type.positive(),
                n_perturbations: vals.len(),
                n_valid_interpolated: n_valid,
                censored,
                mean_drf: mean(&vals),
                median_drf: median(&vals),
                q25_drf: percentile_linear(&vals, 25.0),
                q75_drf: percentile_linear(&vals, 75.0),
                std_drf: if vals.is_empty() {
                    f64::NAN
                } else {
                    std(&vals, 0)
                },
                baseline: over(&neg),
                tech_duplicate: over(&td),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::metric_spec;

    #[test]
    fn collapsed_drf_only_for_cell_level_metrics_with_the_collapsed_duplicate() {
        let specs = vec![metric_spec("mse").unwrap(), metric_spec("mmd_raw").unwrap()];
        let models = [
            "control_mean",
            "dataset_mean",
            "technical_duplicate",
            "interpolated_duplicate",
            COLLAPSED_DUPLICATE,
        ];
        let n_p = 12;
        // mse: TD 0.1, others 1; mmd: TD 0.1, collapsed 0.6, others 1.
        let values = ndarray::Array3::from_shape_fn((models.len(), 2, n_p), |(m, k, _)| {
            match (models[m], k) {
                ("technical_duplicate" | "interpolated_duplicate", _) => 0.1,
                (COLLAPSED_DUPLICATE, 1) => 0.6,
                _ => 1.0,
            }
        });
        let table = MetricTable {
            specs,
            models: models.iter().map(|m| m.to_string()).collect(),
            perturbations: (0..n_p).map(|p| format!("p{p}")).collect(),
            values,
            covered: ndarray::Array2::from_elem((models.len(), n_p), true),
        };
        let cal = calibrate(&table, &CalibrationOptions::default()).unwrap();
        let kinds = |metric: &str| -> Vec<&str> {
            cal.summary
                .iter()
                .filter(|r| r.metric == metric)
                .map(|r| r.drf_type.as_str())
                .collect()
        };
        assert_eq!(kinds("mse"), ["drf_mean", "drf_ctrl", "drf_interpolated"]);
        assert_eq!(
            kinds("mmd_raw"),
            ["drf_mean", "drf_ctrl", "drf_interpolated", "drf_collapsed"]
        );
        let row = cal
            .summary
            .iter()
            .find(|r| r.drf_type == DrfType::Collapsed)
            .unwrap();
        assert_eq!(row.negative_control, COLLAPSED_DUPLICATE);
        // (0.6 − 0.1)/(0.6 + ε).
        assert!((row.mean_drf - 0.5 / (0.6 + DRF_EPS)).abs() < 1e-12);
    }

    #[test]
    fn spec_worked_examples() {
        // SPEC §10.
        let higher = metric_spec("pearson_deltactrl").unwrap();
        let lower = metric_spec("mse").unwrap();
        assert!((drf_value(0.2, 0.8, higher).unwrap() - 0.74999906).abs() < 1e-8);
        assert!((drf_value(0.5, 0.1, lower).unwrap() - 0.79999840).abs() < 1e-8);
        assert_eq!(drf_value(0.9, -0.5, higher).unwrap(), -1.0);
        assert!(drf_value(f64::NAN, 0.5, higher).unwrap().is_nan());
        assert!(drf_value(1.5, 0.5, higher).is_err());
        assert!(drf_value(-0.1, 0.5, lower).is_err());
    }
}
