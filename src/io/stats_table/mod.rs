//! The sufficient-statistics table (SPEC §12.6): per (context, perturbation, half, gene) the
//! number of cells `n` and the sums `sum_x`, `sum_x2`. Everything of SPEC §3–§8 needs only
//! these, so a table made elsewhere — by `calibra stats` on shards of a screen, by the Spark or
//! DuckDB SQL of [`sql`] on a cluster — is evaluated exactly as the cells it sums.
//!
//! Partial tables of disjoint cells add: n per group, Σx and Σx² per (group, gene). A table may
//! be sparse: a (group, gene) without a row has Σx = Σx² = 0, and a group's n is read from any
//! of its rows (all its rows must agree). Optional columns: `fold` or `split` (the cells' own
//! design). The key-value metadata records the gene order (`calibra:genes`), the transform,
//! the seed, how halves were made and the calibra version; a table without it (a SQL engine's)
//! has its genes in name order.

pub mod sql;

use super::cells::{CellOptions, CellSums};
use super::columns::{for_each_str, int_column};
use super::groups::{fold_side, Labels, MetaColumns, RowGrouper};
use super::layout::GENES_METADATA_KEY;
use super::sinks::Accumulator;
use super::table::Table;
use crate::error::{Error, Location, Result};
use crate::report::write::{write_table_with_metadata, ByteSink};
use crate::report::{Column, Table as OutTable};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Schema};
use arrow::record_batch::RecordBatch;
use std::collections::{BTreeSet, HashMap};

/// Column names, in the order calibra writes them (`context` only when there are contexts).
pub mod columns {
    /// The context (cell line, …); absent without contexts.
    pub const CONTEXT: &str = "context";
    /// The perturbation label (the control included).
    pub const PERTURBATION: &str = "perturbation";
    /// `gt` or `td`.
    pub const HALF: &str = "half";
    /// The gene name.
    pub const GENE: &str = "gene";
    /// Cells of the group (zeros included).
    pub const N: &str = "n";
    /// Σx over the group's cells.
    pub const SUM_X: &str = "sum_x";
    /// Σx² over the group's cells.
    pub const SUM_X2: &str = "sum_x2";
    /// The cells' fold (optional).
    pub const FOLD: &str = "fold";
    /// The cells' split word (optional).
    pub const SPLIT: &str = "split";
}

/// Metadata key: the table's format version.
pub const FORMAT_KEY: &str = "calibra:statistics";
/// Metadata key: what was applied to the values before summing.
pub const TRANSFORM_KEY: &str = "calibra:transform";
/// Metadata key: BLAKE3 of the gene list's JSON (to compare tables at a glance).
pub const GENES_HASH_KEY: &str = "calibra:genes_hash";
/// Metadata key: the seed of calibra's half assignment.
pub const SEED_KEY: &str = "calibra:seed";
/// Metadata key: `column` (the cells' half column) or `assigned` (by calibra with the seed).
pub const HALVES_KEY: &str = "calibra:halves";
/// Metadata key: the calibra version that wrote the table.
pub const VERSION_KEY: &str = "calibra:version";
/// Metadata key: the cells file (and row range) the table sums.
pub const SOURCE_KEY: &str = "calibra:source";

/// [`TRANSFORM_KEY`] of normalised cells.
pub const NORMALIZED: &str = "normalize_total(1e4)+log1p";
/// [`TRANSFORM_KEY`] of cells summed as given.
pub const AS_GIVEN: &str = "none";

/// Rows per written chunk (a Parquet row group).
const ROWS_PER_CHUNK: usize = 1 << 20;

/// True when a table's columns are those of a statistics table.
pub fn is_stats_table(schema: &Schema) -> bool {
    [columns::N, columns::SUM_X, columns::SUM_X2]
        .iter()
        .all(|c| schema.index_of(c).is_ok())
}

/// What a written table holds.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// Rows written.
    pub rows: u64,
    /// Groups (context, perturbation, half) with cells.
    pub groups: u64,
    /// Cells summed.
    pub cells: u64,
}

