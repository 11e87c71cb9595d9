//! `calibra stats`: the sufficient-statistics table (SPEC §12.6) of a cells file (or of a row
//! range of it), `calibra stats merge` to add partial tables, and `--print-sql` for the query
//! that makes the same table on Apache Spark or DuckDB.

use super::{show_fraction, stage_bar, write_file};
use crate::io::stats_table::{self, sql};
use crate::io::{self, Table};
use crate::pipeline::{EvaluateOptions, Stage};
use crate::{Error, Result};
use clap::{Args, Subcommand};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The arguments of `stats`; its options are the evaluation's that decide how the cells are
/// read ([`STATS_OPTIONS`]).
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StatsArgs {
    #[command(subcommand)]
    command: Option<StatsCommand>,
    /// Observed cells (Parquet, Arrow IPC or AnnData .h5ad), or one shard of them.
    #[arg(long, required_unless_present = "print_sql")]
    cells: Option<PathBuf>,
    /// Only these rows of the cells file, `A:B` (0-based, B excluded): a partial table of a
    /// shard. Halves are still assigned over the whole file, so that the partial tables of
    /// disjoint ranges add up to the whole file's (`stats merge`).
    #[arg(long, value_parser = parse_rows, conflicts_with = "print_sql")]
    rows: Option<Range<u64>>,
    /// Output Parquet file.
    #[arg(long, default_value = "stats.parquet")]
    out: PathBuf,
    /// Print the query that makes this table from a long cells table on an engine (Spark SQL or
    /// DuckDB) instead of reading cells; it reads --perturbation-column, --context-column,
    /// --normalize, --half-column and --fold-column.
    #[arg(long, value_enum)]
    print_sql: Option<SqlDialect>,
    /// With --print-sql: the cells' half column (`gt` / `td`; halves are assigned before the
    /// table is made).
    #[arg(long, default_value = "half", requires = "print_sql")]
    half_column: String,
    /// With --print-sql: the cells' fold column, when the evaluation is to use it.
    #[arg(long, requires = "print_sql")]
    fold_column: Option<String>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum StatsCommand {
    /// Add partial statistics tables (of disjoint cells) into one. A directory is one table
    /// written in parts (as Spark and DuckDB write): its files are read together, not added.
    Merge(MergeArgs),
}

#[derive(Args, Debug)]
struct MergeArgs {
    /// Partial tables (Parquet or Arrow IPC files, or directories of a table's parts).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output Parquet file.
    #[arg(long, default_value = "stats.parquet")]
    out: PathBuf,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// A SQL dialect of `--print-sql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SqlDialect {
    /// Apache Spark SQL.
    Spark,
    /// DuckDB.
    Duckdb,
}

/// The evaluation options that `stats` takes: where the labels are, how the values are
/// normalised, and the seed of the halves calibra assigns.
pub const STATS_OPTIONS: [&str; 6] = [
    "perturbation-column",
    "context-column",
    "layer",
    "gene-column",
    "normalize",
    "seed",
];

/// Refuses a row range that starts past the file's `n` rows.
fn past_the_end(r: &Range<u64>, n: u64) -> Result<()> {
    if r.start >= n {
        return Err(Error::Options(format!(
            "--rows {}:{}: the file has {n} rows",
            r.start, r.end
        )));
    }
    Ok(())
}

/// `A:B` (0-based, B excluded) as a range of rows.
fn parse_rows(s: &str) -> std::result::Result<Range<u64>, String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not a row range A:B"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<u64>()
            .map_err(|e| format!("'{x}' in '{s}': {e}"))
    };
    let (a, b) = (num(a)?, num(b)?);
    if a >= b {
        return Err(format!("the range {a}:{b} is empty (A < B)"));
    }
    Ok(a..b)
}

