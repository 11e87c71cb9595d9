//! Decoding a batch's expression values — wide gene columns, a dense list column or sparse CSR
//! rows — into one borrowed [`ExpressionView`], and every walk over that view.
//!
//! This is the only place that knows how the three layouts store values: sinks say what to do
//! with a group's values ([`GroupAdd`]), value checks and normalisation say what to do with a
//! value, and the walks here decide the loop order. The value type (f32 / f64, and the integer
//! type of sparse indices) is decided once per column or batch, outside the loops, so that the
//! inner loops are monomorphic.

use super::values::{check_all, check_column, ValueChecks};
use crate::error::{Error, Location, Result};
use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, GenericListArray, OffsetSizeTrait,
};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type,
};
use rayon::prelude::*;

/// A contiguous run of numbers in f32 or f64.
#[derive(Clone, Copy)]
pub enum Values<'a> {
    /// 32-bit floats.
    F32(&'a [f32]),
    /// 64-bit floats.
    F64(&'a [f64]),
}

/// Gene positions of a sparse row.
#[derive(Clone, Copy)]
pub enum Indices<'a> {
    /// Unsigned 32-bit positions.
    U32(&'a [u32]),
    /// Signed 32-bit positions.
    I32(&'a [i32]),
    /// Signed 64-bit positions.
    I64(&'a [i64]),
    /// Unsigned 64-bit positions.
    U64(&'a [u64]),
}

/// A stored value type, read as f64.
trait Num: Copy + Send + Sync {
    fn f64(self) -> f64;
}
impl Num for f32 {
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}
impl Num for f64 {
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}

/// A stored gene-position type, read as i64 (u64 beyond i64 saturates: out of range anyway).
trait Idx: Copy + Send + Sync {
    fn i64(self) -> i64;
}
impl Idx for u32 {
    #[inline(always)]
    fn i64(self) -> i64 {
        self as i64
    }
}
impl Idx for i32 {
    #[inline(always)]
    fn i64(self) -> i64 {
        self as i64
    }
}
impl Idx for i64 {
    #[inline(always)]
    fn i64(self) -> i64 {
        self
    }
}
impl Idx for u64 {
    #[inline(always)]
    fn i64(self) -> i64 {
        self.min(i64::MAX as u64) as i64
    }
}

/// Runs `$body` with `$s` bound to the typed slice of a [`Values`] (one monomorphic copy of
/// the body per value type).
macro_rules! with_values {
    ($v:expr, $s:ident => $body:expr) => {
        match $v {
            Values::F32($s) => $body,
            Values::F64($s) => $body,
        }
    };
}

/// [`with_values`] for [`Indices`].
macro_rules! with_indices {
    ($v:expr, $s:ident => $body:expr) => {
        match $v {
            Indices::U32($s) => $body,
            Indices::I32($s) => $body,
            Indices::I64($s) => $body,
            Indices::U64($s) => $body,
        }
    };
}

impl Values<'_> {
    /// Value `i` as f64 (for the rare paths; loops dispatch on the type first).
    #[inline(always)]
    pub fn get(&self, i: usize) -> f64 {
        with_values!(self, v => v[i].f64())
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        with_values!(self, v => v.len())
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values in `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Values<'_> {
        match self {
            Values::F32(v) => Values::F32(&v[range]),
            Values::F64(v) => Values::F64(&v[range]),
        }
    }
}

/// Borrowed view of one batch's expression values, in the file's gene order.
pub enum ExpressionView<'a> {
    /// One slice per file gene, each with one value per row.
    Wide(Vec<Values<'a>>),
    /// Row `r` holds genes `values[offsets[r] .. offsets[r] + n_genes]`.
    Dense {
        /// All values.
        values: Values<'a>,
        /// Start of each row (length = rows).
        offsets: Vec<usize>,
    },
    /// Row `r` holds the non-zeros `offsets[r] .. offsets[r+1]`.
    Csr {
        /// Row boundaries (length = rows + 1).
        offsets: Vec<usize>,
        /// Gene positions.
        indices: Indices<'a>,
        /// Values.
        values: Values<'a>,
        /// Every row's gene positions ascend.
        sorted_rows: bool,
        /// With ascending rows: where each block of [`POSITIONS_PER_BLOCK`] file positions
        /// starts in each row (row `r`, block `b`: `[r * (blocks + 1) + b]`, the last entry the
        /// row's end), so a block of genes finds its part of a row without searching; empty
        /// when not computed.
        block_starts: &'a [u32],
    },
}

/// File positions per block in [`ExpressionView::Csr`]'s `block_starts`: the sinks' blocks of
/// genes ([`crate::io::ingest::GENES_PER_SLAB`]).
pub const POSITIONS_PER_BLOCK: usize = crate::io::ingest::GENES_PER_SLAB;

/// What a sink does with the values of its genes, as a walk over an [`ExpressionView`] hands
/// them over ([`ExpressionView::add_to`]). Genes are numbered from 0 within the walked span.
pub trait GroupAdd {
    /// Adds Σx and Σx² of one group's rows of the batch for gene `j` (wide layouts: each
    /// group's values are summed in row order, then added once).
    fn add_sums(&mut self, j: usize, group: u32, s: f64, s2: f64);
    /// Adds one value of gene `j` in `group` (list and sparse layouts: value by value, in row
    /// order within a group).
    fn add_value(&mut self, j: usize, group: u32, x: f64);
}

/// The genes a walk covers: target genes `first .. first + file_pos.len()`, gene `first + j`
/// at file position `file_pos[j]` (`usize::MAX`: not in the file); `gene_of` is the inverse
/// (file position → target gene), for sparse rows.
#[derive(Clone, Copy)]
pub struct GeneSpan<'g> {
    /// First target gene.
    pub first: usize,
    /// File position of each target gene of the span.
    pub file_pos: &'g [usize],
    /// Target gene of each file position (`None`: ignored).
    pub gene_of: &'g [Option<usize>],
}

/// Genes whose sums share one pass over the rows: each row's run is read once for all of
/// them, and their partial sums share the run's cache line(s).
const GENES_PER_PASS: usize = 8;

impl ExpressionView<'_> {
    /// Hands the values of `span`'s genes in the rows of `runs` (group, its rows ascending;
    /// groups ascending) to `sink`. For each (group, gene) the values arrive in row order, so
    /// the sums do not depend on how genes or groups are split into tasks.
    pub fn add_to<'r, A: GroupAdd>(
        &self,
        runs: impl Iterator<Item = (u32, &'r [u32])> + Clone,
        span: GeneSpan<'_>,
        sink: &mut A,
    ) {
        match self {
            ExpressionView::Wide(cols) => {
                let present: Vec<(usize, Values<'_>)> = span
                    .file_pos
                    .iter()
                    .enumerate()
                    .filter(|&(_, &p)| p != usize::MAX)
                    .map(|(j, &p)| (j, cols[p]))
                    .collect();
                let slots = RowSlots::of(runs.clone());
                let mut partial = Vec::new();
                for pass in present.chunks(GENES_PER_PASS) {
                    match (f32_pass(pass), &slots) {
                        (Some((genes, cols)), Some(slots)) => {
                            sums_f32_by_row(slots, genes, cols, &mut partial, sink)
                        }
                        (Some((genes, cols)), None) => {
                            sums_f32_by_run(runs.clone(), genes, cols, sink)
                        }
                        (None, _) => {
                            for &(j, col) in pass {
                                with_values!(col, v => sums_one(runs.clone(), j, v, sink))
                            }
                        }
                    }
                }
            }
            ExpressionView::Dense { values, offsets } => with_values!(*values, v => {
                for (j, &p) in span.file_pos.iter().enumerate() {
                    if p == usize::MAX {
                        continue;
                    }
                    for (k, rows) in runs.clone() {
                        for &r in rows {
                            sink.add_value(j, k, v[offsets[r as usize] + p].f64());
                        }
                    }
                }
            }),
            ExpressionView::Csr {
                offsets,
                indices,
                values,
                sorted_rows,
                block_starts,
            } => with_values!(*values, v => with_indices!(*indices, ix => {
                // The file positions the span's genes come from: with ascending positions in
                // every row, a row's entries for this span lie in one range, found by binary
                // search, so each block of genes reads only its part of the row (the same
                // entries in the same order as a full scan).
                let present = span.file_pos.iter().copied().filter(|&p| p != usize::MAX);
                let Some(lowest) = present.clone().min() else {
                    return;
                };
                let highest = present.max().unwrap_or(lowest) as i64;
                // The span's gene of each file position in lowest..=highest (u32::MAX: none),
                // so that the inner loop is one lookup per stored value.
                let mut local = vec![u32::MAX; (highest - lowest as i64 + 1) as usize];
                for (j, &p) in span.file_pos.iter().enumerate() {
                    if p != usize::MAX {
                        local[p - lowest] = j as u32;
                    }
                }
                // The span is one block of positions: its part of each row is recorded.
                let n_rows = offsets.len().saturating_sub(1);
                let n_blocks = block_starts
                    .len()
                    .checked_div(n_rows)
                    .map_or(0, |per_row| per_row.saturating_sub(1));
                let block = (!block_starts.is_empty()
                    && lowest % POSITIONS_PER_BLOCK == 0
                    && (highest as usize) < lowest + POSITIONS_PER_BLOCK)
                    .then_some(lowest / POSITIONS_PER_BLOCK)
                    .filter(|&b| b < n_blocks);
                let lowest = lowest as i64;
                for (k, rows) in runs {
                    for &r in rows {
                        let r = r as usize;
                        let (mut from, mut to) = (offsets[r], offsets[r + 1]);
                        if let Some(b) = block {
                            let at = r * (n_blocks + 1) + b;
                            (from, to) = (block_starts[at] as usize, block_starts[at + 1] as usize);
                        } else if *sorted_rows {
                            let row = &ix[from..to];
                            to = from + row.partition_point(|x| x.i64() <= highest);
                            from += row.partition_point(|x| x.i64() < lowest);
                        }
                        for i in from..to {
                            let p = ix[i].i64();
                            if p < lowest || p > highest {
                                continue;
                            }
                            let j = local[(p - lowest) as usize];
                            if j != u32::MAX {
                                sink.add_value(j as usize, k, v[i].f64());
                            }
                        }
                    }
                }
            })),
        }
    }

    /// The value checks of the batch's values at the file positions `p` with `checked[p]`
    /// (one flag per file gene of the view); rows are numbered from `first_row` and genes
    /// reported as `first_gene + p`. Parallel over columns (wide) or row chunks (lists, sparse
    /// rows); the result does not depend on the split.
    pub fn check(&self, checked: &[bool], first_row: u64, first_gene: usize) -> ValueChecks {
        /// Rows per task when checking list and sparse rows.
        const ROWS_PER_TASK: usize = 1024;
        match self {
            ExpressionView::Wide(cols) => {
                let n_rows = cols.first().map_or(0, |c| c.len());
                cols.par_iter()
                    .enumerate()
                    .filter(|(p, _)| checked[*p])
                    .map(|(p, &col)| {
                        let mut checks = ValueChecks::new();
                        check_column(col, n_rows, &mut checks, first_row, first_gene + p);
                        checks
                    })
                    .reduce(ValueChecks::new, ValueChecks::merge)
            }
            ExpressionView::Dense { values, offsets } => with_values!(*values, v => {
                let genes: Vec<usize> = (0..checked.len()).filter(|&p| checked[p]).collect();
                offsets
                    .par_chunks(ROWS_PER_TASK)
                    .enumerate()
                    .map(|(c, starts)| {
                        let mut checks = ValueChecks::new();
                        for (i, &start) in starts.iter().enumerate() {
                            let row = first_row + (c * ROWS_PER_TASK + i) as u64;
                            for &p in &genes {
                                checks.see(v[start + p].f64(), row, first_gene + p);
                            }
                        }
                        checks
                    })
                    .reduce(ValueChecks::new, ValueChecks::merge)
            }),
            ExpressionView::Csr {
                offsets,
                indices,
                values,
                ..
            } => with_values!(*values, v => with_indices!(*indices, ix => {
                let n_rows = offsets.len().saturating_sub(1);
                // Every gene checked (the observed cells) and nothing wrong — the common case —
                // takes one vectorised pass over the stored values; an anomaly is located by
                // the exact pass below.
                if n_rows > 0 && checked.iter().all(|&c| c) {
                    let mut checks = ValueChecks::new();
                    if check_all(values.slice(offsets[0]..offsets[n_rows]), &mut checks) {
                        return checks;
                    }
                }
                (0..n_rows.div_ceil(ROWS_PER_TASK))
                    .into_par_iter()
                    .map(|c| {
                        let mut checks = ValueChecks::new();
                        let rows = c * ROWS_PER_TASK..((c + 1) * ROWS_PER_TASK).min(n_rows);
                        for r in rows {
                            for i in offsets[r]..offsets[r + 1] {
                                let p = ix[i].i64();
                                let mapped = usize::try_from(p)
                                    .is_ok_and(|p| checked.get(p).copied().unwrap_or(false));
                                if mapped {
                                    checks.see(v[i].f64(), first_row + r as u64, first_gene + p as usize);
                                }
                            }
                        }
                        checks
                    })
                    .reduce(ValueChecks::new, ValueChecks::merge)
            })),
        }
    }
}

/// A full pass of f32 columns: their genes and values.
#[allow(clippy::type_complexity)]
fn f32_pass<'v>(
    pass: &[(usize, Values<'v>)],
) -> Option<([usize; GENES_PER_PASS], [&'v [f32]; GENES_PER_PASS])> {
    if pass.len() != GENES_PER_PASS {
        return None;
    }
    let mut genes = [0; GENES_PER_PASS];
    let mut cols: [&[f32]; GENES_PER_PASS] = [&[]; GENES_PER_PASS];
    for (i, &(j, v)) in pass.iter().enumerate() {
        let Values::F32(c) = v else { return None };
        (genes[i], cols[i]) = (j, c);
    }
    Some((genes, cols))
}

/// A batch's rows in row order, each with the number of its run (its group's place among
/// the batch's groups), so that columns can be read front to back.
struct RowSlots {
    /// Run of each row (`u32::MAX`: in no run).
    slot: Vec<u32>,
    /// Group of each run.
    group: Vec<u32>,
}

impl RowSlots {
    /// The slots of `runs`' rows, or `None` when reading by row does not pay: a single group
    /// (its rows are already read in order), or runs covering under half of the rows up to
    /// their last (a few groups of a larger batch).
    fn of<'r>(runs: impl Iterator<Item = (u32, &'r [u32])> + Clone) -> Option<Self> {
        let (mut n_runs, mut n_rows, mut end) = (0usize, 0usize, 0usize);
        for (_, rows) in runs.clone() {
            n_runs += 1;
            n_rows += rows.len();
            end = end.max(rows.last().map_or(0, |&r| r as usize + 1));
        }
        if n_runs < 2 || 2 * n_rows < end {
            return None;
        }
        let mut slot = vec![u32::MAX; end];
        let mut group = Vec::with_capacity(n_runs);
        for (k, rows) in runs {
            let s = group.len() as u32;
            group.push(k);
            for &r in rows {
                slot[r as usize] = s;
            }
        }
        Some(RowSlots { slot, group })
    }
}

/// Σx, Σx² of each group's rows of J f32 columns at once. The columns are read in row order
/// (streams the prefetcher follows; the rows of a group are scattered when cells are
/// shuffled) and each value is added to its run's partial sums, which start at 0 per batch:
/// every group's rows are summed in row order, then added once — the sums of a walk group by
/// group, bit for bit.
fn sums_f32_by_row<const J: usize, A: GroupAdd>(
    slots: &RowSlots,
    genes: [usize; J],
    cols: [&[f32]; J],
    partial: &mut Vec<f64>,
    sink: &mut A,
) {
    let width = 2 * J;
    partial.clear();
    partial.resize(slots.group.len() * width, 0.0);
    for (r, &s) in slots.slot.iter().enumerate() {
        if s == u32::MAX {
            continue;
        }
        let cell = &mut partial[s as usize * width..(s as usize + 1) * width];
        for j in 0..J {
            let x = cols[j][r] as f64;
            cell[2 * j] += x;
            cell[2 * j + 1] += x * x;
        }
    }
    for (cell, &k) in partial.chunks_exact(width).zip(&slots.group) {
        for j in 0..J {
            sink.add_sums(genes[j], k, cell[2 * j], cell[2 * j + 1]);
        }
    }
}

/// Σx, Σx² of each group's rows of J f32 columns in one pass over the runs (the sums of
/// [`sums_f32_by_row`], read group by group).
#[inline(always)]
fn sums_f32_by_run<'r, const J: usize, A: GroupAdd>(
    runs: impl Iterator<Item = (u32, &'r [u32])>,
    genes: [usize; J],
    cols: [&[f32]; J],
    sink: &mut A,
) {
    for (k, rows) in runs {
        let (mut s, mut s2) = ([0.0f64; J], [0.0f64; J]);
        for &r in rows {
            for j in 0..J {
                let x = cols[j][r as usize] as f64;
                s[j] += x;
                s2[j] += x * x;
            }
        }
        for j in 0..J {
            sink.add_sums(genes[j], k, s[j], s2[j]);
        }
    }
}

/// Σx, Σx² of each group's rows of one column.
#[inline(always)]
fn sums_one<'r, T: Num, A: GroupAdd>(
    runs: impl Iterator<Item = (u32, &'r [u32])>,
    j: usize,
    col: &[T],
    sink: &mut A,
) {
    for (k, rows) in runs {
        let (mut s, mut s2) = (0.0, 0.0);
        for &r in rows {
            let x = col[r as usize].f64();
            s += x;
            s2 += x * x;
        }
        sink.add_sums(j, k, s, s2);
    }
}

/// Owned arrays behind an [`ExpressionView`] (casts of integer columns live here).
pub struct ExpressionArrays {
    arrays: Vec<ArrayRef>,
    kind: Kind,
    n_rows: usize,
    row_len: usize,
}

enum Kind {
    Wide,
    Dense {
        offsets: Vec<usize>,
    },
    Csr {
        offsets: Vec<usize>,
        sorted_rows: bool,
        block_starts: Vec<u32>,
    },
}

fn to_float(a: &ArrayRef) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    match a.data_type() {
        DataType::Float32 | DataType::Float64 => Ok(a.clone()),
        _ => arrow::compute::cast(a, &DataType::Float64),
    }
}

fn values_of(a: &ArrayRef) -> Values<'_> {
    match a.data_type() {
        DataType::Float32 => Values::F32(a.as_primitive::<Float32Type>().values()),
        _ => Values::F64(a.as_primitive::<Float64Type>().values()),
    }
}

fn indices_of(a: &ArrayRef) -> Indices<'_> {
    match a.data_type() {
        DataType::UInt32 => Indices::U32(a.as_primitive::<UInt32Type>().values()),
        DataType::Int32 => Indices::I32(a.as_primitive::<Int32Type>().values()),
        DataType::UInt64 => Indices::U64(a.as_primitive::<UInt64Type>().values()),
        _ => Indices::I64(a.as_primitive::<Int64Type>().values()),
    }
}

fn list_parts<O: OffsetSizeTrait>(l: &GenericListArray<O>) -> (Vec<usize>, ArrayRef) {
    let offs = l.value_offsets().iter().map(|o| o.as_usize()).collect();
    (offs, l.values().clone())
}

fn fixed_parts(l: &FixedSizeListArray) -> (Vec<usize>, ArrayRef) {
    // Slicing a FixedSizeListArray slices its child, so row i starts at i·size.
    let offs = (0..=l.len()).map(|i| l.value_offset_at(i)).collect();
    (offs, l.values().clone())
}

/// Splits a list column into row offsets (`rows + 1` entries) and its child values.
fn list_column(a: &ArrayRef) -> Option<(Vec<usize>, ArrayRef)> {
    match a.data_type() {
        DataType::List(_) => Some(list_parts(a.as_list::<i32>())),
        DataType::LargeList(_) => Some(list_parts(a.as_list::<i64>())),
        DataType::FixedSizeList(_, _) => Some(fixed_parts(a.as_fixed_size_list())),
        _ => None,
    }
}

impl ExpressionArrays {
    /// Extracts and checks the expression arrays of a batch. `file`/`first_row` are for messages.
    pub fn from_batch(
        batch: &arrow::record_batch::RecordBatch,
        layout: &super::ExpressionLayout,
        genes: &[String],
        file: &str,
        first_row: u64,
    ) -> Result<Self> {
        use super::ExpressionLayout as L;
        let n_rows = batch.num_rows();
        let schema = batch.schema();
        let loc = |column: &str, row: Option<u64>| Location {
            file: Some(file.into()),
            column: Some(column.into()),
            row,
            ..Default::default()
        };
        let null_err = |col: usize, a: &dyn Array| {
            let r = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0) as u64;
            Error::input(
                loc(schema.field(col).name(), Some(first_row + r)),
                format!("{} missing (null) value(s)", a.null_count()),
                "fill or remove the missing values; expression must be numeric everywhere",
            )
        };
        let cast_err = |col: usize, e: arrow::error::ArrowError| {
            Error::input(
                loc(schema.field(col).name(), None),
                format!("cannot read as numbers: {e}"),
                "store expression as float32",
            )
        };
        match layout {
            L::Wide { columns } => {
                let mut arrays = Vec::with_capacity(columns.len());
                for &c in columns {
                    let a = batch.column(c);
                    if a.null_count() > 0 {
                        return Err(null_err(c, a.as_ref()));
                    }
                    arrays.push(to_float(a).map_err(|e| cast_err(c, e))?);
                }
                Ok(ExpressionArrays {
                    arrays,
                    kind: Kind::Wide,
                    n_rows,
                    row_len: genes.len(),
                })
            }
            L::DenseList { column } => {
                let a = batch.column(*column);
                let (offsets, child) = list_column(a).expect("layout checked the list type");
                if a.null_count() > 0 {
                    return Err(null_err(*column, a.as_ref()));
                }
                if child.null_count() > 0 {
                    return Err(null_err(*column, child.as_ref()));
                }
                for r in 0..n_rows {
                    let len = offsets[r + 1] - offsets[r];
                    if len != genes.len() {
                        return Err(Error::input(
                            loc(schema.field(*column).name(), Some(first_row + r as u64)),
                            format!(
                                "the row has {len} values but there are {} genes",
                                genes.len()
                            ),
                            "every row of the expression list must have one value per gene",
                        ));
                    }
                }
                let child = to_float(&child).map_err(|e| cast_err(*column, e))?;
                let offsets = offsets[..n_rows].to_vec();
                Ok(ExpressionArrays {
                    arrays: vec![child],
                    kind: Kind::Dense { offsets },
                    n_rows,
                    row_len: genes.len(),
                })
            }
            L::SparseCsr { indices, values } => {
                let ia = batch.column(*indices);
                let va = batch.column(*values);
                let (io, ic) = list_column(ia).expect("layout checked the list type");
                let (vo, vc) = list_column(va).expect("layout checked the list type");
                for (c, a) in [(*indices, ia), (*values, va)] {
                    if a.null_count() > 0 {
                        return Err(null_err(c, a.as_ref()));
                    }
                }
                if ic.null_count() > 0 {
                    return Err(null_err(*indices, ic.as_ref()));
                }
                if vc.null_count() > 0 {
                    return Err(null_err(*values, vc.as_ref()));
                }
                // Offsets of both lists must describe the same rows; normalise both to start at 0.
                let (i0, v0) = (io[0], vo[0]);
                for r in 0..n_rows {
                    if io[r + 1] - io[r] != vo[r + 1] - vo[r] {
                        return Err(Error::input(
                            loc("indices", Some(first_row + r as u64)),
                            "'indices' and 'values' have different lengths in this row".to_string(),
                            "write one value per index in every row",
                        ));
                    }
                }
                let ic = ic.slice(i0, io[n_rows] - i0);
                let vc = vc.slice(v0, vo[n_rows] - v0);
                let vc = to_float(&vc).map_err(|e| cast_err(*values, e))?;
                let ic = match ic.data_type() {
                    DataType::UInt32 | DataType::Int32 | DataType::Int64 | DataType::UInt64 => ic,
                    _ => arrow::compute::cast(&ic, &DataType::Int64)
                        .map_err(|e| cast_err(*indices, e))?,
                };
                let offsets: Vec<usize> = io.iter().map(|&o| o - i0).collect();
                // Every index must name a gene; note whether every row's ascend (the usual
                // canonical CSR), which lets a block of genes read only its part of a row.
                let g = genes.len() as i64;
                let mut sorted_rows = true;
                let blocks = genes.len().div_ceil(POSITIONS_PER_BLOCK);
                let fits = offsets[n_rows] <= u32::MAX as usize;
                let mut block_starts: Vec<u32> =
                    Vec::with_capacity(if fits { n_rows * (blocks + 1) } else { 0 });
                with_indices!(indices_of(&ic), idx => {
                    for r in 0..n_rows {
                        let mut previous = -1i64;
                        // The next block whose start in this row is still to be recorded.
                        let mut block = 0usize;
                        for (i, &j) in idx[offsets[r]..offsets[r + 1]].iter().enumerate() {
                            let j = j.i64();
                            sorted_rows &= j > previous;
                            previous = j;
                            if fits && sorted_rows && j >= 0 {
                                while block * POSITIONS_PER_BLOCK <= j as usize && block <= blocks {
                                    block_starts.push((offsets[r] + i) as u32);
                                    block += 1;
                                }
                            }
                            if j < 0 || j >= g {
                                return Err(Error::input(
                                    loc("indices", Some(first_row + r as u64)),
                                    format!("gene index {j} is out of range (there are {g} genes)"),
                                    "indices are 0-based positions into the gene list in the 'calibra:genes' metadata",
                                ));
                            }
                        }
                        if fits && sorted_rows {
                            while block <= blocks {
                                block_starts.push(offsets[r + 1] as u32);
                                block += 1;
                            }
                        }
                    }
                });
                if !(fits && sorted_rows) {
                    block_starts = Vec::new();
                }
                Ok(ExpressionArrays {
                    arrays: vec![ic, vc],
                    kind: Kind::Csr {
                        offsets,
                        sorted_rows,
                        block_starts,
                    },
                    n_rows,
                    row_len: genes.len(),
                })
            }
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Borrowed view for the sinks.
    pub fn view(&self) -> ExpressionView<'_> {
        match &self.kind {
            Kind::Wide => ExpressionView::Wide(self.arrays.iter().map(values_of).collect()),
            Kind::Dense { offsets } => ExpressionView::Dense {
                values: values_of(&self.arrays[0]),
                offsets: offsets.clone(),
            },
            Kind::Csr {
                offsets,
                sorted_rows,
                block_starts,
            } => ExpressionView::Csr {
                offsets: offsets.clone(),
                indices: indices_of(&self.arrays[0]),
                values: values_of(&self.arrays[1]),
                sorted_rows: *sorted_rows,
                block_starts,
            },
        }
    }

    /// Σx per row in f64, each row's values added in gene order (sparse rows: stored order).
    pub fn row_totals(&self) -> Vec<f64> {
        let mut t = vec![0f64; self.n_rows];
        match self.view() {
            ExpressionView::Wide(cols) => {
                for c in &cols {
                    with_values!(c, v => {
                        for (tr, x) in t.iter_mut().zip(v.iter()) {
                            *tr += x.f64();
                        }
                    })
                }
            }
            ExpressionView::Dense { values, offsets } => with_values!(values, v => {
                for (r, tr) in t.iter_mut().enumerate() {
                    *tr = v[offsets[r]..offsets[r] + self.row_len].iter().map(|x| x.f64()).sum();
                }
            }),
            ExpressionView::Csr {
                offsets, values, ..
            } => with_values!(values, v => {
                for (r, tr) in t.iter_mut().enumerate() {
                    *tr = v[offsets[r]..offsets[r + 1]].iter().map(|x| x.f64()).sum();
                }
            }),
        }
        t
    }

    /// Replaces every stored value x of row r by `f(r, x)`, as float32 arrays.
    pub fn map_values(&mut self, f: impl Fn(usize, f64) -> f32) {
        let n_rows = self.n_rows;
        let f32_array = |out: Vec<f32>| -> ArrayRef {
            std::sync::Arc::new(arrow::array::Float32Array::from(out))
        };
        match &self.kind {
            Kind::Wide => {
                for a in self.arrays.iter_mut() {
                    let out: Vec<f32> = with_values!(values_of(a), v => {
                        v[..n_rows].iter().enumerate().map(|(r, x)| f(r, x.f64())).collect()
                    });
                    *a = f32_array(out);
                }
            }
            Kind::Dense { offsets } => {
                let out = with_values!(values_of(&self.arrays[0]), v => {
                    let mut out = vec![0f32; v.len()];
                    for (r, &start) in offsets.iter().enumerate() {
                        for k in start..start + self.row_len {
                            out[k] = f(r, v[k].f64());
                        }
                    }
                    out
                });
                self.arrays[0] = f32_array(out);
            }
            Kind::Csr { offsets, .. } => {
                let out = with_values!(values_of(&self.arrays[1]), v => {
                    let mut out = vec![0f32; v.len()];
                    for r in 0..n_rows {
                        for k in offsets[r]..offsets[r + 1] {
                            out[k] = f(r, v[k].f64());
                        }
                    }
                    out
                });
                self.arrays[1] = f32_array(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every sum handed over, by (gene, group).
    #[derive(Default, PartialEq, Debug)]
    struct Recorded(std::collections::BTreeMap<(usize, u32), Vec<(u64, u64)>>);

    impl GroupAdd for Recorded {
        fn add_sums(&mut self, j: usize, group: u32, s: f64, s2: f64) {
            let sums = self.0.entry((j, group)).or_default();
            sums.push((s.to_bits(), s2.to_bits()));
        }
        fn add_value(&mut self, j: usize, group: u32, x: f64) {
            self.add_sums(j, group, x, x * x);
        }
    }

    #[test]
    fn reading_by_row_sums_as_reading_by_group() {
        // 300 shuffled rows in 37 groups (some empty), 8 genes of values that do not add
        // exactly: the same sums, bit for bit, as each group's rows read in turn.
        let groups: Vec<u32> = (0..300u32).map(|r| (r * 97 + 13) % 41 % 37).collect();
        let rows = crate::io::groups::GroupedRows::new(&groups);
        let cols: Vec<Vec<f32>> = (0..GENES_PER_PASS)
            .map(|g| {
                (0..300)
                    .map(|r| ((r * 31 + g * 7) % 19) as f32 / 7.3 + 0.1)
                    .collect()
            })
            .collect();
        let genes: [usize; GENES_PER_PASS] = std::array::from_fn(|j| j);
        let cols_ref: [&[f32]; GENES_PER_PASS] = std::array::from_fn(|j| &cols[j][..]);
        let slots = RowSlots::of(rows.runs()).expect("many groups covering every row");
        let (mut by_row, mut by_run) = (Recorded::default(), Recorded::default());
        sums_f32_by_row(&slots, genes, cols_ref, &mut Vec::new(), &mut by_row);
        sums_f32_by_run(rows.runs(), genes, cols_ref, &mut by_run);
        assert_eq!(by_row, by_run);
        assert_eq!(by_row.0.len(), GENES_PER_PASS * 37);
        // One group, or groups covering few of the rows, are read group by group.
        assert!(RowSlots::of(rows.runs().take(1)).is_none());
        assert!(RowSlots::of(rows.runs().skip(30)).is_none());
    }
}
