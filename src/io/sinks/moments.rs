//! The observed cells' sink: count, Σx and Σx² per (group, gene), stored gene-major.
//!
//! Gene-major storage (`gene × group`) lets a batch be added in parallel by giving each rayon
//! task a disjoint block of genes: no locks and no per-thread copies of the O(groups × genes)
//! buffers. Groups are discovered while streaming (the capacity grows). At the end the sums are
//! turned group-major, into [`GroupStats`], block by block.

use crate::data::GroupStats;
use crate::io::ingest::{BatchRows, BatchSink, SinkPart, SplitSink, GENES_PER_SLAB};
use crate::io::layout::decode::{ExpressionView, GeneSpan, GroupAdd};
use ndarray::{Array2, Axis};
use rayon::prelude::*;

/// Genes per block of an [`Accumulator`], the unit of parallel work: enough work per task,
/// few enough tasks to balance, and a block of a few thousand groups fits in L2/L3. One block
/// is one slab of the wide-units read.
pub const GENES_PER_BLOCK: usize = GENES_PER_SLAB;

/// Gene-major sufficient statistics with a growing number of groups.
///
/// Each block holds [`GENES_PER_BLOCK`] genes (the last block fewer), each gene `cap` groups
/// of two values: Σx, then Σx². Keeping a group's Σx and Σx² side by side makes the scatter of
/// a value touch one cache line instead of two. Blocks are separate allocations so that each
/// parallel task owns one, and so that turning the statistics group-major frees them one by
/// one instead of holding both copies whole.
pub struct Accumulator {
    n_genes: usize,
    cap: usize,
    count: Vec<u64>,
    blocks: Vec<Vec<f64>>,
    /// File position of each gene (`usize::MAX`: not in the file).
    file_pos: Vec<usize>,
    /// Gene of each file position (`None`: ignored).
    gene_of: Vec<Option<usize>>,
}

/// Values per (gene, group) cell: Σx, Σx².
const MOMENTS: usize = 2;

/// The inverse of `gene_of`: the file position of each of `n_genes` genes (`usize::MAX`: not in
/// the file).
pub fn file_positions(gene_of: &[Option<usize>], n_genes: usize) -> Vec<usize> {
    let mut file_pos = vec![usize::MAX; n_genes];
    for (p, g) in gene_of.iter().enumerate() {
        if let Some(g) = *g {
            file_pos[g] = p;
        }
    }
    file_pos
}

impl Accumulator {
    /// An empty accumulator of count, Σx and Σx² over `n_genes` genes, gene `g` at file
    /// position `g`.
    pub fn new(n_genes: usize) -> Self {
        Self::with_gene_map((0..n_genes).map(Some).collect(), n_genes)
    }

    /// An empty accumulator over `n_genes` genes; `gene_of[file position]` is the gene of that
    /// position of a batch's view (`None`: ignored).
    pub fn with_gene_map(gene_of: Vec<Option<usize>>, n_genes: usize) -> Self {
        Accumulator {
            n_genes,
            cap: 0,
            count: Vec::new(),
            blocks: (0..n_genes.div_ceil(GENES_PER_BLOCK))
                .map(|_| Vec::new())
                .collect(),
            file_pos: file_positions(&gene_of, n_genes),
            gene_of,
        }
    }

    /// Counts every row of a table in its group (`groups[row]`), before values are added
    /// gene by gene ([`Accumulator::add_gene_block`]).
    pub fn add_row_groups(&mut self, groups: &[u32]) {
        let n_groups = groups.iter().max().map_or(0, |&g| g as usize + 1);
        self.ensure_groups(n_groups);
        for &g in groups {
            self.count[g as usize] += 1;
        }
    }

