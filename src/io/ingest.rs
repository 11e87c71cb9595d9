//! The ingest driver: a table read batch by batch, each batch turned into (row groups,
//! expression view) and handed to every sink.
//!
//! Reading, grouping and decoding happen here once; what is kept of the values is the sinks'
//! business ([`BatchSink`]: the Σx / Σx² store of the observed cells, the profile sums of the
//! predictions, later a cell sampler). The shape follows DataFusion's
//! `GroupsAccumulator::update_batch(values, group_indices)`: a sink sees group numbers and
//! values, never files or labels. Value checks are made here too, on the same views, so that
//! no sink has to.
//!
//! Two implementations of the one loop:
//! - [`ingest_batches`] streams record batches (any format, any layout, optional
//!   normalisation);
//! - [`ingest_wide_units`] reads wide tables that have independently decodable units (Parquet
//!   row groups, Arrow IPC file batches) in parallel slabs of [`GENES_PER_SLAB`] gene columns,
//!   each slab feeding its own part of the sinks ([`SplitSink`]) — the fast path for large
//!   cell tables.

use super::groups::GroupedRows;
use super::layout::decode::{ExpressionArrays, ExpressionView};
use super::layout::values::{normalize_rows, ValueChecks};
use super::layout::ExpressionLayout;
use super::sinks::Accumulator;
use super::table::{ColumnSet, GeneBlocks, Table, TableUnits, UnitData};
use crate::error::{Error, Result};
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

/// One slab's work in the wide read: its sinks' parts, its columns and its first gene.
type SlabWork<'s, 'c> = (Vec<Box<dyn SinkPart + 's>>, &'c ColumnSet, usize);

/// One batch's rows as a sink sees them.
pub struct BatchRows<'a> {
    /// Number of the batch (unit) in the table, from 0.
    pub index: usize,
    /// Row number of its first row in the table.
    pub first_row: u64,
    /// Its rows ordered by group.
    pub rows: &'a GroupedRows,
}

/// A consumer of ingested batches.
///
/// For every batch, in table order, the driver calls [`BatchSink::add_rows`] and then
/// [`BatchSink::add_values`] with the same rows (the slab-parallel read registers every
/// batch's rows first and then feeds values batch by batch, through [`SplitSink`]).
pub trait BatchSink {
    /// Registers a batch's rows and their groups (e.g. counts them, grows per-group storage).
    fn add_rows(&mut self, batch: &BatchRows<'_>);

    /// Takes the batch's values: `view` holds them in the file's gene order.
    fn add_values(&mut self, batch: &BatchRows<'_>, view: &ExpressionView<'_>);

    /// Whether the sink takes the values as read, before [`Plan::normalize`] transforms
    /// them (a sample of raw counts); by default it takes what every metric sees.
    fn wants_counts(&self) -> bool {
        false
    }

    /// [`BatchSink::add_rows`] and [`BatchSink::add_values`] of one batch whose row `r` is
    /// in group `groups[r]` (tests, benchmarks and one-off callers).
    fn consume(&mut self, groups: &[u32], view: &ExpressionView<'_>) {
        let rows = GroupedRows::new(groups);
        let batch = BatchRows {
            index: 0,
            first_row: 0,
            rows: &rows,
        };
        self.add_rows(&batch);
        self.add_values(&batch, view);
    }
}

/// A part of a sink that owns some consecutive genes ([`SplitSink::split`]).
pub trait SinkPart: Send {
    /// Takes the values of the part's genes: `columns` holds one wide column per gene of the
    /// part, in order, for the rows registered on the whole sink.
    fn add_values(&mut self, batch: &BatchRows<'_>, columns: &ExpressionView<'_>);
}

/// A sink whose genes split into disjoint parts that can be fed in parallel.
pub trait SplitSink: BatchSink {
    /// The sink's genes as parts of [`GENES_PER_SLAB`] consecutive genes (the last may have
    /// fewer), in gene order. Rows are registered on the whole sink before they are split.
    fn split(&mut self) -> Vec<Box<dyn SinkPart + '_>>;
}

/// Genes per parallel slab when decoding wide tables (an accumulator block): enough work per
/// task, small decoded arrays of rows × 64 values, many tasks to balance two or more threads.
/// A slab's share of the Σx / Σx² store (64 genes × groups × 2: 4 MB for 4000 groups) stays in
/// cache while the slab-major read adds every unit to it.
pub const GENES_PER_SLAB: usize = 64;

/// What a table's batches are read for.
pub struct Plan<'a> {
    /// The file's display name, for messages.
    pub file: &'a str,
    /// Where the values are.
    pub layout: &'a ExpressionLayout,
    /// The file's genes, in file order.
    pub genes: &'a [String],
    /// Per file gene: whether its values are checked (genes nobody reads are not).
    pub checked: &'a [bool],
    /// Apply normalize_total + log1p to every row first.
    pub normalize: bool,
}

