//! Bad input (SPEC §1.4): every case gives a clear message naming the file and the column, row
//! or gene, and what to do — never a panic. The CLI exits with code 2 and leaves no output.

use arrow::array::{ArrayRef, Float32Array, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use calibra::io;
use calibra::pipeline::{evaluate, EvaluateOptions, Inputs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// A small valid wide table: control + 3 perturbations × 8 cells, 4 genes.
struct Cells {
    labels: Vec<String>,
    half: Vec<String>,
    fold: Vec<i32>,
    genes: Vec<String>,
    values: Vec<Vec<f32>>, // per gene
}

fn valid_cells() -> Cells {
    let mut labels = Vec::new();
    let mut half = Vec::new();
    let mut fold = Vec::new();
    for (i, l) in ["control", "A", "B", "C"].iter().enumerate() {
        for c in 0..8 {
            labels.push(l.to_string());
            half.push(if c % 2 == 0 { "gt" } else { "td" }.to_string());
            fold.push(if i == 0 { -1 } else { (i - 1) as i32 });
        }
    }
    let n = labels.len();
    let genes: Vec<String> = ["A", "B", "C", "D"].iter().map(|s| s.to_string()).collect();
    let values = (0..genes.len())
        .map(|g| {
            (0..n)
                .map(|r| ((r * 7 + g * 3) % 11) as f32 * 0.25)
                .collect()
        })
        .collect();
    Cells {
        labels,
        half,
        fold,
        genes,
        values,
    }
}

fn write_cells(c: &Cells, path: &Path) {
    let mut fields = vec![
        Field::new("perturbation", DataType::Utf8, false),
        Field::new("half", DataType::Utf8, false),
        Field::new("fold", DataType::Int32, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(c.labels.clone())),
        Arc::new(StringArray::from(c.half.clone())),
        Arc::new(Int32Array::from(c.fold.clone())),
    ];
    // No halves given: the column is left out (calibra assigns them).
    if c.half.is_empty() {
        fields.remove(1);
        cols.remove(1);
    }
    for (g, v) in c.genes.iter().zip(&c.values) {
        fields.push(Field::new(g, DataType::Float32, false));
        cols.push(Arc::new(Float32Array::from(v.clone())));
    }
    write_batch(
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap(),
        path,
    );
}

fn write_batch(batch: RecordBatch, path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn write_predictions(genes: &[&str], value: f32, path: &Path) {
    let mut fields = vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("perturbation", DataType::Utf8, false),
    ];
    let labels = vec!["A".to_string(), "B".into(), "C".into()];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["m"; 3])),
        Arc::new(StringArray::from(labels)),
    ];
    for g in genes {
        fields.push(Field::new(*g, DataType::Float32, false));
        cols.push(Arc::new(Float32Array::from(vec![value; 3])));
    }
    write_batch(
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap(),
        path,
    );
}

/// Runs the library on files and returns the error text (panics if it succeeds).
fn error_of(cells: &Path, predictions: &[PathBuf], opts: &EvaluateOptions) -> String {
    let inputs = Inputs {
        cells: io::open_file(cells).unwrap(),
        predictions: predictions
            .iter()
            .map(|p| io::open_file(p).unwrap())
            .collect(),
        split: None,
    };
    match evaluate(inputs, opts, &mut |_, _| {}) {
        Ok(_) => panic!("expected an error for {}", cells.display()),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message should mention {p:?}:\n{msg}");
    }
}

fn cells_error(mutate: impl FnOnce(&mut Cells)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut c = valid_cells();
    mutate(&mut c);
    let path = dir.path().join("cells.parquet");
    write_cells(&c, &path);
    error_of(&path, &[], &EvaluateOptions::default())
}

#[test]
fn valid_fixture_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cells.parquet");
    write_cells(&valid_cells(), &path);
    let inputs = Inputs {
        cells: io::open_file(&path).unwrap(),
        predictions: vec![],
        split: None,
    };
    evaluate(inputs, &EvaluateOptions::default(), &mut |_, _| {}).expect("the fixture is valid");
}

