//! Independently decodable pieces of a table — Parquet row groups, Arrow IPC file record
//! batches — so that a wide table's columns can be decoded in parallel, in slabs of columns,
//! while memory stays at one piece at a time.
//!
//! Reading is split in two: [`Units::fetch`] does the I/O for one unit (one call per contiguous
//! byte range; in the browser it must run on the thread that owns the `File`), and
//! [`Units::decode`] turns fetched bytes into a record batch of some columns (pure CPU, safe on
//! any thread).

use super::format::{read_error, Format, Table};
use super::source::{ParquetChunks, SharedSource, SourceReader};
use crate::error::{Error, Result};
use arrow::buffer::Buffer;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::FileDecoder;
use arrow::ipc::{Block, MetadataVersion};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use std::io::{Cursor, Read};
use std::sync::Arc;

/// The units of a table and how to read them.
pub struct Units {
    source: SharedSource,
    format: Format,
    kind: Kind,
}

enum Kind {
    Parquet {
        meta: ArrowReaderMetadata,
    },
    Ipc {
        schema: SchemaRef,
        version: MetadataVersion,
        blocks: Vec<Block>,
        dictionaries: Vec<Block>,
    },
}

/// A set of columns prepared for decoding (a projection, with its decoder).
pub struct ColumnSet {
    columns: Vec<usize>,
    decoder: SetDecoder,
}

enum SetDecoder {
    Parquet {
        mask: ProjectionMask,
        /// Leaf columns read, ascending.
        leaves: Vec<usize>,
    },
    Ipc(Box<FileDecoder>),
}

impl ColumnSet {
    /// The columns (indices into the table schema), ascending.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }
}

/// The bytes of one unit fetched for some column sets.
pub enum UnitData {
    /// Parquet: coalesced (offset, bytes) ranges covering the column chunks.
    Parquet(Arc<Vec<(u64, Bytes)>>),
    /// IPC: the whole record batch block (metadata + body).
    Ipc(Buffer),
}

impl Units {
    /// The units of `table`, or `None` when it has no index of independent pieces (an Arrow
    /// IPC stream).
    pub fn of(table: &Table) -> Result<Option<Units>> {
        let source = table.source().clone();
        let name = source.name().to_string();
        let format = table.format;
        let err = |e: &dyn std::fmt::Display| read_error(&name, format, e);
        let kind = match format {
            Format::ArrowStream => return Ok(None),
            Format::Parquet => {
                let meta = ArrowReaderMetadata::load(
                    &ParquetChunks(source.clone()),
                    ArrowReaderOptions::new(),
                )
                .map_err(|e| err(&e))?;
                Kind::Parquet { meta }
            }
            Format::ArrowFile => {
                let size = source.size();
                if size < 10 {
                    return Err(err(&"file too short"));
                }
                let tail = source.read_at(size - 10, 10).map_err(|e| err(&e))?;
                let mut t = [0u8; 10];
                t.copy_from_slice(&tail);
                let footer_len =
                    arrow::ipc::reader::read_footer_length(t).map_err(|e| err(&e))? as u64;
                if footer_len + 10 > size {
                    return Err(err(&"footer length beyond the file"));
                }
                let footer_bytes = source
                    .read_at(size - 10 - footer_len, footer_len as usize)
                    .map_err(|e| err(&e))?;
                let footer = arrow::ipc::root_as_footer(&footer_bytes).map_err(|e| err(&e))?;
                let blocks: Vec<Block> = footer
                    .recordBatches()
                    .map(|b| b.iter().copied().collect())
                    .unwrap_or_default();
                let dictionaries: Vec<Block> = footer
                    .dictionaries()
                    .map(|b| b.iter().copied().collect())
                    .unwrap_or_default();
                Kind::Ipc {
                    schema: table.schema.clone(),
                    version: footer.version(),
                    blocks,
                    dictionaries,
                }
            }
        };
        Ok(Some(Units {
            source,
            format,
            kind,
        }))
    }