    /// Adds a block of a matrix stored by genes: file gene `first + j` has the entries
    /// `offsets[j]..offsets[j + 1]` of `rows` (ascending) and `values`; `groups[row]` is each
    /// row's group. A gene's values are added in row order, as a read by rows adds them.
    pub fn add_gene_block(
        &mut self,
        first: usize,
        offsets: &[usize],
        rows: &[u64],
        values: &[f64],
        groups: &[u32],
    ) {
        let gene_len = self.cap * MOMENTS;
        if gene_len == 0 {
            return;
        }
        let (n_genes, file_pos) = (self.n_genes, &self.file_pos);
        let block_genes = first..first + offsets.len() - 1;
        self.blocks
            .par_iter_mut()
            .enumerate()
            .for_each(|(b, cells)| {
                let g0 = b * GENES_PER_BLOCK;
                let g1 = (g0 + GENES_PER_BLOCK).min(n_genes);
                let mut block = BlockCells { cells, gene_len };
                for (k, &pos) in file_pos[g0..g1].iter().enumerate() {
                    if !block_genes.contains(&pos) {
                        continue;
                    }
                    let j = pos - first;
                    for e in offsets[j]..offsets[j + 1] {
                        block.add_value(k, groups[rows[e] as usize], values[e]);
                    }
                }
            });
    }

    /// Adds `n` cells to `group` whose values are not seen (a statistics table's count).
    pub fn add_cells(&mut self, group: u32, n: u64) {
        self.ensure_groups(group as usize + 1);
        self.count[group as usize] += n;
    }

    /// Adds a (group, gene)'s Σx and Σx² as given (a statistics table's row); the group must
    /// exist ([`Accumulator::add_cells`] first).
    pub fn add_moments(&mut self, group: u32, gene: usize, sum: f64, sum_sq: f64) {
        let gene_len = self.cap * MOMENTS;
        let block = &mut self.blocks[gene / GENES_PER_BLOCK];
        let k = (gene % GENES_PER_BLOCK) * gene_len + group as usize * MOMENTS;
        block[k] += sum;
        block[k + 1] += sum_sq;
    }

    /// Cells per group seen so far.
    pub fn counts(&self) -> &[u64] {
        &self.count
    }

    /// Number of groups seen so far.
    pub fn n_groups(&self) -> usize {
        self.count.len()
    }

    fn ensure_groups(&mut self, n_groups: usize) {
        if n_groups > self.count.len() {
            self.count.resize(n_groups, 0);
        }
        if n_groups <= self.cap {
            return;
        }
        let new_cap = n_groups.max(self.cap * 2).max(16);
        let (old_len, new_len) = (self.cap * MOMENTS, new_cap * MOMENTS);
        let n_genes = self.n_genes;
        for (b, block) in self.blocks.iter_mut().enumerate() {
            let genes = GENES_PER_BLOCK.min(n_genes - b * GENES_PER_BLOCK);
            let mut cells = vec![0f64; genes * new_len];
            for g in 0..genes {
                cells[g * new_len..g * new_len + old_len]
                    .copy_from_slice(&block[g * old_len..(g + 1) * old_len]);
            }
            *block = cells;
        }
        self.cap = new_cap;
    }

    /// The statistics as `GroupStats`, rows in the order of `group_order` (accumulator group
    /// indices; groups never seen are zero rows).
    pub fn into_group_stats(self, group_order: &[Option<usize>]) -> GroupStats {
        self.into_group_stats_many(&[group_order])
            .pop()
            .expect("one order")
    }

    /// [`Accumulator::into_group_stats`] for several row orders (one per context) at once.
    pub fn into_group_stats_many(self, orders: &[&[Option<usize>]]) -> Vec<GroupStats> {
        let counts: Vec<Vec<u64>> = orders.iter().map(|o| self.counts_of(o)).collect();
        self.into_group_major(orders)
            .into_iter()
            .zip(counts)
            .map(|([sum, sum_sq], count)| GroupStats { count, sum, sum_sq })
            .collect()
    }

    fn counts_of(&self, group_order: &[Option<usize>]) -> Vec<u64> {
        group_order
            .iter()
            .map(|src| src.and_then(|k| self.count.get(k).copied()).unwrap_or(0))
            .collect()
    }

