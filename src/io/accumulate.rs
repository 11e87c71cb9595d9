//! Streaming accumulation of count, Σx and Σx² per (group, gene) from record batches.
//!
//! The accumulator is stored gene-major (`gene × group`), so a batch is processed in parallel
//! by giving each rayon task a disjoint range of genes: no locks and no per-thread copies of the
//! O(groups × genes) buffers. Groups are discovered while streaming (the capacity grows).

use crate::data::GroupStats;
use crate::error::{Error, Location, Result};
use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, GenericListArray, OffsetSizeTrait,
};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type,
};
use ndarray::{Array2, Axis};
use rayon::prelude::*;

/// A contiguous run of numbers in f32 or f64.
#[derive(Clone, Copy)]
pub enum Values<'a> {
    /// 32-bit floats.
    F32(&'a [f32]),
    /// 64-bit floats.
    F64(&'a [f64]),
}

impl Values<'_> {
    #[inline(always)]
    pub(super) fn get(&self, i: usize) -> f64 {
        match self {
            Values::F32(v) => v[i] as f64,
            Values::F64(v) => v[i],
        }
    }
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

impl Indices<'_> {
    #[inline(always)]
    pub(super) fn get(&self, i: usize) -> i64 {
        match self {
            Indices::U32(v) => v[i] as i64,
            Indices::I32(v) => v[i] as i64,
            Indices::I64(v) => v[i],
            Indices::U64(v) => v[i].min(i64::MAX as u64) as i64,
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
    },
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
    Dense { offsets: Vec<usize> },
    Csr { offsets: Vec<usize> },
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
        layout: &super::layout::ExpressionLayout,
        genes: &[String],
        file: &str,
        first_row: u64,
    ) -> Result<Self> {
        use super::layout::ExpressionLayout as L;
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
                // Every index must name a gene.
                let idx = indices_of(&ic);
                let g = genes.len() as i64;
                for r in 0..n_rows {
                    for k in offsets[r]..offsets[r + 1] {
                        let j = idx.get(k);
                        if j < 0 || j >= g {
                            return Err(Error::input(
                                loc("indices", Some(first_row + r as u64)),
                                format!("gene index {j} is out of range (there are {g} genes)"),
                                "indices are 0-based positions into the gene list in the 'calibra:genes' metadata",
                            ));
                        }
                    }
                }
                Ok(ExpressionArrays {
                    arrays: vec![ic, vc],
                    kind: Kind::Csr { offsets },
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

    /// Borrowed view for accumulation.
    pub fn view(&self) -> ExpressionView<'_> {
        match &self.kind {
            Kind::Wide => ExpressionView::Wide(self.arrays.iter().map(values_of).collect()),
            Kind::Dense { offsets } => ExpressionView::Dense {
                values: values_of(&self.arrays[0]),
                offsets: offsets.clone(),
            },
            Kind::Csr { offsets } => ExpressionView::Csr {
                offsets: offsets.clone(),
                indices: indices_of(&self.arrays[0]),
                values: values_of(&self.arrays[1]),
            },
        }
    }

    /// Applies normalize_total(1e4) + log1p per row (SPEC §1.4): x' = ln(1 + 1e4·x/Σx) in f64,
    /// rounded to f32; a row with Σx = 0 stays 0. Replaces the values with float32 arrays.
    pub fn normalize_rows(&mut self) {
        let totals = self.row_totals();
        let scale: Vec<f64> = totals
            .iter()
            .map(|&t| if t == 0.0 { 0.0 } else { 1e4 / t })
            .collect();
        let norm = |x: f64, s: f64| -> f32 { (x * s).ln_1p() as f32 };
        let n_rows = self.n_rows;
        match &self.kind {
            Kind::Wide => {
                for a in self.arrays.iter_mut() {
                    let v = values_of(a);
                    let out: Vec<f32> = (0..n_rows).map(|r| norm(v.get(r), scale[r])).collect();
                    *a = std::sync::Arc::new(arrow::array::Float32Array::from(out));
                }
            }
            Kind::Dense { offsets } => {
                let v = values_of(&self.arrays[0]);
                let mut out = vec![0f32; v_len(&v)];
                for r in 0..n_rows {
                    for j in 0..self.row_len {
                        let k = offsets[r] + j;
                        out[k] = norm(v.get(k), scale[r]);
                    }
                }
                self.arrays[0] = std::sync::Arc::new(arrow::array::Float32Array::from(out));
            }
            Kind::Csr { offsets } => {
                let v = values_of(&self.arrays[1]);
                let mut out = vec![0f32; v_len(&v)];
                for r in 0..n_rows {
                    for (k, o) in out
                        .iter_mut()
                        .enumerate()
                        .take(offsets[r + 1])
                        .skip(offsets[r])
                    {
                        *o = norm(v.get(k), scale[r]);
                    }
                }
                self.arrays[1] = std::sync::Arc::new(arrow::array::Float32Array::from(out));
            }
        }
    }

    /// Σx per row in f64, in gene order.
    fn row_totals(&self) -> Vec<f64> {
        let mut t = vec![0f64; self.n_rows];
        match self.view() {
            ExpressionView::Wide(cols) => {
                for c in &cols {
                    for (r, tr) in t.iter_mut().enumerate() {
                        *tr += c.get(r);
                    }
                }
            }
            ExpressionView::Dense { values, offsets } => {
                for (r, tr) in t.iter_mut().enumerate() {
                    *tr = (0..self.row_len).map(|j| values.get(offsets[r] + j)).sum();
                }
            }
            ExpressionView::Csr {
                offsets, values, ..
            } => {
                for (r, tr) in t.iter_mut().enumerate() {
                    *tr = (offsets[r]..offsets[r + 1]).map(|k| values.get(k)).sum();
                }
            }
        }
        t
    }
}

fn v_len(v: &Values<'_>) -> usize {
    match v {
        Values::F32(x) => x.len(),
        Values::F64(x) => x.len(),
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

/// What was seen in the values, for validation (SPEC §1.4).
#[derive(Debug, Clone, Default)]
pub struct ValueChecks {
    /// Number of NaN / ±Inf values.
    pub non_finite: u64,
    /// First non-finite value as (row, file gene position).
    pub first_non_finite: Option<(u64, usize)>,
    /// Number of negative values.
    pub negative: u64,
    /// First negative value as (row, file gene position, value).
    pub first_negative: Option<(u64, usize, f64)>,
    /// Every finite value is an integer.
    pub all_integer: bool,
    /// Largest finite value.
    pub max: f64,
    /// Number of values seen.
    pub n_values: u64,
}

impl ValueChecks {
    /// Nothing seen yet.
    pub fn new() -> Self {
        ValueChecks {
            all_integer: true,
            max: f64::NEG_INFINITY,
            ..Default::default()
        }
    }

    pub(super) fn see(&mut self, x: f64, row: u64, gene: usize) {
        self.n_values += 1;
        if !x.is_finite() {
            self.non_finite += 1;
            if self.first_non_finite.is_none_or(|f| (row, gene) < f) {
                self.first_non_finite = Some((row, gene));
            }
            return;
        }
        if x < 0.0 {
            self.negative += 1;
            if self.first_negative.is_none_or(|f| (row, gene) < (f.0, f.1)) {
                self.first_negative = Some((row, gene, x));
            }
        }
        if self.all_integer && x.fract() != 0.0 {
            self.all_integer = false;
        }
        if x > self.max {
            self.max = x;
        }
    }

    /// Combines the checks of two disjoint parts.
    pub fn merge(mut self, o: ValueChecks) -> ValueChecks {
        self.non_finite += o.non_finite;
        self.first_non_finite = match (self.first_non_finite, o.first_non_finite) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.negative += o.negative;
        self.first_negative = match (self.first_negative, o.first_negative) {
            (Some(a), Some(b)) => Some(if (a.0, a.1) <= (b.0, b.1) { a } else { b }),
            (a, b) => a.or(b),
        };
        self.all_integer &= o.all_integer;
        self.max = self.max.max(o.max);
        self.n_values += o.n_values;
        self
    }
}

/// One gene's column of a batch and where it goes: the gene's cells (M values per group,
/// see [`Accumulator`]) and its position in the file (for messages).
struct GeneColumn<'c, 'v> {
    cells: &'c mut [f64],
    values: Values<'v>,
    gene: usize,
}

/// Genes whose sums share one pass over the grouped rows: the row indices are read once for
/// all of them and their sums form independent chains (groups hold only a few rows of a
/// batch when cells are shuffled, so the per-group work dominates).
const GENES_PER_PASS: usize = 4;

/// Adds columns (rows grouped by `rows`) to their genes' moments per group and checks them.
/// Each gene's values are summed in the same order whichever way the genes are batched.
fn add_gene_columns<const M: usize>(
    rows: &GroupedRows,
    columns: &mut [GeneColumn<'_, '_>],
    checks: &mut ValueChecks,
    first_row: u64,
) {
    for pass in columns.chunks_mut(GENES_PER_PASS) {
        match pass {
            [a, b, c, d] => match (a.values, b.values, c.values, d.values) {
                (Values::F32(va), Values::F32(vb), Values::F32(vc), Values::F32(vd)) => rows
                    .add_sums_f32::<M, 4>(
                        [&mut *a.cells, &mut *b.cells, &mut *c.cells, &mut *d.cells],
                        [va, vb, vc, vd],
                    ),
                _ => pass.iter_mut().for_each(|c| add_sums_one::<M>(rows, c)),
            },
            _ => pass.iter_mut().for_each(|c| add_sums_one::<M>(rows, c)),
        }
    }
    for c in columns.iter() {
        check_column(c.values, rows.n_rows(), checks, first_row, c.gene);
    }
}

fn add_sums_one<const M: usize>(rows: &GroupedRows, c: &mut GeneColumn<'_, '_>) {
    match c.values {
        Values::F32(v) => rows.add_sums::<M, _>(c.cells, |r| v[r] as f64),
        Values::F64(v) => rows.add_sums::<M, _>(c.cells, |r| v[r]),
    }
}

/// Checks one column of `n` values. The common case (all finite, none negative) costs one
/// vectorised pass in the column's own precision; any anomaly is located exactly by a
/// second pass.
pub(super) fn check_column(
    col: Values<'_>,
    n: usize,
    checks: &mut ValueChecks,
    first_row: u64,
    gene: usize,
) {
    let (lo, hi, finite, integer) = match col {
        Values::F32(v) => {
            let (lo, hi, finite, integer) = checks_f32(v);
            (lo as f64, hi as f64, finite, integer)
        }
        Values::F64(v) => checks_f64(v),
    };
    if !finite {
        for r in 0..n {
            checks.see(col.get(r), first_row + r as u64, gene);
        }
        return;
    }
    if lo < 0.0 {
        // Negative values (fine in predictions): counted and located in plain passes; the
        // integer test above only holds for values ≥ 0, so it is redone while it can matter.
        let negative = (0..n).filter(|&r| col.get(r) < 0.0).count();
        let first = (0..n).find(|&r| col.get(r) < 0.0).expect("lo < 0");
        let at = (first_row + first as u64, gene, col.get(first));
        checks.negative += negative as u64;
        if checks
            .first_negative
            .is_none_or(|f| (at.0, at.1) < (f.0, f.1))
        {
            checks.first_negative = Some(at);
        }
        checks.all_integer = checks.all_integer && (0..n).all(|r| col.get(r).fract() == 0.0);
    } else {
        checks.all_integer &= integer;
    }
    checks.n_values += n as u64;
    if hi > checks.max {
        checks.max = hi;
    }
}

/// The inverse of `gene_of`: the file position of each of `n_genes` genes (`usize::MAX`: not in
/// the file).
pub(super) fn file_positions(gene_of: &[Option<usize>], n_genes: usize) -> Vec<usize> {
    let mut file_pos = vec![usize::MAX; n_genes];
    for (p, g) in gene_of.iter().enumerate() {
        if let Some(g) = *g {
            file_pos[g] = p;
        }
    }
    file_pos
}

/// The rows of a batch ordered by group, made once and shared by all its columns. Adding a
/// column then sums each group's values in registers and updates its cell once, in group
/// order, instead of one read-modify-write of a random cell per value (cells of a gene span
/// groups × 16 bytes: more than L1 for thousands of groups).
pub struct GroupedRows {
    /// Row indices by group, rows in their order within a group.
    rows: Vec<u32>,
    /// (group, end of its rows in `rows`) for each group present, ascending.
    runs: Vec<(u32, u32)>,
}

impl GroupedRows {
    /// Groups the rows of a batch (`groups[r]` is row r's group) by a counting sort.
    pub fn new(groups: &[u32]) -> Self {
        let n_groups = groups.iter().map(|&k| k as usize + 1).max().unwrap_or(0);
        let mut start = vec![0u32; n_groups + 1];
        for &k in groups {
            start[k as usize + 1] += 1;
        }
        for k in 0..n_groups {
            start[k + 1] += start[k];
        }
        let runs = (0..n_groups)
            .filter(|&k| start[k + 1] > start[k])
            .map(|k| (k as u32, start[k + 1]))
            .collect();
        let mut rows = vec![0u32; groups.len()];
        for (r, &k) in groups.iter().enumerate() {
            let slot = &mut start[k as usize];
            rows[*slot as usize] = r as u32;
            *slot += 1;
        }
        GroupedRows { rows, runs }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// (group, its rows in order) for each group present, groups ascending.
    pub fn runs(&self) -> impl Iterator<Item = (u32, &[u32])> + '_ {
        let starts = std::iter::once(0).chain(self.runs.iter().map(|&(_, end)| end as usize));
        self.runs
            .iter()
            .zip(starts)
            .map(|(&(k, end), begin)| (k, &self.rows[begin..end as usize]))
    }

    /// Adds Σx (and Σx² when M = 2) of each group's values `value(row)` to its cell.
    #[inline(always)]
    fn add_sums<const M: usize, F: Fn(usize) -> f64>(&self, cells: &mut [f64], value: F) {
        for (k, rows) in self.runs() {
            let (mut s, mut s2) = (0.0, 0.0);
            for &r in rows {
                let x = value(r as usize);
                s += x;
                s2 += x * x;
            }
            add_moments::<M>(cells, k, s, s2);
        }
    }

    /// [`GroupedRows::add_sums`] of J f32 columns in one pass over the runs.
    #[inline(always)]
    fn add_sums_f32<const M: usize, const J: usize>(
        &self,
        cells: [&mut [f64]; J],
        cols: [&[f32]; J],
    ) {
        for (k, rows) in self.runs() {
            let (mut s, mut s2) = ([0.0f64; J], [0.0f64; J]);
            for &r in rows {
                for j in 0..J {
                    let x = cols[j][r as usize] as f64;
                    s[j] += x;
                    s2[j] += x * x;
                }
            }
            for j in 0..J {
                add_moments::<M>(cells[j], k, s[j], s2[j]);
            }
        }
    }
}

/// Adds x (and x² when M = 2) to group k's cell of one gene's moments.
#[inline(always)]
fn add_value<const M: usize>(cells: &mut [f64], k: u32, x: f64) {
    add_moments::<M>(cells, k, x, x * x);
}

/// Adds s to group k's Σx (and s2 to its Σx² when M = 2).
#[inline(always)]
fn add_moments<const M: usize>(cells: &mut [f64], k: u32, s: f64, s2: f64) {
    let k = k as usize * M;
    // One bounds check for the cell; Σx and Σx² side by side share a cache line.
    let cell = &mut cells[k..k + M];
    cell[0] += s;
    if M == 2 {
        cell[1] += s2;
    }
}

/// (min, max, all finite, all integer) of a column in one pass of independent lanes, so that
/// it vectorises. `all integer` is only meaningful when the column is finite and ≥ 0 (the
/// case it is used in): adding and subtracting 2^(mantissa bits) rounds a non-negative value
/// below it to an integer; values above it are integers.
macro_rules! value_checks {
    ($name:ident, $t:ty, $two_pow_mantissa:expr) => {
        fn $name(v: &[$t]) -> ($t, $t, bool, bool) {
            const LANES: usize = 16;
            const BIG: $t = $two_pow_mantissa;
            let mut lo = [<$t>::INFINITY; LANES];
            let mut hi = [<$t>::NEG_INFINITY; LANES];
            let mut non_finite = [false; LANES];
            let mut non_integer = [false; LANES];
            let mut lane = |i: usize, x: $t| {
                lo[i] = if x < lo[i] { x } else { lo[i] };
                hi[i] = if x > hi[i] { x } else { hi[i] };
                non_finite[i] |= !x.is_finite();
                non_integer[i] |= x < BIG && (x + BIG) - BIG != x;
            };
            let mut chunks = v.chunks_exact(LANES);
            for c in &mut chunks {
                for (i, &x) in c.iter().enumerate() {
                    lane(i, x);
                }
            }
            for &x in chunks.remainder() {
                lane(0, x);
            }
            (
                lo.iter().copied().fold(<$t>::INFINITY, <$t>::min),
                hi.iter().copied().fold(<$t>::NEG_INFINITY, <$t>::max),
                !non_finite.iter().any(|&b| b),
                !non_integer.iter().any(|&b| b),
            )
        }
    };
}
value_checks!(checks_f32, f32, 8_388_608.0);
value_checks!(checks_f64, f64, 4_503_599_627_370_496.0);

/// A disjoint range of genes of an [`Accumulator`], for adding columns from one thread.
pub struct SlabMut<'a> {
    first_gene: usize,
    n_genes: usize,
    cap: usize,
    moments: usize,
    cells: &'a mut [f64],
}

impl SlabMut<'_> {
    /// First gene of the slab.
    pub fn first_gene(&self) -> usize {
        self.first_gene
    }

    /// Number of genes in the slab.
    pub fn n_genes(&self) -> usize {
        self.n_genes
    }

    /// Adds `cols[i]` (one value per row) to gene `first_gene + i`; rows are grouped by
    /// `rows` (and counted already by [`Accumulator::count_rows`]).
    pub fn add_columns(
        &mut self,
        rows: &GroupedRows,
        cols: &[Values<'_>],
        first_row: u64,
    ) -> ValueChecks {
        let mut checks = ValueChecks::new();
        let gene_len = self.cap * self.moments;
        if gene_len == 0 {
            return checks;
        }
        let mut columns: Vec<GeneColumn> = self
            .cells
            .chunks_mut(gene_len)
            .zip(cols)
            .enumerate()
            .map(|(i, (cells, &values))| GeneColumn {
                cells,
                values,
                gene: self.first_gene + i,
            })
            .collect();
        if self.moments == 2 {
            add_gene_columns::<2>(rows, &mut columns, &mut checks, first_row);
        } else {
            add_gene_columns::<1>(rows, &mut columns, &mut checks, first_row);
        }
        checks
    }
}

/// Gene-major sufficient statistics with a growing number of groups.
///
/// Each block holds [`GENES_PER_BLOCK`] genes (the last block fewer), each gene `cap` groups
/// of `moments` values: Σx, then Σx² when the second moment is kept. Keeping a group's Σx and
/// Σx² side by side makes the scatter of a value touch one cache line instead of two. Blocks
/// are separate allocations so that each parallel task owns one, and so that turning the
/// statistics group-major frees them one by one instead of holding both copies whole.
pub struct Accumulator {
    n_genes: usize,
    cap: usize,
    moments: usize,
    count: Vec<u64>,
    blocks: Vec<Vec<f64>>,
}

/// Genes per block of an [`Accumulator`], the unit of parallel work: enough work per task,
/// few enough tasks to balance, and a block of a few thousand groups fits in L2/L3.
pub const GENES_PER_BLOCK: usize = 64;

impl Accumulator {
    /// An empty accumulator of count, Σx and Σx² over `n_genes` genes.
    pub fn new(n_genes: usize) -> Self {
        Self::with_moments(n_genes, 2)
    }

    /// An empty accumulator of count and Σx only (for tables whose second moments nobody
    /// reads: predictions), at half the memory.
    pub fn sums_only(n_genes: usize) -> Self {
        Self::with_moments(n_genes, 1)
    }

    fn with_moments(n_genes: usize, moments: usize) -> Self {
        Accumulator {
            n_genes,
            cap: 0,
            moments,
            count: Vec::new(),
            blocks: (0..n_genes.div_ceil(GENES_PER_BLOCK))
                .map(|_| Vec::new())
                .collect(),
        }
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
        let (old_len, new_len) = (self.cap * self.moments, new_cap * self.moments);
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

    /// Counts the rows of a batch in their groups (growing capacity as needed); the values are
    /// then added slab by slab with [`Accumulator::slabs_mut`].
    pub fn count_rows(&mut self, groups: &[u32]) {
        let n_groups = groups.iter().map(|&k| k as usize + 1).max().unwrap_or(0);
        self.ensure_groups(n_groups);
        for &k in groups {
            self.count[k as usize] += 1;
        }
    }

    /// The blocks of [`GENES_PER_BLOCK`] genes as disjoint mutable slabs (parallel
    /// iterator).
    pub fn slabs_mut(&mut self) -> impl IndexedParallelIterator<Item = SlabMut<'_>> {
        let (cap, moments, n_genes) = (self.cap, self.moments, self.n_genes);
        self.blocks
            .par_iter_mut()
            .enumerate()
            .map(move |(b, cells)| SlabMut {
                first_gene: b * GENES_PER_BLOCK,
                n_genes: GENES_PER_BLOCK.min(n_genes - b * GENES_PER_BLOCK),
                cap,
                moments,
                cells,
            })
    }

    /// Adds a batch. `groups[r]` is row r's group; `gene_of[file position]` is the accumulator
    /// gene (or `None` to ignore that file gene); `first_row` numbers rows for messages.
    pub fn add(
        &mut self,
        groups: &[u32],
        view: &ExpressionView<'_>,
        gene_of: &[Option<usize>],
        first_row: u64,
    ) -> ValueChecks {
        if self.moments == 2 {
            self.add_batch::<2>(groups, view, gene_of, first_row)
        } else {
            self.add_batch::<1>(groups, view, gene_of, first_row)
        }
    }

    fn add_batch<const M: usize>(
        &mut self,
        groups: &[u32],
        view: &ExpressionView<'_>,
        gene_of: &[Option<usize>],
        first_row: u64,
    ) -> ValueChecks {
        self.count_rows(groups);
        let file_pos = file_positions(gene_of, self.n_genes);
        let gene_len = self.cap * M;
        if gene_len == 0 {
            // An empty first batch: no group yet, nothing to add.
            return ValueChecks::new();
        }
        let n_genes = self.n_genes;
        let grouped = matches!(view, ExpressionView::Wide(_)).then(|| GroupedRows::new(groups));
        self.blocks
            .par_iter_mut()
            .enumerate()
            .map(|(t, cells)| {
                let g0 = t * GENES_PER_BLOCK;
                let g1 = (g0 + GENES_PER_BLOCK).min(n_genes);
                let mut checks = ValueChecks::new();
                match view {
                    ExpressionView::Wide(cols) => {
                        let mut columns: Vec<GeneColumn> = cells
                            .chunks_mut(gene_len)
                            .zip(&file_pos[g0..g1])
                            .filter(|(_, &p)| p != usize::MAX)
                            .map(|(cells, &p)| GeneColumn {
                                cells,
                                values: cols[p],
                                gene: p,
                            })
                            .collect();
                        let rows = grouped.as_ref().expect("wide view");
                        add_gene_columns::<M>(rows, &mut columns, &mut checks, first_row);
                    }
                    ExpressionView::Dense { values, offsets } => {
                        for g in g0..g1 {
                            let p = file_pos[g];
                            if p == usize::MAX {
                                continue;
                            }
                            let gene = &mut cells[(g - g0) * gene_len..][..gene_len];
                            for (r, &k) in groups.iter().enumerate() {
                                let x = values.get(offsets[r] + p);
                                checks.see(x, first_row + r as u64, p);
                                add_value::<M>(gene, k, x);
                            }
                        }
                    }
                    ExpressionView::Csr {
                        offsets,
                        indices,
                        values,
                    } => {
                        for (r, &k) in groups.iter().enumerate() {
                            for i in offsets[r]..offsets[r + 1] {
                                let p = indices.get(i) as usize;
                                let Some(g) = gene_of[p] else { continue };
                                if g < g0 || g >= g1 {
                                    continue;
                                }
                                let x = values.get(i);
                                checks.see(x, first_row + r as u64, p);
                                add_value::<M>(&mut cells[(g - g0) * gene_len..], k, x);
                            }
                        }
                    }
                }
                checks
            })
            .reduce(ValueChecks::new, ValueChecks::merge)
    }

    /// The statistics as `GroupStats`, rows in the order of `group_order` (accumulator group
    /// indices; groups never seen are zero rows). Needs an accumulator with Σx².
    pub fn into_group_stats(self, group_order: &[Option<usize>]) -> GroupStats {
        self.into_group_stats_many(&[group_order])
            .pop()
            .expect("one order")
    }

    /// [`Accumulator::into_group_stats`] for several row orders (one per context) at once.
    pub fn into_group_stats_many(self, orders: &[&[Option<usize>]]) -> Vec<GroupStats> {
        assert_eq!(self.moments, 2, "into_group_stats needs the second moments");
        let counts: Vec<Vec<u64>> = orders.iter().map(|o| self.counts_of(o)).collect();
        self.into_group_major::<2>(orders)
            .into_iter()
            .zip(counts)
            .map(|([sum, sum_sq], count)| GroupStats { count, sum, sum_sq })
            .collect()
    }

    /// Counts and Σx only (output row i = accumulator group `group_order[i]`).
    pub fn into_group_sums(self, group_order: &[Option<usize>]) -> (Vec<u64>, Array2<f64>) {
        let count = self.counts_of(group_order);
        let [sum] = self
            .into_group_major::<1>(&[group_order])
            .pop()
            .expect("one order");
        (count, sum)
    }

    fn counts_of(&self, group_order: &[Option<usize>]) -> Vec<u64> {
        group_order
            .iter()
            .map(|src| src.and_then(|k| self.count.get(k).copied()).unwrap_or(0))
            .collect()
    }

    /// Transposes the first N moments (Σx, then Σx²) to groups × genes, one array per moment
    /// and row order: parallel over the blocks, each block's columns copied row by row (its
    /// genes' cells are read as parallel streams) and then freed, so the group-major arrays
    /// grow as the accumulator shrinks.
    fn into_group_major<const N: usize>(
        self,
        orders: &[&[Option<usize>]],
    ) -> Vec<[Array2<f64>; N]> {
        assert!(N <= self.moments, "moment not kept");
        let (gene_len, m, n_groups) = (self.cap * self.moments, self.moments, self.count.len());
        let mut out: Vec<[Array2<f64>; N]> = orders
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
                            *x = block[j * gene_len + k * m + *moment];
                        }
                    }
                }
                drop(block);
            });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let map: Vec<Option<usize>> = (0..3).map(Some).collect();
        let mut a = Accumulator::new(3);
        let ca = a.add(&groups, &wide, &map, 0);
        let idx = [0u32, 2, 1, 0];
        let val = [1.0f32, 0.5, 3.0, 2.0];
        let csr = ExpressionView::Csr {
            offsets: vec![0, 2, 3, 4],
            indices: Indices::U32(&idx),
            values: Values::F32(&val),
        };
        let mut b = Accumulator::new(3);
        b.add(&groups, &csr, &map, 0);
        let order = [Some(0), Some(1)];
        let s = a.into_group_stats(&order);
        assert_eq!(s, b.into_group_stats(&order));
        assert_eq!(s.count, vec![2, 1]);
        assert_eq!(s.sum[[0, 0]], 3.0);
        assert_eq!(s.sum_sq[[0, 0]], 5.0);
        assert!(!ca.all_integer);
        assert_eq!(ca.max, 3.0);
    }

    #[test]
    fn sums_only_keeps_the_same_sums() {
        let cols = [vec![1.0f32, 2.0, 4.0, 8.0], vec![0.5f32, 0.0, 0.25, 3.0]];
        let view = ExpressionView::Wide(cols.iter().map(|c| Values::F32(c)).collect());
        let groups = [2u32, 0, 2, 1];
        let map = vec![Some(1), Some(0)];
        let mut full = Accumulator::new(2);
        let mut sums = Accumulator::sums_only(2);
        full.add(&groups, &view, &map, 0);
        sums.add(&groups, &view, &map, 0);
        let order = [Some(2), None, Some(0), Some(1)];
        let s = full.into_group_stats(&order);
        assert_eq!(
            (s.count.clone(), s.sum.clone()),
            sums.into_group_sums(&order)
        );
        assert_eq!(s.count, vec![2, 0, 1, 1]);
        assert_eq!(s.sum.row(0).to_vec(), vec![0.75, 5.0]);
        assert_eq!(s.sum_sq.row(0).to_vec(), vec![0.3125, 17.0]);
    }

    #[test]
    fn blocks_and_growth_keep_every_gene() {
        // 150 genes (three blocks, the last partial), groups growing over three batches, and
        // F32 columns in passes of four plus a remainder: every sum equals the naive one.
        let (n_genes, n_groups) = (150usize, 45u32);
        let map: Vec<Option<usize>> = (0..n_genes).map(Some).collect();
        let mut acc = Accumulator::new(n_genes);
        let mut want = Array2::<f64>::zeros((n_groups as usize, n_genes));
        let mut want_sq = Array2::<f64>::zeros((n_groups as usize, n_genes));
        let mut row = 0u64;
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
            acc.add(&groups, &view, &map, row);
            row += 60;
        }
        let order: Vec<Option<usize>> = (0..n_groups as usize).map(Some).collect();
        let s = acc.into_group_stats(&order);
        assert_eq!(s.sum, want);
        assert_eq!(s.sum_sq, want_sq);
    }

    #[test]
    fn groups_grow_across_batches() {
        let map = vec![Some(0)];
        let mut a = Accumulator::new(1);
        for k in 0..40u32 {
            let v = [k as f32];
            a.add(
                &[k],
                &ExpressionView::Wide(vec![Values::F32(&v)]),
                &map,
                k as u64,
            );
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
        let map = vec![Some(0), Some(1)];
        let mut a = Accumulator::new(2);
        let ch = a.add(
            &[0, 0],
            &ExpressionView::Wide(vec![Values::F32(&c0), Values::F32(&c1)]),
            &map,
            10,
        );
        assert_eq!(ch.non_finite, 1);
        assert_eq!(ch.first_non_finite, Some((11, 0)));
        assert_eq!(ch.first_negative, Some((10, 1, -1.0)));
    }
}
