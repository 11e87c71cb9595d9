//! The cell sampler: a seeded sample of at most `max_cells` rows per group, kept whole (every
//! gene), for the cell-level metrics (SPEC §12.1).
//!
//! Each row gets a key from a hash of (seed, row number); a group keeps the rows with the
//! `max_cells` smallest keys ("bottom-k" sampling). That is a uniform sample without
//! replacement, and the set does not depend on the order the rows arrive in, so the same seed
//! gives the same cells for any thread count, batch size or reading order (the slab-parallel
//! read registers every batch before any value arrives; the streaming read interleaves them).
//! A row's values are written into its slot when its batch's values arrive, if it is still
//! held then; a row evicted later by a smaller key leaves its slot to the newcomer.
//!
//! Memory: held rows × genes × 4 bytes (values are kept as f32, the precision of the files).

use super::moments::file_positions;
use crate::io::ingest::{BatchRows, BatchSink, SinkPart, SplitSink, GENES_PER_SLAB};
use crate::io::layout::decode::{ExpressionView, GeneSpan, GroupAdd};
use ndarray::Array2;
use rayon::prelude::*;
use std::collections::{BinaryHeap, HashMap};

/// A row's sampling key: SplitMix64 of (seed, row), so keys are independent uniform draws.
pub fn sample_key(seed: u64, row: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(row)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The rows a group holds: a max-heap of (key, row, slot), at most `max_cells` entries.
#[derive(Default)]
struct Reservoir {
    heap: BinaryHeap<(u64, u64, u32)>,
    seen: u64,
}

/// A seeded sample of at most `max_cells` rows per group, every gene kept.
pub struct CellSampler {
    max_cells: usize,
    seed: u64,
    n_genes: usize,
    groups: Vec<Reservoir>,
    /// The slot of each row held now.
    slot_of_row: HashMap<u64, u32>,
    /// Slots handed out so far (a slot is reused when its row is evicted).
    n_slots: usize,
    /// Values per block of [`GENES_PER_SLAB`] genes: `n_slots × width` each, slot-major.
    blocks: Vec<Vec<f32>>,
    file_pos: Vec<usize>,
    gene_of: Vec<Option<usize>>,
    /// Takes the values as read, before normalisation ([`CellSampler::with_counts`]).
    counts: bool,
}

/// One group's sample: its rows (table row numbers, ascending) and their values.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSample {
    /// Row numbers in the table, ascending.
    pub rows: Vec<u64>,
    /// `values[[cell, gene]]`, cells in `rows` order.
    pub values: Array2<f32>,
    /// Rows the group had in the table.
    pub n_rows: u64,
    /// The same cells' values as read, before normalisation (raw counts), when they were
    /// asked for ([`CellSampler::with_counts`]); `None` otherwise.
    pub counts: Option<Array2<f32>>,
}

impl GroupSample {
    /// A sample of no cell.
    pub fn empty(n_genes: usize) -> Self {
        GroupSample {
            rows: Vec::new(),
            values: Array2::zeros((0, n_genes)),
            n_rows: 0,
            counts: None,
        }
    }

    /// The same cells restricted to some genes (in the given order).
    pub fn select_genes(&self, keep: &[usize]) -> GroupSample {
        GroupSample {
            rows: self.rows.clone(),
            values: self.values.select(ndarray::Axis(1), keep),
            n_rows: self.n_rows,
            counts: self
                .counts
                .as_ref()
                .map(|c| c.select(ndarray::Axis(1), keep)),
        }
    }
}

impl CellSampler {
    /// No group yet; `gene_of[file position]` is the sample's gene of that position of a
    /// batch's view (`None`: ignored).
    pub fn new(gene_of: Vec<Option<usize>>, n_genes: usize, max_cells: usize, seed: u64) -> Self {
        CellSampler {
            max_cells: max_cells.max(1),
            seed,
            n_genes,
            groups: Vec::new(),
            slot_of_row: HashMap::new(),
            n_slots: 0,
            blocks: (0..n_genes.div_ceil(GENES_PER_SLAB))
                .map(|_| Vec::new())
                .collect(),
            file_pos: file_positions(&gene_of, n_genes),
            gene_of,
            counts: false,
        }
    }

    /// The same sampler taking the values as read (raw counts) when the reader normalises
    /// them: with the same seed it holds the same rows as its normalised twin, whose samples
    /// [`attach_counts`] then completes.
    pub fn with_counts(mut self) -> Self {
        self.counts = true;
        self
    }

    /// Rows held now.
    pub fn held(&self) -> usize {
        self.slot_of_row.len()
    }

    /// Width of block `b`.
    fn width(&self, b: usize) -> usize {
        GENES_PER_SLAB.min(self.n_genes - b * GENES_PER_SLAB)
    }

