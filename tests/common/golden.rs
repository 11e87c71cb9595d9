//! Compares calibra's output files with the reference's, column by column: floats within 1e-9
//! relative (1e-12 absolute near zero) with identical NaN positions; integers, booleans and
//! strings exactly; the same set of rows, matched by key columns.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

/// Relative tolerance for floats.
pub const REL_TOL: f64 = 1e-9;
/// Absolute tolerance near zero.
pub const ABS_TOL: f64 = 1e-12;

/// A cell value read from CSV or Parquet.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Number (integers too).
    Num(f64),
    /// Boolean.
    Bool(bool),
    /// Anything else.
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(s) => write!(f, "{s:?}"),
        }
    }
}

fn parse(s: &str) -> Value {
    match s {
        "True" | "true" => Value::Bool(true),
        "False" | "false" => Value::Bool(false),
        "NaN" | "nan" => Value::Num(f64::NAN),
        _ => s
            .parse::<f64>()
            .map(Value::Num)
            .unwrap_or_else(|_| Value::Text(s.to_string())),
    }
}

/// A table: column names and rows.
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of values.
    pub rows: Vec<Vec<Value>>,
}

/// Reads a simple CSV (no quoted commas in these files).
pub fn read_csv(text: &str) -> Table {
    let mut lines = text.lines();
    let columns = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(parse).collect())
        .collect();
    Table { columns, rows }
}

/// Reads Parquet bytes into rows.
pub fn read_parquet(bytes: Vec<u8>) -> Table {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut columns = Vec::new();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        if columns.is_empty() {
            columns = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
        }
        let start = rows.len();
        rows.extend((0..batch.num_rows()).map(|_| Vec::with_capacity(columns.len())));
        for col in batch.columns() {
            let col = arrow::compute::cast(
                col,
                &match col.data_type() {
                    DataType::Boolean => DataType::Boolean,
                    t if t.is_numeric() => DataType::Float64,
                    _ => DataType::Utf8,
                },
            )
            .unwrap();
            for r in 0..batch.num_rows() {
                let v = match col.data_type() {
                    DataType::Boolean => Value::Bool(col.as_boolean().value(r)),
                    DataType::Float64 => Value::Num(if col.is_null(r) {
                        f64::NAN
                    } else {
                        col.as_primitive::<arrow::datatypes::Float64Type>().value(r)
                    }),
                    _ => Value::Text(col.as_string::<i32>().value(r).to_string()),
                };
                rows[start + r].push(v);
            }
        }
    }
    Table { columns, rows }
}

/// Key columns identifying a row of each output file.
pub fn key_columns(file: &str) -> &'static [&'static str] {
    match file {
        "metrics.csv" => &["model", "perturbation", "metric"],
        "summary.csv" | "stats.csv" => &["model", "metric"],
        "drf.csv" => &["metric", "drf_type", "perturbation"],
        "drf_summary.csv" => &["metric", "drf_type"],
        "perturbations.csv" => &["perturbation"],
        "deg_gt.parquet" | "deg_td.parquet" => &["perturbation", "gene"],
        "baselines.parquet" => &["model", "perturbation"],
        _ => &[],
    }
}

/// The result of comparing one file.
#[derive(Default)]
pub struct FileReport {
    /// Rows compared.
    pub rows: usize,
    /// Row order identical.
    pub same_order: bool,
    /// Largest relative error over float cells with |expected| > 1e-12.
    pub max_rel: f64,
    /// Largest absolute error over float cells.
    pub max_abs: f64,
    /// Column with the largest relative error.
    pub worst_column: String,
    /// Problems found (first 20 kept).
    pub mismatches: Vec<String>,
    /// Total number of problems.
    pub n_mismatches: usize,
}

impl FileReport {
    fn problem(&mut self, msg: String) {
        self.n_mismatches += 1;
        if self.mismatches.len() < 20 {
            self.mismatches.push(msg);
        }
    }
}

/// Per-file results.
pub struct ComparisonReport {
    /// File name → report.
    pub files: BTreeMap<String, FileReport>,
}

impl fmt::Display for ComparisonReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:>8} {:>12} {:>12}  {:<22} status",
            "file", "rows", "max rel err", "max abs err", "worst column"
        )?;
        for (name, r) in &self.files {
            let status = if r.n_mismatches == 0 {
                "ok".to_string()
            } else {
                format!("{} MISMATCHES", r.n_mismatches)
            };
            writeln!(
                f,
                "{:<20} {:>8} {:>12.3e} {:>12.3e}  {:<22} {}{}",
                name,
                r.rows,
                r.max_rel,
                r.max_abs,
                r.worst_column,
                status,
                if r.same_order {
                    ""
                } else {
                    " (row order differs)"
                }
            )?;
            for m in &r.mismatches {
                writeln!(f, "    {m}")?;
            }
        }
        Ok(())
    }
}

