//! The cell-eval2 family against cell-eval2 0.20.0's own `results.csv` and `agg_results.csv`
//! on calibra's inputs (`shared/golden/peers/celleval2/out/<input>/<model>/{full,vcc2026}/`,
//! README there), with `--compat celleval` (real cells of both halves, as the goldens'
//! `real.h5ad`).
//!
//! Every row cell-eval2 wrote is compared — the same (perturbation, metric) rows, no more
//! (`de_wilcoxon_lfc_nmae` rows are omitted outside its gate), NaN exactly where cell-eval2
//! has NaN, numbers to `REL_TOL` (`common::celleval2_results`) — and every cell of its
//! aggregates. C ran with
//! `--no-target-genes`; calibra excludes nothing there either, as no C label names a gene.

mod common;

use calibra::report;
use common::celleval2_results::assert_models_equal;
use std::path::{Path, PathBuf};

fn golden_dir(tag: &str, model: &str, preset: &str) -> PathBuf {
    common::shared_dir()
        .join("golden/peers/celleval2/out")
        .join(tag)
        .join(model)
        .join(preset)
}

/// calibra's `celleval2_results.csv` and `celleval2_agg_results.csv`.
fn run(cells: &Path, predictions: &Path) -> (report::Table, report::Table) {
    common::celleval_inputs::peer_family_tables(cells, predictions, "celleval2", &[])
}

fn check_input(tag: &str, cells: PathBuf, predictions: PathBuf, models: &[&str]) {
    let (results, agg) = run(&cells, &predictions);
    let runs_of = |model: &str| {
        ["full", "vcc2026"]
            .iter()
            .map(|p| (format!("{tag}/{model}/{p}"), golden_dir(tag, model, p)))
            .collect()
    };
    assert_models_equal(models, runs_of, &results, &agg);
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