/// A run that cannot fit its memory limit stops once its labels are known, before a value is
/// read, for cells with and without a half column — and says what to do.
#[test]
fn over_the_memory_limit_stops_before_reading_values() {
    for with_halves in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cells.parquet");
        let mut c = valid_cells();
        if !with_halves {
            c.half.clear();
        }
        write_cells(&c, &path);
        let preds = dir.path().join("model.parquet");
        write_predictions(&["A", "B", "C", "D"], 0.5, &preds);
        let inputs = Inputs {
            cells: io::open_file(&path).unwrap(),
            predictions: vec![io::open_file(&preds).unwrap()],
            split: None,
        };
        let opts = EvaluateOptions {
            memory_limit: Some(64 << 20),
            ..EvaluateOptions::default()
        };
        let mut read_any = false;
        let msg = match evaluate(inputs, &opts, &mut |stage, f| {
            read_any |= f > 0.0 || stage != calibra::pipeline::Stage::ReadCells;
        }) {
            Ok(_) => panic!("64 MiB cannot hold an evaluation"),
            Err(e) => e.to_string(),
        };
        assert_mentions(
            &msg,
            &["4 labels × 4 genes", "3 predicted profiles", "what to do"],
        );
        assert!(
            !read_any,
            "stopped after reading began (halves given: {with_halves})"
        );
    }
}

#[test]
fn missing_perturbation_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cells.parquet");
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("label", DataType::Utf8, false),
            Field::new("G1", DataType::Float32, false),
        ])),
        vec![
            Arc::new(StringArray::from(vec!["control"])),
            Arc::new(Float32Array::from(vec![1.0f32])),
        ],
    )
    .unwrap();
    write_batch(batch, &path);
    let msg = error_of(&path, &[], &EvaluateOptions::default());
    assert_mentions(
        &msg,
        &["cells.parquet", "perturbation", "--perturbation-column"],
    );
}

#[test]
fn no_control_cells() {
    let msg = cells_error(|c| {
        for l in c.labels.iter_mut() {
            if l == "control" {
                *l = "D".into();
            }
        }
    });
    assert_mentions(
        &msg,
        &[
            "cells.parquet",
            "no control cells",
            "--control-label",
            "most frequent labels",
            "'D' (8 cells)",
        ],
    );
}

#[test]
fn duplicated_gene_names() {
    let msg = cells_error(|c| c.genes[2] = "A".into());
    assert_mentions(&msg, &["cells.parquet", "duplicated gene", "'A'"]);
}

#[test]
fn non_numeric_expression_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cells.parquet");
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("perturbation", DataType::Utf8, false),
            Field::new("G1", DataType::Float32, false),
            Field::new("G2", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from(vec!["control", "A"])),
            Arc::new(Float32Array::from(vec![1.0f32, 2.0])),
            Arc::new(StringArray::from(vec!["x", "y"])),
        ],
    )
    .unwrap();
    write_batch(batch, &path);
    let msg = error_of(&path, &[], &EvaluateOptions::default());
    assert_mentions(&msg, &["cells.parquet", "column 'G2'", "numeric"]);
}

#[test]
fn non_finite_expression() {
    let msg = cells_error(|c| {
        c.values[1][5] = f32::NAN;
        c.values[3][9] = f32::INFINITY;
    });
    assert_mentions(
        &msg,
        &["cells.parquet", "gene 'B'", "row 5", "2 non-finite"],
    );
}

#[test]
fn negative_values() {
    let msg = cells_error(|c| c.values[0][3] = -0.5);
    assert_mentions(&msg, &["cells.parquet", "gene 'A'", "row 3", "negative"]);
}

#[test]
fn raw_counts_need_normalize() {
    let msg = cells_error(|c| {
        for v in c.values.iter_mut() {
            for x in v.iter_mut() {
                *x = (*x * 40.0).round();
            }
        }
    });
    assert_mentions(&msg, &["cells.parquet", "raw counts", "--normalize"]);
}

