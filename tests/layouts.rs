//! Layout and format equivalence (SPEC §1.1): the same cells written wide, as a dense list, as
//! sparse CSR rows, as long (cell, gene, value) rows, as Arrow IPC file / stream, with every
//! Parquet codec and with dictionary labels give bit-identical outputs.

mod common;

use calibra::pipeline::EvaluateOptions;
use common::layouts::{write_variant, Variant};
use common::{assert_same_outputs, outputs};
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};

#[test]
fn every_layout_and_format_gives_identical_outputs() {
    let dir = common::shared_dir().join("golden/golden_small");
    let preds = dir.join("predictions.parquet");
    let opts = EvaluateOptions::default();
    let reference = outputs(&dir.join("data.parquet"), &preds, &opts);
    let tmp = tempfile::tempdir().unwrap();
    let variants = [
        Variant::DenseFixedList,
        Variant::DenseList,
        Variant::CsrU32,
        Variant::CsrI32,
        Variant::IpcFile,
        Variant::IpcStream,
        Variant::Dictionary,
        Variant::Parquet(Compression::SNAPPY),
        Variant::Parquet(Compression::ZSTD(ZstdLevel::default())),
        Variant::Parquet(Compression::LZ4_RAW),
        Variant::Parquet(Compression::GZIP(GzipLevel::default())),
        Variant::Parquet(Compression::BROTLI(BrotliLevel::default())),
        Variant::Parquet(Compression::UNCOMPRESSED),
        Variant::Long(true),
        Variant::Long(false),
    ];
    for v in variants {
        let path = write_variant(&dir.join("data.parquet"), v, tmp.path());
        let got = outputs(&path, &preds, &opts);
        assert_same_outputs(&got, &reference, &format!("{v:?} (vs the wide layout)"));
    }
    // Long rows read in small pieces: cells straddle the reads.
    let path = write_variant(&dir.join("data.parquet"), Variant::Long(false), tmp.path());
    let small = EvaluateOptions {
        cells: calibra::io::CellOptions {
            batch_rows: 7,
            ..Default::default()
        },
        ..opts.clone()
    };
    let got = outputs(&path, &preds, &small);
    assert_same_outputs(&got, &reference, "long, small reads");
}

#[test]
fn predictions_in_other_layouts_match() {
    let dir = common::shared_dir().join("golden/golden_small");
    let cells = dir.join("data.parquet");
    let opts = EvaluateOptions::default();
    let reference = outputs(&cells, &dir.join("predictions.parquet"), &opts);
    let got = outputs(&cells, &dir.join("predictions.arrow"), &opts);
    assert_eq!(got, reference);
}

#[test]
fn missing_halves_and_folds_are_assigned_deterministically() {
    let dir = common::shared_dir().join("golden/golden_small");
    let tmp = tempfile::tempdir().unwrap();
    let path = write_variant(&dir.join("data.parquet"), Variant::NoHalfFold, tmp.path());
    let preds = dir.join("predictions.parquet");
    let a = outputs(&path, &preds, &EvaluateOptions::default());
    let b = outputs(&path, &preds, &EvaluateOptions::default());
    assert_eq!(a, b);
    let mut other = EvaluateOptions::default();
    other.cells.seed = 7;
    assert_ne!(
        outputs(&path, &preds, &other)["perturbations.csv"],
        a["perturbations.csv"]
    );
}

#[test]
fn sparse_rows_over_several_gene_blocks_match_wide() {
    // 300 genes: five blocks of 64 file positions, each finding its part of a row from the
    // block starts recorded when the rows are decoded.
    let dir = common::shared_dir().join("golden/golden_single");
    let preds = dir.join("predictions.parquet");
    let opts = EvaluateOptions::default();
    let reference = outputs(&dir.join("data.parquet"), &preds, &opts);
    let tmp = tempfile::tempdir().unwrap();
    let path = write_variant(&dir.join("data.parquet"), Variant::CsrU32, tmp.path());
    let got = outputs(&path, &preds, &opts);
    assert_same_outputs(&got, &reference, "sparse rows, 300 genes (vs wide)");
}
