//! Shared test helpers: where ../shared is, and the golden-file comparison.
#![allow(dead_code)]

pub mod golden;
pub mod layouts;

use std::path::PathBuf;

/// The shared folder (SPEC, goldens, real data): `$CALIBRA_SHARED`, else `../shared` beside
/// the checkout.
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("CALIBRA_SHARED") {
        return PathBuf::from(p);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        dir.join("golden").is_dir(),
        "../shared (with golden/) must be beside the checkout, or set CALIBRA_SHARED"
    );
    dir
}
