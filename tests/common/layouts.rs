//! Writes a wide cells table in the other layouts and formats of SPEC §1.1 with the arrow crate.

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, Float32Array, Float32Builder, Int32Builder,
    ListArray, ListBuilder, UInt32Builder,
};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::basic::Compression;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A way of writing the same table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Variant {
    /// Dense `FixedSizeList<Float32>` column `expression`.
    DenseFixedList,
    /// Dense `List<Float32>` column `expression`.
    DenseList,
    /// Sparse rows with `List<UInt32>` indices.
    CsrU32,
    /// Sparse rows with `List<Int32>` indices.
    CsrI32,
    /// Arrow IPC file format.
    IpcFile,
    /// Arrow IPC stream format.
    IpcStream,
    /// Wide Parquet with a codec.
    Parquet(Compression),
    /// `perturbation` dictionary-encoded.
    Dictionary,
    /// Without the `half` and `fold` columns.
    NoHalfFold,
    /// Long: one row per (cell, gene) with a non-zero value (a cell with none keeps one zero
    /// row), columns `cell`, `gene`, `value` after the cell's columns; gene names in the
    /// schema metadata when `true`, collected from the rows when `false`.
    Long(bool),
}

const META: [&str; 3] = ["perturbation", "half", "fold"];

/// Reads a Parquet or IPC file into batches.
pub fn read_batches(path: &Path) -> (SchemaRef, Vec<RecordBatch>) {
    let f = std::fs::File::open(path).unwrap();
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(150);
    let schema = b.schema().clone();
    (schema, b.build().unwrap().map(|b| b.unwrap()).collect())
}

fn genes_of(schema: &Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !META.contains(&n.as_str()))
        .collect()
}

fn with_genes_metadata(fields: Vec<Field>, genes: &[String]) -> SchemaRef {
    let md = HashMap::from([(
        "calibra:genes".to_string(),
        serde_json::to_string(genes).unwrap(),
    )]);
    Arc::new(Schema::new_with_metadata(fields, md))
}

fn meta_columns(b: &RecordBatch) -> (Vec<Field>, Vec<ArrayRef>) {
    let s = b.schema();
    META.iter()
        .filter_map(|m| s.index_of(m).ok())
        .map(|i| (s.field(i).clone(), b.column(i).clone()))
        .unzip()
}

fn gene_values(b: &RecordBatch) -> Vec<Vec<f32>> {
    // Row-major values of the gene columns.
    let s = b.schema();
    let cols: Vec<&Float32Array> = genes_of(&s)
        .iter()
        .map(|g| {
            b.column(s.index_of(g).unwrap())
                .as_primitive::<Float32Type>()
        })
        .collect();
    (0..b.num_rows())
        .map(|r| cols.iter().map(|c| c.value(r)).collect())
        .collect()
}

fn convert(b: &RecordBatch, v: Variant, genes: &[String]) -> RecordBatch {
    let (mut fields, mut cols) = meta_columns(b);
    let rows = gene_values(b);
    let g = genes.len();
    match v {
        Variant::DenseFixedList | Variant::DenseList => {
            let flat = Float32Array::from(rows.concat());
            let item = Arc::new(Field::new("item", DataType::Float32, false));
            let arr: ArrayRef = if v == Variant::DenseFixedList {
                Arc::new(FixedSizeListArray::new(
                    item.clone(),
                    g as i32,
                    Arc::new(flat),
                    None,
                ))
            } else {
                let offsets = arrow::buffer::OffsetBuffer::from_lengths(vec![g; rows.len()]);
                Arc::new(ListArray::new(item.clone(), offsets, Arc::new(flat), None))
            };
            fields.push(Field::new("expression", arr.data_type().clone(), false));
            cols.push(arr);
        }
        Variant::CsrU32 | Variant::CsrI32 => {
            let mut vals = ListBuilder::new(Float32Builder::new());
            let mut iu = ListBuilder::new(UInt32Builder::new());
            let mut ii = ListBuilder::new(Int32Builder::new());
            for row in &rows {
                for (j, &x) in row.iter().enumerate() {
                    if x != 0.0 {
                        vals.values().append_value(x);
                        iu.values().append_value(j as u32);
                        ii.values().append_value(j as i32);
                    }
                }
                vals.append(true);
                iu.append(true);
                ii.append(true);
            }
            let idx: ArrayRef = if v == Variant::CsrU32 {
                Arc::new(iu.finish())
            } else {
                Arc::new(ii.finish())
            };
            let vals: ArrayRef = Arc::new(vals.finish());
            fields.push(Field::new("indices", idx.data_type().clone(), true));
            fields.push(Field::new("values", vals.data_type().clone(), true));
            cols.push(idx);
            cols.push(vals);
        }
        _ => unreachable!(),
    }
    RecordBatch::try_new(with_genes_metadata(fields, genes), cols).unwrap()
}