/// Writes `sums` as a statistics table (Parquet) into `out`: groups sorted by context,
/// perturbation and half, each with a row per gene in gene order; groups without cells are
/// left out. `seed` is the half assignment's; `source` names what was summed.
pub fn write(sums: CellSums, seed: u64, source: &str, out: &mut ByteSink<'_>) -> Result<Written> {
    let CellSums {
        file,
        genes,
        labels,
        sums: acc,
        fold_of,
        fold_column,
        split_column,
        halves_assigned,
        normalized,
        ..
    } = sums;
    let n_labels = labels.len();
    let order: Vec<Option<usize>> = (0..2 * n_labels).map(Some).collect();
    let stats = acc.into_group_stats(&order);
    let mut ids: Vec<u32> = (0..n_labels as u32).collect();
    ids.sort_by(|&a, &b| labels.key(a).cmp(&labels.key(b)));
    let contexts = labels.part(0).names();
    let with_context = !(contexts.len() == 1 && contexts[0].is_empty());
    // (label id, half) of every group with cells, in output order.
    let groups: Vec<(u32, usize)> = ids
        .iter()
        .flat_map(|&id| [(id, 0usize), (id, 1)])
        .filter(|&(id, h)| stats.count[2 * id as usize + h] > 0)
        .collect();
    let fold = |id: u32| fold_of.get(id as usize).copied().flatten().map(|f| f.0);
    if let Some(g) = genes.iter().find(|g| g.is_empty()) {
        return Err(Error::in_file(
            &file,
            format!("a gene has an empty name ('{g}')"),
            "name every gene",
        ));
    }
    let genes_json = serde_json::to_string(&genes)
        .map_err(|e| Error::Output(format!("gene names as JSON: {e}")))?;
    let mut metadata = vec![
        (FORMAT_KEY.to_string(), "1".to_string()),
        (
            TRANSFORM_KEY.to_string(),
            if normalized { NORMALIZED } else { AS_GIVEN }.to_string(),
        ),
        (SEED_KEY.to_string(), seed.to_string()),
        (
            HALVES_KEY.to_string(),
            if halves_assigned {
                "assigned"
            } else {
                "column"
            }
            .to_string(),
        ),
        (
            VERSION_KEY.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (SOURCE_KEY.to_string(), source.to_string()),
    ];
    #[cfg(not(target_arch = "wasm32"))]
    metadata.push((
        GENES_HASH_KEY.to_string(),
        format!("blake3:{}", blake3::hash(genes_json.as_bytes()).to_hex()),
    ));
    metadata.push((GENES_METADATA_KEY.to_string(), genes_json));
    let n_genes = genes.len();
    let per_chunk = (ROWS_PER_CHUNK / n_genes.max(1)).max(1);
    let mut written = Written {
        rows: 0,
        groups: groups.len() as u64,
        cells: groups
            .iter()
            .map(|&(id, h)| stats.count[2 * id as usize + h])
            .sum(),
    };
    let produce = |sink: &mut crate::report::ChunkSink<'_>| {
        for chunk in groups.chunks(per_chunk) {
            let rows = chunk.len() * n_genes;
            let (mut ctx, mut pert, mut half, mut gene) = (
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
            );
            let (mut n, mut sx, mut sx2) = (
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
                Vec::with_capacity(rows),
            );
            let mut folds = Vec::new();
            for &(id, h) in chunk {
                let [c, l] = labels.key(id);
                let g = 2 * id as usize + h;
                for (j, name) in genes.iter().enumerate() {
                    if with_context {
                        ctx.push(c.to_string());
                    }
                    pert.push(l.to_string());
                    half.push(if h == 0 { "gt" } else { "td" }.to_string());
                    gene.push(name.clone());
                    n.push(stats.count[g] as i64);
                    sx.push(stats.sum[[g, j]]);
                    sx2.push(stats.sum_sq[[g, j]]);
                }
                folds.extend(std::iter::repeat_n(fold(id), n_genes));
            }
            let mut t = OutTable::new();
            if with_context {
                t = t.with(columns::CONTEXT, Column::Str(ctx));
            }
            t = t
                .with(columns::PERTURBATION, Column::Str(pert))
                .with(columns::HALF, Column::Str(half))
                .with(columns::GENE, Column::Str(gene))
                .with(columns::N, Column::I64(n))
                .with(columns::SUM_X, Column::F64(sx))
                .with(columns::SUM_X2, Column::F64(sx2));
            if fold_column.is_some() {
                let f = folds.iter().map(|f| f.unwrap_or_default()).collect();
                t = t.with(columns::FOLD, Column::I64(f));
            } else if split_column.is_some() {
                let words = folds
                    .iter()
                    .map(|f| f.map_or("", fold_side).to_string())
                    .collect();
                t = t.with(columns::SPLIT, Column::Str(words));
            }
            written.rows += rows as u64;
            sink(t)?;
        }
        Ok(())
    };
    write_table_with_metadata("statistics.parquet", metadata, produce, out)?;
    Ok(written)
}

