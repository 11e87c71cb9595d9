//! Per-group mean profiles of a predictions table, summed group-major.
//!
//! A predictions file usually holds one row per model × perturbation: thousands of groups of
//! one row each. The gene-major [`Accumulator`](super::accumulate::Accumulator) would hold the
//! sums once, transpose them into a second copy and divide them into a third; here each group's
//! sums are one vector from the start, divided in place and handed on without a copy (a third
//! of the memory, none of it touched twice). The sums are added in the accumulator's order, so
//! the means are the same to the bit.

use super::accumulate::{check_column, file_positions, ExpressionView, GroupedRows, ValueChecks};
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
}

impl ProfileSums {
    /// No group yet, `n_genes` genes.
    pub fn new(n_genes: usize) -> Self {
        ProfileSums {
            n_genes,
            count: Vec::new(),
            sums: Vec::new(),
        }
    }

    /// Adds a batch. `groups[r]` is row r's group; `gene_of[file position]` is the profile's
    /// gene (or `None` to ignore that file gene); `first_row` numbers rows for messages.
    ///
    /// Wide batches add each group's Σx over the batch to its sum; dense and sparse rows add
    /// value by value: the accumulator's order, so that the sums are identical.
    pub fn add(
        &mut self,
        groups: &[u32],
        view: &ExpressionView<'_>,
        gene_of: &[Option<usize>],
        first_row: u64,
    ) -> ValueChecks {
        let n_groups = groups.iter().map(|&k| k as usize + 1).max().unwrap_or(0);
        if n_groups > self.count.len() {
            self.count.resize(n_groups, 0);
            self.sums.resize_with(n_groups, Vec::new);
        }
        for &k in groups {
            self.count[k as usize] += 1;
        }
        let file_pos = file_positions(gene_of, self.n_genes);
        let grouped = GroupedRows::new(groups);
        // One task per (group present, range of genes); groups ascend in both lists.
        let mut runs = grouped.runs().peekable();
        let mut tasks = Vec::new();
        for (k, sums) in self.sums.iter_mut().enumerate() {
            let Some((_, rows)) = runs.next_if(|&(g, _)| g as usize == k) else {
                continue;
            };
            if sums.is_empty() {
                *sums = vec![0.0; self.n_genes];
            }
            for (c, cells) in sums.chunks_mut(GENES_PER_TASK).enumerate() {
                tasks.push((rows, c * GENES_PER_TASK, cells));
            }
        }
        tasks.into_par_iter().for_each(|(rows, g0, cells)| {
            let positions = &file_pos[g0..g0 + cells.len()];
            add_rows(view, rows, gene_of, (g0, positions), cells)
        });
        check_values(view, gene_of, groups.len(), first_row)
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

/// Adds the rows `rows` of one group to `cells`, the sums of genes `g0 ..` whose file
/// positions are `file_pos` (`usize::MAX`: not in the file).
fn add_rows(
    view: &ExpressionView<'_>,
    rows: &[u32],
    gene_of: &[Option<usize>],
    (g0, file_pos): (usize, &[usize]),
    cells: &mut [f64],
) {
    match view {
        ExpressionView::Wide(cols) => {
            for (cell, p) in in_file(cells, file_pos) {
                let col = cols[p];
                let mut s = 0.0;
                for &r in rows {
                    s += col.get(r as usize);
                }
                *cell += s;
            }
        }
        ExpressionView::Dense { values, offsets } => {
            for (cell, p) in in_file(cells, file_pos) {
                for &r in rows {
                    *cell += values.get(offsets[r as usize] + p);
                }
            }
        }
        ExpressionView::Csr {
            offsets,
            indices,
            values,
        } => {
            let genes = g0..g0 + cells.len();
            for &r in rows {
                let r = r as usize;
                for i in offsets[r]..offsets[r + 1] {
                    let gene = usize::try_from(indices.get(i))
                        .ok()
                        .and_then(|p| gene_of.get(p).copied().flatten());
                    if let Some(g) = gene.filter(|g| genes.contains(g)) {
                        cells[g - g0] += values.get(i);
                    }
                }
            }
        }
    }
}

/// The cells of the genes that are in the file, with their file positions.
fn in_file<'a>(
    cells: &'a mut [f64],
    file_pos: &'a [usize],
) -> impl Iterator<Item = (&'a mut f64, usize)> + 'a {
    cells
        .iter_mut()
        .zip(file_pos.iter().copied())
        .filter(|&(_, p)| p != usize::MAX)
}

/// The value checks of a batch's mapped genes (non-finite, negative, integer, max).
fn check_values(
    view: &ExpressionView<'_>,
    gene_of: &[Option<usize>],
    n_rows: usize,
    first_row: u64,
) -> ValueChecks {
    match view {
        ExpressionView::Wide(cols) => cols
            .par_iter()
            .enumerate()
            .filter(|(p, _)| gene_of[*p].is_some())
            .map(|(p, &col)| {
                let mut checks = ValueChecks::new();
                check_column(col, n_rows, &mut checks, first_row, p);
                checks
            })
            .reduce(ValueChecks::new, ValueChecks::merge),
        ExpressionView::Dense { values, offsets } => {
            let mut checks = ValueChecks::new();
            for (r, &start) in offsets.iter().enumerate() {
                for (p, g) in gene_of.iter().enumerate() {
                    if g.is_some() {
                        checks.see(values.get(start + p), first_row + r as u64, p);
                    }
                }
            }
            checks
        }
        ExpressionView::Csr {
            offsets,
            indices,
            values,
        } => {
            let mut checks = ValueChecks::new();
            for r in 0..n_rows {
                for i in offsets[r]..offsets[r + 1] {
                    let p = indices.get(i);
                    let mapped = usize::try_from(p)
                        .ok()
                        .and_then(|p| gene_of.get(p).copied().flatten())
                        .is_some();
                    if mapped {
                        checks.see(values.get(i), first_row + r as u64, p as usize);
                    }
                }
            }
            checks
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::accumulate::{Accumulator, Indices, Values};
    use super::*;

    /// (rows, mean profile) per group.
    type Means = Vec<(u64, Vec<f64>)>;

    /// The means of a [`ProfileSums`] and of an [`Accumulator`] fed the same batches.
    fn both(
        n_genes: usize,
        batches: &[(Vec<u32>, ExpressionView<'_>)],
        gene_of: &[Option<usize>],
    ) -> (Means, Means) {
        let mut profiles = ProfileSums::new(n_genes);
        let mut acc = Accumulator::sums_only(n_genes);
        let mut row = 0;
        for (groups, view) in batches {
            let a = profiles.add(groups, view, gene_of, row);
            let b = acc.add(groups, view, gene_of, row);
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "value checks");
            row += groups.len() as u64;
        }
        let n_groups = acc.n_groups();
        let order: Vec<Option<usize>> = (0..n_groups).map(Some).collect();
        let (count, sums) = acc.into_group_sums(&order);
        let want = (0..n_groups)
            .map(|k| {
                let n = count[k] as f64;
                (count[k], sums.row(k).iter().map(|s| s / n).collect())
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
        let mut p = ProfileSums::new(2);
        let checks = p.add(&[0, 1, 2], &view, &[Some(0), Some(1)], 10);
        assert_eq!(checks.non_finite, 2);
        assert_eq!(checks.first_non_finite, Some((11, 0)));
    }
}
