//! The crate-level error: every module's typed error, plus usage errors.
//! `exit_code` is the contract documented in README.md: 1 for failures, 2 for usage.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Chart(#[from] crate::chart::ChartError),
    #[error(transparent)]
    Values(#[from] crate::values::ValuesError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    /// URLs in repository errors may carry `user:password@`: never printed.
    #[error("{}", crate::repo::http::redact_credentials(&.0.to_string()))]
    Repo(#[from] crate::repo::RepoError),
    #[error(transparent)]
    Kube(#[from] crate::kube::KubeError),
    #[error(transparent)]
    Release(#[from] crate::release::ReleaseError),
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
    /// Bad command-line usage that clap could not catch (exit code 2).
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A failure that is not the user's input and has no better home.
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
