//! AnnData `.h5ad` files (HDF5), read with the pure-Rust `hdf5-pure` library so that the CLI
//! and the page share one reader. The file is presented as a table: one column per `obs`
//! column (categoricals as dictionaries) and the expression matrix as the sparse-CSR layout
//! (`indices`, `values`) or the dense-list layout (`expression`), with the gene names from
//! `var`. Batches are windows of rows (cells): a CSR window reads its slice of `indptr`,
//! `indices` and `data`; a dense window its rows. Nothing is read whole but the labels'
//! categories and the gene names.

mod matrix;
mod obs;

use crate::error::{Error, Result};
use crate::io::layout::GENES_METADATA_KEY;
use crate::io::source::SharedSource;
use crate::io::table::{
    read_error, Batches, GeneBlock, GeneBlocks, ReadOptions, TableFormat, TableReader,
};
use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use hdf5_pure::{AttrValue, File, FileAccessProperties, FormatError, MetadataCacheConfig};
use matrix::Matrix;
use obs::ObsColumn;
use std::collections::HashMap;
use std::sync::Arc;

/// Matrix values read per window at most (about 4 MB of float32 values and their indices;
/// several windows are in flight with parallel read-ahead).
const WINDOW_VALUES: usize = 1 << 19;

/// AnnData `.h5ad` (HDF5 signature).
pub struct H5ad;

const LABEL: &str = "h5ad";

impl TableFormat for H5ad {
    fn name(&self) -> &'static str {
        "H5ad"
    }
    fn label(&self) -> &'static str {
        LABEL
    }
    fn recognizes(&self, head: &[u8]) -> bool {
        head.starts_with(b"\x89HDF\r\n\x1a\n")
    }
    fn takes_read_options(&self) -> bool {
        true
    }
    fn open(
        &'static self,
        source: SharedSource,
        options: &ReadOptions,
    ) -> Result<Box<dyn TableReader>> {
        let parallel_reads = source.parallel_reads();
        Ok(Box::new(Reader {
            table: Arc::new(H5adTable::open(source, options)?),
            parallel_reads,
        }))
    }
}

/// Where the values of one presented column come from.
enum ColumnSource {
    Obs(Box<ObsColumn>),
    /// The matrix's gene positions per row (CSR).
    Indices,
    /// The matrix's values per row (CSR), or its rows (dense).
    Values,
    /// A dense `obsm` entry: one fixed-size list per cell.
    Embedding(matrix::Embedding),
}

/// The table reader: the opened file, shared with a read-ahead thread when the source can be
/// read from any thread.
struct Reader {
    table: Arc<H5adTable>,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    parallel_reads: bool,
}

/// An opened h5ad file.
struct H5adTable {
    name: String,
    schema: SchemaRef,
    n_obs: u64,
    columns: Vec<ColumnSource>,
    matrix: Matrix,
}

/// `hdf5-pure` reads through calibra's byte sources: a mapped local file, or a browser `File`
/// read slice by slice.
struct H5Source(SharedSource);

impl hdf5_pure::Source for H5Source {
    fn len(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), FormatError> {
        let bytes = self
            .0
            .read_at(offset, buf.len())
            .map_err(|e| FormatError::Source(e.to_string()))?;
        buf.copy_from_slice(&bytes);
        Ok(())
    }
}

/// The `encoding-type` attribute of an AnnData element, if any.
pub(crate) fn encoding_type(attrs: &HashMap<String, AttrValue>) -> Option<String> {
    attrs
        .get("encoding-type")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Errors of one h5ad file: what is wrong, in terms of AnnData, and what to do.
pub(crate) struct FileErrors<'a> {
    pub name: &'a str,
}

impl FileErrors<'_> {
    /// The library could not decode something: damaged or truncated file.
    pub fn read(&self, e: impl std::fmt::Display) -> Error {
        read_error(self.name, LABEL, e)
    }
    /// The file is valid HDF5 but not what calibra can read, with a remedy.
    pub fn unsupported(&self, message: String, remedy: &str) -> Error {
        Error::in_file(self.name, message, remedy)
    }
}

