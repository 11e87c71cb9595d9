//! Reading the observed-cells table into per-context [`Dataset`](crate::Dataset)s: the table is
//! ingested into one [`Accumulator`] (Σx, Σx² per label half and gene), then split into
//! contexts by the design rules ([`crate::design`]). Memory is O(labels × genes) plus one
//! batch; labels, halves and folds are validated on the way.

use super::groups::{cell_key_parts, Labels, MetaColumns, RowGrouper};
use super::ingest::{
    ingest_batches, ingest_gene_blocks, ingest_wide_units, BatchSink, Plan, SplitSink,
};
use super::layout::values::validate_values;
use super::layout::{locate, ColumnNames, ExpressionLayout, TableLayout, TableRole};
use super::sinks::samples::attach_counts;
use super::sinks::{Accumulator, CellSampler, GroupSample};
use super::source::SharedSource;
use super::table::{Format, ReadOptions, Table};
use crate::data::{Dataset, FOLD_HELD_OUT, FOLD_TRAIN};
use crate::design::{self, LabelsByContext, Split, SplitTable};
use crate::error::{preview, Error, Result};
use arrow::record_batch::RecordBatch;
use std::collections::{BTreeMap, BTreeSet};

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
    /// What to read from a file holding several matrices (h5ad).
    #[serde(skip_serializing_if = "ReadOptions::is_default")]
    pub read: ReadOptions,
    /// Keep a seeded sample of at most this many cells per (context, label, half) for the
    /// cell-level metrics (SPEC §12.1); `None`: no sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cells: Option<usize>,
    /// With [`CellOptions::max_cells`]: also keep the sampled cells' values as read (raw
    /// counts, before [`CellOptions::normalize`]), for cell-eval2's counts path.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keep_counts: bool,
}

impl Default for CellOptions {
    fn default() -> Self {
        CellOptions {
            columns: ColumnNames::default(),
            control_label: None,
            normalize: false,
            seed: design::DEFAULT_SEED,
            batch_rows: 8192,
            read: ReadOptions::default(),
            max_cells: None,
            keep_counts: false,
        }
    }
}

/// Called once the labels of a cells table are known and before its statistics are allocated,
/// with (labels over every context, genes): fails when the evaluation cannot fit its memory
/// ([`crate::budget`]).
pub type BudgetCheck<'a> = &'a dyn Fn(usize, usize) -> Result<()>;

/// One context's data (the whole file when there is no context column).
#[derive(Debug, Clone)]
pub struct ContextData {
    /// Context value (e.g. a cell line), `None` without a context column.
    pub context: Option<String>,
    /// Its dataset.
    pub dataset: Dataset,
    /// Seeded cell samples per label (the dataset's label order) and half, when asked for.
    pub samples: Option<LabelSamples>,
}

/// Each label's cell samples, `[GT, TD]` (SPEC §12.1), in a dataset's label order.
#[derive(Debug, Clone, Default)]
pub struct LabelSamples {
    /// `halves[label][half as usize]`.
    pub halves: Vec<[GroupSample; 2]>,
}

impl LabelSamples {
    /// The sample of a label's half.
    pub fn get(&self, label: usize, half: crate::data::Half) -> &GroupSample {
        &self.halves[label][half as usize]
    }

    /// The samples restricted to some genes (in the given order).
    pub fn select_genes(&self, keep: &[usize]) -> LabelSamples {
        LabelSamples {
            halves: self
                .halves
                .iter()
                .map(|[a, b]| [a.select_genes(keep), b.select_genes(keep)])
                .collect(),
        }
    }
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
    /// Folds were assigned by calibra (no fold column, no split).
    pub folds_assigned: bool,
    /// Where the train / val / test split came from, when the evaluation uses one instead of
    /// folds (SPEC §12.5).
    pub split: Option<SplitSource>,
    /// Cells were normalised (normalize_total + log1p).
    pub normalized: bool,
    /// Non-fatal findings, for the report.
    pub warnings: Vec<String>,
}

/// The origin of a user split, for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SplitSource {
    /// `column 'split'` or the split file's name.
    pub from: String,
    /// The `calibra split` task that made the file, when it says.
    pub task: Option<String>,
    /// Perturbations (per context) on each side.
    pub perturbations: BTreeMap<Split, usize>,
}

