//! A first look at a cells or predictions table before evaluating it: its format and layout,
//! and each annotation column (name, type, a few values, the role calibra would give it), so
//! that the page can show the column mapping and the user can change it.

use super::layout::{locate, ColumnNames, ExpressionLayout, TableRole};
use super::source::SharedSource;
use super::table::{ReadOptions, Table};
use crate::error::Result;
use arrow::array::Array;
use arrow::datatypes::DataType;

/// Distinct values shown per column.
const SAMPLE_VALUES: usize = 5;
/// Annotation columns listed at most.
const MAX_COLUMNS: usize = 50;
/// Rows read for the samples.
const SAMPLE_ROWS: usize = 2048;

/// One annotation column (not an expression value column).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnOverview {
    /// Its name.
    pub name: String,
    /// Its type, as text (`Utf8`, `Dictionary(Int32, Utf8)`, `Int64`…).
    pub data_type: String,
    /// It holds text (strings or a categorical): it can be a label or context column.
    pub text: bool,
    /// Up to five distinct values from the first rows.
    pub values: Vec<String>,
    /// The role calibra gives it with the current options: `perturbation`, `context`,
    /// `half`, `fold`, `split` or `model`; `None` when it is not used.
    pub role: Option<&'static str>,
}

/// What a table holds, as calibra reads it with the current options.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableOverview {
    /// Display name.
    pub file: String,
    /// Format name (`Parquet`, `H5ad`…).
    pub format: String,
    /// Rows, when the format says up front.
    pub rows: Option<u64>,
    /// Expression layout, when the table could be located.
    pub layout: Option<&'static str>,
    /// Number of genes, when the table could be located.
    pub n_genes: Option<usize>,
    /// The annotation columns.
    pub columns: Vec<ColumnOverview>,
    /// Why the table cannot be evaluated as it is (e.g. no perturbation column found).
    pub problem: Option<String>,
}

fn is_annotation(t: &DataType) -> bool {
    !(t.is_floating()
        || matches!(
            t,
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
        ))
}

/// Looks at `source` as a table in `role`, with the column names and read options given.
pub fn inspect(
    source: SharedSource,
    read: &ReadOptions,
    names: &ColumnNames,
    role: TableRole,
) -> Result<TableOverview> {
    let table = Table::open(source, read)?;
    if role == TableRole::Cells && super::stats_table::is_stats_table(&table.schema) {
        return inspect_stats_table(&table);
    }
    let file = table.name().to_string();
    let located = locate(&file, &table.schema, names, role);
    let (roles, layout, n_genes, problem, gene_columns) = match &located {
        Ok(l) => {
            let roles: Vec<(usize, &'static str)> = [
                (Some(l.label), "perturbation"),
                (l.context, "context"),
                (l.half, "half"),
                (l.fold, "fold"),
                (l.split, "split"),
                (l.model, "model"),
            ]
            .into_iter()
            .filter_map(|(i, r)| i.map(|i| (i, r)))
            .collect();
            let genes = match &l.expression {
                ExpressionLayout::Wide { columns } => columns.clone(),
                ExpressionLayout::DenseList { column } => vec![*column],
                ExpressionLayout::SparseCsr { indices, values } => vec![*indices, *values],
            };
            (
                roles,
                Some(l.expression.as_str()),
                Some(l.genes.len()),
                None,
                genes,
            )
        }
        Err(e) => (vec![], None, None, Some(e.to_string()), vec![]),
    };
    let annotation: Vec<usize> = (0..table.schema.fields().len())
        .filter(|i| !gene_columns.contains(i))
        .filter(|&i| {
            roles.iter().any(|r| r.0 == i) || is_annotation(table.schema.field(i).data_type())
        })
        // A table that could not be located may be wide with integer counts: not thousands.
        .take(MAX_COLUMNS)
        .collect();
    let columns = overview_columns(&table, &annotation, &roles)?;
    Ok(TableOverview {
        file,
        format: table.format.name().to_string(),
        rows: table.num_rows,
        layout,
        n_genes,
        columns,
        problem,
    })
}

/// A sufficient-statistics table (SPEC §12.6): its key columns in their fixed roles, its genes
/// from the metadata; no row count (its rows are not cells).
fn inspect_stats_table(table: &Table) -> Result<TableOverview> {
    use super::stats_table::columns as c;
    let schema = &table.schema;
    let roles: Vec<(usize, &'static str)> = [
        (c::PERTURBATION, "perturbation"),
        (c::CONTEXT, "context"),
        (c::HALF, "half"),
        (c::FOLD, "fold"),
        (c::SPLIT, "split"),
    ]
    .into_iter()
    .filter_map(|(name, role)| schema.index_of(name).ok().map(|i| (i, role)))
    .collect();
    // In schema order: a projected batch has its columns in that order, and the samples are
    // matched to them by position.
    let mut annotation: Vec<usize> = roles.iter().map(|r| r.0).collect();
    annotation.sort_unstable();
    let n_genes = schema
        .metadata()
        .get(super::layout::GENES_METADATA_KEY)
        .and_then(|json| serde_json::from_str::<Vec<String>>(json).ok())
        .map(|g| g.len());
    Ok(TableOverview {
        file: table.name().to_string(),
        format: table.format.name().to_string(),
        rows: None,
        layout: Some("statistics"),
        n_genes,
        columns: overview_columns(table, &annotation, &roles)?,
        problem: None,
    })
}

/// The overview of some columns: type, a few values from the first rows, role.
fn overview_columns(
    table: &Table,
    annotation: &[usize],
    roles: &[(usize, &'static str)],
) -> Result<Vec<ColumnOverview>> {
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); annotation.len()];
    if !annotation.is_empty() {
        if let Some(first) = table.batches(Some(annotation), SAMPLE_ROWS)?.next() {
            let (batch, _) = first?;
            for (j, column) in batch.columns().iter().enumerate() {
                let text = arrow::compute::cast(column, &DataType::Utf8).ok();
                let Some(text) = text else { continue };
                let text = text.as_any().downcast_ref::<arrow::array::StringArray>();
                for v in text.into_iter().flatten().flatten() {
                    if samples[j].len() == SAMPLE_VALUES {
                        break;
                    }
                    if !samples[j].iter().any(|s| s == v) {
                        samples[j].push(v.to_string());
                    }
                }
            }
        }
    }
    Ok(annotation
        .iter()
        .zip(samples)
        .map(|(&i, values)| {
            let f = table.schema.field(i);
            ColumnOverview {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                text: super::layout::is_text(f.data_type()),
                values,
                role: roles.iter().find(|r| r.0 == i).map(|r| r.1),
            }
        })
        .collect())
}
