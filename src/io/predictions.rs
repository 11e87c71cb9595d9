//! Reading a predictions table (SPEC §1.2): one row per model × perturbation (or many rows —
//! cell-level predictions — which are reduced to their mean), genes matched by name. Rows are
//! grouped by (model, context, perturbation) and ingested into [`ProfileSums`].

use super::groups::{GroupKeys, KeyPart};
use super::ingest::BatchSink;
use super::ingest::{ingest_batches, Plan};
use super::layout::{locate, preview, ColumnNames, TableLayout, TableRole};
use super::sinks::samples::attach_counts;
use super::sinks::{CellSampler, GroupSample, ProfileSums};
use super::source::SharedSource;
use super::table::{read_error, ReadOptions, Table};
use crate::error::{Error, Location, Result};
use arrow::record_batch::RecordBatch;
use ndarray::ArcArray1;
use std::collections::HashMap;

/// Options for reading predictions.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PredictionOptions {
    /// Column names.
    pub columns: ColumnNames,
    /// Instead of failing, evaluate only the genes every predictions file has.
    pub drop_missing_genes: bool,
    /// Rows per batch (Parquet).
    pub batch_rows: usize,
    /// What to read from a file holding several matrices (h5ad).
    #[serde(skip_serializing_if = "ReadOptions::is_default")]
    pub read: ReadOptions,
    /// Keep a seeded sample of at most `.0` predicted cells per (model, context,
    /// perturbation), seed `.1` (SPEC §12.1); `None`: no sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cells: Option<(usize, u64)>,
    /// The predictions are raw counts, as the cells: every row is normalised like the cells
    /// (normalize_total(1e4) + log1p) before profiles are averaged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub counts: bool,
    /// With [`PredictionOptions::counts`] and a sample: the samples also keep the rows as
    /// read (cell-eval2's counts path).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keep_counts: bool,
}

/// One model's predicted mean profiles from one file.
#[derive(Debug, Clone)]
pub struct PredictedModel {
    /// Model name (the `model` column, or the file's stem).
    pub name: String,
    /// Context value, when the file has the context column.
    pub context: Option<String>,
    /// (perturbation label, mean profile over the observed genes, number of rows averaged).
    pub profiles: Vec<(String, ArcArray1<f64>, u64)>,
    /// With [`PredictionOptions::max_cells`]: each profile's sample of predicted cells (over
    /// the observed genes, in `profiles` order); empty otherwise.
    pub samples: Vec<GroupSample>,
}

impl PredictedModel {
    /// True when some perturbation has more than one predicted row (cells, not a mean).
    pub fn is_cell_level(&self) -> bool {
        self.profiles.iter().any(|(_, _, n)| *n > 1)
    }
}

/// Everything read from one predictions file.
#[derive(Debug, Clone)]
pub struct PredictionFile {
    /// The file's display name.
    pub file: String,
    /// Models in order of first appearance.
    pub models: Vec<PredictedModel>,
    /// Observed genes this file lacks (non-empty only with `drop_missing_genes`).
    pub missing_genes: Vec<String>,
    /// Predicted genes that are not observed (ignored).
    pub extra_genes: Vec<String>,
    /// Rows read.
    pub n_rows: u64,
}

/// Model name from a file name: the stem (`models/gears.parquet` → `gears`).
pub fn model_name_from_file(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(base)
        .to_string()
}

