//! The object store: objects, the resource-version clock, the watch event history, and the
//! create/update/delete semantics shared by the HTTP layer and the controllers.

use crate::kinds;
use crate::patch;
use crate::registry::{Registry, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::util::{self, ApiError};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// (group, plural, namespace or "", name)
pub type ObjKey = (String, String, String, String);

/// One change, as watchers see it.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub etype: &'static str,
    pub group: String,
    pub plural: String,
    pub object: Value,
}

const HISTORY: usize = 20_000;

pub struct Store {
    pub registry: Registry,
    pub objects: BTreeMap<ObjKey, Value>,
    pub rv: u64,
    history: VecDeque<Arc<Event>>,
    /// Highest resourceVersion no longer in `history` (older watches get 410 Expired).
    compacted: u64,
    pub tx: broadcast::Sender<Arc<Event>>,
    next_ip: u32,
}

/// Options of one write.
#[derive(Clone, Debug, Default)]
pub struct WriteOpts {
    pub dry_run: bool,
    pub manager: Option<String>,
    pub subresource: Option<String>,
    /// A client's request (the simulated controllers write as the server itself does).
    pub client: bool,
}

pub fn key_of(rt: &ResourceType, ns: &str, name: &str) -> ObjKey {
    (
        rt.group.clone(),
        rt.plural.clone(),
        if rt.namespaced {
            ns.to_string()
        } else {
            String::new()
        },
        name.to_string(),
    )
}

fn meta_str<'a>(obj: &'a Value, f: &str) -> &'a str {
    obj["metadata"][f].as_str().unwrap_or_default()
}

/// Everything but metadata and status: a change here bumps `metadata.generation`.
fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

impl Default for Store {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Store {
            registry: Registry::default(),
            objects: BTreeMap::new(),
            rv: 1000,
            history: VecDeque::new(),
            compacted: 0,
            tx,
            next_ip: 10,
        }
    }
}

impl Store {
    /// Empties the store but keeps the broadcast channel (watchers stay subscribed).
    pub fn clear(&mut self) {
        self.registry = Registry::default();
        self.objects.clear();
        self.compacted = self.rv;
        self.history.clear();
    }

