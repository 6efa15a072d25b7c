//! Simulated controllers: pods start and become ready, workloads create pods and report
//! status, PVCs bind, namespaces terminate, and owner references are garbage-collected.

use crate::registry::ResourceType;
use crate::store::{key_of, ObjKey, Store, WriteOpts};
use crate::util;
use crate::{Shared, Timing, FAIL_ANNOTATION, UNREADY_ANNOTATION};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Controller memory across passes: when each pod/PVC was first seen or started running.
#[derive(Default)]
struct Clock {
    seen: HashMap<String, Instant>,
    running: HashMap<String, Instant>,
    next: Option<Instant>,
}

impl Clock {
    fn due(&mut self, map: Map, uid: &str, after: Duration) -> bool {
        let now = Instant::now();
        let m = match map {
            Map::Seen => &mut self.seen,
            Map::Running => &mut self.running,
        };
        let t = *m.entry(uid.to_string()).or_insert(now);
        let at = t + after;
        if at <= now {
            true
        } else {
            self.next = Some(self.next.map_or(at, |n| n.min(at)));
            false
        }
    }
}

#[derive(Clone, Copy)]
enum Map {
    Seen,
    Running,
}

pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut clock = Clock::default();
    loop {
        let timing = shared.sim.lock().expect("sim lock").timing.clone();
        clock.next = None;
        {
            let mut st = shared.store.lock().expect("store lock");
            // Each pass may enable the next (Deployment → ReplicaSet → Pod): settle.
            for _ in 0..16 {
                if !pass(&mut st, &timing, &mut clock, shared.nodes) {
                    break;
                }
            }
            let live: HashSet<String> = st
                .objects
                .values()
                .filter_map(|o| o["metadata"]["uid"].as_str().map(String::from))
                .collect();
            clock.seen.retain(|k, _| live.contains(k));
            clock.running.retain(|k, _| live.contains(k));
        }
        let wait = clock
            .next
            .map(|n| n.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        tokio::select! {
            _ = shared.notify.notified() => {
                // Let a burst of writes land before the next pass over everything.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

fn rt(st: &Store, group: &str, plural: &str) -> ResourceType {
    st.registry
        .by_group_plural(group, plural)
        .cloned()
        .expect("built-in resource type")
}

fn of_kind(st: &Store, group: &str, plural: &str) -> Vec<(ObjKey, Value)> {
    // Keys start with (group, plural): walk that range only, not the whole store.
    let from = (
        group.to_string(),
        plural.to_string(),
        String::new(),
        String::new(),
    );
    st.objects
        .range(from..)
        .take_while(|(k, _)| k.0 == group && k.1 == plural)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn uid(o: &Value) -> &str {
    o["metadata"]["uid"].as_str().unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn ns(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or_default()
}

fn terminating(o: &Value) -> bool {
    !o["metadata"]["deletionTimestamp"].is_null()
}

fn owned_pods(st: &Store, owner_uid: &str) -> Vec<Value> {
    st.objects
        .iter()
        .filter(|(k, _)| k.0.is_empty() && k.1 == "pods")
        .filter(|(_, o)| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| {
                    r.iter()
                        .any(|r| r["uid"] == owner_uid && r["controller"] == true)
                })
        })
        .map(|(_, o)| o.clone())
        .collect()
}

pub fn pod_ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn set_status(st: &mut Store, key: &ObjKey, status: Value) -> bool {
    let Some(cur) = st.get(key) else { return false };
    if cur["status"] == status {
        return false;
    }
    let mut o = cur.clone();
    o["status"] = status;
    st.put(key.clone(), o, "MODIFIED");
    true
}

fn owner_ref(o: &Value) -> Value {
    json!({
        "apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
        "uid": o["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
    })
}

/// A pod from a template, owned by `owner`.
fn pod_from(
    template: &Value,
    owner: &Value,
    pod_name: &str,
    extra_labels: &[(&str, String)],
) -> Value {
    let mut md = template["metadata"].clone();
    if !md.is_object() {
        md = json!({});
    }
    md["name"] = json!(pod_name);
    md["namespace"] = json!(ns(owner));
    md["ownerReferences"] = json!([owner_ref(owner)]);
    if !md["labels"].is_object() {
        md["labels"] = json!({});
    }
    for (k, v) in extra_labels {
        md["labels"][*k] = json!(v);
    }
    if let Some(m) = md.as_object_mut() {
        m.remove("creationTimestamp");
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": template["spec"]})
}

fn create(st: &mut Store, group: &str, plural: &str, namespace: &str, obj: Value) -> bool {
    let t = rt(st, group, plural);
    st.create(&t, namespace, obj, &WriteOpts::default()).is_ok()
}

fn delete(st: &mut Store, o: &Value, group: &str, plural: &str) -> bool {
    if terminating(o) {
        return false;
    }
    let t = rt(st, group, plural);
    st.delete(&t, ns(o), name(o), None, None, None, false)
        .is_ok()
}

fn int(v: &Value, default: i64) -> i64 {
    v.as_i64().unwrap_or(default)
}

/// One reconcile pass over everything; true when anything changed.
fn pass(st: &mut Store, timing: &Timing, clock: &mut Clock, nodes: usize) -> bool {
    let mut changed = false;
    changed |= namespaces(st);
    changed |= gc(st);
    changed |= pvcs(st, timing, clock);
    changed |= pods(st, timing, clock, nodes);
    changed |= replicasets(st);
    changed |= deployments(st);
    changed |= statefulsets(st);
    changed |= daemonsets(st, nodes);
    changed |= jobs(st);
    changed
}

fn namespaces(st: &mut Store) -> bool {
    let mut changed = false;
    for (key, n) in of_kind(st, "", "namespaces") {
        let nsname = name(&n).to_string();
        if !terminating(&n) {
            let sa = rt(st, "", "serviceaccounts");
            if st.get(&key_of(&sa, &nsname, "default")).is_none() {
                changed |= create(
                    st,
                    "",
                    "serviceaccounts",
                    &nsname,
                    json!({"metadata": {"name": "default"}}),
                );
            }
            continue;
        }
        let content: Vec<(ObjKey, Value)> = st
            .objects
            .iter()
            .filter(|(k, _)| k.2 == nsname)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if content.is_empty() {
            st.remove(&key);
            changed = true;
            continue;
        }
        for (k, o) in content {
            if !terminating(&o) {
                changed |= delete(st, &o, &k.0, &k.1);
            }
        }
    }
    changed
}

fn gc(st: &mut Store) -> bool {
    let mut changed = false;
    let uids: HashMap<String, ObjKey> = st
        .objects
        .iter()
        .map(|(k, o)| (uid(o).to_string(), k.clone()))
        .collect();
    // Dependents of vanished owners.
    let orphans: Vec<(ObjKey, Value)> = st
        .objects
        .iter()
        .filter(|(_, o)| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| {
                    !refs.is_empty()
                        && refs
                            .iter()
                            .all(|r| !uids.contains_key(r["uid"].as_str().unwrap_or_default()))
                })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, o) in orphans {
        changed |= delete(st, &o, &k.0, &k.1);
    }
    // Owners being deleted in the foreground or with orphaning.
    let owners: Vec<(ObjKey, Value)> = st
        .objects
        .iter()
        .filter(|(_, o)| terminating(o))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, owner) in owners {
        let fins: Vec<String> = owner["metadata"]["finalizers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let ouid = uid(&owner).to_string();
        let deps = st.dependents(&ouid);
        let mut done = None;
        if fins.iter().any(|f| f == "orphan") {
            for dk in &deps {
                if let Some(d) = st.get(dk).cloned() {
                    let mut d2 = d.clone();
                    if let Some(refs) = d2["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != ouid.as_str());
                    }
                    st.put(dk.clone(), d2, "MODIFIED");
                }
            }
            done = Some("orphan");
        } else if fins.iter().any(|f| f == "foregroundDeletion") {
            if deps.is_empty() {
                done = Some("foregroundDeletion");
            } else {
                for dk in &deps {
                    if let Some(d) = st.get(dk).cloned() {
                        // Dependents go in the foreground too, so grandchildren go first.
                        if !terminating(&d) {
                            if let Some(t) = st.resource_type_of(dk) {
                                let _ = st.delete(
                                    &t,
                                    &dk.2,
                                    &dk.3,
                                    Some("Foreground"),
                                    None,
                                    None,
                                    false,
                                );
                                changed = true;
                            }
                        }
                    }
                }
            }
        }
        if let Some(f) = done {
            if let (Some(cur), Some(t)) = (st.get(&key).cloned(), st.resource_type_of(&key)) {
                let mut new = cur.clone();
                if let Some(a) = new["metadata"]["finalizers"].as_array_mut() {
                    a.retain(|x| x != f);
                }
                let _ = st.commit(&t, key.clone(), &cur, new, &WriteOpts::default());
                changed = true;
            }
        }
    }
    changed
}

fn pvcs(st: &mut Store, timing: &Timing, clock: &mut Clock) -> bool {
    let mut changed = false;
    for (key, p) in of_kind(st, "", "persistentvolumeclaims") {
        if p["status"]["phase"] == "Bound" || terminating(&p) {
            continue;
        }
        if !clock.due(
            Map::Seen,
            uid(&p),
            Duration::from_millis(timing.pvc_bind_ms),
        ) {
            continue;
        }
        let mut o = p.clone();
        o["spec"]["volumeName"] = json!(format!("pvc-{}", uid(&p)));
        o["status"] = json!({
            "phase": "Bound",
            "accessModes": p["spec"]["accessModes"],
            "capacity": {"storage": p["spec"]["resources"]["requests"]["storage"]},
        });
        st.put(key, o, "MODIFIED");
        changed = true;
    }
    changed
}

fn annotated(p: &Value, a: &str) -> bool {
    p["metadata"]["annotations"][a] == "true"
}

fn pods(st: &mut Store, timing: &Timing, clock: &mut Clock, nodes: usize) -> bool {
    let mut changed = false;
    for (key, p) in of_kind(st, "", "pods") {
        if terminating(&p) {
            continue;
        }
        let phase = p["status"]["phase"]
            .as_str()
            .unwrap_or("Pending")
            .to_string();
        let restart = p["spec"]["restartPolicy"].as_str().unwrap_or("Always");
        let containers: Vec<Value> = p["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let now = util::now_rfc3339();
        match phase.as_str() {
            "Pending" => {
                if !clock.due(
                    Map::Seen,
                    uid(&p),
                    Duration::from_millis(timing.pod_ready_ms),
                ) {
                    continue;
                }
                let ready = !annotated(&p, UNREADY_ANNOTATION);
                let r = if ready { "True" } else { "False" };
                let statuses: Vec<Value> = containers
                    .iter()
                    .map(|c| json!({
                        "name": c["name"], "image": c["image"], "imageID": format!("sim://{}", c["image"].as_str().unwrap_or_default()),
                        "ready": ready, "started": true, "restartCount": 0,
                        "containerID": format!("sim://{}", util::short_hash(&json!([uid(&p), c["name"]]))),
                        "state": {"running": {"startedAt": now}},
                    }))
                    .collect();
                let idx =
                    (util::short_hash(&json!(name(&p))).len() + name(&p).len()) % nodes.max(1) + 1;
                let mut o = p.clone();
                if o["spec"]["nodeName"].is_null() {
                    o["spec"]["nodeName"] = json!(format!("sim-node-{idx}"));
                }
                let n = st.rv % 250 + 1;
                o["status"] = json!({
                    "phase": "Running", "qosClass": "BestEffort", "hostIP": "10.0.0.1",
                    "podIP": format!("10.244.{}.{}", n / 250, n % 250 + 1),
                    "podIPs": [{"ip": format!("10.244.{}.{}", n / 250, n % 250 + 1)}],
                    "startTime": now,
                    "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                        {"type": "ContainersReady", "status": r, "lastTransitionTime": now},
                        {"type": "Ready", "status": r, "lastTransitionTime": now},
                    ],
                    "containerStatuses": statuses,
                });
                st.put(key, o, "MODIFIED");
                clock.running.insert(uid(&p).to_string(), Instant::now());
                changed = true;
            }
            "Running" if restart != "Always" => {
                if !clock.due(
                    Map::Running,
                    uid(&p),
                    Duration::from_millis(timing.job_run_ms),
                ) {
                    continue;
                }
                let fail = annotated(&p, FAIL_ANNOTATION);
                let code = if fail { 1 } else { 0 };
                let mut o = p.clone();
                o["status"]["phase"] = json!(if fail { "Failed" } else { "Succeeded" });
                if let Some(conds) = o["status"]["conditions"].as_array_mut() {
                    for c in conds.iter_mut() {
                        if c["type"] == "Ready" || c["type"] == "ContainersReady" {
                            c["status"] = json!("False");
                            c["reason"] = json!("PodCompleted");
                        }
                    }
                }
                if let Some(cs) = o["status"]["containerStatuses"].as_array_mut() {
                    for c in cs.iter_mut() {
                        c["ready"] = json!(false);
                        c["started"] = json!(false);
                        c["state"] = json!({"terminated": {"exitCode": code, "reason": if fail { "Error" } else { "Completed" }, "startedAt": now, "finishedAt": now}});
                    }
                }
                st.put(key, o, "MODIFIED");
                changed = true;
            }
            _ => {}
        }
    }
    changed
}

fn replicasets(st: &mut Store) -> bool {
    let mut changed = false;
    for (key, rs) in of_kind(st, "apps", "replicasets") {
        if terminating(&rs) {
            continue;
        }
        let want = int(&rs["spec"]["replicas"], 1).max(0) as usize;
        let mut pods: Vec<Value> = owned_pods(st, uid(&rs))
            .into_iter()
            .filter(|p| !terminating(p))
            .collect();
        let hash = rs["metadata"]["labels"]["pod-template-hash"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        while pods.len() < want {
            let pn = format!("{}-{}", name(&rs), util::random_suffix(5));
            let extra: Vec<(&str, String)> = if hash.is_empty() {
                vec![]
            } else {
                vec![("pod-template-hash", hash.clone())]
            };
            let pod = pod_from(&rs["spec"]["template"], &rs, &pn, &extra);
            if !create(st, "", "pods", ns(&rs), pod.clone()) {
                break;
            }
            pods.push(pod);
            changed = true;
        }
        if pods.len() > want {
            // Unready pods go first, then the newest.
            pods.sort_by_key(|p| {
                (
                    pod_ready(p),
                    std::cmp::Reverse(
                        p["metadata"]["creationTimestamp"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    ),
                )
            });
            for p in pods.iter().take(pods.len() - want) {
                changed |= delete(st, p, "", "pods");
            }
        }
        let pods: Vec<Value> = owned_pods(st, uid(&rs))
            .into_iter()
            .filter(|p| !terminating(p))
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count();
        let status = json!({
            "replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": ready,
            "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"],
        });
        changed |= set_status(st, &key, status);
    }
    changed
}

fn deployments(st: &mut Store) -> bool {
    let mut changed = false;
    let rst = rt(st, "apps", "replicasets");
    for (key, d) in of_kind(st, "apps", "deployments") {
        if terminating(&d) {
            continue;
        }
        let want = int(&d["spec"]["replicas"], 1).max(0);
        let hash = util::short_hash(&d["spec"]["template"]);
        let rs_name = format!("{}-{}", name(&d), &hash[..8]);
        let owned: Vec<Value> = st
            .objects
            .iter()
            .filter(|(k, _)| k.0 == "apps" && k.1 == "replicasets")
            .map(|(_, o)| o.clone())
            .filter(|o| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["uid"] == uid(&d)))
            })
            .collect();
        let new_key = key_of(&rst, ns(&d), &rs_name);
        match st.get(&new_key).cloned() {
            None => {
                let mut tpl = d["spec"]["template"].clone();
                tpl["metadata"]["labels"]["pod-template-hash"] = json!(&hash[..8]);
                let mut sel = d["spec"]["selector"].clone();
                sel["matchLabels"]["pod-template-hash"] = json!(&hash[..8]);
                let mut labels = d["spec"]["template"]["metadata"]["labels"].clone();
                labels["pod-template-hash"] = json!(&hash[..8]);
                let rs = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs_name, "namespace": ns(&d), "labels": labels, "ownerReferences": [owner_ref(&d)],
                                 "annotations": {"deployment.kubernetes.io/revision": (owned.len() + 1).to_string()}},
                    "spec": {"replicas": want, "selector": sel, "template": tpl},
                });
                changed |= create(st, "apps", "replicasets", ns(&d), rs);
            }
            Some(rs) => {
                if int(&rs["spec"]["replicas"], 0) != want {
                    let mut n = rs.clone();
                    n["spec"]["replicas"] = json!(want);
                    let _ = st.commit(&rst, new_key.clone(), &rs, n, &WriteOpts::default());
                    changed = true;
                }
            }
        }
        let new_rs = st.get(&new_key).cloned().unwrap_or(Value::Null);
        let new_ready = int(&new_rs["status"]["readyReplicas"], 0);
        let mut total = 0;
        let mut ready = 0;
        for rs in &owned {
            total += int(&rs["status"]["replicas"], 0);
            ready += int(&rs["status"]["readyReplicas"], 0);
            if name(rs) != rs_name && new_ready >= want && int(&rs["spec"]["replicas"], 0) != 0 {
                let mut n = rs.clone();
                n["spec"]["replicas"] = json!(0);
                let k = key_of(&rst, ns(rs), name(rs));
                let _ = st.commit(&rst, k, rs, n, &WriteOpts::default());
                changed = true;
            }
        }
        let updated = int(&new_rs["status"]["replicas"], 0);
        let now = util::now_rfc3339();
        let available = ready >= want;
        let complete = available && updated == want && total == want;
        let old_conds = d["status"]["conditions"].clone();
        let cond = |t: &str, s: bool, reason: &str, msg: String| {
            let status = if s { "True" } else { "False" };
            let since = old_conds
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|c| c["type"] == t && c["status"] == status && c["reason"] == reason)
                })
                .map(|c| c["lastTransitionTime"].clone())
                .unwrap_or(json!(now));
            json!({"type": t, "status": status, "reason": reason, "message": msg, "lastUpdateTime": since, "lastTransitionTime": since})
        };
        let status = json!({
            "observedGeneration": d["metadata"]["generation"],
            "replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
            "availableReplicas": ready, "unavailableReplicas": (want - ready).max(0),
            "conditions": [
                cond("Available", available, if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                     if available { "Deployment has minimum availability.".into() } else { "Deployment does not have minimum availability.".into() }),
                cond("Progressing", true, if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                     format!("ReplicaSet \"{rs_name}\" {}", if complete { "has successfully progressed." } else { "is progressing." })),
            ],
        });
        changed |= set_status(st, &key, status);
    }
    changed
}

