//! The in-silico sweep of "Diversity by Design" (Mejia et al. 2025; SPEC §12.7): simulate a grid
//! of datasets over the simulator's knobs — control bias, DEG fraction, effect size, cells per
//! perturbation — and evaluate on each the mean baseline, the control baseline, the technical
//! duplicate and a genuine predictor (the truth plus noise of a set size) on the calibrated
//! metrics, with each metric's DRF. The table shows where the mean baseline wins (MSE,
//! Pearson(Δctrl) under a strong control bias) and where it does not (WMSE, R²_w(Δpert)).
//!
//! Deterministic: every point is simulated with the same seed, so two points differ only by
//! their knobs; points are evaluated in parallel and returned in grid order.

use crate::calibration::DrfType;
use crate::error::{Error, Result};
use crate::pipeline::{evaluate, EvaluateOptions, Inputs};
use crate::report::{Column, Table};
use crate::simulate::{simulate, SimConfig};
use rayon::prelude::*;

/// The model of the simulator's output that the sweep calls the genuine predictor
/// ([`SimConfig::genuine_sd`]).
const SIMULATED_GENUINE: &str = "genuine";

/// The models compared at every point, in output order: (name in the sweep table, model or
/// baseline of the evaluation).
pub const SWEEP_MODELS: [(&str, &str); 4] = [
    ("mean_baseline", "dataset_mean"),
    ("control_baseline", "control_mean"),
    ("technical_duplicate", "technical_duplicate"),
    ("genuine_predictor", SIMULATED_GENUINE),
];

/// One point of the grid: the knobs that vary; everything else is the base configuration.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepPoint {
    /// SD of the control bias shared by all perturbed cells (natural-log fold change), on the
    /// base configuration's fraction of genes.
    pub control_bias: f64,
    /// Multiplies the fraction of genes each perturbation affects (1: the simulator's classes).
    pub deg_fraction: f64,
    /// Multiplies every |log fold change|.
    pub effect_size: f64,
    /// Cells of every perturbation.
    pub cells_per_perturbation: usize,
}

impl SweepPoint {
    /// The simulator's configuration at this point.
    pub fn config(&self, base: &SimConfig) -> SimConfig {
        SimConfig {
            control_bias_sd: self.control_bias,
            deg_frac_scale: self.deg_fraction,
            effect_scale: self.effect_size,
            cells_min: self.cells_per_perturbation,
            cells_max: self.cells_per_perturbation,
            ..base.clone()
        }
    }
}

/// The values each knob takes; the grid is their Cartesian product.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepGrid {
    /// [`SweepPoint::control_bias`] values.
    pub control_bias: Vec<f64>,
    /// [`SweepPoint::deg_fraction`] values.
    pub deg_fraction: Vec<f64>,
    /// [`SweepPoint::effect_size`] values.
    pub effect_size: Vec<f64>,
    /// [`SweepPoint::cells_per_perturbation`] values.
    pub cells_per_perturbation: Vec<usize>,
}

impl Default for SweepGrid {
    /// The paper's regime: from no control bias to one larger than most perturbations'
    /// effects, DEG sets from sparse to the simulator's own, two effect sizes and two depths.
    fn default() -> Self {
        SweepGrid {
            control_bias: vec![0.0, 0.25, 0.5, 1.0],
            deg_fraction: vec![0.1, 0.3, 1.0],
            effect_size: vec![0.5, 1.0],
            cells_per_perturbation: vec![20, 60],
        }
    }
}

impl SweepGrid {
    /// Every point, the last knob varying fastest.
    pub fn points(&self) -> Vec<SweepPoint> {
        let mut points = Vec::new();
        for &control_bias in &self.control_bias {
            for &deg_fraction in &self.deg_fraction {
                for &effect_size in &self.effect_size {
                    for &cells_per_perturbation in &self.cells_per_perturbation {
                        points.push(SweepPoint {
                            control_bias,
                            deg_fraction,
                            effect_size,
                            cells_per_perturbation,
                        });
                    }
                }
            }
        }
        points
    }
}

/// SD of the genuine predictor's noise on every gene (natural-log scale).
pub const GENUINE_SD: f64 = 0.2;

/// The base configuration of a sweep: the example's simulator on 500 genes and 40 singles, so
/// a point evaluates in a fraction of a second (the explainer page re-runs one per slider move).
pub fn base_config() -> SimConfig {
    SimConfig {
        n_genes: 500,
        n_singles: 40,
        n_controls: 300,
        genuine_sd: Some(GENUINE_SD),
        ..SimConfig::example()
    }
}

/// One metric's outcome at one point: each compared model's mean over perturbations and the
/// metric's DRF.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MetricOutcome {
    /// The metric (SPEC §6 name).
    pub metric: &'static str,
    /// Larger values are better.
    pub higher_is_better: bool,
    /// Mean over perturbations of each of [`SWEEP_MODELS`], in that order.
    pub means: [f64; 4],
    /// Rank of each model among the four by its mean (1 = best; NaN means rank last).
    pub ranks: [usize; 4],
    /// `drf_interpolated`, mean over perturbations (NaN when censored).
    pub drf: f64,
}

/// Everything the sweep keeps of one point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PointResult {
    /// The knobs.
    pub point: SweepPoint,
    /// Mean number of genes a perturbation's effect touches (the design's, bias excluded).
    pub mean_affected_genes: f64,
    /// One outcome per calibrated metric, in output order.
    pub metrics: Vec<MetricOutcome>,
}

