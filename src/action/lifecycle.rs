//! `lifecycle plan`, `lifecycle run` and `test`: a release's recorded hooks and steps,
//! planned or run by hand.

use std::sync::Arc;
use std::time::Duration;

use crate::action::revision::{locked, Progress};
use crate::kube::Cluster;
use crate::lifecycle::hooks::HookStatus;
use crate::lifecycle::{plan, run, Event, Plan, StepRun};
use crate::release::lock::LockOptions;
use crate::release::{Driver, Release, ReleaseError, Status};
use crate::Result;

/// The record whose objects are in the cluster: the last one that is not uninstalled.
async fn current(driver: &dyn Driver, namespace: &str, name: &str) -> Result<Release> {
    let history = driver.history(namespace, name).await?;
    history
        .iter()
        .rev()
        .find(|r| r.status == Status::Deployed)
        .or_else(|| history.last())
        .filter(|r| r.status != Status::Uninstalled)
        .cloned()
        .ok_or_else(|| {
            ReleaseError::NotFound {
                name: name.to_string(),
                namespace: namespace.to_string(),
            }
            .into()
        })
}

/// Plans of one event, or of every event the release has hooks or steps for.
pub async fn plan(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    namespace: &str,
    name: &str,
    event: Option<Event>,
) -> Result<Vec<Plan>> {
    let rec = current(driver, namespace, name).await?;
    let events: Vec<Event> = match event {
        Some(e) => vec![e],
        None => Event::ALL
            .into_iter()
            .filter(|e| {
                rec.hooks.iter().any(|h| h.events.contains(e))
                    || rec.lifecycle.steps.iter().any(|s| s.on.contains(e))
            })
            .collect(),
    };
    Ok(run::release_plans(cluster, &rec, &events, &[]).await?)
}

#[derive(Debug, Clone)]
pub struct RunStepRequest {
    pub name: String,
    pub namespace: String,
    pub step: String,
    /// Only this pod (one of the step's target pods).
    pub pod: Option<String>,
    pub timeout: Duration,
    pub lock: LockOptions,
}

/// Runs one step by hand (a rollout step rolls out); outcomes are added to the record.
pub async fn run_step(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &RunStepRequest,
    progress: Progress<'_>,
) -> Result<Vec<StepRun>> {
    locked(cluster, driver, &req.namespace, &req.name, Some(&req.lock), |_| async {
        let mut rec = current(driver, &req.namespace, &req.name).await?;
        let step = rec
            .lifecycle
            .steps
            .iter()
            .find(|s| s.name == req.step)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = rec.lifecycle.steps.iter().map(|s| s.name.as_str()).collect();
                crate::Error::Usage(format!(
                    "release {} has no lifecycle step {:?} (steps: {})",
                    req.name,
                    req.step,
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                ))
            })?;
        let ctx = run::Ctx {
            cluster: cluster.as_ref(),
            namespace: &req.namespace,
            release: &req.name,
            timeout: req.timeout,
            progress,
        };
        let before = rec.lifecycle.runs.len();
        if step.on == [Event::Rollout] {
            if req.pod.is_some() {
                return Err(crate::Error::Usage(
                    "--pod does not apply to a rollout step: it replaces every outdated pod in order".into(),
                ));
            }
            let r = run::rollout(&ctx, &step, &mut rec, driver).await;
            driver.put(&rec).await?;
            r?;
            return Ok(rec.lifecycle.runs[before..].to_vec());
        }
        // By hand there is no scale-down: `removed` means nothing, so every pod counts.
        let mut manual = step.clone();
        manual.target.pods = crate::lifecycle::spec::PodSet::All;
        let (mut pods, _) = plan::target_pods(cluster.as_ref(), &req.namespace, &manual, &[]).await?;
        if let Some(p) = &req.pod {
            if !pods.contains(p) {
                return Err(crate::Error::Usage(format!(
                    "pod {p} is not a target of step {} (targets: {})",
                    step.name,
                    if pods.is_empty() { "none".into() } else { pods.join(", ") }
                )));
            }
            pods = vec![p.clone()];
        }
        let event = step.on.first().copied().unwrap_or(Event::PreUpgrade);
        let mut runs = Vec::new();
        let r = run::run_step_on(&ctx, &step, event, &pods, &mut runs).await;
        rec.lifecycle.runs.extend(runs.clone());
        driver.put(&rec).await?;
        r?;
        Ok(runs)
    })
    .await
}

#[derive(Debug, Clone)]
pub struct TestRequest {
    pub name: String,
    pub namespace: String,
    pub timeout: Duration,
    /// Collect each test pod's log.
    pub logs: bool,
    pub lock: LockOptions,
}

/// One test hook's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub name: String,
    pub kind: String,
    pub status: HookStatus,
    pub started: String,
    pub finished: String,
    pub message: String,
    pub logs: Option<String>,
}

/// Runs every `test` hook in order and reports each; Err after all ran if any failed.
pub async fn test(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &TestRequest,
    progress: Progress<'_>,
) -> Result<(Vec<TestResult>, Option<crate::Error>)> {
    locked(
        cluster,
        driver,
        &req.namespace,
        &req.name,
        Some(&req.lock),
        |_| async {
            let mut rec = current(driver, &req.namespace, &req.name).await?;
            let ctx = run::Ctx {
                cluster: cluster.as_ref(),
                namespace: &req.namespace,
                release: &req.name,
                timeout: req.timeout,
                progress,
            };
            let mut results = Vec::new();
            let mut first_err = None;
            for h in rec
                .hooks
                .iter_mut()
                .filter(|h| h.events.contains(&Event::Test))
            {
                let mut logs = String::new();
                let out =
                    run::run_hook_logged(&ctx, h, Event::Test, req.logs.then_some(&mut logs)).await;
                let last = h.last_run.clone();
                results.push(TestResult {
                    name: h.name.clone(),
                    kind: h.kind.clone(),
                    status: last.as_ref().map_or(HookStatus::Failed, |l| l.status),
                    started: last.as_ref().map(|l| l.started.clone()).unwrap_or_default(),
                    finished: last
                        .as_ref()
                        .map(|l| l.finished.clone())
                        .unwrap_or_default(),
                    message: last.map(|l| l.message).unwrap_or_default(),
                    logs: req.logs.then_some(logs),
                });
                if let Err(e) = out {
                    first_err.get_or_insert(e.into());
                }
            }
            driver.put(&rec).await?;
            Ok((results, first_err))
        },
    )
    .await
}
