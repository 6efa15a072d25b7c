//! Releases: the record of one revision, its status machine, the gzip-JSON codec and the
//! storage drivers (`memory`, `secrets`, `configmaps`).

pub mod codec;
pub mod configmaps;
pub mod deploy;
pub mod driver;
pub mod lock;
pub mod secrets;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::kube::{KubeError, ObjectRef};

pub use driver::{Driver, MemoryDriver, Summary};
pub use secrets::{KubeDriver, SecretsDriver};

#[derive(Debug, Error)]
pub enum ReleaseError {
    #[error("release {name} not found in namespace {namespace}")]
    NotFound { name: String, namespace: String },
    #[error("release {name} has no revision {revision} in namespace {namespace}")]
    RevisionNotFound {
        name: String,
        namespace: String,
        revision: u64,
    },
    #[error("release {name} already exists in namespace {namespace} (revision {revision}, {status}); use `stackpkg upgrade`")]
    Exists {
        name: String,
        namespace: String,
        revision: u64,
        status: Status,
    },
    #[error("release {name} is being changed by {holder} since {since}")]
    Locked {
        name: String,
        holder: String,
        since: String,
    },
    #[error("release {name} revision {revision}: cannot go from {from} to {to}")]
    Transition {
        name: String,
        revision: u64,
        from: Status,
        to: Status,
    },
    #[error("release record {record}: {message}")]
    Record { record: String, message: String },
    #[error("{object} belongs to release {owner} (namespace {owner_namespace}), not to {release}")]
    Owned {
        object: String,
        owner: String,
        owner_namespace: String,
        release: String,
    },
    #[error("{object} exists and is not managed by stackpkg; delete it or rename it in the chart")]
    Unmanaged { object: String },
    #[error("{object}: the API server refuses to change {fields} ({message}); --force deletes and recreates it")]
    Immutable {
        object: String,
        fields: String,
        message: String,
    },
    #[error("release {name}: {message}")]
    Operation { name: String, message: String },
    #[error(transparent)]
    Kube(#[from] KubeError),
    /// A hook or lifecycle step failed.
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
}

/// Where a revision is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
    Deployed,
    Superseded,
    Failed,
    Uninstalling,
    Uninstalled,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::PendingInstall,
        Status::PendingUpgrade,
        Status::PendingRollback,
        Status::Deployed,
        Status::Superseded,
        Status::Failed,
        Status::Uninstalling,
        Status::Uninstalled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
            Status::Deployed => "deployed",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::Uninstalled => "uninstalled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// An operation on this revision has started and not finished.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::PendingInstall
                | Status::PendingUpgrade
                | Status::PendingRollback
                | Status::Uninstalling
        )
    }

    /// The allowed moves of the status machine (docs/releases.md).
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        match self {
            PendingInstall | PendingUpgrade | PendingRollback => {
                matches!(next, Deployed | Failed)
            }
            Deployed => matches!(next, Superseded | Uninstalling | Failed),
            Failed => matches!(next, Superseded | Uninstalling),
            Uninstalling => matches!(next, Uninstalled | Failed),
            Uninstalled => matches!(next, Superseded),
            Superseded => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartInfo {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
}

/// One revision of one release, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub revision: u64,
    pub status: Status,
    pub chart: ChartInfo,
    /// What the user supplied (-f, --set…).
    pub values: Value,
    /// Chart defaults coalesced with the user's values: what the templates saw.
    pub computed_values: Value,
    /// The applied objects as a YAML stream.
    pub manifest: String,
    /// The applied objects in install order (what upgrade prunes and uninstall deletes).
    pub resources: Vec<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// RFC 3339, UTC.
    pub first_deployed: String,
    pub last_deployed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    pub description: String,
    /// Hook objects (not part of `manifest`/`resources`) and their last runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::lifecycle::HookRecord>,
    /// The chart's rendered lifecycle steps and their outcomes.
    #[serde(
        default,
        skip_serializing_if = "crate::lifecycle::LifecycleRecord::is_empty"
    )]
    pub lifecycle: crate::lifecycle::LifecycleRecord,
}

/// The current time, RFC 3339 UTC with seconds precision.
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

impl Release {
    /// Moves to `next`, refusing moves the status machine does not allow.
    pub fn transition(&mut self, next: Status, description: &str) -> Result<(), ReleaseError> {
        if !self.status.can_become(next) {
            return Err(ReleaseError::Transition {
                name: self.name.clone(),
                revision: self.revision,
                from: self.status,
                to: next,
            });
        }
        self.status = next;
        self.description = description.to_string();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                Value::String(s.as_str().into())
            );
        }
        assert_eq!(Status::parse("Deployed"), None);
    }

    #[test]
    fn status_machine() {
        use Status::*;
        assert!(PendingInstall.can_become(Deployed));
        assert!(PendingInstall.can_become(Failed));
        assert!(!PendingInstall.can_become(Superseded));
        assert!(Deployed.can_become(Superseded));
        assert!(!Deployed.can_become(PendingUpgrade));
        assert!(!Superseded.can_become(Deployed));
        assert!(Uninstalling.can_become(Uninstalled));
        assert!(PendingUpgrade.is_pending() && Uninstalling.is_pending());
        assert!(!Failed.is_pending() && !Deployed.is_pending());
    }

    #[test]
    fn transition_refuses_illegal_moves() {
        let mut r = codec::tests::sample();
        r.status = Superseded;
        let err = r.transition(Status::Deployed, "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "release demo revision 1: cannot go from superseded to deployed"
        );
        r.status = Status::PendingInstall;
        r.transition(Status::Deployed, "Install complete").unwrap();
        assert_eq!(r.description, "Install complete");
    }
    use Status::Superseded;
}
