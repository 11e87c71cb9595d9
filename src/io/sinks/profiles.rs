//! The predictions' sink: Σx per (group, gene), summed group-major, divided into mean
//! profiles.
//!
//! A predictions file usually holds one row per model × perturbation: thousands of groups of
//! one row each. The gene-major [`Accumulator`](super::moments::Accumulator) would hold the
//! sums once, transpose them into a second copy and divide them into a third; here each group's
//! sums are one vector from the start, divided in place and handed on without a copy (a third
//! of the memory, none of it touched twice). The values reach both sinks through the same walk
//! ([`ExpressionView::add_to`]), in the same order per (group, gene), so the means equal the
//! accumulator's Σx / n to the bit.

use super::moments::file_positions;
use crate::io::ingest::{BatchRows, BatchSink};
use crate::io::layout::decode::{ExpressionView, GeneSpan, GroupAdd};
use ndarray::{ArcArray1, Array1};
use rayon::prelude::*;

/// Genes per parallel task: enough work per task even for one-row groups, and tasks within
/// a group when a batch holds a few groups of many rows (cell-level predictions).
const GENES_PER_TASK: usize = 2048;

/// Σx per (group, gene), group-major; groups are numbered from 0 as they are first seen.
pub struct ProfileSums {
    n_genes: usize,
    count: Vec<u64>,
    sums: Vec<Vec<f64>>,
    /// File position of each gene (`usize::MAX`: not in the file).
    file_pos: Vec<usize>,
    /// Gene of each file position (`None`: ignored).
    gene_of: Vec<Option<usize>>,
}

impl ProfileSums {
    /// No group yet, `n_genes` genes; `gene_of[file position]` is the profile's gene of that
    /// position of a batch's view (`None`: ignored).
    pub fn new(gene_of: Vec<Option<usize>>, n_genes: usize) -> Self {
        ProfileSums {
            n_genes,
            count: Vec::new(),
            sums: Vec::new(),
            file_pos: file_positions(&gene_of, n_genes),
            gene_of,
        }
    }

    /// Rows per group and each group's mean profile (group i = the i-th group seen; a group
    /// without rows, numbered but never added, has count 0 and NaN means).
    pub fn into_means(self) -> Vec<(u64, ArcArray1<f64>)> {
        let n_genes = self.n_genes;
        self.sums
            .into_par_iter()
            .zip(self.count)
            .map(|(mut sums, n)| {
                if sums.is_empty() {
                    sums = vec![0.0; n_genes];
                }
                let n_f = n as f64;
                sums.iter_mut().for_each(|s| *s /= n_f);
                (n, Array1::from(sums).into_shared())
            })
            .collect()
    }
}

/// One group's sums of a range of genes, as a [`GroupAdd`] (Σx² is not kept).
struct GroupCells<'a>(&'a mut [f64]);

impl GroupAdd for GroupCells<'_> {
    #[inline(always)]
    fn add_sums(&mut self, j: usize, _group: u32, s: f64, _s2: f64) {
        self.0[j] += s;
    }

    #[inline(always)]
    fn add_value(&mut self, j: usize, _group: u32, x: f64) {
        self.0[j] += x;
    }
}

impl BatchSink for ProfileSums {
    /// Counts the rows in their groups, numbering new groups.
    fn add_rows(&mut self, batch: &BatchRows<'_>) {
        let n_groups = batch.rows.runs().last().map_or(0, |(k, _)| k as usize + 1);
        if n_groups > self.count.len() {
            self.count.resize(n_groups, 0);
            self.sums.resize_with(n_groups, Vec::new);
        }
        for (k, rows) in batch.rows.runs() {
            self.count[k as usize] += rows.len() as u64;
        }
    }

