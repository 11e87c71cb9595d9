//! Writes a wide cells table as an AnnData `.h5ad` file, in the encodings anndata uses, with
//! `hdf5-pure`'s writer (so the tests need no Python).

use super::layouts::read_batches;
use arrow::array::AsArray;
use arrow::datatypes::{Float32Type, Int64Type, Schema};
use arrow::record_batch::RecordBatch;
use hdf5_pure::{
    AttrValue, DatasetBuilder, EnumTypeBuilder, FileBuilder, FinishedGroup, GroupBuilder,
};

/// The file root or a group: where a matrix is written.
trait Container {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder;
    fn group(&mut self, name: &str) -> GroupBuilder;
    fn add(&mut self, group: FinishedGroup);
}

impl Container for FileBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn add(&mut self, group: FinishedGroup) {
        self.add_group(group)
    }
}

impl Container for GroupBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn add(&mut self, group: FinishedGroup) {
        self.add_group(group)
    }
}
use std::path::{Path, PathBuf};

/// An encoding of the same cells as h5ad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum H5adVariant {
    /// X as CSR float32, int32 indices / indptr, gzip-compressed chunks.
    CsrF32,
    /// X as CSR float64, int64 indices / indptr, LZF-compressed chunks.
    CsrF64Lzf,
    /// X dense float32, uncompressed.
    DenseF32,
    /// X dense float64 in gzip chunks of 7 rows (windows straddle chunks).
    DenseF64Chunked,
    /// X holds zeros; the cells are in `layers/logged` (read with `--layer logged`).
    Layer,
    /// X holds zeros; the cells are in `raw/X` (read with `--layer raw`).
    Raw,
    /// The var index is numbered; gene names are the `gene_symbols` column.
    GeneColumn,
    /// Labels as variable-length strings, halves as fixed-width strings, folds as a nullable
    /// integer, plus boolean and float annotation columns.
    PlainColumns,
    /// X as CSC float32 in gzip chunks (stored by genes: read a block of genes at a time).
    Csc,
}

const META: [&str; 3] = ["perturbation", "half", "fold"];

/// The cells of a wide table: labels, halves, folds, gene names and row-major values.
pub struct Cells {
    pub perturbation: Vec<String>,
    pub half: Vec<String>,
    pub fold: Vec<i64>,
    pub genes: Vec<String>,
    pub values: Vec<Vec<f32>>,
}

/// Reads a wide Parquet table (perturbation, half, fold, float32 genes).
pub fn read_cells(src: &Path) -> Cells {
    let (schema, batches) = read_batches(src);
    cells_of(&schema, &batches)
}

/// The cells of a wide Parquet table held in memory.
pub fn cells_of_parquet_bytes(bytes: Vec<u8>) -> Cells {
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )
    .unwrap();
    let schema = b.schema().clone();
    let batches: Vec<RecordBatch> = b.build().unwrap().map(|b| b.unwrap()).collect();
    cells_of(&schema, &batches)
}

/// The cells of wide batches (perturbation, half, fold, float32 genes).
pub fn cells_of(schema: &Schema, batches: &[RecordBatch]) -> Cells {
    let genes: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !META.contains(&n.as_str()))
        .collect();
    let mut cells = Cells {
        perturbation: vec![],
        half: vec![],
        fold: vec![],
        genes: genes.clone(),
        values: vec![],
    };
    for b in batches {
        let text = |name: &str| -> Vec<String> {
            let c = arrow::compute::cast(
                b.column(schema.index_of(name).unwrap()),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            c.as_string::<i32>()
                .iter()
                .map(|s| s.unwrap().to_string())
                .collect()
        };
        cells.perturbation.extend(text("perturbation"));
        cells.half.extend(text("half"));
        let fold = arrow::compute::cast(
            b.column(schema.index_of("fold").unwrap()),
            &arrow::datatypes::DataType::Int64,
        )
        .unwrap();
        cells
            .fold
            .extend(fold.as_primitive::<Int64Type>().values().iter().copied());
        let cols: Vec<_> = genes
            .iter()
            .map(|g| {
                b.column(schema.index_of(g).unwrap())
                    .as_primitive::<Float32Type>()
                    .clone()
            })
            .collect();
        for r in 0..b.num_rows() {
            cells.values.push(cols.iter().map(|c| c.value(r)).collect());
        }
    }
    cells
}

fn s(v: &str) -> AttrValue {
    AttrValue::VarLenString(v.into())
}

fn encoded(d: &mut DatasetBuilder, kind: &str, version: &str) {
    d.set_attr("encoding-type", s(kind));
    d.set_attr("encoding-version", s(version));
}

fn strings(g: &mut GroupBuilder, name: &str, values: &[String]) {
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let d = g.create_dataset(name);
    d.with_vlen_strings(&refs);
    encoded(d, "string-array", "0.2.0");
}

