//! User splits and the in-the-wild tasks (SPEC §12.5): a split file and a split column give the
//! same evaluation; the baselines learn from train perturbations only; `calibra split` files
//! are deterministic for a seed; unseen-context holds out a whole context and its baselines
//! learn from the other contexts.

mod common;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use calibra::data::Half;
use calibra::design::{make_split, split_csv, Split, Task, TaskOptions};
use calibra::io::{self, MemorySource, SharedSource};
use calibra::pipeline::{evaluate, EvaluateOptions, Evaluation, Inputs};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn run(cells: SharedSource, preds: Option<&Path>, split: Option<SharedSource>) -> Evaluation {
    let opts = EvaluateOptions {
        n_resamples: 200,
        ..Default::default()
    };
    let inputs = Inputs {
        cells,
        predictions: preds
            .map(|p| io::open_file(p).unwrap())
            .into_iter()
            .collect(),
        split,
    };
    evaluate(inputs, &opts, &mut |_, _| {}).unwrap()
}

fn memory(name: &str, bytes: Vec<u8>) -> SharedSource {
    Arc::new(MemorySource::new(name, bytes))
}

/// golden_single's cells (61 labels), its perturbations' sides: every third test, every fifth
/// of the rest val, the others train.
fn sides_of(labels: &[String]) -> BTreeMap<String, Split> {
    labels
        .iter()
        .filter(|l| *l != "control")
        .enumerate()
        .map(|(i, l)| {
            let side = if i % 3 == 0 {
                Split::Test
            } else if i % 5 == 0 {
                Split::Val
            } else {
                Split::Train
            };
            (l.clone(), side)
        })
        .collect()
}

/// The cells Parquet with its fold column replaced by a split column.
fn with_split_column(src: &Path, sides: &BTreeMap<String, Split>) -> Vec<u8> {
    let file = std::fs::File::open(src).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let fold = schema.index_of("fold").unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| (**f).clone()).collect();
    fields[fold] = Field::new("split", DataType::Utf8, false);
    let new_schema = Arc::new(Schema::new(fields).with_metadata(schema.metadata().clone()));
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, new_schema.clone(), None).unwrap();
    for b in &batches {
        let labels = b
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8 labels");
        let split: StringArray = labels
            .iter()
            .map(|l| Some(sides.get(l.unwrap()).map_or("train", |s| s.as_str())))
            .collect();
        let mut cols: Vec<ArrayRef> = b.columns().to_vec();
        cols[fold] = Arc::new(split);
        w.write(&RecordBatch::try_new(new_schema.clone(), cols).unwrap())
            .unwrap();
    }
    w.close().unwrap();
    out
}

#[test]
fn a_split_file_and_a_split_column_agree_and_baselines_learn_from_train_only() {
    let dir = common::shared_dir().join("golden/golden_single");
    let cells = dir.join("data.parquet");
    let preds = dir.join("predictions.parquet");
    let plain = run(io::open_file(&cells).unwrap(), Some(&preds), None);
    let labels = plain.contexts[0].dataset.labels.clone();
    let sides = sides_of(&labels);
    let mut csv = String::from("perturbation,split\n");
    for (l, s) in &sides {
        csv.push_str(&format!("{l},{}\n", s.as_str()));
    }

    let by_file = run(
        io::open_file(&cells).unwrap(),
        Some(&preds),
        Some(memory("split.csv", csv.into_bytes())),
    );
    let by_column = run(
        memory("cells.parquet", with_split_column(&cells, &sides)),
        Some(&preds),
        None,
    );
    for o in calibra::report::OUTPUTS
        .iter()
        .filter(|o| o.applies_to(&by_file.contexts[0]))
    {
        let text = |e: &Evaluation| {
            calibra::report::context_table(&e.contexts[0], o.name)
                .unwrap()
                .unwrap()
                .to_csv()
        };
        assert!(
            text(&by_file) == text(&by_column),
            "{}: split file and split column differ",
            o.name
        );
    }
    assert_eq!(
        by_file.cells.split.as_ref().unwrap().perturbations[&Split::Test],
        20
    );
    assert_eq!(
        by_column.cells.split.as_ref().unwrap().from,
        "column 'split'"
    );
    assert!(by_file
        .notes
        .iter()
        .any(|n| n.contains("replaces the cells' 'fold' column")));

    let r = &by_file.contexts[0];
    let ds = &r.dataset;
    // Evaluated: exactly the test perturbations (one fold, 0).
    let evaluated: Vec<&str> = ds
        .evaluated()
        .iter()
        .map(|&l| ds.labels[l].as_str())
        .collect();
    let tested: Vec<&str> = sides
        .iter()
        .filter(|&(l, &s)| {
            s == Split::Test && ds.n_cells_in(ds.label_index(l).unwrap(), Half::Gt) > 0
        })
        .map(|(l, _)| l.as_str())
        .collect();
    assert_eq!(evaluated, tested);
    assert_eq!(ds.folds(), [0]);
    // The dataset mean: the unweighted mean of the train perturbations' means, val excluded.
    let train: Vec<usize> = sides
        .iter()
        .filter(|&(_, &s)| s == Split::Train)
        .map(|(l, _)| ds.label_index(l).unwrap())
        .collect();
    let mut want = ndarray::Array1::<f64>::zeros(ds.n_genes());
    for &l in &train {
        want += &ds.mean_all(l).unwrap();
    }
    want /= train.len() as f64;
    let got = &r.baselines.fold_mean[&0];
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }
    // The model's rows: the test perturbations only.
    let model = &r.models[0];
    assert!(model
        .profiles
        .keys()
        .all(|l| sides[&ds.labels[*l]] == Split::Test));
}

