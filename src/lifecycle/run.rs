//! Running hooks and steps against a `Cluster`: exec with accepted exit codes and a
//! timeout, gates retried at an interval until they pass or time out, hooks created,
//! waited for and deleted by policy, one-pod-at-a-time rollouts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use super::hooks::{DeletePolicy, Hook, HookRun, HookStatus};
use super::plan::{self, ScaleDown};
use super::spec::{shell_words, Gate, OnFailure, Order, Step, WorkloadKind};
use super::{now_ms, Event, LifecycleError, RolloutProgress, RunStatus, StepRun};
use crate::kube::ready::{self, Readiness};
use crate::kube::{Cluster, KubeError, ObjectRef};
use crate::release::deploy::{
    MANAGED_BY_LABEL, MANAGER, RELEASE_NAMESPACE_ANNOTATION, RELEASE_NAME_ANNOTATION,
};
use crate::release::{Driver, Release, ReleaseError};

/// Log lines of a failed hook's pod quoted in the error.
pub const HOOK_LOG_LINES: u32 = 10;

/// Where and how to run.
pub struct Ctx<'a> {
    pub cluster: &'a dyn Cluster,
    pub namespace: &'a str,
    pub release: &'a str,
    /// `--timeout`: each hook's wait, each rollout replacement's wait.
    pub timeout: Duration,
    pub progress: &'a (dyn Fn(&str) + Sync),
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `exit code 2; stderr: …; stdout: …` (last lines only).
fn describe_output(code: i32, stdout: &str, stderr: &str) -> String {
    let mut s = format!("exit code {code}");
    let err = last_lines(stderr, 5);
    let out = last_lines(stdout, 5);
    if !err.is_empty() {
        s.push_str(&format!("; stderr: {err}"));
    }
    if !out.is_empty() {
        s.push_str(&format!("; stdout: {out}"));
    }
    s
}

async fn sleep_at_most(d: Duration, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(d.min(left)).await;
}

/// Runs the gate until it passes (Ok) or its timeout passes (Err with the last answer).
async fn gate(ctx: &Ctx<'_>, g: &Gate, pod: &str) -> Result<u32, String> {
    let deadline = Instant::now() + g.timeout();
    let mut tries = 0;
    loop {
        tries += 1;
        let answer = if let Some(e) = &g.exec {
            match ctx
                .cluster
                .exec(
                    ctx.namespace,
                    pod,
                    e.container.as_deref(),
                    &e.command,
                    g.timeout().min(
                        deadline
                            .saturating_duration_since(Instant::now())
                            .max(Duration::from_millis(1)),
                    ),
                )
                .await
            {
                Ok(o) if e.accept_exit_codes.contains(&o.exit_code) => return Ok(tries),
                Ok(o) => describe_output(o.exit_code, &o.stdout, &o.stderr),
                Err(err) => err.to_string(),
            }
        } else if let Some(h) = &g.http {
            match ctx
                .cluster
                .proxy_get(ctx.namespace, pod, h.port, &h.path)
                .await
            {
                Ok((code, _)) if h.expect_status.contains(&code) => return Ok(tries),
                Ok((code, body)) => format!("HTTP {code}: {}", last_lines(&body, 3)),
                Err(err) => err.to_string(),
            }
        } else {
            return Ok(tries);
        };
        if Instant::now() + g.interval() > deadline {
            return Err(format!(
                "gate ({}) did not pass within {} ({tries} tries); last answer: {answer}",
                g.describe(),
                g.timeout
            ));
        }
        sleep_at_most(g.interval(), deadline).await;
    }
}

/// The step's exec on one pod; Err carries the reason.
async fn step_exec(ctx: &Ctx<'_>, step: &Step, pod: &str) -> Result<(), String> {
    let Some(e) = &step.exec else {
        return Ok(());
    };
    (ctx.progress)(&format!(
        "step {}: {pod}: {}",
        step.name,
        shell_words(&e.command)
    ));
    match ctx
        .cluster
        .exec(
            ctx.namespace,
            pod,
            e.container.as_deref(),
            &e.command,
            e.timeout(),
        )
        .await
    {
        Ok(o) if e.accept_exit_codes.contains(&o.exit_code) => Ok(()),
        Ok(o) => Err(format!(
            "{}: {}",
            shell_words(&e.command),
            describe_output(o.exit_code, &o.stdout, &o.stderr)
        )),
        Err(err) => Err(format!("{}: {err}", shell_words(&e.command))),
    }
}

