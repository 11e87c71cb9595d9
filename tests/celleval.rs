//! The cell-eval family against cell-eval 0.8.1's own `results.csv` and `agg_results.csv` on
//! calibra's inputs (`shared/golden/peers/<input>/cell-eval/<model>/results/`, README there),
//! with `--compat celleval` (real cells of both halves, as the goldens' `real.h5ad`).
//!
//! Every row and column cell-eval wrote is compared, except `clustering_agreement` (not
//! computed: README "Choices"): null (empty) exactly where cell-eval has null, NaN where it
//! has NaN, numbers to 1e-6 relative (cell-eval's pseudobulks, deltas and profile metrics are
//! float32: calibra rounds the pseudobulks and deltas to float32 as polars does and computes
//! the metrics on them in float64).

mod common;

use calibra::metrics::celleval::bulk::{effect, pseudobulk, Distance};
use calibra::report::{self, Column};
use common::celleval_inputs::{build_inputs, CONTROL};
use common::golden::{read_csv, Value};
use ndarray::{Array2, Axis};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const REL_TOL: f64 = 1e-6;
/// The `std` of a constant column (the copied scalars `de_spearman_sig`, `pearson_edistance`)
/// is the rounding noise of the variance algorithm — polars: 0 or 1.1e-16, calibra's two-pass
/// sum: up to 1.3e-15 — so `std` values are compared with this absolute floor.
const STD_NOISE: f64 = 1e-14;

fn peers() -> PathBuf {
    common::shared_dir().join("golden").join("peers")
}

/// calibra's `celleval_results.csv` and `celleval_agg_results.csv` for `cells` and
/// `predictions`.
fn run(cells: &Path, predictions: &Path) -> (report::Table, report::Table) {
    common::celleval_inputs::peer_family_tables(cells, predictions, "celleval", &[])
}

/// A column's cells as text-free values: `None` = empty (null).
fn column(t: &report::Table, name: &str) -> Vec<Option<f64>> {
    match &t
        .columns
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
    {
        Column::OptF64(v) => v.clone(),
        Column::F64(v) => v.iter().map(|&x| Some(x)).collect(),
        _ => panic!("{name} is not numeric"),
    }
}

fn strings(t: &report::Table, name: &str) -> Vec<String> {
    match &t.columns.iter().find(|(n, _)| n == name).expect(name).1 {
        Column::Str(v) => v.clone(),
        _ => panic!("{name} is not text"),
    }
}

/// For each (discrimination metric, perturbation): the scores every order of exactly tied
/// distances gives, [1 − (less + tied)/N, 1 − less/N]. cell-eval ranks with numpy's
/// `argsort`, whose order of equal values is its SIMD sort's (it depends on the CPU); calibra
/// ranks them by perturbation order. Ties are real: a prediction whose effect is float32
/// noise (C/additive_guess predicts the control mean for most combinations) has every cosine
/// distance 1 ± 4e-7, quantised by float32 as scikit-learn computes it.
type TieIntervals = HashMap<(String, String), (f64, f64)>;

fn discrimination_intervals(cells: &Path, predictions: &Path, model: &str) -> TieIntervals {
    let inputs = build_inputs(cells, predictions, model);
    let mut perts: Vec<&str> = inputs
        .labels
        .iter()
        .map(String::as_str)
        .filter(|&l| l != CONTROL)
        .collect();
    perts.sort_unstable();
    perts.dedup();
    let bulk = |m: &Array2<f32>, label: &str| {
        let rows: Vec<usize> = (0..m.nrows())
            .filter(|&r| inputs.labels[r] == label)
            .collect();
        pseudobulk(m.select(Axis(0), &rows).view())
    };
    let control = bulk(&inputs.real, CONTROL);
    let real: Vec<Vec<f32>> = perts
        .iter()
        .map(|p| effect(&bulk(&inputs.real, p), &control))
        .collect();
    let pred: Vec<Vec<f32>> = perts
        .iter()
        .map(|p| effect(&bulk(&inputs.pred, p), &control))
        .collect();
    let n = perts.len() as f64;
    let mut out = TieIntervals::new();
    for (distance, name) in Distance::ALL.into_iter().zip(["l1", "l2", "cosine"]) {
        for (i, p) in perts.iter().enumerate() {
            let keep = |v: &[f32]| -> Vec<f64> {
                v.iter()
                    .zip(&inputs.genes)
                    .filter(|(_, g)| g.as_str() != *p)
                    .map(|(&x, _)| f64::from(x))
                    .collect()
            };
            let d: Vec<f64> = real
                .iter()
                .map(|r| distance.between(&keep(r), &keep(&pred[i])))
                .collect();
            let less = d.iter().filter(|&&x| x < d[i]).count() as f64;
            let tied = d.iter().filter(|&&x| x == d[i]).count() as f64 - 1.0;
            out.insert(
                (format!("discrimination_score_{name}"), p.to_string()),
                (1.0 - (less + tied) / n, 1.0 - less / n),
            );
        }
    }
    out
}