    /// Grows every block to the slots handed out.
    fn grow_blocks(&mut self) {
        for b in 0..self.blocks.len() {
            let len = self.n_slots * self.width(b);
            self.blocks[b].resize(len, 0.0);
        }
    }

    /// The held rows of a batch as (slot, row in the batch), slots ascending.
    fn held_rows(slot_of_row: &HashMap<u64, u32>, batch: &BatchRows<'_>) -> Vec<(u32, u32)> {
        let mut held: Vec<(u32, u32)> = batch
            .rows
            .runs()
            .flat_map(|(_, rows)| rows.iter())
            .filter_map(|&r| {
                slot_of_row
                    .get(&(batch.first_row + r as u64))
                    .map(|&s| (s, r))
            })
            .collect();
        held.sort_unstable();
        held
    }

    /// Each group's sample (group i = the i-th group numbered), rows ascending.
    pub fn into_samples(self) -> Vec<GroupSample> {
        let CellSampler {
            groups,
            blocks,
            n_genes,
            ..
        } = self;
        groups
            .into_par_iter()
            .map(|g| {
                let mut held: Vec<(u64, u32)> = g.heap.iter().map(|&(_, r, s)| (r, s)).collect();
                held.sort_unstable();
                let mut values = Array2::<f32>::zeros((held.len(), n_genes));
                for (i, &(_, slot)) in held.iter().enumerate() {
                    let mut row = values.row_mut(i);
                    let row = row.as_slice_mut().expect("standard layout");
                    for (b, block) in blocks.iter().enumerate() {
                        let g0 = b * GENES_PER_SLAB;
                        let w = GENES_PER_SLAB.min(n_genes - g0);
                        let at = slot as usize * w;
                        row[g0..g0 + w].copy_from_slice(&block[at..at + w]);
                    }
                }
                GroupSample {
                    rows: held.iter().map(|&(r, _)| r).collect(),
                    values,
                    n_rows: g.seen,
                    counts: None,
                }
            })
            .collect()
    }
}

/// Writes values into held slots: each "group" of the walk is one slot holding one row.
struct SlotCells<'a> {
    cells: &'a mut [f32],
    width: usize,
}

impl GroupAdd for SlotCells<'_> {
    #[inline(always)]
    fn add_sums(&mut self, j: usize, slot: u32, s: f64, _s2: f64) {
        self.cells[slot as usize * self.width + j] = s as f32;
    }

    #[inline(always)]
    fn add_value(&mut self, j: usize, slot: u32, x: f64) {
        self.cells[slot as usize * self.width + j] = x as f32;
    }
}

/// Writes a batch's held rows into one block (zeroed first: sparse rows skip their zeros).
fn write_block(
    held: &[(u32, u32)],
    view: &ExpressionView<'_>,
    span: GeneSpan<'_>,
    cells: &mut [f32],
    width: usize,
) {
    if held.is_empty() {
        return;
    }
    for &(slot, _) in held {
        cells[slot as usize * width..(slot as usize + 1) * width].fill(0.0);
    }
    let rows: Vec<u32> = held.iter().map(|&(_, r)| r).collect();
    let runs = held
        .iter()
        .zip(rows.chunks(1))
        .map(|(&(slot, _), r)| (slot, r));
    view.add_to(runs, span, &mut SlotCells { cells, width });
}

/// Gives each sample the raw values of the same rows, sampled by a
/// [`CellSampler::with_counts`] twin with the same seed.
pub fn attach_counts(samples: &mut [GroupSample], counts: Vec<GroupSample>) {
    for (s, c) in samples.iter_mut().zip(counts) {
        debug_assert_eq!(s.rows, c.rows, "twin samplers hold the same rows");
        s.counts = Some(c.values);
    }
}

impl BatchSink for CellSampler {
    fn wants_counts(&self) -> bool {
        self.counts
    }

    /// Offers each row to its group's sample.
    fn add_rows(&mut self, batch: &BatchRows<'_>) {
        let n_groups = batch.rows.runs().last().map_or(0, |(k, _)| k as usize + 1);
        if n_groups > self.groups.len() {
            self.groups.resize_with(n_groups, Reservoir::default);
        }
        for (k, rows) in batch.rows.runs() {
            let group = &mut self.groups[k as usize];
            for &r in rows {
                let row = batch.first_row + r as u64;
                let key = sample_key(self.seed, row);
                group.seen += 1;
                if group.heap.len() < self.max_cells {
                    let slot = self.n_slots as u32;
                    self.n_slots += 1;
                    group.heap.push((key, row, slot));
                    self.slot_of_row.insert(row, slot);
                } else if let Some(&(top, evicted, slot)) = group.heap.peek() {
                    if key < top {
                        group.heap.pop();
                        self.slot_of_row.remove(&evicted);
                        group.heap.push((key, row, slot));
                        self.slot_of_row.insert(row, slot);
                    }
                }
            }
        }
    }