fn categorical(g: &mut GroupBuilder, name: &str, values: &[String]) {
    let mut categories: Vec<String> = values.to_vec();
    categories.sort();
    categories.dedup();
    let codes: Vec<i8> = values
        .iter()
        .map(|v| categories.binary_search(v).unwrap() as i8)
        .collect();
    let mut c = g.create_group(name);
    c.set_attr("encoding-type", s("categorical"));
    c.set_attr("encoding-version", s("0.2.0"));
    c.set_attr("ordered", AttrValue::U8(0));
    encoded(
        c.create_dataset("codes").with_i8_data(&codes),
        "array",
        "0.2.0",
    );
    strings(&mut c, "categories", &categories);
    g.add_group(c.finish());
}

fn dataframe(g: &mut GroupBuilder, index: &[String], columns: &[&str]) {
    g.set_attr("encoding-type", s("dataframe"));
    g.set_attr("encoding-version", s("0.2.0"));
    g.set_attr("_index", s("_index"));
    g.set_attr(
        "column-order",
        AttrValue::VarLenStringArray(columns.iter().map(|c| c.to_string()).collect()),
    );
    strings(g, "_index", index);
}

/// Writes X (or a layer) for `values`, as this variant encodes it.
fn matrix(g: &mut impl Container, name: &str, values: &[Vec<f32>], n_genes: usize, v: H5adVariant) {
    let n_cells = values.len();
    let shape = AttrValue::I64Array(vec![n_cells as i64, n_genes as i64]);
    match v {
        H5adVariant::DenseF32 => {
            let flat: Vec<f32> = values.iter().flatten().copied().collect();
            let d = g.dataset(name);
            d.with_f32_data(&flat)
                .with_shape(&[n_cells as u64, n_genes as u64]);
            encoded(d, "array", "0.2.0");
        }
        H5adVariant::DenseF64Chunked => {
            let flat: Vec<f64> = values.iter().flatten().map(|&x| x as f64).collect();
            let d = g.dataset(name);
            d.with_f64_data(&flat)
                .with_shape(&[n_cells as u64, n_genes as u64])
                .with_chunks(&[7, n_genes as u64])
                .with_deflate(4);
            encoded(d, "array", "0.2.0");
        }
        H5adVariant::Csc => {
            let mut data = vec![];
            let mut indices = vec![];
            let mut indptr = vec![0i32];
            for gene in 0..n_genes {
                for (cell, row) in values.iter().enumerate() {
                    if row[gene] != 0.0 {
                        data.push(row[gene]);
                        indices.push(cell as i32);
                    }
                }
                indptr.push(data.len() as i32);
            }
            let mut x = g.group(name);
            x.set_attr("encoding-type", s("csc_matrix"));
            x.set_attr("encoding-version", s("0.1.0"));
            x.set_attr("shape", shape);
            let chunk = [(data.len() as u64).clamp(1, 97)];
            x.create_dataset("data")
                .with_f32_data(&data)
                .with_chunks(&chunk)
                .with_deflate(6);
            x.create_dataset("indices")
                .with_i32_data(&indices)
                .with_chunks(&chunk)
                .with_deflate(6);
            x.create_dataset("indptr").with_i32_data(&indptr);
            g.add(x.finish());
        }
        _ => {
            let mut data = vec![];
            let mut indices = vec![];
            let mut indptr = vec![0i64];
            for row in values {
                for (gene, &x) in row.iter().enumerate() {
                    if x != 0.0 {
                        data.push(x);
                        indices.push(gene as i64);
                    }
                }
                indptr.push(data.len() as i64);
            }
            let mut x = g.group(name);
            x.set_attr("encoding-type", s("csr_matrix"));
            x.set_attr("encoding-version", s("0.1.0"));
            x.set_attr("shape", shape);
            let chunk = |n: usize| [(n as u64).clamp(1, 97)];
            if v == H5adVariant::CsrF64Lzf {
                let d64: Vec<f64> = data.iter().map(|&x| x as f64).collect();
                x.create_dataset("data")
                    .with_f64_data(&d64)
                    .with_chunks(&chunk(data.len()))
                    .with_lzf();
                x.create_dataset("indices")
                    .with_i64_data(&indices)
                    .with_chunks(&chunk(data.len()))
                    .with_lzf();
                x.create_dataset("indptr").with_i64_data(&indptr);
            } else {
                let i32s = |v: &[i64]| v.iter().map(|&x| x as i32).collect::<Vec<i32>>();
                x.create_dataset("data")
                    .with_f32_data(&data)
                    .with_chunks(&chunk(data.len()))
                    .with_deflate(6);
                x.create_dataset("indices")
                    .with_i32_data(&i32s(&indices))
                    .with_chunks(&chunk(data.len()))
                    .with_deflate(6);
                x.create_dataset("indptr")
                    .with_i32_data(&i32s(&indptr))
                    .with_chunks(&chunk(indptr.len()))
                    .with_deflate(6);
            }
            g.add(x.finish());
        }
    }
}

fn root_group(fb: &mut FileBuilder, name: &str) -> GroupBuilder {
    fb.create_group(name)
}

/// Writes `src` (a wide Parquet table) as h5ad in `variant`; returns the path.
pub fn write_h5ad(src: &Path, variant: H5adVariant, out_dir: &Path) -> PathBuf {
    let cells = read_cells(src);
    write_cells(&cells, variant, &out_dir.join(format!("{variant:?}.h5ad")))
}