/// Compares one golden file's rows (keyed by `key`) with calibra's rows of `model`; returns
/// the failures (and prints the worst relative difference per column).
fn compare(
    what: &str,
    golden: &Path,
    ours: &report::Table,
    model: &str,
    key: &str,
    ties: Option<&TieIntervals>,
) -> Vec<String> {
    let expected = read_csv(&std::fs::read_to_string(golden).expect("golden file"));
    let models = strings(ours, "model");
    let keys = strings(ours, key);
    let key_at = expected
        .columns
        .iter()
        .position(|c| c == key)
        .expect("key column");
    let mut failures = Vec::new();
    for (c, name) in expected.columns.iter().enumerate() {
        if c == key_at || name == "clustering_agreement" {
            continue;
        }
        let actual = column(ours, name);
        let mut worst = 0.0f64;
        for row in &expected.rows {
            let k = row[key_at].to_string().trim_matches('"').to_string();
            let at = models
                .iter()
                .zip(&keys)
                .position(|(m, mine)| m == model && *mine == k)
                .unwrap_or_else(|| panic!("{what}: no row {model}/{k}"));
            let a = actual[at];
            let ok = match (&row[c], a) {
                (Value::Text(t), None) => t.is_empty(),
                (Value::Num(x), Some(y)) if x.is_nan() => y.is_nan(),
                (Value::Num(x), Some(y)) => {
                    let rel = if x == &y {
                        0.0
                    } else {
                        (x - y).abs() / x.abs()
                    };
                    let noise = k == "std" && (x - y).abs() <= STD_NOISE;
                    worst = worst.max(if noise { 0.0 } else { rel });
                    rel <= REL_TOL || noise
                }
                _ => false,
            };
            let within = |x: f64, (lo, hi): (f64, f64)| x >= lo - 1e-12 && x <= hi + 1e-12;
            let tie = match (
                &row[c],
                a,
                ties.and_then(|t| t.get(&(name.clone(), k.clone()))),
            ) {
                (Value::Num(x), Some(y), Some(&range)) => within(*x, range) && within(y, range),
                _ => false,
            };
            if !ok && tie {
                eprintln!("{what} {name} {k}: cell-eval {}, calibra {a:?}: the same up to the order of tied distances", row[c]);
            } else if !ok {
                failures.push(format!(
                    "{what} {name} {k}: cell-eval {}, calibra {a:?}",
                    row[c]
                ));
            }
        }
        eprintln!("{what} {name}: worst relative difference {worst:.2e}");
    }
    failures
}

/// The discrimination columns in which some row differs from cell-eval's only by tie order.
fn failures_with_ties(
    ties: &TieIntervals,
    ours: &report::Table,
    model: &str,
    golden: &Path,
) -> Vec<String> {
    let expected = read_csv(&std::fs::read_to_string(golden).expect("golden file"));
    let key_at = expected
        .columns
        .iter()
        .position(|c| c == "perturbation")
        .expect("key");
    let (models, keys) = (strings(ours, "model"), strings(ours, "perturbation"));
    let mut out = Vec::new();
    for (c, name) in expected
        .columns
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with("discrimination_score_"))
    {
        let actual = column(ours, name);
        let differs = expected.rows.iter().any(|row| {
            let k = row[key_at].to_string().trim_matches('"').to_string();
            let at = models
                .iter()
                .zip(&keys)
                .position(|(m, mine)| m == model && *mine == k)
                .expect("row");
            let in_ties = ties.contains_key(&(name.clone(), k));
            matches!((&row[c], actual[at]), (Value::Num(x), Some(y)) if *x != y) && in_ties
        });
        if differs {
            out.push(name.clone());
        }
    }
    out
}

fn check_input(tag: &str, cells: PathBuf, predictions: PathBuf, models: &[&str]) {
    let (results, agg) = run(&cells, &predictions);
    let mut failures = Vec::new();
    for model in models {
        let dir = peers()
            .join(tag)
            .join("cell-eval")
            .join(model)
            .join("results");
        let ties = discrimination_intervals(&cells, &predictions, model);
        failures.extend(compare(
            &format!("{tag}/{model} results"),
            &dir.join("results.csv"),
            &results,
            model,
            "perturbation",
            Some(&ties),
        ));
        let agg_failures = compare(
            &format!("{tag}/{model} agg"),
            &dir.join("agg_results.csv"),
            &agg,
            model,
            "statistic",
            None,
        );
        // An aggregate of a column with tie-ordered rows differs with them, and only then.
        let tie_columns: Vec<String> =
            failures_with_ties(&ties, &results, model, &dir.join("results.csv"));
        failures.extend(
            agg_failures
                .into_iter()
                .filter(|f| !tie_columns.iter().any(|c| f.contains(&format!(" {c} ")))),
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn golden_single_equals_cell_eval() {
    let dir = common::shared_dir().join("golden").join("golden_single");
    check_input(
        "A_golden_single",
        dir.join("data.parquet"),
        dir.join("predictions.parquet"),
        &["collapsed", "noisy_truth"],
    );
}

#[test]
fn norman19_subset_equals_cell_eval() {
    let dir = common::shared_dir().join("data");
    check_input(
        "C_norman19_subset",
        dir.join("norman19_subset.parquet"),
        dir.join("norman19_subset_predictions.parquet"),
        &["additive_guess", "noisy_truth"],
    );
}
