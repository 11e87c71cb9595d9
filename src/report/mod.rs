//! Outputs (SPEC §9): every result as a [`Table`] keyed by its file name, plus `manifest.json`;
//! writers for a directory (CLI) — the browser serialises the same tables.

pub mod agreement;
pub mod celleval;
pub mod celleval2;
pub mod contexts;
#[cfg(not(target_arch = "wasm32"))]
pub mod dir;
pub mod table;
pub mod text;
pub mod verdicts;
pub mod write;

#[cfg(not(target_arch = "wasm32"))]
pub use dir::OutputDir;
pub use table::{Column, Table};
pub use text::human_summary;
pub use verdicts::{judge, Judgements, Verdict};
pub use write::{write_output, write_table};

use crate::baselines::GROUND_TRUTH;
use crate::data::Half;
use crate::error::{Error, Result};
use crate::evaluation::{ContextResult, DegTableInputs, Evaluation};
use std::collections::BTreeMap;

fn strs<I: IntoIterator<Item = S>, S: Into<String>>(it: I) -> Column {
    Column::Str(it.into_iter().map(Into::into).collect())
}

/// `metrics.csv`: model, perturbation, metric, value for every covered (model, perturbation).
pub fn metrics_table(r: &ContextResult) -> Table {
    let t = &r.table;
    let (mut model, mut pert, mut metric, mut value) = (vec![], vec![], vec![], vec![]);
    for (mi, m) in t.models.iter().enumerate() {
        for (pi, p) in t.perturbations.iter().enumerate() {
            if !t.covered[[mi, pi]] {
                continue;
            }
            for (k, spec) in t.specs.iter().enumerate() {
                model.push(m.clone());
                pert.push(p.clone());
                metric.push(spec.name.to_string());
                value.push(t.values[[mi, k, pi]]);
            }
        }
    }
    Table::new()
        .with("model", Column::Str(model))
        .with("perturbation", Column::Str(pert))
        .with("metric", Column::Str(metric))
        .with("value", Column::F64(value))
}

/// `summary.csv`.
pub fn summary_table(r: &ContextResult) -> Table {
    let s = &r.summary;
    Table::new()
        .with("model", strs(s.iter().map(|x| x.model.clone())))
        .with("metric", strs(s.iter().map(|x| x.metric)))
        .with("mean", Column::F64(s.iter().map(|x| x.mean).collect()))
        .with("median", Column::F64(s.iter().map(|x| x.median).collect()))
        .with("std", Column::F64(s.iter().map(|x| x.std).collect()))
        .with(
            "nan_prop",
            Column::F64(s.iter().map(|x| x.nan_prop).collect()),
        )
        .with("n", Column::I64(s.iter().map(|x| x.n as i64).collect()))
}

/// `drf.csv`.
pub fn drf_table(r: &ContextResult) -> Table {
    let d = &r.calibration.rows;
    Table::new()
        .with("metric", strs(d.iter().map(|x| x.metric)))
        .with("drf_type", strs(d.iter().map(|x| x.drf_type.as_str())))
        .with(
            "perturbation",
            strs(d.iter().map(|x| x.perturbation.clone())),
        )
        .with("value", Column::F64(d.iter().map(|x| x.value).collect()))
}

/// `drf_summary.csv`.
pub fn drf_summary_table(r: &ContextResult) -> Table {
    let s = &r.calibration.summary;
    let f =
        |g: fn(&crate::calibration::DrfSummaryRow) -> f64| Column::F64(s.iter().map(g).collect());
    Table::new()
        .with("metric", strs(s.iter().map(|x| x.metric)))
        .with("drf_type", strs(s.iter().map(|x| x.drf_type.as_str())))
        .with(
            "negative_control",
            strs(s.iter().map(|x| x.negative_control)),
        )
        .with(
            "positive_control",
            strs(s.iter().map(|x| x.positive_control)),
        )
        .with(
            "n_perturbations",
            Column::I64(s.iter().map(|x| x.n_perturbations as i64).collect()),
        )
        .with(
            "n_valid_interpolated",
            Column::I64(s.iter().map(|x| x.n_valid_interpolated as i64).collect()),
        )
        .with(
            "censored",
            Column::Bool(s.iter().map(|x| x.censored).collect()),
        )
        .with("mean_drf", f(|x| x.mean_drf))
        .with("median_drf", f(|x| x.median_drf))
        .with("q25_drf", f(|x| x.q25_drf))
        .with("q75_drf", f(|x| x.q75_drf))
        .with("std_drf", f(|x| x.std_drf))
        .with("baseline", f(|x| x.baseline))
        .with("tech_duplicate", f(|x| x.tech_duplicate))
}

