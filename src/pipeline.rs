//! The evaluation pipeline: read → DEGs → baselines → metrics → calibration → statistics.
//! Adapters (CLI, WASM) call [`evaluate`]; what it returns ([`Evaluation`]) is plain data for
//! `report`.

pub use crate::evaluation::{ContextResult, DegTableInputs, Evaluation, PerturbationRow};
pub use crate::options::{EvaluateOptions, Preset};

use crate::baselines::{
    build_baselines, Baselines, TrainPool, BASELINES, COLLAPSED_DUPLICATE, GROUND_TRUTH,
};
use crate::calibration::{calibrate, CalibrationOptions};
use crate::data::{Dataset, GroupStats, Half, ModelPredictions};
use crate::de::{deg_half, deg_mask, deg_mask_top_k, deg_weights, DegDetail, DegResults};
use crate::error::{Error, Result};
use crate::io::{self, PredictionFile, SharedSource};
use crate::metrics::distributional::{space::SpaceGenes, CellInputs};
use crate::metrics::summary::summarize;
use crate::metrics::{metric_table, MetricOptions, References};
use crate::significance::compare_to_null;
use ndarray::{Array1, Axis};
use std::collections::BTreeMap;

/// Pipeline stages, for progress reporting and timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reading and accumulating the cells.
    ReadCells,
    /// Reading predictions.
    ReadPredictions,
    /// DEG tests.
    Deg,
    /// Baselines.
    Baselines,
    /// Metrics and NIR.
    Metrics,
    /// DRF.
    Calibration,
    /// Model-vs-null statistics.
    Statistics,
    /// Building the report: the output files (CLI) or the tables the page shows. Reported by
    /// the front ends after [`evaluate`], and by [`evaluate_writing`] while it hands a
    /// context's per-gene DEG tables to be written.
    Report,
}

impl Stage {
    /// Name used in timings and progress messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ReadCells => "read_cells",
            Stage::ReadPredictions => "read_predictions",
            Stage::Deg => "deg",
            Stage::Baselines => "baselines",
            Stage::Metrics => "metrics",
            Stage::Calibration => "calibration",
            Stage::Statistics => "statistics",
            Stage::Report => "report",
        }
    }
}

/// Receives (stage, fraction of that stage done).
pub type ProgressFn<'a> = &'a mut dyn FnMut(Stage, f64);

/// Input files for an evaluation.
pub struct Inputs {
    /// The observed cells.
    pub cells: SharedSource,
    /// Prediction files (any number).
    pub predictions: Vec<SharedSource>,
    /// A split file (`perturbation[,context],split`) replacing calibra's folds, SPEC §12.5.
    pub split: Option<SharedSource>,
}

impl Inputs {
    /// The tables of calibra's simulator, held in memory as Arrow IPC streams named
    /// `NAME-cells (simulated)` and `NAME-predictions (simulated)`.
    pub fn simulated(sim: &crate::simulate::SimulatedData, name: &str) -> Result<Inputs> {
        let source = |what: &str, schema, batches| -> Result<SharedSource> {
            let bytes = crate::report::ipc_stream_bytes(schema, batches)?;
            Ok(std::sync::Arc::new(io::MemorySource::new(
                format!("{name}-{what} (simulated)"),
                bytes,
            )))
        };
        Ok(Inputs {
            cells: source("cells", &sim.cells_schema, &sim.cells)?,
            predictions: vec![source(
                "predictions",
                &sim.predictions_schema,
                &sim.predictions,
            )?],
            split: None,
        })
    }
}

/// Reads a whole split file (small: a row per perturbation).
fn read_split(source: &SharedSource) -> Result<crate::design::SplitTable> {
    const MAX_BYTES: u64 = 256 << 20;
    if source.size() > MAX_BYTES {
        return Err(Error::in_file(
            source.name(),
            format!("{} bytes is too large for a split file", source.size()),
            "a split file lists each perturbation once: perturbation[,context],split",
        ));
    }
    let bytes = source
        .read_at(0, source.size() as usize)
        .map_err(|e| Error::Io {
            path: source.name().to_string(),
            source: e,
        })?;
    io::read_split_file(source.name(), &bytes)
}