/// Raw-count predictions (`--predictions-counts`) need raw-count cells (`--normalize`), and
/// a negative predicted count is refused with its file, row and gene.
#[test]
fn raw_count_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let (cells, predictions) = (
        dir.path().join("cells.parquet"),
        dir.path().join("pred.parquet"),
    );
    let mut counts = valid_cells();
    counts
        .values
        .iter_mut()
        .flatten()
        .for_each(|x| *x = (*x * 40.0).round());
    write_cells(&counts, &cells);
    write_predictions(&["A", "B", "C", "D"], -1.0, &predictions);
    let mut opts = EvaluateOptions::default();
    calibra::options::set(&mut opts, "predictions-counts", "true").unwrap();
    let msg = error_of(&cells, std::slice::from_ref(&predictions), &opts);
    assert_mentions(&msg, &["--predictions-counts", "--normalize"]);
    calibra::options::set(&mut opts, "normalize", "true").unwrap();
    let msg = error_of(&cells, &[predictions], &opts);
    assert_mentions(
        &msg,
        &[
            "pred.parquet",
            "row 0",
            "gene 'A'",
            "negative predicted count",
        ],
    );
}

#[test]
fn empty_file_and_empty_table() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.parquet");
    std::fs::write(&empty, b"").unwrap();
    assert_mentions(
        &error_of(&empty, &[], &EvaluateOptions::default()),
        &["empty.parquet", "empty"],
    );

    let mut c = valid_cells();
    c.labels.clear();
    c.half.clear();
    c.fold.clear();
    for v in c.values.iter_mut() {
        v.clear();
    }
    let rows = dir.path().join("norows.parquet");
    write_cells(&c, &rows);
    assert_mentions(
        &error_of(&rows, &[], &EvaluateOptions::default()),
        &["norows.parquet", "no rows"],
    );
}

#[test]
fn not_parquet_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"perturbation,G1\ncontrol,1\n").unwrap();
    assert_mentions(
        &error_of(&junk, &[], &EvaluateOptions::default()),
        &["junk.parquet", "not a Parquet or Arrow IPC"],
    );

    let good = dir.path().join("good.parquet");
    write_cells(&valid_cells(), &good);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_mentions(
        &error_of(&cut, &[], &EvaluateOptions::default()),
        &["cut.parquet", "truncated"],
    );
}

#[test]
fn half_column_with_other_values() {
    let msg = cells_error(|c| c.half[4] = "first".into());
    assert_mentions(
        &msg,
        &["cells.parquet", "column 'half'", "row 4", "'first'"],
    );
}

#[test]
fn single_cell_perturbation_is_warned_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = valid_cells();
    c.labels.push("E".into());
    c.half.push("gt".into());
    c.fold.push(0);
    for v in c.values.iter_mut() {
        v.push(0.5);
    }
    let path = dir.path().join("cells.parquet");
    write_cells(&c, &path);
    let inputs = Inputs {
        cells: io::open_file(&path).unwrap(),
        predictions: vec![],
        split: None,
    };
    let e = evaluate(inputs, &EvaluateOptions::default(), &mut |_, _| {})
        .expect("a single-cell perturbation is not fatal");
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("single cell") && n.contains('E')),
        "{:?}",
        e.notes
    );
}

#[test]
fn predictions_with_nan() {
    let dir = tempfile::tempdir().unwrap();
    let cells = dir.path().join("cells.parquet");
    write_cells(&valid_cells(), &cells);
    let pred = dir.path().join("model.parquet");
    write_predictions(&["A", "B", "C", "D"], f32::NAN, &pred);
    let msg = error_of(&cells, &[pred], &EvaluateOptions::default());
    assert_mentions(&msg, &["model.parquet", "non-finite", "row 0"]);
}

