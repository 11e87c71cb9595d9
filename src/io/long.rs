//! The long (COO) layout: one row per (cell, gene) with columns `cell`, `gene`, `value` and
//! the cell's other columns (perturbation, context, …) repeated on its rows — how counts come
//! out of SQL tables and `melt`. Rows must be sorted by cell.
//!
//! A long table is read through [`LongTable`], which presents it as the sparse-CSR layout
//! calibra already reads (one row per cell: the cell's columns, `indices`, `values`, and the
//! gene names in the schema metadata), so grouping, checks and sinks are unchanged. It streams:
//! memory is one batch of rows plus the cell that straddles two batches; the order check keeps
//! only the previous cell, so sortedness (not just grouping) is required.

use super::columns::for_each_str;
use super::layout::{is_text, GENES_METADATA_KEY};
use super::table::{Batches, TableReader};
use crate::error::{Error, Location, Result};
use arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, UInt32Array};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::sync::Arc;

/// The columns that make a table long: the cell, the measured gene and its value.
pub const LONG_COLUMNS: [&str; 3] = ["cell", "gene", "value"];

/// Schema metadata key marking a table read through [`LongTable`] (for the manifest's layout).
pub const LONG_LAYOUT_KEY: &str = "calibra:layout";

/// Long rows per read of the underlying table when collecting gene names.
const ROWS_PER_READ: usize = 1 << 16;

/// Long rows read per batch of cells asked for: a cell has up to thousands of rows.
const ROWS_PER_CELL_GUESS: usize = 16;

/// A long table seen as one row per cell.
pub struct LongTable {
    name: String,
    inner: Box<dyn TableReader>,
    /// Inner schema indices of `cell`, `gene`, `value`.
    cell: usize,
    gene: usize,
    value: usize,
    /// Inner schema indices of the cell's other columns, in order: outer columns 0..n.
    obs: Vec<usize>,
    genes: Vec<String>,
    /// Gene name → index, when the gene column holds names.
    gene_index: Option<HashMap<String, u32>>,
    schema: SchemaRef,
}

impl LongTable {
    /// Wraps `inner` when its schema is long (`cell`, `gene`, `value` present); `None`
    /// otherwise. Without the gene names in the schema metadata, one pass over the gene column
    /// collects them (sorted).
    pub fn wrap(
        name: &str,
        inner: Box<dyn TableReader>,
    ) -> Result<std::result::Result<Self, Box<dyn TableReader>>> {
        let schema = inner.schema();
        let find = |n: &str| schema.index_of(n).ok();
        let (Some(cell), Some(gene), Some(value)) = (find("cell"), find("gene"), find("value"))
        else {
            return Ok(Err(inner));
        };
        let col_err = |c: &str, message: String, remedy: &str| {
            Error::input(
                Location {
                    file: Some(name.into()),
                    column: Some(c.into()),
                    ..Default::default()
                },
                message,
                remedy,
            )
        };
        let value_type = schema.field(value).data_type();
        if !(value_type.is_integer() || value_type.is_floating()) {
            return Err(col_err(
                "value",
                format!("the value column of a long table has type {value_type}, expected numbers"),
                "store expression values as floats (or integer counts)",
            ));
        }
        let gene_type = schema.field(gene).data_type().clone();
        let listed: Option<Vec<String>> = match schema.metadata().get(GENES_METADATA_KEY) {
            Some(s) => Some(serde_json::from_str(s).map_err(|e| {
                Error::in_file(
                    name,
                    format!("schema metadata '{GENES_METADATA_KEY}' is not a JSON array of strings: {e}"),
                    "write the gene names as a JSON array, e.g. [\"GENE1\", \"GENE2\"]",
                )
            })?),
            None => None,
        };
        let (genes, gene_index) = if gene_type.is_integer() {
            let genes = listed.ok_or_else(|| {
                col_err(
                    "gene",
                    "the gene column holds numbers, but the schema metadata has no gene names".into(),
                    &format!("store gene names in the gene column, or list them under the schema metadata key '{GENES_METADATA_KEY}'"),
                )
            })?;
            (genes, None)
        } else if is_text(&gene_type) {
            let genes = match listed {
                Some(g) => g,
                None => distinct_genes(name, inner.as_ref(), gene)?,
            };
            let index = genes
                .iter()
                .enumerate()
                .map(|(i, g)| (g.clone(), i as u32))
                .collect();
            (genes, Some(index))
        } else {
            return Err(col_err(
                "gene",
                format!(
                    "the gene column of a long table has type {gene_type}, expected gene names"
                ),
                "store gene names as strings",
            ));
        };
        let cell_type = schema.field(cell).data_type();
        if !(cell_type.is_integer() || is_text(cell_type)) {
            return Err(col_err(
                "cell",
                format!(
                    "the cell column has type {cell_type}, expected cell ids (text or integers)"
                ),
                "store cell ids as strings or integers",
            ));
        }
        let obs: Vec<usize> = (0..schema.fields().len())
            .filter(|i| ![cell, gene, value].contains(i))
            .collect();
        let mut fields: Vec<Field> = obs.iter().map(|&i| schema.field(i).clone()).collect();
        fields.push(Field::new_list(
            "indices",
            Field::new_list_field(DataType::UInt32, false),
            false,
        ));
        fields.push(Field::new_list(
            "values",
            Field::new_list_field(DataType::Float64, false),
            false,
        ));
        let mut metadata = schema.metadata().clone();
        metadata.insert(
            GENES_METADATA_KEY.to_string(),
            serde_json::to_string(&genes).unwrap_or_default(),
        );
        metadata.insert(LONG_LAYOUT_KEY.to_string(), "long".to_string());
        let outer = Arc::new(Schema::new(fields).with_metadata(metadata));
        Ok(Ok(LongTable {
            name: name.to_string(),
            inner,
            cell,
            gene,
            value,
            obs,
            genes,
            gene_index,
            schema: outer,
        }))
    }
}

