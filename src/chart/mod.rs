//! Charts: the Chart.yaml model, loading from a folder or a `.tgz`, the ignore file,
//! subcharts, and deterministic packaging.

mod metadata;

use std::fmt;

pub use metadata::{ChartMetadata, Dependency, Maintainer};
use thiserror::Error;

/// A file of a chart, path relative to the chart root with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    pub path: String,
    pub data: Vec<u8>,
}

/// A loaded chart. Everything the engine, values and packaging need is in memory;
/// nothing reads the disk after `load` returns.
#[derive(Debug, Clone)]
pub struct Chart {
    pub metadata: ChartMetadata,
    /// Parsed `values.yaml` (an object; empty when the file is absent).
    pub values: serde_json::Value,
    /// Parsed `values.schema.json`, if present.
    pub schema: Option<serde_json::Value>,
    /// `templates/**` files, sorted by path.
    pub templates: Vec<ChartFile>,
    /// `crds/**` files, sorted by path.
    pub crds: Vec<ChartFile>,
    /// `lifecycle.yaml`, if present (rendered like a template).
    pub lifecycle: Option<ChartFile>,
    /// Every file of the chart (including the ones above), minus ignored ones, sorted.
    pub files: Vec<ChartFile>,
    /// Subcharts found under `charts/`, sorted by name.
    pub subcharts: Vec<Chart>,
    /// Where the chart was loaded from, for error messages.
    pub origin: ChartOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartOrigin(pub String);

impl fmt::Display for ChartOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Error)]
pub enum ChartError {
    #[error("{0}")]
    Invalid(String),
}