async fn on_pod(ctx: &Ctx<'_>, step: &Step, event: Event, pod: &str) -> StepRun {
    let started = now_ms();
    let mut result = step_exec(ctx, step, pod).await;
    if result.is_ok() {
        if let Some(g) = &step.gate {
            result = gate(ctx, g, pod).await.map(|tries| {
                (ctx.progress)(&format!(
                    "step {}: {pod}: gate passed ({tries} tries)",
                    step.name
                ));
            });
        }
    }
    let (status, message) = match result {
        Ok(()) => (RunStatus::Succeeded, String::new()),
        Err(m) if step.on_failure == OnFailure::Continue => (RunStatus::FailedContinued, m),
        Err(m) => (RunStatus::Failed, m),
    };
    StepRun {
        step: step.name.clone(),
        event,
        pod: pod.to_string(),
        status,
        started,
        finished: now_ms(),
        message,
    }
}

fn failed(run: &StepRun) -> LifecycleError {
    LifecycleError::StepFailed {
        step: run.step.clone(),
        event: run.event,
        pod: run.pod.clone(),
        message: run.message.clone(),
    }
}

/// Runs one step on the given pods in its order. Every outcome lands in `runs`; an
/// aborting failure stops new pods (running ones in a parallel step finish) and is
/// returned.
pub async fn run_step_on(
    ctx: &Ctx<'_>,
    step: &Step,
    event: Event,
    pods: &[String],
    runs: &mut Vec<StepRun>,
) -> Result<(), LifecycleError> {
    if step.target.order == Order::Parallel {
        let stop = AtomicBool::new(false);
        let stop = &stop;
        let mut results: Vec<StepRun> = futures::stream::iter(pods.iter())
            .map(|p| async move {
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
                let r = on_pod(ctx, step, event, p).await;
                if r.status == RunStatus::Failed {
                    stop.store(true, Ordering::SeqCst);
                }
                Some(r)
            })
            .buffer_unordered(step.target.parallelism.max(1) as usize)
            .filter_map(|r| async move { r })
            .collect()
            .await;
        // Report in pod order whatever order they finished in.
        results.sort_by_key(|r| pods.iter().position(|p| *p == r.pod));
        let first_failure = results
            .iter()
            .find(|r| r.status == RunStatus::Failed)
            .map(failed);
        runs.extend(results);
        return first_failure.map_or(Ok(()), Err);
    }
    for p in pods {
        let r = on_pod(ctx, step, event, p).await;
        let stop = (r.status == RunStatus::Failed).then(|| failed(&r));
        runs.push(r);
        if let Some(e) = stop {
            return Err(e);
        }
    }
    Ok(())
}

/// Resolves the step's pods and runs it.
pub async fn run_step(
    ctx: &Ctx<'_>,
    step: &Step,
    event: Event,
    scale: &[ScaleDown],
    runs: &mut Vec<StepRun>,
) -> Result<(), LifecycleError> {
    let (pods, note) = plan::target_pods(ctx.cluster, ctx.namespace, step, scale).await?;
    if pods.is_empty() {
        (ctx.progress)(&format!(
            "step {} ({event}): no pods{}",
            step.name,
            note.map(|n| format!(" ({n})")).unwrap_or_default()
        ));
    }
    run_step_on(ctx, step, event, &pods, runs).await
}

fn hook_ref(obj: &Value) -> Option<ObjectRef> {
    ObjectRef::of(obj)
}

/// The hook object with its namespace and the release's ownership marks.
async fn prepared(ctx: &Ctx<'_>, hook: &Hook) -> Result<Value, LifecycleError> {
    let mut v = hook.manifest.clone();
    let namespaced = ctx
        .cluster
        .discover(&hook.api_version, &hook.kind)
        .await?
        .namespaced;
    let meta = v
        .as_object_mut()
        .map(|m| m.entry("metadata").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| LifecycleError::Hook {
            object: format!("{} {}", hook.kind, hook.name),
            source_name: hook.source.clone(),
            message: "metadata is not a mapping".into(),
        })?;
    if namespaced {
        meta.entry("namespace")
            .or_insert_with(|| json!(ctx.namespace));
    } else {
        meta.remove("namespace");
    }
    for (key, k, val) in [
        ("labels", MANAGED_BY_LABEL, MANAGER),
        ("annotations", RELEASE_NAME_ANNOTATION, ctx.release),
        ("annotations", RELEASE_NAMESPACE_ANNOTATION, ctx.namespace),
    ] {
        let map = meta.entry(key).or_insert_with(|| json!({}));
        if !map.is_object() {
            *map = json!({});
        }
        map[k] = json!(val);
    }
    Ok(v)
}