/// Writes `cells` as h5ad in `variant` at `path`.
pub fn write_cells(cells: &Cells, variant: H5adVariant, path: &Path) -> PathBuf {
    std::fs::write(path, h5ad_bytes(cells, variant)).unwrap();
    path.to_path_buf()
}

/// The bytes of `cells` as an h5ad file in `variant`.
pub fn h5ad_bytes(cells: &Cells, variant: H5adVariant) -> Vec<u8> {
    let n_cells = cells.values.len();
    let n_genes = cells.genes.len();
    let mut fb = FileBuilder::new();
    fb.set_attr("encoding-type", s("anndata"));
    fb.set_attr("encoding-version", s("0.1.0"));

    let cell_names: Vec<String> = (0..n_cells).map(|i| format!("cell{i}")).collect();
    let mut obs = root_group(&mut fb, "obs");
    if variant == H5adVariant::PlainColumns {
        dataframe(
            &mut obs,
            &cell_names,
            &["perturbation", "half", "fold", "is_large", "score"],
        );
        strings(&mut obs, "perturbation", &cells.perturbation);
        let refs: Vec<&str> = cells.half.iter().map(String::as_str).collect();
        encoded(
            obs.create_dataset("half")
                .with_ascii_strings(&refs)
                .unwrap(),
            "string-array",
            "0.2.0",
        );
        let mut fold = obs.create_group("fold");
        fold.set_attr("encoding-type", s("nullable-integer"));
        fold.set_attr("encoding-version", s("0.1.0"));
        fold.create_dataset("values").with_i64_data(&cells.fold);
        let mask = EnumTypeBuilder::with_base(hdf5_pure::make_i8_type())
            .value("FALSE", 0)
            .value("TRUE", 1)
            .build()
            .unwrap();
        fold.create_dataset("mask")
            .with_enum_u8_data(mask.clone(), &vec![0u8; n_cells]);
        obs.add_group(fold.finish());
        let large: Vec<u8> = (0..n_cells).map(|i| (i % 3 == 0) as u8).collect();
        encoded(
            obs.create_dataset("is_large")
                .with_enum_u8_data(mask, &large),
            "array",
            "0.2.0",
        );
        let score: Vec<f64> = (0..n_cells).map(|i| i as f64 * 0.5).collect();
        encoded(
            obs.create_dataset("score").with_f64_data(&score),
            "array",
            "0.2.0",
        );
    } else {
        dataframe(&mut obs, &cell_names, &["perturbation", "half", "fold"]);
        categorical(&mut obs, "perturbation", &cells.perturbation);
        categorical(&mut obs, "half", &cells.half);
        encoded(
            obs.create_dataset("fold").with_i64_data(&cells.fold),
            "array",
            "0.2.0",
        );
    }
    fb.add_group(obs.finish());

    let mut var = root_group(&mut fb, "var");
    if variant == H5adVariant::GeneColumn {
        let numbered: Vec<String> = (0..n_genes).map(|i| i.to_string()).collect();
        dataframe(&mut var, &numbered, &["gene_symbols"]);
        categorical(&mut var, "gene_symbols", &cells.genes);
    } else {
        dataframe(&mut var, &cells.genes, &[]);
    }
    fb.add_group(var.finish());

    let zeros = vec![vec![0f32; n_genes]; n_cells];
    match variant {
        H5adVariant::Layer | H5adVariant::Raw => {
            matrix(&mut fb, "X", &zeros, n_genes, H5adVariant::CsrF32);
        }
        v => matrix(&mut fb, "X", &cells.values, n_genes, v),
    }
    if variant == H5adVariant::Layer {
        let mut layers = root_group(&mut fb, "layers");
        layers.set_attr("encoding-type", s("dict"));
        layers.set_attr("encoding-version", s("0.1.0"));
        matrix(
            &mut layers,
            "logged",
            &cells.values,
            n_genes,
            H5adVariant::CsrF32,
        );
        fb.add_group(layers.finish());
    }
    if variant == H5adVariant::Raw {
        let mut raw = root_group(&mut fb, "raw");
        matrix(&mut raw, "X", &cells.values, n_genes, H5adVariant::DenseF32);
        let mut raw_var = raw.create_group("var");
        dataframe(&mut raw_var, &cells.genes, &[]);
        raw.add_group(raw_var.finish());
        fb.add_group(raw.finish());
    }
    // An embedding: cell i at (i, i / 2, −i) in `obsm/X_pca`.
    let mut obsm = root_group(&mut fb, "obsm");
    obsm.set_attr("encoding-type", s("dict"));
    obsm.set_attr("encoding-version", s("0.1.0"));
    let pca: Vec<f32> = (0..n_cells)
        .flat_map(|i| [i as f32, i as f32 / 2.0, -(i as f32)])
        .collect();
    encoded(
        obsm.create_dataset("X_pca")
            .with_f32_data(&pca)
            .with_shape(&[n_cells as u64, 3]),
        "array",
        "0.2.0",
    );
    fb.add_group(obsm.finish());
    fb.finish().unwrap()
}
