//! Every option of an evaluation, declared once: [`OPTIONS`] gives each user-facing option its
//! name, kind, documentation and how to read and set it. The CLI builds its flags from it, the
//! WASM adapter parses the page's options through it, and the page builds its form from it (the
//! worker sends the table). Defaults live in the `Default` impls of the option structs; the
//! table reads them, so help texts and the page's form show the real defaults.

use crate::error::{Error, Result};
use crate::io::{CellOptions, PredictionOptions};
use crate::metrics::distributional::space::{DegRule, Space, GGE_DEG_LFC, GGE_DEG_PVAL};

/// Named parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// SPEC §3–§8 as written (the goldens).
    #[default]
    Default,
    /// The 2026 revision of the published code (SPEC §11): DEG masks = top-100 genes by p_adj,
    /// R² clipped at −1, no DRF censoring.
    Revision,
    /// The 2026 Virtual Cell Challenge: the default parameters, and the cell-eval2 family
    /// (whose `vcc2026` profile is the challenge's score) computed with them.
    Vcc2026,
}

impl Preset {
    /// The preset's name on the command line and in the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Revision => "revision",
            Preset::Vcc2026 => "vcc2026",
        }
    }

    /// The preset named `name`.
    pub fn parse(name: &str) -> std::result::Result<Self, String> {
        match name {
            "default" | "" => Ok(Preset::Default),
            "revision" => Ok(Preset::Revision),
            "vcc2026" => Ok(Preset::Vcc2026),
            _ => Err("expected default, revision or vcc2026".into()),
        }
    }
}

/// Every option of an evaluation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvaluateOptions {
    /// Reading the cells.
    pub cells: CellOptions,
    /// Reading the predictions.
    pub predictions: PredictionOptions,
    /// Parameter preset.
    pub preset: Preset,
    /// Bootstrap resamples (SPEC §8).
    pub n_resamples: usize,
    /// Bootstrap seed (numpy `RandomState`).
    pub bootstrap_seed: u32,
    /// Keep what only the per-gene output tables need: Σx² per group and gene, from which
    /// their DEG rows are recomputed as they are written. `--light` turns it off.
    pub per_gene_tables: bool,
    /// Memory the run may use, in bytes (`None`: no limit). Set by a front end that has a hard
    /// limit — the page: 4 GiB of WebAssembly memory — so that a run too large for it stops
    /// before reading its values and again before its large stages ([`crate::budget`]) rather
    /// than running out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<u64>,
    /// Metric families to compute besides the calibrated core (SPEC §12), e.g.
    /// `distributional`.
    pub families: Vec<String>,
    /// `--metrics auto` (the default): the calibrated core, and the distributional family too
    /// when some predictions file holds cells (several rows per model and perturbation).
    pub auto_families: bool,
    /// Cells per sample for the cell-level families (SPEC §12.1).
    pub max_cells: usize,
    /// Reproduce a peer's definitions where they differ from calibra's (`gge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compat: Option<String>,
    /// Spaces of the cell-level metrics (SPEC §12.2).
    pub spaces: Vec<Space>,
    /// The `deg` space picks genes by GGE's rule rather than SPEC §3's DEGs.
    pub gge_deg_rule: bool,
    /// GGE's rule: |log2 fold change| threshold.
    pub deg_lfc: f64,
    /// GGE's rule: Welch p-value threshold.
    pub deg_pval: f64,
}

/// Default cells per sample (SPEC §12.1).
pub const DEFAULT_MAX_CELLS: usize = 512;

impl EvaluateOptions {
    /// True when a family that compares cells is asked for (distributional, celleval,
    /// celleval2): the
    /// run then takes seeded cell samples.
    pub fn cell_level(&self) -> bool {
        self.families.iter().any(|f| {
            f == crate::metrics::distributional::FAMILY
                || f == crate::metrics::celleval::FAMILY
                || f == crate::metrics::celleval2::FAMILY
        })
    }

