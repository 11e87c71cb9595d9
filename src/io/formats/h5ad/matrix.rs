//! The expression matrix of an h5ad file (`X`, `raw/X` or a layer): CSR (`csr_matrix`
//! groups of `data`, `indices`, `indptr`) or dense (a 2-D dataset), read a window of rows at
//! a time.

use super::{encoding_type, ColumnSource, FileErrors};
use crate::error::Result;
use crate::io::table::ReadOptions;
use arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    Int8Array, LargeListArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field};
use hdf5_pure::{AttrValue, DType, Dataset, File};
use std::sync::Arc;

/// An opened expression matrix.
#[allow(clippy::large_enum_variant)] // one per open file
pub(super) enum Matrix {
    /// Compressed sparse rows: row `i`'s entries are `indptr[i]..indptr[i+1]` of `indices`
    /// (gene positions) and `data`; or, `by_genes`, compressed sparse columns (`csc_matrix`):
    /// gene `g`'s entries are `indptr[g]..indptr[g+1]` of `indices` (cell rows) and `data`.
    Csr {
        by_genes: bool,
        data: Dataset,
        data_type: DType,
        indices: Dataset,
        indices_type: DType,
        indptr: Dataset,
        indptr_type: DType,
        /// Stored values (`indptr[n_obs]`).
        nnz: u64,
        n_obs: u64,
        n_vars: u64,
    },
    /// A dense cells × genes dataset.
    Dense {
        values: Dataset,
        data_type: DType,
        n_obs: u64,
        n_vars: u64,
    },
}

/// One window of rows of the matrix, as Arrow list arrays.
pub(super) struct MatrixRows {
    indices: Option<ArrayRef>,
    values: ArrayRef,
}

impl MatrixRows {
    /// Gene positions per row (CSR only).
    pub fn indices(&self) -> ArrayRef {
        self.indices
            .clone()
            .expect("only a CSR matrix presents an indices column")
    }
    /// Values per row.
    pub fn values(&self) -> ArrayRef {
        self.values.clone()
    }
}

fn shape_attr(attrs: &std::collections::HashMap<String, AttrValue>) -> Option<Vec<u64>> {
    match attrs.get("shape")? {
        AttrValue::I64Array(v) => v.iter().map(|&x| u64::try_from(x).ok()).collect(),
        AttrValue::U64Array(v) => Some(v.clone()),
        AttrValue::I32Array(v) => v.iter().map(|&x| u64::try_from(x).ok()).collect(),
        AttrValue::U32Array(v) => Some(v.iter().map(|&x| x as u64).collect()),
        _ => None,
    }
}

/// The Arrow type of an HDF5 numeric type, `None` for anything else.
pub(super) fn arrow_type(t: &DType) -> Option<DataType> {
    Some(match t {
        DType::F32 => DataType::Float32,
        DType::F64 => DataType::Float64,
        DType::I8 => DataType::Int8,
        DType::I16 => DataType::Int16,
        DType::I32 => DataType::Int32,
        DType::I64 => DataType::Int64,
        DType::U8 => DataType::UInt8,
        DType::U16 => DataType::UInt16,
        DType::U32 => DataType::UInt32,
        DType::U64 => DataType::UInt64,
        _ => return None,
    })
}

/// Reads elements `start..start + count` (of the leading dimension) of a numeric dataset.
pub(super) fn read_numeric(
    ds: &Dataset,
    t: &DType,
    start: u64,
    count: u64,
    errors: &FileErrors<'_>,
) -> Result<ArrayRef> {
    let e = |e| errors.read(e);
    Ok(match t {
        DType::F32 => Arc::new(Float32Array::from(
            ds.read_f32_rows(start, count).map_err(e)?,
        )),
        DType::F64 => Arc::new(Float64Array::from(
            ds.read_f64_rows(start, count).map_err(e)?,
        )),
        DType::I8 => Arc::new(Int8Array::from(ds.read_i8_rows(start, count).map_err(e)?)),
        DType::I16 => Arc::new(Int16Array::from(ds.read_i16_rows(start, count).map_err(e)?)),
        DType::I32 => Arc::new(Int32Array::from(ds.read_i32_rows(start, count).map_err(e)?)),
        DType::I64 => Arc::new(Int64Array::from(ds.read_i64_rows(start, count).map_err(e)?)),
        DType::U8 => Arc::new(UInt8Array::from(ds.read_u8_rows(start, count).map_err(e)?)),
        DType::U16 => Arc::new(UInt16Array::from(
            ds.read_u16_rows(start, count).map_err(e)?,
        )),
        DType::U32 => Arc::new(UInt32Array::from(
            ds.read_u32_rows(start, count).map_err(e)?,
        )),
        DType::U64 => Arc::new(UInt64Array::from(
            ds.read_u64_rows(start, count).map_err(e)?,
        )),
        other => unreachable!("read_numeric is called for numeric types only, got {other}"),
    })
}