    /// Transposes Σx and Σx² to groups × genes, one array per moment and row order: parallel
    /// over the blocks, each block's columns copied row by row (its genes' cells are read as
    /// parallel streams) and then freed, so the group-major arrays grow as the accumulator
    /// shrinks.
    fn into_group_major(self, orders: &[&[Option<usize>]]) -> Vec<[Array2<f64>; MOMENTS]> {
        let (gene_len, n_groups) = (self.cap * MOMENTS, self.count.len());
        let mut out: Vec<[Array2<f64>; MOMENTS]> = orders
            .iter()
            .map(|o| std::array::from_fn(|_| Array2::<f64>::zeros((o.len(), self.n_genes))))
            .collect();
        // For block b: (order, moment, that array's columns of the block).
        type Columns<'a> = Vec<(usize, usize, ndarray::ArrayViewMut2<'a, f64>)>;
        let mut columns: Vec<Columns> = self.blocks.iter().map(|_| Vec::new()).collect();
        for (o, arrays) in out.iter_mut().enumerate() {
            for (moment, a) in arrays.iter_mut().enumerate() {
                for (c, view) in columns
                    .iter_mut()
                    .zip(a.axis_chunks_iter_mut(Axis(1), GENES_PER_BLOCK))
                {
                    c.push((o, moment, view));
                }
            }
        }
        self.blocks
            .into_par_iter()
            .zip(columns)
            .for_each(|(block, mut dst)| {
                for (o, moment, d) in dst.iter_mut() {
                    for (r, k) in orders[*o].iter().enumerate() {
                        let Some(k) = k.filter(|&k| k < n_groups) else {
                            continue;
                        };
                        let mut row = d.row_mut(r);
                        for (j, x) in row.iter_mut().enumerate() {
                            *x = block[j * gene_len + k * MOMENTS + *moment];
                        }
                    }
                }
                drop(block);
            });
        out
    }
}

/// One block's cells as a [`GroupAdd`]: gene j's group k at `cells[j·gene_len + 2k ..]`.
struct BlockCells<'a> {
    cells: &'a mut [f64],
    gene_len: usize,
}

impl GroupAdd for BlockCells<'_> {
    #[inline(always)]
    fn add_sums(&mut self, j: usize, group: u32, s: f64, s2: f64) {
        let k = j * self.gene_len + group as usize * MOMENTS;
        // One bounds check for the cell; Σx and Σx² side by side share a cache line.
        let cell = &mut self.cells[k..k + MOMENTS];
        cell[0] += s;
        cell[1] += s2;
    }

    #[inline(always)]
    fn add_value(&mut self, j: usize, group: u32, x: f64) {
        self.add_sums(j, group, x, x * x);
    }
}

impl BatchSink for Accumulator {
    /// Counts the rows in their groups, growing the capacity as needed.
    fn add_rows(&mut self, batch: &BatchRows<'_>) {
        let n_groups = batch.rows.runs().last().map_or(0, |(k, _)| k as usize + 1);
        self.ensure_groups(n_groups);
        for (k, rows) in batch.rows.runs() {
            self.count[k as usize] += rows.len() as u64;
        }
    }

    /// Adds the values block by block in parallel.
    fn add_values(&mut self, batch: &BatchRows<'_>, view: &ExpressionView<'_>) {
        let gene_len = self.cap * MOMENTS;
        if gene_len == 0 {
            // An empty first batch: no group yet, nothing to add.
            return;
        }
        let (n_genes, file_pos, gene_of) = (self.n_genes, &self.file_pos, &self.gene_of);
        self.blocks
            .par_iter_mut()
            .enumerate()
            .for_each(|(t, cells)| {
                let g0 = t * GENES_PER_BLOCK;
                let g1 = (g0 + GENES_PER_BLOCK).min(n_genes);
                let span = GeneSpan {
                    first: g0,
                    file_pos: &file_pos[g0..g1],
                    gene_of,
                };
                view.add_to(batch.rows.runs(), span, &mut BlockCells { cells, gene_len });
            });
    }
}