/// What was read.
pub struct Ingested {
    /// Rows read.
    pub rows: u64,
    /// The checks of every checked value.
    pub checks: ValueChecks,
}

/// Turns a batch of key columns (in the order the caller asked for) into each row's group;
/// `first_row` numbers the rows for messages.
pub type Grouping<'g> = dyn FnMut(&RecordBatch, u64) -> Result<Vec<u32>> + 'g;

/// Streams `table` in batches of `batch_rows`: groups each batch's rows from the columns
/// `key_columns` (schema indices), decodes its values and hands both to every sink.
pub fn ingest_batches(
    table: &Table,
    plan: &Plan<'_>,
    batch_rows: usize,
    key_columns: &[usize],
    group: &mut Grouping<'_>,
    sinks: &mut [&mut dyn BatchSink],
    progress: &mut dyn FnMut(f64),
) -> Result<Ingested> {
    let mut checks = ValueChecks::new();
    let mut row = 0u64;
    for (index, item) in table.batches(None, batch_rows)?.enumerate() {
        let (batch, frac) = item?;
        let n = batch.num_rows();
        let keys = batch
            .project(key_columns)
            .expect("key columns are in the schema");
        let rows = GroupedRows::new(&group(&keys, row)?);
        let mut expr =
            ExpressionArrays::from_batch(&batch, plan.layout, plan.genes, plan.file, row)?;
        let batch = BatchRows {
            index,
            first_row: row,
            rows: &rows,
        };
        // The values are checked as read: a negative count must not hide behind its
        // normalised value.
        checks = checks.merge(expr.view().check(plan.checked, row, 0));
        if plan.normalize {
            let raw = expr.view();
            for sink in sinks.iter_mut().filter(|s| s.wants_counts()) {
                sink.add_rows(&batch);
                sink.add_values(&batch, &raw);
            }
            normalize_rows(&mut expr);
        }
        let view = expr.view();
        let takes = |s: &&mut &mut dyn BatchSink| !(plan.normalize && s.wants_counts());
        for sink in sinks.iter_mut().filter(takes) {
            sink.add_rows(&batch);
            sink.add_values(&batch, &view);
        }
        row += n as u64;
        progress(frac);
    }
    Ok(Ingested { rows: row, checks })
}

/// Values per read of a matrix stored by genes.
const GENE_BLOCK_VALUES: u64 = 1 << 20;