struct Timer {
    timings: BTreeMap<String, f64>,
}

impl Timer {
    fn time<T>(&mut self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let t0 = now();
        let out = f();
        *self
            .timings
            .entry(stage.as_str().to_string())
            .or_insert(0.0) += now() - t0;
        out
    }
}

/// Seconds on a monotonic clock (performance.now() in the browser).
fn now() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() / 1000.0
    }
}

/// Writes a context's per-gene DEG tables while its Σx² is held (see [`evaluate_writing`]).
pub type DegTableWriter<'a> = dyn FnMut(&DegTableInputs<'_>) -> Result<()> + 'a;

/// Runs the whole evaluation.
pub fn evaluate(
    inputs: Inputs,
    options: &EvaluateOptions,
    progress: ProgressFn<'_>,
) -> Result<Evaluation> {
    evaluate_writing(inputs, options, None, progress)
}

/// [`evaluate`], handing each context's per-gene DEG tables to `deg_tables` right after its
/// DEG tests (when the options keep per-gene tables): the tables are written then and Σx² —
/// which only they need — is freed before the baselines, so the run's peak memory is the
/// `--light` run's plus the writer's chunk. Without a writer Σx² stays for the report (the
/// page, which makes those tables only when they are downloaded).
pub fn evaluate_writing(
    inputs: Inputs,
    options: &EvaluateOptions,
    mut deg_tables: Option<&mut DegTableWriter<'_>>,
    progress: ProgressFn<'_>,
) -> Result<Evaluation> {
    let mut timer = Timer {
        timings: BTreeMap::new(),
    };
    let t_start = now();
    if options.predictions.counts && !options.cells.normalize {
        return Err(Error::Options(
            "--predictions-counts declares raw-count predictions beside raw-count cells: add \
             --normalize (the cells are normalised alike), or drop --predictions-counts"
                .into(),
        ));
    }
    // `--metrics auto`: generated cells bring the cell-level family along.
    let with_cells;
    let mut auto_note = None;
    let options = if options.auto_families
        && !options.cell_level()
        && inputs
            .predictions
            .iter()
            .any(|p| io::has_cell_rows(p.clone(), &options.predictions).unwrap_or(false))
    {
        let mut o = options.clone();
        o.families
            .push(crate::metrics::distributional::FAMILY.to_string());
        auto_note = Some(
            "predictions hold cells (several rows per model and perturbation): the cell-level \
             distributional family is computed too (--metrics calibrated leaves it out)"
                .to_string(),
        );
        with_cells = o;
        &with_cells
    } else {
        options
    };
    let sampled;
    let options = if options.cell_level() {
        // The cell-level families read seeded samples, taken while the statistics are read.
        let mut o = options.clone();
        o.cells.max_cells = Some(o.max_cells);
        o.predictions.max_cells = Some((o.max_cells, o.cells.seed));
        // cell-eval2's counts path reads the sampled cells' raw counts.
        o.cells.keep_counts = o.predictions.counts && o.families.iter().any(|f| f == "celleval2");
        o.predictions.keep_counts = o.cells.keep_counts;
        sampled = o;
        &sampled
    } else {
        options
    };
    let split = inputs.split.as_ref().map(read_split).transpose()?;
    let predicted_rows = prediction_rows(&inputs.predictions, options);
    let cell_rows = (options.memory_limit.is_some() && options.cell_level())
        .then(|| {
            io::Table::open(inputs.cells.clone(), &options.cells.read)
                .ok()
                .and_then(|t| t.num_rows)
        })
        .flatten();
    let fits_before_reading = |labels: usize, genes: usize| match options.memory_limit {
        Some(limit) => {
            let predicted_profiles = crate::budget::predicted_profiles(&predicted_rows, labels);
            crate::budget::check(
                &crate::budget::Shape {
                    labels,
                    genes,
                    predicted_profiles,
                    per_gene_tables: options.per_gene_tables,
                    sampled_cells: if options.cell_level() {
                        // cell-eval2's counts path keeps every sampled row twice.
                        (1 + usize::from(options.cells.keep_counts))
                            * crate::budget::sampled_cells(
                                options.max_cells,
                                labels,
                                cell_rows,
                                predicted_profiles,
                                &predicted_rows,
                            )
                    } else {
                        0
                    },
                },
                limit,
            )
        }
        None => Ok(()),
    };
    let mut cells = timer.time(Stage::ReadCells, || {
        io::read_cells(
            inputs.cells.clone(),
            &options.cells,
            split.as_ref(),
            Some(&fits_before_reading),
            &mut |f| progress(Stage::ReadCells, f),
        )
    })?;
    progress(Stage::ReadCells, 1.0);
    let n_files = inputs.predictions.len().max(1) as f64;
    let mut files = Vec::new();
    for (i, src) in inputs.predictions.iter().enumerate() {
        let f = timer.time(Stage::ReadPredictions, || {
            io::read_predictions(src.clone(), &cells.genes, &options.predictions, &mut |f| {
                progress(Stage::ReadPredictions, (i as f64 + f) / n_files)
            })
        })?;
        files.push(f);
        // Streams do not know their length: each file counts as done when it is read.
        progress(Stage::ReadPredictions, (i + 1) as f64 / n_files);
    }
    check_model_names(&files)?;

    // Genes every prediction file has (all observed genes unless --drop-missing-genes).
    let dropped: std::collections::BTreeSet<&str> = files
        .iter()
        .flat_map(|f| f.missing_genes.iter().map(|g| g.as_str()))
        .collect();
    let keep: Vec<usize> = (0..cells.genes.len())
        .filter(|&g| !dropped.contains(cells.genes[g].as_str()))
        .collect();
    if keep.is_empty() {
        return Err(Error::Options(
            "no gene is shared by the cells and every predictions file".into(),
        ));
    }
    let genes: Vec<String> = keep.iter().map(|&g| cells.genes[g].clone()).collect();
    if let Some(limit) = options.memory_limit {
        let shape = crate::budget::Shape {
            labels: cells.contexts.iter().map(|c| c.dataset.labels.len()).sum(),
            genes: genes.len(),
            predicted_profiles: files
                .iter()
                .flat_map(|f| &f.models)
                .map(|m| m.profiles.len())
                .sum(),
            per_gene_tables: options.per_gene_tables,
            sampled_cells: cells
                .contexts
                .iter()
                .filter_map(|c| c.samples.as_ref())
                .flat_map(|s| s.halves.iter().flatten())
                .chain(
                    files
                        .iter()
                        .flat_map(|f| &f.models)
                        .flat_map(|m| &m.samples),
                )
                .map(|g| g.values.nrows() * (1 + usize::from(g.counts.is_some())))
                .sum(),
        };
        crate::budget::check(&shape, limit)?;
    }
    let mut notes: Vec<String> = cells.warnings.clone();
    notes.extend(auto_note);
    if !dropped.is_empty() {
        notes.push(format!(
            "{} observed gene(s) missing from some predictions were dropped from the evaluation",
            dropped.len()
        ));
    }
    for f in &files {
        if !f.extra_genes.is_empty() {
            notes.push(format!(
                "{}: {} predicted gene(s) not observed were ignored",
                f.file,
                f.extra_genes.len()
            ));
        }
    }

    let mut pools = train_pools(&cells.contexts, &keep);
    let mut contexts = Vec::new();
    // The datasets move into the results (one copy of the statistics in memory).
    for (i, ctx) in std::mem::take(&mut cells.contexts).into_iter().enumerate() {
        let ds = if keep.len() == cells.genes.len() {
            ctx.dataset
        } else {
            select_genes(&ctx.dataset, &keep)
        };
        let pool = pools.remove(&i);
        let samples = match ctx.samples {
            Some(s) if keep.len() != cells.genes.len() => Some(s.select_genes(&keep)),
            s => s,
        };
        let r = evaluate_context(
            ctx.context.clone(),
            ds,
            samples.as_ref(),
            pool.as_ref(),
            &files,
            &keep,
            options,
            deg_tables.as_deref_mut(),
            &mut timer,
            progress,
        )?;
        for (m, n) in &r.ignored_rows {
            if *n > 0 {
                notes.push(format!(
                    "{}model '{m}': {n} prediction row(s) for non-evaluated perturbations ignored",
                    context_prefix(r.context.as_deref())
                ));
            }
        }
        notes.extend(r.notes.iter().cloned());
        contexts.push(r);
    }
    timer.timings.insert("total".into(), now() - t_start);
    Ok(Evaluation {
        cells,
        prediction_files: files,
        genes,
        contexts,
        timings: timer.timings,
        notes,
        options: options.clone(),
    })
}

