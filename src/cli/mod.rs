//! The `calibra` command line: `calibra evaluate …`, `calibra split …`, `calibra weights …`
//! and `calibra simulate …`.

use crate::design::{Split, Task, TaskOptions};
use crate::io;
use crate::options::{OptionKind, OPTIONS};
use crate::pipeline::{
    evaluate_writing, DegTableInputs, DegTableWriter, EvaluateOptions, Inputs, Stage,
};
use crate::simulate::{simulate, SimConfig};
use crate::{Error, Result};
use clap::{Arg, ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod stats;

/// Calibrated evaluation of perturbation-response models.
#[derive(Parser, Debug)]
#[command(name = "calibra", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Evaluate predictions (and the calibrated baselines) against observed cells.
    Evaluate(EvaluateArgs),
    /// Write the train / val / test split of an in-the-wild task for a cells file (CSV), to
    /// train on and then evaluate with `evaluate --split-file`.
    Split(SplitArgs),
    /// Write the DEG weights of SPEC §4 — those of the WMSE metric — per perturbation × gene
    /// (Parquet), for use as a training loss.
    Weights(WeightsArgs),
    /// Write a simulated dataset (cells + two illustrative models) as Parquet.
    Simulate(SimulateArgs),
    /// Write the sufficient-statistics table (SPEC §12.6) of a cells file or of rows of it,
    /// add partial tables (`stats merge`), or print the Spark / DuckDB query that makes it.
    Stats(stats::StatsArgs),
}

/// The file arguments of `evaluate`; its options come from [`crate::options::OPTIONS`]
/// ([`with_option_flags`]).
#[derive(Args, Debug)]
struct EvaluateArgs {
    /// Observed cells (Parquet, Arrow IPC or AnnData .h5ad).
    #[arg(long, required_unless_present_any = ["example", "stats"])]
    cells: Option<PathBuf>,
    /// A sufficient-statistics table (SPEC §12.6: `calibra stats`, or its Spark / DuckDB
    /// query) instead of the cells: the calibrated family, from n, Σx and Σx² per group.
    #[arg(long, conflicts_with_all = ["cells", "example"])]
    stats: Option<PathBuf>,
    /// Predictions (Parquet, Arrow IPC or .h5ad); repeat for several files.
    #[arg(long = "predictions", num_args = 1..)]
    predictions: Vec<PathBuf>,
    /// Train / val / test split (CSV: perturbation[,context],split) instead of calibra's folds.
    #[arg(long)]
    split_file: Option<PathBuf>,
    /// Evaluate calibra's built-in simulated example instead of files.
    #[arg(long, conflicts_with = "cells")]
    example: bool,
    /// Output directory (replaced if it holds an earlier calibra output).
    #[arg(long, default_value = "calibra-out")]
    out: PathBuf,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// The hash of the input files in manifest.json.
    #[arg(long, value_enum, default_value = "blake3")]
    hash: HashAlgorithm,
}

/// The arguments of `split`; its column options are the evaluation's ([`SPLIT_OPTIONS`]).
#[derive(Args, Debug)]
struct SplitArgs {
    /// Observed cells (Parquet, Arrow IPC or AnnData .h5ad).
    #[arg(long)]
    cells: PathBuf,
    /// The task: what the model has not seen at test time.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Task::ALL.map(Task::as_str)))]
    task: String,
    /// Seed of the random choices.
    #[arg(long, default_value_t = crate::design::DEFAULT_SEED)]
    seed: u64,
    /// Fraction of the candidate perturbations that are test.
    #[arg(long, default_value_t = TaskOptions::default().test_fraction)]
    test_fraction: f64,
    /// Fraction of the candidate perturbations that are val (held out of training and of
    /// the evaluation).
    #[arg(long, default_value_t = TaskOptions::default().val_fraction)]
    val_fraction: f64,
    /// The held-out context of unseen-context tasks (default: drawn with the seed).
    #[arg(long)]
    holdout_context: Option<String>,
    /// Output CSV.
    #[arg(long, default_value = "split.csv")]
    out: PathBuf,
}