/// The long rows of `batches`: cells numbered from `first_cell` in order, ids `c000123`.
pub fn long_batches(
    batches: &[RecordBatch],
    genes: &[String],
    metadata: bool,
) -> (SchemaRef, Vec<RecordBatch>) {
    let mut out = Vec::new();
    let mut cell = 0usize;
    let mut schema = None;
    for b in batches {
        let (mut fields, meta_cols) = meta_columns(b);
        let rows = gene_values(b);
        let mut take: Vec<u32> = Vec::new();
        let (mut ids, mut gene, mut value) = (Vec::new(), Vec::new(), Vec::new());
        for (r, row) in rows.iter().enumerate() {
            let mut any = false;
            for (j, &x) in row.iter().enumerate() {
                if x != 0.0 || (!any && j + 1 == row.len()) {
                    any = true;
                    take.push(r as u32);
                    ids.push(format!("c{:06}", cell));
                    gene.push(genes[j].clone());
                    value.push(x);
                }
            }
            cell += 1;
        }
        let idx = arrow::array::UInt32Array::from(take);
        let mut cols: Vec<ArrayRef> = meta_cols
            .iter()
            .map(|c| arrow::compute::take(c, &idx, None).unwrap())
            .collect();
        fields.push(Field::new("cell", DataType::Utf8, false));
        fields.push(Field::new("gene", DataType::Utf8, false));
        fields.push(Field::new("value", DataType::Float32, false));
        cols.push(Arc::new(arrow::array::StringArray::from(ids)));
        cols.push(Arc::new(arrow::array::StringArray::from(gene)));
        cols.push(Arc::new(Float32Array::from(value)));
        let s = if metadata {
            with_genes_metadata(fields, genes)
        } else {
            Arc::new(Schema::new(fields))
        };
        schema = Some(s.clone());
        out.push(RecordBatch::try_new(s, cols).unwrap());
    }
    (schema.expect("a batch"), out)
}

fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch], codec: Compression) {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(200))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        schema,
        Some(props),
    )
    .unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

/// Writes `src` (wide Parquet) as `variant` into `out_dir`; returns the new file.
pub fn write_variant(src: &Path, variant: Variant, out_dir: &Path) -> PathBuf {
    let (schema, batches) = read_batches(src);
    let genes = genes_of(&schema);
    let name = format!("{variant:?}").replace(['(', ')'], "_");
    match variant {
        Variant::IpcFile | Variant::IpcStream => {
            let path = out_dir.join(format!("{name}.arrow"));
            let f = std::fs::File::create(&path).unwrap();
            if variant == Variant::IpcFile {
                let mut w = arrow::ipc::writer::FileWriter::try_new(f, &schema).unwrap();
                batches.iter().for_each(|b| w.write(b).unwrap());
                w.finish().unwrap();
            } else {
                let mut w = arrow::ipc::writer::StreamWriter::try_new(f, &schema).unwrap();
                batches.iter().for_each(|b| w.write(b).unwrap());
                w.finish().unwrap();
            }
            path
        }
        Variant::Parquet(codec) => {
            let path = out_dir.join(format!("{name}.parquet"));
            write_parquet(&path, schema, &batches, codec);
            path
        }
        Variant::Long(metadata) => {
            let path = out_dir.join(format!("{name}.parquet"));
            let (schema, batches) = long_batches(&batches, &genes, metadata);
            write_parquet(&path, schema, &batches, Compression::SNAPPY);
            path
        }
        Variant::Dictionary => {
            let path = out_dir.join(format!("{name}.parquet"));
            let dict_type =
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
            let conv: Vec<RecordBatch> = batches
                .iter()
                .map(|b| {
                    let cols: Vec<ArrayRef> = b
                        .columns()
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            if i == 0 {
                                arrow::compute::cast(c, &dict_type).unwrap()
                            } else {
                                c.clone()
                            }
                        })
                        .collect();
                    let mut fields: Vec<Field> = b
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.as_ref().clone())
                        .collect();
                    fields[0] = Field::new("perturbation", dict_type.clone(), false);
                    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
                })
                .collect();
            write_parquet(&path, conv[0].schema(), &conv, Compression::SNAPPY);
            path
        }
        Variant::NoHalfFold => {
            let path = out_dir.join(format!("{name}.parquet"));
            let conv: Vec<RecordBatch> = batches
                .iter()
                .map(|b| {
                    let keep: Vec<usize> = (0..b.num_columns())
                        .filter(|&i| {
                            !["half", "fold"].contains(&b.schema().field(i).name().as_str())
                        })
                        .collect();
                    b.project(&keep).unwrap()
                })
                .collect();
            write_parquet(&path, conv[0].schema(), &conv, Compression::SNAPPY);
            path
        }
        _ => {
            let conv: Vec<RecordBatch> = batches
                .iter()
                .map(|b| convert(b, variant, &genes))
                .collect();
            let path = out_dir.join(format!("{name}.parquet"));
            write_parquet(
                &path,
                conv[0].schema(),
                &conv,
                Compression::ZSTD(Default::default()),
            );
            assert!(conv
                .iter()
                .all(|b| b.num_rows() > 0 && b.column(b.num_columns() - 1).len() == b.num_rows()));
            path
        }
    }
}