/// Reads a matrix stored by genes (an h5ad CSC matrix) into the accumulator: the key columns
/// first, every row's group kept (4 bytes per cell), then blocks of genes, each gene's values
/// added in row order — the order of a read by rows, so the statistics are the same. With
/// normalisation the matrix is read twice: once for the cells' totals.
#[allow(clippy::too_many_arguments)]
pub fn ingest_gene_blocks(
    table: &Table,
    blocks: &dyn GeneBlocks,
    plan: &Plan<'_>,
    batch_rows: usize,
    key_columns: &[usize],
    group: &mut Grouping<'_>,
    acc: &mut Accumulator,
    progress: &mut dyn FnMut(f64),
) -> Result<Ingested> {
    let mut sorted = key_columns.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let order: Vec<usize> = key_columns
        .iter()
        .map(|c| sorted.iter().position(|x| x == c).expect("projected"))
        .collect();
    let mut groups: Vec<u32> = Vec::new();
    for item in table.batches(Some(&sorted), batch_rows)? {
        let (batch, _) = item?;
        let keys = batch.project(&order).expect("key columns were read");
        let row = groups.len() as u64;
        groups.extend(group(&keys, row)?);
    }
    acc.add_row_groups(&groups);
    let n_rows = groups.len();
    let plan_blocks = blocks.plan(GENE_BLOCK_VALUES);
    let passes = if plan.normalize { 2.0 } else { 1.0 };
    let n_blocks = plan_blocks.len().max(1) as f64;
    let scale: Option<Vec<f64>> = if plan.normalize {
        let mut totals = vec![0f64; n_rows];
        for (i, genes) in plan_blocks.iter().enumerate() {
            let block = blocks.read(genes.clone())?;
            // Gene order, each cell's values ascending by gene: a row's sum in stored order.
            for (&r, &x) in block.rows.iter().zip(&block.values) {
                totals[r as usize] += x;
            }
            progress((i + 1) as f64 / n_blocks / passes);
        }
        Some(
            totals
                .iter()
                .map(|&t| if t == 0.0 { 0.0 } else { 1e4 / t })
                .collect(),
        )
    } else {
        None
    };
    let mut checks = ValueChecks::new();
    for (i, genes) in plan_blocks.iter().enumerate() {
        let mut block = blocks.read(genes.clone())?;
        if let Some(scale) = &scale {
            for (x, &r) in block.values.iter_mut().zip(&block.rows) {
                *x = (*x * scale[r as usize]).ln_1p() as f32 as f64;
            }
        }
        for j in 0..block.offsets.len() - 1 {
            let pos = block.first_gene + j;
            if !plan.checked[pos] {
                continue;
            }
            for e in block.offsets[j]..block.offsets[j + 1] {
                checks.see(block.values[e], block.rows[e], pos);
            }
        }
        acc.add_gene_block(
            block.first_gene,
            &block.offsets,
            &block.rows,
            &block.values,
            &groups,
        );
        progress((passes - 1.0 + (i + 1) as f64 / n_blocks) / passes);
    }
    Ok(Ingested {
        rows: n_rows as u64,
        checks,
    })
}

/// Reads a wide table with an index of units (Parquet row groups, IPC file batches): the key
/// columns are decoded first, then the expression columns `columns` (schema indices, one per
/// gene, ascending) in parallel slabs, each slab feeding its own part of every sink. Every
/// value is checked.
pub fn ingest_wide_units(
    units: &dyn TableUnits,
    plan: &Plan<'_>,
    columns: &[usize],
    key_columns: &[usize],
    group: &mut Grouping<'_>,
    sinks: &mut [&mut dyn SplitSink],
    progress: &mut dyn FnMut(f64),
) -> Result<Ingested> {
    let mut key_set_columns = key_columns.to_vec();
    key_set_columns.sort_unstable();
    key_set_columns.dedup();
    let key_set = units.column_set(key_set_columns)?;
    // The set's batches hold its columns ascending: back to the caller's order.
    let key_order: Vec<usize> = key_columns
        .iter()
        .map(|c| {
            key_set
                .columns()
                .iter()
                .position(|x| x == c)
                .expect("projected")
        })
        .collect();
    let slab_sets = columns
        .chunks(GENES_PER_SLAB)
        .map(|c| units.column_set(c.to_vec()))
        .collect::<Result<Vec<_>>>()?;
    let read = WideRead {
        units,
        genes: plan.genes,
        file: plan.file,
        key_set,
        key_order,
        slab_sets,
    };
    let mut checks = ValueChecks::new();
    let rows = if units.fetch_per_set() {
        read.slab_major(group, sinks, &mut checks, progress)?
    } else {
        read.unit_major(group, sinks, &mut checks, progress)?
    };
    Ok(Ingested { rows, checks })
}