/// The evaluation options that `split` takes too: those that say where the labels are.
const SPLIT_OPTIONS: [&str; 5] = [
    "perturbation-column",
    "context-column",
    "control-label",
    "layer",
    "gene-column",
];

#[derive(Args, Debug)]
struct SimulateArgs {
    /// Preset: example, small, combo, medium or wide (many perturbations × genes, few cells).
    #[arg(long, default_value = "example")]
    preset: String,
    /// Seed (default: the preset's).
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory for data.parquet and predictions.parquet (with --sweep: sweep.csv and
    /// sweep.json).
    #[arg(long)]
    out: PathBuf,
    /// Run the "Diversity by Design" sweep (SPEC §12.7) instead of writing one dataset: simulate
    /// and evaluate every point of the grid below on the sweep's base configuration.
    #[arg(long)]
    sweep: bool,
    /// Sweep: control bias SDs (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "sweep")]
    control_bias: Option<Vec<f64>>,
    /// Sweep: multipliers of the fraction of genes each perturbation affects.
    #[arg(long, value_delimiter = ',', requires = "sweep")]
    deg_fraction: Option<Vec<f64>>,
    /// Sweep: multipliers of every effect size.
    #[arg(long, value_delimiter = ',', requires = "sweep")]
    effect_size: Option<Vec<f64>>,
    /// Sweep: cells per perturbation.
    #[arg(long, value_delimiter = ',', requires = "sweep")]
    cells_per_perturbation: Option<Vec<usize>>,
}

/// `evaluate`'s option flags, one per entry of the options table, and `split`'s share of them.
fn with_option_flags(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommand("evaluate", |sub| add_option_flags(sub, |_| true))
        .mut_subcommand("split", |sub| {
            add_option_flags(sub, |name| SPLIT_OPTIONS.contains(&name))
        })
        .mut_subcommand("weights", |sub| {
            add_option_flags(sub, |name| WEIGHTS_OPTIONS.contains(&name))
        })
        .mut_subcommand("stats", |sub| {
            add_option_flags(sub, |name| stats::STATS_OPTIONS.contains(&name))
        })
}

/// Adds the flags of the options table's entries that `keep` selects.
fn add_option_flags(mut sub: clap::Command, keep: impl Fn(&str) -> bool) -> clap::Command {
    {
        for o in OPTIONS.iter().filter(|o| keep(o.name)) {
            let mut arg = Arg::new(o.name).long(o.name).help(o.doc);
            arg = match o.kind {
                OptionKind::Flag => arg.action(ArgAction::SetTrue),
                OptionKind::Choice(choices) => arg
                    .value_parser(clap::builder::PossibleValuesParser::new(choices))
                    .default_value(o.default_value()),
                OptionKind::Text | OptionKind::Integer => {
                    let default = o.default_value();
                    let arg = arg.value_name(o.name.to_uppercase().replace('-', "_"));
                    if default.is_empty() {
                        arg
                    } else {
                        arg.default_value(default)
                    }
                }
            };
            sub = sub.arg(arg);
        }
        sub
    }
}

/// The clap command, with the options table's flags.
pub fn command() -> clap::Command {
    with_option_flags(Cli::command())
}

/// Runs the CLI; returns the process exit code (0 ok, 2 on any error, message on stderr).
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let parsed = command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Evaluate(a) => matches
            .subcommand_matches("evaluate")
            .ok_or_else(|| Error::Options("evaluate's options are missing".into()))
            .and_then(options)
            .and_then(|o| run_evaluate(a, o)),
        Command::Split(a) => matches
            .subcommand_matches("split")
            .ok_or_else(|| Error::Options("split's options are missing".into()))
            .and_then(options)
            .and_then(|o| run_split(a, o)),
        Command::Weights(a) => matches
            .subcommand_matches("weights")
            .ok_or_else(|| Error::Options("weights' options are missing".into()))
            .and_then(options)
            .and_then(|o| run_weights(a, o)),
        Command::Simulate(a) => run_simulate(a),
        Command::Stats(a) => matches
            .subcommand_matches("stats")
            .ok_or_else(|| Error::Options("stats' options are missing".into()))
            .and_then(options)
            .and_then(|o| stats::run(a, o)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// The evaluation options given on the command line, through the options table.
fn options(m: &ArgMatches) -> Result<EvaluateOptions> {
    let mut o = EvaluateOptions::default();
    for spec in OPTIONS {
        // A subcommand takes a share of the table: skip the flags it does not have.
        let value = match spec.kind {
            OptionKind::Flag => m
                .try_get_one::<bool>(spec.name)
                .ok()
                .flatten()
                .and_then(|&on| on.then(|| "true".to_string())),
            _ => m.try_get_one::<String>(spec.name).ok().flatten().cloned(),
        };
        if let Some(v) = value {
            crate::options::set(&mut o, spec.name, &v)?;
        }
    }
    Ok(o)
}

/// The hash of the input files in the manifest (SPEC §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum HashAlgorithm {
    /// BLAKE3 (the default), from the bytes as the readers read them, on every reading thread.
    Blake3,
    /// SHA-256, for tools that expect it (a sequential pass of its own).
    Sha256,
}

/// `sha256:` and the hex digest of a file's bytes, read in windows of their own.
fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    // Windows of the file as the readers get them (mapped for a local file, not copied). A
    // mapped window's pages count in the resident set while it is hashed: small windows keep
    // that bounded. 16 MB: the smallest read that is mapped (`io::source::MAP_MIN_LEN`).
    const WINDOW: u64 = 16 << 20;
    let source = io::open_file(path)?;
    let mut sha256 = sha2::Sha256::new();
    let mut offset = 0u64;
    while offset < source.size() {
        let len = WINDOW.min(source.size() - offset) as usize;
        let bytes = source.read_at(offset, len).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        sha256.update(&bytes);
        offset += len as u64;
    }
    let hex: String = sha256
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("sha256:{hex}"))
}

