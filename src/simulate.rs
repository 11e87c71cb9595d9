//! calibra's own seeded simulator of Perturb-seq-like data (in the spirit of "Diversity by
//! Design", Mejia et al. 2025): negative-binomial counts with gene-specific dispersion, a
//! library-size factor, perturbation classes of varying strength with sparse effects and an
//! on-target knockdown, an optional control bias shared by all perturbed cells, and optional
//! combinations. Output is log1p(CP10k) in the wide layout, with `half` and `fold` columns
//! assigned as SPEC §2 describes, plus two illustrative models.
//!
//! Deterministic for a seed on every platform and thread count: every label draws from its own
//! ChaCha8 stream derived from (seed, purpose, index).

use crate::data::is_combo;
use arrow::array::{ArrayRef, Float32Array, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Normal, Poisson};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Label of control cells.
pub const CONTROL: &str = "control";

/// Simulation parameters.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Genes.
    pub n_genes: usize,
    /// Single perturbations (each targets a gene of the panel).
    pub n_singles: usize,
    /// Combinations `A+B` of two singles.
    pub n_combos: usize,
    /// Control cells.
    pub n_controls: usize,
    /// Fewest cells per perturbation.
    pub cells_min: usize,
    /// Most cells per perturbation.
    pub cells_max: usize,
    /// Probabilities of the classes null, weak, medium, strong.
    pub class_probs: [f64; 4],
    /// Upper bound of the fraction of genes a strong perturbation affects.
    pub strong_frac_hi: f64,
    /// Multiplies every |log fold change|.
    pub effect_scale: f64,
    /// Multiplies the fraction of genes each perturbation affects (at least one gene, at most
    /// all).
    pub deg_frac_scale: f64,
    /// Fraction of genes shifted in every perturbed cell (the control bias).
    pub control_bias_frac: f64,
    /// SD of that shift (natural-log fold change).
    pub control_bias_sd: f64,
    /// Log of the typical gene mean count.
    pub gene_mean_log: f64,
    /// SD of log gene means.
    pub gene_mean_sdlog: f64,
    /// SD of the log library-size factor.
    pub lib_sdlog: f64,
    /// SD of the noise of the `noisy_truth` model.
    pub noisy_truth_sd: f64,
    /// SD of the noise of the `mean_collapse` model.
    pub collapse_sd: f64,
    /// SD of the noise of the `genuine` model (`None`: no such model). `genuine` predicts each
    /// perturbation from the simulator's true effects — log1p(expm1(control mean) · e^lfc), the
    /// control bias included — plus this noise: a model that knows the biology, unlike
    /// `noisy_truth`, which starts from the GT half's own cells.
    pub genuine_sd: Option<f64>,
    /// Rows per record batch.
    pub batch_rows: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            n_genes: 1000,
            n_singles: 60,
            n_combos: 0,
            n_controls: 400,
            cells_min: 30,
            cells_max: 60,
            class_probs: [0.2, 0.25, 0.35, 0.2],
            strong_frac_hi: 0.5,
            effect_scale: 1.0,
            deg_frac_scale: 1.0,
            control_bias_frac: 0.3,
            control_bias_sd: 0.3,
            gene_mean_log: 0.0,
            gene_mean_sdlog: 1.2,
            lib_sdlog: 0.35,
            noisy_truth_sd: 0.15,
            collapse_sd: 0.02,
            genuine_sd: None,
            batch_rows: 10_000,
        }
    }
}

impl SimConfig {
    /// The built-in example: ~3k cells × 1000 genes, 60 singles, a control bias on 30% of
    /// genes — the mean baseline looks good on MSE / Pearson(Δctrl), not on the calibrated
    /// metrics.
    pub fn example() -> Self {
        SimConfig::default()
    }

