//! Row grouping: which group each row of a table belongs to, and the rows of a batch ordered
//! by group.
//!
//! Observed cells and predictions share one path: each row's key columns (context and label;
//! model, context and label) are interned to a dense group id in order of first appearance
//! ([`GroupKeys`]). Cells then split each label into its GT / TD halves and check folds
//! ([`RowGrouper`]); the sinks see only group numbers, as [`GroupedRows`].

use super::columns::{for_each_str, int_column, Interner};
use crate::design::Split;
use crate::error::{Error, Location, Result};
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;

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
    pub fn runs(&self) -> impl Iterator<Item = (u32, &[u32])> + Clone + '_ {
        let starts = std::iter::once(0).chain(self.runs.iter().map(|&(_, end)| end as usize));
        self.runs
            .iter()
            .zip(starts)
            .map(|(&(k, end), begin)| (k, &self.rows[begin..end as usize]))
    }
}

/// One part of a row's key: a string column of the table, or one value for every row when the
/// table has no such column.
pub enum KeyPart<'a> {
    /// The string column at this position of the key batch; `empty` is the (message, remedy)
    /// of the error for an empty string, when empty strings are not allowed.
    Column {
        /// Position of the column in the batch of key columns.
        at: usize,
        /// Error for an empty value, if empty values are refused.
        empty: Option<(&'static str, &'static str)>,
    },
    /// The same value for every row.
    Constant(&'a str),
}

/// Rows keyed by N strings (e.g. context and label), interned to dense group ids in order of
/// first appearance. Each part has its own [`Interner`]; a key is the tuple of part ids.
#[derive(Default)]
pub struct GroupKeys<const N: usize> {
    parts: Vec<Interner>,
    ids: HashMap<[u32; N], u32>,
    keys: Vec<[u32; N]>,
}

impl<const N: usize> GroupKeys<N> {
    /// No key yet.
    pub fn new() -> Self {
        GroupKeys {
            parts: (0..N).map(|_| Interner::default()).collect(),
            ids: HashMap::new(),
            keys: Vec::new(),
        }
    }

    /// The group id of each row of `batch`; parts are read in order (a part's errors come
    /// before the next part's), rows are numbered from `first_row` for messages.
    pub fn batch_ids(
        &mut self,
        batch: &RecordBatch,
        parts: &[KeyPart<'_>; N],
        file: &str,
        first_row: u64,
    ) -> Result<Vec<u32>> {
        let n = batch.num_rows();
        let schema = batch.schema();
        let mut part_ids = vec![[0u32; N]; n];
        for (j, part) in parts.iter().enumerate() {
            let interner = &mut self.parts[j];
            match part {
                KeyPart::Constant(value) => {
                    let id = interner.intern(value);
                    part_ids.iter_mut().for_each(|ids| ids[j] = id);
                }
                KeyPart::Column { at, empty } => {
                    let name = schema.field(*at).name().clone();
                    for_each_str(batch.column(*at), file, &name, first_row, |i, s| {
                        if let (true, Some((message, remedy))) = (s.is_empty(), empty) {
                            return Err(Error::input(
                                Location {
                                    file: Some(file.into()),
                                    column: Some(name.clone()),
                                    row: Some(first_row + i as u64),
                                    ..Default::default()
                                },
                                *message,
                                *remedy,
                            ));
                        }
                        part_ids[i][j] = interner.intern(s);
                        Ok(())
                    })?;
                }
            }
        }
        Ok(part_ids.into_iter().map(|key| self.id(key)).collect())
    }

    fn id(&mut self, key: [u32; N]) -> u32 {
        let next = self.keys.len() as u32;
        let id = *self.ids.entry(key).or_insert(next);
        if id == next {
            self.keys.push(key);
        }
        id
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True before the first row.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The strings of group `id`'s key.
    pub fn key(&self, id: u32) -> [&str; N] {
        let key = &self.keys[id as usize];
        std::array::from_fn(|j| self.parts[j].names()[key[j] as usize].as_str())
    }

    /// The id of a key given by its part ids, if seen.
    pub fn get(&self, key: [u32; N]) -> Option<u32> {
        self.ids.get(&key).copied()
    }

    /// The distinct values of part `j`, by part id.
    pub fn part(&self, j: usize) -> &Interner {
        &self.parts[j]
    }

    /// Every key as part ids, by group id.
    pub fn keys(&self) -> &[[u32; N]] {
        &self.keys
    }
}

/// Observed cells' labels: (context, label) keys.
pub type Labels = GroupKeys<2>;

/// The key of an observed cell: context (or "" without a context column), then label.
pub fn cell_key_parts(context: Option<usize>, label: usize) -> [KeyPart<'static>; 2] {
    [
        context.map_or(KeyPart::Constant(""), |at| KeyPart::Column {
            at,
            empty: None,
        }),
        KeyPart::Column {
            at: label,
            empty: Some((
                "empty perturbation label",
                "give every cell a label (controls included)",
            )),
        },
    ]
}

/// The split word of a fold code made from a split column (val and excluded share a code).
pub fn fold_side(fold: i64) -> &'static str {
    Split::ALL
        .iter()
        .find(|s| s.fold() == fold)
        .map_or("?", |s| s.as_str())
}

/// Positions of the label, half, fold and context columns in a batch of key columns.
pub struct MetaColumns {
    /// Label column.
    pub label: usize,
    /// Half column, if any.
    pub half: Option<usize>,
    /// Fold column, if any.
    pub fold: Option<usize>,
    /// Split column (train / val / test), if any; its values become folds.
    pub split: Option<usize>,
    /// Context column, if any.
    pub context: Option<usize>,
}

impl MetaColumns {
    /// The schema indices of a table's label, half, fold, split and context columns (those
    /// present, in that order) and their positions in a batch of those columns.
    pub fn project(
        label: usize,
        half: Option<usize>,
        fold: Option<usize>,
        split: Option<usize>,
        context: Option<usize>,
    ) -> (Vec<usize>, MetaColumns) {
        let mut columns = vec![label];
        let mut at = |c: Option<usize>| {
            c.map(|c| {
                columns.push(c);
                columns.len() - 1
            })
        };
        let meta = MetaColumns {
            label: 0,
            half: at(half),
            fold: at(fold),
            split: at(split),
            context: at(context),
        };
        (columns, meta)
    }
}

/// Turns each row's label, half and context into its accumulator group (2·label id + half),
/// checking halves and folds on the way.
pub struct RowGrouper {
    /// The file's display name, for messages.
    pub file: String,
    /// (context, label) ids.
    pub labels: Labels,
    /// Per label, GT/TD of its cells in file order (when halves are assigned by calibra).
    pub half_masks: Option<Vec<Vec<bool>>>,
    seen_in_label: Vec<usize>,
    /// Fold per label id, with the first row that gave it.
    pub fold_of: Vec<Option<(i64, u64)>>,
    /// Only these rows are summed; the others go to the given group, above every label's
    /// (their halves and folds still count, so that row ranges of a file agree).
    pub keep_rows: Option<(std::ops::Range<u64>, u32)>,
    meta: MetaColumns,
}

impl RowGrouper {
    /// A grouper for batches of key columns laid out as `meta`, with the labels seen so far.
    pub fn new(
        file: String,
        labels: Labels,
        half_masks: Option<Vec<Vec<bool>>>,
        meta: MetaColumns,
    ) -> Self {
        RowGrouper {
            file,
            labels,
            half_masks,
            seen_in_label: Vec::new(),
            fold_of: Vec::new(),
            keep_rows: None,
            meta,
        }
    }