/// The reading of a wide table's units: its key columns and its slabs of expression columns.
struct WideRead<'a> {
    units: &'a dyn TableUnits,
    genes: &'a [String],
    file: &'a str,
    key_set: ColumnSet,
    key_order: Vec<usize>,
    slab_sets: Vec<ColumnSet>,
}

/// Groups unit `index`'s rows (`groups[r]`: row r's group) and hands them to every sink's
/// `add_rows`, before any value is read: both wide reading orders start a unit this way.
fn announce_rows(
    sinks: &mut [&mut dyn SplitSink],
    index: usize,
    first_row: u64,
    groups: &[u32],
) -> GroupedRows {
    let rows = GroupedRows::new(groups);
    let batch = BatchRows {
        index,
        first_row,
        rows: &rows,
    };
    for sink in sinks.iter_mut() {
        sink.add_rows(&batch);
    }
    rows
}

/// The parts of every sink for each slab: `slabs[s][i]` is sink i's part of slab s.
fn split_all<'s>(
    sinks: &'s mut [&mut dyn SplitSink],
    n_slabs: usize,
) -> Vec<Vec<Box<dyn SinkPart + 's>>> {
    let mut slabs: Vec<Vec<Box<dyn SinkPart + 's>>> = (0..n_slabs).map(|_| Vec::new()).collect();
    for sink in sinks.iter_mut() {
        let parts = sink.split();
        assert_eq!(
            parts.len(),
            n_slabs,
            "a sink split into slabs of another size"
        );
        for (slab, part) in slabs.iter_mut().zip(parts) {
            slab.push(part);
        }
    }
    slabs
}

