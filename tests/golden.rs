//! Golden tests: calibra's outputs equal the Python reference's on ../shared/golden/* (SPEC §9),
//! column by column — ≤1e-9 relative (1e-12 absolute near zero), identical NaNs, DEG calls and
//! row sets — from Parquet and Arrow IPC inputs.

mod common;

use calibra::evaluation::DegTableInputs;
use calibra::io;
use calibra::pipeline::{evaluate_writing, DegTableWriter, EvaluateOptions, Inputs};
use calibra::report::OutputDir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The nine tables calibra writes that the reference also writes.
const COMPARED: [&str; 9] = [
    "metrics.csv",
    "summary.csv",
    "drf.csv",
    "drf_summary.csv",
    "stats.csv",
    "perturbations.csv",
    "deg_gt.parquet",
    "deg_td.parquet",
    "baselines.parquet",
];

fn golden(name: &str) -> PathBuf {
    common::shared_dir().join("golden").join(name)
}

/// Evaluates `cells` + `predictions` and writes the outputs into a fresh temporary directory
/// the way the CLI does: per-gene DEG tables as soon as each context's tests are done, the
/// rest at the end.
fn run(cells: &Path, predictions: &Path, options: &EvaluateOptions) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("temp dir");
    let inputs = Inputs {
        cells: io::open_file(cells).expect("open cells"),
        predictions: vec![io::open_file(predictions).expect("open predictions")],
        split: None,
    };
    let mut dir = OutputDir::create(&out.path().join("out")).expect("staging directory");
    let mut write_degs = |t: &DegTableInputs<'_>| dir.write_deg_tables(t);
    let deg_writer: Option<&mut DegTableWriter<'_>> =
        options.per_gene_tables.then_some(&mut write_degs);
    let eval =
        evaluate_writing(inputs, options, deg_writer, &mut |_, _| {}).expect("evaluation succeeds");
    dir.finish(
        &eval,
        &BTreeMap::new(),
        !options.per_gene_tables,
        &mut |_| {},
    )
    .expect("write outputs");
    out
}

fn check(name: &str, cells: &str, predictions: &str) {
    let dir = golden(name);
    let options = EvaluateOptions::default();
    let out = run(&dir.join(cells), &dir.join(predictions), &options);
    let report =
        common::golden::compare_dirs(&out.path().join("out"), &dir.join("expected"), &COMPARED);
    println!("{name} ({cells}, {predictions}):\n{report}");
    report.assert_ok();
}

/// Without the per-gene tables (`--light`: DEG calls of the GT half without the p-values
/// that cannot be significant, arrays freed early), every table still written is the same.
fn check_light(name: &str) {
    let dir = golden(name);
    let options = EvaluateOptions {
        per_gene_tables: false,
        ..EvaluateOptions::default()
    };
    let out = run(
        &dir.join("data.parquet"),
        &dir.join("predictions.parquet"),
        &options,
    );
    let written: Vec<&str> = COMPARED
        .into_iter()
        .filter(|f| !calibra::report::output_file(f).is_some_and(|o| o.per_gene))
        .collect();
    let report =
        common::golden::compare_dirs(&out.path().join("out"), &dir.join("expected"), &written);
    println!("{name} (light):\n{report}");
    report.assert_ok();
}

#[test]
fn golden_light_single_and_combo() {
    check_light("golden_single");
    check_light("golden_combo");
}

#[test]
fn golden_small_parquet() {
    check("golden_small", "data.parquet", "predictions.parquet");
}

#[test]
fn golden_small_arrow() {
    check("golden_small", "data.arrow", "predictions.arrow");
}

#[test]
fn golden_single_parquet() {
    check("golden_single", "data.parquet", "predictions.parquet");
}

#[test]
fn golden_combo_parquet() {
    check("golden_combo", "data.parquet", "predictions.parquet");
}