    /// Adds each group's values, in parallel over (group present, range of genes).
    fn add_values(&mut self, batch: &BatchRows<'_>, view: &ExpressionView<'_>) {
        // One task per (group present, range of genes); groups ascend in both lists.
        let mut runs = batch.rows.runs().peekable();
        let mut tasks = Vec::new();
        for (k, sums) in self.sums.iter_mut().enumerate() {
            let Some(run) = runs.next_if(|&(g, _)| g as usize == k) else {
                continue;
            };
            if sums.is_empty() {
                *sums = vec![0.0; self.n_genes];
            }
            for (c, cells) in sums.chunks_mut(GENES_PER_TASK).enumerate() {
                tasks.push((run, c * GENES_PER_TASK, cells));
            }
        }
        let (file_pos, gene_of) = (&self.file_pos, &self.gene_of);
        tasks.into_par_iter().for_each(|(run, g0, cells)| {
            let span = GeneSpan {
                first: g0,
                file_pos: &file_pos[g0..g0 + cells.len()],
                gene_of,
            };
            view.add_to(std::iter::once(run), span, &mut GroupCells(cells));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::moments::Accumulator;
    use super::*;
    use crate::io::layout::decode::{Indices, Values};

    /// (rows, mean profile) per group.
    type Means = Vec<(u64, Vec<f64>)>;

    /// The means of a [`ProfileSums`] and of an [`Accumulator`] (Σx / n) fed the same batches.
    fn both(
        n_genes: usize,
        batches: &[(Vec<u32>, ExpressionView<'_>)],
        gene_of: &[Option<usize>],
    ) -> (Means, Means) {
        let mut profiles = ProfileSums::new(gene_of.to_vec(), n_genes);
        let mut acc = Accumulator::with_gene_map(gene_of.to_vec(), n_genes);
        for (groups, view) in batches {
            profiles.consume(groups, view);
            acc.consume(groups, view);
        }
        let n_groups = acc.n_groups();
        let order: Vec<Option<usize>> = (0..n_groups).map(Some).collect();
        let stats = acc.into_group_stats(&order);
        let want = (0..n_groups)
            .map(|k| {
                let n = stats.count[k] as f64;
                (
                    stats.count[k],
                    stats.sum.row(k).iter().map(|s| s / n).collect(),
                )
            })
            .collect();
        let got = profiles
            .into_means()
            .into_iter()
            .map(|(n, m)| (n, m.to_vec()))
            .collect();
        (got, want)
    }

    fn bits(v: &Means) -> Vec<(u64, Vec<u64>)> {
        v.iter()
            .map(|(n, m)| (*n, m.iter().map(|x| x.to_bits()).collect()))
            .collect()
    }

    #[test]
    fn means_equal_the_accumulators_to_the_bit() {
        // Sums whose rounding depends on the order: 0.1-ish values of mixed magnitudes.
        let n_rows = 9;
        let cols: Vec<Vec<f32>> = (0..5)
            .map(|j| {
                (0..n_rows)
                    .map(|r| 0.1 * (1 + r * 7 + j * 3) as f32 * if r % 3 == 0 { 1e4 } else { 1.0 })
                    .collect()
            })
            .collect();
        let wide = || ExpressionView::Wide(cols.iter().map(|c| Values::F32(c)).collect());
        // Genes: file column 3 is not observed; observed gene 4 is missing from the file.
        let gene_of = vec![Some(2), Some(0), Some(1), None, Some(3)];
        let first: Vec<u32> = vec![1, 0, 1, 2, 1, 0, 3, 3, 1];
        let second: Vec<u32> = vec![0, 4, 4, 1, 2, 0, 0, 1, 5];
        let (got, want) = both(
            5,
            &[(first.clone(), wide()), (second.clone(), wide())],
            &gene_of,
        );
        assert_eq!(bits(&got), bits(&want));
        assert_eq!(got[5].0, 1);

        // The same values as dense rows and as sparse rows.
        let dense: Vec<f64> = (0..n_rows)
            .flat_map(|r| cols.iter().map(move |c| c[r] as f64))
            .collect();
        let dense_view = || ExpressionView::Dense {
            values: Values::F64(&dense),
            offsets: (0..n_rows).map(|r| r * 5).collect(),
        };
        let (got, want) = both(
            5,
            &[(first.clone(), dense_view()), (second, dense_view())],
            &gene_of,
        );
        assert_eq!(bits(&got), bits(&want));

        let idx: Vec<u32> = (0..n_rows as u32).flat_map(|_| [4, 0, 2]).collect();
        let val: Vec<f32> = (0..n_rows)
            .flat_map(|r| [cols[4][r], cols[0][r], -cols[2][r]])
            .collect();
        let csr = ExpressionView::Csr {
            offsets: (0..=n_rows).map(|r| r * 3).collect(),
            indices: Indices::U32(&idx),
            values: Values::F32(&val),
            // Positions 4, 0, 2: not ascending.
            sorted_rows: false,
            block_starts: &[],
        };
        let (got, want) = both(5, &[(first, csr)], &gene_of);
        assert_eq!(bits(&got), bits(&want));
    }

    #[test]
    fn non_finite_values_are_found() {
        let cols = [
            vec![1.0f32, f32::NAN, 2.0],
            vec![0.0f32, 1.0, f32::INFINITY],
        ];
        let view = ExpressionView::Wide(cols.iter().map(|c| Values::F32(c)).collect());
        let checks = view.check(&[true, true], 10, 0);
        assert_eq!(checks.non_finite, 2);
        assert_eq!(checks.first_non_finite, Some((11, 0)));
    }
}