fn pod_ordinal(p: &Value, set: &str) -> Option<usize> {
    name(p).strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

fn statefulsets(st: &mut Store) -> bool {
    let mut changed = false;
    let pvct = rt(st, "", "persistentvolumeclaims");
    for (key, s) in of_kind(st, "apps", "statefulsets") {
        if terminating(&s) {
            continue;
        }
        let set = name(&s).to_string();
        let want = int(&s["spec"]["replicas"], 1).max(0) as usize;
        let update_rev = format!("{set}-{}", &util::short_hash(&s["spec"]["template"])[..8]);
        let current_rev = s["status"]["currentRevision"]
            .as_str()
            .unwrap_or(&update_rev)
            .to_string();
        let parallel = s["spec"]["podManagementPolicy"] == "Parallel";
        let on_delete = s["spec"]["updateStrategy"]["type"] == "OnDelete";
        let partition = int(
            &s["spec"]["updateStrategy"]["rollingUpdate"]["partition"],
            0,
        )
        .max(0) as usize;
        let pods = owned_pods(st, uid(&s));
        let by_ord: HashMap<usize, Value> = pods
            .iter()
            .filter_map(|p| Some((pod_ordinal(p, &set)?, p.clone())))
            .collect();
        let rev_of = |p: &Value| {
            p["metadata"]["labels"]["controller-revision-hash"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let mut acted = false;
        // Create missing ordinals.
        for i in 0..want {
            match by_ord.get(&i) {
                Some(p) => {
                    if !parallel && (!pod_ready(p) || terminating(p)) {
                        acted = true;
                        break;
                    }
                }
                None => {
                    for claim in s["spec"]["volumeClaimTemplates"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                    {
                        let cname = format!("{}-{set}-{i}", name(&claim));
                        if st.get(&key_of(&pvct, ns(&s), &cname)).is_none() {
                            let mut c = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim["metadata"].clone(), "spec": claim["spec"].clone()});
                            c["metadata"]["name"] = json!(cname);
                            c["metadata"]["namespace"] = json!(ns(&s));
                            if !c["metadata"]["labels"].is_object() {
                                c["metadata"]["labels"] =
                                    s["spec"]["selector"]["matchLabels"].clone();
                            }
                            changed |= create(st, "", "persistentvolumeclaims", ns(&s), c);
                        }
                    }
                    // Like the real controller: a pod (re)created under OnDelete gets the
                    // update revision; only RollingUpdate's partition keeps ordinals old.
                    let rev = if !on_delete && i < partition {
                        current_rev.clone()
                    } else {
                        update_rev.clone()
                    };
                    let pn = format!("{set}-{i}");
                    let mut pod = pod_from(
                        &s["spec"]["template"],
                        &s,
                        &pn,
                        &[
                            ("controller-revision-hash", rev),
                            ("statefulset.kubernetes.io/pod-name", pn.clone()),
                            ("apps.kubernetes.io/pod-index", i.to_string()),
                        ],
                    );
                    pod["spec"]["hostname"] = json!(pn);
                    if let Some(svc) = s["spec"]["serviceName"].as_str() {
                        pod["spec"]["subdomain"] = json!(svc);
                    }
                    if let Some(vols) = s["spec"]["volumeClaimTemplates"].as_array() {
                        let mut volumes = pod["spec"]["volumes"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        for claim in vols {
                            volumes.push(json!({"name": name(claim), "persistentVolumeClaim": {"claimName": format!("{}-{set}-{i}", name(claim))}}));
                        }
                        pod["spec"]["volumes"] = json!(volumes);
                    }
                    changed |= create(st, "", "pods", ns(&s), pod);
                    acted = true;
                    if !parallel {
                        break;
                    }
                }
            }
        }
        // Scale down from the highest ordinal.
        let mut extra: Vec<&Value> = by_ord
            .iter()
            .filter(|(i, _)| **i >= want)
            .map(|(_, p)| p)
            .collect();
        extra.sort_by_key(|p| std::cmp::Reverse(pod_ordinal(p, &set)));
        if !extra.is_empty() && (parallel || !acted) {
            if parallel {
                for p in &extra {
                    changed |= delete(st, p, "", "pods");
                }
            } else if !extra.iter().any(|p| terminating(p)) {
                changed |= delete(st, extra[0], "", "pods");
            }
            acted = true;
        }
        // Rolling update: replace the highest outdated ordinal once all are ready.
        if !acted && !on_delete {
            let all_ready = (0..want).all(|i| {
                by_ord
                    .get(&i)
                    .is_some_and(|p| pod_ready(p) && !terminating(p))
            });
            if all_ready {
                if let Some(p) = (partition..want)
                    .rev()
                    .filter_map(|i| by_ord.get(&i))
                    .find(|p| rev_of(p) != update_rev)
                {
                    changed |= delete(st, p, "", "pods");
                }
            }
        }
        let pods: Vec<Value> = owned_pods(st, uid(&s))
            .into_iter()
            .filter(|p| !terminating(p))
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count();
        let updated = pods.iter().filter(|p| rev_of(p) == update_rev).count();
        let current_count = pods.iter().filter(|p| rev_of(p) == current_rev).count();
        let current = if updated == want && pods.len() == want {
            update_rev.clone()
        } else {
            current_rev.clone()
        };
        let status = json!({
            "observedGeneration": s["metadata"]["generation"],
            "replicas": pods.len(), "readyReplicas": ready, "availableReplicas": ready,
            "currentReplicas": if current == update_rev { updated } else { current_count },
            "updatedReplicas": updated, "currentRevision": current, "updateRevision": update_rev,
            "collisionCount": 0,
        });
        changed |= set_status(st, &key, status);
    }
    changed
}

fn daemonsets(st: &mut Store, nodes: usize) -> bool {
    let mut changed = false;
    for (key, d) in of_kind(st, "apps", "daemonsets") {
        if terminating(&d) {
            continue;
        }
        let hash = util::short_hash(&d["spec"]["template"])[..8].to_string();
        let pods = owned_pods(st, uid(&d));
        for i in 1..=nodes {
            let node = format!("sim-node-{i}");
            let on_node: Vec<&Value> = pods
                .iter()
                .filter(|p| p["spec"]["nodeName"] == node.as_str())
                .collect();
            if on_node.is_empty() {
                let pn = format!("{}-{}", name(&d), util::random_suffix(5));
                let mut pod = pod_from(
                    &d["spec"]["template"],
                    &d,
                    &pn,
                    &[("controller-revision-hash", hash.clone())],
                );
                pod["spec"]["nodeName"] = json!(node);
                changed |= create(st, "", "pods", ns(&d), pod);
            } else if d["spec"]["updateStrategy"]["type"] != "OnDelete" {
                for p in on_node {
                    if p["metadata"]["labels"]["controller-revision-hash"] != hash.as_str() {
                        changed |= delete(st, p, "", "pods");
                    }
                }
            }
        }
        let pods: Vec<Value> = owned_pods(st, uid(&d))
            .into_iter()
            .filter(|p| !terminating(p))
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count();
        let updated = pods
            .iter()
            .filter(|p| p["metadata"]["labels"]["controller-revision-hash"] == hash.as_str())
            .count();
        let status = json!({
            "observedGeneration": d["metadata"]["generation"], "desiredNumberScheduled": nodes,
            "currentNumberScheduled": pods.len(), "numberReady": ready, "numberAvailable": ready,
            "updatedNumberScheduled": updated, "numberMisscheduled": 0, "numberUnavailable": nodes.saturating_sub(ready),
        });
        changed |= set_status(st, &key, status);
    }
    changed
}

fn jobs(st: &mut Store) -> bool {
    let mut changed = false;
    for (key, j) in of_kind(st, "batch", "jobs") {
        if terminating(&j) || j["spec"]["suspend"] == true {
            continue;
        }
        let finished = j["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter().any(|c| {
                (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True"
            })
        });
        let pods = owned_pods(st, uid(&j));
        let phase = |p: &Value| {
            p["status"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
        let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
        let active: Vec<&Value> = pods
            .iter()
            .filter(|p| !terminating(p) && phase(p) != "Succeeded" && phase(p) != "Failed")
            .collect();
        let completions = int(&j["spec"]["completions"], 1);
        let parallelism = int(&j["spec"]["parallelism"], 1);
        let backoff = int(&j["spec"]["backoffLimit"], 6);
        let now = util::now_rfc3339();
        let mut status = j["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        if status["startTime"].is_null() {
            status["startTime"] = json!(now);
        }
        if !finished {
            let done_ok = succeeded >= completions;
            let done_fail = failed > backoff;
            if done_ok || done_fail {
                for p in &active {
                    changed |= delete(st, p, "", "pods");
                }
                let (t1, t2, reason, msg) = if done_ok {
                    (
                        "SuccessCriteriaMet",
                        "Complete",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    )
                } else {
                    (
                        "FailureTarget",
                        "Failed",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    )
                };
                status["conditions"] = json!([
                    {"type": t1, "status": "True", "reason": reason, "message": msg, "lastProbeTime": now, "lastTransitionTime": now},
                    {"type": t2, "status": "True", "reason": reason, "message": msg, "lastProbeTime": now, "lastTransitionTime": now},
                ]);
                if done_ok {
                    status["completionTime"] = json!(now);
                }
            } else {
                let mut n = active.len() as i64;
                while n < parallelism && succeeded + n < completions {
                    let pn = format!("{}-{}", name(&j), util::random_suffix(5));
                    let pod = pod_from(
                        &j["spec"]["template"],
                        &j,
                        &pn,
                        &[
                            ("batch.kubernetes.io/job-name", name(&j).to_string()),
                            ("job-name", name(&j).to_string()),
                            ("batch.kubernetes.io/controller-uid", uid(&j).to_string()),
                            ("controller-uid", uid(&j).to_string()),
                        ],
                    );
                    if !create(st, "", "pods", ns(&j), pod) {
                        break;
                    }
                    changed = true;
                    n += 1;
                }
            }
        }
        let active_now = owned_pods(st, uid(&j))
            .iter()
            .filter(|p| !terminating(p) && phase(p) != "Succeeded" && phase(p) != "Failed")
            .count();
        status["active"] = json!(active_now);
        status["succeeded"] = json!(succeeded);
        status["failed"] = json!(failed);
        status["ready"] = json!(active.iter().filter(|p| pod_ready(p)).count());
        status["terminating"] = json!(0);
        status["uncountedTerminatedPods"] = json!({});
        changed |= set_status(st, &key, status);
    }
    changed
}