/// Reads the cells table (SPEC §1.1, §1.3, §1.4, §2); `split`, when given, replaces the file's
/// folds (SPEC §12.5). `progress` receives fractions 0..1. A sufficient-statistics table
/// (SPEC §12.6, [`super::stats_table`]) is read as the cells it sums.
pub fn read_cells(
    source: SharedSource,
    opts: &CellOptions,
    split: Option<&SplitTable>,
    budget: Option<BudgetCheck<'_>>,
    progress: &mut dyn FnMut(f64),
) -> Result<ObservedCells> {
    let table = Table::open(source, &opts.read)?;
    let sums = if super::stats_table::is_stats_table(&table.schema) {
        super::stats_table::read_sums(vec![vec![table]], opts, progress)?
    } else {
        sum_cells(table, opts, budget, None, progress)?
    };
    assemble(sums, opts, split)
}

/// A cells table summed per (context, label, half): what the design turns into datasets, and
/// what a sufficient-statistics table holds.
pub struct CellSums {
    /// The file's display name.
    pub file: String,
    /// Its format.
    pub format: Format,
    /// Its expression layout name (`statistics` for a statistics table).
    pub layout: &'static str,
    /// Genes in file order.
    pub genes: Vec<String>,
    /// (context, label) ids; group `2·id + half` of `sums`.
    pub labels: Labels,
    /// n, Σx, Σx² per group and gene.
    pub sums: Accumulator,
    /// Seeded cell samples per group, when asked for.
    pub samples: Option<Vec<GroupSample>>,
    /// Fold per label id (with the first row that gave it), from a fold or split column.
    pub fold_of: Vec<Option<(i64, u64)>>,
    /// The file's fold column, if any.
    pub fold_column: Option<String>,
    /// The file's split column, if any (its values are folds in `fold_of`).
    pub split_column: Option<String>,
    /// Rows (cells) read.
    pub rows: u64,
    /// Halves were assigned by calibra (no half column).
    pub halves_assigned: bool,
    /// Cells were normalised (normalize_total + log1p).
    pub normalized: bool,
}

