//! AnnData `.h5ad` input (issue: real data as scientists hold it): the same cells written as
//! h5ad in every encoding anndata uses give outputs identical to the wide Parquet table, and
//! the real PerturBench h5ad is evaluated as is, per context.

mod common;

use calibra::pipeline::EvaluateOptions;
use common::h5ad::{write_h5ad, H5adVariant};
use common::{assert_same_outputs, outputs};

#[test]
fn every_h5ad_encoding_gives_the_outputs_of_parquet() {
    let dir = common::shared_dir().join("golden/golden_small");
    let cells = dir.join("data.parquet");
    let preds = dir.join("predictions.parquet");
    let opts = EvaluateOptions::default();
    let reference = outputs(&cells, &preds, &opts);
    let tmp = tempfile::tempdir().unwrap();
    for (variant, layer, gene_column) in [
        (H5adVariant::CsrF32, None, None),
        (H5adVariant::CsrF64Lzf, None, None),
        (H5adVariant::DenseF32, None, None),
        (H5adVariant::DenseF64Chunked, None, None),
        (H5adVariant::Layer, Some("logged"), None),
        (H5adVariant::Raw, Some("raw"), None),
        (H5adVariant::GeneColumn, None, Some("gene_symbols")),
        (H5adVariant::PlainColumns, None, None),
        (H5adVariant::Csc, None, None),
    ] {
        let path = write_h5ad(&cells, variant, tmp.path());
        let mut o = opts.clone();
        o.cells.read.layer = layer.map(str::to_string);
        o.cells.read.gene_column = gene_column.map(str::to_string);
        // Small batches: windows that straddle compressed chunks.
        o.cells.batch_rows = 61;
        let got = outputs(&path, &preds, &o);
        assert_same_outputs(&got, &reference, &format!("{variant:?} (h5ad vs Parquet)"));
    }
}

#[test]
fn an_obsm_embedding_is_read_by_windows_of_cells() {
    use arrow::array::{Array, AsArray};
    use calibra::io::table::{ReadOptions, EMBEDDING_COLUMN};
    let dir = common::shared_dir().join("golden/golden_small");
    let tmp = tempfile::tempdir().unwrap();
    let path = write_h5ad(&dir.join("data.parquet"), H5adVariant::Csc, tmp.path());
    let read = ReadOptions {
        embedding: Some("X_pca".into()),
        ..Default::default()
    };
    let table = calibra::io::Table::open(calibra::io::open_file(&path).unwrap(), &read).unwrap();
    let col = table.schema.index_of(EMBEDDING_COLUMN).unwrap();
    let mut cell = 0usize;
    for item in table.batches(Some(&[col]), 100).unwrap() {
        let (batch, _) = item.unwrap();
        let rows = batch.column(0).as_fixed_size_list();
        assert_eq!(rows.value_length(), 3);
        for r in 0..rows.len() {
            let v = rows.value(r);
            let v = v.as_primitive::<arrow::datatypes::Float32Type>();
            assert_eq!(
                v.values(),
                &[cell as f32, cell as f32 / 2.0, -(cell as f32)]
            );
            cell += 1;
        }
    }
    assert_eq!(cell, 626);
    let missing = ReadOptions {
        embedding: Some("X_umap".into()),
        ..Default::default()
    };
    let e = calibra::io::Table::open(calibra::io::open_file(&path).unwrap(), &missing)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("no dense 'obsm/X_umap' (obsm holds: X_pca)"),
        "{e}"
    );
}