/// The row count of each predictions table from its metadata, for the memory budget before
/// reading (`None`: a stream, or a file that does not open — its read will say why). Only
/// with a memory limit: otherwise nothing is opened twice.
fn prediction_rows(sources: &[SharedSource], options: &EvaluateOptions) -> Vec<Option<u64>> {
    if options.memory_limit.is_none() {
        return Vec::new();
    }
    sources
        .iter()
        .map(|s| {
            io::Table::open(s.clone(), &options.predictions.read)
                .ok()
                .and_then(|t| t.num_rows)
        })
        .collect()
}

fn check_model_names(files: &[PredictionFile]) -> Result<()> {
    let mut seen: BTreeMap<(&str, Option<&str>), &str> = BTreeMap::new();
    for f in files {
        for m in &f.models {
            if BASELINES.contains(&m.name.as_str())
                || m.name == GROUND_TRUTH
                || m.name == COLLAPSED_DUPLICATE
            {
                return Err(Error::in_file(
                    &f.file,
                    format!("model name '{}' is reserved for a calibra baseline", m.name),
                    "rename the model (the 'model' column, or the file name when there is none)",
                ));
            }
            if let Some(prev) =
                seen.insert((m.name.as_str(), m.context.as_deref()), f.file.as_str())
            {
                return Err(Error::in_file(
                    &f.file,
                    format!("model '{}' also appears in {prev}", m.name),
                    "give every model a unique name",
                ));
            }
        }
    }
    Ok(())
}