#[test]
fn prediction_genes_not_matching() {
    let dir = tempfile::tempdir().unwrap();
    let cells = dir.path().join("cells.parquet");
    write_cells(&valid_cells(), &cells);
    let pred = dir.path().join("model.parquet");
    write_predictions(&["A", "B", "X"], 0.5, &pred);
    let msg = error_of(
        &cells,
        std::slice::from_ref(&pred),
        &EvaluateOptions::default(),
    );
    assert_mentions(
        &msg,
        &[
            "model.parquet",
            "lack 2 of the 4",
            "C, D",
            "--drop-missing-genes",
        ],
    );

    // With the option, the shared genes are evaluated.
    let mut opts = EvaluateOptions::default();
    opts.predictions.drop_missing_genes = true;
    let inputs = Inputs {
        cells: io::open_file(&cells).unwrap(),
        predictions: vec![io::open_file(&pred).unwrap()],
        split: None,
    };
    let e = evaluate(inputs, &opts, &mut |_, _| {}).expect("evaluates the shared genes");
    assert_eq!(e.genes, vec!["A".to_string(), "B".to_string()]);
}

#[test]
fn cli_exits_2_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let cells = dir.path().join("cells.parquet");
    write_cells(&valid_cells(), &cells);
    let pred = dir.path().join("model.parquet");
    write_predictions(&["A", "B"], 0.5, &pred);
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_calibra"))
        .args(["evaluate", "--quiet", "--cells"])
        .arg(&cells)
        .arg("--predictions")
        .arg(&pred)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_mentions(&stderr, &["model.parquet", "--drop-missing-genes"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "no output directory after an error");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn predictions_passed_as_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.parquet");
    write_predictions(&["A", "B", "C", "D"], 0.5, &path);
    let msg = error_of(&path, &[], &EvaluateOptions::default());
    assert_mentions(
        &msg,
        &["model.parquet", "'model'", "pass this file as predictions"],
    );
}

mod common;

/// An h5ad file of the golden cells, then `mutate`d bytes or structure: the error text.
fn h5ad_error(variant: common::h5ad::H5adVariant, opts: &EvaluateOptions) -> String {
    let dir = tempfile::tempdir().unwrap();
    let src = common::shared_dir().join("golden/golden_small/data.parquet");
    let path = common::h5ad::write_h5ad(&src, variant, dir.path());
    error_of(&path, &[], opts)
}

#[test]
fn h5ad_not_anndata_missing_x_and_csc() {
    use hdf5_pure::{AttrValue, FileBuilder};
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.h5");
    let mut fb = FileBuilder::new();
    fb.create_dataset("signal").with_f64_data(&[1.0, 2.0]);
    std::fs::write(&plain, fb.finish().unwrap()).unwrap();
    assert_mentions(
        &error_of(&plain, &[], &EvaluateOptions::default()),
        &["plain.h5", "not AnnData", "write_h5ad"],
    );

    let no_x = dir.path().join("no_x.h5ad");
    let mut fb = FileBuilder::new();
    fb.set_attr("encoding-type", AttrValue::VarLenString("anndata".into()));
    for name in ["obs", "var"] {
        let mut g = fb.create_group(name);
        g.set_attr("encoding-type", AttrValue::VarLenString("dataframe".into()));
        fb.add_group(g.finish());
    }
    std::fs::write(&no_x, fb.finish().unwrap()).unwrap();
    assert_mentions(
        &error_of(&no_x, &[], &EvaluateOptions::default()),
        &["no_x.h5ad", "no 'X'", "--layer"],
    );

    // A CSC matrix is read by genes for the observed cells; predictions are read by cells.
    let dir = tempfile::tempdir().unwrap();
    let src = common::shared_dir().join("golden/golden_small/data.parquet");
    let csc = common::h5ad::write_h5ad(&src, common::h5ad::H5adVariant::Csc, dir.path());
    assert_mentions(
        &error_of(&src, &[csc], &EvaluateOptions::default()),
        &["Csc.h5ad", "csc_matrix", "tocsr()"],
    );
}