/// Runs `stats`.
pub fn run(a: StatsArgs, opts: EvaluateOptions) -> Result<()> {
    if let Some(StatsCommand::Merge(m)) = a.command {
        return merge(m);
    }
    if let Some(d) = a.print_sql {
        let dialect = match d {
            SqlDialect::Spark => sql::Dialect::Spark,
            SqlDialect::Duckdb => sql::Dialect::DuckDb,
        };
        print!(
            "{}",
            sql::query(
                dialect,
                &sql::SqlColumns {
                    perturbation: opts.cells.columns.perturbation.clone(),
                    half: a.half_column.clone(),
                    context: opts.cells.columns.context.clone(),
                    fold: a.fold_column.clone(),
                    normalize: opts.cells.normalize,
                },
            )
        );
        return Ok(());
    }
    let path = a
        .cells
        .ok_or_else(|| Error::Options("--cells is required".into()))?;
    let table = Table::open(io::open_file(&path)?, &opts.cells.read)?;
    if stats_table::is_stats_table(&table.schema) {
        return Err(Error::in_file(
            table.name(),
            "this is already a statistics table",
            "add partial tables with `calibra stats merge`, or evaluate it with `calibra evaluate --stats`",
        ));
    }
    let source = match &a.rows {
        Some(r) => format!("{} rows {}:{}", table.name(), r.start, r.end),
        None => table.name().to_string(),
    };
    // A range past the end is refused before reading when the format knows its rows (a
    // stream learns them at the end, below).
    if let (Some(r), Some(n)) = (&a.rows, table.num_rows) {
        past_the_end(r, n)?;
    }
    let bar = stage_bar(a.quiet);
    bar.set_prefix(Stage::ReadCells.as_str());
    let sums = io::cells::sum_cells(table, &opts.cells, None, a.rows.clone(), &mut |f| {
        show_fraction(&bar, f)
    });
    bar.finish_and_clear();
    let sums = sums?;
    if let Some(r) = &a.rows {
        past_the_end(r, sums.rows)?;
    }
    let seed = opts.cells.seed;
    let written = write_file(&a.out, |sink| stats_table::write(sums, seed, &source, sink))?;
    report(&a.out, &written);
    Ok(())
}

fn report(out: &Path, w: &stats_table::Written) {
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {}: {} rows ({} groups, {} cells), {:.1} MB",
        out.display(),
        w.rows,
        w.groups,
        w.cells,
        size as f64 / 1e6
    );
}

/// `stats merge`: the partial tables added into one.
fn merge(m: MergeArgs) -> Result<()> {
    let mut partials = Vec::new();
    let mut names = Vec::new();
    for p in &m.inputs {
        let files: Vec<PathBuf> = if p.is_dir() {
            let mut f: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| Error::Io {
                    path: p.display().to_string(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension()
                        .is_some_and(|x| x == "parquet" || x == "arrow" || x == "feather")
                })
                .collect();
            f.sort();
            if f.is_empty() {
                return Err(Error::Options(format!(
                    "{} has no .parquet / .arrow files",
                    p.display()
                )));
            }
            f
        } else {
            vec![p.clone()]
        };
        let tables = files
            .iter()
            .map(|f| Table::open(io::open_file(f)?, &Default::default()))
            .collect::<Result<Vec<_>>>()?;
        for t in &tables {
            if !stats_table::is_stats_table(&t.schema) {
                return Err(Error::in_file(
                    t.name(),
                    "not a statistics table (no n, sum_x and sum_x2 columns)",
                    "make partial tables with `calibra stats --cells … --out …`",
                ));
            }
        }
        names.push(p.display().to_string());
        partials.push(tables);
    }
    let seed = partials[0][0]
        .schema
        .metadata()
        .get(stats_table::SEED_KEY)
        .and_then(|s| s.parse().ok())
        .unwrap_or(crate::design::DEFAULT_SEED);
    let bar = stage_bar(m.quiet);
    bar.set_prefix(Stage::ReadCells.as_str());
    let sums = stats_table::read_sums(partials, &Default::default(), &mut |f| {
        show_fraction(&bar, f)
    });
    bar.finish_and_clear();
    let sums = sums?;
    let source = format!("merge of {}", names.join(", "));
    let written = write_file(&m.out, |sink| stats_table::write(sums, seed, &source, sink))?;
    report(&m.out, &written);
    Ok(())
}
