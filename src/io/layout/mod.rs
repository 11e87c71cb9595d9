//! Where things are in a table: the label / half / fold / context / model columns and the
//! expression layout (SPEC §1.1): wide gene columns, a dense list column, or sparse CSR rows.
//! How the values of each layout are read is [`decode`]; what they may be is [`values`].

pub mod decode;
pub mod values;

use crate::error::{Error, Location, Result};
use arrow::datatypes::{DataType, Schema};
use std::collections::HashMap;

/// Schema-metadata key holding the gene names (JSON array) for list / CSR layouts.
pub const GENES_METADATA_KEY: &str = "calibra:genes";

/// How expression values are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpressionLayout {
    /// One numeric column per gene (schema indices, in gene order).
    Wide {
        /// Schema index of each gene's column.
        columns: Vec<usize>,
    },
    /// One list column `expression` with one value per gene.
    DenseList {
        /// Schema index of the list column.
        column: usize,
    },
    /// Sparse rows: `indices` (gene positions) and `values` list columns.
    SparseCsr {
        /// Schema index of the `indices` column.
        indices: usize,
        /// Schema index of the `values` column.
        values: usize,
    },
}

impl ExpressionLayout {
    /// Human-readable name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExpressionLayout::Wide { .. } => "wide",
            ExpressionLayout::DenseList { .. } => "dense-list",
            ExpressionLayout::SparseCsr { .. } => "sparse-csr",
        }
    }
}

/// Label columns tried in order when the perturbation column is left at its default and the
/// table has no `perturbation` column (the names of AnnData files in the wild).
pub const PERTURBATION_COLUMN_CANDIDATES: &[&str] = &[
    "perturbation",
    "condition",
    "target_gene",
    "gene",
    "guide_ids",
];

/// Context columns tried in order when none is named.
/// Names of a cell-identifier column, skipped when it holds text (cell-level predictions and
/// exported cells often keep their barcodes).
pub const CELL_ID_COLUMNS: &[&str] = &["cell", "cell_id", "cell_barcode", "barcode", "obs_names"];

pub const CONTEXT_COLUMN_CANDIDATES: &[&str] = &["cell_type", "cell_line"];

/// Column names calibra looks for; configurable from the CLI / UI.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnNames {
    /// Perturbation label column.
    pub perturbation: String,
    /// Half column (`gt` / `td`).
    pub half: String,
    /// Fold column.
    pub fold: String,
    /// Split column (`train` / `val` / `test` per cell, SPEC §12.5), used instead of folds.
    pub split: String,
    /// Model column (predictions).
    pub model: String,
    /// Context column (e.g. `cell_type`); `None` → the first of
    /// [`CONTEXT_COLUMN_CANDIDATES`] present.
    pub context: Option<String>,
}

impl Default for ColumnNames {
    fn default() -> Self {
        ColumnNames {
            perturbation: "perturbation".into(),
            half: "half".into(),
            fold: "fold".into(),
            split: "split".into(),
            model: "model".into(),
            context: None,
        }
    }
}

/// Which kind of table is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRole {
    /// Observed cells.
    Cells,
    /// Model predictions.
    Predictions,
}

/// The located columns of a table.
#[derive(Debug, Clone)]
pub struct TableLayout {
    /// Perturbation label column.
    pub label: usize,
    /// Half column, if present.
    pub half: Option<usize>,
    /// Fold column, if present.
    pub fold: Option<usize>,
    /// Split column, if present (never together with a fold column).
    pub split: Option<usize>,
    /// Context column, if present.
    pub context: Option<usize>,
    /// Model column (predictions), if present.
    pub model: Option<usize>,
    /// Gene names in the file's order.
    pub genes: Vec<String>,
    /// Where the values are.
    pub expression: ExpressionLayout,
}

/// Strings, or a dictionary of strings (a categorical).
pub fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(**v, DataType::Utf8 | DataType::LargeUtf8),
        _ => false,
    }
}

fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating()
}

fn is_float_list(t: &DataType) -> bool {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            is_numeric(f.data_type())
        }
        _ => false,
    }
}

fn is_int_list(t: &DataType) -> bool {
    match t {
        DataType::List(f) | DataType::LargeList(f) => f.data_type().is_integer(),
        _ => false,
    }
}

