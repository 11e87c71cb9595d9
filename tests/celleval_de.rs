//! calibra's pdex engine (`de::mannwhitney`) against the DE tables cell-eval 0.8.1 wrote with
//! pdex 0.3.0 (`shared/golden/peers/<input>/cell-eval/<model>/results/{real,pred}_de.csv`).
//!
//! The h5ad inputs are not kept; they are rebuilt here from the Parquet files as
//! `shared/golden/peers/build_celleval_inputs.py` builds them:
//! * real: every cell (both halves) of the evaluated perturbations E (fold ≥ 0) and every
//!   control cell, in Parquet row order;
//! * pred: the same rows, the control rows unchanged, each other row replaced by the model's
//!   predicted mean of its perturbation (so K identical cells for K real ones).
//!
//! Every row (target, feature) and every column is compared: `target_mean` and `ref_mean` are
//! float32 in pdex and must be the same float32; the float64 columns must agree to 1e-6
//! relative (see [`ABS_FLOOR`]); ±inf must sit where pdex has them.

mod common;

use calibra::de::mannwhitney::{pdex_ref, PdexOptions, PdexTable};
use common::celleval_inputs::{build_inputs, gene_columns, peers, read_parquet, CONTROL};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const REL_TOL: f64 = 1e-6;
/// Absolute floor of the relative comparison: |a − b| ≤ max(REL_TOL·|b|, ABS_FLOOR). Only
/// log2 fold changes and percent changes can be near 0 without being 0 (nearly equal means);
/// they are computed in float64 from float32 means that must match exactly, so 1e-12 only
/// absorbs the CSV's decimal round trip, never a real difference.
const ABS_FLOOR: f64 = 1e-12;

/// Largest error per column, for the report.
#[derive(Default)]
struct Errors(BTreeMap<&'static str, f64>);

impl Errors {
    fn note(&mut self, col: &'static str, e: f64) {
        let m = self.0.entry(col).or_insert(0.0);
        *m = m.max(e);
    }
}

fn parse(s: &str) -> f64 {
    s.parse::<f64>()
        .unwrap_or_else(|_| panic!("not a number: {s}"))
}

/// Compares a float64 column: same ±inf / NaN, else within tolerance; returns the relative
/// error (absolute error below the floor counts as 0).
fn close(got: f64, want: f64, what: &str) -> f64 {
    if want.is_nan() || want.is_infinite() {
        assert!(
            (got.is_nan() && want.is_nan()) || got == want,
            "{what}: got {got}, pdex {want}"
        );
        return 0.0;
    }
    let err = (got - want).abs();
    assert!(
        err <= (REL_TOL * want.abs()).max(ABS_FLOOR),
        "{what}: got {got}, pdex {want}"
    );
    if err <= ABS_FLOOR && want == 0.0 {
        0.0
    } else if want == 0.0 {
        err
    } else {
        err / want.abs()
    }
}

fn compare(table: &PdexTable, genes: &[String], csv: &Path, errors: &mut Errors) {
    let gene_index: HashMap<&str, usize> = genes
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let group_index: HashMap<&str, usize> = table
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.target.as_str(), i))
        .collect();
    let mut rdr = csv::Reader::from_path(csv).expect("csv");
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "target",
            "feature",
            "target_mean",
            "ref_mean",
            "target_membership",
            "ref_membership",
            "log2_fold_change",
            "percent_change",
            "p_value",
            "statistic",
            "fdr"
        ]
    );
    let mut seen = 0usize;
    for rec in rdr.records() {
        let rec = rec.expect("record");
        let (target, feature) = (&rec[0], &rec[1]);
        let what = |c: &str| format!("{}: {target}/{feature} {c}", csv.display());
        let g = &table.groups[group_index[target]];
        let j = gene_index[feature];
        // float32 columns: the very same float32.
        for (col, got, text) in [
            ("target_mean", g.target_mean[j], &rec[2]),
            ("ref_mean", table.ref_mean[j], &rec[3]),
        ] {
            let want = text.parse::<f32>().expect("f32");
            assert_eq!(got, f64::from(want), "{}", what(col));
            errors.note(col, 0.0);
        }
        assert_eq!(g.target_membership, rec[4].parse::<usize>().unwrap());
        assert_eq!(table.ref_membership, rec[5].parse::<usize>().unwrap());
        for (col, got, idx) in [
            ("log2_fold_change", g.log2_fold_change[j], 6),
            ("percent_change", g.percent_change[j], 7),
            ("p_value", g.p_value[j], 8),
            ("statistic", g.statistic[j], 9),
            ("fdr", g.fdr[j], 10),
        ] {
            let e = close(got, parse(&rec[idx]), &what(col));
            errors.note(col, e);
        }
        seen += 1;
    }
    let n_rows: usize = table.groups.iter().map(|g| g.p_value.len()).sum();
    assert_eq!(seen, n_rows, "{}: every row once", csv.display());
}

fn check_input(tag: &str, data: &Path, predictions: &Path, models: &[&str]) {
    let genes = gene_columns(&read_parquet(data));
    for model in models {
        let inputs = build_inputs(data, predictions, model);
        let dir = peers()
            .join(tag)
            .join("cell-eval")
            .join(model)
            .join("results");
        for (which, x) in [("real", &inputs.real), ("pred", &inputs.pred)] {
            let table = pdex_ref(
                x.view(),
                &inputs.labels,
                CONTROL,
                PdexOptions::cell_eval_081(),
            )
            .expect("pdex_ref");
            let mut errors = Errors::default();
            compare(
                &table,
                &genes,
                &dir.join(format!("{which}_de.csv")),
                &mut errors,
            );
            eprintln!(
                "{tag} {model} {which}_de: max relative error {:?}",
                errors.0
            );
        }
    }
}

#[test]
fn golden_single_matches_pdex() {
    let g = common::shared_dir().join("golden").join("golden_single");
    check_input(
        "A_golden_single",
        &g.join("data.parquet"),
        &g.join("predictions.parquet"),
        &["collapsed", "noisy_truth"],
    );
}

#[test]
fn norman19_subset_matches_pdex() {
    let d = common::shared_dir().join("data");
    check_input(
        "C_norman19_subset",
        &d.join("norman19_subset.parquet"),
        &d.join("norman19_subset_predictions.parquet"),
        &["additive_guess", "noisy_truth"],
    );
}
