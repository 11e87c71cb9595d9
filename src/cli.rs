//! The `calibra` command line: `calibra evaluate …` and `calibra simulate …`.

use crate::io::{self, ColumnNames, SharedSource};
use crate::pipeline::{evaluate, EvaluateOptions, Inputs, Preset, Stage};
use crate::simulate::{simulate, SimConfig};
use crate::{Error, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Write a simulated dataset (cells + two illustrative models) as Parquet.
    Simulate(SimulateArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum PresetArg {
    /// SPEC defaults (the goldens).
    Default,
    /// The 2026 revision: top-100 DEG masks, R² clipped at −1, no DRF censoring.
    Revision,
}

#[derive(Args, Debug)]
struct EvaluateArgs {
    /// Observed cells (Parquet or Arrow IPC).
    #[arg(long, required_unless_present = "example")]
    cells: Option<PathBuf>,
    /// Predictions (Parquet or Arrow IPC); repeat for several files.
    #[arg(long = "predictions", num_args = 1..)]
    predictions: Vec<PathBuf>,
    /// Evaluate calibra's built-in simulated example instead of files.
    #[arg(long, conflicts_with = "cells")]
    example: bool,
    /// Output directory (replaced if it holds an earlier calibra output).
    #[arg(long, default_value = "calibra-out")]
    out: PathBuf,
    /// Control label (default: the first of control, non-targeting, ctrl, NT present).
    #[arg(long)]
    control_label: Option<String>,
    /// Seed for halves/folds assigned by calibra when the file has none.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Apply normalize_total(1e4) + log1p per cell (for raw counts).
    #[arg(long)]
    normalize: bool,
    /// Parameter preset.
    #[arg(long, value_enum, default_value_t = PresetArg::Default)]
    preset: PresetArg,
    /// Name of the perturbation column.
    #[arg(long, default_value = "perturbation")]
    perturbation_column: String,
    /// Context column (each context is evaluated separately; default: cell_type if present).
    #[arg(long)]
    context_column: Option<String>,
    /// Evaluate only genes every predictions file has, instead of failing.
    #[arg(long)]
    drop_missing_genes: bool,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 10_000)]
    n_resamples: usize,
    /// Skip the big per-gene outputs (deg_gt.parquet, deg_td.parquet, baselines.parquet), like
    /// the reference's --light: only the metric, DRF, statistics and perturbation tables.
    #[arg(long)]
    light: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct SimulateArgs {
    /// Preset: example, small, combo or medium.
    #[arg(long, default_value = "example")]
    preset: String,
    /// Seed (default: the preset's).
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory for data.parquet and predictions.parquet.
    #[arg(long)]
    out: PathBuf,
}

/// Runs the CLI; returns the process exit code (0 ok, 2 on any error, message on stderr).
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Evaluate(a) => run_evaluate(a),
        Command::Simulate(a) => run_simulate(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn options(a: &EvaluateArgs) -> EvaluateOptions {
    let columns = ColumnNames {
        perturbation: a.perturbation_column.clone(),
        context: a.context_column.clone(),
        ..Default::default()
    };
    let mut o = EvaluateOptions::default();
    o.cells.columns = columns.clone();
    o.cells.control_label = a.control_label.clone();
    o.cells.normalize = a.normalize;
    o.cells.seed = a.seed;
    o.predictions.columns = columns;
    o.predictions.drop_missing_genes = a.drop_missing_genes;
    o.preset = if a.preset == PresetArg::Revision {
        Preset::Revision
    } else {
        Preset::Default
    };
    o.n_resamples = a.n_resamples;
    o.per_gene_tables = !a.light;
    o
}

fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    // Windows of the file as the readers get them (mapped for a local file, not copied). A
    // mapped window's pages count in the resident set while it is hashed: small windows keep
    // that bounded (it used to set the peak RSS of small inputs).
    // 16 MB: the smallest read that is mapped (`io::source::MAP_MIN_LEN`).
    const WINDOW: u64 = 16 << 20;
    let source = io::open_file(path)?;
    let mut h = sha2::Sha256::new();
    let mut offset = 0u64;
    while offset < source.size() {
        let len = WINDOW.min(source.size() - offset) as usize;
        let bytes = source.read_at(offset, len).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        h.update(&bytes);
        offset += len as u64;
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn run_evaluate(a: EvaluateArgs) -> Result<()> {
    let opts = options(&a);
    let mut hashing = None;
    let inputs = if a.example {
        if !a.predictions.is_empty() {
            return Err(Error::Options(
                "--example brings its own predictions; drop --predictions".into(),
            ));
        }
        let cfg = SimConfig::example();
        let sim = simulate(&cfg);
        let cells: SharedSource = Arc::new(io::MemorySource::new(
            "example-cells (simulated)",
            crate::report::ipc_stream_bytes(&sim.cells_schema, &sim.cells)?,
        ));
        let preds: SharedSource = Arc::new(io::MemorySource::new(
            "example-predictions (simulated)",
            crate::report::ipc_stream_bytes(&sim.predictions_schema, &sim.predictions)?,
        ));
        eprintln!(
            "calibra: evaluating the built-in simulated example (seed {})",
            cfg.seed
        );
        Inputs {
            cells,
            predictions: vec![preds],
        }
    } else {
        let cells_path = a
            .cells
            .clone()
            .ok_or_else(|| Error::Options("--cells is required".into()))?;
        let mut preds = Vec::new();
        for p in &a.predictions {
            preds.push(io::open_file(p)?);
        }
        // Hash the inputs for the manifest beside the evaluation (the files are read anyway).
        let paths: Vec<PathBuf> = std::iter::once(cells_path.clone())
            .chain(a.predictions.iter().cloned())
            .collect();
        hashing = Some(std::thread::spawn(move || {
            paths
                .into_iter()
                .map(|p| Ok((p.display().to_string(), sha256_file(&p)?)))
                .collect::<Result<BTreeMap<String, String>>>()
        }));
        Inputs {
            cells: io::open_file(&cells_path)?,
            predictions: preds,
        }
    };

    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1000)
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>17} [{bar:30}] {percent:>3}% {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut current: Option<Stage> = None;
    let eval = evaluate(inputs, &opts, &mut |stage, f| {
        if current != Some(stage) {
            current = Some(stage);
            bar.set_prefix(stage.as_str());
            bar.reset_elapsed();
        }
        bar.set_position((f.clamp(0.0, 1.0) * 1000.0) as u64);
    });
    bar.finish_and_clear();
    let eval = eval?;
    let hashes = match hashing {
        Some(h) => h
            .join()
            .map_err(|_| Error::Numerical("hashing the inputs failed".into()))??,
        None => BTreeMap::new(),
    };
    crate::report::write_dir(&eval, &hashes, &a.out, a.light)?;
    print!("{}", crate::report::human_summary(&eval));
    println!("outputs: {}", a.out.display());
    Ok(())
}

fn run_simulate(a: SimulateArgs) -> Result<()> {
    let mut cfg = SimConfig::preset(&a.preset).ok_or_else(|| {
        Error::Options(format!(
            "unknown preset '{}' (example, small, combo, medium)",
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

fn write_parquet(
    path: &Path,
    schema: &arrow::datatypes::SchemaRef,
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<()> {
    let err = |e: parquet::errors::ParquetError| {
        Error::Numerical(format!("writing {} failed: {e}", path.display()))
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
