//! File formats: detects Parquet, Arrow IPC file and Arrow IPC stream from the first bytes, and
//! streams record batches (optionally only some columns) without loading the file.

use super::source::{ParquetChunks, SharedSource, SourceReader};
use crate::error::{Error, Result};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

/// A supported table format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file format (`ARROW1` magic, random access).
    ArrowFile,
    /// Arrow IPC stream format.
    ArrowStream,
}

impl Format {
    /// Human-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::ArrowFile => "arrow-ipc-file",
            Format::ArrowStream => "arrow-ipc-stream",
        }
    }
}

/// Recognises the format from the magic bytes; unknown content gets a clear error.
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
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if head.starts_with(b"ARROW1") {
        return Ok(Format::ArrowFile);
    }
    if head.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF]) {
        return Ok(Format::ArrowStream);
    }
    let hint = if head.starts_with(b"\x89HDF") {
        "this looks like HDF5 (h5ad), which calibra cannot read yet: export the table to Parquet \
         (e.g. pandas DataFrame of adata.X with a 'perturbation' column, `df.to_parquet(...)`)"
    } else {
        "calibra reads Parquet and Arrow IPC (file or stream) tables; export the table in one of \
         those formats"
    };
    Err(Error::in_file(
        &name,
        "not a Parquet or Arrow IPC file",
        hint,
    ))
}

/// Record batches with the fraction of the input read so far.
pub type Batches<'a> = Box<dyn Iterator<Item = Result<(RecordBatch, f64)>> + 'a>;

/// An opened table: its format and schema; batches are produced on demand.
pub struct Table {
    source: SharedSource,
    /// The detected format.
    pub format: Format,
    /// The Arrow schema (with the file's key-value metadata).
    pub schema: SchemaRef,
    /// Number of rows, when the format tells it up front (Parquet).
    pub num_rows: Option<u64>,
}

/// The error for a file that cannot be decoded as its detected format.
pub(super) fn read_error(name: &str, format: Format, e: impl std::fmt::Display) -> Error {
    Error::in_file(
        name,
        format!("cannot read as {}: {e}", format.as_str()),
        "the file may be truncated or damaged: export it again",
    )
}

impl Table {
    /// Opens a table, reading only its metadata.
    pub fn open(source: SharedSource) -> Result<Table> {
        let format = detect_format(&source)?;
        let name = source.name().to_string();
        let err = |e: &dyn std::fmt::Display| read_error(&name, format, e);
        let (schema, num_rows) = match format {
            Format::Parquet => {
                let b = ParquetRecordBatchReaderBuilder::try_new(ParquetChunks(source.clone()))
                    .map_err(|e| err(&e))?;
                let rows = b.metadata().file_metadata().num_rows().max(0) as u64;
                (b.schema().clone(), Some(rows))
            }
            Format::ArrowFile => {
                let r = arrow::ipc::reader::FileReader::try_new(
                    SourceReader::new(source.clone(), 0),
                    None,
                )
                .map_err(|e| err(&e))?;
                (r.schema(), None)
            }
            Format::ArrowStream => {
                let r = arrow::ipc::reader::StreamReader::try_new(
                    SourceReader::new(source.clone(), 0),
                    None,
                )
                .map_err(|e| err(&e))?;
                (r.schema(), None)
            }
        };
        Ok(Table {
            source,
            format,
            schema,
            num_rows,
        })
    }

    /// The byte source.
    pub fn source(&self) -> &SharedSource {
        &self.source
    }

    /// The source's display name.
    pub fn name(&self) -> &str {
        self.source.name()
    }

    /// Streams record batches of at most `batch_rows` rows (Parquet; IPC batches come as
    /// written), restricted to `columns` (indices into `schema`) when given. Each item carries
    /// the fraction of the file read so far, for progress reporting.
    pub fn batches(&self, columns: Option<&[usize]>, batch_rows: usize) -> Result<Batches<'_>> {
        let name = self.name().to_string();
        let format = self.format;
        let err = move |e: &dyn std::fmt::Display| read_error(&name, format, e);
        match self.format {
            Format::Parquet => {
                let mut b =
                    ParquetRecordBatchReaderBuilder::try_new(ParquetChunks(self.source.clone()))
                        .map_err(|e| err(&e))?
                        .with_batch_size(batch_rows.max(1));
                if let Some(cols) = columns {
                    let mask = ProjectionMask::roots(b.parquet_schema(), cols.iter().copied());
                    b = b.with_projection(mask);
                }
                let total = self.num_rows.unwrap_or(0).max(1) as f64;
                let reader = b.build().map_err(|e| err(&e))?;
                let mut done = 0u64;
                Ok(Box::new(reader.map(move |r| {
                    let batch = r.map_err(|e| err(&e))?;
                    done += batch.num_rows() as u64;
                    Ok((batch, done as f64 / total))
                })))
            }
            Format::ArrowFile => {
                let r = arrow::ipc::reader::FileReader::try_new(
                    SourceReader::new(self.source.clone(), 0),
                    columns.map(|c| c.to_vec()),
                )
                .map_err(|e| err(&e))?;
                let total = r.num_batches().max(1) as f64;
                let mut i = 0usize;
                Ok(Box::new(r.map(move |b| {
                    i += 1;
                    Ok((b.map_err(|e| err(&e))?, i as f64 / total))
                })))
            }
            Format::ArrowStream => {
                let r = arrow::ipc::reader::StreamReader::try_new(
                    SourceReader::new(self.source.clone(), 0),
                    columns.map(|c| c.to_vec()),
                )
                .map_err(|e| err(&e))?;
                // A stream has no index: progress is unknown until the end.
                Ok(Box::new(r.map(move |b| Ok((b.map_err(|e| err(&e))?, 0.0)))))
            }
        }
    }
}
