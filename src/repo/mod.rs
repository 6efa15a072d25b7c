//! Chart repositories: the index format, repositories config and cache, the HTTP client,
//! search, pull, index generation, hosting and signing.

pub mod cache;
pub mod config;
pub mod deps;
pub mod fsutil;
pub mod http;
pub mod index;
pub mod indexgen;
pub mod package;
pub mod remote;
pub mod resolve;
pub mod scan;
pub mod search;
pub mod serve;
pub mod sign;
pub mod version;

use thiserror::Error;

pub use config::{Paths, RepoConfig, RepoEntry};
pub use index::{IndexEntry, IndexFile};
pub use resolve::{resolve_chart_ref, ChartSource, ResolveOptions, ResolvedChart};

#[derive(Debug, Error)]
pub enum RepoError {
    #[error("{0}")]
    Invalid(String),
    #[error("{origin}: invalid repository index: {msg}")]
    BadIndex { origin: String, msg: String },
    #[error("{path}: {msg}")]
    Config { path: String, msg: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: {msg}")]
    Http { url: String, msg: String },
    #[error("no repository named {0:?} (see `stackpkg repo list`)")]
    NoSuchRepo(String),
    #[error("{0}")]
    NotFound(String),
    #[error(
        "digest mismatch for {what}: expected sha256 {expected}, got {actual}; nothing written"
    )]
    Digest {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: corrupt cache ({msg}); run `stackpkg repo update`")]
    Cache { path: String, msg: String },
    #[error("{origin}: invalid chart package: {msg}")]
    Package { origin: String, msg: String },
    #[error("{0}")]
    Signature(String),
    #[error("{path}: {msg}")]
    Dependency { path: String, msg: String },
}

impl RepoError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        RepoError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = RepoError> = std::result::Result<T, E>;
