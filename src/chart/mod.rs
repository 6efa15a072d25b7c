//! Charts: the Chart.yaml model, loading from a folder or a `.tgz`, the ignore file,
//! subcharts, and deterministic packaging.

mod archive;
pub mod constraint;
mod load;
mod metadata;
mod package;

use std::fmt;
use std::path::{Path, PathBuf};

pub use archive::{load_archive_with_limits, read_archive_metadata, Limits};
pub use load::{load, load_archive, load_dir, parse_chart_yaml};
pub use metadata::{check_name, ChartMetadata, Dependency, Maintainer};
pub use package::{package, package_bytes};
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
    /// After `values::prepare`, `metadata.name` is the subchart's effective name (its alias).
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
    /// Every file of this chart (including the ones above) except those of its
    /// subcharts (`charts/**`) and ignored ones, sorted by path.
    pub files: Vec<ChartFile>,
    /// Subcharts found under `charts/`, sorted by name.
    pub subcharts: Vec<Chart>,
    /// Where the chart was loaded from, for error messages.
    pub origin: ChartOrigin,
}

impl Chart {
    /// Library charts provide macros only: the engine never renders their object templates.
    pub fn is_library(&self) -> bool {
        self.metadata.is_library()
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// A file of this chart by its relative path.
    pub fn file(&self, path: &str) -> Option<&ChartFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// How error messages name one of this chart's files, e.g. `mychart/values.yaml`.
    pub fn display_path(&self, rel: &str) -> String {
        self.origin.join(rel)
    }
}

/// Where a chart came from: a folder path, or an archive name plus its top folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartOrigin(pub String);

impl ChartOrigin {
    pub fn join(&self, rel: &str) -> String {
        if self.0.ends_with('/') || self.0.ends_with(':') {
            format!("{}{rel}", self.0)
        } else {
            format!("{}/{rel}", self.0)
        }
    }
}

impl fmt::Display for ChartOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Error)]
pub enum ChartError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: no Chart.yaml found (is this a chart folder?)")]
    MissingChartYaml(String),
    /// YAML or JSON that does not parse; line and column are 1-based.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Content { file: String, message: String },
    #[error("{file}: field {field}: {message}")]
    Field {
        file: String,
        field: String,
        message: String,
    },
    #[error("{origin}: unsafe archive entry {entry:?}: {reason}")]
    UnsafeEntry {
        origin: String,
        entry: String,
        reason: String,
    },
    #[error("{origin}: {what} exceeds the limit of {limit} bytes")]
    TooLarge {
        origin: String,
        what: String,
        limit: u64,
    },
    #[error("{origin}: not a valid chart archive: {message}")]
    BadArchive { origin: String, message: String },
    #[error("{path}: symlink points outside the chart to {target}")]
    SymlinkEscape { path: String, target: String },
    #[error("chart {chart} requires kubeVersion {constraint}, which Kubernetes {version} does not satisfy")]
    KubeVersion {
        chart: String,
        constraint: String,
        version: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Check the chart's `kubeVersion` constraint against a cluster version such as `1.29.3`
/// or `v1.30.0-gke.1` (whose suffix is ignored). Charts without a constraint accept any
/// version.
pub fn check_kube_version(meta: &ChartMetadata, kube_version: &str) -> Result<(), ChartError> {
    let mut version = constraint::parse_lenient_version(kube_version)
        .map_err(|e| ChartError::Invalid(format!("--kube-version: {e}")))?;
    // Like Helm 4, compare the cluster's major.minor.patch only: vendor suffixes such as
    // `-gke.100` or `+k3s1` must not make `>=1.28.0` fail on a 1.29 cluster.
    version.pre = semver::Prerelease::EMPTY;
    version.build = semver::BuildMetadata::EMPTY;
    let Some(text) = &meta.kube_version else {
        return Ok(());
    };
    let c = constraint::Constraint::parse(text).map_err(|e| ChartError::Field {
        file: format!("{}/Chart.yaml", meta.name),
        field: "kubeVersion".into(),
        message: e.to_string(),
    })?;
    if c.matches(&version) {
        Ok(())
    } else {
        Err(ChartError::KubeVersion {
            chart: meta.name.clone(),
            constraint: text.clone(),
            version: kube_version.to_string(),
        })
    }
}

/// Control characters (newlines in a quoted tar header, say) escaped, so an error stays
/// on one line.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ChartError + '_ {
    move |source| ChartError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The file name `package` writes: `NAME-VERSION.tgz`.
pub fn archive_name(meta: &ChartMetadata) -> PathBuf {
    PathBuf::from(format!("{}-{}.tgz", meta.name, meta.version))
}
