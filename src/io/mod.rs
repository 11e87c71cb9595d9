//! Input: Arrow IPC (file and stream) and Parquet tables → per-(label, half) sufficient
//! statistics, streamed batch by batch (SPEC §1). Knows files, not statistics beyond Σx, Σx²,
//! and not evaluation policy (that is [`crate::design`]).
//!
//! One concern per module:
//! - [`source`]: bytes (files, mapped files, browser `File` slices); `digest` (native): their
//!   hash, from the bytes as they are read;
//! - [`table`]: the format seam — a table as record batches and, when the format has them,
//!   independently decodable units; [`formats`]: one module per format (Parquet, Arrow IPC);
//! - [`layout`]: locating the columns, decoding wide / list / CSR values ([`layout::decode`]),
//!   value checks and normalisation ([`layout::values`]);
//! - [`long`]: the long (cell, gene, value) layout, read as one row per cell;
//! - [`columns`], [`groups`]: label columns, and rows grouped by their keys;
//! - [`ingest`]: the one driver, batch → (row groups, expression view) → every sink;
//! - [`sinks`]: what is kept — Σx / Σx² of the cells, profile sums of the predictions;
//! - [`cells`], [`predictions`]: the two readers, wiring the above;
//! - [`split_file`]: a user's train / val / test split.

pub mod cells;
pub mod columns;
#[cfg(not(target_arch = "wasm32"))]
pub mod digest;
pub mod formats;
pub mod groups;
pub mod ingest;
pub mod inspect;
pub mod layout;
pub mod long;
pub mod predictions;
pub mod sinks;
pub mod source;
pub mod split_file;
pub mod stats_table;
pub mod table;

pub use cells::{read_cells, read_labels, CellOptions, ContextData, LabelSamples, ObservedCells};
pub use layout::{ColumnNames, ExpressionLayout, GENES_METADATA_KEY};
pub use predictions::{
    has_cell_rows, read_predictions, PredictedModel, PredictionFile, PredictionOptions,
};
pub use sinks::GroupSample;
#[cfg(not(target_arch = "wasm32"))]
pub use source::FileSource;
pub use source::{ByteSource, MemorySource, SharedSource};
pub use split_file::read_split_file;
pub use table::{detect_format, Format, Table};

/// Opens a local file as a shared byte source.
#[cfg(not(target_arch = "wasm32"))]
pub fn open_file(path: &std::path::Path) -> crate::Result<SharedSource> {
    Ok(std::sync::Arc::new(FileSource::open(path)?))
}
