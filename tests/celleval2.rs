//! The cell-eval2 family against cell-eval2 0.20.0's own `results.csv` and `agg_results.csv`
//! on calibra's inputs (`shared/golden/peers/celleval2/out/<input>/<model>/{full,vcc2026}/`,
//! README there), with `--compat celleval` (real cells of both halves, as the goldens'
//! `real.h5ad`).
//!
//! Every row cell-eval2 wrote is compared — the same (perturbation, metric) rows, no more
//! (`de_wilcoxon_lfc_nmae` rows are omitted outside its gate), NaN exactly where cell-eval2
//! has NaN, numbers to [`REL_TOL`] — and every cell of its aggregates. C ran with
//! `--no-target-genes`; calibra excludes nothing there either, as no C label names a gene.

mod common;

use calibra::report::{self, Column};
use common::golden::{read_csv, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Relative tolerance. cell-eval2's arithmetic is float64 and reproduced; what is left is
/// summation order (BLAS dot products, numpy's einsum and pairwise sums, polars' vectorised
/// sums) and its CSV's 15–16 significant digits.
const REL_TOL: f64 = 1e-9;
/// Absolute floor for values that are differences of nearly equal sums (the sampling-corrected
/// distances cancel sums of order 10 down to 1e-4) and for `std` of a constant column (a
/// broadcast panel value: polars reports 5.7e-17 rather than 0).
const ABS_FLOOR: f64 = 1e-13;
/// `de_wilcoxon_lfc_nmae` reads fold changes, which depend on the CPU's float32 `expm1` (see
/// `tests/celleval2_de.rs`): cell-eval2 itself, rerun on this machine, differs from its
/// goldens by up to 1.9e-8 relative on this metric (and calibra equals the rerun's tables).
const LFC_NMAE_TOL: f64 = 1e-7;

fn golden_dir(tag: &str, model: &str, preset: &str) -> PathBuf {
    common::shared_dir()
        .join("golden/peers/celleval2/out")
        .join(tag)
        .join(model)
        .join(preset)
}

/// calibra's `celleval2_results.csv` and `celleval2_agg_results.csv`.
fn run(cells: &Path, predictions: &Path) -> (report::Table, report::Table) {
    common::celleval_inputs::peer_family_tables(cells, predictions, "celleval2")
}

fn strings(t: &report::Table, name: &str) -> Vec<String> {
    match &t.columns.iter().find(|(n, _)| n == name).expect(name).1 {
        Column::Str(v) => v.clone(),
        _ => panic!("{name} is not text"),
    }
}

fn numbers(t: &report::Table, name: &str) -> Vec<f64> {
    match &t.columns.iter().find(|(n, _)| n == name).expect(name).1 {
        Column::F64(v) => v.clone(),
        _ => panic!("{name} is not a float column"),
    }
}

/// Compares a value; returns its relative error when it passes, `None` when it fails.
fn close_to(want: f64, got: f64, rel_tol: f64) -> Option<f64> {
    if want.is_nan() || got.is_nan() {
        return (want.is_nan() && got.is_nan()).then_some(0.0);
    }
    let err = (want - got).abs();
    let rel = if err == 0.0 { 0.0 } else { err / want.abs() };
    (rel <= rel_tol || err <= ABS_FLOOR).then_some(if err <= ABS_FLOOR { 0.0 } else { rel })
}

/// The tolerance of a metric's values.
fn tolerance(metric: &str) -> f64 {
    if metric == "de_wilcoxon_lfc_nmae" {
        LFC_NMAE_TOL
    } else {
        REL_TOL
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Num(x) => *x,
        other => panic!("not a number: {other}"),
    }
}

fn check_model(
    tag: &str,
    model: &str,
    results: &report::Table,
    agg: &report::Table,
    failures: &mut Vec<String>,
) {
    // Ours, keyed (perturbation, metric).
    let (models, perts, metrics, values) = (
        strings(results, "model"),
        strings(results, "perturbation"),
        strings(results, "metric"),
        numbers(results, "value"),
    );
    let ours: HashMap<(&str, &str), f64> = (0..models.len())
        .filter(|&i| models[i] == model)
        .map(|i| ((perts[i].as_str(), metrics[i].as_str()), values[i]))
        .collect();
    let agg_models = strings(agg, "model");
    let agg_stats = strings(agg, "statistic");
    for preset in ["full", "vcc2026"] {
        let dir = golden_dir(tag, model, preset);
        let what = format!("{tag}/{model}/{preset}");
        let golden = read_csv(&std::fs::read_to_string(dir.join("results.csv")).unwrap());
        let mut worst: HashMap<String, f64> = HashMap::new();
        let mut seen_metrics = std::collections::BTreeSet::new();
        for row in &golden.rows {
            let (p, m) = (row[0].to_string(), row[1].to_string());
            let (p, m) = (p.trim_matches('"'), m.trim_matches('"'));
            seen_metrics.insert(m.to_string());
            let want = num(&row[2]);
            match ours.get(&(p, m)) {
                None => failures.push(format!("{what}: no row {p}/{m}")),
                Some(&got) => match close_to(want, got, tolerance(m)) {
                    Some(rel) => {
                        let w = worst.entry(m.to_string()).or_insert(0.0);
                        *w = w.max(rel);
                    }
                    None => {
                        failures.push(format!("{what} {p}/{m}: cell-eval2 {want}, calibra {got}"))
                    }
                },
            }
        }
        // No extra rows for the metrics of this profile.
        let extra = ours
            .keys()
            .filter(|(_, m)| seen_metrics.contains(*m))
            .count();
        if extra != golden.rows.len() {
            failures.push(format!(
                "{what}: {extra} rows in calibra, {} in cell-eval2",
                golden.rows.len()
            ));
        }
        let mut w: Vec<_> = worst.into_iter().collect();
        w.sort_by(|a, b| b.1.total_cmp(&a.1));
        eprintln!(
            "{what}: worst relative differences {:?}",
            &w[..w.len().min(5)]
        );

        let golden_agg = read_csv(&std::fs::read_to_string(dir.join("agg_results.csv")).unwrap());
        let mut worst_agg = 0.0f64;
        for row in &golden_agg.rows {
            let stat = row[0].to_string();
            let stat = stat.trim_matches('"');
            let at = (0..agg_models.len())
                .find(|&i| agg_models[i] == model && agg_stats[i] == stat)
                .unwrap_or_else(|| panic!("{what}: no aggregate row {stat}"));
            for (c, name) in golden_agg.columns.iter().enumerate().skip(1) {
                let want = num(&row[c]);
                let got = numbers(agg, name)[at];
                match close_to(want, got, tolerance(name)) {
                    Some(rel) => worst_agg = worst_agg.max(rel),
                    None => failures.push(format!(
                        "{what} agg {stat}/{name}: cell-eval2 {want}, calibra {got}"
                    )),
                }
            }
        }
        eprintln!("{what} agg: worst relative difference {worst_agg:.2e}");
    }
}

fn check_input(tag: &str, cells: PathBuf, predictions: PathBuf, models: &[&str]) {
    let (results, agg) = run(&cells, &predictions);
    let mut failures = Vec::new();
    for model in models {
        check_model(tag, model, &results, &agg, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(60)].join("\n")
    );
}

#[test]
fn golden_single_equals_cell_eval2() {
    let dir = common::shared_dir().join("golden").join("golden_single");
    check_input(
        "A_golden_single",
        dir.join("data.parquet"),
        dir.join("predictions.parquet"),
        &["collapsed", "noisy_truth"],
    );
}

#[test]
fn norman19_subset_equals_cell_eval2() {
    let dir = common::shared_dir().join("data");
    check_input(
        "C_norman19_subset",
        dir.join("norman19_subset.parquet"),
        dir.join("norman19_subset_predictions.parquet"),
        &["additive_guess", "noisy_truth"],
    );
}
