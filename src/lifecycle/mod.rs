//! Hooks (Helm-compatible annotated objects run around an operation) and lifecycle steps
//! (a chart's `lifecycle.yaml`: commands run inside the pods of its workloads, in a
//! defined order, with gates between pods). See docs/lifecycle.md.
//!
//! - `spec`: the lifecycle.yaml model, rendering, schema validation.
//! - `hooks`: hook annotations, splitting hooks out of the rendered objects.
//! - `plan`: which hooks and steps run for an event, on which pods, in which order.
//! - `run`: running a plan against a `Cluster`, recording outcomes.

pub mod duration;
pub mod hooks;
pub mod plan;
pub mod run;
pub mod spec;

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::kube::KubeError;

pub use hooks::{Hook, HookRecord};
pub use plan::{Plan, PlannedUnit, ScaleDown};
pub use spec::{Lifecycle, Step};

#[derive(Debug, Error)]
pub enum LifecycleError {
    /// lifecycle.yaml does not parse or does not match the schema.
    #[error("{file}: {message}")]
    Spec { file: String, message: String },
    /// A hook object with bad annotations.
    #[error("{object} (from {source_name}): {message}")]
    Hook {
        object: String,
        source_name: String,
        message: String,
    },
    /// A hook failed, timed out or could not be created; `logs` are its pod's last lines.
    #[error("hook {name} ({event}) failed: {message}{}", logs_suffix(logs))]
    HookFailed {
        name: String,
        event: Event,
        message: String,
        logs: String,
    },
    /// A step failed on a pod (its output included).
    #[error("lifecycle step {step} ({event}) failed on pod {pod}: {message}")]
    StepFailed {
        step: String,
        event: Event,
        pod: String,
        message: String,
    },
    #[error("lifecycle step {step}: {message}")]
    Target { step: String, message: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Kube(#[from] KubeError),
}

fn logs_suffix(logs: &str) -> String {
    if logs.trim().is_empty() {
        String::new()
    } else {
        format!("\nlast log lines:\n{}", logs.trim_end())
    }
}

/// When hooks and steps run. Hooks know the first eight and `test`; steps the first eight,
/// `pre-scale-down` and `rollout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    PreInstall,
    PostInstall,
    PreUpgrade,
    PostUpgrade,
    PreRollback,
    PostRollback,
    PreDelete,
    PostDelete,
    PreScaleDown,
    Rollout,
    Test,
}

impl Event {
    pub const ALL: [Event; 11] = [
        Event::PreInstall,
        Event::PostInstall,
        Event::PreUpgrade,
        Event::PostUpgrade,
        Event::PreRollback,
        Event::PostRollback,
        Event::PreDelete,
        Event::PostDelete,
        Event::PreScaleDown,
        Event::Rollout,
        Event::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::PreInstall => "pre-install",
            Event::PostInstall => "post-install",
            Event::PreUpgrade => "pre-upgrade",
            Event::PostUpgrade => "post-upgrade",
            Event::PreRollback => "pre-rollback",
            Event::PostRollback => "post-rollback",
            Event::PreDelete => "pre-delete",
            Event::PostDelete => "post-delete",
            Event::PreScaleDown => "pre-scale-down",
            Event::Rollout => "rollout",
            Event::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        // `test-success` is Helm 2's spelling of `test`.
        if s == "test-success" {
            return Some(Event::Test);
        }
        Event::ALL.into_iter().find(|e| e.as_str() == s)
    }

    pub fn is_hook_event(self) -> bool {
        !matches!(self, Event::PreScaleDown | Event::Rollout)
    }

    pub fn is_step_event(self) -> bool {
        self != Event::Test
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Outcome of one step on one pod (or of a rollout replacing it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepRun {
    pub step: String,
    pub event: Event,
    pub pod: String,
    pub status: RunStatus,
    pub started: String,
    pub finished: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    /// Failed, with `on-failure: continue`.
    FailedContinued,
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::FailedContinued => "failed (continued)",
        })
    }
}

/// Where a one-pod-at-a-time rollout stands: which pods are on the new revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutProgress {
    pub step: String,
    pub workload: String,
    /// The StatefulSet's `updateRevision` being rolled out.
    pub revision: String,
    /// Pods replaced (or found already) on `revision`, in rollout order.
    pub done: Vec<String>,
    /// Pods still on an older revision.
    pub remaining: Vec<String>,
    pub complete: bool,
}

/// What the release record keeps about lifecycle steps: the rendered steps (so uninstall
/// and rollback can run them without the chart) and the outcomes of the last runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LifecycleRecord {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<StepRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<RolloutProgress>,
    /// What a dry run would do (never stored).
    #[serde(skip)]
    pub plans: Vec<Plan>,
}

impl LifecycleRecord {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.runs.is_empty() && self.rollouts.is_empty()
    }
}

/// The current time, RFC 3339 UTC with milliseconds (step runs are short).
pub(crate) fn now_ms() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).unwrap(),
                serde_json::json!(e.as_str())
            );
        }
        assert_eq!(Event::parse("test-success"), Some(Event::Test));
        assert_eq!(Event::parse("pre-instal"), None);
        assert!(!Event::Rollout.is_hook_event() && !Event::Test.is_step_event());
    }
}