    /// The group of each row of a batch of key columns (rows numbered from `row`).
    pub fn group_rows(&mut self, batch: &RecordBatch, row: u64) -> Result<Vec<u32>> {
        let file = self.file.clone();
        let meta = &self.meta;
        let n = batch.num_rows();
        let parts = cell_key_parts(meta.context, meta.label);
        let ids = self.labels.batch_ids(batch, &parts, &file, row)?;
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
        let folds = if let Some(fc) = meta.fold {
            let name = batch.schema().field(fc).name().clone();
            Some((
                int_column(batch.column(fc), &file, &name, row)?,
                name,
                "fold",
            ))
        } else if let Some(sc) = meta.split {
            let name = batch.schema().field(sc).name().clone();
            let mut codes = vec![0i64; n];
            for_each_str(batch.column(sc), &file, &name, row, |i, s| {
                codes[i] = Split::parse(s)
                    .ok_or_else(|| {
                        Error::input(
                            Location {
                                file: Some(file.clone()),
                                column: Some(name.clone()),
                                row: Some(row + i as u64),
                                ..Default::default()
                            },
                            format!("split value '{s}' is not a split"),
                            format!("use one of {}", Split::expected()),
                        )
                    })?
                    .fold();
                Ok(())
            })?;
            Some((codes, name, "split"))
        } else {
            None
        };
        if let Some((folds, name, what)) = folds {
            for (i, (&id, &f)) in ids.iter().zip(&folds).enumerate() {
                let id = id as usize;
                if self.fold_of.len() <= id {
                    self.fold_of.resize(id + 1, None);
                }
                match self.fold_of[id] {
                    None => self.fold_of[id] = Some((f, row + i as u64)),
                    Some((f0, r0)) if f0 != f => {
                        let word = |f: i64| {
                            if what == "fold" {
                                f.to_string()
                            } else {
                                fold_side(f).to_string()
                            }
                        };
                        return Err(Error::input(
                            Location {
                                file: Some(file.clone()),
                                column: Some(name.clone()),
                                row: Some(row + i as u64),
                                ..Default::default()
                            },
                            format!(
                                "perturbation '{}' has {what} {} at row {r0} but {what} {} here",
                                self.labels.key(id as u32)[1],
                                word(f0),
                                word(f)
                            ),
                            format!("a perturbation's cells must all have the same {what}"),
                        ));
                    }
                    _ => {}
                }
            }
        }
        if let Some((keep, outside)) = &self.keep_rows {
            for (i, g) in groups.iter_mut().enumerate() {
                if !keep.contains(&(row + i as u64)) {
                    *g = *outside;
                }
            }
        }
        Ok(groups)
    }
}
