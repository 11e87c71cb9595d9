//! The DEG weights of SPEC §4 exported for use as a training loss (WMSE, SPEC §12.7): per
//! context and perturbation, one weight per gene — the vectors the evaluation's weighted
//! metrics use — and the Parquet file `calibra weights` writes (perturbation × gene).
//!
//! The cells are read as an evaluation reads them ([`io::read_cells`]: streamed into
//! per-(label, half) sufficient statistics, memory O(labels × genes)); the GT half's DEG test
//! ([`de::deg_half`](crate::de::deg_half)) scores each tested perturbation and
//! [`de::deg_weights`](crate::de::deg_weights) turns its scores into weights. With `all_cells`,
//! each label's two halves are pooled first (n, Σx, Σx² added), so the same test and formula
//! use all of its cells.

use crate::data::{Dataset, Half};
use crate::de::{deg_half, deg_weights, DegDetail};
use crate::error::{Error, Result};
use crate::io::{self, CellOptions, SharedSource, GENES_METADATA_KEY};
use crate::report::write::{write_table_with_metadata, ByteSink};
use crate::report::{chunk_ranges, ChunkSink, Column, Table, VALUES_PER_WIDE_CHUNK};
use ndarray::{Array2, Axis};

/// The weights of one context.
#[derive(Debug, Clone)]
pub struct ContextWeights {
    /// The context (`None` without a context column).
    pub context: Option<String>,
    /// The perturbations that have weights, sorted: those of the DEG test (SPEC §3: non-control,
    /// ≥ 4 tested cells, at least two such perturbations in the context).
    pub perturbations: Vec<String>,
    /// Weights, perturbations × genes (row i is `perturbations[i]`'s), each in [0, 1].
    pub weights: Array2<f64>,
}

/// The DEG weights of a cells file.
#[derive(Debug, Clone)]
pub struct DegWeights {
    /// The cells file's display name.
    pub file: String,
    /// Genes in file order (the columns of every weight row).
    pub genes: Vec<String>,
    /// The control label the DEG tests left out.
    pub control_label: String,
    /// Tested on all of each perturbation's cells instead of its GT half.
    pub all_cells: bool,
    /// Per context, sorted by context (one entry without a context column).
    pub contexts: Vec<ContextWeights>,
}

impl DegWeights {
    /// Perturbations with weights, over every context.
    pub fn n_perturbations(&self) -> usize {
        self.contexts.iter().map(|c| c.perturbations.len()).sum()
    }
}

/// The weights of one context's dataset: the perturbations the DEG test covers (indices into
/// `ds.labels`, sorted by name) and their weights, a row each — for the GT half, exactly the
/// evaluation's (the same test and formula); with `all_cells`, of both halves pooled.
pub fn dataset_weights(mut ds: Dataset, all_cells: bool) -> (Vec<usize>, Array2<f64>) {
    if all_cells {
        pool_halves(&mut ds);
    }
    // Only the f32-rounded scores matter here; `Calls` skips p-values that cannot be significant
    // (the scores are the same whatever the detail).
    let gt = deg_half(&ds, Half::Gt, DegDetail::Calls);
    let mut weights = gt.score;
    for mut row in weights.axis_iter_mut(Axis(0)) {
        let w = deg_weights(row.view());
        row.assign(&w);
    }
    (gt.groups, weights)
}

/// Moves each label's TD-half statistics into its GT half (count, Σx and Σx² added), so that
/// a GT-half test sees all of the label's cells.
fn pool_halves(ds: &mut Dataset) {
    let s = &mut ds.stats;
    for label in 0..ds.labels.len() {
        let (gt, td) = (
            Dataset::group(label, Half::Gt),
            Dataset::group(label, Half::Td),
        );
        let n = std::mem::take(&mut s.count[td]);
        s.count[gt] += n;
        for a in [&mut s.sum, &mut s.sum_sq] {
            for g in 0..a.ncols() {
                let v = std::mem::take(&mut a[[td, g]]);
                a[[gt, g]] += v;
            }
        }
    }
}

