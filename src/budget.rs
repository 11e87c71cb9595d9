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
    FIXED_BYTES + statistics + predictions + deg + baselines
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
    Err(Error::Resources(format!(
        "this evaluation needs about {:.1} GiB of memory ({} labels × {} genes, {} predicted \
         profiles) but only {:.1} GiB is available here",
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
    fn predicted_profiles_before_reading_count_a_row_per_label_at_most() {
        assert_eq!(predicted_profiles(&[Some(10), None, Some(5000)], 300), 310);
        assert_eq!(predicted_profiles(&[], 300), 0);
    }
}