/// Finds the columns of a table and its expression layout; every failure names the file and
/// column and says what to do.
pub fn locate(
    file: &str,
    schema: &Schema,
    names: &ColumnNames,
    role: TableRole,
) -> Result<TableLayout> {
    let col_err = |column: &str, message: String, remedy: &str| {
        Error::input(
            Location {
                file: Some(file.into()),
                column: Some(column.into()),
                ..Default::default()
            },
            message,
            remedy,
        )
    };
    let find = |n: &str| schema.index_of(n).ok();
    let detect = |candidates: &[&str]| {
        candidates
            .iter()
            .find_map(|c| find(c).filter(|&i| is_text(schema.field(i).data_type())))
    };
    let default_label = names.perturbation == ColumnNames::default().perturbation;
    // The column options name the cells' columns; a predictions table without them is read
    // by the default names (a model's output rarely copies an AnnData obs column name).
    let detecting = default_label || role == TableRole::Predictions;
    let label = find(&names.perturbation)
        .or_else(|| {
            detecting
                .then(|| detect(PERTURBATION_COLUMN_CANDIDATES))
                .flatten()
        })
        .ok_or_else(|| {
            let message = if default_label {
                format!(
                    "no perturbation column (none of {} is present; {})",
                    PERTURBATION_COLUMN_CANDIDATES.join(", "),
                    label_columns(schema)
                )
            } else {
                format!(
                    "no column '{}' for the perturbations ({})",
                    names.perturbation,
                    label_columns(schema)
                )
            };
            col_err(
                &names.perturbation,
                message,
                "name the label column 'perturbation', or pass its name with --perturbation-column",
            )
        })?;
    let (half, fold, split) = match role {
        TableRole::Cells => (find(&names.half), find(&names.fold), find(&names.split)),
        TableRole::Predictions => (None, None, None),
    };
    if let (Some(f), Some(s)) = (fold, split) {
        return Err(Error::in_file(
            file,
            format!(
                "both a fold column ('{}') and a split column ('{}')",
                schema.field(f).name(),
                schema.field(s).name()
            ),
            "keep one: folds for cross-validation, or a train/val/test split",
        ));
    }
    let context = match &names.context {
        // Predictions without the context column apply to every context.
        Some(c) if role == TableRole::Predictions => find(c),
        Some(c) => Some(find(c).ok_or_else(|| {
            col_err(
                c,
                format!(
                    "no column '{c}' for the contexts ({})",
                    label_columns(schema)
                ),
                "check --context-column",
            )
        })?),
        // Not filtered by type: a numeric `cell_type` gets the type error below, not a gene.
        None => CONTEXT_COLUMN_CANDIDATES.iter().find_map(|c| find(c)),
    };
    let model = match role {
        TableRole::Predictions => find(&names.model),
        TableRole::Cells => None,
    };
    let mut meta: Vec<usize> = [Some(label), half, fold, split, context, model]
        .into_iter()
        .flatten()
        .collect();
    // A cell identifier (string) is neither metadata nor a gene: skipped in both tables.
    meta.extend((0..schema.fields().len()).filter(|&i| {
        let f = schema.field(i);
        CELL_ID_COLUMNS.contains(&f.name().as_str()) && !is_numeric(f.data_type())
    }));
    // Predictions may carry half/fold/split columns copied from the cells table: not genes.
    if role == TableRole::Predictions {
        meta.extend(find(&names.half));
        meta.extend(find(&names.fold));
        meta.extend(find(&names.split));
    }
    for &(idx, what) in &[
        (Some(label), "perturbation"),
        (half, "half"),
        (split, "split"),
        (context, "context"),
        (model, "model"),
    ] {
        if let Some(i) = idx {
            let t = schema.field(i).data_type();
            if !is_text(t) {
                return Err(col_err(
                    schema.field(i).name(),
                    format!("the {what} column has type {t}, expected strings"),
                    "store labels as strings (utf8)",
                ));
            }
        }
    }
    if let Some(i) = fold {
        if !schema.field(i).data_type().is_integer() {
            return Err(col_err(
                schema.field(i).name(),
                format!("the fold column has type {}, expected integers", schema.field(i).data_type()),
                "store folds as integers (−1 = never tested), or drop the column to let calibra assign folds",
            ));
        }
    }

    let metadata_genes = || -> Result<Option<Vec<String>>> {
        match schema.metadata().get(GENES_METADATA_KEY) {
            None => Ok(None),
            Some(s) => serde_json::from_str::<Vec<String>>(s).map(Some).map_err(|e| {
                Error::in_file(
                    file,
                    format!("schema metadata '{GENES_METADATA_KEY}' is not a JSON array of strings: {e}"),
                    "write the gene names as a JSON array, e.g. [\"GENE1\", \"GENE2\"]",
                )
            }),
        }
    };
    let need_genes = |layout: &str| {
        Error::in_file(
            file,
            format!("the {layout} layout needs gene names, but the schema metadata has no '{GENES_METADATA_KEY}' key"),
            format!("add the gene names as a JSON array under the schema metadata key '{GENES_METADATA_KEY}'"),
        )
    };

    let rest: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !meta.contains(i))
        .collect();
    let by_name = |n: &str| rest.iter().copied().find(|&i| schema.field(i).name() == n);
    let (genes, expression) = if let (Some(ix), Some(vx)) = (by_name("indices"), by_name("values"))
    {
        if !is_int_list(schema.field(ix).data_type())
            || !is_float_list(schema.field(vx).data_type())
        {
            return Err(col_err(
                "indices",
                "sparse rows need 'indices' as a list of integers and 'values' as a list of floats"
                    .into(),
                "write indices as List<uint32|int32> and values as List<float32>",
            ));
        }
        let genes = metadata_genes()?.ok_or_else(|| need_genes("sparse CSR"))?;
        (
            genes,
            ExpressionLayout::SparseCsr {
                indices: ix,
                values: vx,
            },
        )
    } else if let Some(ex) =
        by_name("expression").filter(|&i| is_float_list(schema.field(i).data_type()))
    {
        let genes = metadata_genes()?.ok_or_else(|| need_genes("dense list"))?;
        (genes, ExpressionLayout::DenseList { column: ex })
    } else {
        for &i in &rest {
            let f = schema.field(i);
            if !is_numeric(f.data_type()) {
                if role == TableRole::Cells && f.name() == "model" {
                    return Err(col_err(
                        f.name(),
                        "a 'model' column belongs to a predictions table, not to the observed cells"
                            .into(),
                        "pass this file as predictions and the observed cells as cells",
                    ));
                }
                let remedy = if role == TableRole::Cells {
                    "drop the column, or if it is a context (e.g. cell type) pass --context-column"
                } else {
                    "drop the column from the predictions table"
                };
                return Err(col_err(
                    f.name(),
                    format!(
                        "column of type {} is neither a known column nor a numeric gene column",
                        f.data_type()
                    ),
                    remedy,
                ));
            }
        }
        let genes = rest
            .iter()
            .map(|&i| schema.field(i).name().clone())
            .collect();
        (genes, ExpressionLayout::Wide { columns: rest })
    };
    if genes.is_empty() {
        return Err(Error::in_file(
            file,
            "the table has no gene columns",
            "add one numeric column per gene",
        ));
    }
    check_unique_genes(file, &genes)?;
    Ok(TableLayout {
        label,
        half,
        fold,
        split,
        context,
        model,
        genes,
        expression,
    })
}

