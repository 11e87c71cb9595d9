//! The PerturBench family through the pipeline: a baseline that predicts one profile for
//! every perturbation (the control mean) ranks at the tie expectation (N − 1)/2N, and every
//! value is what its definition gives from the mean profiles.

mod common;

use calibra::io;
use calibra::metrics::perturbench::rmse;
use calibra::pipeline::{evaluate, EvaluateOptions, Inputs};

#[test]
fn control_mean_ranks_at_the_tie_expectation() {
    let dir = common::shared_dir().join("golden").join("golden_single");
    let mut options = EvaluateOptions::default();
    calibra::options::set(&mut options, "metrics", "calibrated,perturbench").unwrap();
    options.per_gene_tables = false;
    let inputs = Inputs {
        cells: io::open_file(&dir.join("data.parquet")).expect("cells"),
        predictions: vec![io::open_file(&dir.join("predictions.parquet")).expect("predictions")],
        split: None,
    };
    let eval = evaluate(inputs, &options, &mut |_, _| {}).expect("evaluation succeeds");
    let t = &eval.contexts[0].table;
    let m = t.model_index("control_mean").expect("control_mean");
    let n = (0..t.perturbations.len())
        .filter(|&p| t.covered[[m, p]])
        .count() as f64;
    assert!(n > 10.0);
    for name in [
        "perturbench_rmse_rank_average",
        "perturbench_cosine_rank_logfc",
    ] {
        let k = t.metric_index(name).expect(name);
        for p in (0..t.perturbations.len()).filter(|&p| t.covered[[m, p]]) {
            let v = t.values[[m, k, p]];
            if name.contains("cosine") {
                // Its difference from the control mean is zero: the cosine is undefined.
                assert!(v.is_nan(), "{name}: {v}");
            } else {
                assert!((v - (n - 1.0) / (2.0 * n)).abs() < 1e-15, "{name}: {v}");
            }
        }
    }
    // The technical duplicate's RMSE is the RMSE of its profile (the TD-half mean).
    let td = t.model_index("technical_duplicate").expect("td");
    let k = t.metric_index("perturbench_rmse_average").unwrap();
    let ds = &eval.contexts[0].dataset;
    for (p, name) in t.perturbations.iter().enumerate().take(5) {
        let l = ds.label_index(name).unwrap();
        let gt = ds.mean_in(l, calibra::data::Half::Gt).unwrap();
        let tdm = ds.mean_in(l, calibra::data::Half::Td).unwrap();
        let want = rmse(tdm.view(), gt.view());
        assert!(
            (t.values[[td, k, p]] - want).abs() <= 1e-12 * want,
            "{name}"
        );
    }
}
