//! cell-eval2's written outputs (`results.csv`, `agg_results.csv`) against calibra's
//! `celleval2_results.csv` / `celleval2_agg_results.csv` tables: every row cell-eval2 wrote,
//! no more, NaN exactly where it has NaN, numbers within a tolerance.

use super::golden::{read_csv, Value};
use calibra::report::{self, Column};
use std::collections::HashMap;
use std::path::PathBuf;

/// Relative tolerance. cell-eval2's arithmetic is float64 and reproduced; what is left is
/// summation order (BLAS dot products, numpy's einsum and pairwise sums, polars' vectorised
/// sums) and its CSV's 15–16 significant digits.
pub const REL_TOL: f64 = 1e-9;
/// Absolute floor for values that are differences of nearly equal sums (the sampling-corrected
/// distances cancel sums of order 10 down to 1e-4) and for `std` of a constant column (a
/// broadcast panel value: polars reports 5.7e-17 rather than 0).
pub const ABS_FLOOR: f64 = 1e-13;
/// `de_wilcoxon_lfc_nmae` reads fold changes, which depend on the CPU's float32 `expm1` (see
/// `tests/celleval2_de.rs`): cell-eval2 itself, rerun on this machine, differs from its
/// goldens by up to 1.9e-8 relative on this metric (and calibra equals the rerun's tables).
pub const LFC_NMAE_TOL: f64 = 1e-7;

pub fn strings(t: &report::Table, name: &str) -> Vec<String> {
    match &t.columns.iter().find(|(n, _)| n == name).expect(name).1 {
        Column::Str(v) => v.clone(),
        _ => panic!("{name} is not text"),
    }
}

pub fn numbers(t: &report::Table, name: &str) -> Vec<f64> {
    match &t.columns.iter().find(|(n, _)| n == name).expect(name).1 {
        Column::F64(v) => v.clone(),
        _ => panic!("{name} is not a float column"),
    }
}

/// Compares a value; returns its relative error when it passes, `None` when it fails.
pub fn close_to(want: f64, got: f64, rel_tol: f64) -> Option<f64> {
    if want.is_nan() || got.is_nan() {
        return (want.is_nan() && got.is_nan()).then_some(0.0);
    }
    let err = (want - got).abs();
    let rel = if err == 0.0 { 0.0 } else { err / want.abs() };
    (rel <= rel_tol || err <= ABS_FLOOR).then_some(if err <= ABS_FLOOR { 0.0 } else { rel })
}

/// The tolerance of a metric's values.
pub fn tolerance(metric: &str) -> f64 {
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

/// Compares one model's rows of calibra's tables with cell-eval2's run folders `runs`
/// (name, folder holding `results.csv` and `agg_results.csv`), pushing each difference.
pub fn check_model(
    runs: &[(String, PathBuf)],
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
    for (what, dir) in runs {
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

/// Checks each model against its run folders (`runs_of(model)`) and fails with every
/// difference found.
pub fn assert_models_equal(
    models: &[&str],
    runs_of: impl Fn(&str) -> Vec<(String, PathBuf)>,
    results: &report::Table,
    agg: &report::Table,
) {
    let mut failures = Vec::new();
    for model in models {
        check_model(&runs_of(model), model, results, agg, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(60)].join("\n")
    );
}