    /// The families a preset brings (`vcc2026`: celleval2), whatever `--metrics` says.
    fn add_preset_families(&mut self) {
        let family = crate::metrics::celleval2::FAMILY;
        if self.preset == Preset::Vcc2026 && !self.families.iter().any(|f| f == family) {
            self.families.push(family.to_string());
        }
    }

    /// True with `--compat gge`.
    pub fn compat_gge(&self) -> bool {
        self.compat.as_deref() == Some("gge")
    }

    /// True with `--compat celleval`.
    pub fn compat_celleval(&self) -> bool {
        self.compat.as_deref() == Some("celleval")
    }

    /// How the `deg` space picks genes (GGE's rule with `--deg-rule gge` or `--compat gge`).
    pub fn deg_rule(&self) -> DegRule {
        if self.gge_deg_rule || self.compat_gge() {
            DegRule::Gge {
                lfc: self.deg_lfc,
                pval: self.deg_pval,
            }
        } else {
            DegRule::Sec3
        }
    }
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions {
            cells: CellOptions::default(),
            predictions: PredictionOptions {
                // Prediction files are wide (one row per perturbation): 1024 rows of 8192
                // genes are 32 MB decoded.
                batch_rows: 1024,
                ..Default::default()
            },
            preset: Preset::Default,
            n_resamples: crate::significance::N_RESAMPLES,
            bootstrap_seed: crate::significance::BOOTSTRAP_SEED,
            per_gene_tables: true,
            memory_limit: None,
            families: Vec::new(),
            auto_families: true,
            max_cells: DEFAULT_MAX_CELLS,
            compat: None,
            spaces: Space::ALL.to_vec(),
            gge_deg_rule: false,
            deg_lfc: GGE_DEG_LFC,
            deg_pval: GGE_DEG_PVAL,
        }
    }
}

/// What kind of value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "choices")]
pub enum OptionKind {
    /// On or off (`true` / `false`); a bare flag on the command line.
    Flag,
    /// Free text; empty means "not set" (automatic).
    Text,
    /// A non-negative integer.
    Integer,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

/// One user-facing option of `calibra evaluate` (and of the page).
#[derive(Clone, Copy)]
pub struct OptionSpec {
    /// Its name: the CLI's `--name`; the page's key is its camelCase form ([`Self::key`]).
    pub name: &'static str,
    /// What values it takes.
    pub kind: OptionKind,
    /// One line for `--help` and the page.
    pub doc: &'static str,
    /// Offered in the page's form (some options only make sense on the command line).
    pub in_page: bool,
    /// Reads the option's value from options ("" when not set).
    pub get: fn(&EvaluateOptions) -> String,
    /// Sets it from text; the error says what is expected.
    pub set: fn(&mut EvaluateOptions, &str) -> std::result::Result<(), String>,
}

impl OptionSpec {
    /// The default, as text ("" = not set, chosen automatically).
    pub fn default_value(&self) -> String {
        (self.get)(&EvaluateOptions::default())
    }

    /// The page's key: `control-label` → `controlLabel`.
    pub fn key(&self) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in self.name.chars() {
            if c == '-' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }
}

impl std::fmt::Debug for OptionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptionSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("doc", &self.doc)
            .field("in_page", &self.in_page)
            .finish()
    }
}

/// What the page receives for each option.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OptionDescription {
    /// The CLI name.
    pub name: &'static str,
    /// The page's key.
    pub key: String,
    /// What values it takes.
    pub kind: OptionKind,
    /// The default as text ("" = automatic).
    pub default: String,
    /// One line of documentation.
    pub doc: &'static str,
    /// Offered in the page's form.
    pub in_page: bool,
}