/// The distinct names of the gene column, sorted.
fn distinct_genes(name: &str, inner: &dyn TableReader, gene: usize) -> Result<Vec<String>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut row = 0u64;
    for item in inner.batches(Some(&[gene]), ROWS_PER_READ)? {
        let (batch, _) = item?;
        for_each_str(batch.column(0), name, "gene", row, |_, g| {
            if !seen.contains(g) {
                seen.insert(g.to_string());
            }
            Ok(())
        })?;
        row += batch.num_rows() as u64;
    }
    Ok(seen.into_iter().collect())
}

/// A cell id: comparable, for the order check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum CellId {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for CellId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellId::Int(i) => write!(f, "{i}"),
            CellId::Text(s) => write!(f, "'{s}'"),
        }
    }
}

/// The cell being assembled: its id, its columns (one row) and its genes and values.
struct Pending {
    id: CellId,
    obs: RecordBatch,
    entries: Vec<(u32, f64, u64)>,
}

/// Streams cells out of long rows.
struct CellStream<'t> {
    table: &'t LongTable,
    rows: Batches<'t>,
    /// Outer obs columns asked for (positions in `LongTable::obs`), and whether the lists are.
    obs_wanted: Vec<usize>,
    lists_wanted: bool,
    out_schema: SchemaRef,
    pending: Option<Pending>,
    /// Row number (in the long table) of the next row.
    row: u64,
    done: bool,
}

impl LongTable {
    fn error_at(&self, column: &str, row: u64, message: String, remedy: &str) -> Error {
        Error::input(
            Location {
                file: Some(self.name.clone()),
                column: Some(column.into()),
                row: Some(row),
                ..Default::default()
            },
            message,
            remedy,
        )
    }
}

