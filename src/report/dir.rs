//! The CLI's output directory, written atomically: every file goes into a sibling staging
//! directory that replaces `--out` only when everything succeeded (and is removed otherwise).
//! Files can be written while the evaluation runs — the per-gene DEG tables right after a
//! context's DEG tests, so that the rest of the run does without Σx² — and the others at the end.

use super::contexts;
use super::write::write_table;
use super::{
    context_dir, deg_table, manifest, OutputFile, DEG_GT, DEG_TD, OUTPUTS, POOLED_SUMMARY,
};
use crate::error::{Error, Result};
use crate::evaluation::{DegTableInputs, Evaluation};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Where `out` is written before it is put in place: `.NAME.calibra-partial` beside it (an
/// output without a file name stages as `.out.calibra-partial`).
pub fn staging_path(out: &Path) -> PathBuf {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    parent.join(format!(".{name}.calibra-partial"))
}

/// An output directory being written.
pub struct OutputDir {
    out: PathBuf,
    staging: PathBuf,
    /// Files already written, relative to the staging directory.
    written: BTreeSet<PathBuf>,
    finished: bool,
}

fn io_err(p: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = p.display().to_string();
    move |source| Error::Io { path, source }
}

impl OutputDir {
    /// Starts writing `out`: creates its parent and an empty staging directory beside it.
    pub fn create(out: &Path) -> Result<Self> {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io_err(parent))?;
        let staging = staging_path(out);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
        }
        fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        Ok(OutputDir {
            out: out.to_path_buf(),
            staging,
            written: BTreeSet::new(),
            finished: false,
        })
    }

    /// Writes one file of a context (`None`: no contexts) from the table `produce` makes,
    /// a chunk at a time.
    fn write_file(
        &mut self,
        context: Option<&str>,
        name: &str,
        produce: impl FnOnce(&mut super::ChunkSink<'_>) -> Result<()>,
    ) -> Result<()> {
        let relative = Path::new(&context_dir(&context.map(str::to_string))).join(name);
        let dir = self
            .staging
            .join(relative.parent().unwrap_or(Path::new("")));
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = self.staging.join(&relative);
        let f = fs::File::create(&path).map_err(io_err(&path))?;
        let mut w = std::io::BufWriter::new(f);
        write_table(name, produce, &mut |bytes| {
            std::io::Write::write_all(&mut w, bytes).map_err(|e| io_err(&path)(e))
        })?;
        std::io::Write::flush(&mut w).map_err(io_err(&path))?;
        self.written.insert(relative);
        Ok(())
    }

    /// Writes a context's `deg_gt.parquet` and `deg_td.parquet` (while its Σx² is held).
    pub fn write_deg_tables(&mut self, t: &DegTableInputs<'_>) -> Result<()> {
        for (name, gt) in [(DEG_GT, true), (DEG_TD, false)] {
            self.write_file(t.context, name, |sink| deg_table(t, gt, sink))?;
        }
        Ok(())
    }

    /// Writes every output of `e` not yet written (per-gene tables only unless `light`),
    /// the tables of all contexts, the manifest, and puts the directory in place.
    pub fn finish(
        mut self,
        e: &Evaluation,
        input_hashes: &BTreeMap<String, String>,
        light: bool,
        progress: &mut dyn FnMut(f64),
    ) -> Result<()> {
        let files: Vec<&OutputFile> = OUTPUTS
            .iter()
            .filter(|f| !(f.per_gene && (light || !e.options.per_gene_tables)))
            .collect();
        let total = (e.contexts.len() * files.len()).max(1) as f64;
        let mut done = 0usize;
        for r in &e.contexts {
            // One chunk of one table in memory at a time.
            for file in &files {
                progress(done as f64 / total);
                done += 1;
                if !file.applies_to(r) {
                    continue;
                }
                let relative = Path::new(&context_dir(&r.context)).join(file.name);
                if self.written.contains(&relative) {
                    continue;
                }
                self.write_file(r.context.as_deref(), file.name, |sink| {
                    (file.produce)(r, sink)
                })?;
            }
        }
        if e.contexts.iter().any(|r| r.context.is_some()) {
            // Beside the per-context folders: each small table of all contexts, and the
            // pooled summary.
            for name in contexts::combined_outputs() {
                let Some(table) = contexts::all_contexts_table(&e.contexts, name)? else {
                    continue; // a family's file, and the family was not computed
                };
                let path = self.staging.join(name);
                fs::write(&path, table.to_csv()).map_err(io_err(&path))?;
            }
            let path = self.staging.join(POOLED_SUMMARY);
            fs::write(&path, contexts::pooled_summary(&e.contexts).to_csv())
                .map_err(io_err(&path))?;
        }
        progress(1.0);
        let mut m = manifest(e, input_hashes);
        if let Some(obj) = m.as_object_mut() {
            obj.insert("light".into(), light.into());
        }
        let m = serde_json::to_string_pretty(&m).unwrap_or_default();
        let path = self.staging.join("manifest.json");
        fs::write(&path, m).map_err(io_err(&path))?;
        self.replace_out()
    }

    /// Moves the staging directory to `out`, replacing only an earlier calibra output (or an
    /// empty directory), never other data.
    fn replace_out(&mut self) -> Result<()> {
        let out = &self.out;
        if out.exists() {
            let empty = fs::read_dir(out)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty && !out.join("manifest.json").exists() {
                return Err(Error::Options(format!(
                    "{} exists and is not a calibra output directory; choose another --out",
                    out.display()
                )));
            }
            fs::remove_dir_all(out).map_err(io_err(out))?;
        }
        fs::rename(&self.staging, out).map_err(io_err(out))?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for OutputDir {
    /// An unfinished directory (an error, a cancelled run) leaves nothing behind.
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}
