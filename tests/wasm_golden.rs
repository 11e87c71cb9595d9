//! The core reproduces golden_small inside WebAssembly, in headless Chromium
//! (wasm-bindgen-test). Run with the threaded build:
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo +nightly test --target wasm32-unknown-unknown
//!  --no-default-features --features threads --config .cargo/wasm-threads.toml --test wasm_golden`
//! (and without `+nightly … --config` for the single-thread build).
#![cfg(target_arch = "wasm32")]

mod common;

use calibra::io::{MemorySource, SharedSource};
use calibra::pipeline::{evaluate, EvaluateOptions, Inputs};
use std::sync::Arc;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

macro_rules! golden {
    ($file:literal) => {
        include_bytes!(concat!("../../shared/golden/golden_small/", $file)).to_vec()
    };
}

#[wasm_bindgen_test]
async fn golden_small_in_wasm() {
    #[cfg(feature = "threads")]
    {
        wasm_bindgen_futures::JsFuture::from(calibra::wasm::init_thread_pool(2))
            .await
            .expect("thread pool");
        assert_eq!(rayon::current_num_threads(), 2);
    }
    let cells: SharedSource = Arc::new(MemorySource::new("data.parquet", golden!("data.parquet")));
    check_golden(cells, "golden_small");
    // The same cells as an h5ad file (CSR, gzip chunks), read by the same reader as natively.
    let cells = common::h5ad::cells_of_parquet_bytes(golden!("data.parquet"));
    let h5ad = common::h5ad::h5ad_bytes(&cells, common::h5ad::H5adVariant::CsrF32);
    check_golden(
        Arc::new(MemorySource::new("data.h5ad", h5ad)),
        "golden_small as h5ad",
    );
    // Stored by genes (CSC): read a block of genes at a time.
    let csc = common::h5ad::h5ad_bytes(&cells, common::h5ad::H5adVariant::Csc);
    check_golden(
        Arc::new(MemorySource::new("data.h5ad", csc)),
        "golden_small as CSC h5ad",
    );
}

/// The cell-eval and cell-eval2 families in WebAssembly equal cell-eval 0.8.1's and
/// cell-eval2 0.20.0's own `results.csv` on golden_single (`--compat celleval`; natively:
/// `tests/celleval.rs`, `tests/celleval2.rs`).
#[wasm_bindgen_test]
async fn celleval_in_wasm() {
    macro_rules! single {
        ($file:literal) => {
            include_bytes!(concat!("../../shared/golden/golden_single/", $file)).to_vec()
        };
    }
    macro_rules! peer {
        ($model:literal) => {
            include_str!(concat!(
                "../../shared/golden/peers/A_golden_single/cell-eval/",
                $model,
                "/results/results.csv"
            ))
        };
    }
    let mut options = EvaluateOptions::default();
    calibra::options::set(&mut options, "metrics", "calibrated,celleval,celleval2").unwrap();
    calibra::options::set(&mut options, "compat", "celleval").unwrap();
    options.per_gene_tables = false;
    let eval = evaluate(
        Inputs {
            cells: Arc::new(MemorySource::new("data.parquet", single!("data.parquet"))),
            predictions: vec![Arc::new(MemorySource::new(
                "predictions.parquet",
                single!("predictions.parquet"),
            ))],
            split: None,
        },
        &options,
        &mut |_, _| {},
    )
    .expect("evaluation succeeds in wasm");
    let ours = calibra::report::context_table(&eval.contexts[0], "celleval_results.csv")
        .unwrap()
        .expect("celleval_results.csv");
    let text_of = |name: &str| -> Vec<String> {
        match &ours.columns.iter().find(|(n, _)| n == name).expect(name).1 {
            calibra::report::Column::Str(v) => v.clone(),
            calibra::report::Column::OptF64(v) => v
                .iter()
                .map(|x| x.map(|x| x.to_string()).unwrap_or_default())
                .collect(),
            _ => panic!("{name}"),
        }
    };
    let (models, perts) = (text_of("model"), text_of("perturbation"));
    let mut compared = 0;
    for (model, csv) in [
        ("collapsed", peer!("collapsed")),
        ("noisy_truth", peer!("noisy_truth")),
    ] {
        let golden = common::golden::read_csv(csv);
        for (c, name) in golden.columns.iter().enumerate().skip(1) {
            if name == "clustering_agreement" {
                continue;
            }
            let column = text_of(name);
            for row in &golden.rows {
                let key = row[0].to_string().trim_matches('"').to_string();
                let at = (0..models.len())
                    .find(|&i| models[i] == model && perts[i] == key)
                    .expect("row");
                let (want, got) = (&row[c], &column[at]);
                let ok = match want {
                    common::golden::Value::Num(x) if x.is_nan() => got == "NaN",
                    common::golden::Value::Num(x) => {
                        let y: f64 = got.parse().expect("a number");
                        x == &y || (x - y).abs() <= 1e-6 * x.abs()
                    }
                    common::golden::Value::Text(t) => t.is_empty() && got.is_empty(),
                    _ => false,
                };
                assert!(ok, "{model} {name} {key}: cell-eval {want}, calibra {got}");
                compared += 1;
            }
        }
    }
    web_sys::console::log_1(
        &format!("celleval in wasm: {compared} values equal cell-eval's").into(),
    );
    celleval2_equals_its_goldens(&eval);
}