/// The error of a statistics table's column or row.
fn at(file: &str, column: &str, row: Option<u64>) -> Location {
    Location {
        file: Some(file.to_string()),
        column: Some(column.to_string()),
        row,
        ..Default::default()
    }
}

/// Reads statistics tables into the sums of the cells they describe. Each entry of `partials`
/// is one table (possibly written in several files, as SQL engines do: its groups' n agree
/// across them and no (group, gene) repeats); the partial tables add.
pub fn read_sums(
    partials: Vec<Vec<Table>>,
    opts: &CellOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<CellSums> {
    let first = partials
        .first()
        .and_then(|p| p.first())
        .ok_or_else(|| Error::Options("no statistics table given".into()))?;
    let file = first.name().to_string();
    let format = first.format;
    if opts.max_cells.is_some() {
        return Err(Error::in_file(
            &file,
            "the cell-level metric families (distributional, celleval, celleval2) need cells, and a statistics table holds only n, Σx and Σx² per group",
            "evaluate the cells file itself for those families, or ask for the calibrated family only (--metrics calibrated)",
        ));
    }
    let tables: Vec<&Table> = partials.iter().flatten().collect();
    for t in &tables {
        check_schema(t)?;
    }
    let normalized = transform(&tables)?;
    if opts.normalize {
        return Err(Error::in_file(
            &file,
            "--normalize was given, but a statistics table holds sums of values already transformed",
            "normalise when the table is made (calibra stats --normalize, or the --normalize SQL) and evaluate it without --normalize",
        ));
    }
    let genes = gene_order(&tables)?;
    let gene_index: HashMap<&str, usize> = genes
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let total_rows: u64 = tables.iter().filter_map(|t| t.num_rows).sum();
    let schema = &first.schema;
    let has = |c: &str| schema.index_of(c).is_ok();
    let fold_column = has(columns::FOLD).then(|| columns::FOLD.to_string());
    let split_column =
        (!has(columns::FOLD) && has(columns::SPLIT)).then(|| columns::SPLIT.to_string());
    let halves_assigned = tables
        .iter()
        .any(|t| t.schema.metadata().get(HALVES_KEY).map(String::as_str) == Some("assigned"));

    let mut acc = Accumulator::new(genes.len());
    let mut labels = Labels::new();
    let mut fold_of = Vec::new();
    let mut rows_done = 0u64;
    for partial in &partials {
        let mut checks = TableChecks::new(genes.len());
        for table in partial {
            let name = table.name().to_string();
            let s = &table.schema;
            let idx = |c: &str| s.index_of(c).ok();
            let (key_columns, meta) = MetaColumns::project(
                idx(columns::PERTURBATION).expect("checked"),
                idx(columns::HALF),
                idx(columns::FOLD),
                idx(columns::SPLIT).filter(|_| idx(columns::FOLD).is_none()),
                idx(columns::CONTEXT),
            );
            let mut g = RowGrouper::new(name.clone(), std::mem::take(&mut labels), None, meta);
            g.fold_of = std::mem::take(&mut fold_of);
            let (gene_at, n_at, sx_at, sx2_at) = (
                idx(columns::GENE).expect("checked"),
                idx(columns::N).expect("checked"),
                idx(columns::SUM_X).expect("checked"),
                idx(columns::SUM_X2).expect("checked"),
            );
            let mut row = 0u64;
            for item in table.batches(None, 1 << 16)? {
                let (batch, _) = item?;
                let keys = batch
                    .project(&key_columns)
                    .map_err(|e| Error::Internal(format!("projecting key columns: {e}")))?;
                let group_of = group_runs(&mut g, &keys, row)?;
                let n = int_column(batch.column(n_at), &name, columns::N, row)?;
                let sx = floats(&batch, sx_at, &name, columns::SUM_X, row)?;
                let sx2 = floats(&batch, sx2_at, &name, columns::SUM_X2, row)?;
                let mut gene = vec![0usize; batch.num_rows()];
                // A table lists each group's genes in order: try the gene after the last one
                // before looking the name up.
                let mut next = 0usize;
                for_each_str(batch.column(gene_at), &name, columns::GENE, row, |i, s| {
                    let at_next = genes.get(next).is_some_and(|g| g == s);
                    gene[i] = if at_next {
                        next
                    } else {
                        *gene_index.get(s).ok_or_else(|| {
                            Error::input(
                                at(&name, columns::GENE, Some(row + i as u64)),
                                format!("gene '{s}' is not in the table's gene list (its 'calibra:genes' metadata)"),
                                "make every part of a table from the same cells file",
                            )
                        })?
                    };
                    next = gene[i] + 1;
                    Ok(())
                })?;
                for i in 0..batch.num_rows() {
                    let at_row = |c: &str| at(&name, c, Some(row + i as u64));
                    let value = RowValues {
                        group: group_of[i],
                        gene: gene[i],
                        n: n[i],
                        sums: [sx[i], sx2[i]],
                    };
                    checks.check(&value, row + i as u64, at_row, &genes)?;
                    acc.add_cells(value.group, 0);
                }
                // Added gene by gene: the sums are stored by gene, and a batch lists groups.
                for i in by_gene(&gene, genes.len()) {
                    acc.add_moments(group_of[i], gene[i], sx[i], sx2[i]);
                }
                row += batch.num_rows() as u64;
                rows_done += batch.num_rows() as u64;
                if total_rows > 0 {
                    progress(rows_done as f64 / total_rows as f64);
                }
            }
            RowGrouper {
                labels,
                fold_of,
                ..
            } = g;
        }
        for (grp, n) in checks.group_sizes() {
            acc.add_cells(grp, n);
        }
    }
    if labels.is_empty() {
        return Err(Error::in_file(
            &file,
            "the statistics table has no rows",
            "make it again from the cells",
        ));
    }
    let rows = acc.counts().iter().sum();
    Ok(CellSums {
        file,
        format,
        layout: "statistics",
        genes,
        labels,
        sums: acc,
        samples: None,
        fold_of,
        fold_column,
        split_column,
        rows,
        halves_assigned,
        normalized,
    })
}

/// One row of a statistics table, its keys resolved.
struct RowValues {
    group: u32,
    gene: usize,
    n: i64,
    /// Σx, Σx².
    sums: [f64; 2],
}

/// The checks of one table's rows: n ≥ 1 and the same on every row of a group, sums finite and
/// ≥ 0, no (group, gene) twice.
struct TableChecks {
    n_genes: usize,
    /// Each group's n, with the row that gave it.
    n_of: Vec<Option<(u64, u64)>>,
    /// The (group, gene) cells given so far, a bit each (group-major).
    seen: Vec<u64>,
}

impl TableChecks {
    fn new(n_genes: usize) -> Self {
        TableChecks {
            n_genes,
            n_of: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Checks row `r` (`at(column)`: its location for messages).
    fn check(
        &mut self,
        v: &RowValues,
        r: u64,
        at: impl Fn(&str) -> Location,
        genes: &[String],
    ) -> Result<()> {
        let [sx, sx2] = v.sums;
        if v.n < 1 {
            return Err(Error::input(
                at(columns::N),
                format!("n = {} (a group has at least one cell)", v.n),
                "leave groups without cells out of the table",
            ));
        }
        if !(sx.is_finite() && sx2.is_finite()) || sx < 0.0 || sx2 < 0.0 {
            let column = if sx.is_finite() && sx >= 0.0 {
                columns::SUM_X2
            } else {
                columns::SUM_X
            };
            return Err(Error::input(
                at(column),
                format!("sums {sx} and {sx2} (expression is finite and ≥ 0)"),
                "make the table from log-normalised expression (≥ 0, finite)",
            ));
        }
        let g = v.group as usize;
        if self.n_of.len() <= g {
            self.n_of.resize(g + 1, None);
        }
        match self.n_of[g] {
            None => self.n_of[g] = Some((v.n as u64, r)),
            Some((n0, r0)) if n0 != v.n as u64 => {
                return Err(Error::input(
                    at(columns::N),
                    format!("n = {} but n = {n0} at row {r0} of the same (context, perturbation, half)", v.n),
                    "n counts a group's cells and is the same on every gene's row; partial tables of different cells are merged with `calibra stats merge`",
                ));
            }
            _ => {}
        }
        let cell = g * self.n_genes + v.gene;
        if self.seen.len() <= cell / 64 {
            self.seen
                .resize((cell / 64 + 1).max(2 * self.seen.len()), 0);
        }
        if self.seen[cell / 64] & (1 << (cell % 64)) != 0 {
            return Err(Error::input(
                at(columns::GENE),
                format!("gene '{}' of this (context, perturbation, half) has an earlier row", genes[v.gene]),
                "each (context, perturbation, half, gene) has one row per table; partial tables are merged with `calibra stats merge`",
            ));
        }
        self.seen[cell / 64] |= 1 << (cell % 64);
        Ok(())
    }

    /// (group, n) of every group the table has.
    fn group_sizes(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.n_of
            .iter()
            .enumerate()
            .filter_map(|(g, n)| n.map(|(n, _)| (g as u32, n)))
    }
}

/// The group of each row of a batch of key columns. A table lists a group's rows together, so
/// only the first row of each run of equal keys is grouped (labels interned, halves and folds
/// checked); on an error the whole batch is grouped again, for the row the message names.
fn group_runs(g: &mut RowGrouper, keys: &RecordBatch, row: u64) -> Result<Vec<u32>> {
    let n = keys.num_rows();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut starts = vec![0u32];
    if n > 1 {
        let mut changed = vec![false; n - 1];
        for column in keys.columns() {
            let column = match column.data_type() {
                DataType::Dictionary(_, v) => arrow::compute::cast(column, v)
                    .map_err(|e| Error::Internal(format!("decoding a dictionary: {e}")))?,
                _ => column.clone(),
            };
            let differs = arrow::compute::kernels::cmp::distinct(
                &column.slice(1, n - 1),
                &column.slice(0, n - 1),
            )
            .map_err(|e| Error::Internal(format!("comparing rows: {e}")))?;
            for (c, d) in changed.iter_mut().zip(differs.values().iter()) {
                *c |= d;
            }
        }
        starts.extend((1..n as u32).filter(|&i| changed[i as usize - 1]));
    }
    let first_rows =
        arrow::compute::take_record_batch(keys, &arrow::array::UInt32Array::from(starts.clone()))
            .map_err(|e| Error::Internal(format!("taking run starts: {e}")))?;
    let run_groups = match g.group_rows(&first_rows, row) {
        Ok(groups) => groups,
        Err(_) => return g.group_rows(keys, row),
    };
    let mut out = Vec::with_capacity(n);
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(n, |&e| e as usize);
        out.extend(std::iter::repeat_n(run_groups[k], end - start as usize));
    }
    Ok(out)
}

/// Row indices ordered by gene (a counting sort; rows of a gene keep their order).
fn by_gene(gene: &[usize], n_genes: usize) -> Vec<usize> {
    let mut start = vec![0usize; n_genes + 1];
    for &g in gene {
        start[g + 1] += 1;
    }
    for g in 0..n_genes {
        start[g + 1] += start[g];
    }
    let mut order = vec![0usize; gene.len()];
    for (i, &g) in gene.iter().enumerate() {
        order[start[g]] = i;
        start[g] += 1;
    }
    order
}

/// A float column as f64 (any numeric type), nulls refused.
fn floats(batch: &RecordBatch, c: usize, file: &str, column: &str, row: u64) -> Result<Vec<f64>> {
    let a = batch.column(c);
    if a.null_count() > 0 {
        let r = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
        return Err(Error::input(
            at(file, column, Some(row + r as u64)),
            "missing value",
            "a statistics table has a value in every row (0 for a gene never expressed)",
        ));
    }
    let f = arrow::compute::cast(a, &DataType::Float64).map_err(|e| {
        Error::input(
            at(file, column, None),
            format!("cannot read as numbers: {e}"),
            "store sums as 64-bit floats",
        )
    })?;
    Ok(f.as_primitive::<Float64Type>().values().to_vec())
}

/// Every required column present with a usable type.
fn check_schema(t: &Table) -> Result<()> {
    let s = &t.schema;
    for c in [
        columns::PERTURBATION,
        columns::HALF,
        columns::GENE,
        columns::N,
        columns::SUM_X,
        columns::SUM_X2,
    ] {
        let Ok(i) = s.index_of(c) else {
            return Err(Error::in_file(
                t.name(),
                format!(
                    "a statistics table (it has n, sum_x and sum_x2) needs the column '{c}'; it has {}",
                    s.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
                ),
                "write the table with columns [context,] perturbation, half, gene, n, sum_x, sum_x2 (SPEC §12.6)",
            ));
        };
        let ty = s.field(i).data_type();
        let ok = match c {
            columns::N => ty.is_integer(),
            columns::SUM_X | columns::SUM_X2 => ty.is_numeric(),
            _ => true,
        };
        if !ok {
            return Err(Error::input(
                at(t.name(), c, None),
                format!("type {ty} is not a number type"),
                "n is an integer, sum_x and sum_x2 are floats",
            ));
        }
    }
    Ok(())
}

/// Whether the tables' values were normalised; tables that record a transform must agree.
fn transform(tables: &[&Table]) -> Result<bool> {
    let recorded: BTreeSet<(&str, &str)> = tables
        .iter()
        .filter_map(|t| {
            t.schema
                .metadata()
                .get(TRANSFORM_KEY)
                .map(|v| (v.as_str(), t.name()))
        })
        .collect();
    let kinds: BTreeSet<&str> = recorded.iter().map(|&(v, _)| v).collect();
    if kinds.len() > 1 {
        let list: Vec<String> = recorded.iter().map(|(v, f)| format!("{f}: {v}")).collect();
        return Err(Error::Options(format!(
            "the statistics tables sum differently transformed values ({}); make every part the same way",
            list.join("; ")
        )));
    }
    Ok(kinds.first() == Some(&NORMALIZED))
}

/// The genes in order: the tables' recorded list when they all record the same one, else every
/// gene of the gene columns in name order.
fn gene_order(tables: &[&Table]) -> Result<Vec<String>> {
    let lists: Vec<Option<Vec<String>>> = tables
        .iter()
        .map(|t| {
            t.schema
                .metadata()
                .get(GENES_METADATA_KEY)
                .map(|json| {
                    serde_json::from_str::<Vec<String>>(json).map_err(|e| {
                        Error::in_file(
                            t.name(),
                            format!("its '{GENES_METADATA_KEY}' metadata is not a JSON list of names: {e}"),
                            "write the table again with calibra stats",
                        )
                    })
                })
                .transpose()
        })
        .collect::<Result<_>>()?;
    if let Some(Some(first)) = lists.first() {
        if lists.iter().all(|l| l.as_ref() == Some(first)) {
            return Ok(first.clone());
        }
        if let Some(i) = lists
            .iter()
            .position(|l| l.is_some() && l.as_ref() != Some(first))
        {
            return Err(Error::in_file(
                tables[i].name(),
                format!("its genes are not those of {}", tables[0].name()),
                "make every part of a statistics table from the same cells (the same genes, in the same order)",
            ));
        }
    }
    let mut genes = BTreeSet::new();
    for t in tables {
        let at = t.schema.index_of(columns::GENE).expect("checked");
        let mut row = 0u64;
        for item in t.batches(Some(&[at]), 1 << 16)? {
            let (batch, _) = item?;
            for_each_str(batch.column(0), t.name(), columns::GENE, row, |_, s| {
                if !genes.contains(s) {
                    genes.insert(s.to_string());
                }
                Ok(())
            })?;
            row += batch.num_rows() as u64;
        }
    }
    Ok(genes.into_iter().collect())
}