    /// A named preset: `example`, `small` (fast tests), `combo`, `medium` (perf_medium-sized).
    pub fn preset(name: &str) -> Option<Self> {
        let d = SimConfig::default();
        Some(match name {
            "example" => d,
            "small" => SimConfig {
                n_genes: 40,
                n_singles: 12,
                n_controls: 200,
                cells_min: 20,
                cells_max: 40,
                effect_scale: 1.8,
                ..d
            },
            "combo" => SimConfig {
                n_genes: 200,
                n_singles: 12,
                n_combos: 20,
                n_controls: 800,
                cells_min: 30,
                cells_max: 80,
                control_bias_frac: 0.2,
                control_bias_sd: 0.25,
                ..d
            },
            "medium" => SimConfig {
                n_genes: 2000,
                n_singles: 300,
                n_controls: 5000,
                cells_min: 80,
                cells_max: 120,
                strong_frac_hi: 0.4,
                gene_mean_log: -1.0,
                gene_mean_sdlog: 1.5,
                ..d
            },
            // Many perturbations × genes with few cells each: per-gene arrays and tables of
            // millions of values from a file that is quick to make (the page's memory test).
            "wide" => SimConfig {
                n_genes: 4000,
                n_singles: 2000,
                n_controls: 2000,
                cells_min: 6,
                cells_max: 8,
                ..d
            },
            _ => return None,
        })
    }
}

/// Simulated tables.
pub struct SimulatedData {
    /// `perturbation`, `half`, `fold`, then one Float32 column per gene.
    pub cells_schema: SchemaRef,
    /// Cells in shuffled order, at most `batch_rows` per batch.
    pub cells: Vec<RecordBatch>,
    /// `model`, `perturbation`, then one Float32 column per gene.
    pub predictions_schema: SchemaRef,
    /// `noisy_truth` (GT mean + noise) and `mean_collapse` (fold dataset mean + noise).
    pub predictions: Vec<RecordBatch>,
    /// Configuration and per-perturbation design (class, affected genes, cells, fold).
    pub design: serde_json::Value,
}

/// An independent random stream for (seed, purpose, index) (splitmix64 mixing).
fn stream(seed: u64, purpose: u64, index: u64) -> ChaCha8Rng {
    let mut z = seed
        ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

const GENES: u64 = 1;
const EFFECTS: u64 = 2;
const LAYOUT: u64 = 3;
const CELLS: u64 = 4;
const PREDICTIONS: u64 = 5;

fn normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64) -> f64 {
    Normal::new(mean, sd).map(|d| d.sample(rng)).unwrap_or(mean)
}

/// Gene names `G0001` … (at least four digits).
pub fn gene_names(n: usize) -> Vec<String> {
    let width = n.to_string().len().max(4);
    (1..=n).map(|i| format!("G{i:0width$}")).collect()
}

struct Label {
    name: String,
    /// Genes the perturbation's own effect changes (the control bias excluded).
    n_affected: usize,
    lfc: Vec<f64>,
    n_cells: usize,
    fold: i32,
    class: &'static str,
}

/// A sparse log-fold-change vector of a class, never touching `target`.
fn draw_effect(rng: &mut ChaCha8Rng, cfg: &SimConfig, class: &str, target: usize) -> Vec<f64> {
    let g = cfg.n_genes;
    let mut lfc = vec![0.0; g];
    let (flo, fhi, mlo, mhi) = match class {
        "weak" => (0.003, 0.02, 0.2, 0.6),
        "medium" => (0.02, 0.10, 0.5, 1.3),
        "strong" => (0.10, cfg.strong_frac_hi.max(0.1), 0.6, 2.0),
        _ => return lfc,
    };
    let frac = (rng.random_range(flo..=fhi) * cfg.deg_frac_scale).min(1.0);
    let mut candidates: Vec<usize> = (0..g).filter(|&i| i != target).collect();
    candidates.shuffle(rng);
    let n_aff = ((frac * g as f64).round() as usize).clamp(1, candidates.len());
    for &i in &candidates[..n_aff] {
        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
        lfc[i] = sign * rng.random_range(mlo..mhi) * cfg.effect_scale;
    }
    lfc[target] = rng.random_range(0.05f64..0.35).ln();
    lfc
}