    fn emit(&mut self, etype: &'static str, group: &str, plural: &str, object: Value) {
        let ev = Arc::new(Event {
            rv: self.rv,
            etype,
            group: group.into(),
            plural: plural.into(),
            object,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > HISTORY {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receivers is fine.
        let _ = self.tx.send(ev);
    }

    /// Events after `rv` still in history, or `None` when `rv` is too old.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        if rv < self.compacted {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    pub fn get(&self, key: &ObjKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// The stored object as seen through `rt`'s version.
    pub fn view(rt: &ResourceType, obj: &Value) -> Value {
        let mut o = obj.clone();
        o["apiVersion"] = json!(rt.api_version());
        o
    }

    pub fn namespace_state(&self, ns: &str) -> Option<bool> {
        self.objects
            .get(&(
                String::new(),
                "namespaces".into(),
                String::new(),
                ns.to_string(),
            ))
            .map(|n| n["metadata"]["deletionTimestamp"].is_null())
    }

    fn cluster_ip(&mut self) -> String {
        self.next_ip += 1;
        format!("10.96.{}.{}", self.next_ip / 250, self.next_ip % 250 + 1)
    }

    /// Writes an object under a fresh resourceVersion and tells watchers.
    pub fn put(&mut self, key: ObjKey, mut obj: Value, etype: &'static str) -> Value {
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.objects.insert(key.clone(), obj.clone());
        self.emit(etype, &key.0, &key.1, obj.clone());
        obj
    }

    /// Removes an object for good (finalizers already empty).
    pub fn remove(&mut self, key: &ObjKey) -> Option<Value> {
        let mut obj = self.objects.remove(key)?;
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.emit("DELETED", &key.0, &key.1, obj.clone());
        if key.0 == "apiextensions.k8s.io" && key.1 == "customresourcedefinitions" {
            let uid = meta_str(&obj, "uid").to_string();
            let group = obj["spec"]["group"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let plural = obj["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.registry.unregister_crd(&uid);
            let gone: Vec<ObjKey> = self
                .objects
                .keys()
                .filter(|k| k.0 == group && k.1 == plural)
                .cloned()
                .collect();
            for k in gone {
                self.remove(&k);
            }
        }
        Some(obj)
    }

    pub fn create(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        obj: Value,
        o: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let mut obj = obj;
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        self.check_type(rt, &mut obj)?;
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        if rt.namespaced {
            let body_ns = meta_str(&obj, "namespace");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            obj["metadata"]["namespace"] = json!(ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        if meta_str(&obj, "name").is_empty() {
            let gen = meta_str(&obj, "generateName").to_string();
            if !gen.is_empty() {
                obj["metadata"]["name"] = json!(format!("{gen}{}", util::random_suffix(5)));
            }
        }
        let name = meta_str(&obj, "name").to_string();
        let causes = kinds::validate(rt, &obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.kind, &rt.group, &name, causes));
        }
        if rt.namespaced {
            match self.namespace_state(ns) {
                None => return Err(ApiError::not_found("namespaces", ns)),
                Some(false) => {
                    return Err(ApiError::new(
                        403,
                        "Forbidden",
                        format!(
                            "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                            rt.qualified()
                        ),
                    )
                    .with_details(json!({"name": name, "group": rt.group, "kind": rt.plural})))
                }
                Some(true) => {}
            }
        }
        let key = key_of(rt, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&rt.qualified(), &name));
        }
        let md = obj["metadata"]
            .as_object_mut()
            .expect("metadata ensured above");
        md.insert("uid".into(), json!(util::new_uid()));
        md.insert("creationTimestamp".into(), json!(util::now_rfc3339()));
        md.remove("deletionTimestamp");
        md.remove("resourceVersion");
        md.remove("selfLink");
        if rt.has_generation {
            md.insert("generation".into(), json!(1));
        } else {
            md.remove("generation");
        }
        if rt.status_sub {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        let mut ip = None;
        if rt.kind == "Service" && rt.group.is_empty() {
            ip = Some(self.cluster_ip());
        }
        kinds::default_on_create(rt, &mut obj, || ip.unwrap_or_default());
        if let Some(mgr) = &o.manager {
            patch::record_update(&Value::Null, &mut obj, mgr, &rt.api_version(), None);
        }
        if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
            self.crd_accept(&mut obj)?;
            if !o.dry_run {
                self.registry.register_crd(&obj).map_err(|m| {
                    ApiError::invalid(&rt.kind, &rt.group, &name, vec![("spec".into(), m)])
                })?;
            }
        }
        if o.dry_run {
            obj["metadata"]["resourceVersion"] = json!("");
            return Ok(obj);
        }
        Ok(self.put(key, obj, "ADDED"))
    }

    fn crd_accept(&self, obj: &mut Value) -> Result<(), ApiError> {
        let mut probe = self.registry.clone();
        let name = meta_str(obj, "name").to_string();
        probe.register_crd(obj).map_err(|m| {
            ApiError::invalid(
                "CustomResourceDefinition",
                "apiextensions.k8s.io",
                &name,
                vec![("spec".into(), m)],
            )
        })?;
        let now = util::now_rfc3339();
        obj["status"] = json!({
            "acceptedNames": obj["spec"]["names"].clone(),
            "storedVersions": obj["spec"]["versions"].as_array().map(|vs| vs.iter()
                .filter(|v| v["storage"] == json!(true)).map(|v| v["name"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
            ],
        });
        Ok(())
    }

    fn check_type(&self, rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
        let av = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        if (!av.is_empty() && av != rt.api_version()) || (!kind.is_empty() && kind != rt.kind) {
            // Another served version of the same resource is fine (stored once).
            let (g, v) = av.rsplit_once('/').unwrap_or(("", av.as_str()));
            let same = self
                .registry
                .by_kind(g, v, &kind)
                .is_some_and(|t| t.group == rt.group && t.plural == rt.plural);
            if !same {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({})",
                    rt.api_version()
                )));
            }
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        Ok(())
    }

    /// PUT semantics: optimistic concurrency on a non-empty resourceVersion.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        new: Value,
        o: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let key = key_of(rt, ns, name);
        let Some(cur) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(&rt.qualified(), name));
        };
        if !new.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let body_name = meta_str(&new, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let rv = meta_str(&new, "resourceVersion");
        if !rv.is_empty() && rv != meta_str(&cur, "resourceVersion") {
            return Err(ApiError::conflict(&rt.qualified(), name));
        }
        self.commit(rt, key, &cur, new, o)
    }

    /// Stores `new` as the next state of `cur` (shared by update and every patch type).
    pub fn commit(
        &mut self,
        rt: &ResourceType,
        key: ObjKey,
        cur: &Value,
        mut new: Value,
        o: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let mut new_checked = new.clone();
        self.check_type(rt, &mut new_checked)?;
        new = new_checked;
        if !new["metadata"].is_object() {
            new["metadata"] = json!({});
        }
        let body_uid = new["metadata"]["uid"].clone();
        for f in [
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "deletionTimestamp",
            "generation",
        ] {
            match cur["metadata"].get(f) {
                Some(v) => new["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        match o.subresource.as_deref() {
            Some("status") => {
                let status = new.get("status").cloned();
                let mut merged = cur.clone();
                match status {
                    Some(s) => merged["status"] = s,
                    None => {
                        if let Some(m) = merged.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                // Status writers may not change metadata other than managedFields.
                merged["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
                if merged["metadata"]["managedFields"].is_null() {
                    if let Some(m) = merged["metadata"].as_object_mut() {
                        m.remove("managedFields");
                    }
                }
                new = merged;
            }
            _ if rt.status_sub => match cur.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            },
            _ => {}
        }
        let name = meta_str(cur, "name").to_string();
        let mut causes = kinds::validate(rt, &new);
        // Immutable fields bind clients; the simulated controllers write as the server does.
        if o.client && o.subresource.is_none() {
            let mut sent = new.clone();
            sent["metadata"]["uid"] = body_uid;
            causes.extend(kinds::immutable(rt, cur, &sent));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.kind, &rt.group, &name, causes));
        }
        if rt.has_generation && spec_part(cur) != spec_part(&new) {
            let g = cur["metadata"]["generation"].as_i64().unwrap_or(0);
            new["metadata"]["generation"] = json!(g + 1);
        }
        if let Some(mgr) = &o.manager {
            patch::record_update(
                cur,
                &mut new,
                mgr,
                &rt.api_version(),
                o.subresource.as_deref(),
            );
        }
        let is_crd = rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition";
        if is_crd && o.subresource.is_none() {
            self.crd_accept(&mut new)?;
        }
        new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"].clone();
        if new == *cur {
            return Ok(cur.clone());
        }
        if o.dry_run {
            return Ok(new);
        }
        let finalizers_empty = new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty());
        if !new["metadata"]["deletionTimestamp"].is_null()
            && finalizers_empty
            && rt.kind != "Namespace"
        {
            self.objects.insert(key.clone(), new);
            return Ok(self.remove(&key).unwrap_or(Value::Null));
        }
        if is_crd {
            let _ = self.registry.register_crd(&new);
        }
        Ok(self.put(key, new, "MODIFIED"))
    }

    /// DELETE semantics with propagation policy and preconditions.
    #[allow(clippy::too_many_arguments)]
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        policy: Option<&str>,
        pre_uid: Option<&str>,
        pre_rv: Option<&str>,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let key = key_of(rt, ns, name);
        let Some(cur) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(&rt.qualified(), name));
        };
        if pre_uid.is_some_and(|u| u != meta_str(&cur, "uid")) {
            return Err(ApiError::conflict(&rt.qualified(), name));
        }
        if pre_rv.is_some_and(|r| r != meta_str(&cur, "resourceVersion")) {
            return Err(ApiError::conflict(&rt.qualified(), name));
        }
        let mut obj = cur.clone();
        let mut finalizers: Vec<Value> = obj["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let add = match policy {
            Some("Orphan") => Some("orphan"),
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Background") | None => None,
            Some(other) => {
                return Err(ApiError::invalid(
                    "DeleteOptions",
                    "",
                    "",
                    vec![(
                        "propagationPolicy".into(),
                        format!("Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""),
                    )],
                ))
            }
        };
        let already = !obj["metadata"]["deletionTimestamp"].is_null();
        if let Some(f) = add {
            if !already && !finalizers.iter().any(|x| x == f) {
                finalizers.push(json!(f));
            }
        }
        if dry_run {
            return Ok(Store::view(rt, &obj));
        }
        let is_ns = rt.kind == "Namespace" && rt.group.is_empty();
        if finalizers.is_empty() && !is_ns {
            return Ok(self.remove(&key).unwrap_or(obj));
        }
        if already
            && obj["metadata"]["finalizers"].as_array().map(Vec::len) == Some(finalizers.len())
        {
            return Ok(obj);
        }
        obj["metadata"]["finalizers"] = json!(finalizers);
        if obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(Vec::is_empty)
        {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("finalizers");
            }
        }
        if !already {
            obj["metadata"]["deletionTimestamp"] = json!(util::now_rfc3339());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        if is_ns {
            obj["status"]["phase"] = json!("Terminating");
        }
        Ok(self.put(key, obj, "MODIFIED"))
    }