/// The dataset restricted to some genes (in the given order).
fn select_genes(ds: &Dataset, keep: &[usize]) -> Dataset {
    Dataset {
        genes: keep.iter().map(|&g| ds.genes[g].clone()).collect(),
        stats: GroupStats {
            count: ds.stats.count.clone(),
            sum: ds.stats.sum.select(Axis(1), keep),
            sum_sq: ds.stats.sum_sq.select(Axis(1), keep),
        },
        ..ds.clone()
    }
}

/// For each context (by position) whose test folds have no train perturbation of its own, the
/// train perturbations of the other contexts (SPEC §12.5, `unseen-context`), restricted to the
/// genes `keep`. Contexts without a train set of their own are rare (a held-out context), and
/// so are these copies.
fn train_pools(contexts: &[io::ContextData], keep: &[usize]) -> BTreeMap<usize, TrainPool> {
    let needs_pool = |ds: &Dataset| ds.folds().iter().any(|&k| ds.train_of_fold(k).is_empty());
    let mut pools = BTreeMap::new();
    for (i, c) in contexts.iter().enumerate() {
        if contexts.len() < 2 || !needs_pool(&c.dataset) {
            continue;
        }
        let mut labels = Vec::new();
        let mut rows = Vec::new();
        let mut from = Vec::new();
        for (_, other) in contexts.iter().enumerate().filter(|&(j, _)| j != i) {
            let train = other.dataset.always_train();
            if !train.is_empty() {
                from.push(other.context.clone().unwrap_or_default());
            }
            for l in train {
                let Some(m) = other.dataset.mean_all(l) else {
                    continue;
                };
                labels.push(other.dataset.labels[l].clone());
                rows.push(m.select(Axis(0), keep));
            }
        }
        if rows.is_empty() {
            continue;
        }
        let views: Vec<_> = rows.iter().map(|r| r.view()).collect();
        let means = ndarray::stack(Axis(0), &views).expect("rows of one length");
        pools.insert(
            i,
            TrainPool {
                labels,
                means,
                contexts: from,
            },
        );
    }
    pools
}