impl ComparisonReport {
    /// True when every file matched.
    pub fn ok(&self) -> bool {
        self.files.values().all(|r| r.n_mismatches == 0)
    }

    /// Panics with the table when anything mismatched.
    pub fn assert_ok(&self) {
        assert!(self.ok(), "outputs differ from the reference:\n{self}");
    }
}

fn values_match(a: &Value, e: &Value) -> bool {
    match (a, e) {
        (Value::Num(x), Value::Num(y)) => {
            if x.is_nan() || y.is_nan() {
                return x.is_nan() && y.is_nan();
            }
            x == y || (x - y).abs() <= ABS_TOL || (x - y).abs() <= REL_TOL * y.abs()
        }
        _ => a == e,
    }
}

fn compare_file(actual: &Path, expected: &Path, file: &str) -> FileReport {
    if !actual.exists() || !expected.exists() {
        let mut rep = FileReport::default();
        rep.problem(format!(
            "missing: actual {} expected {}",
            actual.exists(),
            expected.exists()
        ));
        return rep;
    }
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    compare_bytes(file, read(actual), read(expected))
}

/// Compares one output file given as bytes (CSV text or Parquet).
pub fn compare_bytes(file: &str, actual: Vec<u8>, expected: Vec<u8>) -> FileReport {
    let read = |b: Vec<u8>| {
        if file.ends_with(".parquet") {
            read_parquet(b)
        } else {
            read_csv(&String::from_utf8(b).expect("CSV is UTF-8"))
        }
    };
    compare_tables(file, read(actual), read(expected))
}

/// Compares two parsed tables of output file `file`.
pub fn compare_tables(file: &str, a: Table, e: Table) -> FileReport {
    let mut rep = FileReport {
        same_order: true,
        ..Default::default()
    };
    if a.columns != e.columns {
        rep.problem(format!(
            "columns differ:\n      actual   {:?}\n      expected {:?}",
            a.columns, e.columns
        ));
        return rep;
    }
    let keys: Vec<usize> = key_columns(file)
        .iter()
        .map(|k| a.columns.iter().position(|c| c == k).expect("key column"))
        .collect();
    let key_of = |row: &[Value]| {
        keys.iter()
            .map(|&k| row[k].to_string())
            .collect::<Vec<_>>()
            .join("|")
    };
    let a_index: HashMap<String, usize> = a
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (key_of(r), i))
        .collect();
    if a_index.len() != a.rows.len() {
        rep.problem("duplicate keys in actual".into());
    }
    let e_keys: Vec<String> = e.rows.iter().map(|r| key_of(r)).collect();
    for k in a_index.keys() {
        if !e_keys.contains(k) {
            rep.problem(format!("extra row {k}"));
        }
    }
    for (ei, er) in e.rows.iter().enumerate() {
        let Some(&ai) = a_index.get(&e_keys[ei]) else {
            rep.problem(format!("missing row {}", e_keys[ei]));
            continue;
        };
        if ai != ei {
            rep.same_order = false;
        }
        rep.rows += 1;
        let ar = &a.rows[ai];
        for (c, (av, ev)) in ar.iter().zip(er).enumerate() {
            if let (Value::Num(x), Value::Num(y)) = (av, ev) {
                if x.is_finite() && y.is_finite() {
                    let abs = (x - y).abs();
                    rep.max_abs = rep.max_abs.max(abs);
                    if y.abs() > ABS_TOL {
                        let rel = abs / y.abs();
                        if rel > rep.max_rel {
                            rep.max_rel = rel;
                            rep.worst_column = a.columns[c].clone();
                        }
                    }
                }
            }
            if !values_match(av, ev) {
                rep.problem(format!(
                    "{} / {}: actual {av}, expected {ev}",
                    e_keys[ei], a.columns[c]
                ));
            }
        }
    }
    rep
}

/// Reports for several files.
pub fn report_of(files: Vec<(String, FileReport)>) -> ComparisonReport {
    ComparisonReport {
        files: files.into_iter().collect(),
    }
}

/// Compares `files` in `actual` with those in `expected`.
pub fn compare_dirs(actual: &Path, expected: &Path, files: &[&str]) -> ComparisonReport {
    ComparisonReport {
        files: files
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    compare_file(&actual.join(f), &expected.join(f), f),
                )
            })
            .collect(),
    }
}
