//! The inputs of cell-eval2's counts-path fixtures (`tests/fixtures/celleval2_counts/`),
//! rebuilt from Papalexi's raw counts as `benches/celleval2_counts_inputs.py` built them:
//! `collapsed_counts` = each perturbation's mean count vector (one row, a mean profile),
//! `noisy_counts` = each real cell's counts times a per-(perturbation, gene) factor, rounded
//! half to even (cells). For every target.

use super::tables::{batch_of_parquet, float_columns, gene_columns, strings};
use arrow::array::{Array, ArrayRef, Float32Array, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use ndarray::Array2;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The two models of the fixtures.
pub const MODELS: [&str; 2] = ["collapsed_counts", "noisy_counts"];

/// The control label of Papalexi's file.
pub const CONTROL: &str = "control";

/// Papalexi's cells: genes, each row's label, and the count columns.
pub struct Cells {
    pub genes: Vec<String>,
    pub labels: Vec<String>,
    pub columns: Vec<Vec<f32>>,
}

impl Cells {
    /// Papalexi's Parquet file's bytes.
    pub fn of_parquet(bytes: Vec<u8>) -> Self {
        let d = batch_of_parquet(bytes);
        let genes = gene_columns(&d);
        Cells {
            labels: strings(&d, "perturbation"),
            columns: float_columns(&d, &genes),
            genes,
        }
    }

    /// Rows of each label, in file order.
    pub fn rows(&self) -> BTreeMap<&str, Vec<usize>> {
        let mut rows: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, l) in self.labels.iter().enumerate() {
            rows.entry(l.as_str()).or_default().push(i);
        }
        rows
    }

    /// The cells of `rows` (cells × genes), each value mapped by `f(gene, count)`.
    pub fn matrix(&self, rows: &[usize], f: impl Fn(usize, f32) -> f32) -> Array2<f32> {
        Array2::from_shape_fn((rows.len(), self.genes.len()), |(r, g)| {
            f(g, self.columns[g][rows[r]])
        })
    }
}

/// The fixtures' noise factors (`noisy_factors.parquet`'s bytes): perturbation → factor per
/// gene.
pub fn noise_factors(bytes: Vec<u8>, genes: &[String]) -> BTreeMap<String, Vec<f64>> {
    let t = batch_of_parquet(bytes);
    let labels = strings(&t, "perturbation");
    let columns: Vec<&Float64Array> = genes
        .iter()
        .map(|g| {
            t.column_by_name(g)
                .unwrap()
                .as_any()
                .downcast_ref()
                .unwrap()
        })
        .collect();
    labels
        .into_iter()
        .enumerate()
        .map(|(i, l)| (l, columns.iter().map(|c| c.value(i)).collect()))
        .collect()
}

/// The two models' predictions as one Parquet file's bytes (`model`, `perturbation`,
/// genes), with the noise factors `factors`.
pub fn predictions_parquet(cells: &Cells, factors: &BTreeMap<String, Vec<f64>>) -> Vec<u8> {
    let (mut models, mut labels, mut rows): (Vec<&str>, Vec<String>, Vec<Vec<f32>>) =
        (Vec::new(), Vec::new(), Vec::new());
    for (label, members) in &cells.rows() {
        if *label == CONTROL {
            continue;
        }
        // The mean count vector (sums of integers: exact in any order), as float32.
        let sums = cells.matrix(members, |_, x| x).mapv(f64::from);
        let mean = sums.sum_axis(ndarray::Axis(0)) / members.len() as f64;
        models.push(MODELS[0]);
        labels.push(label.to_string());
        rows.push(mean.iter().map(|&m| m as f32).collect());
        let f = &factors[*label];
        for &r in members {
            models.push(MODELS[1]);
            labels.push(label.to_string());
            rows.push(
                (0..cells.genes.len())
                    .map(|g| (f64::from(cells.columns[g][r]) * f[g]).round_ties_even() as f32)
                    .collect(),
            );
        }
    }
    let mut fields = vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("perturbation", DataType::Utf8, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(models)),
        Arc::new(StringArray::from(labels)),
    ];
    for (g, name) in cells.genes.iter().enumerate() {
        fields.push(Field::new(name, DataType::Float32, false));
        arrays.push(Arc::new(Float32Array::from(
            rows.iter().map(|r| r[g]).collect::<Vec<_>>(),
        )));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let mut bytes = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    bytes
}