/// The option table for the page.
pub fn describe() -> Vec<OptionDescription> {
    OPTIONS
        .iter()
        .map(|o| OptionDescription {
            name: o.name,
            key: o.key(),
            kind: o.kind,
            default: o.default_value(),
            doc: o.doc,
            in_page: o.in_page,
        })
        .collect()
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

fn flag(v: &str) -> std::result::Result<bool, String> {
    match v {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn integer<T: std::str::FromStr>(v: &str) -> std::result::Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| "expected a non-negative whole number".to_string())
}

/// Every user-facing option of an evaluation, in help order.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "control-label",
        kind: OptionKind::Text,
        doc: "Control label (default: the first of control, non-targeting, ctrl, NT present)",
        in_page: true,
        get: |o| text(&o.cells.control_label),
        set: |o, v| {
            o.cells.control_label = non_empty(v);
            Ok(())
        },
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Integer,
        doc: "Seed for halves/folds assigned by calibra when the file has none",
        in_page: true,
        get: |o| o.cells.seed.to_string(),
        set: |o, v| {
            o.cells.seed = integer(v)?;
            Ok(())
        },
    },
    OptionSpec {
        name: "normalize",
        kind: OptionKind::Flag,
        doc: "Apply normalize_total(1e4) + log1p per cell (for raw counts)",
        in_page: true,
        get: |o| o.cells.normalize.to_string(),
        set: |o, v| {
            o.cells.normalize = flag(v)?;
            Ok(())
        },
    },
    OptionSpec {
        name: "predictions-counts",
        kind: OptionKind::Flag,
        doc: "The predictions are raw counts too, as a VCC submission (needs --normalize): each predicted cell is normalised like the cells, and the cell-eval2 family takes its counts path (group-sum bulks, CPM fold changes, jackknife corrections)",
        in_page: true,
        get: |o| o.predictions.counts.to_string(),
        set: |o, v| {
            o.predictions.counts = flag(v)?;
            Ok(())
        },
    },
    OptionSpec {
        name: "preset",
        kind: OptionKind::Choice(&["default", "revision", "vcc2026"]),
        doc: "Parameter preset: default (SPEC), revision (2026: top-100 DEG masks, R² clipped at −1, no DRF censoring) or vcc2026 (default, plus the cell-eval2 family and the Virtual Cell Challenge 2026 score)",
        in_page: true,
        get: |o| o.preset.as_str().to_string(),
        set: |o, v| {
            o.preset = Preset::parse(v)?;
            o.add_preset_families();
            Ok(())
        },
    },
    OptionSpec {
        name: "perturbation-column",
        kind: OptionKind::Text,
        doc: "Name of the perturbation column (default: the first of perturbation, condition, target_gene, gene, guide_ids present)",
        in_page: true,
        get: |o| o.cells.columns.perturbation.clone(),
        set: |o, v| {
            if v.is_empty() {
                return Err("expected a column name".into());
            }
            o.cells.columns.perturbation = v.to_string();
            o.predictions.columns.perturbation = v.to_string();
            Ok(())
        },
    },
    OptionSpec {
        name: "context-column",
        kind: OptionKind::Text,
        doc: "Context column (each context is evaluated separately; default: cell_type or cell_line if present)",
        in_page: true,
        get: |o| text(&o.cells.columns.context),
        set: |o, v| {
            o.cells.columns.context = non_empty(v);
            o.predictions.columns.context = non_empty(v);
            Ok(())
        },
    },
    OptionSpec {
        name: "layer",
        kind: OptionKind::Text,
        doc: "h5ad cells: the matrix to read, layers/NAME ('raw' = raw/X; default: X)",
        in_page: true,
        get: |o| text(&o.cells.read.layer),
        set: |o, v| {
            o.cells.read.layer = non_empty(v);
            Ok(())
        },
    },
    OptionSpec {
        name: "gene-column",
        kind: OptionKind::Text,
        doc: "h5ad: the var column holding gene names (default: the var index)",
        in_page: true,
        get: |o| text(&o.cells.read.gene_column),
        set: |o, v| {
            o.cells.read.gene_column = non_empty(v);
            o.predictions.read.gene_column = non_empty(v);
            Ok(())
        },
    },
    OptionSpec {
        name: "drop-missing-genes",
        kind: OptionKind::Flag,
        doc: "Evaluate only genes every predictions file has, instead of failing",
        in_page: true,
        get: |o| o.predictions.drop_missing_genes.to_string(),
        set: |o, v| {
            o.predictions.drop_missing_genes = flag(v)?;
            Ok(())
        },
    },
    OptionSpec {
        name: "n-resamples",
        kind: OptionKind::Integer,
        doc: "Bootstrap resamples of the confidence intervals",
        in_page: true,
        get: |o| o.n_resamples.to_string(),
        set: |o, v| {
            o.n_resamples = integer(v)?;
            Ok(())
        },
    },
    OptionSpec {
        name: "light",
        kind: OptionKind::Flag,
        doc: "Skip the big per-gene outputs (deg_gt.parquet, deg_td.parquet, baselines.parquet), like the reference's --light",
        in_page: false,
        get: |o| (!o.per_gene_tables).to_string(),
        set: |o, v| {
            o.per_gene_tables = !flag(v)?;
            Ok(())
        },
    },
    OptionSpec {
        name: "metrics",
        kind: OptionKind::Text,
        doc: "Metric families, comma-separated: calibrated (always computed), distributional (cell-level, SPEC §12.3), celleval (cell-eval 0.8.1's DE and profile metrics, SPEC §12.4), celleval2 (cell-eval2 0.20.0's 53 metrics, the VCC 2026 score), perturbench (its RMSE and cosine with their ranks); auto: calibrated, plus distributional when a predictions file holds cells",
        in_page: true,
        get: |o| {
            if o.auto_families {
                return "auto".to_string();
            }
            let mut all = vec!["calibrated".to_string()];
            all.extend(o.families.iter().cloned());
            all.join(",")
        },
        set: |o, v| {
            o.auto_families = v.trim() == "auto";
            if o.auto_families {
                o.families.clear();
                o.add_preset_families();
                return Ok(());
            }
            let mut known: Vec<&str> = crate::metrics::FAMILIES.iter().map(|f| f.name()).collect();
            known.dedup();
            let mut families = Vec::new();
            for f in v.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                if !known.contains(&f) {
                    return Err(format!("unknown metric family '{f}' (known: {})", known.join(", ")));
                }
                if f != "calibrated" && !families.iter().any(|x: &String| x == f) {
                    families.push(f.to_string());
                }
            }
            o.families = families;
            o.add_preset_families();
            Ok(())
        },
    },
    OptionSpec {
        name: "max-cells",
        kind: OptionKind::Integer,
        doc: "Cell-level metrics: at most this many cells per perturbation, half and model (seeded sample)",
        in_page: true,
        get: |o| o.max_cells.to_string(),
        set: |o, v| {
            let n: usize = integer(v)?;
            if n < 2 {
                return Err("expected at least 2".into());
            }
            o.max_cells = n;
            Ok(())
        },
    },
    OptionSpec {
        name: "compat",
        kind: OptionKind::Choice(&["", "gge", "celleval"]),
        doc: "Reproduce a peer's definitions: gge = GGE 1.0.1's paired-cell correlations, halved energy distance, PCA and DEG genes of the first perturbation, space-blind r_squared; celleval = the real cells of both halves, as cell-eval 0.8.1 and cell-eval2 take them",
        in_page: true,
        get: |o| text(&o.compat),
        set: |o, v| {
            o.compat = match v {
                "" => None,
                "gge" | "celleval" => Some(v.into()),
                _ => return Err("expected gge, celleval or nothing".into()),
            };
            Ok(())
        },
    },
    OptionSpec {
        name: "spaces",
        kind: OptionKind::Text,
        doc: "Cell-level metrics: spaces, comma-separated: raw, pca (50 components of 2000 HVGs), deg",
        in_page: true,
        get: |o| {
            o.spaces
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(",")
        },
        set: |o, v| {
            let mut spaces = Vec::new();
            for name in v.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                let s = Space::parse(name)
                    .ok_or_else(|| format!("unknown space '{name}' (known: raw, pca, deg)"))?;
                if !spaces.contains(&s) {
                    spaces.push(s);
                }
            }
            if spaces.is_empty() {
                return Err("expected at least one of raw, pca, deg".into());
            }
            spaces.sort();
            o.spaces = spaces;
            Ok(())
        },
    },
    OptionSpec {
        name: "deg-rule",
        kind: OptionKind::Choice(&["sec3", "gge"]),
        doc: "Cell-level deg space: sec3 = the GT-half DEGs (SPEC §3); gge = |log2FC| ≥ --deg-lfc and Welch p ≤ --deg-pval",
        in_page: true,
        get: |o| if o.gge_deg_rule { "gge" } else { "sec3" }.into(),
        set: |o, v| {
            o.gge_deg_rule = match v {
                "sec3" => false,
                "gge" => true,
                _ => return Err("expected sec3 or gge".into()),
            };
            Ok(())
        },
    },
    OptionSpec {
        name: "deg-lfc",
        kind: OptionKind::Text,
        doc: "GGE's DEG rule: |log2 fold change| threshold",
        in_page: true,
        get: |o| o.deg_lfc.to_string(),
        set: |o, v| {
            o.deg_lfc = threshold(v)?;
            Ok(())
        },
    },
    OptionSpec {
        name: "deg-pval",
        kind: OptionKind::Text,
        doc: "GGE's DEG rule: Welch t-test p-value threshold",
        in_page: true,
        get: |o| o.deg_pval.to_string(),
        set: |o, v| {
            o.deg_pval = threshold(v)?;
            Ok(())
        },
    },
];

