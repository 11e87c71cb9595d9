//! The table formats calibra reads, one module each, registered in [`FORMATS`].
//!
//! Adding a format is a module implementing [`TableFormat`] (and [`TableReader`], plus
//! [`TableUnits`] when the format has independently decodable pieces) and one line here.
//!
//! [`TableReader`]: crate::io::table::TableReader
//! [`TableUnits`]: crate::io::table::TableUnits

mod h5ad;
mod ipc;
mod parquet;

use crate::io::table::TableFormat;

/// Every format, in the order their magic bytes are tried.
pub static FORMATS: &[&dyn TableFormat] = &[
    &parquet::Parquet,
    &ipc::ArrowFile,
    &ipc::ArrowStream,
    &h5ad::H5ad,
];