/// `stats.csv`.
pub fn stats_table(r: &ContextResult) -> Table {
    let s = &r.stats;
    let f = |g: fn(&crate::significance::StatsRow) -> f64| Column::F64(s.iter().map(g).collect());
    Table::new()
        .with("model", strs(s.iter().map(|x| x.model.clone())))
        .with("metric", strs(s.iter().map(|x| x.metric)))
        .with("null_model", strs(s.iter().map(|x| x.null_model)))
        .with("alternative", strs(s.iter().map(|x| x.alternative)))
        .with("n", Column::I64(s.iter().map(|x| x.n as i64).collect()))
        .with("mean", f(|x| x.mean))
        .with("sem", f(|x| x.sem))
        .with(
            "n_pairs",
            Column::I64(s.iter().map(|x| x.n_pairs as i64).collect()),
        )
        .with("mean_null", f(|x| x.mean_null))
        .with("mean_diff", f(|x| x.mean_diff))
        .with("sem_diff", f(|x| x.sem_diff))
        .with("t", f(|x| x.t))
        .with("t_better", f(|x| x.t_better))
        .with("p", f(|x| x.p))
        .with(
            "n_tests",
            Column::I64(s.iter().map(|x| x.n_tests as i64).collect()),
        )
        .with("p_bonferroni", f(|x| x.p_bonferroni))
        .with("ci_low", f(|x| x.ci_low))
        .with("ci_high", f(|x| x.ci_high))
        .with("tested", Column::Bool(s.iter().map(|x| x.tested).collect()))
}

/// `perturbations.csv`.
pub fn perturbations_table(r: &ContextResult) -> Table {
    let p = &r.perturbations;
    Table::new()
        .with(
            "perturbation",
            strs(p.iter().map(|x| x.perturbation.clone())),
        )
        .with("kind", strs(p.iter().map(|x| x.kind)))
        .with("fold", Column::I64(p.iter().map(|x| x.fold).collect()))
        .with(
            "n_cells",
            Column::I64(p.iter().map(|x| x.n_cells as i64).collect()),
        )
        .with(
            "n_gt",
            Column::I64(p.iter().map(|x| x.n_gt as i64).collect()),
        )
        .with(
            "n_td",
            Column::I64(p.iter().map(|x| x.n_td as i64).collect()),
        )
        .with(
            "evaluated",
            Column::Bool(p.iter().map(|x| x.evaluated).collect()),
        )
        .with(
            "gt_deg_tested",
            Column::Bool(p.iter().map(|x| x.gt_deg_tested).collect()),
        )
        .with(
            "n_degs_gt",
            Column::I64(p.iter().map(|x| x.n_degs_gt as i64).collect()),
        )
        .with(
            "td_deg_tested",
            Column::Bool(p.iter().map(|x| x.td_deg_tested).collect()),
        )
        .with(
            "n_degs_td",
            Column::I64(p.iter().map(|x| x.n_degs_td as i64).collect()),
        )
        .with(
            "sum_weights",
            Column::F64(p.iter().map(|x| x.sum_weights).collect()),
        )
        .with(
            "linear_available",
            Column::Bool(p.iter().map(|x| x.linear_available).collect()),
        )
}

/// Values per chunk of a per-gene table (rows × columns): the table is produced, and written,
/// a chunk at a time — one Parquet row group each — so its memory never grows with the dataset.
pub const VALUES_PER_CHUNK: usize = 1 << 21;

/// Values per chunk of the wide `baselines.parquet` (a row per model × perturbation, a column
/// per gene): larger, because the writer keeps every row group's metadata of every gene column
/// for the footer — 64 MB of values per row group keeps that at a few thousand column chunks.
pub const VALUES_PER_WIDE_CHUNK: usize = 1 << 23;

/// Consecutive ranges of `n` items of about `per_chunk` each; one empty range when `n` is 0,
/// so that even an empty table yields a chunk (its columns).
pub(crate) fn chunk_ranges(
    n: usize,
    per_chunk: usize,
) -> impl Iterator<Item = std::ops::Range<usize>> {
    let per_chunk = per_chunk.max(1);
    (0..n.div_ceil(per_chunk).max(1)).map(move |c| c * per_chunk..((c + 1) * per_chunk).min(n))
}