/// Simulates and evaluates one point.
pub fn evaluate_point(base: &SimConfig, point: &SweepPoint) -> Result<PointResult> {
    let cfg = point.config(base);
    let sim = simulate(&cfg);
    let inputs = Inputs::simulated(&sim, "sweep")?;
    let options = EvaluateOptions {
        per_gene_tables: false,
        // The sweep reads means and DRFs, not the paired statistics' confidence intervals.
        n_resamples: 100,
        ..EvaluateOptions::default()
    };
    let evaluation = evaluate(inputs, &options, &mut |_, _| {})?;
    let context = evaluation
        .contexts
        .first()
        .ok_or_else(|| Error::Numerical("the simulated dataset has no context".into()))?;
    let mean_of = |model: &str, metric: &str| {
        context
            .summary
            .iter()
            .find(|r| r.model == model && r.metric == metric)
            .map_or(f64::NAN, |r| r.mean)
    };
    let metrics = context
        .table
        .specs
        .iter()
        .map(|spec| {
            let means = SWEEP_MODELS.map(|(_, model)| mean_of(model, spec.name));
            let drf = context
                .calibration
                .summary
                .iter()
                .find(|r| r.metric == spec.name && r.drf_type == DrfType::Interpolated)
                .map_or(f64::NAN, |r| r.mean_drf);
            MetricOutcome {
                metric: spec.name,
                higher_is_better: spec.higher_is_better(),
                ranks: ranks(&means, spec.higher_is_better()),
                means,
                drf,
            }
        })
        .collect();
    let affected: Vec<f64> = sim.design["perturbations"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["n_affected"].as_f64()).collect())
        .unwrap_or_default();
    Ok(PointResult {
        point: *point,
        mean_affected_genes: affected.iter().sum::<f64>() / affected.len().max(1) as f64,
        metrics,
    })
}

/// Rank of each value (1 = best), ties sharing the better rank; NaN ranks after every number.
fn ranks(values: &[f64; 4], higher_is_better: bool) -> [usize; 4] {
    let better = |a: f64, b: f64| {
        if a.is_nan() {
            false
        } else if b.is_nan() {
            true
        } else if higher_is_better {
            a > b
        } else {
            a < b
        }
    };
    std::array::from_fn(|i| 1 + values.iter().filter(|&&v| better(v, values[i])).count())
}

/// Evaluates every point of `grid` (in parallel, results in grid order), reporting the
/// fraction done.
pub fn run_sweep(
    base: &SimConfig,
    grid: &SweepGrid,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Vec<PointResult>> {
    let points = grid.points();
    if points.is_empty() {
        return Err(Error::Options("the sweep's grid has no point".into()));
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    points
        .par_iter()
        .map(|p| {
            let r = evaluate_point(base, p);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n as f64 / points.len() as f64);
            r
        })
        .collect()
}

/// The tidy table of a sweep (`sweep.csv`): a row per point × metric × model.
pub fn sweep_table(results: &[PointResult]) -> Table {
    struct Row<'a> {
        index: usize,
        result: &'a PointResult,
        metric: &'a MetricOutcome,
        model: usize,
    }
    let rows: Vec<Row<'_>> = results
        .iter()
        .enumerate()
        .flat_map(|(index, result)| {
            result.metrics.iter().flat_map(move |metric| {
                (0..SWEEP_MODELS.len()).map(move |model| Row {
                    index,
                    result,
                    metric,
                    model,
                })
            })
        })
        .collect();
    let f64s = |get: fn(&Row<'_>) -> f64| Column::F64(rows.iter().map(get).collect());
    let ints =
        |get: fn(&Row<'_>) -> usize| Column::I64(rows.iter().map(|r| get(r) as i64).collect());
    Table::new()
        .with("point", ints(|r| r.index))
        .with("control_bias", f64s(|r| r.result.point.control_bias))
        .with("deg_fraction", f64s(|r| r.result.point.deg_fraction))
        .with("effect_size", f64s(|r| r.result.point.effect_size))
        .with(
            "cells_per_perturbation",
            ints(|r| r.result.point.cells_per_perturbation),
        )
        .with(
            "mean_affected_genes",
            f64s(|r| r.result.mean_affected_genes),
        )
        .with(
            "metric",
            Column::Str(rows.iter().map(|r| r.metric.metric.to_string()).collect()),
        )
        .with(
            "higher_is_better",
            Column::Bool(rows.iter().map(|r| r.metric.higher_is_better).collect()),
        )
        .with(
            "model",
            Column::Str(
                rows.iter()
                    .map(|r| SWEEP_MODELS[r.model].0.to_string())
                    .collect(),
            ),
        )
        .with("mean", f64s(|r| r.metric.means[r.model]))
        .with("rank", ints(|r| r.metric.ranks[r.model]))
        .with("drf_interpolated", f64s(|r| r.metric.drf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_put_the_best_first_and_nan_last() {
        assert_eq!(ranks(&[0.1, 0.3, f64::NAN, 0.2], false), [1, 3, 4, 2]);
        assert_eq!(ranks(&[0.1, 0.3, f64::NAN, 0.3], true), [3, 1, 4, 1]);
    }

    #[test]
    fn the_grid_is_the_product_of_its_knobs() {
        let g = SweepGrid::default();
        let points = g.points();
        assert_eq!(points.len(), 4 * 3 * 2 * 2);
        assert_eq!(points[1].cells_per_perturbation, 60);
        assert_eq!(points.last().unwrap().control_bias, 1.0);
    }
}