fn run_evaluate(a: EvaluateArgs, opts: EvaluateOptions) -> Result<()> {
    let mut hashed = Vec::new();
    let mut sha256_thread = None;
    let inputs = if a.example {
        if !a.predictions.is_empty() {
            return Err(Error::Options(
                "--example brings its own predictions; drop --predictions".into(),
            ));
        }
        let cfg = SimConfig::example();
        let sim = simulate(&cfg);
        eprintln!(
            "calibra: evaluating the built-in simulated example (seed {})",
            cfg.seed
        );
        Inputs::simulated(&sim, "example")?
    } else {
        let cells_path = match (&a.cells, &a.stats) {
            (Some(c), _) => c.clone(),
            (None, Some(s)) => {
                let t = io::Table::open(io::open_file(s)?, &opts.cells.read)?;
                if !io::stats_table::is_stats_table(&t.schema) {
                    return Err(Error::in_file(
                        t.name(),
                        "--stats expects a statistics table (columns [context,] perturbation, half, gene, n, sum_x, sum_x2)",
                        "give cells with --cells, or make the table with `calibra stats`",
                    ));
                }
                s.clone()
            }
            (None, None) => return Err(Error::Options("--cells is required".into())),
        };
        let paths: Vec<PathBuf> = std::iter::once(cells_path.clone())
            .chain(a.predictions.iter().cloned())
            .collect();
        let mut sources = Vec::with_capacity(paths.len());
        match a.hash {
            // BLAKE3 from the bytes as the readers read them (one pass; `io::digest`).
            HashAlgorithm::Blake3 => {
                for p in &paths {
                    let source = io::digest::HashingSource::new(io::open_file(p)?);
                    hashed.push((p.display().to_string(), source.clone()));
                    sources.push(source as io::SharedSource);
                }
            }
            // SHA-256 is sequential: a pass of its own, beside the evaluation.
            HashAlgorithm::Sha256 => {
                for p in &paths {
                    sources.push(io::open_file(p)?);
                }
                let paths = paths.clone();
                sha256_thread = Some(std::thread::spawn(move || {
                    paths
                        .into_iter()
                        .map(|p| Ok((p.display().to_string(), sha256_file(&p)?)))
                        .collect::<Result<BTreeMap<String, String>>>()
                }));
            }
        }
        let cells = sources.remove(0);
        Inputs {
            cells,
            predictions: sources,
            split: a.split_file.as_deref().map(io::open_file).transpose()?,
        }
    };

    let bar = stage_bar(a.quiet);
    let mut current: Option<Stage> = None;
    let mut show = |stage: Stage, f: f64| {
        if current != Some(stage) {
            current = Some(stage);
            bar.set_prefix(stage.as_str());
            bar.reset_elapsed();
        }
        show_fraction(&bar, f);
    };
    // Per-gene DEG tables are written as soon as each context's tests are done (see
    // evaluate_writing); the directory appears at --out only when everything is written.
    let mut dir = crate::report::OutputDir::create(&a.out)?;
    let mut write_degs = |t: &DegTableInputs<'_>| dir.write_deg_tables(t);
    let deg_writer: Option<&mut DegTableWriter<'_>> =
        opts.per_gene_tables.then_some(&mut write_degs);
    let eval = match evaluate_writing(inputs, &opts, deg_writer, &mut show) {
        Ok(eval) => eval,
        Err(e) => {
            bar.finish_and_clear();
            return Err(e);
        }
    };
    let mut hashes = match sha256_thread {
        Some(h) => h
            .join()
            .map_err(|_| Error::Internal("the thread hashing the inputs panicked".into()))??,
        None => BTreeMap::new(),
    };
    for (path, source) in hashed {
        let digest = source.finish().map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        hashes.insert(path, digest);
    }
    let written = dir.finish(&eval, &hashes, !opts.per_gene_tables, &mut |f| {
        show(Stage::Report, f)
    });
    bar.finish_and_clear();
    written?;
    print!("{}", crate::report::human_summary(&eval));
    println!("outputs: {}", a.out.display());
    Ok(())
}

