//! Tables: the one seam between file formats and the rest of calibra.
//!
//! A format is a [`TableFormat`] (recognise the first bytes, open the metadata) registered in
//! [`crate::io::formats::FORMATS`]; an opened table is a [`TableReader`] (schema, record batches
//! of some columns) and, when the format has an index of independently decodable pieces, its
//! [`TableUnits`] (Parquet row groups, Arrow IPC file batches) for the parallel wide read.
//! Everything above — layouts, grouping, sinks — sees only [`Table`] and record batches.

use super::formats::FORMATS;
use super::source::SharedSource;
use crate::error::{Error, Result};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use std::any::Any;

/// A file format calibra reads.
pub trait TableFormat: Sync {
    /// Its name in the manifest (`cells_format`), e.g. `Parquet`.
    fn name(&self) -> &'static str;
    /// Its name in messages, e.g. `parquet`.
    fn label(&self) -> &'static str;
    /// Whether a file starting with `head` (its first 8 bytes or fewer) is in this format.
    fn recognizes(&self, head: &[u8]) -> bool;
    /// Whether the format holds several matrices and gene name columns, so that
    /// [`ReadOptions`] choose among them (h5ad); other formats have nothing to choose.
    fn takes_read_options(&self) -> bool {
        false
    }
    /// Opens a table of this format, reading only its metadata. `options` are the reader's
    /// choices of what to read where a format holds more than one table (h5ad).
    fn open(
        &'static self,
        source: SharedSource,
        options: &ReadOptions,
    ) -> Result<Box<dyn TableReader>>;
}

/// What to read from a file that holds more than one table of cells (an h5ad file: `X` or a
/// layer, gene names from the index or a column). Formats that hold one table ignore it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReadOptions {
    /// The expression matrix: `None` = `X`; `raw` = `raw/X`; any other name = `layers/NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The gene names: `None` = the `var` index; otherwise this `var` column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gene_column: Option<String>,
    /// An embedding of the cells to present as the column [`EMBEDDING_COLUMN`] (a
    /// fixed-size list per cell): an h5ad `obsm` key, e.g. `X_pca` (SPEC §12.2's `embedding`
    /// space).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<String>,
}

/// The column that presents [`ReadOptions::embedding`].
pub const EMBEDDING_COLUMN: &str = "embedding";

impl ReadOptions {
    /// True when nothing is chosen (manifests then omit the options).
    pub fn is_default(&self) -> bool {
        self == &ReadOptions::default()
    }
}

/// Record batches with the fraction of the input read so far.
pub type Batches<'a> = Box<dyn Iterator<Item = Result<(RecordBatch, f64)>> + 'a>;

/// An opened table of some format.
pub trait TableReader: Send + Sync {
    /// The Arrow schema (with the file's key-value metadata).
    fn schema(&self) -> SchemaRef;
    /// Number of rows, when the format tells it up front (`None`: known only at the end).
    fn num_rows(&self) -> Option<u64> {
        None
    }
    /// Streams record batches of about `batch_rows` rows (formats with fixed batches may
    /// yield them as written), restricted to `columns` (indices into the schema) when given.
    /// Each item carries the fraction of the file read so far (0 when unknown).
    fn batches(&self, columns: Option<&[usize]>, batch_rows: usize) -> Result<Batches<'_>>;
    /// The table's independently decodable units, or `None` when it has no index of them.
    fn units(&self) -> Result<Option<Box<dyn TableUnits + '_>>> {
        Ok(None)
    }
    /// For a matrix stored by genes (an h5ad CSC matrix), its reader by blocks of genes;
    /// `None` when the values are read by rows.
    fn gene_blocks(&self) -> Result<Option<Box<dyn GeneBlocks + '_>>> {
        Ok(None)
    }
}

/// A sparse matrix stored by genes (compressed sparse columns), read a block of genes at a
/// time: every value once, in gene order, each gene's cells ascending.
pub trait GeneBlocks {
    /// Number of genes (the matrix's columns, in the order of the table's gene names).
    fn n_genes(&self) -> usize;
    /// The gene ranges to read, in order, each of about `max_values` stored values (at least
    /// one gene).
    fn plan(&self, max_values: u64) -> Vec<std::ops::Range<usize>>;
    /// The entries of the genes `genes`.
    fn read(&self, genes: std::ops::Range<usize>) -> Result<GeneBlock>;
}

/// The stored entries of a block of genes.
pub struct GeneBlock {
    /// First gene of the block.
    pub first_gene: usize,
    /// Per gene of the block, its entries `offsets[j]..offsets[j + 1]`.
    pub offsets: Vec<usize>,
    /// Row (cell) of each entry.
    pub rows: Vec<u64>,
    /// Value of each entry, as f64 (exact for float32 and integer counts).
    pub values: Vec<f64>,
}

/// Independently decodable pieces of a table, so that a wide table's columns can be decoded
/// in parallel, in slabs of columns, while memory stays at one piece at a time.
///
/// Reading is split in two: [`TableUnits::fetch`] does the I/O for one unit (one call per
/// contiguous byte range; in the browser it must run on the thread that owns the `File`), and
/// [`TableUnits::decode`] turns fetched bytes into a record batch of some columns (pure CPU,
/// safe on any thread).
pub trait TableUnits: Send + Sync {
    /// Number of units.
    fn len(&self) -> usize;
    /// True when the table has no units.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether each column set should be fetched by the task that decodes it, rather than
    /// the whole unit at once on the calling thread.
    fn fetch_per_set(&self) -> bool;
    /// Prepares the decoding of `columns` (indices into the schema, ascending, distinct).
    fn column_set(&self, columns: Vec<usize>) -> Result<ColumnSet>;
    /// Reads every byte that decoding `sets` of unit `unit` needs (I/O only).
    fn fetch(&self, unit: usize, sets: &[&ColumnSet]) -> Result<UnitData>;
    /// Decodes the columns of `set` for unit `unit` from fetched bytes; the batch's columns
    /// are `set.columns()` in order.
    fn decode(&self, unit: usize, data: &UnitData, set: &ColumnSet) -> Result<RecordBatch>;
}