fn design(cfg: &SimConfig) -> (Vec<f64>, Vec<f64>, Vec<Label>) {
    let g = cfg.n_genes;
    let mut rng = stream(cfg.seed, GENES, 0);
    let mu: Vec<f64> = (0..g)
        .map(|_| {
            normal(&mut rng, cfg.gene_mean_log, cfg.gene_mean_sdlog)
                .exp()
                .clamp(1e-3, 500.0)
        })
        .collect();
    let theta: Vec<f64> = (0..g)
        .map(|_| normal(&mut rng, 2f64.ln(), 0.5).exp())
        .collect();
    let mut bias = vec![0.0; g];
    let mut order: Vec<usize> = (0..g).collect();
    order.shuffle(&mut rng);
    for &i in order
        .iter()
        .take((cfg.control_bias_frac * g as f64).round() as usize)
    {
        bias[i] = normal(&mut rng, 0.0, cfg.control_bias_sd);
    }

    let mut rng = stream(cfg.seed, EFFECTS, 0);
    let mut targets: Vec<usize> = (0..g).collect();
    targets.shuffle(&mut rng);
    let mut targets: Vec<usize> = targets.into_iter().take(cfg.n_singles.min(g)).collect();
    targets.sort_unstable();
    let names = gene_names(g);
    let classes = ["null", "weak", "medium", "strong"];
    let total: f64 = cfg.class_probs.iter().sum();
    let mut singles: Vec<(String, Vec<f64>, &'static str)> = Vec::new();
    for (i, &t) in targets.iter().enumerate() {
        let mut r = stream(cfg.seed, EFFECTS, 1 + i as u64);
        let u = r.random::<f64>() * total;
        let mut acc = 0.0;
        let class = classes
            .iter()
            .zip(cfg.class_probs)
            .find(|(_, p)| {
                acc += p;
                u < acc
            })
            .map_or("strong", |(c, _)| *c);
        let lfc = draw_effect(&mut r, cfg, class, t);
        singles.push((names[t].clone(), lfc, class));
    }
    let mut combos: Vec<(String, Vec<f64>)> = Vec::new();
    if singles.len() >= 2 {
        let mut seen = std::collections::BTreeSet::new();
        let max = singles.len() * (singles.len() - 1) / 2;
        while combos.len() < cfg.n_combos.min(max) {
            let a = rng.random_range(0..singles.len());
            let b = rng.random_range(0..singles.len());
            let (a, b) = (a.min(b), a.max(b));
            if a == b || !seen.insert((a, b)) {
                continue;
            }
            let mut lfc: Vec<f64> = singles[a]
                .1
                .iter()
                .zip(&singles[b].1)
                .map(|(x, y)| x + y)
                .collect();
            let mut idx: Vec<usize> = (0..g).collect();
            idx.shuffle(&mut rng);
            for &i in idx.iter().take((0.02 * g as f64).round() as usize) {
                lfc[i] += normal(&mut rng, 0.0, 0.4);
            }
            combos.push((format!("{}+{}", singles[a].0, singles[b].0), lfc));
        }
    }

    // Labels, cell counts and folds (SPEC §2 rules).
    let mut rng = stream(cfg.seed, LAYOUT, 0);
    let mut labels: Vec<Label> = vec![Label {
        name: CONTROL.into(),
        n_affected: 0,
        lfc: vec![0.0; g],
        n_cells: cfg.n_controls,
        fold: -1,
        class: "control",
    }];
    let affected = |lfc: &[f64]| lfc.iter().filter(|&&x| x != 0.0).count();
    for (name, lfc, class) in singles {
        let n_affected = affected(&lfc);
        let lfc = lfc.iter().zip(&bias).map(|(a, b)| a + b).collect();
        labels.push(Label {
            name,
            n_affected,
            lfc,
            n_cells: rng.random_range(cfg.cells_min..=cfg.cells_max.max(cfg.cells_min)),
            fold: -1,
            class,
        });
    }
    for (name, lfc) in combos {
        let n_affected = affected(&lfc);
        let lfc = lfc.iter().zip(&bias).map(|(a, b)| a + b).collect();
        labels.push(Label {
            name,
            n_affected,
            lfc,
            n_cells: rng.random_range(cfg.cells_min..=cfg.cells_max.max(cfg.cells_min)),
            fold: -1,
            class: "combo",
        });
    }
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    let combo_dataset = labels.iter().any(|l| is_combo(&l.name));
    let mut tested: Vec<usize> = (0..labels.len())
        .filter(|&i| labels[i].name != CONTROL && (!combo_dataset || is_combo(&labels[i].name)))
        .collect();
    tested.shuffle(&mut rng);
    let n = tested.len();
    if combo_dataset {
        for (pos, &i) in tested.iter().enumerate() {
            labels[i].fold = if pos < n / 2 { 0 } else { 1 };
        }
    } else {
        let mut pos = 0;
        for f in 0..5 {
            let size = n / 5 + usize::from(f < n % 5);
            for &i in &tested[pos..pos + size] {
                labels[i].fold = f as i32;
            }
            pos += size;
        }
    }
    (mu, theta, labels)
}

/// One label's cells: log1p(CP10k) rows (f32) and GT flags.
fn label_cells(
    cfg: &SimConfig,
    index: usize,
    label: &Label,
    mu: &[f64],
    theta: &[f64],
) -> (Vec<Vec<f32>>, Vec<bool>) {
    let mut rng = stream(cfg.seed, CELLS, index as u64);
    let g = cfg.n_genes;
    let gammas: Vec<Option<Gamma<f64>>> =
        theta.iter().map(|&t| Gamma::new(t, 1.0 / t).ok()).collect();
    let mut rows = Vec::with_capacity(label.n_cells);
    let mut counts = vec![0f64; g];
    for _ in 0..label.n_cells {
        let lib = normal(&mut rng, 0.0, cfg.lib_sdlog).exp();
        for gi in 0..g {
            let mean = mu[gi] * label.lfc[gi].exp() * lib;
            // Gamma–Poisson mixture: NB with mean `mean` and dispersion θ.
            let rate = gammas[gi]
                .as_ref()
                .map_or(mean, |d| mean * d.sample(&mut rng));
            counts[gi] = if rate > 0.0 {
                Poisson::new(rate).map_or(0.0, |p| p.sample(&mut rng))
            } else {
                0.0
            };
        }
        let total: f64 = counts.iter().sum();
        let scale = if total > 0.0 { 1e4 / total } else { 0.0 };
        rows.push(counts.iter().map(|&c| (c * scale).ln_1p() as f32).collect());
    }
    // Halves (SPEC §2): the first ⌊n/2⌋ positions of a permutation of the label's cells are GT.
    let n = label.n_cells;
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut rng);
    let mut gt = vec![false; n];
    for &p in &perm[..n / 2] {
        gt[p] = true;
    }
    (rows, gt)
}