/// A non-negative number.
fn threshold(v: &str) -> std::result::Result<f64, String> {
    v.trim()
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| format!("expected a non-negative number, got '{v}'"))
}

/// The option named `name` (CLI name or page key).
pub fn option(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.name == name || o.key() == name)
}

/// Sets option `name` (CLI name or page key) from text.
pub fn set(options: &mut EvaluateOptions, name: &str, value: &str) -> Result<()> {
    let spec = option(name).ok_or_else(|| {
        Error::Options(format!(
            "unknown option '{name}' (known: {})",
            OPTIONS
                .iter()
                .map(|o| o.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    (spec.set)(options, value)
        .map_err(|e| Error::Options(format!("{}: {e}, got '{value}'", spec.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_round_trips_through_the_table() {
        let defaults = EvaluateOptions::default();
        let mut o = EvaluateOptions::default();
        for spec in OPTIONS {
            set(&mut o, spec.name, &spec.default_value()).unwrap();
            set(&mut o, &spec.key(), &spec.default_value()).unwrap();
        }
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            serde_json::to_value(&defaults).unwrap()
        );
    }

    #[test]
    fn setting_and_errors() {
        let mut o = EvaluateOptions::default();
        set(&mut o, "controlLabel", "NT").unwrap();
        set(&mut o, "seed", "7").unwrap();
        set(&mut o, "preset", "revision").unwrap();
        set(&mut o, "light", "true").unwrap();
        assert_eq!(o.cells.control_label.as_deref(), Some("NT"));
        assert_eq!(o.cells.seed, 7);
        assert_eq!(o.preset, Preset::Revision);
        assert!(!o.per_gene_tables);
        let e = set(&mut o, "seed", "-1").unwrap_err().to_string();
        assert!(e.contains("seed") && e.contains("whole number"), "{e}");
        assert!(set(&mut o, "nope", "1")
            .unwrap_err()
            .to_string()
            .contains("unknown option"));
        assert_eq!(
            option("drop-missing-genes").unwrap().key(),
            "dropMissingGenes"
        );
    }
}