/// A predicted sample over the evaluated genes `keep` (itself when it has them all).
fn sample_genes<'s>(
    s: &'s crate::io::GroupSample,
    keep: &[usize],
    all: bool,
) -> std::borrow::Cow<'s, crate::io::GroupSample> {
    if all {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.select_genes(keep))
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate_context(
    context: Option<String>,
    mut ds: Dataset,
    samples: Option<&crate::io::LabelSamples>,
    pool: Option<&TrainPool>,
    files: &[PredictionFile],
    keep: &[usize],
    options: &EvaluateOptions,
    deg_tables: Option<&mut DegTableWriter<'_>>,
    timer: &mut Timer,
    progress: ProgressFn<'_>,
) -> Result<ContextResult> {
    let revision = options.preset == Preset::Revision;
    progress(Stage::Deg, 0.0);
    // GT first, reduced to weights, masks and counts and freed before the TD test allocates: a
    // lower peak. The evaluation keeps no per-gene DEG array: the per-gene output tables
    // recompute their rows from the statistics when they are written
    // (`de::deg_half_rows`, bit for bit the same). So the GT half is needed for its scores and
    // DEG calls only (the revision preset ranks every p_adj: exact ones).
    let (gt_detail, td_detail) = if revision {
        (DegDetail::Adjusted, DegDetail::Adjusted)
    } else {
        (DegDetail::Calls, DegDetail::Adjusted)
    };
    let mut gt = timer.time(Stage::Deg, || deg_half(&ds, Half::Gt, gt_detail));
    let mut weights = BTreeMap::new();
    let mut masks = BTreeMap::new();
    for (row, &label) in gt.groups.iter().enumerate() {
        weights.insert(label, deg_weights(gt.score.row(row)));
        let padj = gt.pval_adj.row(row);
        masks.insert(
            label,
            if revision {
                deg_mask_top_k(padj, 100)
            } else {
                deg_mask(padj)
            },
        );
    }
    let n_degs_gt = gt.deg_counts();
    gt.release_arrays();
    progress(Stage::Deg, 0.5);
    let td = timer.time(Stage::Deg, || deg_half(&ds, Half::Td, td_detail));
    progress(Stage::Deg, 1.0);
    // Σx² is kept only for the per-gene tables' DEG rows: written now when a writer takes them.
    let written = match deg_tables {
        Some(write) if options.per_gene_tables => {
            progress(Stage::Report, 0.0);
            let inputs = DegTableInputs {
                context: context.as_deref(),
                dataset: &ds,
                weights: &weights,
                groups: [gt.groups.len(), td.groups.len()],
            };
            timer.time(Stage::Report, || write(&inputs))?;
            true
        }
        _ => false,
    };
    // Gene choices of the cell-level spaces need Σx² too.
    let space_genes = samples.map(|_| SpaceGenes::new(&ds, options.deg_rule()));
    if !options.per_gene_tables || written {
        ds.stats.release_sum_sq();
    }
    let n_degs = [n_degs_gt, td.deg_counts()];
    let mut deg = DegResults { gt, td };

    progress(Stage::Baselines, 0.0);
    let baselines = timer.time(Stage::Baselines, || build_baselines(&ds, &deg.td, pool));
    progress(Stage::Baselines, 1.0);
    deg.td.release_arrays();

    // User models, matched to this context's evaluated perturbations.
    let evaluated: std::collections::BTreeSet<usize> = ds.evaluated().into_iter().collect();
    let mut models: Vec<ModelPredictions> = baselines.models.clone();
    if samples.is_some() {
        // The cell-level negative control: the technical duplicate's profile, whose cells the
        // distributional family takes collapsed.
        if let Some(td) = models.iter().find(|m| m.name == "technical_duplicate") {
            let mut c = td.clone();
            c.name = COLLAPSED_DUPLICATE.to_string();
            models.push(c);
        }
    }
    // Each model's predicted cells per label (cell-level predictions only).
    let mut predicted_cells: Vec<BTreeMap<usize, std::borrow::Cow<'_, crate::io::GroupSample>>> =
        models.iter().map(|_| BTreeMap::new()).collect();
    // cell-eval2's counts path: every user model's sampled rows (a mean profile's one row
    // too), whose raw counts it reads.
    let mut predicted_counts = predicted_cells.clone();
    let keep_counts = options.cells.keep_counts;
    let mut collapsed = Vec::new();
    let mut user = Vec::new();
    let mut ignored_rows = BTreeMap::new();
    for f in files {
        for m in &f.models {
            if m.context.is_some() && m.context != context {
                continue;
            }
            let mut mp = ModelPredictions::new(m.name.clone());
            let mut cells = BTreeMap::new();
            let mut counts = BTreeMap::new();
            let mut ignored = 0;
            for (i, (label, profile, _)) in m.profiles.iter().enumerate() {
                match ds.label_index(label).filter(|l| evaluated.contains(l)) {
                    Some(l) => {
                        let all = keep.len() == profile.len();
                        if let Some(s) = m.samples.get(i).filter(|_| m.is_cell_level()) {
                            cells.insert(l, sample_genes(s, keep, all));
                        }
                        if let Some(s) = m.samples.get(i).filter(|_| keep_counts) {
                            counts.insert(l, sample_genes(s, keep, all));
                        }
                        let p = if keep.len() == profile.len() {
                            profile.clone()
                        } else {
                            profile.select(Axis(0), keep).into_shared()
                        };
                        mp.profiles.insert(l, p);
                    }
                    None => ignored += 1,
                }
            }
            ignored_rows.insert(m.name.clone(), ignored);
            if samples.is_some() && !m.is_cell_level() {
                collapsed.push(m.name.clone());
            }
            user.push(mp.clone());
            models.push(mp);
            predicted_cells.push(cells);
            predicted_counts.push(counts);
        }
    }

    let refs = References {
        control_mean: baselines.control_mean.view(),
        fold_mean: &baselines.fold_mean,
        weights: &weights,
        deg_mask: &masks,
    };
    let mopts = MetricOptions {
        clip_r2_at: revision.then_some(-1.0),
    };
    let cell_inputs = samples
        .zip(space_genes.as_ref())
        .map(|(observed, genes)| CellInputs {
            observed,
            predicted: predicted_cells
                .iter()
                .map(|m| m.iter().map(|(&l, s)| (l, s.as_ref())).collect())
                .collect(),
            predicted_counts: keep_counts.then(|| {
                predicted_counts
                    .iter()
                    .map(|m| m.iter().map(|(&l, s)| (l, s.as_ref())).collect())
                    .collect()
            }),
            compat_gge: options.compat_gge(),
            compat_celleval: options.compat_celleval(),
            max_cells: options.max_cells,
            spaces: options.spaces.clone(),
            deg_rule: options.deg_rule(),
            genes,
        });
    progress(Stage::Metrics, 0.0);
    let (table, summary) = timer.time(Stage::Metrics, || {
        let t = metric_table(
            &ds,
            &models,
            &refs,
            &mopts,
            &options.families,
            cell_inputs.as_ref(),
        );
        let s = summarize(&t);
        (t, s)
    });
    progress(Stage::Metrics, 1.0);
    progress(Stage::Calibration, 0.0);
    let copts = CalibrationOptions {
        min_perturbations: if revision { 0 } else { 10 },
    };
    let calibration = timer.time(Stage::Calibration, || calibrate(&table, &copts))?;
    progress(Stage::Calibration, 1.0);
    progress(Stage::Statistics, 0.0);
    let stats = timer.time(Stage::Statistics, || {
        compare_to_null(&table, options.n_resamples, options.bootstrap_seed)
    });
    progress(Stage::Statistics, 1.0);

    let perturbations = perturbation_rows(&ds, &deg, &n_degs, &weights, &baselines);
    let mut notes = Vec::new();
    if let (Some(p), false) = (pool, baselines.borrowed_folds.is_empty()) {
        notes.push(format!(
            "context '{}' has no train perturbations of its own: its dataset_mean, interpolated_duplicate and linear baselines learn from the {} train perturbation(s) of {}",
            context.as_deref().unwrap_or(""),
            p.labels.len(),
            p.contexts.join(", ")
        ));
    }
    notes.extend(additive_notes(&ds, context.as_deref()));
    if !collapsed.is_empty() {
        notes.push(format!(
            "{}mean-level predictions of {}: the cell-level metrics compare their mean profile repeated K times (K = the GT sample's cells), a collapsed prediction",
            context_prefix(context.as_deref()),
            collapsed.join(", ")
        ));
    }
    Ok(ContextResult {
        context,
        dataset: ds,
        deg,
        weights,
        deg_mask: masks,
        baselines,
        models: user,
        ignored_rows,
        table,
        summary,
        calibration,
        stats,
        perturbations,
        notes,
    })
}