/// Streams a cells table into per-group sums (and samples when asked). With `rows`, only the
/// cells of that row range are summed — halves still assigned over the whole file, so that the
/// sums of disjoint ranges add up to the whole file's ([`super::stats_table`]).
pub fn sum_cells(
    table: Table,
    opts: &CellOptions,
    budget: Option<BudgetCheck<'_>>,
    rows: Option<std::ops::Range<u64>>,
    progress: &mut dyn FnMut(f64),
) -> Result<CellSums> {
    table.check_read_options(&opts.read)?;
    let file = table.name().to_string();
    let layout = locate(&file, &table.schema, &opts.columns, TableRole::Cells)?;
    let mut labels = Labels::new();
    let genes = layout.genes.len();

    // Without a half column, halves depend on each label's cell count: count labels first. A
    // row range needs every label id before the first row (rows outside it go to one more).
    let half_masks = if layout.half.is_none() || rows.is_some() {
        let counts = count_labels(&table, &layout, opts.batch_rows, &mut labels)?;
        if let Some(check) = budget {
            check(counts.len(), genes)?;
        }
        layout
            .half
            .is_none()
            .then(|| assign_halves(&labels, &counts, opts.seed))
    } else {
        // The budget needs the labels before the statistics grow with them: one pass over the
        // label columns — unless the table is a stream (no length, and a second pass would
        // decode it all again): its budget is checked once it is read.
        if let (Some(check), Some(_)) = (budget, table.num_rows) {
            let counts = count_labels(&table, &layout, opts.batch_rows, &mut Labels::new())?;
            check(counts.len(), genes)?;
        }
        None
    };
    let outside = rows.map(|r| (r, 2 * labels.len() as u32));

    let (key_columns, meta) = MetaColumns::project(
        layout.label,
        layout.half,
        layout.fold,
        layout.split,
        layout.context,
    );
    let mut grouper = RowGrouper::new(file.clone(), labels, half_masks, meta);
    grouper.keep_rows = outside;
    let mut acc = Accumulator::new(layout.genes.len());
    let mut sampler = opts.max_cells.map(|max| {
        let gene_of = (0..layout.genes.len()).map(Some).collect();
        CellSampler::new(gene_of, layout.genes.len(), max, opts.seed)
    });
    // The raw-count twin of the sampler (same seed, same rows) when the cells are normalised.
    let mut counts_sampler = opts
        .max_cells
        .filter(|_| opts.keep_counts && opts.normalize)
        .map(|max| {
            let gene_of = (0..layout.genes.len()).map(Some).collect();
            CellSampler::new(gene_of, layout.genes.len(), max, opts.seed).with_counts()
        });
    let checked = vec![true; layout.genes.len()];
    let plan = Plan {
        file: &file,
        layout: &layout.expression,
        genes: &layout.genes,
        checked: &checked,
        normalize: opts.normalize,
    };
    let wide_columns = match &layout.expression {
        ExpressionLayout::Wide { columns } if !opts.normalize => Some(columns.clone()),
        _ => None,
    };
    let units = match &wide_columns {
        Some(c) if c.windows(2).all(|w| w[0] < w[1]) => table.units()?,
        _ => None,
    };
    let mut group = |keys: &RecordBatch, row: u64| grouper.group_rows(keys, row);
    let by_genes = table.gene_blocks()?;
    let read = if let Some(blocks) = by_genes {
        if sampler.is_some() {
            return Err(Error::in_file(
                &file,
                "cell-level metrics need the cells read by rows, and this matrix is stored by genes (CSC)",
                "convert the matrix to CSR or dense (e.g. adata.X = adata.X.tocsr() in Python), or evaluate the calibrated metrics only",
            ));
        }
        ingest_gene_blocks(
            &table,
            blocks.as_ref(),
            &plan,
            opts.batch_rows,
            &key_columns,
            &mut group,
            &mut acc,
            progress,
        )?
    } else if let (Some(units), Some(columns)) = (units, wide_columns) {
        ingest_wide_units(
            units.as_ref(),
            &plan,
            &columns,
            &key_columns,
            &mut group,
            &mut match sampler.as_mut() {
                Some(s) => vec![&mut acc as &mut dyn SplitSink, s],
                None => vec![&mut acc as &mut dyn SplitSink],
            },
            progress,
        )?
    } else {
        ingest_batches(
            &table,
            &plan,
            opts.batch_rows,
            &key_columns,
            &mut group,
            &mut [Some(&mut acc as &mut dyn BatchSink)]
                .into_iter()
                .chain([sampler.as_mut().map(|s| s as &mut dyn BatchSink)])
                .chain([counts_sampler.as_mut().map(|s| s as &mut dyn BatchSink)])
                .flatten()
                .collect::<Vec<_>>(),
            progress,
        )?
    };
    let mut samples = sampler.map(CellSampler::into_samples);
    if let Some(s) = samples.as_mut().filter(|_| opts.keep_counts) {
        match counts_sampler {
            Some(twin) => attach_counts(s, twin.into_samples()),
            // Not normalised: the values are the counts.
            None => s.iter_mut().for_each(|g| g.counts = Some(g.values.clone())),
        }
    }
    let (row, checks) = (read.rows, read.checks);
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
    let column_name = |c: Option<usize>| c.map(|c| table.schema.field(c).name().clone());
    Ok(CellSums {
        layout: if table
            .schema
            .metadata()
            .contains_key(super::long::LONG_LAYOUT_KEY)
        {
            "long"
        } else {
            layout.expression.as_str()
        },
        file,
        format: table.format,
        genes: layout.genes,
        labels,
        sums: acc,
        samples,
        fold_of,
        fold_column: column_name(layout.fold),
        split_column: column_name(layout.split),
        rows: row,
        halves_assigned: layout.half.is_none(),
        normalized: opts.normalize,
    })
}

/// Applies the design to a table's sums: the control, the split or folds, one dataset per
/// context (SPEC §2, §12.5).
pub fn assemble(
    sums: CellSums,
    opts: &CellOptions,
    split: Option<&SplitTable>,
) -> Result<ObservedCells> {
    let CellSums {
        file,
        format,
        layout,
        genes,
        labels,
        sums: acc,
        samples,
        fold_of,
        fold_column,
        split_column,
        rows,
        halves_assigned,
        normalized,
    } = sums;
    let control_label = design::choose_control(
        &file,
        &label_counts(&labels, acc.counts()),
        opts.control_label.as_deref(),
    )?;
    let mut warnings = Vec::new();
    if let Some(t) = split {
        let known: BTreeSet<(&str, &str)> = labels
            .keys()
            .iter()
            .map(|&[c, l]| {
                (
                    labels.part(0).names()[c as usize].as_str(),
                    labels.part(1).names()[l as usize].as_str(),
                )
            })
            .collect();
        t.check_known(&known, &control_label)?;
        if let Some(c) = fold_column.as_ref().or(split_column.as_ref()) {
            warnings.push(format!(
                "the split file {} replaces the cells' '{c}' column",
                t.file,
            ));
        }
    }
    let design = match split {
        Some(t) => Design::SplitFile(t),
        None if split_column.is_some() || fold_column.is_some() => Design::FileFolds,
        None => Design::Assigned,
    };
    let contexts = build_contexts(
        &file,
        &labels,
        acc,
        samples,
        &fold_of,
        design,
        &control_label,
        genes.clone(),
        opts.seed,
        &mut warnings,
    )?;
    let split_source = match (split, &split_column) {
        (Some(t), _) => Some(SplitSource {
            from: t.file.clone(),
            task: t.task.clone(),
            perturbations: side_counts(&contexts),
        }),
        (None, Some(c)) => Some(SplitSource {
            from: format!("column '{c}'"),
            task: None,
            perturbations: side_counts(&contexts),
        }),
        (None, None) => None,
    };
    Ok(ObservedCells {
        file,
        format,
        layout,
        genes,
        control_label,
        contexts,
        n_cells: rows,
        halves_assigned,
        folds_assigned: fold_column.is_none() && split_source.is_none(),
        split: split_source,
        normalized,
        warnings,
    })
}