impl CellStream<'_> {
    /// Turns the next read of long rows into a batch of whole cells (none when every row
    /// belongs to the cell still being assembled).
    fn next_cells(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let t = self.table;
        let n = batch.num_rows();
        // Columns by name: formats return projections in their own order.
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| Error::Internal(format!("long table: column '{name}' not read")))
        };
        let ids = cell_ids(&t.name, &column("cell")?, self.row)?;
        let genes: Vec<u32> = self.gene_indices(&column("gene")?, self.row)?;
        let values = arrow::compute::cast(&column("value")?, &DataType::Float64).map_err(|e| {
            t.error_at(
                "value",
                self.row,
                format!("cannot read as numbers: {e}"),
                "store values as floats",
            )
        })?;
        let values = values.as_primitive::<Float64Type>();
        if values.null_count() > 0 {
            let r = (0..n).find(|&i| values.is_null(i)).unwrap_or(0);
            return Err(t.error_at(
                "value",
                self.row + r as u64,
                "missing value".into(),
                "every (cell, gene) row needs a value",
            ));
        }
        let obs_fields: Vec<Field> = self
            .out_schema
            .fields()
            .iter()
            .take(self.obs_wanted.len())
            .map(|f| (**f).clone())
            .collect();
        let obs_columns = obs_fields
            .iter()
            .map(|f| column(f.name()))
            .collect::<Result<Vec<_>>>()?;
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(n));
        let obs = RecordBatch::try_new_with_options(
            Arc::new(Schema::new(obs_fields)),
            obs_columns,
            &options,
        )
        .map_err(|e| Error::Internal(format!("long table obs columns: {e}")))?;
        let mut finished: Vec<Pending> = Vec::new();
        for r in 0..n {
            let id = &ids[r];
            let row = self.row + r as u64;
            let same = self.pending.as_ref().is_some_and(|p| &p.id == id);
            if !same {
                if let Some(p) = self.pending.take() {
                    if *id < p.id {
                        return Err(t.error_at(
                            "cell",
                            row,
                            format!("the long table is not sorted by cell: cell {id} comes after cell {}", p.id),
                            "sort the rows by cell (e.g. pandas: df.sort_values('cell'); SQL: ORDER BY cell)",
                        ));
                    }
                    finished.push(p);
                }
                self.pending = Some(Pending {
                    id: id.clone(),
                    obs: obs.slice(r, 1),
                    entries: Vec::new(),
                });
            }
            let p = self.pending.as_mut().expect("set above");
            p.entries.push((genes[r], values.value(r), row));
        }
        self.row += n as u64;
        if finished.is_empty() {
            return Ok(None);
        }
        self.assemble(finished).map(Some)
    }

    fn gene_indices(&self, a: &ArrayRef, first_row: u64) -> Result<Vec<u32>> {
        let t = self.table;
        match &t.gene_index {
            Some(index) => {
                let mut ids = Vec::with_capacity(a.len());
                for_each_str(a, &t.name, "gene", first_row, |i, g| {
                    let id = index.get(g).copied().ok_or_else(|| {
                        t.error_at(
                            "gene",
                            first_row + i as u64,
                            format!("gene '{g}' is not in the schema metadata's gene list"),
                            "list every gene under the schema metadata key, or drop it",
                        )
                    })?;
                    ids.push(id);
                    Ok(())
                })?;
                Ok(ids)
            }
            None => {
                let ix = arrow::compute::cast(a, &DataType::Int64).map_err(|e| {
                    t.error_at(
                        "gene",
                        first_row,
                        format!("cannot read as integers: {e}"),
                        "store gene indices as integers",
                    )
                })?;
                ix.as_primitive::<Int64Type>()
                    .iter()
                    .enumerate()
                    .map(|(i, g)| match g {
                        Some(g) if g >= 0 && (g as usize) < t.genes.len() => Ok(g as u32),
                        _ => Err(t.error_at(
                            "gene",
                            first_row + i as u64,
                            format!(
                                "gene index {g:?} is outside the {} genes of the metadata",
                                t.genes.len()
                            ),
                            "gene indices count from 0 in the schema metadata's gene list",
                        )),
                    })
                    .collect()
            }
        }
    }

    /// One batch of whole cells: their columns and CSR lists (genes sorted; a gene twice in a
    /// cell is an error).
    fn assemble(&self, cells: Vec<Pending>) -> Result<RecordBatch> {
        let t = self.table;
        let mut offsets = vec![0i32];
        let mut indices: Vec<u32> = Vec::new();
        let mut values: Vec<f64> = Vec::new();
        for c in &cells {
            let mut e = c.entries.clone();
            e.sort_unstable_by_key(|x| (x.0, x.2));
            for w in e.windows(2) {
                if w[0].0 == w[1].0 {
                    return Err(t.error_at(
                        "gene",
                        w[1].2,
                        format!(
                            "cell {} has gene '{}' twice (rows {} and {})",
                            c.id, t.genes[w[0].0 as usize], w[0].2, w[1].2
                        ),
                        "give each (cell, gene) one row: sum or drop the duplicates",
                    ));
                }
            }
            indices.extend(e.iter().map(|x| x.0));
            values.extend(e.iter().map(|x| x.1));
            let end = i32::try_from(indices.len())
                .map_err(|_| Error::Internal("long table: too many values in one batch".into()))?;
            offsets.push(end);
        }
        let mut columns: Vec<ArrayRef> = Vec::new();
        if !self.obs_wanted.is_empty() {
            let parts: Vec<RecordBatch> = cells.iter().map(|c| c.obs.clone()).collect();
            let obs = arrow::compute::concat_batches(&parts[0].schema(), &parts)
                .map_err(|e| Error::Internal(format!("long table obs columns: {e}")))?;
            columns.extend(obs.columns().iter().cloned());
        }
        if self.lists_wanted {
            let offsets = OffsetBuffer::new(offsets.into());
            columns.push(Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(DataType::UInt32, false)),
                offsets.clone(),
                Arc::new(UInt32Array::from(indices)),
                None,
            )));
            columns.push(Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(DataType::Float64, false)),
                offsets,
                Arc::new(Float64Array::from(values)),
                None,
            )));
        }
        let options =
            arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(cells.len()));
        RecordBatch::try_new_with_options(self.out_schema.clone(), columns, &options)
            .map_err(|e| Error::Internal(format!("long table batch: {e}")))
    }
}

