//! Patch semantics: JSON merge patch, JSON patch, strategic merge patch and server-side
//! apply with field ownership (`managedFields`).

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The merge key of a list field for strategic merge and server-side apply, by field name
/// (and, for `ports`, by what the items carry). `None`: the list is atomic.
pub fn merge_key(field: &str, items: &[&Value]) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        _ => return None,
    })
}

/// RFC 7386 merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// RFC 6902 JSON patch.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let p: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| format!("invalid JSON patch: {e}"))?;
    json_patch::patch(target, &p).map_err(|e| format!("JSON patch failed: {e}"))
}

/// Strategic merge patch for the list-merge keys the built-in types use.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), String> {
    let Some(pm) = patch.as_object() else {
        return Err("strategic merge patch must be a JSON object".into());
    };
    if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = patch.clone();
        strip_directives(&mut p);
        *target = p;
        return Ok(());
    }
    if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
        *target = Value::Object(Map::new());
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    // $retainKeys keeps only the listed keys before merging.
    if let Some(keep) = pm.get("$retainKeys").and_then(Value::as_array) {
        let keep: BTreeSet<&str> = keep.iter().filter_map(Value::as_str).collect();
        if let Some(t) = target.as_object_mut() {
            t.retain(|k, _| keep.contains(k.as_str()));
        }
    }
    for (k, pv) in pm {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(list), Some(del)) = (target[field].as_array_mut(), pv.as_array()) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let t = target.as_object_mut().expect("object ensured above");
        if pv.is_null() {
            t.remove(k);
            continue;
        }
        match pv {
            Value::Object(_) => {
                let entry = t.entry(k.clone()).or_insert(Value::Null);
                strategic_merge(entry, pv)?;
            }
            Value::Array(items) => {
                let refs: Vec<&Value> = items.iter().collect();
                let key = merge_key(k, &refs);
                let order = pm
                    .get(&format!("$setElementOrder/{k}"))
                    .and_then(Value::as_array);
                match key {
                    Some(key) if items.iter().all(Value::is_object) => {
                        let cur = t.entry(k.clone()).or_insert(json!([]));
                        merge_keyed_list(cur, items, key, order)?;
                    }
                    _ => {
                        let mut v = pv.clone();
                        strip_directives(&mut v);
                        t.insert(k.clone(), v);
                    }
                }
            }
            _ => {
                t.insert(k.clone(), pv.clone());
            }
        }
    }
    // `$setElementOrder` without a matching list in the patch still reorders.
    for (k, order) in pm {
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            if pm.contains_key(field) {
                continue;
            }
            if let (Some(order), Some(items)) = (order.as_array(), target[field].as_array()) {
                let refs: Vec<&Value> = items.iter().collect();
                if let Some(key) = merge_key(field, &refs) {
                    let mut items = items.clone();
                    reorder(&mut items, key, order);
                    target[field] = Value::Array(items);
                }
            }
        }
    }
    Ok(())
}

fn reorder(items: &mut [Value], key: &str, order: &[Value]) {
    let pos = |v: &Value| {
        order
            .iter()
            .position(|o| o.get(key) == v.get(key))
            .unwrap_or(usize::MAX)
    };
    items.sort_by_key(pos);
}

fn merge_keyed_list(
    cur: &mut Value,
    items: &[Value],
    key: &str,
    order: Option<&Vec<Value>>,
) -> Result<(), String> {
    if !cur.is_array() {
        *cur = json!([]);
    }
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        let mut v: Vec<Value> = items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .collect();
        v.iter_mut().for_each(strip_directives);
        *cur = Value::Array(v);
        return Ok(());
    }
    let list = cur.as_array_mut().expect("array ensured above");
    for item in items {
        let Some(kv) = item.get(key) else {
            return Err(format!("map in list is missing the merge key {key:?}"));
        };
        let idx = list.iter().position(|x| x.get(key) == Some(kv));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = idx {
                list.remove(i);
            }
            continue;
        }
        match idx {
            Some(i) => strategic_merge(&mut list[i], item)?,
            None => {
                let mut v = item.clone();
                strip_directives(&mut v);
                list.push(v);
            }
        }
    }
    if let Some(order) = order {
        reorder(list, key, order);
    }
    Ok(())
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Server-side apply.