/// The columns that could hold labels (text), for messages about a missing label column.
fn label_columns(schema: &Schema) -> String {
    let text: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| is_text(f.data_type()))
        .map(|f| f.name().as_str())
        .collect();
    if text.is_empty() {
        "the table has no text columns".into()
    } else {
        format!("text columns: {}", preview(&text, 12))
    }
}

/// Duplicated gene names make matching by name ambiguous: an error naming them.
fn check_unique_genes(file: &str, genes: &[String]) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(genes.len());
    let mut dups = Vec::new();
    for g in genes {
        let c = seen.entry(g.as_str()).or_insert(0);
        *c += 1;
        if *c == 2 {
            dups.push(g.as_str());
        }
    }
    if dups.is_empty() {
        return Ok(());
    }
    Err(Error::input(
        Location {
            file: Some(file.into()),
            gene: Some(dups[0].into()),
            ..Default::default()
        },
        format!(
            "{} duplicated gene name(s): {}",
            dups.len(),
            preview(&dups, 10)
        ),
        "make gene names unique (e.g. append a suffix to duplicates)",
    ))
}

pub use crate::error::preview;

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    fn schema(columns: &[(&str, DataType)]) -> Schema {
        Schema::new(
            columns
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), false))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn predictions_fall_back_to_default_names() {
        // `--perturbation-column condition --context-column cell_type` name the cells' columns;
        // a predictions table with `perturbation` and no context is still read.
        let s = schema(&[
            ("model", DataType::Utf8),
            ("perturbation", DataType::Utf8),
            ("G1", DataType::Float32),
        ]);
        let names = ColumnNames {
            perturbation: "condition".into(),
            context: Some("cell_type".into()),
            ..ColumnNames::default()
        };
        let l = locate("p", &s, &names, TableRole::Predictions).unwrap();
        assert_eq!((l.label, l.context, l.model), (1, None, Some(0)));
        assert!(locate("c", &s, &names, TableRole::Cells).is_err());
    }

    #[test]
    fn common_label_and_context_names_are_detected() {
        let s = schema(&[
            ("n_genes", DataType::Utf8),
            ("condition", DataType::Utf8),
            ("cell_line", DataType::Utf8),
            ("G1", DataType::Float32),
        ]);
        // `gene` is a candidate, `n_genes` is not: a text column that is neither is an error.
        let names = ColumnNames::default();
        let found = locate("f", &s, &names, TableRole::Cells);
        let e = found.unwrap_err().to_string();
        assert!(e.contains("'n_genes'"), "{e}");
        let s = schema(&[
            ("condition", DataType::Utf8),
            ("cell_line", DataType::Utf8),
            ("G1", DataType::Float32),
        ]);
        let l = locate("f", &s, &names, TableRole::Cells).unwrap();
        assert_eq!((l.label, l.context), (0, Some(1)));
        assert_eq!(l.genes, ["G1"]);
        // A name the user gave is not replaced by a guess.
        let given = ColumnNames {
            perturbation: "target".into(),
            ..ColumnNames::default()
        };
        let e = locate("f", &s, &given, TableRole::Cells)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no column 'target'") && e.contains("text columns: condition, cell_line"),
            "{e}"
        );
    }
}