    /// Matching objects of a resource, sorted by namespace then name.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, _)| k.0 == rt.group && k.1 == rt.plural)
            .filter(|(k, _)| ns.is_none_or(|n| k.2 == n))
            .filter(|(_, o)| labels.matches(&o["metadata"]["labels"]) && fields.matches(o))
            .map(|(_, o)| Store::view(rt, o))
            .collect()
    }

    /// One page of a list, borrowed in key order (namespace, name): the matching objects
    /// after `after` (the last key of the previous page), at most `limit`, and how many
    /// more match. Walks only `rt`'s (and `ns`'s) key range and clones nothing.
    pub fn list_page<'a>(
        &'a self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        after: Option<(&str, &str)>,
        limit: Option<usize>,
    ) -> (Vec<&'a Value>, usize) {
        use std::ops::Bound;
        let at = |n: &str, name: &str| {
            (
                rt.group.clone(),
                rt.plural.clone(),
                n.to_string(),
                name.to_string(),
            )
        };
        let start = match after {
            Some((n, name)) => Bound::Excluded(at(n, name)),
            None => Bound::Included(at(ns.unwrap_or(""), "")),
        };
        let mut matching = self
            .objects
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| k.0 == rt.group && k.1 == rt.plural && ns.is_none_or(|n| k.2 == n))
            .map(|(_, o)| o)
            .filter(|o| labels.matches(&o["metadata"]["labels"]) && fields.matches(o));
        let page: Vec<&Value> = match limit {
            Some(l) => matching.by_ref().take(l).collect(),
            None => matching.by_ref().collect(),
        };
        (page, matching.count())
    }

    /// Objects whose ownerReferences name `uid`.
    pub fn dependents(&self, uid: &str) -> Vec<ObjKey> {
        self.objects
            .iter()
            .filter(|(_, o)| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["uid"] == uid))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn uid_exists(&self, uid: &str) -> bool {
        self.objects.values().any(|o| o["metadata"]["uid"] == uid)
    }

    /// All stored objects in key order (for `/_sim/objects`).
    pub fn snapshot(&self) -> Vec<Value> {
        self.objects.values().cloned().collect()
    }

    pub fn resource_type_of(&self, key: &ObjKey) -> Option<ResourceType> {
        self.registry.by_group_plural(&key.0, &key.1).cloned()
    }
}

