//! WebAssembly adapter (wasm-bindgen): evaluates browser `File`s read slice by slice inside a
//! Web Worker, reports progress to a JS callback, and hands back the report as plain JS objects
//! (same content as the SPEC §9 files) plus the files themselves for download.

use crate::io::{self, ByteSource, SharedSource};
use crate::options;
use crate::pipeline::{evaluate, EvaluateOptions, Evaluation, Inputs};
use crate::report;
use bytes::Bytes;
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasm_bindgen::prelude::*;

#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// A browser `File`, read with `FileReaderSync` (available in workers) one slice at a time, so a
/// multi-GB file is never copied whole into JS or WASM memory.
struct WebFile {
    name: String,
    file: web_sys::File,
    reader: web_sys::FileReaderSync,
}

// SAFETY: a `WebFile` is created and read only on the worker thread that runs the evaluation
// (decoding happens there; rayon tasks only see decoded Rust data), so the JS handles are
// never touched from another thread.
unsafe impl Send for WebFile {}
unsafe impl Sync for WebFile {}

impl ByteSource for WebFile {
    fn name(&self) -> &str {
        &self.name
    }
    fn parallel_reads(&self) -> bool {
        false
    }
    fn size(&self) -> u64 {
        self.file.size() as u64
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let err =
            |e: JsValue| std::io::Error::other(format!("reading {} failed: {e:?}", self.name));
        let blob = self
            .file
            .slice_with_f64_and_f64(offset as f64, (offset + len as u64) as f64)
            .map_err(err)?;
        let buf = self.reader.read_as_array_buffer(&blob).map_err(err)?;
        let arr = Uint8Array::new(&buf);
        if arr.length() as usize != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{}: file ended early", self.name),
            ));
        }
        Ok(Bytes::from(arr.to_vec()))
    }
}

fn web_source(file: web_sys::File) -> Result<SharedSource, JsError> {
    let reader = web_sys::FileReaderSync::new()
        .map_err(|_| JsError::new("FileReaderSync is only available in a Web Worker"))?;
    let file: SharedSource = Arc::new(WebFile {
        name: file.name(),
        file,
        reader,
    });
    // Each FileReaderSync call costs about a millisecond, and the Parquet decoder makes several
    // small reads per page of every column: serve them from 256 KiB blocks (64 MiB at most).
    Ok(Arc::new(io::source::BlockCache::new(file, 256 << 10, 256)))
}