#[test]
fn h5ad_unknown_layer_and_gene_column() {
    let mut opts = EvaluateOptions::default();
    opts.cells.read.layer = Some("counts".into());
    assert_mentions(
        &h5ad_error(common::h5ad::H5adVariant::CsrF32, &opts),
        &["CsrF32.h5ad", "no 'layers/counts'", "--layer"],
    );
    let mut opts = EvaluateOptions::default();
    opts.cells.read.gene_column = Some("symbol".into());
    assert_mentions(
        &h5ad_error(common::h5ad::H5adVariant::GeneColumn, &opts),
        &[
            "GeneColumn.h5ad",
            "no column 'symbol'",
            "gene_symbols",
            "--gene-column",
        ],
    );
    let mut opts = EvaluateOptions::default();
    opts.cells.columns.perturbation = "condition".into();
    assert_mentions(
        &h5ad_error(common::h5ad::H5adVariant::CsrF32, &opts),
        &[
            "CsrF32.h5ad",
            "no column 'condition'",
            "text columns: perturbation, half",
        ],
    );
}

#[test]
fn h5ad_truncated_anywhere_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::shared_dir().join("golden/golden_small/data.parquet");
    let path = common::h5ad::write_h5ad(&src, common::h5ad::H5adVariant::CsrF32, dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.h5ad");
    for fraction in [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99] {
        std::fs::write(&cut, &bytes[..(bytes.len() as f64 * fraction) as usize]).unwrap();
        assert_mentions(
            &error_of(&cut, &[], &EvaluateOptions::default()),
            &["cut.h5ad", "truncated"],
        );
    }
}

/// Runs the CLI's `evaluate` with a split file; returns (exit code, stderr, output dir exists).
fn cli_with_split(split: &str) -> (Option<i32>, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let cells = dir.path().join("cells.parquet");
    write_cells(&valid_cells(), &cells);
    let split_path = dir.path().join("split.csv");
    std::fs::write(&split_path, split).unwrap();
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_calibra"))
        .args(["evaluate", "--quiet", "--cells"])
        .arg(&cells)
        .arg("--split-file")
        .arg(&split_path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (run.status.code(), stderr, out.exists())
}

#[test]
fn split_file_naming_unknown_perturbations() {
    let (code, msg, out) =
        cli_with_split("perturbation,split\nA,test\nB,train\nZZZ,test\nYYY,val\n");
    assert_eq!(code, Some(2));
    assert!(!out, "no output after an error");
    assert_mentions(
        &msg,
        &[
            "split.csv",
            "2 perturbation(s) the cells do not have",
            "YYY, ZZZ",
            "calibra split",
        ],
    );
    let (code, msg, _) = cli_with_split("perturbation,cell_line,split\nA,K562,test\n");
    assert_eq!(code, Some(2));
    assert_mentions(&msg, &["split.csv", "A (K562)"]);
}

#[test]
fn split_file_with_other_values_or_columns() {
    let (code, msg, _) = cli_with_split("perturbation,split\nA,test\nB,holdout\n");
    assert_eq!(code, Some(2));
    assert_mentions(
        &msg,
        &[
            "split.csv",
            "column 'split'",
            "row 1",
            "'holdout'",
            "train, val, test, excluded",
        ],
    );
    let (code, msg, _) = cli_with_split("perturbation,fold\nA,1\n");
    assert_eq!(code, Some(2));
    assert_mentions(
        &msg,
        &[
            "split.csv",
            "no split column",
            "the header has perturbation, fold",
        ],
    );
    let (code, msg, _) = cli_with_split("");
    assert_eq!(code, Some(2));
    assert_mentions(&msg, &["split.csv"]);
}

/// The fixture with its fold column replaced by a text column `split` of `value(label)`.
fn split_column_cells(value: impl Fn(&str) -> &'static str, keep_fold: bool) -> PathBuf {
    let c = valid_cells();
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("cells.parquet");
    let mut fields = vec![
        Field::new("perturbation", DataType::Utf8, false),
        Field::new("half", DataType::Utf8, false),
        Field::new("split", DataType::Utf8, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(c.labels.clone())),
        Arc::new(StringArray::from(c.half.clone())),
        Arc::new(StringArray::from_iter_values(
            c.labels.iter().map(|l| value(l)),
        )),
    ];
    if keep_fold {
        fields.push(Field::new("fold", DataType::Int32, false));
        cols.push(Arc::new(Int32Array::from(c.fold.clone())));
    }
    for (g, v) in c.genes.iter().zip(&c.values) {
        fields.push(Field::new(g, DataType::Float32, false));
        cols.push(Arc::new(Float32Array::from(v.clone())));
    }
    write_batch(
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap(),
        &path,
    );
    path
}

#[test]
fn split_column_with_other_values() {
    let path = split_column_cells(|l| if l == "B" { "holdout" } else { "train" }, false);
    let msg = error_of(&path, &[], &EvaluateOptions::default());
    assert_mentions(
        &msg,
        &[
            "cells.parquet",
            "column 'split'",
            "row 16",
            "'holdout'",
            "train, val, test, excluded",
        ],
    );
}

#[test]
fn fold_and_split_columns_together() {
    let path = split_column_cells(|_| "train", true);
    let msg = error_of(&path, &[], &EvaluateOptions::default());
    assert_mentions(
        &msg,
        &[
            "cells.parquet",
            "both a fold column ('fold') and a split column ('split')",
            "keep one",
        ],
    );
}

/// A row of a long table: cell, perturbation, gene, value.
type LongRow<'a> = (&'a str, &'a str, &'a str, f32);

