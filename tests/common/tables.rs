//! Arrow helpers of the tests, for every target (natively and in WebAssembly).

use arrow::array::{Array, Float32Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A Parquet file's bytes as one record batch.
pub fn batch_of_parquet(bytes: Vec<u8>) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .expect("parquet")
        .build()
        .expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat")
}

/// The gene columns of a cells batch: every column but the labels (`perturbation`, `half`,
/// `fold`), in file order.
pub fn gene_columns(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !["perturbation", "half", "fold"].contains(&n.as_str()))
        .collect()
}

pub fn strings(batch: &RecordBatch, name: &str) -> Vec<String> {
    let col = cast(batch.column_by_name(name).expect(name), &DataType::Utf8).expect("utf8");
    let a = col.as_any().downcast_ref::<StringArray>().expect("strings");
    (0..a.len()).map(|i| a.value(i).to_string()).collect()
}

pub fn float_columns(batch: &RecordBatch, genes: &[String]) -> Vec<Vec<f32>> {
    genes
        .iter()
        .map(|g| {
            let col = cast(batch.column_by_name(g).expect("gene"), &DataType::Float32).unwrap();
            let a = col.as_any().downcast_ref::<Float32Array>().expect("f32");
            assert_eq!(a.null_count(), 0, "gene {g} has nulls");
            a.values().to_vec()
        })
        .collect()
}
