//! One mutating operation per release at a time: a coordination.k8s.io Lease
//! `stackpkg.lock.<release>` in the release namespace, with a holder id and an expiry the
//! holder renews while it works. A lease whose holder stopped renewing (killed, lost its
//! connection) expires after the holder's own duration and the next command takes it over.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::ReleaseError;
use crate::kube::{Cluster, KubeError, ObjectRef};

#[derive(Clone, Debug)]
pub struct LockOptions {
    /// Who we are, as shown to a command that finds the lock taken.
    pub holder: String,
    /// How long the lock outlives its last renewal (`--lock-timeout`).
    pub ttl: Duration,
}

impl LockOptions {
    pub fn new(ttl: Duration) -> LockOptions {
        LockOptions {
            holder: default_holder(),
            ttl,
        }
    }
}

/// `user@host pid N`: enough for a person to find the other command.
pub fn default_holder() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host} pid {}", std::process::id())
}

/// A held lock; renewed in the background until `release`.
pub struct Lock {
    cluster: Arc<dyn Cluster>,
    reference: ObjectRef,
    holder: String,
    /// The lease's resourceVersion after our last write: releasing deletes exactly that
    /// version, one request instead of a get and a delete.
    version: Arc<std::sync::Mutex<String>>,
    renewer: tokio::task::JoinHandle<()>,
    /// The holder whose expired lock we took over, if any.
    pub took_over: Option<String>,
}

pub fn lease_name(release: &str) -> String {
    format!("stackpkg.lock.{release}")
}

/// RFC 3339 with microseconds, the form Lease times use.
fn micro_time(t: jiff::Timestamp) -> String {
    format!(
        "{}.{:06}Z",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_microsecond()
    )
}

fn lease(reference: &ObjectRef, holder: &str, ttl: Duration, acquired: &str) -> Value {
    let now = micro_time(jiff::Timestamp::now());
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": reference.name,
            "namespace": reference.namespace,
            "labels": {"owner": "stackpkg"},
        },
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": ttl.as_secs().max(1),
            "acquireTime": acquired,
            "renewTime": now,
        },
    })
}

fn is_conflict(e: &KubeError) -> bool {
    matches!(e, KubeError::Api { code: 409, .. })
}

/// Whether the lease's holder stopped renewing longer ago than its duration.
fn expired(l: &Value, now: jiff::Timestamp) -> bool {
    let spec = &l["spec"];
    let Some(renew) = spec["renewTime"]
        .as_str()
        .or(spec["acquireTime"].as_str())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    else {
        return true;
    };
    let secs = spec["leaseDurationSeconds"].as_i64().unwrap_or(0).max(0);
    now.as_second() >= renew.as_second().saturating_add(secs)
}

pub async fn acquire(
    cluster: Arc<dyn Cluster>,
    namespace: &str,
    release: &str,
    opts: &LockOptions,
) -> Result<Lock, ReleaseError> {
    let reference = ObjectRef {
        api_version: "coordination.k8s.io/v1".into(),
        kind: "Lease".into(),
        namespace: Some(namespace.to_string()),
        name: lease_name(release),
    };
    // Creating first costs one request in the common case (no lock held).
    let mut try_create = true;
    for _ in 0..5 {
        if try_create {
            let now = micro_time(jiff::Timestamp::now());
            match cluster
                .create(&lease(&reference, &opts.holder, opts.ttl, &now))
                .await
            {
                Ok(made) => return Ok(start(cluster, reference, opts, None, &made)),
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let Some(live) = cluster.get(&reference).await? else {
            try_create = true;
            continue;
        };
        let holder = live["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mine = holder == opts.holder;
        if !mine && !holder.is_empty() && !expired(&live, jiff::Timestamp::now()) {
            return Err(ReleaseError::Locked {
                name: release.to_string(),
                holder,
                since: live["spec"]["acquireTime"]
                    .as_str()
                    .unwrap_or("an unknown time")
                    .to_string(),
            });
        }
        let mut next = lease(
            &reference,
            &opts.holder,
            opts.ttl,
            &micro_time(jiff::Timestamp::now()),
        );
        next["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
        next["spec"]["leaseTransitions"] =
            json!(live["spec"]["leaseTransitions"].as_i64().unwrap_or(0) + 1);
        match cluster.replace(&next).await {
            Ok(made) => {
                let took = (!mine && !holder.is_empty()).then_some(holder);
                return Ok(start(cluster, reference, opts, took, &made));
            }
            Err(e) if is_conflict(&e) => try_create = false,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ReleaseError::Operation {
        name: release.to_string(),
        message: "could not take the release lock: it kept changing hands".into(),
    })
}

fn resource_version(lease: &Value) -> String {
    lease["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn start(
    cluster: Arc<dyn Cluster>,
    reference: ObjectRef,
    opts: &LockOptions,
    took_over: Option<String>,
    made: &Value,
) -> Lock {
    let version = Arc::new(std::sync::Mutex::new(resource_version(made)));
    let (c, r, holder, ttl, v) = (
        cluster.clone(),
        reference.clone(),
        opts.holder.clone(),
        opts.ttl,
        version.clone(),
    );
    let renewer = tokio::spawn(async move {
        let every = (ttl / 3).max(Duration::from_millis(200));
        loop {
            tokio::time::sleep(every).await;
            // A failed renewal is retried at the next tick; the lease still has 2/3 left.
            let Ok(Some(mut live)) = c.get(&r).await else {
                continue;
            };
            if live["spec"]["holderIdentity"].as_str() != Some(holder.as_str()) {
                return;
            }
            live["spec"]["renewTime"] = json!(micro_time(jiff::Timestamp::now()));
            if let Ok(renewed) = c.replace(&live).await {
                *v.lock().expect("lock version") = resource_version(&renewed);
            }
        }
    });
    Lock {
        cluster,
        reference,
        holder: opts.holder.clone(),
        version,
        renewer,
        took_over,
    }
}

impl Lock {
    /// Stops renewing and deletes the lease if it is still ours.
    pub async fn release(self) -> Result<(), ReleaseError> {
        self.renewer.abort();
        let version = self.version.lock().expect("lock version").clone();
        if !version.is_empty() {
            match self
                .cluster
                .delete_at_version(&self.reference, &version)
                .await
            {
                Ok(_) => return Ok(()),
                // Renewed by a write whose answer we lost, or taken over: look before deleting.
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(live) = self.cluster.get(&self.reference).await? {
            if live["spec"]["holderIdentity"].as_str() == Some(self.holder.as_str()) {
                self.cluster.delete(&self.reference).await?;
            }
        }
        Ok(())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_uses_the_holders_duration() {
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let l = |renew: &str, secs: i64| json!({"spec": {"renewTime": renew, "leaseDurationSeconds": secs}});
        assert!(!expired(&l("2026-01-01T00:09:00.000000Z", 300), now));
        assert!(expired(&l("2026-01-01T00:04:59.000000Z", 300), now));
        assert!(expired(&l("2026-01-01T00:09:00.000000Z", 30), now));
        assert!(expired(&json!({"spec": {}}), now), "no times: expired");
        assert!(expired(&l("garbage", 300), now));
    }

    #[test]
    fn micro_time_format() {
        let t: jiff::Timestamp = "2026-01-01T00:00:01.5Z".parse().unwrap();
        assert_eq!(micro_time(t), "2026-01-01T00:00:01.500000Z");
    }
}