/// Rows keyed by (model, context, perturbation), each read from its column when the table has
/// one: the key columns (schema indices) and the key's parts.
fn row_keys<'a>(layout: &TableLayout, default_model: &'a str) -> (Vec<usize>, [KeyPart<'a>; 3]) {
    let mut key_columns: Vec<usize> = Vec::new();
    let parts: [KeyPart<'_>; 3] = [
        (layout.model, default_model),
        (layout.context, ""),
        (Some(layout.label), ""),
    ]
    .map(|(column, default)| match column {
        Some(c) => {
            key_columns.push(c);
            KeyPart::Column {
                at: key_columns.len() - 1,
                empty: None,
            }
        }
        None => KeyPart::Constant(default),
    });
    (key_columns, parts)
}

/// True when a predictions table holds several rows for some (model, context, perturbation):
/// generated cells, not mean profiles. Reads only the key columns and stops at the first
/// repeated key.
pub fn has_cell_rows(source: SharedSource, opts: &PredictionOptions) -> Result<bool> {
    let table = Table::open(source, &opts.read)?;
    let file = table.name().to_string();
    let layout = locate(&file, &table.schema, &opts.columns, TableRole::Predictions)?;
    let default_model = model_name_from_file(&file);
    let (key_columns, parts) = row_keys(&layout, &default_model);
    let mut sorted = key_columns.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let order: Vec<usize> = key_columns
        .iter()
        .map(|c| sorted.iter().position(|x| x == c).expect("projected"))
        .collect();
    let mut keys = GroupKeys::<3>::new();
    let mut seen: Vec<bool> = Vec::new();
    let mut row = 0u64;
    for item in table.batches(Some(&sorted), opts.batch_rows.max(1))? {
        let (batch, _) = item?;
        let batch = batch
            .project(&order)
            .map_err(|e| read_error(&file, "Arrow", e))?;
        for id in keys.batch_ids(&batch, &parts, &file, row)? {
            let id = id as usize;
            if id >= seen.len() {
                seen.resize(id + 1, false);
            }
            if std::mem::replace(&mut seen[id], true) {
                return Ok(true);
            }
        }
        row += batch.num_rows() as u64;
    }
    Ok(false)
}

/// Reads predictions for the observed `genes` (SPEC §1.2).
pub fn read_predictions(
    source: SharedSource,
    genes: &[String],
    opts: &PredictionOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<PredictionFile> {
    let table = Table::open(source, &opts.read)?;
    let file = table.name().to_string();
    let layout = locate(&file, &table.schema, &opts.columns, TableRole::Predictions)?;
    let observed: HashMap<&str, usize> = genes
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let gene_of: Vec<Option<usize>> = layout
        .genes
        .iter()
        .map(|g| observed.get(g.as_str()).copied())
        .collect();
    let predicted: std::collections::HashSet<&str> =
        layout.genes.iter().map(|g| g.as_str()).collect();
    let missing: Vec<String> = genes
        .iter()
        .filter(|g| !predicted.contains(g.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() && !opts.drop_missing_genes {
        return Err(Error::input(
            Location { file: Some(file.clone()), gene: Some(missing[0].clone()), ..Default::default() },
            format!("the predictions lack {} of the {} observed genes: {}", missing.len(), genes.len(), preview(&missing, 10)),
            "predict every observed gene, or pass --drop-missing-genes to evaluate only the genes all predictions share",
        ));
    }
    let extra: Vec<String> = layout
        .genes
        .iter()
        .filter(|g| !observed.contains_key(g.as_str()))
        .cloned()
        .collect();

    let default_model = model_name_from_file(&file);
    let (key_columns, parts) = row_keys(&layout, &default_model);
    let mut keys = GroupKeys::<3>::new();
    let mut sums = ProfileSums::new(gene_of.clone(), genes.len());
    let mut sampler = opts
        .max_cells
        .map(|(max, seed)| CellSampler::new(gene_of.clone(), genes.len(), max, seed));
    // The raw-count twin (same seed, same rows) of counts predictions.
    let mut counts_sampler = opts
        .max_cells
        .filter(|_| opts.counts && opts.keep_counts)
        .map(|(max, seed)| CellSampler::new(gene_of.clone(), genes.len(), max, seed).with_counts());
    let checked: Vec<bool> = gene_of.iter().map(Option::is_some).collect();
    let plan = Plan {
        file: &file,
        layout: &layout.expression,
        genes: &layout.genes,
        checked: &checked,
        normalize: opts.counts,
    };
    let mut group = |batch: &RecordBatch, row: u64| keys.batch_ids(batch, &parts, &file, row);
    let read = ingest_batches(
        &table,
        &plan,
        opts.batch_rows.max(1),
        &key_columns,
        &mut group,
        &mut [Some(&mut sums as &mut dyn BatchSink)]
            .into_iter()
            .chain([sampler.as_mut().map(|s| s as &mut dyn BatchSink)])
            .chain([counts_sampler.as_mut().map(|s| s as &mut dyn BatchSink)])
            .flatten()
            .collect::<Vec<_>>(),
        progress,
    )?;
    let (row, checks) = (read.rows, read.checks);
    if row == 0 {
        return Err(Error::in_file(
            &file,
            "the predictions table has no rows",
            "export the predictions again",
        ));
    }
    let at = |row: u64, gene: usize| Location {
        file: Some(file.clone()),
        row: Some(row),
        gene: layout.genes.get(gene).cloned(),
        ..Default::default()
    };
    if let Some((r, g)) = checks.first_non_finite {
        return Err(Error::input(
            at(r, g),
            format!(
                "{} non-finite predicted value(s) (NaN or Inf); this is the first",
                checks.non_finite
            ),
            "predictions must be finite numbers for every gene",
        ));
    }
    if let Some((r, g, _)) = checks.first_negative.filter(|_| opts.counts) {
        return Err(Error::input(
            at(r, g),
            "negative predicted count: the predictions were declared raw counts",
            "predict counts ≥ 0, or drop --predictions-counts if the predictions are log-normalised",
        ));
    }

    let mut means = sums.into_means().into_iter();
    let mut samples = sampler.map(|s| {
        let mut samples = s.into_samples();
        if let Some(twin) = counts_sampler {
            attach_counts(&mut samples, twin.into_samples());
        }
        samples.into_iter()
    });
    let mut models: Vec<PredictedModel> = Vec::new();
    for id in 0..keys.len() as u32 {
        let [m, c, p] = keys.key(id);
        let context = layout.context.map(|_| c.to_string());
        let idx = match models
            .iter()
            .position(|x| x.name == m && x.context == context)
        {
            Some(i) => i,
            None => {
                models.push(PredictedModel {
                    name: m.to_string(),
                    context,
                    profiles: Vec::new(),
                    samples: Vec::new(),
                });
                models.len() - 1
            }
        };
        let (n, mean) = means.next().expect("one mean per key");
        models[idx].profiles.push((p.to_string(), mean, n));
        if let Some(samples) = samples.as_mut() {
            let sample = samples
                .next()
                .unwrap_or_else(|| GroupSample::empty(genes.len()));
            models[idx].samples.push(sample);
        }
    }
    Ok(PredictionFile {
        file,
        models,
        missing_genes: if opts.drop_missing_genes {
            missing
        } else {
            Vec::new()
        },
        extra_genes: extra,
        n_rows: row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_name_is_file_stem() {
        assert_eq!(model_name_from_file("/a/b/gears.parquet"), "gears");
        assert_eq!(model_name_from_file("scgpt.v2.arrow"), "scgpt");
    }
}