/// Reads a cells file as an evaluation does (the same options; halves, labels and contexts
/// decided the same way) and computes every context's DEG weights ([`dataset_weights`]).
/// Fails, saying why, when no perturbation of any context has weights. `progress` receives
/// the fraction of the file read.
pub fn read_weights(
    cells: SharedSource,
    options: &CellOptions,
    all_cells: bool,
    progress: &mut dyn FnMut(f64),
) -> Result<DegWeights> {
    let observed = io::read_cells(cells, options, None, None, progress)?;
    let contexts: Vec<ContextWeights> = observed
        .contexts
        .into_iter()
        .map(|c| {
            let labels = c.dataset.labels.clone();
            let (rows, weights) = dataset_weights(c.dataset, all_cells);
            ContextWeights {
                context: c.context,
                perturbations: rows.into_iter().map(|l| labels[l].clone()).collect(),
                weights,
            }
        })
        .collect();
    let out = DegWeights {
        file: observed.file,
        genes: observed.genes,
        control_label: observed.control_label,
        all_cells,
        contexts,
    };
    if out.n_perturbations() == 0 {
        let cells = if all_cells { "cells" } else { "GT-half cells" };
        return Err(Error::in_file(
            &out.file,
            format!(
                "no perturbation has DEG weights: the DEG test (SPEC §3) needs at least two non-control perturbations with ≥ 4 {cells} each{}",
                if out.contexts.len() > 1 { " in a context" } else { "" }
            ),
            if all_cells {
                "check the perturbation and control columns (--perturbation-column, --control-label)"
            } else {
                "use --all-cells to test all of each perturbation's cells, or check the perturbation column"
            },
        ));
    }
    Ok(out)
}

/// Column of the perturbation labels in the weights file.
pub const PERTURBATION_COLUMN: &str = "perturbation";
/// Column of the contexts in the weights file (only when the cells have contexts).
pub const CONTEXT_COLUMN: &str = "context";
/// Key-value metadata key: whether all cells were tested (`true`) or the GT half (`false`).
pub const ALL_CELLS_KEY: &str = "calibra:all_cells";
/// Key-value metadata key: the calibra version that wrote the file.
pub const VERSION_KEY: &str = "calibra:version";

