//! The sufficient-statistics table (SPEC §12.6): `calibra stats` of a whole file equals the
//! sum of its row ranges' partial tables (`stats merge`; counts exact, sums ≤ 1e-12 relative),
//! and `evaluate --stats` reproduces the evaluation of the cells — with contexts and calibra's
//! own halves and folds (McFaline23), with normalised raw counts (Papalexi), from a table in
//! parts (a SQL engine's output) — and bad tables give clear errors.

mod common;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    common::shared_dir().join("data").join(name)
}

fn calibra(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibra"))
        .args(args)
        .output()
        .expect("calibra runs")
}

fn ok(args: &[&str]) {
    let out = calibra(args);
    assert!(
        out.status.success(),
        "calibra {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The error message of a run that must fail (exit 2, no panic).
fn fails(args: &[&str]) -> String {
    let out = calibra(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(2),
        "calibra {}: {err}",
        args.join(" ")
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A statistics table's rows: ((context, perturbation, half, gene), n, Σx, Σx²), sorted.
type Row = ((String, String, String, String), i64, f64, f64);

fn rows(path: &Path) -> Vec<Row> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let b: RecordBatch = batch.unwrap();
        let text = |name: &str| -> Vec<String> {
            match b.column_by_name(name) {
                Some(c) => {
                    let c = c.as_any().downcast_ref::<StringArray>().unwrap();
                    (0..c.len()).map(|i| c.value(i).to_string()).collect()
                }
                None => vec![String::new(); b.num_rows()],
            }
        };
        let num = |name: &str| -> Vec<f64> {
            let c = b.column_by_name(name).unwrap();
            let c = c.as_any().downcast_ref::<Float64Array>().unwrap();
            c.values().to_vec()
        };
        let n = b.column_by_name("n").unwrap();
        let n = n.as_any().downcast_ref::<Int64Array>().unwrap();
        let (ctx, pert, half, gene) = (
            text("context"),
            text("perturbation"),
            text("half"),
            text("gene"),
        );
        let (sx, sx2) = (num("sum_x"), num("sum_x2"));
        for i in 0..b.num_rows() {
            out.push((
                (
                    ctx[i].clone(),
                    pert[i].clone(),
                    half[i].clone(),
                    gene[i].clone(),
                ),
                n.value(i),
                sx[i],
                sx2[i],
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn assert_same_sums(a: &[Row], b: &[Row]) {
    assert_eq!(a.len(), b.len());
    let rel = |x: f64, y: f64| (x - y).abs() / y.abs().max(f64::MIN_POSITIVE);
    let mut worst = 0f64;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.1, y.1, "n of {:?}", x.0);
        worst = worst.max(rel(x.2, y.2)).max(rel(x.3, y.3));
    }
    assert!(worst <= 1e-12, "worst relative difference {worst}");
}

const COMPARED: [&str; 5] = [
    "metrics.csv",
    "summary.csv",
    "drf.csv",
    "drf_summary.csv",
    "stats.csv",
];

/// `evaluate --cells` and `evaluate --stats` of its table give the same outputs: the same
/// rows in the same order, every number within 1e-9 relative (1e-12 absolute), text equal.
fn assert_same_evaluation(direct: &Path, from_stats: &Path) {
    for f in COMPARED {
        let read = |d: &Path| std::fs::read_to_string(d.join(f)).unwrap();
        let (a, e) = (read(from_stats), read(direct));
        let (a, e): (Vec<&str>, Vec<&str>) = (a.lines().collect(), e.lines().collect());
        assert_eq!(a.len(), e.len(), "{f}: rows");
        for (i, (la, le)) in a.iter().zip(&e).enumerate() {
            let (fa, fe): (Vec<&str>, Vec<&str>) =
                (la.split(',').collect(), le.split(',').collect());
            assert_eq!(fa.len(), fe.len(), "{f} line {i}");
            for (x, y) in fa.iter().zip(&fe) {
                let same = x == y
                    || match (x.parse::<f64>(), y.parse::<f64>()) {
                        (Ok(x), Ok(y)) => {
                            (x.is_nan() && y.is_nan())
                                || (x - y).abs() <= 1e-12
                                || (x - y).abs() <= 1e-9 * y.abs()
                        }
                        _ => false,
                    };
                assert!(same, "{f} line {i}: {x} vs {y}\n{la}\n{le}");
            }
        }
    }
}

#[test]
fn row_ranges_add_up_to_the_whole_file_and_evaluate_the_same() {
    // Contexts, and halves and folds assigned by calibra (no half or fold column).
    let cells = data("mcfaline23_subset.parquet");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    ok(&[
        "stats",
        "-q",
        "--cells",
        s(&cells),
        "--out",
        s(&p("whole.parquet")),
    ]);
    let mut parts = Vec::new();
    for (i, range) in ["0:700", "700:1901", "1901:2586"].iter().enumerate() {
        let part = p(&format!("part{i}.parquet"));
        ok(&[
            "stats",
            "-q",
            "--cells",
            s(&cells),
            "--rows",
            range,
            "--out",
            s(&part),
        ]);
        parts.push(part);
    }
    let mut merge = vec!["stats", "merge", "-q", "--out"];
    let merged = p("merged.parquet");
    merge.push(s(&merged));
    merge.extend(parts.iter().map(|x| s(x)));
    ok(&merge);
    let whole = rows(&p("whole.parquet"));
    assert!(
        whole.iter().any(|r| !r.0 .0.is_empty()),
        "contexts are kept"
    );
    assert_same_sums(&rows(&merged), &whole);

    // The page's column overview of the table: each key column with its role and its own
    // values (the context column holds cell lines, the perturbation column perturbations).
    let overview = calibra::io::inspect::inspect(
        calibra::io::open_file(&p("whole.parquet")).unwrap(),
        &Default::default(),
        &Default::default(),
        calibra::io::layout::TableRole::Cells,
    )
    .unwrap();
    assert_eq!(overview.layout, Some("statistics"));
    let column = |name: &str| {
        overview
            .columns
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(column("context").role, Some("context"));
    assert_eq!(column("context").values, vec!["A172"]);
    assert_eq!(column("perturbation").role, Some("perturbation"));
    assert!(column("perturbation")
        .values
        .contains(&"MAP2K3".to_string()));
    assert_eq!(column("half").values, vec!["gt", "td"]);

    let out = |n: &str| p(n);
    ok(&[
        "evaluate",
        "-q",
        "--cells",
        s(&cells),
        "--out",
        s(&out("direct")),
    ]);
    ok(&[
        "evaluate",
        "-q",
        "--stats",
        s(&p("whole.parquet")),
        "--out",
        s(&out("whole")),
    ]);
    ok(&[
        "evaluate",
        "-q",
        "--stats",
        s(&merged),
        "--out",
        s(&out("merged")),
    ]);
    assert_same_evaluation(&out("direct"), &out("whole"));
    assert_same_evaluation(&out("direct"), &out("merged"));
    // From the whole file's table the numbers are the very same (the same sums).
    for f in COMPARED {
        let read = |d: &str| std::fs::read(out(d).join(f)).unwrap();
        assert!(read("direct") == read("whole"), "{f} differs");
    }

    // A table in parts (as a SQL engine writes it: one table, not partials) is read whole
    // when given as a directory; its parts do not add.
    let split_dir = p("parts");
    std::fs::create_dir(&split_dir).unwrap();
    write_in_two_parts(&p("whole.parquet"), &split_dir);
    let from_dir = p("from_dir.parquet");
    ok(&["stats", "merge", "-q", s(&split_dir), "--out", s(&from_dir)]);
    assert_same_sums(&rows(&from_dir), &whole);
}

/// Writes a statistics table as two files of alternating row blocks, without calibra's
/// metadata (genes then come in name order).
fn write_in_two_parts(table: &Path, dir: &Path) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(table).unwrap())
        .unwrap()
        .with_batch_size(1000)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(
        batches[0].schema().fields().clone(),
    ));
    for part in 0..2 {
        let f = std::fs::File::create(dir.join(format!("part-{part}.parquet"))).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, schema.clone(), None).unwrap();
        for b in batches.iter().skip(part).step_by(2) {
            let b = RecordBatch::try_new(schema.clone(), b.columns().to_vec()).unwrap();
            w.write(&b).unwrap();
        }
        w.close().unwrap();
    }
}

#[test]
fn raw_counts_are_normalised_when_the_table_is_made() {
    let cells = data("papalexi2021_counts.parquet");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let table = p("stats.parquet");
    ok(&[
        "stats",
        "-q",
        "--normalize",
        "--cells",
        s(&cells),
        "--out",
        s(&table),
    ]);
    ok(&[
        "evaluate",
        "-q",
        "--normalize",
        "--light",
        "--cells",
        s(&cells),
        "--out",
        s(&p("direct")),
    ]);
    ok(&[
        "evaluate",
        "-q",
        "--light",
        "--stats",
        s(&table),
        "--out",
        s(&p("stats")),
    ]);
    assert_same_evaluation(&p("direct"), &p("stats"));
    let err = fails(&[
        "evaluate",
        "-q",
        "--normalize",
        "--stats",
        s(&table),
        "--out",
        s(&p("x")),
    ]);
    assert!(err.contains("--normalize was given"), "{err}");
}

#[test]
fn bad_tables_and_requests_get_clear_errors() {
    let cells = common::shared_dir().join("golden/golden_small/data.parquet");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let table = p("stats.parquet");
    ok(&["stats", "-q", "--cells", s(&cells), "--out", s(&table)]);
    let out = s(&p("out")).to_string();

    // Cell-level families need cells.
    let err = fails(&[
        "evaluate",
        "-q",
        "--stats",
        s(&table),
        "--metrics",
        "calibrated,distributional",
        "--out",
        &out,
    ]);
    assert!(err.contains("need cells"), "{err}");
    // --stats takes a statistics table only, and stats does not take one.
    let err = fails(&["evaluate", "-q", "--stats", s(&cells), "--out", &out]);
    assert!(err.contains("expects a statistics table"), "{err}");
    let err = fails(&[
        "stats",
        "-q",
        "--cells",
        s(&table),
        "--out",
        s(&p("again.parquet")),
    ]);
    assert!(err.contains("already a statistics table"), "{err}");
    // A range past the end, an empty range.
    let rows_error = |range: &str| {
        let out = p("r.parquet");
        let args = [
            "stats",
            "-q",
            "--cells",
            s(&cells),
            "--rows",
            range,
            "--out",
            s(&out),
        ];
        let err = fails(&args);
        assert!(!out.exists());
        err
    };
    let err = rows_error("5000:6000");
    assert!(err.contains("the file has 626 rows"), "{err}");
    let err = rows_error("9:9");
    assert!(err.contains("empty"), "{err}");

    // The same table twice as parts of one table: its rows repeat.
    let twice = p("twice");
    std::fs::create_dir(&twice).unwrap();
    std::fs::copy(&table, twice.join("a.parquet")).unwrap();
    std::fs::copy(&table, twice.join("b.parquet")).unwrap();
    let err = fails(&[
        "stats",
        "merge",
        "-q",
        s(&twice),
        "--out",
        s(&p("m.parquet")),
    ]);
    assert!(err.contains("has an earlier row"), "{err}");
    // A group whose rows disagree on n.
    let bad = p("bad_n.parquet");
    rewrite(&table, &bad, |name, i, v| {
        (name == "n" && i == 3).then_some(v + 1.0)
    });
    let err = fails(&["evaluate", "-q", "--stats", s(&bad), "--out", &out]);
    assert!(
        err.contains("of the same (context, perturbation, half)") && err.contains("row 3"),
        "{err}"
    );
    // A negative sum.
    let bad = p("bad_sum.parquet");
    rewrite(&table, &bad, |name, i, _| {
        (name == "sum_x" && i == 10).then_some(-1.0)
    });
    let err = fails(&["evaluate", "-q", "--stats", s(&bad), "--out", &out]);
    assert!(err.contains("sum_x") && err.contains("row 10"), "{err}");
    assert!(!p("out").exists());
}

/// Copies a statistics table, changing numbers where `change(column, row, value)` says.
fn rewrite(from: &Path, to: &Path, change: impl Fn(&str, usize, f64) -> Option<f64>) {
    use arrow::array::ArrayRef;
    use std::sync::Arc;
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(from).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(to).unwrap(),
        schema.clone(),
        None,
    )
    .unwrap();
    let mut first = 0usize;
    for b in &batches {
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .zip(b.columns())
            .map(|(f, c)| -> ArrayRef {
                let name = f.name().as_str();
                if let Some(a) = c.as_any().downcast_ref::<Float64Array>() {
                    Arc::new(Float64Array::from_iter_values(
                        a.values()
                            .iter()
                            .enumerate()
                            .map(|(i, &v)| change(name, first + i, v).unwrap_or(v)),
                    ))
                } else if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
                    Arc::new(Int64Array::from_iter_values(
                        a.values().iter().enumerate().map(|(i, &v)| {
                            change(name, first + i, v as f64).map_or(v, |x| x as i64)
                        }),
                    ))
                } else {
                    c.clone()
                }
            })
            .collect();
        first += b.num_rows();
        w.write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    w.close().unwrap();
}