/// Reads `indptr[start..=start + count]` as signed offsets.
fn read_offsets(
    ds: &Dataset,
    t: &DType,
    start: u64,
    count: u64,
    errors: &FileErrors<'_>,
) -> Result<Vec<i64>> {
    let e = |e| errors.read(e);
    let bad = || {
        errors.unsupported(
            "X/indptr holds offsets beyond 2^63".into(),
            "the file is damaged: write it again with anndata",
        )
    };
    Ok(match t {
        DType::I32 => ds
            .read_i32_rows(start, count)
            .map_err(e)?
            .into_iter()
            .map(i64::from)
            .collect(),
        DType::I64 => ds.read_i64_rows(start, count).map_err(e)?,
        DType::U32 => ds
            .read_u32_rows(start, count)
            .map_err(e)?
            .into_iter()
            .map(i64::from)
            .collect(),
        DType::U64 => ds
            .read_u64_rows(start, count)
            .map_err(e)?
            .into_iter()
            .map(|x| i64::try_from(x).map_err(|_| bad()))
            .collect::<Result<_>>()?,
        other => unreachable!("indptr types are checked at open, got {other}"),
    })
}

fn dims(ds: &Dataset, errors: &FileErrors<'_>) -> Result<Vec<u64>> {
    ds.shape().map_err(|e| errors.read(e))
}

impl Matrix {
    /// Opens the matrix at `path` (`X`, `raw/X`, `layers/NAME`), checking its encoding.
    pub fn open(
        file: &File,
        path: &str,
        errors: &FileErrors<'_>,
        options: &ReadOptions,
    ) -> Result<Matrix> {
        let missing = || {
            let remedy = match &options.layer {
                Some(_) => "check --layer (layers/NAME, or 'raw' for raw/X)",
                None => "store the expression matrix in X (or name a layer with --layer)",
            };
            errors.unsupported(format!("the AnnData file has no '{path}'"), remedy)
        };
        let numeric = |ds: &Dataset, what: &str| -> Result<DType> {
            let t = ds.dtype().map_err(|e| errors.read(e))?;
            if arrow_type(&t).is_none() {
                return Err(errors.unsupported(
                    format!("{path}/{what} has type {t}, expected numbers"),
                    "store expression as float32/float64 or integer counts",
                ));
            }
            Ok(t)
        };
        if let Ok(group) = file.group(path) {
            let attrs = group.attrs().map_err(|e| errors.read(e))?;
            let encoding = encoding_type(&attrs).unwrap_or_default();
            let by_genes = encoding == "csc_matrix";
            if encoding != "csr_matrix" && !by_genes {
                return Err(errors.unsupported(
                    format!("{path} has the unsupported encoding '{encoding}' (calibra reads dense arrays, csr_matrix and csc_matrix)"),
                    "store the matrix as a dense array or a CSR sparse matrix",
                ));
            }
            let shape = shape_attr(&attrs).filter(|s| s.len() == 2).ok_or_else(|| {
                errors.unsupported(
                    format!("{path} has no valid 'shape' attribute"),
                    "write the file again with anndata",
                )
            })?;
            let part = |name: &str| {
                file.dataset(&format!("{path}/{name}")).map_err(|_| {
                    errors.unsupported(
                        format!("the sparse matrix {path} has no '{name}'"),
                        "write the file again with anndata",
                    )
                })
            };
            let (data, indices, indptr) = (part("data")?, part("indices")?, part("indptr")?);
            let (data_type, indices_type, indptr_type) = (
                numeric(&data, "data")?,
                numeric(&indices, "indices")?,
                numeric(&indptr, "indptr")?,
            );
            for (t, what) in [(&indices_type, "indices"), (&indptr_type, "indptr")] {
                if !matches!(t, DType::I32 | DType::I64 | DType::U32 | DType::U64) {
                    return Err(errors.unsupported(
                        format!("{path}/{what} has type {t}, expected 32- or 64-bit integers"),
                        "write the file again with anndata",
                    ));
                }
            }
            let n_indptr = dims(&indptr, errors)?.first().copied().unwrap_or(0);
            let (major, what) = if by_genes {
                (shape[1], "columns")
            } else {
                (shape[0], "rows")
            };
            if n_indptr != major + 1 {
                return Err(errors.unsupported(
                    format!(
                        "{path}/indptr has {n_indptr} entries for {major} {what} (expected {what} + 1)"
                    ),
                    "the file is damaged: write it again with anndata",
                ));
            }
            let nnz = read_offsets(&indptr, &indptr_type, major, 1, errors)?
                .first()
                .map_or(0, |&x| x.max(0) as u64);
            return Ok(Matrix::Csr {
                by_genes,
                nnz,
                data,
                data_type,
                indices,
                indices_type,
                indptr,
                indptr_type,
                n_obs: shape[0],
                n_vars: shape[1],
            });
        }
        let values = file.dataset(path).map_err(|_| missing())?;
        let shape = dims(&values, errors)?;
        if shape.len() != 2 {
            return Err(errors.unsupported(
                format!(
                    "{path} has {} dimensions, expected 2 (cells × genes)",
                    shape.len()
                ),
                "store the matrix as cells × genes",
            ));
        }
        let data_type = numeric(&values, "")?;
        Ok(Matrix::Dense {
            values,
            data_type,
            n_obs: shape[0],
            n_vars: shape[1],
        })
    }