async fn wait_gone(ctx: &Ctx<'_>, r: &ObjectRef) -> Result<(), KubeError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    while ctx.cluster.get(r).await?.is_some() {
        if start.elapsed() >= ctx.timeout {
            return Err(KubeError::Timeout {
                object: r.to_string(),
                waited: start.elapsed(),
                reason: "still exists (being deleted)".into(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
    Ok(())
}

/// Waits for a hook: Job complete, Pod succeeded, anything else ready.
async fn wait_hook(ctx: &Ctx<'_>, r: &ObjectRef) -> Result<(), String> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let obj = ctx.cluster.get(r).await.map_err(|e| e.to_string())?;
        let reason = match &obj {
            None => "it does not exist".to_string(),
            Some(o) if r.kind == "Pod" => {
                match o.pointer("/status/phase").and_then(Value::as_str) {
                    Some("Succeeded") => return Ok(()),
                    Some("Failed") => return Err("the Pod failed".into()),
                    p => format!("phase {}", p.unwrap_or("unknown")),
                }
            }
            Some(o) => match ready::readiness(o) {
                Readiness::Ready => return Ok(()),
                Readiness::Failed(m) => return Err(m),
                Readiness::Pending(m) => m,
            },
        };
        if start.elapsed() >= ctx.timeout {
            return Err(format!(
                "not done after {:?} (the --timeout): {reason}",
                ctx.timeout
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The last log lines of a hook's pod (the Pod itself, or the Job's newest pod).
async fn hook_logs(ctx: &Ctx<'_>, hook: &Hook, tail: Option<u32>) -> String {
    let pod = match hook.kind.as_str() {
        "Pod" => Some(hook.name.clone()),
        "Job" => ctx
            .cluster
            .list(
                "v1",
                "Pod",
                Some(ctx.namespace),
                &format!("job-name={}", hook.name),
            )
            .await
            .ok()
            .and_then(|mut pods| {
                pods.sort_by(|a, b| {
                    a.pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                        .cmp(
                            &b.pointer("/metadata/creationTimestamp")
                                .and_then(Value::as_str),
                        )
                });
                pods.last()
                    .and_then(|p| p.pointer("/metadata/name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }),
        _ => None,
    };
    let Some(pod) = pod else {
        return String::new();
    };
    let container = hook
        .manifest
        .pointer(if hook.kind == "Pod" {
            "/spec/containers/0/name"
        } else {
            "/spec/template/spec/containers/0/name"
        })
        .and_then(Value::as_str);
    match ctx.cluster.logs(ctx.namespace, &pod, container, tail).await {
        Ok(l) if tail.is_some() => last_lines(&l, HOOK_LOG_LINES as usize),
        Ok(l) => l,
        Err(e) => format!("(logs of pod {pod} unavailable: {e})"),
    }
}

/// Creates one hook, waits for it, deletes it by policy; records the run in the hook.
pub async fn run_hook(ctx: &Ctx<'_>, hook: &mut Hook, event: Event) -> Result<(), LifecycleError> {
    run_hook_logged(ctx, hook, event, None).await
}

/// `run_hook` that also returns its pod's whole log in `logs` (read before any delete).
pub async fn run_hook_logged(
    ctx: &Ctx<'_>,
    hook: &mut Hook,
    event: Event,
    logs: Option<&mut String>,
) -> Result<(), LifecycleError> {
    let started = now_ms();
    hook.last_run = Some(HookRun {
        event,
        started: started.clone(),
        finished: String::new(),
        status: HookStatus::Running,
        message: String::new(),
    });
    (ctx.progress)(&format!("hook {}/{} ({event})", hook.kind, hook.name));
    let result = run_hook_inner(ctx, hook, logs).await;
    let (status, message, logs) = match &result {
        Ok(()) => (HookStatus::Succeeded, String::new(), String::new()),
        Err((m, logs)) => (HookStatus::Failed, m.clone(), logs.clone()),
    };
    hook.last_run = Some(HookRun {
        event,
        started,
        finished: now_ms(),
        status,
        message: if logs.is_empty() {
            message.clone()
        } else {
            format!("{message}\nlast log lines:\n{logs}")
        },
    });
    result.map_err(|(message, logs)| LifecycleError::HookFailed {
        name: format!("{}/{}", hook.kind, hook.name),
        event,
        message,
        logs,
    })
}

async fn run_hook_inner(
    ctx: &Ctx<'_>,
    hook: &Hook,
    logs_out: Option<&mut String>,
) -> Result<(), (String, String)> {
    let plain = |e: String| (e, String::new());
    let obj = prepared(ctx, hook)
        .await
        .map_err(|e| plain(e.to_string()))?;
    let r = hook_ref(&obj).ok_or_else(|| plain("the hook object has no name".into()))?;
    if hook.deletes(DeletePolicy::BeforeHookCreation)
        && ctx
            .cluster
            .delete(&r)
            .await
            .map_err(|e| plain(e.to_string()))?
    {
        wait_gone(ctx, &r).await.map_err(|e| plain(e.to_string()))?;
    }
    match ctx.cluster.create(&obj).await {
        Ok(_) => {}
        Err(KubeError::Api { code: 409, .. }) => {
            return Err(plain(format!(
                "{r} still exists from an earlier run and its delete policy keeps it (add before-hook-creation)"
            )))
        }
        Err(e) => return Err(plain(e.to_string())),
    }
    let waited = wait_hook(ctx, &r).await;
    if let Some(out) = logs_out {
        *out = hook_logs(ctx, hook, None).await;
    }
    match waited {
        Ok(()) => {
            if hook.deletes(DeletePolicy::HookSucceeded) {
                ctx.cluster
                    .delete(&r)
                    .await
                    .map_err(|e| plain(e.to_string()))?;
            }
            Ok(())
        }
        Err(m) => {
            let logs = hook_logs(ctx, hook, Some(HOOK_LOG_LINES)).await;
            if hook.deletes(DeletePolicy::HookFailed) {
                let _ = ctx.cluster.delete(&r).await;
            }
            Err((m, logs))
        }
    }
}

/// Runs an event: hooks and steps merged by weight. The first aborting failure stops it.
pub async fn run_event(
    ctx: &Ctx<'_>,
    hooks: &mut [Hook],
    steps: &[Step],
    event: Event,
    scale: &[ScaleDown],
    no_hooks: bool,
    runs: &mut Vec<StepRun>,
) -> Result<(), LifecycleError> {
    let order: Vec<Result<String, usize>> = {
        let units = plan::merge(hooks, steps, event);
        units
            .into_iter()
            .map(|u| match u {
                Ok(h) => Ok(h.name.clone() + "\0" + &h.kind),
                Err(s) => Err(steps.iter().position(|x| std::ptr::eq(x, s)).unwrap_or(0)),
            })
            .collect()
    };
    for u in order {
        match u {
            Ok(key) if !no_hooks => {
                let (name, kind) = key.split_once('\0').unwrap_or((&key, ""));
                if let Some(h) = hooks.iter_mut().find(|h| h.name == name && h.kind == kind) {
                    run_hook(ctx, h, event).await?;
                }
            }
            Ok(_) => {}
            Err(i) => run_step(ctx, &steps[i], event, scale, runs).await?,
        }
    }
    Ok(())
}

/// Live StatefulSets that `objects` (about to be applied) shrink.
pub async fn scale_downs(
    cluster: &dyn Cluster,
    objects: &[Value],
    namespace: &str,
) -> Result<Vec<ScaleDown>, KubeError> {
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o["kind"] == "StatefulSet") {
        let Some(r) = ObjectRef::of(o) else { continue };
        let r = ObjectRef {
            namespace: Some(r.namespace.unwrap_or_else(|| namespace.to_string())),
            ..r
        };
        let Some(live) = cluster.get(&r).await? else {
            continue;
        };
        let replicas = |v: &Value| {
            v.pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1)
        };
        let (from, to) = (replicas(&live), replicas(o));
        if to < from {
            out.push(ScaleDown {
                statefulset: r.name.clone(),
                from,
                to,
            });
        }
    }
    Ok(out)
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn revision_of(p: &Value) -> &str {
    p.pointer("/metadata/labels/controller-revision-hash")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The StatefulSet once its controller has seen the latest spec.
async fn observed_set(ctx: &Ctx<'_>, r: &ObjectRef) -> Result<Option<Value>, LifecycleError> {
    let start = Instant::now();
    loop {
        let Some(s) = ctx.cluster.get(r).await? else {
            return Ok(None);
        };
        let gen = s
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let seen = s
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64)
            .unwrap_or(-1);
        let rev = s.pointer("/status/updateRevision").and_then(Value::as_str);
        if seen >= gen && rev.is_some() {
            return Ok(Some(s));
        }
        if start.elapsed() >= ctx.timeout {
            return Err(KubeError::Timeout {
                object: r.to_string(),
                waited: start.elapsed(),
                reason: "the controller has not seen the latest spec".into(),
            }
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until pod `name` exists with a uid other than `old_uid`, is Ready, and runs
/// `revision`.
async fn wait_replaced(
    ctx: &Ctx<'_>,
    name: &str,
    old_uid: &str,
    revision: &str,
) -> Result<(), String> {
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(ctx.namespace.to_string()),
        name: name.to_string(),
    };
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let reason = match ctx.cluster.get(&r).await.map_err(|e| e.to_string())? {
            None => "not recreated yet".to_string(),
            Some(p) if p.pointer("/metadata/uid").and_then(Value::as_str) == Some(old_uid) => {
                "the old pod is still there".into()
            }
            Some(p) if revision_of(&p) != revision => {
                format!(
                    "recreated on revision {:?}, not {revision:?}",
                    revision_of(&p)
                )
            }
            Some(p) if pod_ready(&p) => return Ok(()),
            Some(_) => "not Ready yet".into(),
        };
        if start.elapsed() >= ctx.timeout {
            return Err(format!(
                "replacement not Ready on the new revision after {:?}: {reason}",
                ctx.timeout
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// One-pod-at-a-time rollout of an OnDelete StatefulSet: for each pod not on the update
/// revision, in the step's order: exec, delete, wait for the replacement Ready on the new
/// revision, gate. Pods already on it are skipped, which is what makes an interrupted
/// rollout resume. Progress and outcomes go into `rec`, which is stored after every pod.
pub async fn rollout(
    ctx: &Ctx<'_>,
    step: &Step,
    rec: &mut Release,
    driver: &dyn Driver,
) -> Result<(), ReleaseError> {
    let (Some(WorkloadKind::StatefulSet), Some(name)) = (step.target.kind, &step.target.name)
    else {
        return Err(LifecycleError::Target {
            step: step.name.clone(),
            message: "rollout steps target a StatefulSet by name".into(),
        }
        .into());
    };
    let r = plan::workload_ref(WorkloadKind::StatefulSet, name, ctx.namespace);
    let Some(set) = observed_set(ctx, &r).await? else {
        (ctx.progress)(&format!(
            "step {}: {r} does not exist, nothing to roll out",
            step.name
        ));
        return Ok(());
    };
    if set
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        != Some("OnDelete")
    {
        (ctx.progress)(&format!(
            "step {}: {r} is not updateStrategy OnDelete, its controller rolls it out",
            step.name
        ));
        return Ok(());
    }
    let revision = set
        .pointer("/status/updateRevision")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let replicas = set
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let mut order: Vec<String> = (0..replicas).map(|i| format!("{name}-{i}")).collect();
    if step.target.order == Order::ReverseOrdinal {
        order.reverse();
    }
    let mut progress = RolloutProgress {
        step: step.name.clone(),
        workload: r.to_string(),
        revision: revision.clone(),
        done: Vec::new(),
        remaining: order.clone(),
        complete: false,
    };
    for pod in &order {
        let pr = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some(ctx.namespace.to_string()),
            name: pod.clone(),
        };
        let live = ctx.cluster.get(&pr).await?;
        let on_revision = live.as_ref().is_some_and(|p| revision_of(p) == revision);
        if on_revision && !live.as_ref().is_some_and(pod_ready) {
            // Already replaced (or just created) on the new revision: only wait for it.
            if let Err(m) = wait_replaced(ctx, pod, "", &revision).await {
                let run = StepRun {
                    step: step.name.clone(),
                    event: Event::Rollout,
                    pod: pod.clone(),
                    status: RunStatus::Failed,
                    started: now_ms(),
                    finished: now_ms(),
                    message: m,
                };
                rec.lifecycle.runs.push(run.clone());
                checkpoint(rec, &progress, driver).await?;
                return Err(failed(&run).into());
            }
        }
        if !on_revision {
            let started = now_ms();
            let result = replace_one(ctx, step, pod, live.as_ref(), &pr, &revision).await;
            let run = StepRun {
                step: step.name.clone(),
                event: Event::Rollout,
                pod: pod.clone(),
                status: if result.is_ok() {
                    RunStatus::Succeeded
                } else {
                    RunStatus::Failed
                },
                started,
                finished: now_ms(),
                message: result.clone().err().unwrap_or_default(),
            };
            rec.lifecycle.runs.push(run.clone());
            if result.is_err() {
                checkpoint(rec, &progress, driver).await?;
                // A rollout never goes on past a pod that did not come back healthy.
                return Err(failed(&run).into());
            }
        }
        progress.done.push(pod.clone());
        progress.remaining.retain(|p| p != pod);
        progress.complete = progress.remaining.is_empty();
        checkpoint(rec, &progress, driver).await?;
    }
    Ok(())
}

async fn checkpoint(
    rec: &mut Release,
    progress: &RolloutProgress,
    driver: &dyn Driver,
) -> Result<(), ReleaseError> {
    let all = &mut rec.lifecycle.rollouts;
    match all.iter_mut().find(|p| p.step == progress.step) {
        Some(p) => *p = progress.clone(),
        None => all.push(progress.clone()),
    }
    driver.put(rec).await?;
    Ok(())
}

/// Runs an event for a release: its recorded hooks and steps, outcomes kept in it.
pub async fn release_event(
    ctx: &Ctx<'_>,
    rec: &mut Release,
    event: Event,
    scale: &[ScaleDown],
    no_hooks: bool,
) -> Result<(), LifecycleError> {
    let steps = rec.lifecycle.steps.clone();
    let mut runs = Vec::new();
    let r = run_event(
        ctx,
        &mut rec.hooks,
        &steps,
        event,
        scale,
        no_hooks,
        &mut runs,
    )
    .await;
    rec.lifecycle.runs.extend(runs);
    r
}

/// Runs every `rollout` step of the release, in declared order.
pub async fn release_rollouts(
    ctx: &Ctx<'_>,
    rec: &mut Release,
    driver: &dyn Driver,
) -> Result<(), ReleaseError> {
    let steps: Vec<Step> = rec
        .lifecycle
        .steps
        .iter()
        .filter(|s| s.on.contains(&Event::Rollout))
        .cloned()
        .collect();
    for s in &steps {
        rollout(ctx, s, rec, driver).await?;
    }
    Ok(())
}

/// Plans of several events, for dry runs.
pub async fn release_plans(
    cluster: &dyn Cluster,
    rec: &Release,
    events: &[Event],
    scale: &[ScaleDown],
) -> Result<Vec<plan::Plan>, LifecycleError> {
    let mut out = Vec::new();
    for e in events {
        out.push(
            plan::plan(
                cluster,
                &rec.namespace,
                &rec.hooks,
                &rec.lifecycle.steps,
                *e,
                scale,
            )
            .await?,
        );
    }
    Ok(out)
}

async fn replace_one(
    ctx: &Ctx<'_>,
    step: &Step,
    pod: &str,
    live: Option<&Value>,
    pr: &ObjectRef,
    revision: &str,
) -> Result<(), String> {
    let old_uid = live
        .and_then(|p| p.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if live.is_some() {
        step_exec(ctx, step, pod).await?;
        (ctx.progress)(&format!("step {}: deleting pod {pod}", step.name));
        ctx.cluster.delete(pr).await.map_err(|e| e.to_string())?;
    }
    wait_replaced(ctx, pod, &old_uid, revision).await?;
    (ctx.progress)(&format!("step {}: {pod} is Ready on {revision}", step.name));
    if let Some(g) = &step.gate {
        gate(ctx, g, pod).await?;
        (ctx.progress)(&format!("step {}: {pod}: gate passed", step.name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_description_keeps_the_tail() {
        let out = (1..=9)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let d = describe_output(2, &out, "boom\n");
        assert_eq!(
            d,
            "exit code 2; stderr: boom; stdout: line 5\nline 6\nline 7\nline 8\nline 9"
        );
        assert_eq!(describe_output(1, "", ""), "exit code 1");
    }
}
