//! Real Perturb-seq subsets from ../shared/data run end to end (see its README).

mod common;

use calibra::data::DatasetKind;
use calibra::io;
use calibra::pipeline::{evaluate, EvaluateOptions, Evaluation, Inputs};

fn data(name: &str) -> std::path::PathBuf {
    common::shared_dir().join("data").join(name)
}

fn run(cells: &str, predictions: &[&str], opts: &EvaluateOptions) -> calibra::Result<Evaluation> {
    let inputs = Inputs {
        cells: io::open_file(&data(cells))?,
        predictions: predictions
            .iter()
            .map(|p| io::open_file(&data(p)))
            .collect::<calibra::Result<_>>()?,
        split: None,
    };
    evaluate(inputs, opts, &mut |_, _| {})
}

#[test]
fn norman19_combos_with_predictions() {
    let e = run(
        "norman19_subset.parquet",
        &["norman19_subset_predictions.parquet"],
        &EvaluateOptions::default(),
    )
    .expect("norman19 evaluates");
    assert_eq!(e.contexts.len(), 1);
    let r = &e.contexts[0];
    assert_eq!(r.dataset.kind(), DatasetKind::Combo);
    assert_eq!(r.dataset.n_genes(), 500);
    assert_eq!(r.dataset.evaluated().len(), 15);
    let names: Vec<&str> = r.table.models.iter().map(|s| s.as_str()).collect();
    for m in [
        "control_mean",
        "dataset_mean",
        "technical_duplicate",
        "interpolated_duplicate",
        "additive",
        "noisy_truth",
        "additive_guess",
    ] {
        assert!(names.contains(&m), "missing model {m} in {names:?}");
    }
    // The technical duplicate is a positive control: it must beat the dataset mean on MSE.
    let mse = |m: &str| {
        r.summary
            .iter()
            .find(|s| s.model == m && s.metric == "mse")
            .unwrap()
            .mean
    };
    assert!(mse("technical_duplicate") < mse("dataset_mean"));
}

#[test]
fn papalexi_counts_are_rejected_then_normalised() {
    let err = run(
        "papalexi2021_counts.parquet",
        &[],
        &EvaluateOptions::default(),
    )
    .expect_err("raw counts are rejected");
    let msg = err.to_string();
    assert!(
        msg.contains("raw counts") && msg.contains("--normalize"),
        "{msg}"
    );

    let mut opts = EvaluateOptions::default();
    opts.cells.normalize = true;
    let e = run("papalexi2021_counts.parquet", &[], &opts).expect("runs with --normalize");
    let r = &e.contexts[0];
    assert_eq!(r.dataset.labels[r.dataset.control], "control");
    assert_eq!(r.dataset.n_genes(), 299);
    assert!(e.cells.normalized);
}

#[test]
fn mcfaline23_contexts_get_assigned_halves_and_folds() {
    let e = run(
        "mcfaline23_subset.parquet",
        &[],
        &EvaluateOptions::default(),
    )
    .expect("mcfaline evaluates");
    assert!(e.cells.halves_assigned && e.cells.folds_assigned);
    let ctx: Vec<&str> = e
        .contexts
        .iter()
        .map(|c| c.context.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(ctx, vec!["A172", "T98G", "U87MG"]);
    // Deterministic for a seed.
    let again = run(
        "mcfaline23_subset.parquet",
        &[],
        &EvaluateOptions::default(),
    )
    .unwrap();
    assert_eq!(e.contexts[0].dataset.stats, again.contexts[0].dataset.stats);
}