/// A set of columns prepared for decoding: the columns and the format's own decoder.
pub struct ColumnSet {
    columns: Vec<usize>,
    decoder: Box<dyn Any + Send + Sync>,
}

impl ColumnSet {
    /// A set of `columns` (ascending) with the format's decoder state.
    pub fn new(columns: Vec<usize>, decoder: impl Any + Send + Sync) -> Self {
        ColumnSet {
            columns,
            decoder: Box::new(decoder),
        }
    }

    /// The columns (indices into the table schema), ascending.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// The format's decoder state: sets come from the units that decode them.
    pub fn decoder<T: Any>(&self) -> &T {
        self.decoder
            .downcast_ref()
            .expect("a column set is decoded by the units that made it")
    }
}

/// The bytes of one unit fetched for some column sets, in the format's own form.
pub struct UnitData(Box<dyn Any + Send + Sync>);

impl UnitData {
    /// Wraps a format's fetched bytes.
    pub fn new(data: impl Any + Send + Sync) -> Self {
        UnitData(Box::new(data))
    }

    /// The format's fetched bytes: unit data comes from the units that decode it.
    pub fn get<T: Any>(&self) -> &T {
        self.0
            .downcast_ref()
            .expect("unit data is decoded by the units that fetched it")
    }
}

/// The format of an opened table.
#[derive(Clone, Copy)]
pub struct Format(&'static dyn TableFormat);

impl Format {
    /// Whether [`ReadOptions`] mean anything for this format ([`TableFormat::takes_read_options`]).
    pub fn takes_read_options(self) -> bool {
        self.0.takes_read_options()
    }

    /// Name in the manifest, e.g. `Parquet`.
    pub fn name(self) -> &'static str {
        self.0.name()
    }
    /// Name in messages, e.g. `parquet`.
    pub fn as_str(self) -> &'static str {
        self.0.label()
    }
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for Format {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl serde::Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The error for a file that cannot be decoded as its detected format.
pub fn read_error(name: &str, format: &str, e: impl std::fmt::Display) -> Error {
    Error::in_file(
        name,
        format!("cannot read as {format}: {e}"),
        "the file may be truncated or damaged: export it again",
    )
}

/// Recognises the format from the first bytes; unknown content gets a clear error.
pub fn detect_format(source: &SharedSource) -> Result<Format> {
    let name = source.name().to_string();
    let size = source.size();
    if size == 0 {
        return Err(Error::in_file(
            &name,
            "the file is empty",
            "export the table again",
        ));
    }
    let head = source
        .read_at(0, size.min(8) as usize)
        .map_err(|e| Error::Io {
            path: name.clone(),
            source: e,
        })?;
    if let Some(format) = FORMATS.iter().find(|f| f.recognizes(&head)) {
        return Ok(Format(*format));
    }
    Err(Error::in_file(
        &name,
        "not a Parquet or Arrow IPC file, nor an AnnData .h5ad file",
        "calibra reads Parquet, Arrow IPC (file or stream) and AnnData .h5ad files; export the \
         table in one of those formats",
    ))
}

/// An opened table: its format, schema and reader; batches are produced on demand.
pub struct Table {
    source: SharedSource,
    reader: Box<dyn TableReader>,
    /// The detected format.
    pub format: Format,
    /// The Arrow schema (with the file's key-value metadata).
    pub schema: SchemaRef,
    /// Number of rows, when the format tells it up front (Parquet).
    pub num_rows: Option<u64>,
}

impl Table {
    /// Opens a table in whichever registered format it is, reading only its metadata.
    pub fn open(source: SharedSource, options: &ReadOptions) -> Result<Table> {
        let format = detect_format(&source)?;
        let reader = format.0.open(source.clone(), options)?;
        // A long (cell, gene, value) table is read as one row per cell.
        let reader = match super::long::LongTable::wrap(source.name(), reader)? {
            Ok(long) => Box::new(long),
            Err(reader) => reader,
        };
        Ok(Table {
            source,
            format,
            schema: reader.schema(),
            num_rows: reader.num_rows(),
            reader,
        })
    }

    /// The source's display name.
    pub fn name(&self) -> &str {
        self.source.name()
    }

    /// Fails when `options` choose a matrix or gene column (or embedding) in a format that
    /// has only one: a silently ignored `--layer` would evaluate the wrong values.
    pub fn check_read_options(&self, options: &ReadOptions) -> Result<()> {
        if options.is_default() || self.format.takes_read_options() {
            return Ok(());
        }
        Err(Error::in_file(
            self.name(),
            format!(
                "--layer and --gene-column choose inside AnnData .h5ad files, but this is a {} file",
                self.format.as_str()
            ),
            "drop --layer / --gene-column for this file (its values and gene names are its columns)",
        ))
    }

    /// Streams record batches: see [`TableReader::batches`].
    pub fn batches(&self, columns: Option<&[usize]>, batch_rows: usize) -> Result<Batches<'_>> {
        self.reader.batches(columns, batch_rows.max(1))
    }

    /// The table's units, or `None` when its format has no index of them.
    pub fn units(&self) -> Result<Option<Box<dyn TableUnits + '_>>> {
        self.reader.units()
    }

    /// The table's reader by blocks of genes, when its matrix is stored by genes.
    pub fn gene_blocks(&self) -> Result<Option<Box<dyn GeneBlocks + '_>>> {
        self.reader.gene_blocks()
    }
}
