//! A small column-oriented table: the one shape every output takes before it becomes CSV,
//! Parquet, or JavaScript objects in the browser.

use crate::error::{Error, Result};
use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Strings.
    Str(Vec<String>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 64-bit floats with missing values (an empty CSV cell, a Parquet null): for a peer's
    /// format that tells "not computed" from NaN.
    OptF64(Vec<Option<f64>>),
    /// 64-bit integers.
    I64(Vec<i64>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// Booleans.
    Bool(Vec<bool>),
}

impl Column {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Str(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::OptF64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::I32(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`'s values (a column of the same type).
    fn append(&mut self, other: Column) {
        match (self, other) {
            (Column::Str(a), Column::Str(b)) => a.extend(b),
            (Column::F64(a), Column::F64(b)) => a.extend(b),
            (Column::OptF64(a), Column::OptF64(b)) => a.extend(b),
            (Column::I64(a), Column::I64(b)) => a.extend(b),
            (Column::I32(a), Column::I32(b)) => a.extend(b),
            (Column::Bool(a), Column::Bool(b)) => a.extend(b),
            _ => panic!("chunks of one table have the same column types"),
        }
    }

    fn csv_cell(&self, row: usize) -> String {
        match self {
            Column::Str(v) => csv_quote(&v[row]),
            Column::F64(v) => format_f64(v[row]),
            Column::OptF64(v) => v[row].map(format_f64).unwrap_or_default(),
            Column::I64(v) => v[row].to_string(),
            Column::I32(v) => v[row].to_string(),
            Column::Bool(v) => if v[row] { "True" } else { "False" }.to_string(),
        }
    }

    fn into_arrow(self) -> (DataType, ArrayRef) {
        match self {
            Column::Str(v) => (DataType::Utf8, Arc::new(StringArray::from(v))),
            Column::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v))),
            Column::OptF64(v) => (DataType::Float64, Arc::new(Float64Array::from(v))),
            Column::I64(v) => (DataType::Int64, Arc::new(Int64Array::from(v))),
            Column::I32(v) => (DataType::Int32, Arc::new(Int32Array::from(v))),
            Column::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v))),
        }
    }
}

/// Floats as the reference writes them, round-trip exact: shortest representation, `NaN`,
/// `inf` / `-inf`.
pub fn format_f64(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        // Debug is the shortest round-trip form, with an exponent for very large/small values.
        let s = format!("{x:?}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// (name, values) in output order.
    pub columns: Vec<(String, Column)>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Table::default()
    }

    /// Appends a column (builder style).
    pub fn with(mut self, name: &str, col: Column) -> Self {
        self.columns.push((name.to_string(), col));
        self
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// Appends the rows of `other`, a table with the same columns (a later chunk).
    pub fn append(&mut self, other: Table) {
        for ((_, col), (_, more)) in self.columns.iter_mut().zip(other.columns) {
            col.append(more);
        }
    }

    /// The header line of the CSV text.
    pub fn csv_header(&self) -> String {
        let header: Vec<String> = self.columns.iter().map(|(n, _)| csv_quote(n)).collect();
        header.join(",") + "\n"
    }

    /// The rows as CSV lines (no header).
    pub fn csv_rows(&self) -> String {
        let mut out = String::new();
        for r in 0..self.n_rows() {
            let cells: Vec<String> = self.columns.iter().map(|(_, c)| c.csv_cell(r)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// CSV text with a header line.
    pub fn to_csv(&self) -> String {
        self.csv_header() + &self.csv_rows()
    }

    /// The table as one Arrow record batch (its columns move into it).
    pub fn into_record_batch(self) -> Result<RecordBatch> {
        let mut fields = Vec::new();
        let mut arrays = Vec::new();
        for (name, col) in self.columns {
            let nullable = matches!(col, Column::OptF64(_));
            let (t, a) = col.into_arrow();
            fields.push(Field::new(name, t, nullable));
            arrays.push(a);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| Error::Output(format!("building an output table failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_and_match_reference_style() {
        assert_eq!(format_f64(f64::NAN), "NaN");
        assert_eq!(format_f64(1.0), "1");
        assert_eq!(format_f64(0.1), "0.1");
        assert_eq!(format_f64(-2.5e-300).parse::<f64>().unwrap(), -2.5e-300);
        let x = 0.1 + 0.2;
        assert_eq!(format_f64(x).parse::<f64>().unwrap(), x);
    }

    #[test]
    fn csv_has_header_and_quotes() {
        let t = Table::new()
            .with("a", Column::Str(vec!["x,y".into()]))
            .with("b", Column::Bool(vec![true]))
            .with("c", Column::F64(vec![f64::NAN]));
        assert_eq!(t.to_csv(), "a,b,c\n\"x,y\",True,NaN\n");
    }
}
