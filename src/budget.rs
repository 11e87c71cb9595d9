//! The memory an evaluation will need, checked twice: once the cells' labels are known and
//! before their statistics are allocated (predictions estimated from their files' row counts),
//! and again once every file is read, before the stages whose arrays grow with perturbations ×
//! genes (DEG tests, baselines, metrics, report) — so that a run that cannot fit its memory
//! (a browser tab's 4 GiB of WebAssembly memory) stops with a message saying what to do
//! instead of running out half-way.
//!
//! The estimate is an upper bound built from the arrays the stages keep (8-byte floats, per
//! label or perturbation and gene); it is compared with [`crate::options::EvaluateOptions`]'s
//! `memory_limit` when a front end sets one.

use crate::error::{Error, Result};

/// What an evaluation holds, in counts.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Labels of the cells (perturbations and control), over every context.
    pub labels: usize,
    /// Genes evaluated.
    pub genes: usize,
    /// Predicted profiles read (models × perturbations, over every file).
    pub predicted_profiles: usize,
    /// The DEG tests keep what only the per-gene tables need (not `--light`).
    pub per_gene_tables: bool,
    /// Cells held in the seeded samples of the cell-level metrics (0 without them).
    pub sampled_cells: usize,
}

/// Bytes per sampled value: the f32 sample and the f64 copies the cell-level metrics work on.
const SAMPLED_VALUE_BYTES: u64 = 8;

/// An upper bound of the cells sampled for the cell-level metrics before reading: at most
/// `max_cells` per label and half of the observed cells, and per predicted profile — and never
/// more than the tables' rows when their metadata says (`None`: a stream).
pub fn sampled_cells(
    max_cells: usize,
    labels: usize,
    cell_rows: Option<u64>,
    predicted_profiles: usize,
    prediction_rows: &[Option<u64>],
) -> usize {
    let cap = |rows: Option<u64>, bound: usize| {
        rows.map_or(bound, |r| {
            usize::try_from(r).unwrap_or(usize::MAX).min(bound)
        })
    };
    let observed = cap(
        cell_rows,
        labels.saturating_mul(2).saturating_mul(max_cells),
    );
    let predicted_rows = prediction_rows
        .iter()
        .try_fold(0u64, |a, r| r.map(|r| a + r));
    let predicted = cap(predicted_rows, predicted_profiles.saturating_mul(max_cells));
    observed.saturating_add(predicted)
}

/// Bytes outside the per-gene arrays: decoding buffers, the browser's read cache (64 MiB), one
/// chunk of a per-gene output table being written, the code and stacks.
const FIXED_BYTES: u64 = 320 << 20;

/// Profiles kept per perturbation by the baselines (every baseline, and the GT-half truth).
const BASELINE_PROFILES: u64 = crate::baselines::BASELINES.len() as u64 + 1;

/// An upper bound of the peak memory of an evaluation of `shape`, in bytes.
pub fn peak_bytes(shape: &Shape) -> u64 {
    let genes = shape.genes as u64;
    let labels = shape.labels as u64;
    // Σx and Σx² per label, half and gene.
    let statistics = 2 * 2 * labels * genes * 8;
    let predictions = shape.predicted_profiles as u64 * genes * 8;
    // Per half: score, p-value and adjusted p-value (+ f64 score and raw p for the tables);
    // then the weights and the DEG masks.
    let deg_arrays = if shape.per_gene_tables { 4 } else { 3 };
    let deg = 2 * deg_arrays * labels * genes * 8 + labels * genes * 9;
    let baselines = BASELINE_PROFILES * labels * genes * 8;
    let samples = shape.sampled_cells as u64 * genes * SAMPLED_VALUE_BYTES;
    FIXED_BYTES + statistics + predictions + deg + baselines + samples
}

/// Predicted profiles expected from prediction tables of `rows` rows (`None`: unknown, a
/// stream) before they are read: a row per profile, at most one per label in each table — a
/// table of generated cells holds many rows per profile. An estimate; the exact count is
/// checked once the predictions are read.
pub fn predicted_profiles(rows: &[Option<u64>], labels: usize) -> usize {
    rows.iter()
        .map(|r| r.map_or(0, |r| usize::try_from(r).unwrap_or(usize::MAX).min(labels)))
        .sum()
}

/// Checks that an evaluation of `shape` fits `limit` bytes.
pub fn check(shape: &Shape, limit: u64) -> Result<()> {
    let need = peak_bytes(shape);
    if need <= limit {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let samples = if shape.sampled_cells > 0 {
        format!(
            ", {} sampled cells for the cell-level metrics: a smaller --max-cells or fewer \
             perturbations lowers it",
            shape.sampled_cells
        )
    } else {
        String::new()
    };
    Err(Error::Resources(format!(
        "this evaluation needs about {:.1} GiB of memory ({} labels × {} genes, {} predicted \
         profiles{samples}) but only {:.1} GiB is available here",
        gib(need),
        shape.labels,
        shape.genes,
        shape.predicted_profiles,
        gib(limit)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_grows_with_labels_and_genes_and_the_check_names_them() {
        let small = Shape {
            labels: 300,
            genes: 2000,
            predicted_profiles: 600,
            per_gene_tables: true,
            sampled_cells: 0,
        };
        let light = Shape {
            per_gene_tables: false,
            ..small
        };
        assert!(peak_bytes(&light) < peak_bytes(&small));
        assert!(check(&small, 4 << 30).is_ok());
        let large = Shape {
            labels: 20_000,
            genes: 8192,
            ..small
        };
        let msg = check(&large, 4 << 30).unwrap_err().to_string();
        assert!(msg.contains("20000 labels × 8192 genes"), "{msg}");
    }

    #[test]
    fn sampled_cells_count_against_the_budget_and_are_capped_by_rows() {
        // 300 labels × 2 halves × 512 = 307,200, capped by the 60,000 cell rows; predictions:
        // 600 profiles × 512, capped by 60,000 rows.
        assert_eq!(
            sampled_cells(512, 300, Some(60_000), 600, &[Some(60_000)]),
            120_000
        );
        assert_eq!(
            sampled_cells(512, 300, None, 600, &[None]),
            307_200 + 307_200
        );
        let shape = Shape {
            labels: 300,
            genes: 8192,
            predicted_profiles: 600,
            per_gene_tables: false,
            sampled_cells: 120_000,
        };
        let msg = check(&shape, 4 << 30).unwrap_err().to_string();
        assert!(msg.contains("120000 sampled cells"), "{msg}");
        assert!(check(
            &Shape {
                sampled_cells: 0,
                ..shape
            },
            4 << 30
        )
        .is_ok());
    }

    #[test]
    fn predicted_profiles_before_reading_count_a_row_per_label_at_most() {
        assert_eq!(predicted_profiles(&[Some(10), None, Some(5000)], 300), 310);
        assert_eq!(predicted_profiles(&[], 300), 0);
    }
}
