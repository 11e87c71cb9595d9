//! The statistics table as one SQL query, for engines beyond one machine: Apache Spark
//! (`spark.sql(query)`) and DuckDB (`COPY (query) TO 'stats.parquet'`). The input is the long
//! layout calibra reads ([`crate::io::long`]): a view `cells` with a row per (cell, measured
//! gene) — `cell`, `gene`, `value` — and the cell's own columns repeated on its rows.
//!
//! The output is sparse: a (group, gene) no cell of the group measured has no row (its sums
//! are 0), and each row carries its group's n. Normalisation, when asked, is calibra's:
//! ln(1 + x·(1e4/Σx)) per cell, rounded to float32, then summed in float64.

/// A SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Spark SQL (PySpark, Databricks, EMR…).
    Spark,
    /// DuckDB.
    DuckDb,
}

/// The columns of the `cells` view the query reads.
#[derive(Debug, Clone)]
pub struct SqlColumns {
    /// The perturbation label column.
    pub perturbation: String,
    /// The half column (`gt` / `td`): halves are assigned before the table is made.
    pub half: String,
    /// The context column, if any.
    pub context: Option<String>,
    /// The fold column, if the evaluation is to use the cells' folds.
    pub fold: Option<String>,
    /// Apply normalize_total(1e4) + log1p per cell (raw counts).
    pub normalize: bool,
}

impl Dialect {
    fn quote(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            Dialect::DuckDb => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    fn log1p(self, x: &str) -> String {
        match self {
            Dialect::Spark => format!("LOG1P({x})"),
            // DuckDB has no log1p; x ≥ 1e4/Σx keeps ln(1 + x) within a few ulps of it for
            // counts (x ≥ 1e-2 at 1M counts per cell).
            Dialect::DuckDb => format!("LN(1 + {x})"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "Spark SQL",
            Dialect::DuckDb => "DuckDB",
        }
    }
}

/// The query that makes the statistics table (SPEC §12.6) from the view `cells`.
pub fn query(dialect: Dialect, c: &SqlColumns) -> String {
    let q = |n: &str| dialect.quote(n);
    // Key columns of a group, as (output name, input expression).
    let mut keys: Vec<(&str, String)> = Vec::new();
    if let Some(ctx) = &c.context {
        keys.push(("context", format!("CAST({} AS STRING)", q(ctx))));
    }
    keys.push((
        "perturbation",
        format!("CAST({} AS STRING)", q(&c.perturbation)),
    ));
    keys.push(("half", format!("CAST({} AS STRING)", q(&c.half))));
    let string = if dialect == Dialect::DuckDb {
        "VARCHAR"
    } else {
        "STRING"
    };
    let key_select: Vec<String> = keys
        .iter()
        .map(|(name, e)| format!("{} AS {name}", e.replace("STRING", string)))
        .collect();
    let key_names: Vec<&str> = keys.iter().map(|(n, _)| *n).collect();
    let fold_select = c
        .fold
        .as_ref()
        .map(|f| format!(", CAST({} AS BIGINT) AS fold", q(f)))
        .unwrap_or_default();
    let fold_key = if c.fold.is_some() { ", fold" } else { "" };
    let value = "CAST(value AS DOUBLE)";
    let values = if c.normalize {
        format!(
            "values_ AS (\n  -- normalize_total(1e4) + log1p per cell, rounded to float32 (calibra's --normalize)\n  \
             SELECT c.cell, c.gene,\n         CAST(CAST({} AS FLOAT) AS DOUBLE) AS x\n  \
             FROM cells c\n  \
             JOIN (SELECT cell, SUM({value}) AS total FROM cells GROUP BY cell) t ON c.cell = t.cell\n  \
             WHERE t.total > 0\n)",
            dialect.log1p("CAST(c.value AS DOUBLE) * (1e4 / t.total)")
        )
    } else {
        format!("values_ AS (\n  SELECT cell, gene, {value} AS x FROM cells\n)")
    };
    let join_on: Vec<String> = key_names.iter().map(|k| format!("s.{k} = z.{k}")).collect();
    format!(
        "-- calibra {version}: the sufficient-statistics table (SPEC §12.6), {dialect}.\n\
         -- Input: a view `cells` in calibra's long layout, one row per (cell, measured gene):\n\
         --   cell, gene, value, {cols} (the cell's columns repeated on its rows).\n\
         -- Output: {out_cols}; read it with\n\
         --   calibra evaluate --stats stats.parquet --predictions …\n\
         WITH cell_groups AS (\n  \
           SELECT DISTINCT cell, {key_select}{fold_select}\n  FROM cells\n),\n\
         group_sizes AS (\n  \
           SELECT {keys}{fold_key}, COUNT(*) AS n\n  FROM cell_groups\n  GROUP BY {keys}{fold_key}\n),\n\
         {values},\n\
         sums AS (\n  \
           SELECT {g_keys}, v.gene, SUM(v.x) AS sum_x, SUM(v.x * v.x) AS sum_x2\n  \
           FROM values_ v JOIN cell_groups g ON v.cell = g.cell\n  \
           GROUP BY {g_keys}, v.gene\n)\n\
         SELECT {s_keys}, CAST(s.gene AS {string}) AS gene, z.n, s.sum_x, s.sum_x2{z_fold}\n\
         FROM sums s JOIN group_sizes z ON {join_on}\n",
        version = env!("CARGO_PKG_VERSION"),
        dialect = dialect.name(),
        cols = {
            let mut v = Vec::new();
            v.extend(c.context.as_deref());
            v.push(c.perturbation.as_str());
            v.push(c.half.as_str());
            v.extend(c.fold.as_deref());
            v.join(", ")
        },
        out_cols = {
            let mut v: Vec<&str> = key_names.clone();
            v.extend(["gene", "n", "sum_x", "sum_x2"]);
            if c.fold.is_some() {
                v.push("fold");
            }
            v.join(", ")
        },
        key_select = key_select.join(", "),
        keys = key_names.join(", "),
        g_keys = key_names
            .iter()
            .map(|k| format!("g.{k}"))
            .collect::<Vec<_>>()
            .join(", "),
        s_keys = key_names
            .iter()
            .map(|k| format!("s.{k}"))
            .collect::<Vec<_>>()
            .join(", "),
        z_fold = if c.fold.is_some() { ", z.fold" } else { "" },
        join_on = join_on.join(" AND "),
    )
}