/// One pass over the label and context columns: each (context, label) gets an id in `labels`;
/// returns the number of cells of each id.
fn count_labels(
    table: &Table,
    layout: &TableLayout,
    batch_rows: usize,
    labels: &mut Labels,
) -> Result<Vec<u64>> {
    let mut cols = vec![layout.label];
    cols.extend(layout.context);
    cols.sort_unstable();
    // Projected batch: columns in schema order.
    let at = |c: usize| cols.iter().position(|&x| x == c).expect("projected");
    let parts = cell_key_parts(layout.context.map(at), at(layout.label));
    let mut counts: Vec<u64> = Vec::new();
    let mut row = 0u64;
    for item in table.batches(Some(&cols), batch_rows)? {
        let (batch, _) = item?;
        let ids = labels.batch_ids(&batch, &parts, table.name(), row)?;
        for id in ids {
            if id as usize >= counts.len() {
                counts.resize(id as usize + 1, 0);
            }
            counts[id as usize] += 1;
        }
        row += batch.num_rows() as u64;
    }
    Ok(counts)
}

/// The labels of a cells table per context, and its control, for `calibra split`: one pass
/// over the label and context columns only.
pub fn read_labels(source: SharedSource, opts: &CellOptions) -> Result<LabelsByContext> {
    let table = Table::open(source, &opts.read)?;
    table.check_read_options(&opts.read)?;
    let file = table.name().to_string();
    let layout = locate(&file, &table.schema, &opts.columns, TableRole::Cells)?;
    let mut labels = Labels::new();
    let counts = count_labels(&table, &layout, opts.batch_rows, &mut labels)?;
    if counts.is_empty() {
        return Err(Error::in_file(
            &file,
            "the table has no rows",
            "export the cells again",
        ));
    }
    // `label_counts` reads groups 2·id and 2·id + 1: put each id's cells in the first.
    let groups: Vec<u64> = counts.iter().flat_map(|&n| [n, 0]).collect();
    let control = design::choose_control(
        &file,
        &label_counts(&labels, &groups),
        opts.control_label.as_deref(),
    )?;
    let mut by_context: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for &[c, l] in labels.keys() {
        by_context
            .entry(labels.part(0).names()[c as usize].clone())
            .or_default()
            .push(labels.part(1).names()[l as usize].clone());
    }
    for ls in by_context.values_mut() {
        ls.sort_unstable();
    }
    Ok(LabelsByContext {
        file,
        control,
        contexts: by_context.into_iter().collect(),
        has_context: layout.context.is_some(),
    })
}

/// Every distinct label of every context with its number of cells, sorted by label;
/// `group_counts` are the accumulator's cells per group (2·label id + half).
fn label_counts<'l>(labels: &'l Labels, group_counts: &[u64]) -> Vec<(&'l str, u64)> {
    let mut n: BTreeMap<&str, u64> = BTreeMap::new();
    for (id, &[_, l]) in labels.keys().iter().enumerate() {
        let cells: u64 = group_counts.iter().skip(2 * id).take(2).sum();
        *n.entry(labels.part(1).names()[l as usize].as_str())
            .or_insert(0) += cells;
    }
    n.into_iter().collect()
}

/// Perturbations (per context, controls excluded) on each side of a user split.
fn side_counts(contexts: &[ContextData]) -> BTreeMap<Split, usize> {
    let mut n = BTreeMap::new();
    for c in contexts {
        let ds = &c.dataset;
        for l in ds.perturbations() {
            let side = match ds.fold_of[l] {
                FOLD_TRAIN => Split::Train,
                FOLD_HELD_OUT => Split::Val,
                _ => Split::Test,
            };
            *n.entry(side).or_insert(0) += 1;
        }
    }
    n
}