    fn error(&self, e: &dyn std::fmt::Display) -> Error {
        read_error(self.source.name(), self.format, e)
    }

    /// Whether each column set should be fetched by the task that decodes it (Parquet on a
    /// source any thread may read: I/O in parallel, small buffers; IPC blocks of a mapped
    /// local file, where fetching a block only maps it), rather than the whole unit at once
    /// on the calling thread (other IPC sources; browser files).
    pub fn fetch_per_set(&self) -> bool {
        self.source.parallel_reads()
            && (matches!(self.kind, Kind::Parquet { .. }) || self.source.cheap_large_reads())
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Parquet { meta } => meta.metadata().num_row_groups(),
            Kind::Ipc { blocks, .. } => blocks.len(),
        }
    }

    /// True when the table has no units.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Prepares the decoding of `columns` (indices into the table schema).
    pub fn column_set(&self, columns: &[usize]) -> Result<ColumnSet> {
        let mut columns = columns.to_vec();
        columns.sort_unstable();
        columns.dedup();
        let decoder = match &self.kind {
            Kind::Parquet { meta } => {
                let schema = meta.metadata().file_metadata().schema_descr();
                let mask = ProjectionMask::roots(schema, columns.iter().copied());
                let leaves = (0..schema.num_columns())
                    .filter(|&l| {
                        columns
                            .binary_search(&schema.get_column_root_idx(l))
                            .is_ok()
                    })
                    .collect();
                SetDecoder::Parquet { mask, leaves }
            }
            Kind::Ipc {
                schema,
                version,
                dictionaries,
                ..
            } => {
                let mut d =
                    FileDecoder::new(schema.clone(), *version).with_projection(columns.clone());
                let needs_dictionaries = columns.iter().any(|&c| {
                    matches!(
                        schema.field(c).data_type(),
                        arrow::datatypes::DataType::Dictionary(_, _)
                    )
                });
                if needs_dictionaries {
                    for block in dictionaries {
                        let buf = self.read_block(block)?;
                        d.read_dictionary(block, &buf).map_err(|e| self.error(&e))?;
                    }
                }
                SetDecoder::Ipc(Box::new(d))
            }
        };
        Ok(ColumnSet { columns, decoder })
    }

    fn read_block(&self, block: &Block) -> Result<Buffer> {
        let len = block.metaDataLength() as i64 + block.bodyLength();
        if block.offset() < 0 || len < 0 || (block.offset() + len) as u64 > self.source.size() {
            return Err(self.error(&"a record batch lies beyond the end of the file"));
        }
        let bytes = self
            .source
            .read_at(block.offset() as u64, len as usize)
            .map_err(|e| self.error(&e))?;
        Ok(Buffer::from(bytes))
    }

    /// Reads every byte that decoding `sets` of unit `unit` needs (I/O only).
    pub fn fetch(&self, unit: usize, sets: &[&ColumnSet]) -> Result<UnitData> {
        match &self.kind {
            Kind::Parquet { meta } => {
                let rg = meta.metadata().row_group(unit);
                let mut ranges: Vec<(u64, u64)> = Vec::new();
                for set in sets {
                    let SetDecoder::Parquet { leaves, .. } = &set.decoder else {
                        unreachable!("column sets come from the same units")
                    };
                    for &l in leaves {
                        let (start, len) = rg.column(l).byte_range();
                        ranges.push((start, start + len));
                    }
                }
                ranges.sort_unstable();
                // Coalesce adjacent chunks: a slab of consecutive columns is one read.
                let mut merged: Vec<(u64, u64)> = Vec::new();
                for (s, e) in ranges {
                    match merged.last_mut() {
                        Some(last) if s <= last.1 => last.1 = last.1.max(e),
                        _ => merged.push((s, e)),
                    }
                }
                let mut out = Vec::with_capacity(merged.len());
                for (s, e) in merged {
                    if e > self.source.size() {
                        return Err(self.error(&"a column chunk lies beyond the end of the file"));
                    }
                    let bytes = self
                        .source
                        .read_at(s, (e - s) as usize)
                        .map_err(|e| self.error(&e))?;
                    out.push((s, bytes));
                }
                Ok(UnitData::Parquet(Arc::new(out)))
            }
            Kind::Ipc { blocks, .. } => Ok(UnitData::Ipc(self.read_block(&blocks[unit])?)),
        }
    }

    /// Decodes the columns of `set` for unit `unit` from fetched bytes; the batch's columns are
    /// `set.columns()` in order. No I/O unless `data` lacks a range (then the source is read).
    pub fn decode(&self, unit: usize, data: &UnitData, set: &ColumnSet) -> Result<RecordBatch> {
        match (&self.kind, data, &set.decoder) {
            (
                Kind::Parquet { meta },
                UnitData::Parquet(ranges),
                SetDecoder::Parquet { mask, .. },
            ) => {
                let rows = meta.metadata().row_group(unit).num_rows().max(1) as usize;
                let chunks = Prefetched {
                    ranges: ranges.clone(),
                    fallback: ParquetChunks(self.source.clone()),
                };
                let mut reader =
                    ParquetRecordBatchReaderBuilder::new_with_metadata(chunks, meta.clone())
                        .with_row_groups(vec![unit])
                        .with_projection(mask.clone())
                        .with_batch_size(rows)
                        .build()
                        .map_err(|e| self.error(&e))?;
                match reader.next() {
                    Some(batch) => batch.map_err(|e| self.error(&e)),
                    None => Ok(RecordBatch::new_empty(Arc::new(
                        meta.schema()
                            .project(&set.columns)
                            .map_err(|e| self.error(&e))?,
                    ))),
                }
            }
            (Kind::Ipc { blocks, .. }, UnitData::Ipc(buf), SetDecoder::Ipc(decoder)) => decoder
                .read_record_batch(&blocks[unit], buf)
                .map_err(|e| self.error(&e))?
                .ok_or_else(|| self.error(&"a record batch block holds no record batch")),
            _ => unreachable!("unit data and column sets come from the same units"),
        }
    }
}