#[test]
fn raw_counts_by_genes_normalise_like_by_rows() {
    // Integer counts stored CSC (read by genes, totals in a first pass) and CSR (by rows):
    // the same normalised statistics.
    let dir = common::shared_dir().join("golden/golden_small");
    let mut cells = common::h5ad::read_cells(&dir.join("data.parquet"));
    for row in cells.values.iter_mut() {
        for x in row.iter_mut() {
            *x = (*x * 7.0).round();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let by_rows =
        common::h5ad::write_cells(&cells, H5adVariant::CsrF32, &tmp.path().join("r.h5ad"));
    let by_genes = common::h5ad::write_cells(&cells, H5adVariant::Csc, &tmp.path().join("g.h5ad"));
    let mut opts = EvaluateOptions::default();
    opts.cells.normalize = true;
    opts.cells.batch_rows = 61;
    let preds = dir.join("predictions.parquet");
    let reference = outputs(&by_rows, &preds, &opts);
    assert_same_outputs(
        &outputs(&by_genes, &preds, &opts),
        &reference,
        "CSC vs CSR, normalised",
    );
}

#[test]
fn predictions_as_h5ad_match() {
    let dir = common::shared_dir().join("golden/golden_small");
    let cells = dir.join("data.parquet");
    let opts = EvaluateOptions::default();
    let reference = outputs(&cells, &dir.join("predictions.parquet"), &opts);
    // Cell-level predictions: the observed cells themselves as one model's "predictions",
    // averaged per perturbation, against the same file given as Parquet.
    let tmp = tempfile::tempdir().unwrap();
    let as_h5ad = write_h5ad(&cells, H5adVariant::CsrF32, tmp.path());
    let renamed = tmp.path().join("predictions.h5ad");
    std::fs::rename(&as_h5ad, &renamed).unwrap();
    let from_parquet = tmp.path().join("predictions.parquet");
    std::fs::copy(&cells, &from_parquet).unwrap();
    let a = outputs(&cells, &renamed, &opts);
    let b = outputs(&cells, &from_parquet, &opts);
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
    assert_same_outputs(&a, &b, "h5ad predictions vs the same as Parquet");
}

#[test]
fn the_perturbench_h5ad_is_evaluated_as_is_per_context() {
    use calibra::pipeline::{evaluate, Inputs};
    let path = common::shared_dir().join("data/perturbench_devel_norman19_mcfaline23.h5ad");
    let mut opts = EvaluateOptions::default();
    opts.cells.columns.perturbation = "condition".into();
    opts.cells.columns.context = Some("cell_type".into());
    opts.n_resamples = 100;
    let inputs = Inputs {
        cells: calibra::io::open_file(&path).unwrap(),
        predictions: vec![],
        split: None,
    };
    let e = evaluate(inputs, &opts, &mut |_, _| {}).unwrap();
    let contexts: Vec<_> = e
        .contexts
        .iter()
        .map(|c| c.context.clone().unwrap())
        .collect();
    assert_eq!(contexts, ["A172", "T98G", "U87MG", "k562"]);
    assert_eq!(e.cells.n_cells, 5961);
    assert_eq!(e.cells.genes.len(), 500);
    assert_eq!(e.cells.layout, "sparse-csr");
    assert_eq!(e.cells.format.name(), "H5ad");
    // The Norman part: control + singles + 15 combos of K562 cells.
    let k562 = &e.contexts[3].dataset;
    assert!(k562.labels.iter().any(|l| l.contains('+')));
}

/// Writes one small h5ad file per encoding into `$CALIBRA_FUZZ_SEEDS` (the fuzzer's seeds;
/// run by `scripts/fuzz.sh`).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("CALIBRA_FUZZ_SEEDS").expect("set CALIBRA_FUZZ_SEEDS"),
    );
    let mut cells =
        common::h5ad::read_cells(&common::shared_dir().join("golden/golden_small/data.parquet"));
    // Small seeds mutate faster: 40 cells, 12 genes.
    cells.perturbation.truncate(40);
    cells.half.truncate(40);
    cells.fold.truncate(40);
    cells.values.truncate(40);
    cells.genes.truncate(12);
    for row in &mut cells.values {
        row.truncate(12);
    }
    for variant in [
        H5adVariant::CsrF32,
        H5adVariant::CsrF64Lzf,
        H5adVariant::DenseF32,
        H5adVariant::DenseF64Chunked,
        H5adVariant::GeneColumn,
        H5adVariant::PlainColumns,
        H5adVariant::Csc,
    ] {
        common::h5ad::write_cells(&cells, variant, &dir.join(format!("{variant:?}.h5ad")));
    }
}