    /// Number of rows (cells).
    pub fn n_obs(&self) -> u64 {
        match self {
            Matrix::Csr { n_obs, .. } | Matrix::Dense { n_obs, .. } => *n_obs,
        }
    }

    /// Number of columns (genes).
    pub fn n_vars(&self) -> u64 {
        match self {
            Matrix::Csr { n_vars, .. } | Matrix::Dense { n_vars, .. } => *n_vars,
        }
    }

    /// Stored values per row, on average (CSR: non-zeros; dense: genes).
    pub fn values_per_row(&self) -> f64 {
        match self {
            Matrix::Csr { nnz, n_obs, .. } => *nnz as f64 / (*n_obs).max(1) as f64,
            Matrix::Dense { n_vars, .. } => *n_vars as f64,
        }
    }

    /// The table columns that present the matrix, in the layouts of SPEC §1.1.
    pub fn fields(&self) -> Vec<(Field, ColumnSource)> {
        let list = |t: DataType| DataType::LargeList(Arc::new(Field::new("item", t, false)));
        match self {
            Matrix::Csr {
                data_type,
                indices_type,
                ..
            } => vec![
                (
                    Field::new("indices", list(index_type(indices_type)), false),
                    ColumnSource::Indices,
                ),
                (
                    Field::new(
                        "values",
                        list(arrow_type(data_type).expect("numeric")),
                        false,
                    ),
                    ColumnSource::Values,
                ),
            ],
            Matrix::Dense {
                data_type, n_vars, ..
            } => vec![(
                Field::new(
                    "expression",
                    DataType::FixedSizeList(
                        Arc::new(Field::new(
                            "item",
                            arrow_type(data_type).expect("numeric"),
                            false,
                        )),
                        *n_vars as i32,
                    ),
                    false,
                ),
                ColumnSource::Values,
            )],
        }
    }

    /// Whether the matrix is stored by genes (CSC): read by [`Matrix::gene_block`], not rows.
    pub fn by_genes(&self) -> bool {
        matches!(self, Matrix::Csr { by_genes: true, .. })
    }

    /// CSC: `indptr`, one offset per gene and the end (small: genes + 1 values).
    pub fn gene_offsets(&self, errors: &FileErrors<'_>) -> Result<Vec<i64>> {
        match self {
            Matrix::Csr {
                indptr,
                indptr_type,
                n_vars,
                ..
            } => {
                let offsets = read_offsets(indptr, indptr_type, 0, n_vars + 1, errors)?;
                if offsets.windows(2).any(|w| w[0] > w[1]) || offsets.first() != Some(&0) {
                    return Err(errors.unsupported(
                        "X/indptr decreases (it must be non-decreasing from 0)".into(),
                        "the file is damaged: write it again with anndata",
                    ));
                }
                Ok(offsets)
            }
            Matrix::Dense { .. } => unreachable!("gene offsets are read for CSC matrices only"),
        }
    }

    /// CSC: the entries of genes `g0..g1`, stored at `from..to` of `indices` and `data`.
    pub fn gene_block(
        &self,
        (from, to): (u64, u64),
        errors: &FileErrors<'_>,
    ) -> Result<(ArrayRef, ArrayRef)> {
        match self {
            Matrix::Csr {
                data,
                data_type,
                indices,
                indices_type,
                ..
            } => {
                let n = to - from;
                let values = read_numeric(data, data_type, from, n, errors)?;
                let rows = read_numeric(indices, indices_type, from, n, errors)?;
                if values.len() as u64 != n || rows.len() as u64 != n {
                    return Err(errors.unsupported(
                        "X/indptr points past the end of X/data or X/indices".into(),
                        "the file is damaged: write it again with anndata",
                    ));
                }
                Ok((rows, values))
            }
            Matrix::Dense { .. } => unreachable!("gene blocks are read for CSC matrices only"),
        }
    }