/// The PerturBench h5ad's labels, read as the CLI's `split` does.
fn perturbench() -> (SharedSource, EvaluateOptions) {
    let path = common::shared_dir().join("data/perturbench_devel_norman19_mcfaline23.h5ad");
    let mut opts = EvaluateOptions::default();
    opts.cells.columns.perturbation = "condition".into();
    opts.cells.columns.context = Some("cell_type".into());
    opts.n_resamples = 100;
    (io::open_file(&path).unwrap(), opts)
}

#[test]
fn task_splits_are_deterministic_for_a_seed() {
    let (cells, opts) = perturbench();
    let labels = io::read_labels(cells, &opts.cells).unwrap();
    assert_eq!(labels.control, "control");
    for task in Task::ALL {
        let o = TaskOptions::default();
        let a = split_csv(&make_split(task, &labels, &o).unwrap());
        let b = split_csv(&make_split(task, &labels, &o).unwrap());
        assert_eq!(a, b, "{}", task.as_str());
        let other = TaskOptions { seed: 7, ..o };
        let c = split_csv(&make_split(task, &labels, &other).unwrap());
        assert_ne!(a, c, "{}: another seed, another split", task.as_str());
    }
}

#[test]
fn unseen_context_holds_out_a_context_whose_baselines_learn_from_the_others() {
    let (cells, mut opts) = perturbench();
    let labels = io::read_labels(cells.clone(), &opts.cells).unwrap();
    let task = TaskOptions {
        holdout_context: Some("T98G".into()),
        ..Default::default()
    };
    let split = make_split(Task::UnseenContext, &labels, &task).unwrap();
    let csv = split_csv(&split);
    opts.cells.batch_rows = 1000;
    let inputs = Inputs {
        cells,
        predictions: vec![],
        split: Some(memory("split.csv", csv.into_bytes())),
    };
    let e = evaluate(inputs, &opts, &mut |_, _| {}).unwrap();
    assert_eq!(
        e.cells.split.as_ref().unwrap().task.as_deref(),
        Some("unseen-context")
    );
    let by_name: BTreeMap<&str, &calibra::pipeline::ContextResult> = e
        .contexts
        .iter()
        .map(|c| (c.context.as_deref().unwrap(), c))
        .collect();
    let held = by_name["T98G"];
    let ds = &held.dataset;
    // Every T98G perturbation with GT cells is tested; no other context tests anything.
    let with_gt: Vec<usize> = ds
        .perturbations()
        .into_iter()
        .filter(|&l| ds.n_cells_in(l, Half::Gt) > 0)
        .collect();
    assert_eq!(ds.evaluated(), with_gt);
    for (name, c) in &by_name {
        if *name != "T98G" {
            assert!(c.dataset.evaluated().is_empty(), "{name}");
        }
    }
    // Its dataset mean: the mean over the other contexts' train perturbations (each
    // (context, perturbation) once), not over its own.
    assert_eq!(held.baselines.borrowed_folds, [0]);
    let mut want = ndarray::Array1::<f64>::zeros(ds.n_genes());
    let mut n = 0;
    for (name, c) in &by_name {
        if *name == "T98G" {
            continue;
        }
        for l in c.dataset.always_train() {
            want += &c.dataset.mean_all(l).unwrap();
            n += 1;
        }
    }
    want /= n as f64;
    for (a, b) in held.baselines.fold_mean[&0].iter().zip(&want) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }
    assert!(e
        .notes
        .iter()
        .any(|m| m.contains("context 'T98G' has no train perturbations of its own")));
}

#[test]
fn the_split_command_writes_the_same_file_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let cells = common::shared_dir().join("data/mcfaline23_subset.parquet");
    let split = |out: &str, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_calibra"))
            .args(["split", "--cells"])
            .arg(&cells)
            .args(["--task", "unseen-context-perturbation", "--out"])
            .arg(dir.path().join(out))
            .args(extra)
            .output()
            .unwrap()
    };
    for (out, extra) in [
        ("a.csv", &[][..]),
        ("b.csv", &[]),
        ("c.csv", &["--seed", "9"]),
    ] {
        let run = split(out, extra);
        assert_eq!(run.status.code(), Some(0), "{run:?}");
    }
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    assert_eq!(read("a.csv"), read("b.csv"));
    assert_ne!(read("a.csv"), read("c.csv"));
    let table = io::read_split_file("a.csv", read("a.csv").as_bytes()).unwrap();
    assert_eq!(table.task.as_deref(), Some("unseen-context-perturbation"));
    assert!(table.has_context);
    // A context task needs contexts: exit 2 and a message.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_calibra"))
        .args(["split", "--task", "unseen-context", "--cells"])
        .arg(common::shared_dir().join("golden/golden_small/data.parquet"))
        .arg("--out")
        .arg(dir.path().join("d.csv"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("unseen-context needs at least 2 contexts")
            && stderr.contains("--context-column"),
        "{stderr}"
    );
}