impl H5adTable {
    fn open(source: SharedSource, options: &ReadOptions) -> Result<Self> {
        let name = source.name().to_string();
        let size = source.size();
        let errors = FileErrors { name: &name };
        // Metadata is many small reads: in the browser each one is a slice of the `File`.
        let access = FileAccessProperties::new()
            .with_metadata_cache(MetadataCacheConfig::new(16 << 20).with_max_entry_bytes(1 << 20));
        let file =
            File::from_source_with_options(H5Source(source), access).map_err(|e| errors.read(e))?;
        // The superblock records where the file ends: a shorter file was cut short (a copy
        // or download that stopped), and would otherwise fail later with a vaguer message.
        let end = file.superblock().eof_address + file.superblock().base_address.get();
        if end > size {
            return Err(errors.read(format!(
                "the file is {size} bytes but its HDF5 superblock says it ends at byte {end}"
            )));
        }
        let root = file.root();
        let top: Vec<String> = root.groups().map_err(|e| errors.read(e))?;
        let top_datasets: Vec<String> = root.datasets().map_err(|e| errors.read(e))?;
        let root_type = encoding_type(&root.attrs().map_err(|e| errors.read(e))?);
        let has = |n: &str| top.iter().chain(&top_datasets).any(|g| g == n);
        if root_type.as_deref() != Some("anndata") && !(has("obs") && has("var")) {
            return Err(errors.unsupported(
                "an HDF5 file, but not AnnData (no 'obs' and 'var' groups)".into(),
                "write the data with anndata (`adata.write_h5ad(path)`), or export it to Parquet",
            ));
        }
        if !has("obs") {
            return Err(errors.unsupported(
                "the AnnData file has no 'obs' (cell annotations)".into(),
                "write it again with anndata",
            ));
        }

        let matrix_path = match options.layer.as_deref() {
            None => "X".to_string(),
            Some("raw") | Some("raw/X") => "raw/X".to_string(),
            Some("X") => "X".to_string(),
            Some(layer) => format!("layers/{layer}"),
        };
        let matrix = Matrix::open(&file, &matrix_path, &errors, options)?;
        let var_path = if matrix_path == "raw/X" {
            "raw/var"
        } else {
            "var"
        };
        let genes = obs::var_names(&file, var_path, options.gene_column.as_deref(), &errors)?;
        if genes.len() as u64 != matrix.n_vars() {
            return Err(errors.unsupported(
                format!(
                    "{var_path} names {} genes but {matrix_path} has {} columns",
                    genes.len(),
                    matrix.n_vars()
                ),
                "write the file again with anndata",
            ));
        }

        let obs_columns = obs::open_frame(&file, "obs", &errors)?;
        let n_obs = matrix.n_obs();
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for (column_name, column) in obs_columns {
            // The expression columns' names are reserved for the matrix.
            if matches!(column_name.as_str(), "indices" | "values" | "expression") {
                continue;
            }
            if column.len() != n_obs {
                return Err(errors.unsupported(
                    format!(
                        "obs column '{column_name}' has {} rows but {matrix_path} has {n_obs}",
                        column.len()
                    ),
                    "write the file again with anndata",
                ));
            }
            fields.push(Field::new(column_name, column.data_type(), true));
            columns.push(ColumnSource::Obs(Box::new(column)));
        }
        for (field, source) in matrix.fields() {
            fields.push(field);
            columns.push(source);
        }
        if let Some(key) = &options.embedding {
            let embedding = matrix::Embedding::open(&file, key, n_obs, &errors)?;
            fields.push(embedding.field());
            columns.push(ColumnSource::Embedding(embedding));
        }
        let genes_json = serde_json::to_string(&genes).expect("strings serialise");
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            HashMap::from([(GENES_METADATA_KEY.to_string(), genes_json)]),
        ));
        Ok(H5adTable {
            name,
            schema,
            n_obs,
            columns,
            matrix,
        })
    }

    fn window(&self, columns: &[usize], start: u64, count: u64) -> Result<RecordBatch> {
        let errors = FileErrors { name: &self.name };
        let needs_matrix = columns.iter().any(|&c| {
            matches!(
                self.columns[c],
                ColumnSource::Indices | ColumnSource::Values
            )
        });
        let rows = if needs_matrix {
            Some(self.matrix.rows(start, count, &errors)?)
        } else {
            None
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
        for &c in columns {
            arrays.push(match (&self.columns[c], &rows) {
                (ColumnSource::Obs(column), _) => column.read(start, count, &errors)?,
                (ColumnSource::Embedding(e), _) => e.read(start, count, &errors)?,
                (ColumnSource::Indices, Some(rows)) => rows.indices(),
                (ColumnSource::Values, Some(rows)) => rows.values(),
                _ => unreachable!("matrix rows are read when a matrix column is asked for"),
            });
        }
        let schema = Arc::new(self.schema.project(columns).map_err(|e| errors.read(e))?);
        RecordBatch::try_new_with_options(
            schema,
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(count as usize)),
        )
        .map_err(|e| errors.read(e))
    }
}

impl TableReader for Reader {
    fn schema(&self) -> SchemaRef {
        self.table.schema.clone()
    }
    fn num_rows(&self) -> Option<u64> {
        Some(self.table.n_obs)
    }
    fn gene_blocks(&self) -> Result<Option<Box<dyn GeneBlocks + '_>>> {
        if !self.table.matrix.by_genes() {
            return Ok(None);
        }
        let errors = FileErrors {
            name: &self.table.name,
        };
        Ok(Some(Box::new(CscBlocks {
            table: &self.table,
            offsets: self.table.matrix.gene_offsets(&errors)?,
        })))
    }
    fn batches(&self, columns: Option<&[usize]>, batch_rows: usize) -> Result<Batches<'_>> {
        let columns: Vec<usize> = match columns {
            Some(c) => c.to_vec(),
            None => (0..self.table.columns.len()).collect(),
        };
        let n = self.table.n_obs;
        // Windows of about the caller's rows, but bounded in values: a window of a dense or a
        // dense-ish CSR matrix would otherwise hold rows × genes values.
        let per_row = self.table.matrix.values_per_row().max(1.0);
        let step = (batch_rows.max(1) as u64).min((WINDOW_VALUES as f64 / per_row).max(1.0) as u64);
        let windows = (0..n.div_ceil(step)).map(move |i| {
            let start = i * step;
            (start, step.min(n - start))
        });
        let table = self.table.clone();
        let read = move |(start, count): (u64, u64)| {
            let batch = table.window(&columns, start, count)?;
            Ok((batch, (start + count) as f64 / n as f64))
        };
        #[cfg(not(target_arch = "wasm32"))]
        if self.parallel_reads {
            return Ok(read_ahead(windows, read));
        }
        Ok(Box::new(windows.map(read)))
    }
}