/// `deg_gt.parquet` / `deg_td.parquet`: long tables, tested perturbations × genes, in chunks of
/// whole perturbations.
pub fn deg_table(t: &DegTableInputs<'_>, gt: bool, sink: &mut ChunkSink<'_>) -> Result<()> {
    let stats = &t.dataset.stats;
    if stats.sum_sq.nrows() != stats.n_groups() {
        return Err(Error::Options(
            "the per-gene DEG tables were not kept (--light): evaluate again without it".into(),
        ));
    }
    let g = t.dataset.n_genes().max(1);
    let groups = t.groups[if gt { 0 } else { 1 }];
    for range in chunk_ranges(groups, VALUES_PER_CHUNK / 8 / g) {
        sink(deg_chunk(t, gt, range))?;
    }
    Ok(())
}

/// The rows of the DEG groups `groups` (positions in the DEG result), recomputed from the
/// statistics (the evaluation keeps no per-gene DEG array).
fn deg_chunk(t: &DegTableInputs<'_>, gt: bool, groups: std::ops::Range<usize>) -> Table {
    let ds = t.dataset;
    let half = if gt { Half::Gt } else { Half::Td };
    let d = crate::de::deg_half_rows(ds, half, groups);
    let g = ds.n_genes();
    let n = d.groups.len() * g;
    let mut pert = Vec::with_capacity(n);
    let mut gene = Vec::with_capacity(n);
    for &l in &d.groups {
        for name in &ds.genes {
            pert.push(ds.labels[l].clone());
            gene.push(name.clone());
        }
    }
    let rows = |a: &ndarray::Array2<f64>| -> Vec<f64> { a.iter().copied().collect() };
    let mut table = Table::new()
        .with("perturbation", Column::Str(pert))
        .with("gene", Column::Str(gene))
        .with("score", Column::F64(rows(&d.score)))
        .with("score_f64", Column::F64(rows(&d.score_f64)))
        .with("pval", Column::F64(rows(&d.pval)))
        .with("pval_adj", Column::F64(rows(&d.pval_adj)));
    if gt {
        let w: Vec<f64> = d
            .groups
            .iter()
            .flat_map(|l| t.weights[l].iter().copied())
            .collect();
        let is_deg: Vec<bool> = d
            .pval_adj
            .iter()
            .map(|&p| p < crate::de::PADJ_THRESHOLD)
            .collect();
        table = table
            .with("weight", Column::F64(w))
            .with("is_deg", Column::Bool(is_deg));
    } else {
        let alpha: Vec<f64> = d
            .pval_adj
            .iter()
            .map(|&p| {
                let a = 1.0 - p;
                if a.is_nan() {
                    0.0
                } else {
                    a
                }
            })
            .collect();
        table = table.with("alpha", Column::F64(alpha));
    }
    table
}

