//! AnnData dataframes (`obs`, `var`): each column is an HDF5 dataset (numbers, booleans,
//! strings) or a group (categorical: `codes` + `categories`; nullable: `values` + `mask`),
//! read a window of rows at a time as an Arrow array.

use super::matrix::{arrow_type, read_numeric};
use super::{encoding_type, FileErrors};
use crate::error::Result;
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Int32Array, StringArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Int32Type};
use hdf5_pure::{AttrValue, DType, Dataset, File};
use std::collections::HashMap;
use std::sync::Arc;

/// How one column's values are stored.
enum Storage {
    /// Category codes (−1 = missing) into `categories`.
    Categorical {
        codes: Dataset,
        code_type: DType,
        categories: ArrayRef,
    },
    /// Variable- or fixed-length strings.
    Strings(Dataset),
    /// Numbers.
    Numeric(Dataset, DType),
    /// Booleans (h5py writes an enum of int8), with the element size in bytes.
    Bool(Dataset, usize),
}

/// One column of an AnnData dataframe.
pub(super) struct ObsColumn {
    storage: Storage,
    /// `mask` of a nullable column: true = missing.
    mask: Option<Dataset>,
    len: u64,
}

fn is_bool(t: &DType) -> bool {
    matches!(t, DType::Enum(names) if names.len() == 2
        && names.iter().any(|n| n.eq_ignore_ascii_case("false"))
        && names.iter().any(|n| n.eq_ignore_ascii_case("true")))
}

fn is_string(t: &DType) -> bool {
    matches!(t, DType::String | DType::VariableLengthString)
}

/// A dataframe's columns, from its `column-order` attribute (anndata writes an empty float
/// array when there are none).
fn column_order(attrs: &HashMap<String, AttrValue>) -> Vec<String> {
    attrs
        .get("column-order")
        .and_then(|v| v.as_strings())
        .map(<[String]>::to_vec)
        .unwrap_or_default()
}

/// Opens the columns of the dataframe at `path`, in its `column-order`.
pub(super) fn open_frame(
    file: &File,
    path: &str,
    errors: &FileErrors<'_>,
) -> Result<Vec<(String, ObsColumn)>> {
    let group = file.group(path).map_err(|_| {
        errors.unsupported(
            format!("'{path}' is not an AnnData dataframe group (files written by anndata before 0.7 store it as a compound table)"),
            "read the file with a recent anndata and write it again (`anndata.read_h5ad(p).write_h5ad(p2)`)",
        )
    })?;
    let attrs = group.attrs().map_err(|e| errors.read(e))?;
    column_order(&attrs)
        .into_iter()
        .map(|name| {
            let column = open_column(file, &format!("{path}/{name}"), errors)?;
            Ok((name, column))
        })
        .collect()
}

/// Opens one dataframe column (a dataset or an encoded group).
pub(super) fn open_column(file: &File, path: &str, errors: &FileErrors<'_>) -> Result<ObsColumn> {
    let unsupported = |what: String| {
        errors.unsupported(
            format!("column {path}: {what}"),
            "store the column as strings, numbers, booleans or a categorical",
        )
    };
    let length = |ds: &Dataset| -> Result<u64> {
        let shape = ds.shape().map_err(|e| errors.read(e))?;
        match shape.as_slice() {
            [n] => Ok(*n),
            _ => Err(unsupported(format!(
                "{} dimensions, expected 1",
                shape.len()
            ))),
        }
    };
    let plain = |ds: Dataset| -> Result<(Storage, u64)> {
        let t = ds.dtype().map_err(|e| errors.read(e))?;
        let len = length(&ds)?;
        let storage = if is_string(&t) {
            Storage::Strings(ds)
        } else if is_bool(&t) {
            let size = ds.element_size().map_err(|e| errors.read(e))? as usize;
            Storage::Bool(ds, size.max(1))
        } else if arrow_type(&t).is_some() {
            Storage::Numeric(ds, t)
        } else {
            return Err(unsupported(format!("unsupported type {t}")));
        };
        Ok((storage, len))
    };
    if let Ok(ds) = file.dataset(path) {
        let (storage, len) = plain(ds)?;
        return Ok(ObsColumn {
            storage,
            mask: None,
            len,
        });
    }
    let group = file
        .group(path)
        .map_err(|e| unsupported(format!("cannot be opened ({e})")))?;
    let attrs = group.attrs().map_err(|e| errors.read(e))?;
    let encoding = encoding_type(&attrs).unwrap_or_default();
    let part = |name: &str| {
        file.dataset(&format!("{path}/{name}"))
            .map_err(|_| unsupported(format!("the {encoding} group has no '{name}'")))
    };
    match encoding.as_str() {
        "categorical" => {
            let codes = part("codes")?;
            let code_type = codes.dtype().map_err(|e| errors.read(e))?;
            if !matches!(code_type, DType::I8 | DType::I16 | DType::I32 | DType::I64) {
                return Err(unsupported(format!("category codes of type {code_type}")));
            }
            let len = length(&codes)?;
            let categories_ds = part("categories")?;
            let (categories, n) = plain(categories_ds)?;
            let categories = as_strings(read_storage(&categories, 0, n, errors)?);
            Ok(ObsColumn {
                storage: Storage::Categorical {
                    codes,
                    code_type,
                    categories,
                },
                mask: None,
                len,
            })
        }
        "nullable-integer" | "nullable-boolean" | "nullable-string-array" => {
            let (storage, len) = plain(part("values")?)?;
            Ok(ObsColumn {
                storage,
                mask: Some(part("mask")?),
                len,
            })
        }
        other => Err(unsupported(format!("unsupported encoding '{other}'"))),
    }
}