/// A long table of rows; its path.
fn long_cells(rows: &[LongRow<'_>], dir: &Path) -> PathBuf {
    let path = dir.join("long.parquet");
    let col = |f: &dyn Fn(&LongRow<'_>) -> String| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("cell", DataType::Utf8, false),
            Field::new("perturbation", DataType::Utf8, false),
            Field::new("gene", DataType::Utf8, false),
            Field::new("value", DataType::Float32, false),
        ])),
        vec![
            col(&|r| r.0.to_string()),
            col(&|r| r.1.to_string()),
            col(&|r| r.2.to_string()),
            Arc::new(Float32Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    write_batch(batch, &path);
    path
}

#[test]
fn long_table_not_sorted_by_cell_or_with_a_gene_twice() {
    let dir = tempfile::tempdir().unwrap();
    let unsorted = long_cells(
        &[
            ("c1", "control", "G1", 1.0),
            ("c1", "control", "G2", 2.0),
            ("c3", "A", "G1", 1.0),
            ("c2", "A", "G2", 1.0),
        ],
        dir.path(),
    );
    let msg = error_of(&unsorted, &[], &EvaluateOptions::default());
    assert_mentions(
        &msg,
        &[
            "long.parquet",
            "column 'cell'",
            "row 3",
            "not sorted by cell",
            "'c2' comes after cell 'c3'",
            "sort_values('cell')",
        ],
    );
    let twice = long_cells(
        &[("c1", "control", "G1", 1.0), ("c1", "control", "G1", 2.0)],
        dir.path(),
    );
    let msg = error_of(&twice, &[], &EvaluateOptions::default());
    assert_mentions(
        &msg,
        &[
            "long.parquet",
            "cell 'c1' has gene 'G1' twice (rows 0 and 1)",
            "one row",
        ],
    );
}

#[test]
fn h5ad_options_on_a_parquet_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cells.parquet");
    write_cells(&valid_cells(), &path);
    let mut opts = EvaluateOptions::default();
    opts.cells.read.layer = Some("counts".into());
    assert_mentions(
        &error_of(&path, &[], &opts),
        &[
            "cells.parquet",
            "--layer and --gene-column",
            "parquet file",
            "drop --layer",
        ],
    );
}
