//! Apache Parquet: batches through the arrow-rs reader; units are row groups, fetched as
//! coalesced column-chunk ranges and decoded column set by column set.

use crate::error::{Error, Result};
use crate::io::source::{SharedSource, SourceReader};
use crate::io::table::{
    read_error, Batches, ColumnSet, ReadOptions, TableFormat, TableReader, TableUnits, UnitData,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use std::io::{Cursor, Read};
use std::sync::Arc;

/// The Parquet format.
pub struct Parquet;

impl TableFormat for Parquet {
    fn name(&self) -> &'static str {
        "Parquet"
    }
    fn label(&self) -> &'static str {
        "parquet"
    }
    fn recognizes(&self, head: &[u8]) -> bool {
        head.starts_with(b"PAR1")
    }
    fn open(
        &'static self,
        source: SharedSource,
        _options: &ReadOptions,
    ) -> Result<Box<dyn TableReader>> {
        let meta =
            ArrowReaderMetadata::load(&ParquetChunks(source.clone()), ArrowReaderOptions::new())
                .map_err(|e| read_error(source.name(), self.label(), e))?;
        Ok(Box::new(ParquetTable { source, meta }))
    }
}

/// An opened Parquet file: its source and footer metadata.
struct ParquetTable {
    source: SharedSource,
    meta: ArrowReaderMetadata,
}

impl ParquetTable {
    fn error(&self, e: impl std::fmt::Display) -> Error {
        read_error(self.source.name(), Parquet.label(), e)
    }
}

impl TableReader for ParquetTable {
    fn schema(&self) -> SchemaRef {
        self.meta.schema().clone()
    }

    fn num_rows(&self) -> Option<u64> {
        Some(self.meta.metadata().file_metadata().num_rows().max(0) as u64)
    }

    fn batches(&self, columns: Option<&[usize]>, batch_rows: usize) -> Result<Batches<'_>> {
        let mut b = ParquetRecordBatchReaderBuilder::new_with_metadata(
            ParquetChunks(self.source.clone()),
            self.meta.clone(),
        )
        .with_batch_size(batch_rows);
        if let Some(cols) = columns {
            let mask = ProjectionMask::roots(b.parquet_schema(), cols.iter().copied());
            b = b.with_projection(mask);
        }
        let total = self.num_rows().unwrap_or(0).max(1) as f64;
        let reader = b.build().map_err(|e| self.error(e))?;
        let mut done = 0u64;
        Ok(Box::new(reader.map(move |r| {
            let batch = r.map_err(|e| self.error(e))?;
            done += batch.num_rows() as u64;
            Ok((batch, done as f64 / total))
        })))
    }

    fn units(&self) -> Result<Option<Box<dyn TableUnits + '_>>> {
        Ok(Some(Box::new(RowGroups(self))))
    }
}

/// The row groups of a Parquet file.
struct RowGroups<'a>(&'a ParquetTable);

/// A Parquet column set's decoder: the projection and the leaf columns it reads.
struct Projection {
    mask: ProjectionMask,
    /// Leaf columns read, ascending.
    leaves: Vec<usize>,
}

/// Coalesced (offset, bytes) ranges covering the column chunks of a row group.
type Chunks = Arc<Vec<(u64, Bytes)>>;

impl TableUnits for RowGroups<'_> {
    fn len(&self) -> usize {
        self.0.meta.metadata().num_row_groups()
    }

    /// Each set is fetched by its own task: column chunks are read in parallel into small
    /// buffers (unless only one thread may read the source: a browser `File`).
    fn fetch_per_set(&self) -> bool {
        self.0.source.parallel_reads()
    }

    fn column_set(&self, columns: Vec<usize>) -> Result<ColumnSet> {
        let schema = self.0.meta.metadata().file_metadata().schema_descr();
        let mask = ProjectionMask::roots(schema, columns.iter().copied());
        let leaves = (0..schema.num_columns())
            .filter(|&l| {
                columns
                    .binary_search(&schema.get_column_root_idx(l))
                    .is_ok()
            })
            .collect();
        Ok(ColumnSet::new(columns, Projection { mask, leaves }))
    }

    fn fetch(&self, unit: usize, sets: &[&ColumnSet]) -> Result<UnitData> {
        let rg = self.0.meta.metadata().row_group(unit);
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for set in sets {
            for &l in &set.decoder::<Projection>().leaves {
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
        let source = &self.0.source;
        let mut out = Vec::with_capacity(merged.len());
        for (s, e) in merged {
            if e > source.size() {
                return Err(self
                    .0
                    .error("a column chunk lies beyond the end of the file"));
            }
            let bytes = source
                .read_at(s, (e - s) as usize)
                .map_err(|e| self.0.error(e))?;
            out.push((s, bytes));
        }
        Ok(UnitData::new(Chunks::new(out)))
    }

    /// No I/O unless `data` lacks a range (then the source is read).
    fn decode(&self, unit: usize, data: &UnitData, set: &ColumnSet) -> Result<RecordBatch> {
        let meta = &self.0.meta;
        let rows = meta.metadata().row_group(unit).num_rows().max(1) as usize;
        let chunks = Prefetched {
            ranges: data.get::<Chunks>().clone(),
            fallback: ParquetChunks(self.0.source.clone()),
        };
        let mut reader = ParquetRecordBatchReaderBuilder::new_with_metadata(chunks, meta.clone())
            .with_row_groups(vec![unit])
            .with_projection(set.decoder::<Projection>().mask.clone())
            .with_batch_size(rows)
            .build()
            .map_err(|e| self.0.error(e))?;
        match reader.next() {
            Some(batch) => batch.map_err(|e| self.0.error(e)),
            None => Ok(RecordBatch::new_empty(Arc::new(
                meta.schema()
                    .project(set.columns())
                    .map_err(|e| self.0.error(e))?,
            ))),
        }
    }
}

/// Block size of the readers handed to the Parquet decoder for page headers.
const PAGE_HEADER_BLOCK: usize = 16 << 10;

/// Adapter so the Parquet reader can fetch column chunks from any [`ByteSource`](crate::io::ByteSource).
#[derive(Clone)]
struct ParquetChunks(SharedSource);

impl parquet::file::reader::Length for ParquetChunks {
    fn len(&self) -> u64 {
        self.0.size()
    }
}

impl parquet::file::reader::ChunkReader for ParquetChunks {
    type T = SourceReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        // The Parquet reader asks for a fresh reader per page header (a few bytes; page data
        // then comes through `get_bytes`), so a big block here would read megabytes per page.
        Ok(SourceReader::with_block_size(
            self.0.clone(),
            start,
            PAGE_HEADER_BLOCK,
        ))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.0
            .read_at(start, length)
            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
    }
}

/// Column chunks already in memory, with the source as fallback.
#[derive(Clone)]
struct Prefetched {
    ranges: Chunks,
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
