//! Reading the observed-cells table into per-context [`Dataset`]s, streaming batch by batch.
//! Memory is O(labels × genes) plus one batch; labels, halves and folds are validated on the way.

use super::accumulate::{
    Accumulator, ExpressionArrays, ExpressionView, GroupedRows, SlabMut, ValueChecks,
};
use super::columns::{for_each_str, int_column, Interner};
use super::format::{Format, Table};
use super::layout::{locate, ColumnNames, ExpressionLayout, TableRole};
use super::source::SharedSource;
use super::units::{ColumnSet, UnitData, Units};
use crate::data::Dataset;
use crate::design;
use crate::error::{Error, Location, Result};
use rayon::prelude::*;
use std::collections::HashMap;

/// Values above this, with every value an integer, mean the file holds raw counts.
pub const RAW_COUNT_MAX: f64 = 30.0;

/// Options for reading cells.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CellOptions {
    /// Column names.
    pub columns: ColumnNames,
    /// Control label; `None` = the first of [`design::DEFAULT_CONTROL_LABELS`] present.
    pub control_label: Option<String>,
    /// Apply normalize_total(1e4) + log1p to every cell (for raw counts).
    pub normalize: bool,
    /// Seed for assigning halves and folds when the file has none.
    pub seed: u64,
    /// Rows per batch when reading Parquet.
    pub batch_rows: usize,
}

impl Default for CellOptions {
    fn default() -> Self {
        CellOptions {
            columns: ColumnNames::default(),
            control_label: None,
            normalize: false,
            seed: design::DEFAULT_SEED,
            batch_rows: 8192,
        }
    }
}

/// One context's data (the whole file when there is no context column).
#[derive(Debug, Clone)]
pub struct ContextData {
    /// Context value (e.g. a cell line), `None` without a context column.
    pub context: Option<String>,
    /// Its dataset.
    pub dataset: Dataset,
}

/// Everything read from the cells file.
#[derive(Debug, Clone)]
pub struct ObservedCells {
    /// The file's display name.
    pub file: String,
    /// Its format.
    pub format: Format,
    /// Its expression layout name.
    pub layout: &'static str,
    /// Genes in file order.
    pub genes: Vec<String>,
    /// The control label used.
    pub control_label: String,
    /// Per-context datasets, sorted by context. [`crate::pipeline::evaluate`] moves them into its
    /// per-context results, leaving this empty in an [`crate::pipeline::Evaluation`].
    pub contexts: Vec<ContextData>,
    /// Rows read.
    pub n_cells: u64,
    /// Halves were assigned by calibra (no half column).
    pub halves_assigned: bool,
    /// Folds were assigned by calibra (no fold column).
    pub folds_assigned: bool,
    /// Cells were normalised (normalize_total + log1p).
    pub normalized: bool,
    /// Non-fatal findings, for the report.
    pub warnings: Vec<String>,
}

/// (context, label) pairs seen, with dense ids.
#[derive(Default)]
struct Labels {
    contexts: Interner,
    per_context: Vec<Interner>,
    global: HashMap<(u32, u32), u32>,
    key_of: Vec<(u32, u32)>,
}

impl Labels {
    fn id(&mut self, ctx: u32, label: &str) -> u32 {
        while self.per_context.len() <= ctx as usize {
            self.per_context.push(Interner::default());
        }
        let local = self.per_context[ctx as usize].intern(label);
        let next = self.key_of.len() as u32;
        let id = *self.global.entry((ctx, local)).or_insert(next);
        if id == next {
            self.key_of.push((ctx, local));
        }
        id
    }

    fn name(&self, id: u32) -> (&str, &str) {
        let (c, l) = self.key_of[id as usize];
        let ctx = self
            .contexts
            .names()
            .get(c as usize)
            .map(|s| s.as_str())
            .unwrap_or("");
        (
            ctx,
            self.per_context[c as usize].names()[l as usize].as_str(),
        )
    }