    /// Writes the batch's held rows, in parallel over blocks of genes.
    fn add_values(&mut self, batch: &BatchRows<'_>, view: &ExpressionView<'_>) {
        self.grow_blocks();
        let held = Self::held_rows(&self.slot_of_row, batch);
        let (n_genes, file_pos, gene_of) = (self.n_genes, &self.file_pos, &self.gene_of);
        self.blocks
            .par_iter_mut()
            .enumerate()
            .for_each(|(b, cells)| {
                let g0 = b * GENES_PER_SLAB;
                let g1 = (g0 + GENES_PER_SLAB).min(n_genes);
                let span = GeneSpan {
                    first: g0,
                    file_pos: &file_pos[g0..g1],
                    gene_of,
                };
                write_block(&held, view, span, cells, g1 - g0);
            });
    }
}

/// One block of a [`CellSampler`], fed the wide columns of its genes.
struct SampleBlock<'a> {
    cells: &'a mut [f32],
    width: usize,
    slot_of_row: &'a HashMap<u64, u32>,
}

impl SinkPart for SampleBlock<'_> {
    fn add_values(&mut self, batch: &BatchRows<'_>, columns: &ExpressionView<'_>) {
        let held = CellSampler::held_rows(self.slot_of_row, batch);
        let own: Vec<usize> = (0..self.width).collect();
        let ids: Vec<Option<usize>> = own.iter().copied().map(Some).collect();
        let span = GeneSpan {
            first: 0,
            file_pos: &own,
            gene_of: &ids,
        };
        write_block(&held, columns, span, self.cells, self.width);
    }
}

impl SplitSink for CellSampler {
    fn split(&mut self) -> Vec<Box<dyn SinkPart + '_>> {
        self.grow_blocks();
        let n_genes = self.n_genes;
        let slot_of_row = &self.slot_of_row;
        self.blocks
            .iter_mut()
            .enumerate()
            .map(|(b, cells)| {
                Box::new(SampleBlock {
                    cells,
                    width: GENES_PER_SLAB.min(n_genes - b * GENES_PER_SLAB),
                    slot_of_row,
                }) as Box<dyn SinkPart + '_>
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::layout::decode::Values;

    fn wide(cols: &[Vec<f32>]) -> ExpressionView<'_> {
        ExpressionView::Wide(cols.iter().map(|c| Values::F32(c)).collect())
    }

    /// 200 rows of 3 genes (row r: r, 10r, 100r) in groups r % 3, fed in batches of `batch`.
    fn sample(max_cells: usize, seed: u64, batch: usize) -> Vec<GroupSample> {
        let mut s = CellSampler::new(vec![Some(0), Some(1), Some(2)], 3, max_cells, seed);
        let mut first = 0u64;
        while first < 200 {
            let n = batch.min(200 - first as usize);
            let rows: Vec<u64> = (first..first + n as u64).collect();
            let cols: Vec<Vec<f32>> = (0..3)
                .map(|g| rows.iter().map(|&r| (r * 10u64.pow(g)) as f32).collect())
                .collect();
            let groups: Vec<u32> = rows.iter().map(|&r| (r % 3) as u32).collect();
            let grouped = crate::io::groups::GroupedRows::new(&groups);
            let b = BatchRows {
                index: 0,
                first_row: first,
                rows: &grouped,
            };
            s.add_rows(&b);
            s.add_values(&b, &wide(&cols));
            first += n as u64;
        }
        assert!(s.held() <= 3 * max_cells);
        s.into_samples()
    }

    #[test]
    fn keeps_at_most_max_cells_with_their_values() {
        let got = sample(10, 7, 32);
        assert_eq!(got.len(), 3);
        for (k, g) in got.iter().enumerate() {
            assert_eq!(g.rows.len(), 10);
            assert!(g.n_rows >= 66);
            for (i, &r) in g.rows.iter().enumerate() {
                assert_eq!(r % 3, k as u64);
                assert_eq!(
                    g.values.row(i).to_vec(),
                    vec![r as f32, 10.0 * r as f32, 100.0 * r as f32]
                );
            }
        }
    }

    #[test]
    fn the_sample_does_not_depend_on_batching() {
        assert_eq!(sample(10, 7, 7), sample(10, 7, 64));
        assert_ne!(sample(10, 7, 7)[0].rows, sample(10, 8, 7)[0].rows);
    }

    #[test]
    fn small_groups_are_kept_whole() {
        let got = sample(100, 1, 50);
        assert!(got.iter().all(|g| g.rows.len() as u64 == g.n_rows));
    }
}