/// One element of a field path in the `fieldsV1` encoding: `f:name`, `k:{json}`, `v:json`.
pub type FieldPath = Vec<String>;

/// Fields outside ownership tracking (identity and server-owned metadata).
fn untracked(path: &[String]) -> bool {
    matches!(
        path.first().map(String::as_str),
        Some("f:apiVersion") | Some("f:kind")
    ) || (path.first().map(String::as_str) == Some("f:metadata")
        && matches!(
            path.get(1).map(String::as_str),
            Some("f:name")
                | Some("f:namespace")
                | Some("f:uid")
                | Some("f:resourceVersion")
                | Some("f:generation")
                | Some("f:creationTimestamp")
                | Some("f:managedFields")
                | Some("f:deletionTimestamp")
                | Some("f:selfLink")
                | None
        ))
}

/// Leaf field paths set by `v` (maps descend; keyed lists descend per item; other lists
/// and scalars are leaves).
pub fn leaf_paths(v: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), None, &mut out);
    out.retain(|p| !untracked(p));
    out
}

fn walk(v: &Value, path: &mut FieldPath, field: Option<&str>, out: &mut BTreeSet<FieldPath>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                path.push(format!("f:{k}"));
                walk(c, path, Some(k), out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let refs: Vec<&Value> = items.iter().collect();
            match field.and_then(|f| merge_key(f, &refs)) {
                Some(key) if items.iter().all(|i| i.get(key).is_some()) => {
                    for item in items {
                        path.push(item_token(item, key));
                        // The item itself is owned, plus each of its fields.
                        out.insert(path.clone());
                        walk(item, path, None, out);
                        path.pop();
                    }
                }
                _ => {
                    out.insert(path.clone());
                }
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

fn item_token(item: &Value, key: &str) -> String {
    let mut k = Map::new();
    k.insert(key.to_string(), item[key].clone());
    // Service ports are keyed by port and protocol in SSA.
    if key == "port" || key == "containerPort" {
        if let Some(p) = item.get("protocol") {
            k.insert("protocol".into(), p.clone());
        }
    }
    format!("k:{}", Value::Object(k))
}

/// The value at a field path, if present.
pub fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for tok in path {
        if let Some(f) = tok.strip_prefix("f:") {
            cur = cur.get(f)?;
        } else if let Some(k) = tok.strip_prefix("k:") {
            let key: Value = serde_json::from_str(k).ok()?;
            let km = key.as_object()?;
            cur = cur.as_array()?.iter().find(|i| {
                km.iter().all(|(kk, kv)| {
                    i.get(kk) == Some(kv) || (kk == "protocol" && i.get(kk).is_none())
                })
            })?;
        } else {
            return None;
        }
    }
    Some(cur)
}

/// Removes the field at `path` (a missing field is fine).
pub fn remove_at(v: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for tok in parent {
        let next = if let Some(f) = tok.strip_prefix("f:") {
            cur.get_mut(f)
        } else if let Some(k) = tok.strip_prefix("k:") {
            let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
            let km = key.as_object().cloned().unwrap_or_default();
            cur.as_array_mut().and_then(|a| {
                a.iter_mut()
                    .find(|i| km.iter().all(|(kk, kv)| i.get(kk) == Some(kv)))
            })
        } else {
            None
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(k) = last.strip_prefix("k:") {
        let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
        let km = key.as_object().cloned().unwrap_or_default();
        if let Some(a) = cur.as_array_mut() {
            a.retain(|i| !km.iter().all(|(kk, kv)| i.get(kk) == Some(kv)));
        }
    }
}

/// Encodes paths as a `fieldsV1` tree.
pub fn to_fields_v1(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for p in paths {
        let mut cur = &mut root;
        for tok in p {
            cur = cur
                .entry(tok.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("fields tree nodes are objects");
        }
        // A keyed item owned as a whole is marked with ".".
        if p.last().is_some_and(|t| t.starts_with("k:")) {
            cur.insert(".".into(), json!({}));
        }
    }
    Value::Object(root)
}

/// Decodes a `fieldsV1` tree into leaf paths (tolerates foreign encodings it does not know).
pub fn from_fields_v1(v: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    fn go(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        let Some(m) = v.as_object() else { return };
        let children: Vec<_> = m.iter().filter(|(k, _)| k.as_str() != ".").collect();
        if (m.contains_key(".") || children.is_empty()) && !path.is_empty() {
            out.insert(path.clone());
        }
        for (k, c) in children {
            path.push(k.clone());
            go(c, path, out);
            path.pop();
        }
    }
    go(v, &mut Vec::new(), &mut out);
    out
}

/// Merges an applied configuration into the live object (maps merge, keyed lists merge by
/// key, everything else is replaced).
pub fn apply_merge(live: &mut Value, config: &Value, field: Option<&str>) {
    match (live.is_object(), config) {
        (true, Value::Object(cm)) => {
            let lm = live.as_object_mut().expect("checked");
            for (k, cv) in cm {
                if cv.is_null() {
                    lm.remove(k);
                    continue;
                }
                match lm.get_mut(k) {
                    Some(lv) => apply_merge(lv, cv, Some(k)),
                    None => {
                        lm.insert(k.clone(), cv.clone());
                    }
                }
            }
        }
        (_, Value::Array(ci)) if live.is_array() => {
            let refs: Vec<&Value> = ci.iter().collect();
            match field.and_then(|f| merge_key(f, &refs)) {
                Some(key) if ci.iter().all(|i| i.get(key).is_some()) => {
                    let la = live.as_array_mut().expect("checked");
                    for item in ci {
                        match la.iter_mut().find(|x| x.get(key) == item.get(key)) {
                            Some(x) => apply_merge(x, item, None),
                            None => la.push(item.clone()),
                        }
                    }
                }
                _ => *live = config.clone(),
            }
        }
        _ => *live = config.clone(),
    }
}

/// A field owned by another manager that an apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyConflict {
    pub manager: String,
    pub field: String,
}

/// Renders a path as the dotted form conflict messages use: `.spec.replicas`,
/// `.spec.containers[name="web"].image`.
pub fn dotted(path: &[String]) -> String {
    let mut s = String::new();
    for tok in path {
        if let Some(f) = tok.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = tok.strip_prefix("k:") {
            let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
            let parts: Vec<String> = key
                .as_object()
                .map(|m| m.iter().map(|(a, b)| format!("{a}={b}")).collect())
                .unwrap_or_default();
            s.push_str(&format!("[{}]", parts.join(",")));
        }
    }
    s
}

/// Managed-field bookkeeping of one object.
pub struct Managed {
    pub entries: Vec<Value>,
}

impl Managed {
    pub fn of(obj: &Value) -> Self {
        Managed {
            entries: obj["metadata"]["managedFields"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn paths(e: &Value) -> BTreeSet<FieldPath> {
        from_fields_v1(&e["fieldsV1"])
    }

    pub fn owned_by(&self, manager: &str, op: &str) -> BTreeSet<FieldPath> {
        self.entries
            .iter()
            .filter(|e| e["manager"] == manager && e["operation"] == op)
            .flat_map(Self::paths)
            .collect()
    }

    /// Paths owned by anyone but (manager, op).
    pub fn owned_by_others(&self, manager: &str, op: &str) -> Vec<(String, BTreeSet<FieldPath>)> {
        self.entries
            .iter()
            .filter(|e| !(e["manager"] == manager && e["operation"] == op))
            .map(|e| {
                (
                    e["manager"].as_str().unwrap_or_default().to_string(),
                    Self::paths(e),
                )
            })
            .collect()
    }

    /// Removes `paths` from every entry except (manager, op).
    pub fn take_from_others(&mut self, manager: &str, op: &str, paths: &BTreeSet<FieldPath>) {
        for e in self.entries.iter_mut() {
            if e["manager"] == manager && e["operation"] == op {
                continue;
            }
            let mut p = Self::paths(e);
            let before = p.len();
            p.retain(|x| !paths.contains(x));
            if p.len() != before {
                e["fieldsV1"] = to_fields_v1(&p);
            }
        }
        self.entries.retain(|e| {
            e["fieldsV1"].as_object().is_some_and(|m| !m.is_empty()) || e["operation"] == "Apply"
        });
    }

    pub fn set(
        &mut self,
        manager: &str,
        op: &str,
        api_version: &str,
        paths: &BTreeSet<FieldPath>,
        subresource: Option<&str>,
    ) {
        self.entries
            .retain(|e| !(e["manager"] == manager && e["operation"] == op));
        if paths.is_empty() && op != "Apply" {
            return;
        }
        let mut e = json!({
            "manager": manager,
            "operation": op,
            "apiVersion": api_version,
            "time": crate::util::now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(paths),
        });
        if let Some(s) = subresource {
            e["subresource"] = json!(s);
        }
        self.entries.push(e);
    }

    pub fn store(self, obj: &mut Value) {
        if self.entries.is_empty() {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
        } else {
            obj["metadata"]["managedFields"] = Value::Array(self.entries);
        }
    }
}

/// Paths whose values differ between `old` and `new` (added or changed leaves).
pub fn changed_paths(old: &Value, new: &Value) -> BTreeSet<FieldPath> {
    leaf_paths(new)
        .into_iter()
        .filter(|p| value_at(old, p) != value_at(new, p))
        .collect()
}

/// Records a non-apply write by `manager`: it takes the fields it changed.
pub fn record_update(
    old: &Value,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
) {
    let changed: BTreeSet<FieldPath> = changed_paths(old, new)
        .into_iter()
        .filter(|p| {
            let top = p.first().map(String::as_str);
            match subresource {
                Some("status") => top == Some("f:status"),
                _ => top != Some("f:status"),
            }
        })
        .collect();
    let mut m = Managed::of(new);
    if changed.is_empty() && !m.entries.is_empty() {
        m.store(new);
        return;
    }
    m.take_from_others(manager, "Update", &changed);
    let mut mine = m.owned_by(manager, "Update");
    mine.extend(changed);
    // Drop paths that no longer exist.
    mine.retain(|p| value_at(new, p).is_some());
    m.set(manager, "Update", api_version, &mine, subresource);
    m.store(new);
}

/// Server-side apply of `config` onto `live` by `manager`. Returns conflicts when another
/// manager owns a field the config would change and `force` is off.
pub fn server_side_apply(
    live: &mut Value,
    config: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
) -> Result<(), Vec<ApplyConflict>> {
    let mut cfg = config.clone();
    if let Some(m) = cfg["metadata"].as_object_mut() {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    let new_owned = leaf_paths(&cfg);
    let mut managed = Managed::of(live);
    let mut conflicts = Vec::new();
    let mut taken = BTreeSet::new();
    for (other, paths) in managed.owned_by_others(manager, "Apply") {
        for p in paths.intersection(&new_owned) {
            // Owning a keyed list item only says it exists; its fields decide conflicts.
            let item_marker = p.last().is_some_and(|t| t.starts_with("k:"));
            if !item_marker && value_at(live, p) != value_at(&cfg, p) {
                conflicts.push(ApplyConflict {
                    manager: other.clone(),
                    field: dotted(p),
                });
                taken.insert(p.clone());
            }
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| (&a.manager, &a.field).cmp(&(&b.manager, &b.field)));
        return Err(conflicts);
    }
    managed.take_from_others(manager, "Apply", &taken);
    // Fields this manager applied before but no longer does, and nobody else owns, go away.
    let previous = managed.owned_by(manager, "Apply");
    let others: BTreeSet<FieldPath> = managed
        .owned_by_others(manager, "Apply")
        .into_iter()
        .flat_map(|(_, p)| p)
        .collect();
    for p in previous.difference(&new_owned) {
        // Kept while another manager owns the field or something inside it.
        let shared = others.iter().any(|o| o.starts_with(p));
        if !shared {
            remove_at(live, p);
        }
    }
    apply_merge(live, &cfg, None);
    managed.set(manager, "Apply", api_version, &new_owned, None);
    managed.store(live);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let mut t = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}
        ]}});
        let p = json!({"spec": {"containers": [
            {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
            {"name": "b", "$patch": "delete"},
            {"name": "c", "image": "c:1"}
        ]}});
        strategic_merge(&mut t, &p).unwrap();
        let c = t["spec"]["containers"].as_array().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0]["image"], "a:2");
        assert_eq!(c[0]["env"].as_array().unwrap().len(), 2);
        assert_eq!(c[1]["name"], "c");
    }

    #[test]
    fn strategic_merge_directives() {
        let mut t =
            json!({"a": {"x": 1, "y": 2}, "l": [1, 2, 3], "ports": [{"port": 80}, {"port": 81}]});
        let p = json!({
            "a": {"$patch": "replace", "z": 3},
            "$deleteFromPrimitiveList/l": [2],
            "$setElementOrder/ports": [{"port": 81}, {"port": 80}],
            "gone": null
        });
        strategic_merge(&mut t, &p).unwrap();
        assert_eq!(t["a"], json!({"z": 3}));
        assert_eq!(t["l"], json!([1, 3]));
        assert_eq!(t["ports"][0]["port"], 81);
        assert!(strategic_merge(&mut t, &json!([1])).is_err());
        assert!(strategic_merge(&mut t, &json!({"ports": [{"nope": 1}]})).is_err());
    }

    #[test]
    fn json_patch_and_garbage() {
        let mut t = json!({"a": 1});
        json_patch(
            &mut t,
            &json!([{"op": "replace", "path": "/a", "value": 2}]),
        )
        .unwrap();
        assert_eq!(t["a"], 2);
        assert!(json_patch(&mut t, &json!({"op": "x"})).is_err());
        assert!(json_patch(&mut t, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }

    #[test]
    fn fields_v1_round_trip() {
        let v = json!({"metadata": {"name": "x", "labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}], "replicas": 2}});
        let p = leaf_paths(&v);
        assert!(p.contains(&vec!["f:spec".to_string(), "f:replicas".to_string()]));
        assert!(!p
            .iter()
            .any(|x| x.get(1).map(String::as_str) == Some("f:name") && x[0] == "f:metadata"));
        let enc = to_fields_v1(&p);
        assert_eq!(from_fields_v1(&enc), p);
        assert_eq!(
            value_at(
                &v,
                &[
                    "f:spec".into(),
                    "f:containers".into(),
                    r#"k:{"name":"c"}"#.into(),
                    "f:image".into()
                ]
            ),
            Some(&json!("i"))
        );
    }

    #[test]
    fn apply_conflicts_and_force() {
        let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        server_side_apply(
            &mut live,
            &json!({"metadata": {"name": "x"}, "data": {"a": "1", "b": "1"}}),
            "one",
            false,
            "v1",
        )
        .unwrap();
        let err = server_side_apply(
            &mut live,
            &json!({"metadata": {"name": "x"}, "data": {"a": "2"}}),
            "two",
            false,
            "v1",
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![ApplyConflict {
                manager: "one".into(),
                field: ".data.a".into()
            }]
        );
        // Same value: shared, no conflict.
        server_side_apply(
            &mut live,
            &json!({"metadata": {"name": "x"}, "data": {"b": "1"}}),
            "two",
            false,
            "v1",
        )
        .unwrap();
        server_side_apply(
            &mut live,
            &json!({"metadata": {"name": "x"}, "data": {"a": "2", "b": "1"}}),
            "two",
            true,
            "v1",
        )
        .unwrap();
        assert_eq!(live["data"]["a"], "2");
        // "one" drops everything, but two still owns b: kept. Then two drops b: removed.
        server_side_apply(
            &mut live,
            &json!({"metadata": {"name": "x"}}),
            "one",
            false,
            "v1",
        )
        .unwrap();
        assert_eq!(live["data"]["b"], "1");
        server_side_apply(
            &mut live,
            &json!({"metadata": {"name": "x"}, "data": {"a": "2"}}),
            "two",
            false,
            "v1",
        )
        .unwrap();
        assert!(live["data"].get("b").is_none());
        let managers: Vec<&str> = live["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert!(managers.contains(&"two"));
    }

    #[test]
    fn update_takes_ownership() {
        let mut live = json!({"metadata": {"name": "x"}, "spec": {"replicas": 1}});
        server_side_apply(
            &mut live,
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 1}}),
            "helm",
            false,
            "apps/v1",
        )
        .unwrap();
        let old = live.clone();
        live["spec"]["replicas"] = json!(3);
        record_update(&old, &mut live, "kubectl-scale", "apps/v1", None);
        let err = server_side_apply(
            &mut live,
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 1}}),
            "helm",
            false,
            "apps/v1",
        )
        .unwrap_err();
        assert_eq!(err[0].manager, "kubectl-scale");
        assert_eq!(err[0].field, ".spec.replicas");
    }
}