/// One block of an [`Accumulator`], fed the wide columns of its genes.
struct Block<'a> {
    cells: &'a mut [f64],
    gene_len: usize,
    n_genes: usize,
}

impl SinkPart for Block<'_> {
    fn add_values(&mut self, batch: &BatchRows<'_>, columns: &ExpressionView<'_>) {
        if self.gene_len == 0 {
            return;
        }
        let own: Vec<usize> = (0..self.n_genes).collect();
        let ids: Vec<Option<usize>> = own.iter().copied().map(Some).collect();
        let span = GeneSpan {
            first: 0,
            file_pos: &own,
            gene_of: &ids,
        };
        let mut cells = BlockCells {
            cells: self.cells,
            gene_len: self.gene_len,
        };
        columns.add_to(batch.rows.runs(), span, &mut cells);
    }
}

impl SplitSink for Accumulator {
    fn split(&mut self) -> Vec<Box<dyn SinkPart + '_>> {
        let (gene_len, n_genes) = (self.cap * MOMENTS, self.n_genes);
        self.blocks
            .iter_mut()
            .enumerate()
            .map(|(b, cells)| {
                Box::new(Block {
                    cells,
                    gene_len,
                    n_genes: GENES_PER_BLOCK.min(n_genes - b * GENES_PER_BLOCK),
                }) as Box<dyn SinkPart + '_>
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::layout::decode::{Indices, Values};

    #[test]
    fn wide_and_csr_accumulate_the_same() {
        // 3 rows x 3 genes, groups [0, 1, 0].
        let cols = [
            vec![1.0f32, 0.0, 2.0],
            vec![0.0f32, 3.0, 0.0],
            vec![0.5f32, 0.0, 0.0],
        ];
        let wide = ExpressionView::Wide(cols.iter().map(|c| Values::F32(c)).collect());
        let groups = [0u32, 1, 0];
        let mut a = Accumulator::new(3);
        a.consume(&groups, &wide);
        let ca = wide.check(&[true; 3], 0, 0);
        let idx = [0u32, 2, 1, 0];
        let val = [1.0f32, 0.5, 3.0, 2.0];
        let csr = |sorted_rows| ExpressionView::Csr {
            offsets: vec![0, 2, 3, 4],
            indices: Indices::U32(&idx),
            values: Values::F32(&val),
            sorted_rows,
            block_starts: &[],
        };
        // Rows read in part (ascending positions: binary search) or whole give the same sums.
        let mut b = Accumulator::new(3);
        b.consume(&groups, &csr(true));
        let mut c = Accumulator::new(3);
        c.consume(&groups, &csr(false));
        let order = [Some(0), Some(1)];
        let s = a.into_group_stats(&order);
        assert_eq!(s, c.into_group_stats(&order));
        assert_eq!(s, b.into_group_stats(&order));
        assert_eq!(s.count, vec![2, 1]);
        assert_eq!(s.sum[[0, 0]], 3.0);
        assert_eq!(s.sum_sq[[0, 0]], 5.0);
        assert!(!ca.all_integer);
        assert_eq!(ca.max, 3.0);
    }

    #[test]
    fn gene_map_keeps_the_same_sums() {
        let cols = [vec![1.0f32, 2.0, 4.0, 8.0], vec![0.5f32, 0.0, 0.25, 3.0]];
        let view = ExpressionView::Wide(cols.iter().map(|c| Values::F32(c)).collect());
        let groups = [2u32, 0, 2, 1];
        let mut acc = Accumulator::with_gene_map(vec![Some(1), Some(0)], 2);
        acc.consume(&groups, &view);
        let order = [Some(2), None, Some(0), Some(1)];
        let s = acc.into_group_stats(&order);
        assert_eq!(s.count, vec![2, 0, 1, 1]);
        assert_eq!(s.sum.row(0).to_vec(), vec![0.75, 5.0]);
        assert_eq!(s.sum_sq.row(0).to_vec(), vec![0.3125, 17.0]);
    }

    #[test]
    fn blocks_and_growth_keep_every_gene() {
        // 150 genes (three blocks, the last partial), groups growing over three batches, and
        // F32 columns in passes of four plus a remainder: every sum equals the naive one.
        let (n_genes, n_groups) = (150usize, 45u32);
        let mut acc = Accumulator::new(n_genes);
        let mut want = Array2::<f64>::zeros((n_groups as usize, n_genes));
        let mut want_sq = Array2::<f64>::zeros((n_groups as usize, n_genes));
        for batch in 0..3u32 {
            let groups: Vec<u32> = (0..60u32)
                .map(|r| (r * 7 + batch) % (15 * (batch + 1)))
                .collect();
            let cols: Vec<Vec<f32>> = (0..n_genes)
                .map(|g| {
                    (0..60)
                        .map(|r| ((r * 31 + g * 17 + batch as usize) % 13) as f32 / 4.0)
                        .collect()
                })
                .collect();
            for (g, col) in cols.iter().enumerate() {
                for (r, &x) in col.iter().enumerate() {
                    want[[groups[r] as usize, g]] += x as f64;
                    want_sq[[groups[r] as usize, g]] += (x as f64) * (x as f64);
                }
            }
            let view = ExpressionView::Wide(cols.iter().map(|c| Values::F32(c)).collect());
            acc.consume(&groups, &view);
        }
        let order: Vec<Option<usize>> = (0..n_groups as usize).map(Some).collect();
        let s = acc.into_group_stats(&order);
        assert_eq!(s.sum, want);
        assert_eq!(s.sum_sq, want_sq);
    }

    #[test]
    fn split_blocks_add_the_same_as_the_whole() {
        // 70 genes: a full block and a partial one, fed through split() per block.
        let n_genes = 70usize;
        let groups: Vec<u32> = (0..20u32).map(|r| r % 3).collect();
        let cols: Vec<Vec<f32>> = (0..n_genes)
            .map(|g| (0..20).map(|r| ((r * 5 + g) % 7) as f32 / 3.0).collect())
            .collect();
        let view = ExpressionView::Wide(cols.iter().map(|c| Values::F32(c)).collect());
        let mut whole = Accumulator::new(n_genes);
        whole.consume(&groups, &view);
        let mut split = Accumulator::new(n_genes);
        let rows = crate::io::groups::GroupedRows::new(&groups);
        let batch = BatchRows {
            index: 0,
            first_row: 0,
            rows: &rows,
        };
        split.add_rows(&batch);
        for (b, mut part) in split.split().into_iter().enumerate() {
            let g0 = b * GENES_PER_BLOCK;
            let g1 = (g0 + GENES_PER_BLOCK).min(n_genes);
            let slab = ExpressionView::Wide(cols[g0..g1].iter().map(|c| Values::F32(c)).collect());
            part.add_values(&batch, &slab);
        }
        let order: Vec<Option<usize>> = (0..3).map(Some).collect();
        assert_eq!(
            whole.into_group_stats(&order),
            split.into_group_stats(&order)
        );
    }

    #[test]
    fn groups_grow_across_batches() {
        let mut a = Accumulator::new(1);
        for k in 0..40u32 {
            let v = [k as f32];
            a.consume(&[k], &ExpressionView::Wide(vec![Values::F32(&v)]));
        }
        let order: Vec<Option<usize>> = (0..40).map(Some).collect();
        let s = a.into_group_stats(&order);
        assert_eq!(s.sum[[39, 0]], 39.0);
        assert_eq!(s.sum[[7, 0]], 7.0);
    }

    #[test]
    fn checks_find_first_bad_value() {
        let c0 = [1.0f32, f32::NAN];
        let c1 = [-1.0f32, 2.0];
        let view = ExpressionView::Wide(vec![Values::F32(&c0), Values::F32(&c1)]);
        let ch = view.check(&[true, true], 10, 0);
        assert_eq!(ch.non_finite, 1);
        assert_eq!(ch.first_non_finite, Some((11, 0)));
        assert_eq!(ch.first_negative, Some((10, 1, -1.0)));
    }
}