/// Objects a test can look at directly, grouped for convenience.
pub fn by_kind(objects: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for o in objects {
        m.entry(o["kind"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(o.clone());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &mut Store, name: &str) {
        let rt = s.registry.find("", "v1", "namespaces").unwrap().clone();
        s.create(
            &rt,
            "",
            json!({"metadata": {"name": name}}),
            &WriteOpts::default(),
        )
        .unwrap();
    }

    #[test]
    fn create_conflicts_and_stale_updates() {
        let mut s = Store::default();
        ns(&mut s, "default");
        let rt = s.registry.find("", "v1", "configmaps").unwrap().clone();
        let o = WriteOpts::default();
        let a = s
            .create(
                &rt,
                "default",
                json!({"metadata": {"name": "a"}, "data": {"k": "v"}}),
                &o,
            )
            .unwrap();
        assert_eq!(a["apiVersion"], "v1");
        assert!(a["metadata"]["uid"].is_string());
        let e = s
            .create(&rt, "default", json!({"metadata": {"name": "a"}}), &o)
            .unwrap_err();
        assert_eq!((e.code, e.reason), (409, "AlreadyExists"));
        let e = s
            .create(&rt, "nope", json!({"metadata": {"name": "a"}}), &o)
            .unwrap_err();
        assert_eq!((e.code, e.reason), (404, "NotFound"));
        let mut stale = a.clone();
        stale["metadata"]["resourceVersion"] = json!("1");
        let e = s.update(&rt, "default", "a", stale, &o).unwrap_err();
        assert_eq!((e.code, e.reason), (409, "Conflict"));
        let mut fresh = a.clone();
        fresh["data"]["k"] = json!("w");
        let b = s.update(&rt, "default", "a", fresh, &o).unwrap();
        assert!(
            b["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > a["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
        );
    }

    #[test]
    fn finalizers_hold_deletion() {
        let mut s = Store::default();
        ns(&mut s, "default");
        let rt = s.registry.find("", "v1", "configmaps").unwrap().clone();
        let o = WriteOpts::default();
        s.create(
            &rt,
            "default",
            json!({"metadata": {"name": "a", "finalizers": ["x/y"]}}),
            &o,
        )
        .unwrap();
        let d = s
            .delete(&rt, "default", "a", None, None, None, false)
            .unwrap();
        assert!(d["metadata"]["deletionTimestamp"].is_string());
        let key = key_of(&rt, "default", "a");
        let mut cur = s.get(&key).unwrap().clone();
        cur["metadata"]["finalizers"] = json!([]);
        s.update(&rt, "default", "a", cur, &o).unwrap();
        assert!(s.get(&key).is_none());
        let ev = s.events_since(0).unwrap();
        assert_eq!(ev.last().unwrap().etype, "DELETED");
    }
}