/// Numbers or booleans as their text (categories of numbers are labels too).
fn as_strings(a: ArrayRef) -> ArrayRef {
    if a.data_type() == &DataType::Utf8 {
        return a;
    }
    arrow::compute::cast(&a, &DataType::Utf8).expect("numbers and booleans cast to text")
}

fn read_storage(
    storage: &Storage,
    start: u64,
    count: u64,
    errors: &FileErrors<'_>,
) -> Result<ArrayRef> {
    let e = |e| errors.read(e);
    Ok(match storage {
        Storage::Strings(ds) => Arc::new(StringArray::from(
            ds.read_string_rows(start, count).map_err(e)?,
        )),
        Storage::Numeric(ds, t) => read_numeric(ds, t, start, count, errors)?,
        Storage::Bool(ds, size) => Arc::new(BooleanArray::from_iter(
            ds.read_raw_rows(start, count)
                .map_err(e)?
                .chunks(*size)
                .map(|b| Some(b.iter().any(|&x| x != 0))),
        )),
        Storage::Categorical {
            codes,
            code_type,
            categories,
        } => {
            let raw = read_numeric(codes, code_type, start, count, errors)?;
            let raw = arrow::compute::cast(&raw, &DataType::Int64).expect("integers widen");
            let n_categories = categories.len() as i64;
            let mut keys = Vec::with_capacity(raw.len());
            for (i, code) in raw
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .iter()
                .enumerate()
            {
                keys.push(match *code {
                    -1 => None,
                    c if (0..n_categories).contains(&c) => Some(c as i32),
                    c => {
                        return Err(errors.unsupported(
                            format!(
                                "category code {c} at row {} is out of range ({n_categories} categories)",
                                start + i as u64
                            ),
                            "the file is damaged: write it again with anndata",
                        ))
                    }
                });
            }
            Arc::new(
                DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), categories.clone())
                    .map_err(|x| errors.read(x))?,
            )
        }
    })
}

impl ObsColumn {
    /// Number of rows.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The Arrow type of [`Self::read`]'s arrays.
    pub fn data_type(&self) -> DataType {
        match &self.storage {
            Storage::Categorical { .. } => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
            Storage::Strings(_) => DataType::Utf8,
            Storage::Numeric(_, t) => arrow_type(t).expect("numeric"),
            Storage::Bool(..) => DataType::Boolean,
        }
    }

    /// Reads rows `start..start + count`; missing values are nulls.
    pub fn read(&self, start: u64, count: u64, errors: &FileErrors<'_>) -> Result<ArrayRef> {
        let values = read_storage(&self.storage, start, count, errors)?;
        let Some(mask) = &self.mask else {
            return Ok(values);
        };
        let missing = mask
            .read_raw_rows(start, count)
            .map_err(|e| errors.read(e))?;
        let valid = NullBuffer::from_iter(missing.iter().map(|&m| m == 0));
        let nulls = NullBuffer::union(values.nulls(), Some(&valid));
        let data = values
            .into_data()
            .into_builder()
            .nulls(nulls)
            .build()
            .map_err(|e| errors.read(e))?;
        Ok(arrow::array::make_array(data))
    }
}

/// The gene names: the `var` index, or the column `gene_column` of `var`.
pub(super) fn var_names(
    file: &File,
    var_path: &str,
    gene_column: Option<&str>,
    errors: &FileErrors<'_>,
) -> Result<Vec<String>> {
    let group = file.group(var_path).map_err(|_| {
        errors.unsupported(
            format!("the AnnData file has no '{var_path}' (gene annotations)"),
            "write the file again with anndata",
        )
    })?;
    let attrs = group.attrs().map_err(|e| errors.read(e))?;
    let column = match gene_column {
        Some(c) => {
            let columns = column_order(&attrs);
            if !columns.iter().any(|x| x == c) {
                return Err(errors.unsupported(
                    format!(
                        "{var_path} has no column '{c}' (columns: {})",
                        if columns.is_empty() {
                            "none".to_string()
                        } else {
                            columns.join(", ")
                        }
                    ),
                    "check --gene-column, or leave it out to use the var index",
                ));
            }
            c.to_string()
        }
        None => attrs
            .get("_index")
            .and_then(|v| v.as_str())
            .unwrap_or("_index")
            .to_string(),
    };
    let path = format!("{var_path}/{column}");
    let col = open_column(file, &path, errors)?;
    let names = col.read(0, col.len(), errors)?;
    let names = arrow::compute::cast(&names, &DataType::Utf8).map_err(|e| errors.read(e))?;
    if names.null_count() > 0 {
        return Err(errors.unsupported(
            format!("{path} has missing gene names"),
            "name every gene, or choose another column with --gene-column",
        ));
    }
    Ok(names
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect())
}