/// `baselines.parquet`: the GT-half mean (`ground_truth`) and every baseline's profile per
/// evaluated perturbation, wide over genes, in chunks of rows.
pub fn baselines_table(r: &ContextResult, sink: &mut ChunkSink<'_>) -> Result<()> {
    let ds = &r.dataset;
    let evaluated = ds.evaluated();
    let mut rows: Vec<(&str, usize, Profile<'_>)> = Vec::new();
    for &p in &evaluated {
        if ds.n_cells_in(p, crate::data::Half::Gt) > 0 {
            rows.push((GROUND_TRUTH, p, Profile::Truth));
        }
    }
    for m in &r.baselines.models {
        for &p in &evaluated {
            if let Some(v) = m.profiles.get(&p) {
                rows.push((&m.name, p, Profile::Model(v)));
            }
        }
    }
    let g = ds.n_genes().max(1);
    for chunk in chunk_ranges(rows.len(), VALUES_PER_WIDE_CHUNK / g) {
        let rows = &rows[chunk];
        let profiles: Vec<ndarray::ArcArray1<f64>> = rows
            .iter()
            .map(|(_, p, profile)| match profile {
                Profile::Model(v) => (*v).clone(),
                Profile::Truth => ds
                    .mean_in(*p, crate::data::Half::Gt)
                    .expect("a truth row has GT-half cells")
                    .into_shared(),
            })
            .collect();
        let mut t = Table::new()
            .with("model", strs(rows.iter().map(|x| x.0)))
            .with(
                "perturbation",
                strs(rows.iter().map(|x| ds.labels[x.1].clone())),
            )
            .with(
                "fold",
                Column::I32(rows.iter().map(|x| ds.fold_of[x.1] as i32).collect()),
            );
        for (g, name) in ds.genes.iter().enumerate() {
            t = t.with(name, Column::F64(profiles.iter().map(|v| v[g]).collect()));
        }
        sink(t)?;
    }
    Ok(())
}

/// A row's profile in `baselines.parquet`: the GT-half mean is computed when its chunk is.
enum Profile<'a> {
    Truth,
    Model(&'a ndarray::ArcArray1<f64>),
}

/// Takes an output table's chunks, in row order.
pub type ChunkSink<'a> = dyn FnMut(Table) -> Result<()> + 'a;

/// One output file of a context (SPEC §9).
#[derive(Debug, Clone, Copy)]
pub struct OutputFile {
    /// The file name (`.csv` or `.parquet`).
    pub name: &'static str,
    /// A per-gene table (perturbations × genes rows or more): left out by `--light`, never
    /// sent whole to the page.
    pub per_gene: bool,
    /// The metric family whose results it holds (`None`: every run writes it): written only
    /// when that family was computed.
    pub family: Option<&'static str>,
    /// Produces the table: one chunk, or (per-gene tables) chunks of bounded size in row order.
    pub produce: fn(&ContextResult, &mut ChunkSink<'_>) -> Result<()>,
}

/// The per-gene DEG table of the GT half.
pub const DEG_GT: &str = "deg_gt.parquet";
/// The per-gene DEG table of the TD half.
pub const DEG_TD: &str = "deg_td.parquet";

/// The pooled summary across contexts, written at the top level when there are contexts.
pub const POOLED_SUMMARY: &str = "pooled_summary.csv";

/// Every output file of a context, in SPEC §9 order (then calibra's own additions);
/// `manifest.json` is written beside them.
pub const OUTPUTS: [OutputFile; 17] = [
    output("metrics.csv", false, |r, s| s(metrics_table(r))),
    output("summary.csv", false, |r, s| s(summary_table(r))),
    output("drf.csv", false, |r, s| s(drf_table(r))),
    output("drf_summary.csv", false, |r, s| s(drf_summary_table(r))),
    output("stats.csv", false, |r, s| s(stats_table(r))),
    output("perturbations.csv", false, |r, s| s(perturbations_table(r))),
    output(DEG_GT, true, |r, s| {
        deg_table(&r.deg_table_inputs(), true, s)
    }),
    output(DEG_TD, true, |r, s| {
        deg_table(&r.deg_table_inputs(), false, s)
    }),
    output("baselines.parquet", true, baselines_table),
    output("ranking_agreement.csv", false, |r, s| {
        s(agreement::agreement_table(r))
    }),
    output("rank_percentile.csv", false, |r, s| {
        s(agreement::rank_percentile_table(r))
    }),
    OutputFile {
        family: Some(crate::metrics::celleval::FAMILY),
        ..output(celleval::RESULTS, false, |r, s| {
            s(celleval::results_table(r))
        })
    },
    OutputFile {
        family: Some(crate::metrics::celleval::FAMILY),
        ..output(celleval::AGG_RESULTS, false, |r, s| {
            s(celleval::agg_results_table(r))
        })
    },
    OutputFile {
        family: Some(crate::metrics::celleval::FAMILY),
        ..output(celleval::SCORE, false, |r, s| s(celleval::score_table(r)))
    },
    OutputFile {
        family: Some(crate::metrics::celleval2::FAMILY),
        ..output(celleval2::RESULTS, false, |r, s| {
            s(celleval2::results_table(r))
        })
    },
    OutputFile {
        family: Some(crate::metrics::celleval2::FAMILY),
        ..output(celleval2::AGG_RESULTS, false, |r, s| {
            s(celleval2::agg_results_table(r))
        })
    },
    OutputFile {
        family: Some(crate::metrics::celleval2::FAMILY),
        ..output(celleval2::VCC_SCORE, false, |r, s| {
            s(celleval2::vcc_score_table(r))
        })
    },
];

const fn output(
    name: &'static str,
    per_gene: bool,
    produce: fn(&ContextResult, &mut ChunkSink<'_>) -> Result<()>,
) -> OutputFile {
    OutputFile {
        name,
        per_gene,
        family: None,
        produce,
    }
}

impl OutputFile {
    /// True when a context's results have this file (its family was computed).
    pub fn applies_to(&self, r: &ContextResult) -> bool {
        self.family
            .is_none_or(|f| r.table.specs.iter().any(|s| s.family == f))
    }
}

/// The output file named `name`.
pub fn output_file(name: &str) -> Option<&'static OutputFile> {
    OUTPUTS.iter().find(|o| o.name == name)
}

/// One whole output table of a context by file name (see [`OUTPUTS`]; `None` when unknown or
/// not computed for this context): for the small tables
/// the page shows, and tests. Files are written chunk by chunk with [`write_output`].
pub fn context_table(r: &ContextResult, file: &str) -> Result<Option<Table>> {
    let Some(output) = output_file(file).filter(|o| o.applies_to(r)) else {
        return Ok(None);
    };
    let mut whole: Option<Table> = None;
    (output.produce)(r, &mut |chunk| {
        match &mut whole {
            None => whole = Some(chunk),
            Some(t) => t.append(chunk),
        }
        Ok(())
    })?;
    Ok(whole)
}

/// Arrow IPC stream bytes of record batches (how the simulator's output enters the pipeline).
pub fn ipc_stream_bytes(
    schema: &arrow::datatypes::SchemaRef,
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<Vec<u8>> {
    let err = |e: arrow::error::ArrowError| {
        Error::Output(format!("serialising simulated data failed: {e}"))
    };
    let mut buf = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, schema).map_err(err)?;
    for b in batches {
        w.write(b).map_err(err)?;
    }
    w.finish().map_err(err)?;
    drop(w);
    Ok(buf)
}

/// `manifest.json`: inputs, options, dataset summary, rules, notes, versions and timings.
pub fn manifest(e: &Evaluation, input_hashes: &BTreeMap<String, String>) -> serde_json::Value {
    let contexts: Vec<serde_json::Value> = e
        .contexts
        .iter()
        .map(|r| {
            let ds = &r.dataset;
            let perts = ds.perturbations();
            let n_combos = perts.iter().filter(|&&l| crate::data::is_combo(&ds.labels[l])).count();
            let degs: Vec<usize> = r.perturbations.iter().filter(|p| p.gt_deg_tested).map(|p| p.n_degs_gt).collect();
            serde_json::json!({
                "context": r.context,
                "kind": ds.kind(),
                "n_cells": ds.n_cells,
                "n_genes": ds.n_genes(),
                "n_perturbations": perts.len(),
                "n_singles": perts.len() - n_combos,
                "n_combos": n_combos,
                "n_control_cells": ds.n_cells_of(ds.control),
                "folds": ds.folds(),
                "n_evaluated": ds.evaluated().len(),
                "n_gt_deg_groups": r.deg.gt.groups.len(),
                "n_td_deg_groups": r.deg.td.groups.len(),
                "n_perturbations_zero_gt_degs": degs.iter().filter(|&&d| d == 0).count(),
                "linear_n_components_per_fold": r.baselines.linear_components,
                "folds_trained_on_other_contexts": r.baselines.borrowed_folds,
                "models": {
                    "baselines": r.baselines.models.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
                    "predictions": r.models.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
                },
                "ignored_prediction_rows": r.ignored_rows,
            })
        })
        .collect();
    serde_json::json!({
        "tool": "calibra",
        "version": env!("CARGO_PKG_VERSION"),
        "inputs": {
            "cells": e.cells.file,
            "cells_format": e.cells.format,
            "cells_layout": e.cells.layout,
            "predictions": e.prediction_files.iter().map(|f| f.file.clone()).collect::<Vec<_>>(),
            "hash": input_hashes,
        },
        "control_label": e.cells.control_label,
        "halves_assigned_by_calibra": e.cells.halves_assigned,
        "folds_assigned_by_calibra": e.cells.folds_assigned,
        "split": e.cells.split,
        "normalized_by_calibra": e.cells.normalized,
        "n_genes_evaluated": e.genes.len(),
        "contexts": contexts,
        "options": e.options,
        "parameters": {
            "min_cells_deg": crate::de::MIN_CELLS_DEG,
            "padj_threshold": crate::de::PADJ_THRESHOLD,
            "min_mask_size": 3,
            "linear_n_components": 10,
            "linear_ridge": 0.1,
            "min_perturbations_drf": 10,
            "drf_eps": 1e-6,
            "min_pairs_ttest": 3,
            "weights_from_scores": "float32",
        },
        "notes": e.notes,
        "timings_seconds": e.timings,
    })
}

/// Subdirectory of a context's outputs (empty without contexts).
pub fn context_dir(context: &Option<String>) -> String {
    match context {
        None => String::new(),
        Some(c) => c
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || "-_.".contains(ch) {
                    ch
                } else {
                    '_'
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_ranges;

    #[test]
    fn chunk_ranges_cover_every_item_once() {
        let r: Vec<_> = chunk_ranges(10, 4).collect();
        assert_eq!(r, vec![0..4, 4..8, 8..10]);
        assert_eq!(chunk_ranges(0, 4).collect::<Vec<_>>(), vec![0..0]);
        assert_eq!(chunk_ranges(3, 0).count(), 3);
    }
}
