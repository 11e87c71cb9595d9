//! Output files written as their tables are produced: CSV text or zstd Parquet with one row
//! group per chunk, handed on as bytes (a file on disk, a Blob in the browser), so that a
//! per-gene table of a genome-scale screen never exists whole in memory.

use super::table::Table;
use super::{ChunkSink, ContextResult, OutputFile};
use crate::error::{Error, Result};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// Takes an output file's bytes as they are produced, in order.
pub type ByteSink<'a> = dyn FnMut(&[u8]) -> Result<()> + 'a;

/// Writes output `file` of context `r` into `out`, a chunk of its table at a time.
pub fn write_output(r: &ContextResult, file: &OutputFile, out: &mut ByteSink<'_>) -> Result<()> {
    write_table(file.name, |sink| (file.produce)(r, sink), out)
}

/// Writes the table `produce` makes, chunk by chunk, as output file `name` (its extension
/// chooses CSV or Parquet) into `out`.
pub fn write_table(
    name: &str,
    produce: impl FnOnce(&mut ChunkSink<'_>) -> Result<()>,
    out: &mut ByteSink<'_>,
) -> Result<()> {
    write_table_with_metadata(name, Vec::new(), produce, out)
}

/// [`write_table`] with (key, value) pairs in a Parquet file's key-value metadata, and in its
/// Arrow schema's metadata too (pyarrow's `schema.metadata` shows only the latter); a CSV file
/// has none: they are dropped.
pub fn write_table_with_metadata(
    name: &str,
    metadata: Vec<(String, String)>,
    produce: impl FnOnce(&mut ChunkSink<'_>) -> Result<()>,
    out: &mut ByteSink<'_>,
) -> Result<()> {
    let mut writer = TableWriter::new(name, metadata);
    produce(&mut |chunk| writer.write(chunk, out))?;
    writer.finish(out)
}

/// Above this many columns (a table wide over genes) a Parquet output is compressed with Snappy
/// rather than zstd: the writer makes a zstd context (~100 KB) per column, 800 MB for the 8,192
/// gene columns of a genome-scale `baselines.parquet`; Snappy keeps none.
const ZSTD_MAX_COLUMNS: usize = 64;

/// zstd (Snappy for wide tables); dictionary encoding and statistics only for string columns
/// (perturbation, gene, model names repeat, floats rarely do). A dictionary per float column
/// would cost its builder's memory, and statistics their min/max in the footer, for each of the
/// thousands of gene columns of `baselines.parquet` in every row group.
/// `metadata` goes into the file's key-value metadata.
fn writer_properties(
    schema: &arrow::datatypes::Schema,
    metadata: &[(String, String)],
) -> WriterProperties {
    use parquet::basic::Compression;
    use parquet::file::properties::EnabledStatistics;
    let compression = if schema.fields().len() > ZSTD_MAX_COLUMNS {
        Compression::SNAPPY
    } else {
        Compression::ZSTD(Default::default())
    };
    let mut props = WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::None);
    if !metadata.is_empty() {
        let kv = metadata
            .iter()
            .map(|(k, v)| parquet::file::metadata::KeyValue::new(k.clone(), v.clone()))
            .collect();
        props = props.set_key_value_metadata(Some(kv));
    }
    for field in schema.fields() {
        if field.data_type() == &arrow::datatypes::DataType::Utf8 {
            let column = parquet::schema::types::ColumnPath::from(field.name().as_str());
            props = props
                .set_column_dictionary_enabled(column.clone(), true)
                .set_column_statistics_enabled(column, EnabledStatistics::Page);
        }
    }
    props.build()
}

/// A table being written chunk by chunk.
enum TableWriter {
    Csv {
        header_written: bool,
    },
    /// Created with the first chunk's schema.
    Parquet {
        writer: Option<Box<ArrowWriter<Vec<u8>>>>,
        /// The file's key-value metadata.
        metadata: Vec<(String, String)>,
    },
}

fn parquet_error(e: parquet::errors::ParquetError) -> Error {
    Error::Output(format!("writing Parquet failed: {e}"))
}

impl TableWriter {
    fn new(name: &str, metadata: Vec<(String, String)>) -> Self {
        if name.ends_with(".csv") {
            TableWriter::Csv {
                header_written: false,
            }
        } else {
            TableWriter::Parquet {
                writer: None,
                metadata,
            }
        }
    }

    /// Writes one chunk (a Parquet row group) and hands on the bytes it completed.
    fn write(&mut self, chunk: Table, out: &mut ByteSink<'_>) -> Result<()> {
        match self {
            TableWriter::Csv { header_written } => {
                if !*header_written {
                    out(chunk.csv_header().as_bytes())?;
                    *header_written = true;
                }
                out(chunk.csv_rows().as_bytes())
            }
            TableWriter::Parquet { writer, metadata } => {
                let mut batch = chunk.into_record_batch()?;
                if !metadata.is_empty() {
                    let schema = batch.schema().as_ref().clone();
                    let schema = schema.with_metadata(
                        metadata
                            .iter()
                            .cloned()
                            .collect::<std::collections::HashMap<_, _>>(),
                    );
                    batch = batch
                        .with_schema(std::sync::Arc::new(schema))
                        .map_err(|e| Error::Output(format!("building an output table: {e}")))?;
                }
                if writer.is_none() {
                    let props = writer_properties(&batch.schema(), metadata);
                    *writer = Some(Box::new(
                        ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props))
                            .map_err(parquet_error)?,
                    ));
                }
                let w = writer.as_mut().expect("created above");
                w.write(&batch).map_err(parquet_error)?;
                w.flush().map_err(parquet_error)?;
                w.sync()
                    .map_err(|e| Error::Output(format!("writing Parquet failed: {e}")))?;
                // The writer counts the bytes it wrote; taking them out of its buffer is safe.
                let bytes = std::mem::take(w.inner_mut());
                out(&bytes)
            }
        }
    }

    /// Completes the file (the Parquet footer).
    fn finish(self, out: &mut ByteSink<'_>) -> Result<()> {
        match self {
            TableWriter::Csv { .. } => Ok(()),
            TableWriter::Parquet { writer, .. } => {
                let w = writer.ok_or_else(|| {
                    Error::Internal("an output table produced no chunk".to_string())
                })?;
                let bytes = w.into_inner().map_err(parquet_error)?;
                out(&bytes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::table::Column;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn chunk(rows: std::ops::Range<i64>) -> Table {
        Table::new()
            .with(
                "gene",
                Column::Str(rows.clone().map(|r| format!("g{r}")).collect()),
            )
            .with(
                "value",
                Column::F64(rows.clone().map(|r| r as f64 / 3.0).collect()),
            )
            .with("n", Column::I64(rows.collect()))
    }

    fn written(name: &str, chunks: Vec<Table>) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut out = |b: &[u8]| {
            bytes.extend_from_slice(b);
            Ok(())
        };
        let mut w = TableWriter::new(name, Vec::new());
        for c in chunks {
            w.write(c, &mut out).unwrap();
        }
        w.finish(&mut out).unwrap();
        bytes
    }

    #[test]
    fn chunks_make_one_file_with_every_row_in_order() {
        let whole = chunk(0..10);
        let parts = || vec![chunk(0..4), chunk(4..5), chunk(5..10)];
        let csv = String::from_utf8(written("t.csv", parts())).unwrap();
        assert_eq!(csv, whole.to_csv());

        let bytes = bytes::Bytes::from(written("t.parquet", parts()));
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        assert_eq!(
            reader.metadata().num_row_groups(),
            3,
            "one row group per chunk"
        );
        let batches: Vec<_> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        let schema = batches[0].schema();
        let read = arrow::compute::concat_batches(&schema, &batches).unwrap();
        assert_eq!(read, whole.into_record_batch().unwrap());
    }
}
