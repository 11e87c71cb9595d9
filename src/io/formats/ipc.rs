//! Arrow IPC, file and stream formats. A file's units are its record batch blocks (from the
//! footer); a stream has no index, so it is only read batch by batch.

use crate::error::{Error, Result};
use crate::io::source::{SharedSource, SourceReader};
use crate::io::table::{
    read_error, Batches, ColumnSet, ReadOptions, TableFormat, TableReader, TableUnits, UnitData,
};
use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::ipc::reader::{FileDecoder, FileReader, StreamReader};
use arrow::ipc::{Block, MetadataVersion};
use arrow::record_batch::RecordBatch;

/// The Arrow IPC file format (`ARROW1` magic, random access).
pub struct ArrowFile;

/// The Arrow IPC stream format.
pub struct ArrowStream;

impl TableFormat for ArrowFile {
    fn name(&self) -> &'static str {
        "ArrowFile"
    }
    fn label(&self) -> &'static str {
        "arrow-ipc-file"
    }
    fn recognizes(&self, head: &[u8]) -> bool {
        head.starts_with(b"ARROW1")
    }
    fn open(
        &'static self,
        source: SharedSource,
        _options: &ReadOptions,
    ) -> Result<Box<dyn TableReader>> {
        let err = |e: &dyn std::fmt::Display| read_error(source.name(), self.label(), e);
        let reader =
            FileReader::try_new(SourceReader::new(source.clone(), 0), None).map_err(|e| err(&e))?;
        Ok(Box::new(IpcFile {
            schema: reader.schema(),
            source,
        }))
    }
}

impl TableFormat for ArrowStream {
    fn name(&self) -> &'static str {
        "ArrowStream"
    }
    fn label(&self) -> &'static str {
        "arrow-ipc-stream"
    }
    fn recognizes(&self, head: &[u8]) -> bool {
        head.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF])
    }
    fn open(
        &'static self,
        source: SharedSource,
        _options: &ReadOptions,
    ) -> Result<Box<dyn TableReader>> {
        let reader = StreamReader::try_new(SourceReader::new(source.clone(), 0), None)
            .map_err(|e| read_error(source.name(), self.label(), e))?;
        Ok(Box::new(IpcStream {
            schema: reader.schema(),
            source,
        }))
    }
}

/// An opened Arrow IPC file.
struct IpcFile {
    source: SharedSource,
    schema: SchemaRef,
}

/// An opened Arrow IPC stream.
struct IpcStream {
    source: SharedSource,
    schema: SchemaRef,
}

impl TableReader for IpcFile {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The batches as written.
    fn batches(&self, columns: Option<&[usize]>, _batch_rows: usize) -> Result<Batches<'_>> {
        let name = self.source.name();
        let err = move |e: &dyn std::fmt::Display| read_error(name, ArrowFile.label(), e);
        let r = FileReader::try_new(
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

    fn units(&self) -> Result<Option<Box<dyn TableUnits + '_>>> {
        Ok(Some(Box::new(IpcBlocks::read(self)?)))
    }
}

impl TableReader for IpcStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The batches as written; a stream has no index, so progress is unknown until the end.
    fn batches(&self, columns: Option<&[usize]>, _batch_rows: usize) -> Result<Batches<'_>> {
        let name = self.source.name();
        let err = move |e: &dyn std::fmt::Display| read_error(name, ArrowStream.label(), e);
        let r = StreamReader::try_new(
            SourceReader::new(self.source.clone(), 0),
            columns.map(|c| c.to_vec()),
        )
        .map_err(|e| err(&e))?;
        Ok(Box::new(r.map(move |b| Ok((b.map_err(|e| err(&e))?, 0.0)))))
    }
}

/// The record batch blocks of an Arrow IPC file, from its footer.
struct IpcBlocks {
    source: SharedSource,
    schema: SchemaRef,
    version: MetadataVersion,
    blocks: Vec<Block>,
    dictionaries: Vec<Block>,
}

impl IpcBlocks {
    /// Reads the footer of `file`.
    fn read(file: &IpcFile) -> Result<IpcBlocks> {
        let source = file.source.clone();
        let err = |e: &dyn std::fmt::Display| read_error(source.name(), ArrowFile.label(), e);
        let size = source.size();
        if size < 10 {
            return Err(err(&"file too short"));
        }
        let tail = source.read_at(size - 10, 10).map_err(|e| err(&e))?;
        let mut t = [0u8; 10];
        t.copy_from_slice(&tail);
        let footer_len = arrow::ipc::reader::read_footer_length(t).map_err(|e| err(&e))? as u64;
        if footer_len + 10 > size {
            return Err(err(&"footer length beyond the file"));
        }
        let footer_bytes = source
            .read_at(size - 10 - footer_len, footer_len as usize)
            .map_err(|e| err(&e))?;
        let footer = arrow::ipc::root_as_footer(&footer_bytes).map_err(|e| err(&e))?;
        let blocks = footer
            .recordBatches()
            .map(|b| b.iter().copied().collect())
            .unwrap_or_default();
        let dictionaries = footer
            .dictionaries()
            .map(|b| b.iter().copied().collect())
            .unwrap_or_default();
        Ok(IpcBlocks {
            schema: file.schema.clone(),
            version: footer.version(),
            blocks,
            dictionaries,
            source,
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        read_error(self.source.name(), ArrowFile.label(), e)
    }

    fn read_block(&self, block: &Block) -> Result<Buffer> {
        let len = block.metaDataLength() as i64 + block.bodyLength();
        if block.offset() < 0 || len < 0 || (block.offset() + len) as u64 > self.source.size() {
            return Err(self.error("a record batch lies beyond the end of the file"));
        }
        let bytes = self
            .source
            .read_at(block.offset() as u64, len as usize)
            .map_err(|e| self.error(e))?;
        Ok(Buffer::from(bytes))
    }
}

impl TableUnits for IpcBlocks {
    fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Per set only when fetching a block costs next to nothing (a mapped local file): else
    /// the whole block is read once on the calling thread.
    fn fetch_per_set(&self) -> bool {
        self.source.parallel_reads() && self.source.cheap_large_reads()
    }

    fn column_set(&self, columns: Vec<usize>) -> Result<ColumnSet> {
        let mut d =
            FileDecoder::new(self.schema.clone(), self.version).with_projection(columns.clone());
        let needs_dictionaries = columns
            .iter()
            .any(|&c| matches!(self.schema.field(c).data_type(), DataType::Dictionary(_, _)));
        if needs_dictionaries {
            for block in &self.dictionaries {
                let buf = self.read_block(block)?;
                d.read_dictionary(block, &buf).map_err(|e| self.error(e))?;
            }
        }
        Ok(ColumnSet::new(columns, d))
    }

    /// The whole record batch block (metadata + body).
    fn fetch(&self, unit: usize, _sets: &[&ColumnSet]) -> Result<UnitData> {
        Ok(UnitData::new(self.read_block(&self.blocks[unit])?))
    }

    fn decode(&self, unit: usize, data: &UnitData, set: &ColumnSet) -> Result<RecordBatch> {
        set.decoder::<FileDecoder>()
            .read_record_batch(&self.blocks[unit], data.get::<Buffer>())
            .map_err(|e| self.error(e))?
            .ok_or_else(|| self.error("a record batch block holds no record batch"))
    }
}