/// Column chunks already in memory, with the source as fallback.
#[derive(Clone)]
struct Prefetched {
    ranges: Arc<Vec<(u64, Bytes)>>,
    fallback: ParquetChunks,
}

impl Prefetched {
    fn find(&self, start: u64) -> Option<&(u64, Bytes)> {
        let i = self.ranges.partition_point(|(s, _)| *s <= start);
        let r = self.ranges.get(i.checked_sub(1)?)?;
        (start < r.0 + r.1.len() as u64).then_some(r)
    }
}

/// A reader over prefetched bytes or, outside them, the source.
enum PrefetchedRead {
    Memory(Cursor<Bytes>),
    Source(SourceReader),
}

impl Read for PrefetchedRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            PrefetchedRead::Memory(c) => c.read(buf),
            PrefetchedRead::Source(s) => s.read(buf),
        }
    }
}

impl parquet::file::reader::Length for Prefetched {
    fn len(&self) -> u64 {
        self.fallback.0.size()
    }
}

impl parquet::file::reader::ChunkReader for Prefetched {
    type T = PrefetchedRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match self.find(start) {
            Some((s, bytes)) => {
                PrefetchedRead::Memory(Cursor::new(bytes.slice((start - s) as usize..)))
            }
            None => PrefetchedRead::Source(self.fallback.get_read(start)?),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        if let Some((s, bytes)) = self.find(start) {
            let off = (start - s) as usize;
            if off + length <= bytes.len() {
                return Ok(bytes.slice(off..off + length));
            }
        }
        self.fallback.get_bytes(start, length)
    }
}