fn run_split(a: SplitArgs, opts: EvaluateOptions) -> Result<()> {
    let task =
        Task::parse(&a.task).ok_or_else(|| Error::Options(format!("unknown task '{}'", a.task)))?;
    let labels = io::read_labels(io::open_file(&a.cells)?, &opts.cells)?;
    let task_opts = TaskOptions {
        seed: a.seed,
        test_fraction: a.test_fraction,
        val_fraction: a.val_fraction,
        holdout_context: a.holdout_context,
    };
    let table = crate::design::make_split(task, &labels, &task_opts)?;
    std::fs::write(&a.out, crate::design::split_csv(&table)).map_err(|e| Error::Io {
        path: a.out.display().to_string(),
        source: e,
    })?;
    let count = |s: Split| {
        table
            .sides
            .iter()
            .filter(|((_, l), &side)| side == s && *l != labels.control)
            .count()
    };
    println!(
        "{} (seed {}): {} train, {} val, {} test, {} excluded perturbation(s){}",
        task.as_str(),
        a.seed,
        count(Split::Train),
        count(Split::Val),
        count(Split::Test),
        count(Split::Excluded),
        if labels.has_context {
            " (per context; controls are train)"
        } else {
            " (controls are train)"
        }
    );
    println!("wrote {}", a.out.display());
    Ok(())
}