    /// Every distinct label of every context, sorted.
    fn all_labels(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .per_context
            .iter()
            .flat_map(|i| i.names().iter().map(|s| s.as_str()))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Label ids of each row of a batch.
    fn batch_ids(
        &mut self,
        batch: &arrow::record_batch::RecordBatch,
        label_col: usize,
        context_col: Option<usize>,
        file: &str,
        first_row: u64,
    ) -> Result<Vec<u32>> {
        let n = batch.num_rows();
        let schema = batch.schema();
        let mut ctx = vec![0u32; n];
        if let Some(c) = context_col {
            let name = schema.field(c).name().clone();
            for_each_str(batch.column(c), file, &name, first_row, |i, s| {
                ctx[i] = self.contexts.intern(s);
                Ok(())
            })?;
        } else if self.contexts.names().is_empty() {
            self.contexts.intern("");
        }
        let mut ids = vec![0u32; n];
        let name = schema.field(label_col).name().clone();
        for_each_str(batch.column(label_col), file, &name, first_row, |i, s| {
            if s.is_empty() {
                return Err(Error::input(
                    Location {
                        file: Some(file.into()),
                        column: Some(name.clone()),
                        row: Some(first_row + i as u64),
                        ..Default::default()
                    },
                    "empty perturbation label",
                    "give every cell a label (controls included)",
                ));
            }
            ids[i] = self.id(ctx[i], s);
            Ok(())
        })?;
        Ok(ids)
    }
}

/// Reads the cells table (SPEC §1.1, §1.3, §1.4, §2). `progress` receives fractions 0..1.
pub fn read_cells(
    source: SharedSource,
    opts: &CellOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<ObservedCells> {
    let table = Table::open(source)?;
    let file = table.name().to_string();
    let layout = locate(&file, &table.schema, &opts.columns, TableRole::Cells)?;
    let mut labels = Labels::default();

    // Without a half column, halves depend on each label's cell count: count labels first.
    let half_masks = if layout.half.is_none() {
        let mut cols = vec![layout.label];
        cols.extend(layout.context);
        cols.sort_unstable();
        let mut counts: Vec<u64> = Vec::new();
        let mut row = 0u64;
        for item in table.batches(Some(&cols), opts.batch_rows)? {
            let (batch, _) = item?;
            // Projected batch: columns in schema order.
            let li = cols
                .iter()
                .position(|&c| c == layout.label)
                .expect("label projected");
            let ci = layout.context.map(|c| {
                cols.iter()
                    .position(|&x| x == c)
                    .expect("context projected")
            });
            let ids = labels.batch_ids(&batch, li, ci, &file, row)?;
            for id in ids {
                if id as usize >= counts.len() {
                    counts.resize(id as usize + 1, 0);
                }
                counts[id as usize] += 1;
            }
            row += batch.num_rows() as u64;
        }
        Some(assign_halves(&labels, &counts, opts.seed))
    } else {
        None
    };

    let mut acc = Accumulator::new(layout.genes.len());
    let mut grouper = RowGrouper {
        file: file.clone(),
        labels,
        half_masks,
        seen_in_label: Vec::new(),
        fold_of: Vec::new(),
    };
    let mut checks = ValueChecks::new();
    let wide_columns = match &layout.expression {
        ExpressionLayout::Wide { columns } if !opts.normalize => Some(columns.clone()),
        _ => None,
    };
    let units = match &wide_columns {
        Some(c) if c.windows(2).all(|w| w[0] < w[1]) => Units::of(&table)?,
        _ => None,
    };
    let row = if let (Some(units), Some(columns)) = (units, wide_columns) {
        read_wide_units(
            &units,
            &columns,
            &layout,
            &mut grouper,
            &mut acc,
            &mut checks,
            progress,
        )?
    } else {
        let gene_of: Vec<Option<usize>> = (0..layout.genes.len()).map(Some).collect();
        let meta = MetaColumns {
            label: layout.label,
            half: layout.half,
            fold: layout.fold,
            context: layout.context,
        };
        let mut row = 0u64;
        for item in table.batches(None, opts.batch_rows)? {
            let (batch, frac) = item?;
            let n = batch.num_rows();
            let groups = grouper.group_rows(&batch, &meta, row)?;
            let mut expr = ExpressionArrays::from_batch(
                &batch,
                &layout.expression,
                &layout.genes,
                &file,
                row,
            )?;
            if opts.normalize {
                expr.normalize_rows();
            }
            checks = checks.merge(acc.add(&groups, &expr.view(), &gene_of, row));
            row += n as u64;
            progress(frac);
        }
        row
    };
    let RowGrouper {
        labels, fold_of, ..
    } = grouper;
    if row == 0 {
        return Err(Error::in_file(
            &file,
            "the table has no rows",
            "export the cells again",
        ));
    }
    validate_values(&file, &layout.genes, &checks, opts.normalize)?;

    let control_label =
        design::choose_control(&file, &labels.all_labels(), opts.control_label.as_deref())?;
    let mut warnings = Vec::new();
    let contexts = build_contexts(
        &file,
        &labels,
        acc,
        &fold_of,
        &control_label,
        layout.genes.clone(),
        opts.seed,
        &mut warnings,
    )?;
    Ok(ObservedCells {
        file,
        format: table.format,
        layout: layout.expression.as_str(),
        genes: layout.genes,
        control_label,
        contexts,
        n_cells: row,
        halves_assigned: layout.half.is_none(),
        folds_assigned: layout.fold.is_none(),
        normalized: opts.normalize,
        warnings,
    })
}

/// Genes per parallel slab when decoding wide tables: one accumulator block (enough work
/// per task, small decoded arrays of rows × 64 values, many tasks to balance two or more
/// threads). A slab's share of the accumulator (64 genes × groups × Σx, Σx²: 4 MB for 4000
/// groups) stays in cache while [`read_slab_major`] adds every unit to it.
const GENES_PER_SLAB: usize = super::accumulate::GENES_PER_BLOCK;

/// Wide tables with an index of units (Parquet row groups, IPC file batches): the
/// label/half/fold columns are decoded first, then the expression columns in parallel slabs,
/// each slab accumulated into its own genes. Returns the number of rows read.
fn read_wide_units(
    units: &Units,
    columns: &[usize],
    layout: &super::layout::TableLayout,
    grouper: &mut RowGrouper,
    acc: &mut Accumulator,
    checks: &mut ValueChecks,
    progress: &mut dyn FnMut(f64),
) -> Result<u64> {
    let mut meta_cols = vec![layout.label];
    meta_cols.extend(layout.half);
    meta_cols.extend(layout.fold);
    meta_cols.extend(layout.context);
    let meta_set = units.column_set(&meta_cols)?;
    let at = |c: Option<usize>| {
        c.map(|c| {
            meta_set
                .columns()
                .iter()
                .position(|&x| x == c)
                .expect("projected")
        })
    };
    let meta = MetaColumns {
        label: at(Some(layout.label)).expect("label projected"),
        half: at(layout.half),
        fold: at(layout.fold),
        context: at(layout.context),
    };
    let slab_sets = columns
        .chunks(GENES_PER_SLAB)
        .map(|c| units.column_set(c))
        .collect::<Result<Vec<_>>>()?;
    let read = WideRead {
        units,
        genes: &layout.genes,
        file: grouper.file.clone(),
        meta_set,
        meta,
        slab_sets,
    };
    if units.fetch_per_set() {
        read.slab_major(grouper, acc, checks, progress)
    } else {
        read.unit_major(grouper, acc, checks, progress)
    }
}

/// The reading of a wide table's units: its label/half/fold columns and its slabs of
/// expression columns.
struct WideRead<'a> {
    units: &'a Units,
    genes: &'a [String],
    file: String,
    meta_set: ColumnSet,
    meta: MetaColumns,
    slab_sets: Vec<ColumnSet>,
}

impl WideRead<'_> {
    /// Adds unit `u`'s columns of `set` (fetched now when `data` is `None`) to `slab`; the
    /// unit's rows are grouped by `rows` and start at row `first_row`.
    fn add(
        &self,
        slab: &mut SlabMut<'_>,
        set: &ColumnSet,
        u: usize,
        data: Option<&UnitData>,
        rows: &GroupedRows,
        first_row: u64,
    ) -> Result<ValueChecks> {
        let batch = match data {
            Some(data) => self.units.decode(u, data, set)?,
            None => self.units.decode(u, &self.units.fetch(u, &[set])?, set)?,
        };
        let n = rows.n_rows();
        if batch.num_rows() != n {
            return Err(Error::in_file(
                &self.file,
                format!(
                    "expression columns have {} rows where the labels have {n}",
                    batch.num_rows()
                ),
                "the file may be damaged: export it again",
            ));
        }
        let g0 = slab.first_gene();
        let slab_layout = ExpressionLayout::Wide {
            columns: (0..slab.n_genes()).collect(),
        };
        let expr = ExpressionArrays::from_batch(
            &batch,
            &slab_layout,
            &self.genes[g0..g0 + slab.n_genes()],
            &self.file,
            first_row,
        )?;
        let ExpressionView::Wide(cols) = expr.view() else {
            unreachable!("wide layout")
        };
        Ok(slab.add_columns(rows, &cols, first_row))
    }