/// An h5ad CSC matrix read by blocks of genes.
struct CscBlocks<'t> {
    table: &'t H5adTable,
    /// `indptr`: gene g's entries are `offsets[g]..offsets[g + 1]`.
    offsets: Vec<i64>,
}

impl GeneBlocks for CscBlocks<'_> {
    fn n_genes(&self) -> usize {
        self.offsets.len() - 1
    }

    fn plan(&self, max_values: u64) -> Vec<std::ops::Range<usize>> {
        let mut blocks = Vec::new();
        let mut start = 0;
        for g in 0..self.n_genes() {
            let stored = (self.offsets[g + 1] - self.offsets[start]) as u64;
            if g > start && stored > max_values {
                blocks.push(start..g);
                start = g;
            }
        }
        if start < self.n_genes() {
            blocks.push(start..self.n_genes());
        }
        blocks
    }

    fn read(&self, genes: std::ops::Range<usize>) -> Result<GeneBlock> {
        let errors = FileErrors {
            name: &self.table.name,
        };
        let base = self.offsets[genes.start];
        let span = (base as u64, self.offsets[genes.end] as u64);
        let (rows, values) = self.table.matrix.gene_block(span, &errors)?;
        let cast =
            |a: &ArrayRef, t: &DataType| arrow::compute::cast(a, t).map_err(|e| errors.read(e));
        let rows = cast(&rows, &DataType::Int64)?;
        let n_obs = self.table.n_obs as i64;
        let rows: Vec<u64> = rows
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .iter()
            .map(|&r| {
                if (0..n_obs).contains(&r) {
                    Ok(r as u64)
                } else {
                    Err(errors.unsupported(
                        format!("X/indices holds the row {r}, outside the {n_obs} cells"),
                        "the file is damaged: write it again with anndata",
                    ))
                }
            })
            .collect::<Result<_>>()?;
        let values = cast(&values, &DataType::Float64)?;
        Ok(GeneBlock {
            first_gene: genes.start,
            offsets: genes
                .clone()
                .map(|g| (self.offsets[g] - base) as usize)
                .chain([(self.offsets[genes.end] - base) as usize])
                .collect(),
            rows,
            values: values
                .as_primitive::<arrow::datatypes::Float64Type>()
                .values()
                .to_vec(),
        })
    }
}

/// Reads (and decompresses) windows ahead on reader threads while the caller ingests the
/// current one — decompression is most of an h5ad read's work, and windows decompress
/// independently. Windows are handed out in order and delivered in order; each reader holds at
/// most one finished window until the caller takes it, so memory stays at a few windows.
#[cfg(not(target_arch = "wasm32"))]
fn read_ahead(
    windows: impl Iterator<Item = (u64, u64)> + Send + 'static,
    read: impl Fn((u64, u64)) -> Result<(RecordBatch, f64)> + Send + Sync + 'static,
) -> Batches<'static> {
    use std::sync::{mpsc, Mutex};
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
    let next = Arc::new(Mutex::new(windows.enumerate()));
    let read = Arc::new(read);
    let (send, receive) = mpsc::sync_channel::<(usize, Result<(RecordBatch, f64)>)>(1);
    for _ in 0..readers {
        let (next, read, send) = (next.clone(), read.clone(), send.clone());
        std::thread::spawn(move || {
            while let Some((index, window)) = next.lock().ok().and_then(|mut w| w.next()) {
                // A panic in the HDF5 library must reach the caller as an error, not end the
                // stream early (which would look like a shorter file).
                let item = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(window)))
                    .unwrap_or_else(|_| {
                        Err(Error::Internal(format!(
                            "the HDF5 reader failed on rows {}..{}",
                            window.0,
                            window.0 + window.1
                        )))
                    });
                // The receiver is gone when the caller stopped early: stop too.
                if send.send((index, item)).is_err() {
                    break;
                }
            }
        });
    }
    drop(send);
    // Windows arrive in any order: hand them out in file order.
    let mut waiting: std::collections::BTreeMap<usize, Result<(RecordBatch, f64)>> =
        std::collections::BTreeMap::new();
    let mut expected = 0usize;
    let mut failed = false;
    Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        loop {
            if let Some(item) = waiting.remove(&expected) {
                expected += 1;
                failed = item.is_err();
                return Some(item);
            }
            let (index, item) = receive.recv().ok()?;
            waiting.insert(index, item);
        }
    }))
}