impl WideRead<'_> {
    /// The groups of unit `u`'s rows (fetching its key columns).
    fn group_unit(
        &self,
        u: usize,
        data: Option<&UnitData>,
        group: &mut Grouping<'_>,
        first_row: u64,
    ) -> Result<Vec<u32>> {
        let batch = match data {
            Some(data) => self.units.decode(u, data, &self.key_set)?,
            None => {
                let data = self.units.fetch(u, &[&self.key_set])?;
                self.units.decode(u, &data, &self.key_set)?
            }
        };
        let keys = batch.project(&self.key_order).expect("key columns decoded");
        group(&keys, first_row)
    }

    /// Decodes unit `u`'s columns of `set` (fetched now when `data` is `None`) and hands them
    /// to `parts`, then checks them; the unit's rows are `batch`.
    fn add(
        &self,
        parts: &mut [Box<dyn SinkPart + '_>],
        set: &ColumnSet,
        first_gene: usize,
        data: Option<&UnitData>,
        batch: &BatchRows<'_>,
    ) -> Result<ValueChecks> {
        let u = batch.index;
        let decoded = match data {
            Some(data) => self.units.decode(u, data, set)?,
            None => self.units.decode(u, &self.units.fetch(u, &[set])?, set)?,
        };
        let n = batch.rows.n_rows();
        if decoded.num_rows() != n {
            return Err(Error::in_file(
                self.file,
                format!(
                    "expression columns have {} rows where the labels have {n}",
                    decoded.num_rows()
                ),
                "the file may be damaged: export it again",
            ));
        }
        let n_genes = set.columns().len();
        let slab_layout = ExpressionLayout::Wide {
            columns: (0..n_genes).collect(),
        };
        let expr = ExpressionArrays::from_batch(
            &decoded,
            &slab_layout,
            &self.genes[first_gene..first_gene + n_genes],
            self.file,
            batch.first_row,
        )?;
        let view = expr.view();
        for part in parts.iter_mut() {
            part.add_values(batch, &view);
        }
        Ok(view.check(
            &[true; GENES_PER_SLAB][..n_genes],
            batch.first_row,
            first_gene,
        ))
    }

    /// Sources any thread may read (native Parquet, mapped IPC files): the groups of every
    /// row first (4 bytes per cell, as [`GroupedRows`]), then each slab task reads its columns
    /// unit after unit. A slab's share of the sinks stays in cache for the whole file instead
    /// of the whole store streaming through memory once per unit, and the number of groups is
    /// known before it is allocated.
    fn slab_major(
        &self,
        group: &mut Grouping<'_>,
        sinks: &mut [&mut dyn SplitSink],
        checks: &mut ValueChecks,
        progress: &mut dyn FnMut(f64),
    ) -> Result<u64> {
        // Share of the progress bar for the labels pass.
        const LABELS_SHARE: f64 = 0.05;
        let n_units = self.units.len();
        let mut row = 0u64;
        let mut unit_rows: Vec<(u64, GroupedRows)> = Vec::with_capacity(n_units);
        for u in 0..n_units {
            let groups = self.group_unit(u, None, group, row)?;
            let rows = announce_rows(sinks, u, row, &groups);
            unit_rows.push((row, rows));
            row += groups.len() as u64;
            progress(LABELS_SHARE * (u + 1) as f64 / n_units as f64);
        }
        let n_slabs = self.slab_sets.len();
        let mut slabs: Vec<SlabWork<'_, '_>> = split_all(sinks, n_slabs)
            .into_iter()
            .zip(&self.slab_sets)
            .enumerate()
            .map(|(s, (parts, set))| (parts, set, s * GENES_PER_SLAB))
            .collect();
        // Slabs run in waves of a few per thread, so that progress is reported as they finish.
        let wave = 4 * rayon::current_num_threads().max(1);
        for (w, chunk) in slabs.chunks_mut(wave).enumerate() {
            let wave_checks = chunk
                .par_iter_mut()
                .map(|(parts, set, first_gene)| -> Result<ValueChecks> {
                    let mut checks = ValueChecks::new();
                    for (u, (first_row, rows)) in unit_rows.iter().enumerate() {
                        if rows.n_rows() > 0 {
                            let batch = BatchRows {
                                index: u,
                                first_row: *first_row,
                                rows,
                            };
                            let c = self.add(parts, set, *first_gene, None, &batch)?;
                            checks = checks.merge(c);
                        }
                    }
                    Ok(checks)
                })
                .try_reduce(ValueChecks::new, |a, b| Ok(a.merge(b)))?;
            *checks = std::mem::take(checks).merge(wave_checks);
            let done = ((w + 1) * wave).min(n_slabs);
            progress(LABELS_SHARE + (1.0 - LABELS_SHARE) * done as f64 / n_slabs.max(1) as f64);
        }
        Ok(row)
    }

    /// Sources read unit by unit (IPC record batches held in memory; browser files, which one
    /// thread reads): each unit is fetched once, then its slabs are decoded and added in
    /// parallel.
    fn unit_major(
        &self,
        group: &mut Grouping<'_>,
        sinks: &mut [&mut dyn SplitSink],
        checks: &mut ValueChecks,
        progress: &mut dyn FnMut(f64),
    ) -> Result<u64> {
        let mut sets: Vec<&ColumnSet> = vec![&self.key_set];
        sets.extend(self.slab_sets.iter());
        let n_units = self.units.len();
        let n_slabs = self.slab_sets.len();
        let mut row = 0u64;
        for u in 0..n_units {
            let data = self.units.fetch(u, &sets)?;
            let groups = self.group_unit(u, Some(&data), group, row)?;
            if groups.is_empty() {
                continue;
            }
            let rows = announce_rows(sinks, u, row, &groups);
            let batch = BatchRows {
                index: u,
                first_row: row,
                rows: &rows,
            };
            let unit_checks = split_all(sinks, n_slabs)
                .into_par_iter()
                .zip(self.slab_sets.par_iter())
                .enumerate()
                .map(|(s, (mut parts, set))| {
                    self.add(&mut parts, set, s * GENES_PER_SLAB, Some(&data), &batch)
                })
                .try_reduce(ValueChecks::new, |a, b| Ok(a.merge(b)))?;
            *checks = std::mem::take(checks).merge(unit_checks);
            row += groups.len() as u64;
            progress((u + 1) as f64 / n_units as f64);
        }
        Ok(row)
    }
}