fn schema(first: [(&str, DataType); 3], genes: &[String]) -> SchemaRef {
    let mut fields: Vec<Field> = first
        .into_iter()
        .map(|(n, t)| Field::new(n, t, false))
        .collect();
    fields.extend(
        genes
            .iter()
            .map(|g| Field::new(g, DataType::Float32, false)),
    );
    Arc::new(Schema::new(fields))
}

/// Simulates a dataset.
pub fn simulate(cfg: &SimConfig) -> SimulatedData {
    simulate_with_progress(cfg, &mut |_| {})
}

/// Simulates a dataset, reporting progress (0..1).
pub fn simulate_with_progress(cfg: &SimConfig, progress: &mut dyn FnMut(f64)) -> SimulatedData {
    let g = cfg.n_genes;
    let genes = gene_names(g);
    let (mu, theta, labels) = design(cfg);
    progress(0.05);
    let per_label: Vec<(Vec<Vec<f32>>, Vec<bool>)> = labels
        .par_iter()
        .enumerate()
        .map(|(i, l)| label_cells(cfg, i, l, &mu, &theta))
        .collect();
    progress(0.8);

    // Rows in shuffled order: (label, cell within label).
    let mut order: Vec<(usize, usize)> = per_label
        .iter()
        .enumerate()
        .flat_map(|(l, (rows, _))| (0..rows.len()).map(move |c| (l, c)))
        .collect();
    order.shuffle(&mut stream(cfg.seed, LAYOUT, 1));
    let cells_schema = schema(
        [
            ("perturbation", DataType::Utf8),
            ("half", DataType::Utf8),
            ("fold", DataType::Int32),
        ],
        &genes,
    );
    let cells: Vec<RecordBatch> = order
        .chunks(cfg.batch_rows.max(1))
        .map(|chunk| {
            let mut cols: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|&(l, _)| labels[l].name.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk
                        .iter()
                        .map(|&(l, c)| if per_label[l].1[c] { "gt" } else { "td" }),
                )),
                Arc::new(Int32Array::from_iter_values(
                    chunk.iter().map(|&(l, _)| labels[l].fold),
                )),
            ];
            for gi in 0..g {
                cols.push(Arc::new(Float32Array::from_iter_values(
                    chunk.iter().map(|&(l, c)| per_label[l].0[c][gi]),
                )));
            }
            RecordBatch::try_new(cells_schema.clone(), cols).expect("columns match the schema")
        })
        .collect();

    // Means for the illustrative models: GT-half means and per-fold dataset means.
    let mean_of = |l: usize, gt_only: bool| -> Vec<f64> {
        let (rows, gt) = &per_label[l];
        let mut s = vec![0f64; g];
        let mut n = 0usize;
        for (r, row) in rows.iter().enumerate() {
            if gt_only && !gt[r] {
                continue;
            }
            n += 1;
            for (a, &x) in s.iter_mut().zip(row) {
                *a += x as f64;
            }
        }
        s.iter().map(|a| a / n.max(1) as f64).collect()
    };
    let evaluated: Vec<usize> = (0..labels.len())
        .filter(|&l| labels[l].fold >= 0 && per_label[l].1.iter().any(|&x| x))
        .collect();
    let folds: std::collections::BTreeSet<i32> =
        evaluated.iter().map(|&l| labels[l].fold).collect();
    let mut fold_mean: BTreeMap<i32, Vec<f64>> = BTreeMap::new();
    for &k in &folds {
        let train: Vec<usize> = (0..labels.len())
            .filter(|&l| labels[l].name != CONTROL && labels[l].fold != k)
            .collect();
        let mut acc = vec![0f64; g];
        for &l in &train {
            for (a, x) in acc.iter_mut().zip(mean_of(l, false)) {
                *a += x;
            }
        }
        fold_mean.insert(
            k,
            acc.iter().map(|a| a / train.len().max(1) as f64).collect(),
        );
    }
    let mut rng = stream(cfg.seed, PREDICTIONS, 0);
    let mut pred_rows: Vec<(&str, usize, Vec<f32>)> = Vec::new();
    for &l in &evaluated {
        let gt = mean_of(l, true);
        pred_rows.push((
            "noisy_truth",
            l,
            gt.iter()
                .map(|&x| (x + normal(&mut rng, 0.0, cfg.noisy_truth_sd)) as f32)
                .collect(),
        ));
    }
    for &l in &evaluated {
        let m = &fold_mean[&labels[l].fold];
        pred_rows.push((
            "mean_collapse",
            l,
            m.iter()
                .map(|&x| (x + normal(&mut rng, 0.0, cfg.collapse_sd)) as f32)
                .collect(),
        ));
    }
    if let Some(sd) = cfg.genuine_sd {
        let control = labels.iter().position(|l| l.name == CONTROL);
        let control_mean = control.map_or_else(|| vec![0.0; g], |c| mean_of(c, false));
        let mut rng = stream(cfg.seed, PREDICTIONS, 1);
        for &l in &evaluated {
            pred_rows.push((
                "genuine",
                l,
                control_mean
                    .iter()
                    .zip(&labels[l].lfc)
                    .map(|(&c, &lfc)| {
                        ((c.exp_m1() * lfc.exp()).ln_1p() + normal(&mut rng, 0.0, sd)) as f32
                    })
                    .collect(),
            ));
        }
    }
    let predictions_schema = schema(
        [
            ("model", DataType::Utf8),
            ("perturbation", DataType::Utf8),
            ("fold", DataType::Int32),
        ],
        &genes,
    );
    // Predictions carry no fold column: rebuild the schema without it.
    let predictions_schema = Arc::new(Schema::new(
        predictions_schema
            .fields()
            .iter()
            .filter(|f| f.name() != "fold")
            .map(|f| f.as_ref().clone())
            .collect::<Vec<_>>(),
    ));
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(pred_rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(
            pred_rows.iter().map(|r| labels[r.1].name.as_str()),
        )),
    ];
    for gi in 0..g {
        cols.push(Arc::new(Float32Array::from_iter_values(
            pred_rows.iter().map(|r| r.2[gi]),
        )));
    }
    let predictions =
        vec![RecordBatch::try_new(predictions_schema.clone(), cols)
            .expect("columns match the schema")];

    let design = serde_json::json!({
        "config": cfg,
        "n_cells": order.len(),
        "perturbations": labels.iter().filter(|l| l.name != CONTROL).map(|l| serde_json::json!({
            "perturbation": l.name,
            "class": l.class,
            "n_affected": l.n_affected,
            "n_cells": l.n_cells,
            "fold": l.fold,
        })).collect::<Vec<_>>(),
    });
    progress(1.0);
    SimulatedData {
        cells_schema,
        cells,
        predictions_schema,
        predictions,
        design,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    fn small() -> SimConfig {
        SimConfig::preset("small").unwrap()
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a = simulate(&small());
        let b = simulate(&small());
        assert_eq!(a.cells, b.cells);
        assert_eq!(a.predictions, b.predictions);
        let c = simulate(&SimConfig { seed: 7, ..small() });
        assert_ne!(a.cells, c.cells);
    }

    #[test]
    fn halves_folds_and_values() {
        let cfg = small();
        let d = simulate(&cfg);
        let mut per_label: BTreeMap<String, (usize, usize, i32)> = BTreeMap::new();
        for b in &d.cells {
            let lab = b.column(0).as_string::<i32>();
            let half = b.column(1).as_string::<i32>();
            let fold = b.column(2).as_primitive::<arrow::datatypes::Int32Type>();
            for r in 0..b.num_rows() {
                let e = per_label
                    .entry(lab.value(r).to_string())
                    .or_insert((0, 0, fold.value(r)));
                if half.value(r) == "gt" {
                    e.0 += 1
                } else {
                    e.1 += 1
                }
                // log1p(CP10k): finite, non-negative, and Σ expm1(x) ≈ 1e4 per cell.
                let total: f64 = (3..b.num_columns())
                    .map(|c| {
                        (b.column(c)
                            .as_primitive::<arrow::datatypes::Float32Type>()
                            .value(r) as f64)
                            .exp_m1()
                    })
                    .sum();
                assert!(
                    total == 0.0 || (total - 1e4).abs() < 1.0,
                    "row total {total}"
                );
            }
        }
        let mut fold_sizes = [0usize; 5];
        for (name, (gt, td, fold)) in &per_label {
            assert_eq!(*gt, (gt + td) / 2, "{name}: GT is the first half");
            if name == CONTROL {
                assert_eq!(*fold, -1);
            } else {
                fold_sizes[*fold as usize] += 1;
            }
        }
        let n = cfg.n_singles;
        let want: Vec<usize> = (0..5).map(|f| n / 5 + usize::from(f < n % 5)).collect();
        assert_eq!(fold_sizes.to_vec(), want);
    }

    #[test]
    fn combo_preset_has_combos_in_two_folds() {
        let d = simulate(&SimConfig::preset("combo").unwrap());
        let mut folds = std::collections::BTreeSet::new();
        for b in &d.cells {
            let lab = b.column(0).as_string::<i32>();
            let fold = b.column(2).as_primitive::<arrow::datatypes::Int32Type>();
            for r in 0..b.num_rows() {
                if is_combo(lab.value(r)) {
                    folds.insert(fold.value(r));
                } else {
                    assert_eq!(fold.value(r), -1);
                }
            }
        }
        assert_eq!(folds.into_iter().collect::<Vec<_>>(), vec![0, 1]);
    }
}
