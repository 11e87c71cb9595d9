//! Reading a predictions table (SPEC §1.2): one row per model × perturbation (or many rows —
//! cell-level predictions — which are reduced to their mean), genes matched by name.

use super::accumulate::{ExpressionArrays, ValueChecks};
use super::columns::{for_each_str, Interner};
use super::format::Table;
use super::layout::{locate, preview, ColumnNames, TableRole};
use super::profiles::ProfileSums;
use super::source::SharedSource;
use crate::error::{Error, Location, Result};
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

/// Reads predictions for the observed `genes` (SPEC §1.2).
pub fn read_predictions(
    source: SharedSource,
    genes: &[String],
    opts: &PredictionOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<PredictionFile> {
    let table = Table::open(source)?;
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
    let mut keys = Interner::default();
    let mut sums = ProfileSums::new(genes.len());
    let mut checks = ValueChecks::new();
    let mut row = 0u64;
    for item in table.batches(None, opts.batch_rows.max(1))? {
        let (batch, frac) = item?;
        let n = batch.num_rows();
        let schema = batch.schema();
        let mut model: Vec<String> = Vec::new();
        if let Some(mc) = layout.model {
            model.reserve(n);
            for_each_str(
                batch.column(mc),
                &file,
                schema.field(mc).name(),
                row,
                |_, s| {
                    model.push(s.to_string());
                    Ok(())
                },
            )?;
        }
        let mut ctx = Vec::new();
        if let Some(cc) = layout.context {
            for_each_str(
                batch.column(cc),
                &file,
                schema.field(cc).name(),
                row,
                |_, s| {
                    ctx.push(s.to_string());
                    Ok(())
                },
            )?;
        }
        let mut groups = vec![0u32; n];
        for_each_str(
            batch.column(layout.label),
            &file,
            schema.field(layout.label).name(),
            row,
            |i, s| {
                let m = model.get(i).map(|s| s.as_str()).unwrap_or(&default_model);
                let c = ctx.get(i).map(|s| s.as_str()).unwrap_or("");
                groups[i] = keys.intern(&format!("{m}\u{1f}{c}\u{1f}{s}"));
                Ok(())
            },
        )?;
        let expr =
            ExpressionArrays::from_batch(&batch, &layout.expression, &layout.genes, &file, row)?;
        checks = checks.merge(sums.add(&groups, &expr.view(), &gene_of, row));
        row += n as u64;
        progress(frac);
    }
    if row == 0 {
        return Err(Error::in_file(
            &file,
            "the predictions table has no rows",
            "export the predictions again",
        ));
    }
    if let Some((r, g)) = checks.first_non_finite {
        return Err(Error::input(
            Location {
                file: Some(file.clone()),
                row: Some(r),
                gene: layout.genes.get(g).cloned(),
                ..Default::default()
            },
            format!(
                "{} non-finite predicted value(s) (NaN or Inf); this is the first",
                checks.non_finite
            ),
            "predictions must be finite numbers for every gene",
        ));
    }

    let mut means = sums.into_means().into_iter();
    let mut models: Vec<PredictedModel> = Vec::new();
    for key in keys.names() {
        let mut parts = key.splitn(3, '\u{1f}');
        let (m, c, p) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
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
                });
                models.len() - 1
            }
        };
        let (n, mean) = means.next().expect("one mean per key");
        models[idx].profiles.push((p.to_string(), mean, n));
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