/// cell-eval2's long `results.csv` (profile `full`) of both golden_single models against the
/// family's rows.
fn celleval2_equals_its_goldens(eval: &calibra::pipeline::Evaluation) {
    macro_rules! peer2 {
        ($model:literal) => {
            include_str!(concat!(
                "../../shared/golden/peers/celleval2/out/A_golden_single/",
                $model,
                "/full/results.csv"
            ))
        };
    }
    celleval2_equals(
        eval,
        &[
            ("collapsed", peer2!("collapsed")),
            ("noisy_truth", peer2!("noisy_truth")),
        ],
    );
}

/// cell-eval2's counts path in WebAssembly equals cell-eval2's own counts-path run on
/// Papalexi's raw counts (natively: `tests/celleval2_counts.rs`).
#[wasm_bindgen_test]
async fn celleval2_counts_in_wasm() {
    use common::counts_inputs::{noise_factors, predictions_parquet, Cells};
    let papalexi = include_bytes!("../../shared/data/papalexi2021_counts.parquet").to_vec();
    let cells = Cells::of_parquet(papalexi.clone());
    let factors = noise_factors(
        include_bytes!("fixtures/celleval2_counts/noisy_factors.parquet").to_vec(),
        &cells.genes,
    );
    let mut options = EvaluateOptions::default();
    for (name, value) in [
        ("metrics", "calibrated,celleval2"),
        ("compat", "celleval"),
        ("normalize", "true"),
        ("predictions-counts", "true"),
        ("max-cells", "100000"),
    ] {
        calibra::options::set(&mut options, name, value).unwrap();
    }
    options.per_gene_tables = false;
    let eval = evaluate(
        Inputs {
            cells: Arc::new(MemorySource::new("papalexi.parquet", papalexi)),
            predictions: vec![Arc::new(MemorySource::new(
                "predictions.parquet",
                predictions_parquet(&cells, &factors),
            ))],
            split: None,
        },
        &options,
        &mut |_, _| {},
    )
    .expect("evaluation succeeds in wasm");
    macro_rules! counts_run {
        ($model:literal) => {
            include_str!(concat!(
                "fixtures/celleval2_counts/",
                $model,
                "/full_libm/results.csv"
            ))
        };
    }
    celleval2_equals(
        &eval,
        &[
            ("collapsed_counts", counts_run!("collapsed_counts")),
            ("noisy_counts", counts_run!("noisy_counts")),
        ],
    );
}