/// SPEC §1.4: a combo member that is not a single of the dataset in the combo's train set has
/// no term in the additive baseline; say so — one note per context (a combo screen subset can
/// miss dozens of singles), naming the first few.
fn additive_notes(ds: &Dataset, context: Option<&str>) -> Option<String> {
    const NAMED: usize = 3;
    let skipped: Vec<String> = ds
        .evaluated()
        .into_iter()
        .filter(|&l| crate::data::is_combo(&ds.labels[l]))
        .flat_map(|combo| {
            let name = ds.labels[combo].as_str();
            name.split('+')
                .filter(move |m| crate::baselines::additive_single(ds, combo, m).is_none())
                .map(move |m| format!("'{m}' in '{name}'"))
        })
        .collect();
    let (first, rest) = match skipped.len() {
        0 => return None,
        1 => return Some(format!(
            "{}additive baseline: {} is not a single perturbation of the train set; its term is skipped",
            context_prefix(context),
            skipped[0]
        )),
        n => (skipped[..n.min(NAMED)].join(", "), n.saturating_sub(NAMED)),
    };
    let more = if rest > 0 {
        format!(" and {rest} more")
    } else {
        String::new()
    };
    Some(format!(
        "{}additive baseline: {} combo members are not single perturbations of the train set ({first}{more}); their terms are skipped",
        context_prefix(context),
        skipped.len()
    ))
}