/// Where each context's folds come from.
enum Design<'s> {
    /// Assigned by calibra with the seed (SPEC §2).
    Assigned,
    /// The cells' fold column, or its split column turned into folds.
    FileFolds,
    /// A split file.
    SplitFile(&'s SplitTable),
}

/// Moves group `k`'s sample out of `all` (an empty sample when the group had no rows).
fn take_sample(all: &mut [GroupSample], k: usize, n_genes: usize) -> GroupSample {
    all.get_mut(k).map_or_else(
        || GroupSample::empty(n_genes),
        |s| std::mem::replace(s, GroupSample::empty(n_genes)),
    )
}

/// The GT/TD masks of every label id, from its number of cells ([`design::assign_halves`]).
fn assign_halves(labels: &Labels, counts: &[u64], seed: u64) -> Vec<Vec<bool>> {
    let keys: Vec<(&str, &str)> = (0..counts.len() as u32)
        .map(|id| {
            let [context, label] = labels.key(id);
            (context, label)
        })
        .collect();
    design::assign_halves(&keys, counts, seed)
}

/// Per-context datasets: each context's labels sorted, their accumulator rows gathered in one
/// pass that frees the accumulator, and the design (control, folds) applied.
#[allow(clippy::too_many_arguments)]
fn build_contexts(
    file: &str,
    labels: &Labels,
    acc: Accumulator,
    mut samples: Option<Vec<GroupSample>>,
    fold_of: &[Option<(i64, u64)>],
    design: Design<'_>,
    control_label: &str,
    genes: Vec<String>,
    seed: u64,
    warnings: &mut Vec<String>,
) -> Result<Vec<ContextData>> {
    let contexts = labels.part(0).names();
    let has_context = !(contexts.len() == 1 && contexts[0].is_empty());
    // Each context's (label, accumulator label id), from the (context, label) keys.
    let mut per_context: Vec<Vec<(&str, usize)>> = vec![Vec::new(); contexts.len()];
    for (gid, &[c, l]) in labels.keys().iter().enumerate() {
        per_context[c as usize].push((labels.part(1).names()[l as usize].as_str(), gid));
    }
    let mut ctx_order: Vec<u32> = (0..contexts.len() as u32).collect();
    ctx_order.sort_by(|&a, &b| contexts[a as usize].cmp(&contexts[b as usize]));
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
        let ctx_name = contexts[c as usize].clone();
        let mut members = std::mem::take(&mut per_context[c as usize]);
        if members.is_empty() {
            continue;
        }
        members.sort_unstable();
        let names: Vec<&str> = members.iter().map(|&(l, _)| l).collect();
        let control = design::context_control(file, &ctx_name, &names, control_label)?;
        let gid: Vec<usize> = members.iter().map(|&(_, g)| g).collect();
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
        let file_folds: Option<Vec<Option<i64>>> = match design {
            Design::Assigned => None,
            Design::FileFolds => Some(
                part.gid
                    .iter()
                    .map(|&g| fold_of.get(g).copied().flatten().map(|f| f.0))
                    .collect(),
            ),
            Design::SplitFile(t) => {
                let sides: Vec<Option<Split>> = part
                    .names
                    .iter()
                    .map(|&l| t.side_of(&part.ctx_name, l))
                    .collect();
                let unlisted: Vec<&str> = (0..part.names.len())
                    .filter(|&i| i != part.control && sides[i].is_none())
                    .map(|i| part.names[i])
                    .collect();
                if !unlisted.is_empty() {
                    warnings.push(format!(
                        "{}{} perturbation(s) not in the split file {} are neither evaluated nor used by the baselines: {}",
                        if has_context { format!("context '{}': ", part.ctx_name) } else { String::new() },
                        unlisted.len(),
                        t.file,
                        preview(&unlisted, 5)
                    ));
                }
                Some(
                    sides
                        .iter()
                        .map(|s| Some(s.map_or(FOLD_HELD_OUT, Split::fold)))
                        .collect(),
                )
            }
        };
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
        let samples = samples.as_mut().map(|all| LabelSamples {
            halves: part
                .gid
                .iter()
                .map(|&g| {
                    [
                        take_sample(all, 2 * g, genes.len()),
                        take_sample(all, 2 * g + 1, genes.len()),
                    ]
                })
                .collect(),
        });
        out.push(ContextData {
            context: context.map(str::to_string),
            dataset,
            samples,
        });
    }
    Ok(out)
}
