//! `calibra weights` (SPEC §4, §12.7): the exported DEG weights are the WMSE metric's, bit for
//! bit — from the library and from the file the CLI writes — per context; `--all-cells` tests
//! all of each perturbation's cells; bad input gives a clear error and no file.

mod common;

use arrow::array::{Array, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use calibra::io;
use calibra::pipeline::{evaluate, EvaluateOptions, Evaluation, Inputs};
use calibra::weights::{read_weights, DegWeights};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

fn golden_single() -> PathBuf {
    common::shared_dir().join("golden/golden_single/data.parquet")
}

fn evaluation(cells: &Path) -> Evaluation {
    let options = EvaluateOptions {
        n_resamples: 100,
        per_gene_tables: false,
        ..Default::default()
    };
    let inputs = Inputs {
        cells: io::open_file(cells).unwrap(),
        predictions: vec![],
        split: None,
    };
    evaluate(inputs, &options, &mut |_, _| {}).expect("evaluates")
}

fn weights(cells: &Path, all_cells: bool) -> calibra::Result<DegWeights> {
    read_weights(
        io::open_file(cells)?,
        &EvaluateOptions::default().cells,
        all_cells,
        &mut |_| {},
    )
}

fn bits(x: impl IntoIterator<Item = f64>) -> Vec<u64> {
    x.into_iter().map(f64::to_bits).collect()
}

/// The library's weights are the ones the evaluation's WMSE uses, bit for bit: the same
/// contexts, the same perturbations (every one the GT-half DEG test covers) and values.
/// Returns how many evaluated perturbations were compared, per context.
fn assert_same_as_evaluation(cells: &Path) -> Vec<usize> {
    let e = evaluation(cells);
    let w = weights(cells, false).expect("weights");
    assert!(!w.all_cells);
    assert_eq!(w.genes, e.genes);
    assert_eq!(w.contexts.len(), e.contexts.len());
    let mut compared = Vec::new();
    for (c, r) in w.contexts.iter().zip(&e.contexts) {
        assert_eq!(c.context, r.context);
        let names: Vec<&str> = r
            .weights
            .keys()
            .map(|&l| r.dataset.labels[l].as_str())
            .collect();
        assert_eq!(c.perturbations, names, "{:?}", c.context);
        assert_eq!(c.weights.dim(), (names.len(), e.genes.len()));
        for (row, want) in r.weights.values().enumerate() {
            assert_eq!(
                bits(c.weights.row(row).iter().copied()),
                bits(want.iter().copied()),
                "{:?} {}",
                c.context,
                names[row]
            );
        }
        // Every evaluated perturbation with a weight vector is in the file (the others have
        // none: no GT-half DEG test, all-zero weights in the metric).
        let evaluated: Vec<&str> = r
            .dataset
            .evaluated()
            .into_iter()
            .filter(|l| r.weights.contains_key(l))
            .map(|l| r.dataset.labels[l].as_str())
            .collect();
        assert!(evaluated
            .iter()
            .all(|p| c.perturbations.iter().any(|q| q == p)));
        compared.push(evaluated.len());
    }
    compared
}

#[test]
fn weights_are_the_evaluations_bit_for_bit() {
    let compared = assert_same_as_evaluation(&golden_single());
    let e = evaluation(&golden_single());
    // golden_single: every one of the 60 perturbations is evaluated and has weights.
    assert_eq!(compared, vec![e.contexts[0].dataset.evaluated().len()]);
    assert_eq!(compared, vec![60]);
    // Other goldens: small groups without a GT test (golden_small), combos (golden_combo).
    for name in ["golden_small", "golden_combo"] {
        let compared = assert_same_as_evaluation(
            &common::shared_dir().join(format!("golden/{name}/data.parquet")),
        );
        assert!(compared[0] > 0, "{name}");
    }
}

#[test]
fn contexts_are_weighted_separately() {
    // mcfaline23: three cell lines, halves assigned by calibra with the default seed.
    let cells = common::shared_dir().join("data/mcfaline23_subset.parquet");
    let compared = assert_same_as_evaluation(&cells);
    assert_eq!(compared.len(), 3);
    assert!(compared.iter().all(|&n| n > 0), "{compared:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.parquet");
    let run = calibra(&[
        "weights".as_ref(),
        "--quiet".as_ref(),
        "--cells".as_ref(),
        cells.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert_file_holds(&out, &weights(&cells, false).unwrap());
}

#[test]
fn the_cli_file_holds_the_weights_and_gene_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("weights.parquet");
    let run = calibra(&[
        "weights".as_ref(),
        "-q".as_ref(),
        "--cells".as_ref(),
        golden_single().as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("60 perturbation(s)") && stdout.contains("300 gene(s)"),
        "{stdout}"
    );
    let file = assert_file_holds(&out, &weights(&golden_single(), false).unwrap());
    assert_eq!(file.metadata["calibra:all_cells"], "false");
    // No partial file is left beside the output.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["weights.parquet"]);
}

#[test]
fn all_cells_weights_have_the_same_shape_and_scale_but_differ() {
    let gt = weights(&golden_single(), false).unwrap();
    let all = weights(&golden_single(), true).unwrap();
    assert!(all.all_cells);
    assert_eq!(all.genes, gt.genes);
    let (g, a) = (&gt.contexts[0], &all.contexts[0]);
    assert_eq!(a.perturbations, g.perturbations);
    assert_eq!(a.weights.dim(), g.weights.dim());
    let differ = g
        .weights
        .iter()
        .zip(a.weights.iter())
        .filter(|(x, y)| x != y)
        .count();
    assert!(
        differ > g.weights.len() / 2,
        "{differ} of {} weights differ",
        g.weights.len()
    );
    // SPEC §4 scales each perturbation's squared |t| to [0, 1]: its least changed gene has
    // weight 0 and its most changed gene 1 (the WMSE divides by their sum).
    for row in a.weights.rows() {
        assert!(row.iter().all(|&w| (0.0..=1.0).contains(&w)));
        assert_eq!(row.iter().copied().fold(f64::NAN, f64::max), 1.0);
        assert_eq!(row.iter().copied().fold(f64::NAN, f64::min), 0.0);
        assert!(row.sum() > 0.0);
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.parquet");
    let run = calibra(&[
        "weights".as_ref(),
        "-q".as_ref(),
        "--all-cells".as_ref(),
        "--cells".as_ref(),
        golden_single().as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let file = assert_file_holds(&out, &all);
    assert_eq!(file.metadata["calibra:all_cells"], "true");
}

#[test]
fn a_missing_perturbation_column_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cells = dir.path().join("cells.parquet");
    write_cells(&cells, "label", 8);
    let err = weights(&cells, false)
        .expect_err("no perturbation column")
        .to_string();
    for part in [
        "cells.parquet",
        "no perturbation column",
        "--perturbation-column",
    ] {
        assert!(err.contains(part), "{part:?} in {err}");
    }

    let out = dir.path().join("w.parquet");
    let args = |extra: &[&str]| {
        let mut a: Vec<std::ffi::OsString> = vec!["weights".into(), "-q".into(), "--cells".into()];
        a.push(cells.clone().into());
        a.push("--out".into());
        a.push(out.clone().into());
        a.extend(extra.iter().map(|s| s.into()));
        a
    };
    let run = calibra_os(&args(&[]));
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("no perturbation column")
            && stderr.contains("--perturbation-column")
            && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only cells.parquet"
    );

    // Named with the evaluation's option, the column is found.
    let run = calibra_os(&args(&["--perturbation-column", "label"]));
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let file = read_back(&out);
    assert_eq!(file.column_names[..2], ["perturbation", "g0"]);
    assert_eq!(file.batch.num_rows(), 3);
}

#[test]
fn too_few_cells_for_a_deg_test_is_a_clear_error() {
    // 6 cells per label: 3 in the GT half, fewer than the 4 the DEG test needs; 6 in all.
    let dir = tempfile::tempdir().unwrap();
    let cells = dir.path().join("cells.parquet");
    write_cells(&cells, "perturbation", 6);
    let err = weights(&cells, false).expect_err("no DEG test").to_string();
    assert!(
        err.contains("no perturbation has DEG weights") && err.contains("--all-cells"),
        "{err}"
    );
    let all = weights(&cells, true).expect("all cells are enough");
    assert_eq!(all.contexts[0].perturbations, ["A", "B", "C"]);
}

// ---------------------------------------------------------------------------------------------

fn calibra(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibra"))
        .args(args)
        .output()
        .unwrap()
}

fn calibra_os(args: &[std::ffi::OsString]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibra"))
        .args(args)
        .output()
        .unwrap()
}

/// A weights file read back with the parquet crate.
struct WeightsFile {
    column_names: Vec<String>,
    metadata: BTreeMap<String, String>,
    batch: RecordBatch,
}

fn read_back(path: &Path) -> WeightsFile {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .expect("a Parquet file");
    let metadata = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter_map(|kv| kv.value.clone().map(|v| (kv.key.clone(), v)))
        .collect();
    let schema = reader.schema().clone();
    let batches: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
    WeightsFile {
        column_names: schema.fields().iter().map(|f| f.name().clone()).collect(),
        metadata,
        batch: arrow::compute::concat_batches(&schema, &batches).unwrap(),
    }
}

/// The file at `path` holds `w`: label columns, one Float64 column per gene named by the gene
/// (bit for bit the weights), and the gene list and version in its key-value metadata.
fn assert_file_holds(path: &Path, w: &DegWeights) -> WeightsFile {
    let file = read_back(path);
    let with_context = w.contexts.iter().any(|c| c.context.is_some());
    let labels: &[&str] = if with_context {
        &["context", "perturbation"]
    } else {
        &["perturbation"]
    };
    assert_eq!(file.column_names[..labels.len()], *labels);
    assert_eq!(file.column_names[labels.len()..], w.genes[..]);
    let genes: Vec<String> = serde_json::from_str(&file.metadata["calibra:genes"]).unwrap();
    assert_eq!(genes, w.genes);
    assert_eq!(file.metadata["calibra:version"], env!("CARGO_PKG_VERSION"));
    let text = |name: &str| -> Vec<String> {
        let a = file.batch.column_by_name(name).unwrap();
        let a = a.as_any().downcast_ref::<StringArray>().expect("utf8");
        (0..a.len()).map(|i| a.value(i).to_string()).collect()
    };
    let rows: Vec<(String, &str, usize)> = w
        .contexts
        .iter()
        .flat_map(|c| {
            let name = c.context.clone().unwrap_or_default();
            (0..c.perturbations.len()).map(move |i| (name.clone(), c.perturbations[i].as_str(), i))
        })
        .collect();
    assert_eq!(file.batch.num_rows(), rows.len());
    assert_eq!(
        text("perturbation"),
        rows.iter().map(|r| r.1.to_string()).collect::<Vec<_>>()
    );
    if with_context {
        assert_eq!(
            text("context"),
            rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()
        );
    }
    for (g, gene) in w.genes.iter().enumerate() {
        let col = file.batch.column_by_name(gene).unwrap();
        assert_eq!(col.data_type(), &DataType::Float64);
        let col = col.as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(col.null_count(), 0);
        let mut want = Vec::new();
        for c in &w.contexts {
            want.extend(c.weights.column(g).iter().copied());
        }
        assert_eq!(bits(col.values().iter().copied()), bits(want), "{gene}");
    }
    file
}

/// A wide cells table: control, A, B and C with `n` cells each (alternately GT and TD), four
/// genes, labels in the column `label_column`.
fn write_cells(path: &Path, label_column: &str, n: usize) {
    let mut labels = Vec::new();
    let mut halves = Vec::new();
    for l in ["control", "A", "B", "C"] {
        for c in 0..n {
            labels.push(l);
            halves.push(if c % 2 == 0 { "gt" } else { "td" });
        }
    }
    let mut fields = vec![
        Field::new(label_column, DataType::Utf8, false),
        Field::new("half", DataType::Utf8, false),
    ];
    let mut columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from(labels.clone())),
        Arc::new(StringArray::from(halves)),
    ];
    for g in 0..4 {
        fields.push(Field::new(format!("g{g}"), DataType::Float32, false));
        let values: Vec<f32> = (0..labels.len())
            .map(|r| ((r * 7 + g * 3 + r / n * g) % 11) as f32 * 0.25)
            .collect();
        columns.push(Arc::new(arrow::array::Float32Array::from(values)));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}
