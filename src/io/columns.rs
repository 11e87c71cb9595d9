//! Reading the non-expression columns of a batch: string labels (plain or dictionary-encoded),
//! halves and folds, with errors that name the row.

use crate::error::{Error, Location, Result};
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use std::collections::HashMap;

/// Interns strings to dense ids in order of first appearance.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    /// Id of a string, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(s.to_string(), id);
        self.names.push(s.to_string());
        id
    }

    /// Names by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Id of a known string.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
}

fn null_error(file: &str, column: &str, row: u64) -> Error {
    Error::input(
        Location {
            file: Some(file.into()),
            column: Some(column.into()),
            row: Some(row),
            ..Default::default()
        },
        "missing (null) value",
        "every row needs a value in this column",
    )
}

/// Applies `f(row, value)` to every string of a utf8 / large-utf8 / view / dictionary column.
pub fn for_each_str(
    a: &ArrayRef,
    file: &str,
    column: &str,
    first_row: u64,
    mut f: impl FnMut(usize, &str) -> Result<()>,
) -> Result<()> {
    if a.null_count() > 0 {
        let r = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
        return Err(null_error(file, column, first_row + r as u64));
    }
    match a.data_type() {
        DataType::Utf8 => a
            .as_string::<i32>()
            .iter()
            .enumerate()
            .try_for_each(|(i, s)| f(i, s.unwrap_or(""))),
        DataType::LargeUtf8 => a
            .as_string::<i64>()
            .iter()
            .enumerate()
            .try_for_each(|(i, s)| f(i, s.unwrap_or(""))),
        DataType::Utf8View => a
            .as_string_view()
            .iter()
            .enumerate()
            .try_for_each(|(i, s)| f(i, s.unwrap_or(""))),
        DataType::Dictionary(_, _) => {
            // Decode through the dictionary's values once per batch.
            let plain = arrow::compute::cast(a, &DataType::Utf8).map_err(|e| {
                Error::input(
                    Location {
                        file: Some(file.into()),
                        column: Some(column.into()),
                        ..Default::default()
                    },
                    format!("cannot read dictionary labels: {e}"),
                    "store labels as strings",
                )
            })?;
            plain
                .as_string::<i32>()
                .iter()
                .enumerate()
                .try_for_each(|(i, s)| f(i, s.unwrap_or("")))
        }
        t => Err(Error::input(
            Location {
                file: Some(file.into()),
                column: Some(column.into()),
                ..Default::default()
            },
            format!("expected strings, found {t}"),
            "store labels as strings (utf8)",
        )),
    }
}

/// Reads an integer column as i64.
pub fn int_column(a: &ArrayRef, file: &str, column: &str, first_row: u64) -> Result<Vec<i64>> {
    if a.null_count() > 0 {
        let r = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
        return Err(null_error(file, column, first_row + r as u64));
    }
    let c = arrow::compute::cast(a, &DataType::Int64).map_err(|e| {
        Error::input(
            Location {
                file: Some(file.into()),
                column: Some(column.into()),
                ..Default::default()
            },
            format!("cannot read as integers: {e}"),
            "store folds as integers",
        )
    })?;
    Ok(c.as_primitive::<Int64Type>().values().to_vec())
}
