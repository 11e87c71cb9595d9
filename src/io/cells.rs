//! Reading the observed-cells table into per-context [`Dataset`](crate::Dataset)s: the table is
//! ingested into one [`Accumulator`] (Σx, Σx² per label half and gene), then split into
//! contexts by the design rules ([`crate::design`]). Memory is O(labels × genes) plus one
//! batch; labels, halves and folds are validated on the way.

use super::groups::{cell_key_parts, Labels, MetaColumns, RowGrouper};
use super::ingest::{ingest_batches, ingest_wide_units, Plan};
use super::layout::values::validate_values;
use super::layout::{locate, ColumnNames, ExpressionLayout, TableRole};
use super::sinks::Accumulator;
use super::source::SharedSource;
use super::table::{Format, ReadOptions, Table};
use crate::data::Dataset;
use crate::design;
use crate::error::{Error, Result};
use arrow::record_batch::RecordBatch;

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

/// Reads the cells table (SPEC §1.1, §1.3, §1.4, §2). `progress` receives fractions 0..1.
pub fn read_cells(
    source: SharedSource,
    opts: &CellOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<ObservedCells> {
    let table = Table::open(source, &opts.read)?;
    let file = table.name().to_string();
    let layout = locate(&file, &table.schema, &opts.columns, TableRole::Cells)?;
    let mut labels = Labels::new();

    // Without a half column, halves depend on each label's cell count: count labels first.
    let half_masks = if layout.half.is_none() {
        let mut cols = vec![layout.label];
        cols.extend(layout.context);
        cols.sort_unstable();
        // Projected batch: columns in schema order.
        let at = |c: usize| cols.iter().position(|&x| x == c).expect("projected");
        let parts = cell_key_parts(layout.context.map(at), at(layout.label));
        let mut counts: Vec<u64> = Vec::new();
        let mut row = 0u64;
        for item in table.batches(Some(&cols), opts.batch_rows)? {
            let (batch, _) = item?;
            let ids = labels.batch_ids(&batch, &parts, &file, row)?;
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

    let (key_columns, meta) =
        MetaColumns::project(layout.label, layout.half, layout.fold, layout.context);
    let mut grouper = RowGrouper::new(file.clone(), labels, half_masks, meta);
    let mut acc = Accumulator::new(layout.genes.len());
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
    let read = if let (Some(units), Some(columns)) = (units, wide_columns) {
        ingest_wide_units(
            units.as_ref(),
            &plan,
            &columns,
            &key_columns,
            &mut group,
            &mut [&mut acc],
            progress,
        )?
    } else {
        ingest_batches(
            &table,
            &plan,
            opts.batch_rows,
            &key_columns,
            &mut group,
            &mut [&mut acc],
            progress,
        )?
    };
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

    let control_label =
        design::choose_control(&file, &all_labels(&labels), opts.control_label.as_deref())?;
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

/// Every distinct label of every context, sorted.
fn all_labels(labels: &Labels) -> Vec<&str> {
    let mut all: Vec<&str> = labels.part(1).names().iter().map(|s| s.as_str()).collect();
    all.sort_unstable();
    all.dedup();
    all
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
    fold_of: &[Option<(i64, u64)>],
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