    /// Reads rows `start..start + count`.
    pub fn rows(&self, start: u64, count: u64, errors: &FileErrors<'_>) -> Result<MatrixRows> {
        match self {
            Matrix::Csr { by_genes: true, .. } => Err(errors.unsupported(
                "X is a CSC sparse matrix (csc_matrix), stored by genes: calibra reads it by genes for the observed cells, but cannot read it a window of cells at a time (predictions, the column preview)".into(),
                "convert it to CSR before writing: `adata.X = adata.X.tocsr(); adata.write_h5ad(path)`",
            )),
            Matrix::Csr {
                data,
                data_type,
                indices,
                indices_type,
                indptr,
                indptr_type,
                ..
            } => {
                let offsets = read_offsets(indptr, indptr_type, start, count + 1, errors)?;
                let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
                if offsets.windows(2).any(|w| w[0] > w[1]) || first < 0 {
                    return Err(errors.unsupported(
                        format!(
                            "X/indptr decreases within rows {start}..{} (it must be non-decreasing)",
                            start + count
                        ),
                        "the file is damaged: write it again with anndata",
                    ));
                }
                let (from, n) = (first as u64, (last - first) as u64);
                let values = read_numeric(data, data_type, from, n, errors)?;
                let positions = read_numeric(indices, indices_type, from, n, errors)?;
                if values.len() as u64 != n || positions.len() as u64 != n {
                    return Err(errors.unsupported(
                        format!(
                            "X/indptr points past the end of X/data or X/indices (rows {start}..{})",
                            start + count
                        ),
                        "the file is damaged: write it again with anndata",
                    ));
                }
                let offsets = OffsetBuffer::new(ScalarBuffer::from(
                    offsets.iter().map(|&o| o - first).collect::<Vec<i64>>(),
                ));
                let list = |a: ArrayRef| -> ArrayRef {
                    let field = Arc::new(Field::new("item", a.data_type().clone(), false));
                    Arc::new(LargeListArray::new(field, offsets.clone(), a, None))
                };
                Ok(MatrixRows {
                    indices: Some(list(positions)),
                    values: list(values),
                })
            }
            Matrix::Dense {
                values,
                data_type,
                n_vars,
                ..
            } => {
                let flat = read_numeric(values, data_type, start, count, errors)?;
                let field = Arc::new(Field::new("item", flat.data_type().clone(), false));
                let rows = FixedSizeListArray::try_new(field, *n_vars as i32, flat, None)
                    .map_err(|e| errors.read(e))?;
                Ok(MatrixRows {
                    indices: None,
                    values: Arc::new(rows),
                })
            }
        }
    }
}

fn index_type(t: &DType) -> DataType {
    arrow_type(t).expect("index types are checked at open")
}

/// A dense `obsm` entry (cells × dimensions), e.g. `X_pca`.
pub(super) struct Embedding {
    values: Dataset,
    data_type: DType,
    dims: u64,
}

impl Embedding {
    /// Opens `obsm/key`, which must be a 2-D numeric dataset with a row per cell.
    pub fn open(file: &File, key: &str, n_obs: u64, errors: &FileErrors<'_>) -> Result<Self> {
        let path = format!("obsm/{key}");
        let values = file.dataset(&path).map_err(|_| {
            let keys = file
                .group("obsm")
                .ok()
                .and_then(|g| g.datasets().ok())
                .unwrap_or_default();
            errors.unsupported(
                format!(
                    "the AnnData file has no dense '{path}' (obsm holds: {})",
                    if keys.is_empty() {
                        "nothing".to_string()
                    } else {
                        keys.join(", ")
                    }
                ),
                "name one of the obsm keys, stored as a cells × dimensions array",
            )
        })?;
        let shape = dims(&values, errors)?;
        let data_type = values.dtype().map_err(|e| errors.read(e))?;
        if shape.len() != 2 || shape[0] != n_obs || arrow_type(&data_type).is_none() {
            return Err(errors.unsupported(
                format!("{path} has shape {shape:?} of {data_type}, expected {n_obs} cells × dimensions of numbers"),
                "store the embedding as a dense cells × dimensions array",
            ));
        }
        Ok(Embedding {
            values,
            data_type,
            dims: shape[1],
        })
    }

    /// The column presenting it.
    pub fn field(&self) -> Field {
        let item = Field::new("item", arrow_type(&self.data_type).expect("numeric"), false);
        Field::new(
            crate::io::table::EMBEDDING_COLUMN,
            DataType::FixedSizeList(Arc::new(item), self.dims as i32),
            false,
        )
    }

    /// Rows `start..start + count`.
    pub fn read(&self, start: u64, count: u64, errors: &FileErrors<'_>) -> Result<ArrayRef> {
        let flat = read_numeric(&self.values, &self.data_type, start, count, errors)?;
        let field = Arc::new(Field::new("item", flat.data_type().clone(), false));
        Ok(Arc::new(
            FixedSizeListArray::try_new(field, self.dims as i32, flat, None)
                .map_err(|e| errors.read(e))?,
        ))
    }
}