/// The cell column's ids (rows numbered from `first_row`).
fn cell_ids(file: &str, a: &ArrayRef, first_row: u64) -> Result<Vec<CellId>> {
    let mut ids = Vec::with_capacity(a.len());
    if a.data_type().is_integer() {
        let c = arrow::compute::cast(a, &DataType::Int64)
            .map_err(|e| Error::Internal(format!("integer cell ids: {e}")))?;
        for (i, x) in c.as_primitive::<Int64Type>().iter().enumerate() {
            let id = x.ok_or_else(|| {
                Error::input(
                    Location {
                        file: Some(file.into()),
                        column: Some("cell".into()),
                        row: Some(first_row + i as u64),
                        ..Default::default()
                    },
                    "missing cell id",
                    "give every row its cell",
                )
            })?;
            ids.push(CellId::Int(id));
        }
    } else {
        for_each_str(a, file, "cell", first_row, |_, s| {
            ids.push(CellId::Text(s.to_string()));
            Ok(())
        })?;
    }
    Ok(ids)
}

impl TableReader for LongTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn batches(&self, columns: Option<&[usize]>, batch_rows: usize) -> Result<Batches<'_>> {
        let n_obs = self.obs.len();
        let mut wanted: Vec<usize> = match columns {
            Some(c) => c.to_vec(),
            None => (0..n_obs + 2).collect(),
        };
        // Schema order, as every format returns projections.
        wanted.sort_unstable();
        wanted.dedup();
        let obs_wanted: Vec<usize> = wanted.iter().copied().filter(|&c| c < n_obs).collect();
        let lists_wanted = wanted.iter().any(|&c| c >= n_obs);
        // Inner columns: cell, gene, value, then every obs column asked for (a pending cell
        // keeps its one row of them).
        let mut inner: Vec<usize> = vec![self.cell, self.gene, self.value];
        inner.extend(obs_wanted.iter().map(|&o| self.obs[o]));
        inner.sort_unstable();
        let mut fields: Vec<Field> = obs_wanted
            .iter()
            .map(|&o| self.schema.field(o).clone())
            .collect();
        if lists_wanted {
            fields.push(self.schema.field(n_obs).clone());
            fields.push(self.schema.field(n_obs + 1).clone());
        }
        let out_schema =
            Arc::new(Schema::new(fields).with_metadata(self.schema.metadata().clone()));
        let rows = self
            .inner
            .batches(Some(&inner), batch_rows.saturating_mul(ROWS_PER_CELL_GUESS))?;
        let mut stream = CellStream {
            table: self,
            rows,
            obs_wanted: (0..obs_wanted.len()).collect(),
            lists_wanted,
            out_schema,
            pending: None,
            row: 0,
            done: false,
        };
        Ok(Box::new(std::iter::from_fn(move || loop {
            if stream.done {
                return None;
            }
            match stream.rows.next() {
                Some(Ok((batch, fraction))) => match stream.next_cells(batch) {
                    Ok(Some(cells)) => return Some(Ok((cells, fraction))),
                    Ok(None) => continue,
                    Err(e) => {
                        stream.done = true;
                        return Some(Err(e));
                    }
                },
                Some(Err(e)) => {
                    stream.done = true;
                    return Some(Err(e));
                }
                None => {
                    stream.done = true;
                    let last = stream.pending.take()?;
                    return Some(stream.assemble(vec![last]).map(|b| (b, 1.0)));
                }
            }
        })))
    }
}