/// The page's options (`{ key: value }`, keys of [`crate::options::OPTIONS`]) applied through
/// the options table; a missing or null value keeps the default.
fn options(js: JsValue) -> Result<EvaluateOptions, JsError> {
    let mut o = EvaluateOptions::default();
    if js.is_undefined() || js.is_null() {
        return Ok(o);
    }
    let given: BTreeMap<String, serde_json::Value> = serde_wasm_bindgen::from_value(js)
        .map_err(|e| JsError::new(&format!("invalid options: {e}")))?;
    for (key, value) in given {
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        options::set(&mut o, &key, &text).map_err(|e| JsError::new(&e.to_string()))?;
    }
    Ok(o)
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The options table (name, key, kind, default, doc): the page builds its form from it.
#[wasm_bindgen(js_name = optionTable)]
pub fn option_table() -> Result<JsValue, JsError> {
    to_js(&options::describe())
}

/// A finished evaluation held in WASM memory.
#[wasm_bindgen]
pub struct Session {
    eval: Evaluation,
}

/// WebAssembly memory a run may use: wasm32 addresses 4 GiB (the threaded build declares the
/// same maximum in `.cargo/wasm-threads.toml`).
const WASM_MEMORY_LIMIT: u64 = 4 << 30;

fn run(inputs: Inputs, opts: JsValue, progress: &Function) -> Result<Session, JsError> {
    let mut opts = options(opts)?;
    opts.memory_limit = Some(WASM_MEMORY_LIMIT);
    let eval = evaluate(inputs, &opts, &mut |stage, f| {
        let _ = progress.call2(
            &JsValue::NULL,
            &JsValue::from_str(stage.as_str()),
            &JsValue::from_f64(f),
        );
    })
    .map_err(|e| JsError::new(&e.to_string()))?;
    Ok(Session { eval })
}

/// Evaluates a cells `File` and any number of prediction `File`s.
/// `progress(stage: string, fraction: number)` is called as the work advances.
#[wasm_bindgen(js_name = evaluateFiles)]
pub fn evaluate_files(
    cells: web_sys::File,
    predictions: Array,
    split: Option<web_sys::File>,
    options: JsValue,
    progress: &Function,
) -> Result<Session, JsError> {
    let mut preds = Vec::new();
    for p in predictions.iter() {
        let f: web_sys::File = p
            .dyn_into()
            .map_err(|_| JsError::new("predictions must be File objects"))?;
        preds.push(web_source(f)?);
    }
    run(
        Inputs {
            cells: web_source(cells)?,
            predictions: preds,
            split: split.map(web_source).transpose()?,
        },
        options,
        progress,
    )
}

/// A first look at a cells file with the page's options: format, layout, and each annotation
/// column's type, a few values and the role calibra gives it (the page's column mapping).
#[wasm_bindgen(js_name = inspectCells)]
pub fn inspect_cells(cells: web_sys::File, options: JsValue) -> Result<JsValue, JsError> {
    let o = self::options(options)?;
    let overview = crate::io::inspect::inspect(
        web_source(cells)?,
        &o.cells.read,
        &o.cells.columns,
        crate::io::layout::TableRole::Cells,
    )
    .map_err(|e| JsError::new(&e.to_string()))?;
    to_js(&overview)
}

/// Evaluates calibra's built-in simulated example (cells + two illustrative models).
#[wasm_bindgen(js_name = evaluateExample)]
pub fn evaluate_example(options: JsValue, progress: &Function) -> Result<Session, JsError> {
    let sim = crate::simulate::simulate(&crate::simulate::SimConfig::example());
    let inputs = Inputs::simulated(&sim, "example").map_err(|e| JsError::new(&e.to_string()))?;
    run(inputs, options, progress)
}

/// One point of the explainer page's live sweep (`www/why.html`, `<calibra-sweep>`): simulates
/// the small dataset of [`crate::sweep::base_config`] with the knobs of `point` — a plain object
/// `{ control_bias, deg_fraction, effect_size, cells_per_perturbation }` — and evaluates the mean
/// baseline, the control baseline, the technical duplicate and a genuine predictor on the
/// calibrated metrics. Returns the [`crate::sweep::PointResult`] as a plain object (`point`,
/// `mean_affected_genes`, `metrics: [{ metric, higher_is_better, means[4], ranks[4], drf }]`,
/// models in [`crate::sweep::SWEEP_MODELS`] order); a NaN mean or a censored DRF stays NaN.
#[wasm_bindgen(js_name = sweepPoint)]
pub fn sweep_point(point: JsValue) -> Result<JsValue, JsError> {
    let point: crate::sweep::SweepPoint = serde_wasm_bindgen::from_value(point)
        .map_err(|e| JsError::new(&format!("invalid sweep point: {e}")))?;
    // The page re-runs a point per slider move: keep the dataset small and the knobs sane.
    let knob = |name: &str, v: f64, lo: f64, hi: f64| {
        if v.is_finite() && (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(JsError::new(&format!(
                "invalid sweep point: {name} must be in [{lo}, {hi}], got {v}"
            )))
        }
    };
    knob("control_bias", point.control_bias, 0.0, 5.0)?;
    knob("deg_fraction", point.deg_fraction, 1e-3, 4.0)?;
    knob("effect_size", point.effect_size, 0.0, 10.0)?;
    knob(
        "cells_per_perturbation",
        point.cells_per_perturbation as f64,
        4.0,
        400.0,
    )?;
    let result = crate::sweep::evaluate_point(&crate::sweep::base_config(), &point)
        .map_err(|e| JsError::new(&e.to_string()))?;
    to_js(&result)
}

/// Largest table (rows × columns) handed to JS as objects.
const MAX_JS_VALUES: usize = 2_000_000;

fn table_to_js(t: &report::Table) -> Array {
    let rows = Array::new();
    for r in 0..t.n_rows() {
        let o = Object::new();
        for (name, col) in &t.columns {
            let v = match col {
                report::Column::Str(v) => JsValue::from_str(&v[r]),
                report::Column::F64(v) => JsValue::from_f64(v[r]),
                report::Column::OptF64(v) => v[r].map_or(JsValue::NULL, JsValue::from_f64),
                report::Column::I64(v) => JsValue::from_f64(v[r] as f64),
                report::Column::I32(v) => JsValue::from_f64(v[r] as f64),
                report::Column::Bool(v) => JsValue::from_bool(v[r]),
            };
            let _ = Reflect::set(&o, &JsValue::from_str(name), &v);
        }
        rows.push(&o);
    }
    rows
}

#[wasm_bindgen]
impl Session {
    /// The report: `{ contexts: [{ context, files: { "metrics.csv": [rows…], … }, judgements:
    /// { trusted, beats_null, verdicts, notes }, notes: [text…] }], pooled: [rows…] (with several contexts),
    /// "manifest.json": {…}, metrics: [spec…], baselines, outputs: [[name, per_gene]…] }`. Rows are plain objects, NaN stays NaN.
    /// `progress(stage, fraction)` follows the tables as they are built (stage `report`).
    pub fn report(&self, progress: &Function) -> Result<JsValue, JsError> {
        let out = Object::new();
        let contexts = Array::new();
        let n_contexts = self.eval.contexts.len().max(1) as f64;
        let stage = JsValue::from_str(crate::pipeline::Stage::Report.as_str());
        for (i, r) in self.eval.contexts.iter().enumerate() {
            let _ = progress.call2(
                &JsValue::NULL,
                &stage,
                &JsValue::from_f64(i as f64 / n_contexts),
            );
            let c = Object::new();
            let files = Object::new();
            // Per-gene tables are downloads only, built when asked (`fileParts`).
            for output in report::OUTPUTS
                .iter()
                .filter(|o| !o.per_gene && o.applies_to(r))
            {
                let Some(table) = report::context_table(r, output.name)
                    .map_err(|e| JsError::new(&e.to_string()))?
                else {
                    continue;
                };
                // A JS object costs ~100 B per value: huge tables stay downloads only.
                if table.n_rows() * table.columns.len() > MAX_JS_VALUES {
                    continue;
                }
                let _ = Reflect::set(
                    &files,
                    &JsValue::from_str(output.name),
                    &table_to_js(&table),
                );
            }
            let _ = Reflect::set(
                &c,
                &"context".into(),
                &r.context
                    .as_deref()
                    .map(JsValue::from_str)
                    .unwrap_or(JsValue::NULL),
            );
            let _ = Reflect::set(&c, &"files".into(), &files);
            let _ = Reflect::set(&c, &"judgements".into(), &to_js(&report::judge(r))?);
            // What calibra noted about this context's design (borrowed train sets, skipped
            // additive terms).
            let _ = Reflect::set(&c, &"notes".into(), &to_js(&r.notes)?);
            contexts.push(&c);
        }
        let manifest = report::manifest(&self.eval, &BTreeMap::new());
        let manifest = js_sys::JSON::parse(&manifest.to_string())
            .map_err(|_| JsError::new("manifest is not JSON"))?;
        let _ = Reflect::set(&out, &"contexts".into(), &contexts);
        if self.eval.contexts.len() > 1 {
            let pooled = report::contexts::pooled_summary(&self.eval.contexts);
            let _ = Reflect::set(&out, &"pooled".into(), &table_to_js(&pooled));
        }
        // What the page needs to read the tables without a copy of calibra's lists: the
        // metrics' specs (names, directions, nulls), the baselines and the output files.
        let specs = self
            .eval
            .contexts
            .first()
            .map(|r| r.table.specs.clone())
            .unwrap_or_else(crate::metrics::registered_specs);
        let _ = Reflect::set(&out, &"metrics".into(), &to_js(&specs)?);
        let _ = Reflect::set(
            &out,
            &"baselines".into(),
            &to_js(&crate::baselines::BASELINES)?,
        );
        let outputs: Vec<(&str, bool)> = report::OUTPUTS
            .iter()
            .filter(|o| self.eval.contexts.first().is_none_or(|r| o.applies_to(r)))
            .map(|o| (o.name, o.per_gene))
            .chain([("manifest.json", false)])
            .collect();
        let _ = Reflect::set(&out, &"outputs".into(), &to_js(&outputs)?);
        let _ = Reflect::set(&out, &"manifest.json".into(), &manifest);
        let _ = progress.call2(&JsValue::NULL, &stage, &JsValue::from_f64(1.0));
        Ok(out.into())
    }

    /// One output file (CSV text or Parquet) for download, as the parts of a Blob: each part
    /// is copied out of WASM memory as soon as it is written, so WASM holds one chunk of the
    /// table at a time (`new Blob(parts)` assembles the file). `context` indexes contexts.
    #[wasm_bindgen(js_name = fileParts)]
    pub fn file_parts(&self, context: usize, name: &str) -> Result<Array, JsError> {
        let parts = Array::new();
        if name == "manifest.json" {
            let bytes = serde_json::to_vec_pretty(&report::manifest(&self.eval, &BTreeMap::new()))
                .unwrap_or_default();
            parts.push(&Uint8Array::from(bytes.as_slice()));
            return Ok(parts);
        }
        let r = self
            .eval
            .contexts
            .get(context)
            .ok_or_else(|| JsError::new("no such context"))?;
        let output = report::output_file(name)
            .ok_or_else(|| JsError::new(&format!("no output named {name}")))?;
        report::write_output(r, output, &mut |bytes| {
            parts.push(&Uint8Array::from(bytes));
            Ok(())
        })
        .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(parts)
    }

    /// Per-gene profiles of one evaluated perturbation for the scatter plot: observed Δ, each
    /// model's predicted Δ (vs control), and the DEG mask.
    #[wasm_bindgen(js_name = perturbationProfiles)]
    pub fn perturbation_profiles(
        &self,
        context: usize,
        perturbation: &str,
    ) -> Result<JsValue, JsError> {
        let r = self
            .eval
            .contexts
            .get(context)
            .ok_or_else(|| JsError::new("no such context"))?;
        let ds = &r.dataset;
        let l = ds
            .label_index(perturbation)
            .ok_or_else(|| JsError::new("unknown perturbation"))?;
        let ctrl = &r.baselines.control_mean;
        let truth = ds
            .mean_in(l, crate::data::Half::Gt)
            .ok_or_else(|| JsError::new("no GT-half cells"))?;
        let o = Object::new();
        let f64s = |v: Vec<f64>| JsValue::from(js_sys::Float64Array::from(v.as_slice()));
        let _ = Reflect::set(
            &o,
            &"genes".into(),
            &ds.genes
                .iter()
                .map(|g| JsValue::from_str(g))
                .collect::<Array>(),
        );
        let _ = Reflect::set(&o, &"observed".into(), &f64s((&truth - ctrl).to_vec()));
        let deg: Vec<f64> = r
            .deg_mask
            .get(&l)
            .map(|m| m.iter().map(|&b| b as u8 as f64).collect())
            .unwrap_or_else(|| vec![0.0; ds.n_genes()]);
        let _ = Reflect::set(&o, &"deg".into(), &f64s(deg));
        let models = Object::new();
        for m in r.baselines.models.iter().chain(&r.models) {
            if let Some(p) = m.profiles.get(&l) {
                let _ = Reflect::set(
                    &models,
                    &JsValue::from_str(&m.name),
                    &f64s((p - ctrl).to_vec()),
                );
            }
        }
        let _ = Reflect::set(&o, &"models".into(), &models);
        Ok(o.into())
    }

    /// The CLI's plain-text summary.
    pub fn summary(&self) -> String {
        report::human_summary(&self.eval)
    }
}

/// Number of rayon threads in use (1 in the single-thread build).
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    rayon::current_num_threads()
}