/// cell-eval2's long `results.csv` of each (model, text) against the family's rows
/// (tolerances as in `tests/celleval2.rs`).
fn celleval2_equals(eval: &calibra::pipeline::Evaluation, runs: &[(&str, &str)]) {
    let ours = calibra::report::context_table(&eval.contexts[0], "celleval2_results.csv")
        .unwrap()
        .expect("celleval2_results.csv");
    let column = |name: &str| &ours.columns.iter().find(|(n, _)| n == name).expect(name).1;
    let text = |name: &str| match column(name) {
        calibra::report::Column::Str(v) => v.clone(),
        _ => panic!("{name}"),
    };
    let values = match column("value") {
        calibra::report::Column::F64(v) => v.clone(),
        _ => panic!("value"),
    };
    let (models, perts, metrics) = (text("model"), text("perturbation"), text("metric"));
    let mut compared = 0;
    for &(model, csv) in runs {
        for row in common::golden::read_csv(csv).rows {
            let (p, m) = (row[0].to_string(), row[1].to_string());
            let (p, m) = (p.trim_matches('"'), m.trim_matches('"'));
            let at = (0..models.len())
                .find(|&i| models[i] == model && perts[i] == p && metrics[i] == m)
                .unwrap_or_else(|| panic!("no row {model} {p} {m}"));
            let got = values[at];
            let ok = match &row[2] {
                common::golden::Value::Num(x) if x.is_nan() => got.is_nan(),
                common::golden::Value::Num(x) => {
                    let tol = if m == "de_wilcoxon_lfc_nmae" {
                        1e-7
                    } else {
                        1e-9
                    };
                    (x - got).abs() <= (tol * x.abs()).max(1e-13)
                }
                _ => false,
            };
            assert!(ok, "{model} {m} {p}: cell-eval2 {}, calibra {got}", row[2]);
            compared += 1;
        }
    }
    web_sys::console::log_1(
        &format!("celleval2 in wasm: {compared} values equal cell-eval2's").into(),
    );
}

/// Evaluates `cells` against golden_small's predictions and compares every output file with
/// the golden expected outputs.
fn check_golden(cells: SharedSource, what: &str) {
    let preds: SharedSource = Arc::new(MemorySource::new(
        "predictions.parquet",
        golden!("predictions.parquet"),
    ));
    let eval = evaluate(
        Inputs {
            cells,
            predictions: vec![preds],
            split: None,
        },
        &EvaluateOptions::default(),
        &mut |_, _| {},
    )
    .expect("evaluation succeeds in wasm");
    let expected: [(&str, Vec<u8>); 9] = [
        ("metrics.csv", golden!("expected/metrics.csv")),
        ("summary.csv", golden!("expected/summary.csv")),
        ("drf.csv", golden!("expected/drf.csv")),
        ("drf_summary.csv", golden!("expected/drf_summary.csv")),
        ("stats.csv", golden!("expected/stats.csv")),
        ("perturbations.csv", golden!("expected/perturbations.csv")),
        ("deg_gt.parquet", golden!("expected/deg_gt.parquet")),
        ("deg_td.parquet", golden!("expected/deg_td.parquet")),
        ("baselines.parquet", golden!("expected/baselines.parquet")),
    ];
    let mut reports = Vec::new();
    for (file, want) in expected {
        // Written as the page's downloads are: chunk by chunk.
        let output = calibra::report::output_file(file).expect("an output file");
        let mut got = Vec::new();
        calibra::report::write_output(&eval.contexts[0], output, &mut |b| {
            got.extend_from_slice(b);
            Ok(())
        })
        .expect("written");
        reports.push((
            file.to_string(),
            common::golden::compare_bytes(file, got, want),
        ));
    }
    let report = common::golden::report_of(reports);
    web_sys::console::log_1(&format!("{what} in wasm:\n{report}").into());
    report.assert_ok();
}