/// "context 'X': " before a context's note, nothing without contexts.
fn context_prefix(context: Option<&str>) -> String {
    context
        .map(|c| format!("context '{c}': "))
        .unwrap_or_default()
}

fn perturbation_rows(
    ds: &Dataset,
    deg: &DegResults,
    n_degs: &[BTreeMap<usize, usize>; 2],
    weights: &BTreeMap<usize, Array1<f64>>,
    baselines: &Baselines,
) -> Vec<PerturbationRow> {
    let evaluated: std::collections::BTreeSet<usize> = ds.evaluated().into_iter().collect();
    let linear = baselines.models.iter().find(|m| m.name == "linear");
    let mut labels = ds.perturbations();
    labels.push(ds.control);
    labels
        .into_iter()
        .map(|l| PerturbationRow {
            perturbation: ds.labels[l].clone(),
            kind: if l == ds.control {
                "control"
            } else if crate::data::is_combo(&ds.labels[l]) {
                "combo"
            } else {
                "single"
            },
            fold: ds.fold_of[l],
            n_cells: ds.n_cells_of(l),
            n_gt: ds.n_cells_in(l, Half::Gt),
            n_td: ds.n_cells_in(l, Half::Td),
            evaluated: evaluated.contains(&l),
            gt_deg_tested: deg.gt.row_of(l).is_some(),
            n_degs_gt: n_degs[0].get(&l).copied().unwrap_or(0),
            td_deg_tested: deg.td.row_of(l).is_some(),
            n_degs_td: n_degs[1].get(&l).copied().unwrap_or(0),
            sum_weights: weights.get(&l).map_or(0.0, |w| w.sum()),
            linear_available: linear.is_some_and(|m| m.profiles.contains_key(&l)),
        })
        .collect()
}