    /// Sources any thread may read (native Parquet, mapped IPC files): the groups of every
    /// row first (4 bytes per cell, as [`GroupedRows`]), then each slab task reads its columns
    /// unit after unit. A slab's share of the accumulator stays in cache for the whole file
    /// instead of the whole accumulator streaming through memory once per unit, and the
    /// number of groups is known before it is allocated.
    fn slab_major(
        &self,
        grouper: &mut RowGrouper,
        acc: &mut Accumulator,
        checks: &mut ValueChecks,
        progress: &mut dyn FnMut(f64),
    ) -> Result<u64> {
        // Share of the progress bar for the labels pass.
        const LABELS_SHARE: f64 = 0.05;
        let (units, meta_set, meta) = (self.units, &self.meta_set, &self.meta);
        let n_units = units.len();
        let mut row = 0u64;
        let mut unit_rows: Vec<(u64, GroupedRows)> = Vec::with_capacity(n_units);
        for u in 0..n_units {
            let data = units.fetch(u, &[meta_set])?;
            let meta_batch = units.decode(u, &data, meta_set)?;
            let groups = grouper.group_rows(&meta_batch, meta, row)?;
            acc.count_rows(&groups);
            unit_rows.push((row, GroupedRows::new(&groups)));
            row += meta_batch.num_rows() as u64;
            progress(LABELS_SHARE * (u + 1) as f64 / n_units as f64);
        }
        let mut slabs: Vec<(SlabMut<'_>, &ColumnSet)> =
            acc.slabs_mut().zip(&self.slab_sets).collect();
        // Slabs run in waves of a few per thread, so that progress is reported as they finish.
        let wave = 4 * rayon::current_num_threads().max(1);
        let n_slabs = slabs.len();
        for (w, chunk) in slabs.chunks_mut(wave).enumerate() {
            let wave_checks = chunk
                .par_iter_mut()
                .map(|(slab, set)| -> Result<ValueChecks> {
                    let mut checks = ValueChecks::new();
                    for (u, (first_row, rows)) in unit_rows.iter().enumerate() {
                        if rows.n_rows() > 0 {
                            let c = self.add(slab, set, u, None, rows, *first_row)?;
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
        grouper: &mut RowGrouper,
        acc: &mut Accumulator,
        checks: &mut ValueChecks,
        progress: &mut dyn FnMut(f64),
    ) -> Result<u64> {
        let (units, meta_set, meta) = (self.units, &self.meta_set, &self.meta);
        let mut sets: Vec<&ColumnSet> = vec![meta_set];
        sets.extend(self.slab_sets.iter());
        let n_units = units.len();
        let mut row = 0u64;
        for u in 0..n_units {
            let data = units.fetch(u, &sets)?;
            let meta_batch = units.decode(u, &data, meta_set)?;
            if meta_batch.num_rows() == 0 {
                continue;
            }
            let groups = grouper.group_rows(&meta_batch, meta, row)?;
            acc.count_rows(&groups);
            let rows = GroupedRows::new(&groups);
            let unit_checks = acc
                .slabs_mut()
                .zip(self.slab_sets.par_iter())
                .map(|(mut slab, set)| self.add(&mut slab, set, u, Some(&data), &rows, row))
                .try_reduce(ValueChecks::new, |a, b| Ok(a.merge(b)))?;
            *checks = std::mem::take(checks).merge(unit_checks);
            row += groups.len() as u64;
            progress((u + 1) as f64 / n_units as f64);
        }
        Ok(row)
    }
}

/// Positions of the label, half, fold and context columns in a batch.
struct MetaColumns {
    label: usize,
    half: Option<usize>,
    fold: Option<usize>,
    context: Option<usize>,
}

/// Turns each row's label, half and context into its accumulator group (2·label id + half),
/// checking halves and folds on the way.
struct RowGrouper {
    file: String,
    labels: Labels,
    /// Per label, GT/TD of its cells in file order (when halves are assigned by calibra).
    half_masks: Option<Vec<Vec<bool>>>,
    seen_in_label: Vec<usize>,
    /// Fold per label id, with the first row that gave it.
    fold_of: Vec<Option<(i64, u64)>>,
}

impl RowGrouper {
    fn group_rows(
        &mut self,
        batch: &arrow::record_batch::RecordBatch,
        meta: &MetaColumns,
        row: u64,
    ) -> Result<Vec<u32>> {
        let file = self.file.clone();
        let n = batch.num_rows();
        let ids = self
            .labels
            .batch_ids(batch, meta.label, meta.context, &file, row)?;
        let mut groups = vec![0u32; n];
        if let Some(hc) = meta.half {
            let name = batch.schema().field(hc).name().clone();
            for_each_str(batch.column(hc), &file, &name, row, |i, s| {
                let h = match s {
                    "gt" => 0,
                    "td" => 1,
                    other => {
                        return Err(Error::input(
                            Location { file: Some(file.clone()), column: Some(name.clone()), row: Some(row + i as u64), ..Default::default() },
                            format!("half value '{other}' is neither 'gt' nor 'td'"),
                            "use 'gt' (ground-truth half) and 'td' (technical duplicate), or drop the column to let calibra assign halves",
                        ))
                    }
                };
                groups[i] = 2 * ids[i] + h;
                Ok(())
            })?;
        } else {
            let masks = self
                .half_masks
                .as_ref()
                .expect("computed when the half column is absent");
            for (i, &id) in ids.iter().enumerate() {
                let id = id as usize;
                if self.seen_in_label.len() <= id {
                    self.seen_in_label.resize(id + 1, 0);
                }
                let gt = masks[id][self.seen_in_label[id]];
                self.seen_in_label[id] += 1;
                groups[i] = 2 * id as u32 + if gt { 0 } else { 1 };
            }
        }
        if let Some(fc) = meta.fold {
            let name = batch.schema().field(fc).name().clone();
            let folds = int_column(batch.column(fc), &file, &name, row)?;
            for (i, (&id, &f)) in ids.iter().zip(&folds).enumerate() {
                let id = id as usize;
                if self.fold_of.len() <= id {
                    self.fold_of.resize(id + 1, None);
                }
                match self.fold_of[id] {
                    None => self.fold_of[id] = Some((f, row + i as u64)),
                    Some((f0, r0)) if f0 != f => {
                        return Err(Error::input(
                            Location {
                                file: Some(file.clone()),
                                column: Some(name.clone()),
                                row: Some(row + i as u64),
                                ..Default::default()
                            },
                            format!(
                                "perturbation '{}' has fold {f0} at row {r0} but fold {f} here",
                                self.labels.name(id as u32).1
                            ),
                            "a perturbation's cells must all have the same fold",
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(groups)
    }
}

fn validate_values(file: &str, genes: &[String], c: &ValueChecks, normalized: bool) -> Result<()> {
    let at = |row: u64, gene: usize| Location {
        file: Some(file.into()),
        row: Some(row),
        gene: genes.get(gene).cloned(),
        ..Default::default()
    };
    if let Some((row, gene)) = c.first_non_finite {
        return Err(Error::input(
            at(row, gene),
            format!(
                "{} non-finite expression value(s) (NaN or Inf); this is the first",
                c.non_finite
            ),
            "remove or fix the cells with missing / infinite values",
        ));
    }
    if let Some((row, gene, x)) = c.first_negative {
        return Err(Error::input(
            at(row, gene),
            format!("{} negative expression value(s); this is the first ({x})", c.negative),
            "calibra expects log1p(CP10k)-normalised expression (≥ 0); do not pass scaled / centred data",
        ));
    }
    if !normalized && c.all_integer && c.max > RAW_COUNT_MAX {
        return Err(Error::in_file(
            file,
            format!(
                "the values look like raw counts (all integers, max {})",
                c.max
            ),
            "pass --normalize to apply normalize_total(1e4) + log1p, or give log-normalised data",
        ));
    }
    Ok(())
}

/// The GT/TD masks of every label id, from its number of cells ([`design::assign_halves`]).
fn assign_halves(labels: &Labels, counts: &[u64], seed: u64) -> Vec<Vec<bool>> {
    let keys: Vec<(&str, &str)> = (0..counts.len() as u32).map(|id| labels.name(id)).collect();
    design::assign_halves(&keys, counts, seed)
}

/// Per-context datasets: each context's labels sorted, their accumulator rows gathered in one
/// pass that frees the accumulator, and the design (control, folds) applied.
#[allow(clippy::too_many_arguments)]
fn build_contexts(
    file: &str,
    labels: &Labels,
    acc: Accumulator,
    fold_of: &[Option<(i64, u64)>],
    control_label: &str,
    genes: Vec<String>,
    seed: u64,
    warnings: &mut Vec<String>,
) -> Result<Vec<ContextData>> {
    let has_context =
        !(labels.contexts.names().len() == 1 && labels.contexts.names()[0].is_empty());
    let mut ctx_order: Vec<u32> = (0..labels.contexts.names().len() as u32).collect();
    ctx_order.sort_by(|&a, &b| {
        labels.contexts.names()[a as usize].cmp(&labels.contexts.names()[b as usize])
    });
    // Each context's labels (sorted), control and accumulator rows; then every context's
    // statistics in one pass that frees the accumulator.
    struct Part<'l> {
        ctx_name: String,
        names: Vec<&'l str>,
        control: usize,
        gid: Vec<usize>,
        order: Vec<Option<usize>>,
    }
    let mut parts = Vec::new();
    for c in ctx_order {
        let ctx_name = labels.contexts.names()[c as usize].clone();
        let Some(interner) = labels.per_context.get(c as usize) else {
            continue;
        };
        let mut names: Vec<&str> = interner.names().iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        let control = design::context_control(file, &ctx_name, &names, control_label)?;
        let gid: Vec<usize> = names
            .iter()
            .map(|l| labels.global[&(c, interner.get(l).expect("interned"))] as usize)
            .collect();
        let order: Vec<Option<usize>> = gid
            .iter()
            .flat_map(|&g| [Some(2 * g), Some(2 * g + 1)])
            .collect();
        parts.push(Part {
            ctx_name,
            names,
            control,
            gid,
            order,
        });
    }
    let orders: Vec<&[Option<usize>]> = parts.iter().map(|p| p.order.as_slice()).collect();
    let all_stats = acc.into_group_stats_many(&orders);
    let mut out = Vec::new();
    for (part, stats) in parts.iter().zip(all_stats) {
        let file_folds: Option<Vec<Option<i64>>> = (!fold_of.is_empty()).then(|| {
            part.gid
                .iter()
                .map(|&g| fold_of.get(g).copied().flatten().map(|f| f.0))
                .collect()
        });
        let folds = design::context_folds(&part.names, part.control, file_folds.as_deref(), seed);
        let context = has_context.then_some(part.ctx_name.as_str());
        let dataset = design::context_dataset(
            context,
            genes.clone(),
            &part.names,
            part.control,
            folds,
            stats,
            warnings,
        );
        out.push(ContextData {
            context: context.map(str::to_string),
            dataset,
        });
    }
    Ok(out)
}