/// Writes the weights as Parquet into `out`: a `context` column (when the cells have
/// contexts), a `perturbation` column, then one Float64 column per gene named by the gene; a
/// row per perturbation with weights, in row groups of bounded size. The key-value metadata
/// holds the gene list ([`GENES_METADATA_KEY`], a JSON array), [`ALL_CELLS_KEY`],
/// [`VERSION_KEY`] and the control label.
pub fn write_parquet(w: &DegWeights, out: &mut ByteSink<'_>) -> Result<()> {
    let with_context = w.contexts.iter().any(|c| c.context.is_some());
    let reserved: &[&str] = if with_context {
        &[CONTEXT_COLUMN, PERTURBATION_COLUMN]
    } else {
        &[PERTURBATION_COLUMN]
    };
    if let Some(g) = w.genes.iter().find(|g| reserved.contains(&g.as_str())) {
        return Err(Error::in_file(
            &w.file,
            format!("a gene is named '{g}', the name of a label column of the weights file"),
            "rename that gene in the cells file",
        ));
    }
    let genes_json = serde_json::to_string(&w.genes)
        .map_err(|e| Error::Output(format!("gene names as JSON: {e}")))?;
    let metadata = vec![
        (GENES_METADATA_KEY.to_string(), genes_json),
        (ALL_CELLS_KEY.to_string(), w.all_cells.to_string()),
        (
            VERSION_KEY.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("calibra:control_label".to_string(), w.control_label.clone()),
    ];
    // Chunks of whole rows (one row group each), never spanning two contexts; one (empty) chunk
    // at least, so that a file always has its columns.
    let per_chunk = VALUES_PER_WIDE_CHUNK / w.genes.len().max(1);
    let mut chunks: Vec<(&ContextWeights, std::ops::Range<usize>)> = w
        .contexts
        .iter()
        .flat_map(|c| chunk_ranges(c.perturbations.len(), per_chunk).map(move |r| (c, r)))
        .filter(|(_, r)| !r.is_empty())
        .collect();
    if chunks.is_empty() {
        chunks.extend(w.contexts.first().map(|c| (c, 0..0)));
    }
    let produce = |sink: &mut ChunkSink<'_>| {
        for (c, rows) in &chunks {
            let mut t = Table::new();
            if with_context {
                let name = c.context.clone().unwrap_or_default();
                t = t.with(CONTEXT_COLUMN, Column::Str(vec![name; rows.len()]));
            }
            t = t.with(
                PERTURBATION_COLUMN,
                Column::Str(c.perturbations[rows.clone()].to_vec()),
            );
            let block = c.weights.slice(ndarray::s![rows.clone(), ..]);
            for (g, gene) in w.genes.iter().enumerate() {
                t = t.with(gene, Column::F64(block.column(g).to_vec()));
            }
            sink(t)?;
        }
        Ok(())
    };
    write_table_with_metadata("weights.parquet", metadata, produce, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::GroupStats;

    /// Three perturbations and a control over two genes, with given cells per half.
    fn dataset(cells: [(u64, u64); 4]) -> Dataset {
        let labels: Vec<String> = ["A", "B", "C", "control"].map(String::from).to_vec();
        let mut stats = GroupStats::zeros(8, 2);
        let mut next = crate::stats::lcg::uniform_stream(7);
        for (l, &(n_gt, n_td)) in cells.iter().enumerate() {
            for (half, n) in [(Half::Gt, n_gt), (Half::Td, n_td)] {
                let row = Dataset::group(l, half);
                stats.count[row] = n;
                for _ in 0..n {
                    for g in 0..2 {
                        let x = next() + if g == l { 2.0 } else { 0.0 };
                        stats.sum[[row, g]] += x;
                        stats.sum_sq[[row, g]] += x * x;
                    }
                }
            }
        }
        Dataset {
            genes: vec!["g0".into(), "g1".into()],
            labels,
            control: 3,
            fold_of: vec![0, 1, 2, -1],
            stats,
            n_cells: cells.iter().map(|(a, b)| a + b).sum(),
        }
    }

    #[test]
    fn gt_half_tests_only_groups_with_four_gt_cells() {
        let ds = dataset([(4, 4), (5, 1), (3, 6), (8, 8)]);
        let (rows, w) = dataset_weights(ds.clone(), false);
        assert_eq!(rows, vec![0, 1], "C has 3 GT-half cells: not tested");
        assert_eq!(w.dim(), (2, 2));
        // Pooled, C has 9 cells and is tested too; the control never is.
        let (rows, w) = dataset_weights(ds, true);
        assert_eq!(rows, vec![0, 1, 2]);
        for row in w.rows() {
            // Two genes: the larger |t| gets 1, the smaller 0 (SPEC §4).
            let mut r = row.to_vec();
            r.sort_by(f64::total_cmp);
            assert_eq!(r, vec![0.0, 1.0]);
        }
    }

    #[test]
    fn pooling_adds_the_halves() {
        let ds = dataset([(4, 4), (5, 1), (3, 6), (8, 8)]);
        let mut pooled = ds.clone();
        pool_halves(&mut pooled);
        for l in 0..4 {
            let (gt, td) = (Dataset::group(l, Half::Gt), Dataset::group(l, Half::Td));
            assert_eq!(pooled.stats.count[gt], ds.n_cells_of(l));
            assert_eq!(pooled.stats.count[td], 0);
            for g in 0..2 {
                assert_eq!(
                    pooled.stats.sum[[gt, g]],
                    ds.stats.sum[[gt, g]] + ds.stats.sum[[td, g]]
                );
                assert_eq!(pooled.stats.sum_sq[[td, g]], 0.0);
            }
        }
    }
}