/// The arguments of `weights`; its options are the evaluation's that decide how the cells are
/// read ([`WEIGHTS_OPTIONS`]).
#[derive(Args, Debug)]
struct WeightsArgs {
    /// Observed cells (Parquet, Arrow IPC or AnnData .h5ad).
    #[arg(long)]
    cells: PathBuf,
    /// Output Parquet file: perturbation × gene weights.
    #[arg(long, default_value = "weights.parquet")]
    out: PathBuf,
    /// Test all of each perturbation's cells (both halves) against the rest, instead of the GT
    /// half the evaluation tests.
    #[arg(long)]
    all_cells: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// The evaluation options that `weights` takes: where the labels are, how the values are
/// normalised, and the seed of the halves calibra assigns.
const WEIGHTS_OPTIONS: [&str; 7] = [
    "perturbation-column",
    "context-column",
    "control-label",
    "layer",
    "gene-column",
    "normalize",
    "seed",
];

/// The progress bar of a run's stages (hidden with `--quiet`): the stage's name, then its
/// fraction done in thousandths.
pub(crate) fn stage_bar(quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1000)
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>17} [{bar:30}] {percent:>3}% {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// Shows a fraction done (0–1) on a [`stage_bar`].
pub(crate) fn show_fraction(bar: &ProgressBar, fraction: f64) {
    bar.set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
}

/// `weights`: the DEG weights written to `--out`, through a sibling file renamed when complete
/// (an error leaves no partial file).
fn run_weights(a: WeightsArgs, opts: EvaluateOptions) -> Result<()> {
    let bar = stage_bar(a.quiet);
    bar.set_prefix(Stage::ReadCells.as_str());
    let read = crate::weights::read_weights(
        io::open_file(&a.cells)?,
        &opts.cells,
        a.all_cells,
        &mut |f| show_fraction(&bar, f),
    );
    bar.finish_and_clear();
    let w = read?;
    write_file(&a.out, |sink| crate::weights::write_parquet(&w, sink))?;
    let contexts = match w.contexts.len() {
        n if n > 1 => format!(" in {n} contexts"),
        _ => String::new(),
    };
    println!(
        "wrote {}: DEG weights (SPEC §4) of {} perturbation(s){contexts} × {} gene(s), from {}",
        a.out.display(),
        w.n_perturbations(),
        w.genes.len(),
        if w.all_cells {
            "all cells"
        } else {
            "the GT half, as the evaluation's WMSE"
        }
    );
    Ok(())
}

/// Writes a file through a sibling file renamed when complete: an error (reported) leaves no
/// partial file at `out`.
pub(crate) fn write_file<T>(
    out: &Path,
    write: impl FnOnce(&mut crate::report::write::ByteSink<'_>) -> Result<T>,
) -> Result<T> {
    use std::io::Write;
    if out.file_name().is_none() {
        return Err(Error::Options(format!(
            "--out {} is not a file name",
            out.display()
        )));
    }
    let partial = crate::report::dir::staging_path(out);
    let io_err = |source| Error::Io {
        path: partial.display().to_string(),
        source,
    };
    let attempt = || -> Result<T> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(io_err)?);
        let value = write(&mut |b: &[u8]| file.write_all(b).map_err(io_err))?;
        file.into_inner()
            .map_err(|e| io_err(e.into_error()))?
            .sync_all()
            .map_err(io_err)?;
        std::fs::rename(&partial, out).map_err(|source| Error::Io {
            path: out.display().to_string(),
            source,
        })?;
        Ok(value)
    };
    attempt().inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

fn run_simulate(a: SimulateArgs) -> Result<()> {
    if a.sweep {
        return run_sweep(a);
    }
    let mut cfg = SimConfig::preset(&a.preset).ok_or_else(|| {
        Error::Options(format!(
            "unknown preset '{}' (example, small, combo, medium, wide)",
            a.preset
        ))
    })?;
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    let sim = simulate(&cfg);
    std::fs::create_dir_all(&a.out).map_err(|e| Error::Io {
        path: a.out.display().to_string(),
        source: e,
    })?;
    write_parquet(&a.out.join("data.parquet"), &sim.cells_schema, &sim.cells)?;
    write_parquet(
        &a.out.join("predictions.parquet"),
        &sim.predictions_schema,
        &sim.predictions,
    )?;
    let design = serde_json::to_string_pretty(&sim.design).unwrap_or_default();
    let p = a.out.join("simulate.json");
    std::fs::write(&p, design).map_err(|e| Error::Io {
        path: p.display().to_string(),
        source: e,
    })?;
    println!("wrote {}", a.out.display());
    Ok(())
}

/// `simulate --sweep`: every grid point simulated and evaluated; `sweep.csv` (tidy: point ×
/// metric × model) and `sweep.json` (the grid, the base configuration, the version).
fn run_sweep(a: SimulateArgs) -> Result<()> {
    use crate::sweep::{base_config, run_sweep, sweep_table, SweepGrid};
    let defaults = SweepGrid::default();
    let grid = SweepGrid {
        control_bias: a.control_bias.unwrap_or(defaults.control_bias),
        deg_fraction: a.deg_fraction.unwrap_or(defaults.deg_fraction),
        effect_size: a.effect_size.unwrap_or(defaults.effect_size),
        cells_per_perturbation: a
            .cells_per_perturbation
            .unwrap_or(defaults.cells_per_perturbation),
    };
    let mut base = base_config();
    if let Some(s) = a.seed {
        base.seed = s;
    }
    let n = grid.points().len();
    eprintln!(
        "calibra: sweep of {n} simulated datasets (seed {})",
        base.seed
    );
    let bar = indicatif::ProgressBar::new(n as u64);
    let t0 = std::time::Instant::now();
    let results = run_sweep(&base, &grid, &|f| {
        bar.set_position((f * n as f64).round() as u64)
    })?;
    bar.finish_and_clear();
    std::fs::create_dir_all(&a.out).map_err(|e| Error::Io {
        path: a.out.display().to_string(),
        source: e,
    })?;
    let write = |name: &str, text: String| {
        let p = a.out.join(name);
        std::fs::write(&p, text).map_err(|e| Error::Io {
            path: p.display().to_string(),
            source: e,
        })
    };
    write("sweep.csv", sweep_table(&results).to_csv())?;
    let manifest = serde_json::json!({
        "calibra_version": env!("CARGO_PKG_VERSION"),
        "grid": grid,
        "base_config": base,
        "models": crate::sweep::SWEEP_MODELS.iter().map(|(name, model)| serde_json::json!({"name": name, "evaluated_as": model})).collect::<Vec<_>>(),
        "n_points": n,
        "seconds": t0.elapsed().as_secs_f64(),
    });
    write(
        "sweep.json",
        serde_json::to_string_pretty(&manifest).unwrap_or_default(),
    )?;
    println!("wrote {} ({n} points)", a.out.display());
    Ok(())
}

fn write_parquet(
    path: &Path,
    schema: &arrow::datatypes::SchemaRef,
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<()> {
    let err = |e: parquet::errors::ParquetError| {
        Error::Output(format!("writing {} failed: {e}", path.display()))
    };
    let file = std::fs::File::create(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(err)?;
    for b in batches {
        w.write(b).map_err(err)?;
    }
    w.close().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluate_flags_are_the_options_table() {
        let cmd = command();
        cmd.clone().debug_assert();
        let evaluate = cmd.find_subcommand("evaluate").expect("evaluate");
        for o in OPTIONS {
            let arg = evaluate
                .get_arguments()
                .find(|a| a.get_long() == Some(o.name))
                .unwrap_or_else(|| panic!("--{} is missing", o.name));
            assert_eq!(
                arg.get_help().map(|h| h.to_string()).as_deref(),
                Some(o.doc)
            );
        }
    }

    #[test]
    fn flags_reach_the_options() {
        let m = command()
            .try_get_matches_from([
                "calibra",
                "evaluate",
                "--cells",
                "c.parquet",
                "--seed",
                "7",
                "--light",
                "--preset",
                "revision",
            ])
            .unwrap();
        let o = options(m.subcommand_matches("evaluate").unwrap()).unwrap();
        assert_eq!(o.cells.seed, 7);
        assert!(!o.per_gene_tables);
        assert_eq!(o.preset, crate::options::Preset::Revision);
        let m = command()
            .try_get_matches_from(["calibra", "evaluate", "--cells", "c.parquet"])
            .unwrap();
        let o = options(m.subcommand_matches("evaluate").unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            serde_json::to_value(EvaluateOptions::default()).unwrap()
        );
    }

    #[test]
    fn input_hashes_are_blake3_by_default_and_sha256_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.bin");
        std::fs::write(&path, b"abc").unwrap();
        // The published test vectors of "abc".
        let source = io::digest::HashingSource::new(io::open_file(&path).unwrap());
        assert_eq!(
            source.finish().unwrap(),
            "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(
            sha256_file(&path).unwrap(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
