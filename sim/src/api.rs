//! HTTP entry: introspection under `/_sim`, fault injection, discovery and the resource API.

use crate::discovery;
use crate::exec;
use crate::faults;
use crate::patch;
use crate::podio;
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{key_of, Store, WriteOpts};
use crate::util::{self, ApiError};
use crate::{RequestRecord, Shared, Timing};
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::FromRequestParts;
use axum::http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const MAX_BODY: usize = 32 << 20;

/// Parsed query string (repeated keys kept).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1"))
    }
}

/// What a resource URL names.
struct Target {
    rt: ResourceType,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

enum Route {
    Version,
    Api,
    Apis,
    Group(String),
    ResourceList(String, String),
    OpenApiRoot,
    OpenApiGv(String, String),
    Resource(Target),
    Unknown,
}

fn route(st: &Store, path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["api"] => return Route::Api,
        ["apis"] => return Route::Apis,
        ["apis", g] => return Route::Group(g.to_string()),
        ["openapi", "v3"] => return Route::OpenApiRoot,
        ["openapi", "v3", "api", v] => return Route::OpenApiGv(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => return Route::OpenApiGv(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::Unknown,
    };
    if !(st.registry.has_version(group, version) || group.is_empty() && version == "v1") {
        return Route::Unknown;
    }
    if rest.is_empty() {
        return Route::ResourceList(group.into(), version.into());
    }
    let (ns, plural, name, sub, extra) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if !(tail.is_empty() && (*plural == "status" || *plural == "finalize")) =>
        {
            (
                Some(*ns),
                *plural,
                tail.first().copied(),
                tail.get(1).copied(),
                tail.len() > 2,
            )
        }
        [plural, tail @ ..] => (
            None,
            *plural,
            tail.first().copied(),
            tail.get(1).copied(),
            tail.len() > 2,
        ),
        [] => return Route::Unknown,
    };
    let Some(rt) = st.registry.find(group, version, plural) else {
        return Route::Unknown;
    };
    // Everything after `pods/{name}/proxy` is the proxied path.
    let extra = extra && !(sub == Some("proxy") && rt.kind == "Pod" && rt.group.is_empty());
    if extra || (!rt.namespaced && ns.is_some()) || name == Some("") {
        return Route::Unknown;
    }
    Route::Resource(Target {
        rt: rt.clone(),
        ns: ns.map(String::from),
        name: name.map(String::from),
        sub: sub.map(String::from),
    })
}

fn verb_of(method: &Method, t: &Target, q: &Query) -> &'static str {
    match (method.as_str(), t.name.is_some()) {
        ("GET", false) if q.flag("watch") => "watch",
        ("GET", false) => "list",
        ("GET", true) if t.sub.as_deref() == Some("exec") => "create",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        _ => "unknown",
    }
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .expect("static response parts")
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status())
}

fn record(shared: &Shared, verb: &str, path: &str, query: &str, status: u16) {
    let mut s = shared.sim.lock().expect("sim lock");
    s.requests.push(RequestRecord {
        verb: verb.into(),
        path: path.into(),
        query: query.into(),
        status,
        time: util::now_micro(),
    });
}

/// `None` means: drop the connection without an answer.
pub async fn handle(shared: Arc<Shared>, req: Request<Body>) -> Option<Response<Body>> {
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or_default().to_string();
    if let Some(rest) = path.strip_prefix("/_sim/") {
        return Some(introspect(&shared, req.method().clone(), rest, req).await);
    }
    let q = Query::parse(Some(&raw_query));
    let method = req.method().clone();
    let r = {
        let st = shared.store.lock().expect("store lock");
        route(&st, &path)
    };
    let (verb, resource, name) = match &r {
        Route::Resource(t) => (
            verb_of(&method, t, &q).to_string(),
            match &t.sub {
                Some(s) => format!("{}/{s}", t.rt.plural),
                None => t.rt.plural.clone(),
            },
            t.name.clone().unwrap_or_default(),
        ),
        _ => (method.as_str().to_lowercase(), String::new(), String::new()),
    };
    let outcome = shared
        .sim
        .lock()
        .expect("sim lock")
        .faults
        .decide(&verb, &resource, &name);
    if outcome.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(outcome.latency_ms)).await;
    }
    if outcome.drop {
        record(&shared, &verb, &path, &raw_query, 0);
        return None;
    }
    if let Some(code) = outcome.status {
        record(&shared, &verb, &path, &raw_query, code);
        let e = ApiError::new(
            code,
            faults::reason_for(code),
            format!("injected fault: {code}"),
        )
        .with_details(json!({"retryAfterSeconds": 1}));
        let mut resp = error_response(&e);
        if code == 429 || code == 503 {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        return Some(resp);
    }
    let resp = dispatch(&shared, r, method, &q, req).await;
    record(&shared, &verb, &path, &raw_query, resp.status().as_u16());
    Some(resp)
}

async fn read_body(req: Request<Body>) -> Result<(HeaderMap, Vec<u8>), ApiError> {
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| {
            ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("reading request body: {e}"),
            )
        })?
        .to_bytes();
    Ok((parts.headers, bytes.to_vec()))
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn dispatch(
    shared: &Arc<Shared>,
    r: Route,
    method: Method,
    q: &Query,
    req: Request<Body>,
) -> Response<Body> {
    let accept = header_str(req.headers(), header::ACCEPT).to_string();
    let host = header_str(req.headers(), header::HOST).to_string();
    let get_only = |v: Value| {
        if method == Method::GET {
            json_response(200, &v)
        } else {
            error_response(&ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource: {method}"
            )))
        }
    };
    match r {
        Route::Version => get_only(discovery::version()),
        Route::Api | Route::Apis => {
            let core = matches!(r, Route::Api);
            if method != Method::GET {
                return get_only(Value::Null);
            }
            let st = shared.store.lock().expect("store lock");
            if discovery::wants_aggregated(&accept) {
                let v = discovery::aggregated(&st.registry, core);
                let mut resp = json_response(200, &v);
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(discovery::AGGREGATED_CT),
                );
                return resp;
            }
            if core {
                json_response(200, &discovery::api_versions(&host))
            } else {
                json_response(200, &discovery::group_list(&st.registry))
            }
        }
        Route::Group(g) => {
            let st = shared.store.lock().expect("store lock");
            match discovery::group(&st.registry, &g) {
                Some(v) => get_only(v),
                None => error_response(&ApiError::unknown_path()),
            }
        }
        Route::ResourceList(g, v) => {
            let st = shared.store.lock().expect("store lock");
            get_only(discovery::resource_list(&st.registry, &g, &v))
        }
        Route::OpenApiRoot => {
            let st = shared.store.lock().expect("store lock");
            get_only(discovery::openapi_root(&st.registry))
        }
        Route::OpenApiGv(g, v) => {
            let st = shared.store.lock().expect("store lock");
            match discovery::openapi_gv(&st.registry, &g, &v) {
                Some(doc) => get_only(doc),
                None => error_response(&ApiError::unknown_path()),
            }
        }
        Route::Unknown => error_response(&ApiError::unknown_path()),
        Route::Resource(t) => match resource(shared, t, method, q, req, &accept).await {
            Ok(resp) => resp,
            Err(e) => error_response(&e),
        },
    }
}

fn default_manager(headers: &HeaderMap) -> String {
    let ua = header_str(headers, header::USER_AGENT);
    let m = ua.split('/').next().unwrap_or_default().trim();
    if m.is_empty() {
        "unknown".into()
    } else {
        m.chars().take(128).collect()
    }
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let ct = header_str(headers, header::CONTENT_TYPE);
    if ct.contains("protobuf") {
        return crate::protobuf::decode(body)
            .map_err(|m| ApiError::new(415, "UnsupportedMediaType", m));
    }
    if ct.contains("yaml") {
        serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML body: {e}")))
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON body: {e}")))
    }
}

fn write_opts(q: &Query, headers: &HeaderMap, sub: Option<&str>) -> Result<WriteOpts, ApiError> {
    let dry = q.all("dryRun");
    if let Some(bad) = dry.iter().find(|d| d.as_str() != "All") {
        return Err(ApiError::bad_request(format!(
            "unsupported dryRun value {bad:?}: only \"All\" is supported"
        )));
    }
    Ok(WriteOpts {
        dry_run: !dry.is_empty(),
        manager: Some(
            q.get("fieldManager")
                .map(String::from)
                .unwrap_or_else(|| default_manager(headers)),
        ),
        subresource: sub.map(String::from),
        client: true,
    })
}

/// `application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1` (first choice), as
/// kube-rs `list_metadata` and client-go's metadata client send it.
fn wants_metadata(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        first.split(';').any(|p| {
            matches!(
                p.trim(),
                "as=PartialObjectMetadataList" | "as=PartialObjectMetadata"
            )
        })
    })
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn age(ts: &str) -> String {
    let Some(t) = util::parse_time(ts) else {
        return "<unknown>".into();
    };
    let secs = jiff::Timestamp::now().as_second() - t.as_second();
    match secs {
        s if s < 120 => format!("{}s", s.max(0)),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Server-side printing: a `Table` with Name and Age columns.
fn table(items: &[Value], rv: &str, cont: Option<&str>) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            json!({
                "cells": [o["metadata"]["name"], age(o["metadata"]["creationTimestamp"].as_str().unwrap_or_default())],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]},
            })
        })
        .collect();
    let mut md = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        md["continue"] = json!(c);
    }
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md,
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name of the object", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "Time since creation", "priority": 0},
        ],
        "rows": rows,
    })
}

fn scale_of(rt: &ResourceType, o: &Value) -> Value {
    let sel = o["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let _ = rt;
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"],
            "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"],
            "creationTimestamp": o["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": o["spec"]["replicas"]},
        "status": {"replicas": o["status"]["replicas"].as_i64().unwrap_or(0), "selector": sel},
    })
}

async fn resource(
    shared: &Arc<Shared>,
    t: Target,
    method: Method,
    q: &Query,
    req: Request<Body>,
    accept: &str,
) -> Result<Response<Body>, ApiError> {
    let ns = t.ns.clone().unwrap_or_default();
    let rt = t.rt.clone();
    let sub = t.sub.clone();
    if let Some(s) = sub.as_deref() {
        let ok = match s {
            "status" => rt.status_sub,
            "scale" => rt.scale_sub,
            "exec" | "log" | "eviction" | "proxy" => rt.group.is_empty() && rt.kind == "Pod",
            _ => false,
        };
        if !ok {
            return Err(ApiError::unknown_path());
        }
    }
    if rt.namespaced && t.ns.is_none() && (t.name.is_some() || method == Method::POST) {
        return Err(ApiError::unknown_path());
    }
    match (method.clone(), t.name.clone()) {
        (Method::GET, None) if q.flag("watch") => watch(shared, &rt, t.ns.as_deref(), q),
        (Method::GET, None) => {
            let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?;
            let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?;
            let limit = match q.get("limit") {
                Some(l) => Some(l.parse::<usize>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid limit {l:?}: not a non-negative integer"
                    ))
                })?),
                None => None,
            }
            .filter(|l| *l > 0);
            let after = match q.get("continue").filter(|c| !c.is_empty()) {
                Some(c) => Some(decode_continue(c)?),
                None => None,
            };
            // Built and serialised under the lock from borrowed objects: no copy of the
            // store, and only this page is visited past the continue key.
            let st = shared.store.lock().expect("store lock");
            let (page, remaining) = st.list_page(
                &rt,
                t.ns.as_deref(),
                &labels,
                &fields,
                after.as_ref().map(|(n, name)| (n.as_str(), name.as_str())),
                limit,
            );
            let rv = st.rv.to_string();
            let cont = match page.last() {
                Some(last) if remaining > 0 => Some(encode_continue(
                    last["metadata"]["namespace"].as_str().unwrap_or_default(),
                    last["metadata"]["name"].as_str().unwrap_or_default(),
                    st.rv,
                )),
                _ => None,
            };
            if wants_table(accept) {
                let page: Vec<Value> = page.into_iter().cloned().collect();
                drop(st);
                return Ok(json_response(200, &table(&page, &rv, cont.as_deref())));
            }
            let mut md = json!({"resourceVersion": rv});
            if let Some(c) = &cont {
                md["continue"] = json!(c);
                md["remainingItemCount"] = json!(remaining);
            }
            let meta_only = wants_metadata(accept);
            let api_version = rt.api_version();
            let (kind, list_version) = if meta_only {
                ("PartialObjectMetadataList".to_string(), META_V1.to_string())
            } else {
                (format!("{}List", rt.kind), api_version.clone())
            };
            let body = ListBody {
                kind,
                api_version: list_version,
                metadata: md,
                items: page
                    .into_iter()
                    .map(|obj| Item {
                        obj,
                        api_version: &api_version,
                        meta_only,
                    })
                    .collect(),
            };
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            drop(st);
            Ok(Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(bytes))
                .expect("static response parts"))
        }
        (Method::GET, Some(name)) => {
            if sub.as_deref() == Some("exec") {
                return exec_upgrade(shared, &rt, &ns, &name, q, req).await;
            }
            if sub.as_deref() == Some("proxy") {
                return pod_proxy(shared, &rt, &ns, &name, &req);
            }
            let st = shared.store.lock().expect("store lock");
            let o = st
                .get(&key_of(&rt, &ns, &name))
                .ok_or_else(|| ApiError::not_found(&rt.qualified(), &name))?;
            let o = Store::view(&rt, o);
            drop(st);
            match sub.as_deref() {
                Some("scale") => Ok(json_response(200, &scale_of(&rt, &o))),
                Some("log") => pod_log(shared, &o, &name, q),
                _ if wants_metadata(accept) => Ok(json_response(
                    200,
                    &json!({"kind": "PartialObjectMetadata", "apiVersion": META_V1, "metadata": o["metadata"]}),
                )),
                _ if wants_table(accept) => {
                    let rv = o["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    Ok(json_response(200, &table(&[o], &rv, None)))
                }
                _ => Ok(json_response(200, &o)),
            }
        }
        (Method::POST, None) => {
            let (headers, body) = read_body(req).await?;
            let obj = parse_body(&headers, &body)?;
            let o = write_opts(q, &headers, None)?;
            let mut st = shared.store.lock().expect("store lock");
            let created = st.create(&rt, &ns, obj, &o)?;
            drop(st);
            wake_controllers(shared, &rt, &created);
            Ok(json_response(201, &created))
        }
        (Method::POST, Some(name)) if sub.as_deref() == Some("eviction") => {
            let mut st = shared.store.lock().expect("store lock");
            st.delete(&rt, &ns, &name, None, None, None, false)?;
            drop(st);
            shared.notify.notify_one();
            Ok(json_response(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        (Method::PUT, Some(name)) => {
            let (headers, body) = read_body(req).await?;
            let obj = parse_body(&headers, &body)?;
            let o = write_opts(q, &headers, sub.as_deref())?;
            let mut st = shared.store.lock().expect("store lock");
            let out = if sub.as_deref() == Some("scale") {
                let replicas = obj["spec"]["replicas"].clone();
                let key = key_of(&rt, &ns, &name);
                let cur = st
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| ApiError::not_found(&rt.qualified(), &name))?;
                let mut new = cur.clone();
                new["spec"]["replicas"] = replicas;
                let o = WriteOpts {
                    subresource: None,
                    ..o
                };
                let stored = st.commit(&rt, key, &cur, new, &o)?;
                scale_of(&rt, &stored)
            } else {
                st.update(&rt, &ns, &name, obj, &o)?
            };
            drop(st);
            wake_controllers(shared, &rt, &out);
            Ok(json_response(200, &out))
        }
        (Method::PATCH, Some(name)) => {
            let (headers, body) = read_body(req).await?;
            let (code, out) = {
                let mut st = shared.store.lock().expect("store lock");
                patch_object(&mut st, &rt, &ns, &name, sub.as_deref(), &headers, &body, q)?
            };
            wake_controllers(shared, &rt, &out);
            Ok(json_response(code, &out))
        }
        (Method::DELETE, Some(name)) => {
            let (headers, body) = read_body(req).await?;
            let opts = if body.iter().all(u8::is_ascii_whitespace) {
                json!({})
            } else {
                parse_body(&headers, &body)?
            };
            let policy = q
                .get("propagationPolicy")
                .map(String::from)
                .or_else(|| opts["propagationPolicy"].as_str().map(String::from))
                .or_else(|| match opts["orphanDependents"].as_bool() {
                    Some(true) => Some("Orphan".into()),
                    Some(false) => Some("Background".into()),
                    None => None,
                });
            let dry = !q.all("dryRun").is_empty()
                || opts["dryRun"].as_array().is_some_and(|a| !a.is_empty());
            let mut st = shared.store.lock().expect("store lock");
            let out = st.delete(
                &rt,
                &ns,
                &name,
                policy.as_deref(),
                opts["preconditions"]["uid"].as_str(),
                opts["preconditions"]["resourceVersion"].as_str(),
                dry,
            )?;
            let still_there = st.get(&key_of(&rt, &ns, &name)).is_some();
            drop(st);
            shared.notify.notify_one();
            Ok(json_response(
                if still_there && !dry { 202 } else { 200 },
                &out,
            ))
        }
        (Method::DELETE, None) => {
            let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?;
            let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?;
            let dry = !q.all("dryRun").is_empty();
            let mut st = shared.store.lock().expect("store lock");
            let items = st.list(&rt, t.ns.as_deref(), &labels, &fields);
            let mut deleted = Vec::new();
            for i in items {
                let n = i["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let ins = i["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                deleted.push(st.delete(
                    &rt,
                    &ins,
                    &n,
                    q.get("propagationPolicy"),
                    None,
                    None,
                    dry,
                )?);
            }
            let rv = st.rv.to_string();
            drop(st);
            shared.notify.notify_one();
            Ok(json_response(
                200,
                &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": {"resourceVersion": rv}, "items": deleted}),
            ))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {method}"
        ))),
    }
}

/// The continue token names the last key served, as the real server's does: the next page
/// starts after it, so objects created or deleted between pages shift nothing.
/// Wakes the controllers after a write, unless it cannot concern them: each pass walks the
/// whole store, so thousands of Secret/ConfigMap writes (release records) would otherwise
/// cost a pass each. Owned, finalized or terminating objects still wake the garbage
/// collector, and deletes always wake them.
fn wake_controllers(shared: &Shared, rt: &ResourceType, written: &Value) {
    let inert_kind = rt.group.is_empty() && matches!(rt.plural.as_str(), "secrets" | "configmaps");
    let md = &written["metadata"];
    let gc_relevant = md["ownerReferences"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
        || md["finalizers"].as_array().is_some_and(|a| !a.is_empty())
        || !md["deletionTimestamp"].is_null();
    if !inert_kind || gc_relevant {
        shared.notify.notify_one();
    }
}

fn encode_continue(ns: &str, name: &str, rv: u64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(json!({"ns": ns, "name": name, "rv": rv}).to_string())
}

fn decode_continue(c: &str) -> Result<(String, String), ApiError> {
    use base64::Engine;
    let bad = || ApiError::bad_request(format!("invalid continue token {c:?}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(c)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    match (v["ns"].as_str(), v["name"].as_str()) {
        (Some(ns), Some(name)) => Ok((ns.to_string(), name.to_string())),
        _ => Err(bad()),
    }
}

const META_V1: &str = "meta.k8s.io/v1";

/// A list answer serialised straight from borrowed store objects.
#[derive(serde::Serialize)]
struct ListBody<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<Item<'a>>,
}

/// One list item: the stored object seen through the request's version, or only its
/// metadata as a `PartialObjectMetadata` (what the real server sends for
/// `as=PartialObjectMetadataList`).
struct Item<'a> {
    obj: &'a Value,
    api_version: &'a str,
    meta_only: bool,
}

impl serde::Serialize for Item<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if self.meta_only {
            m.serialize_entry("kind", "PartialObjectMetadata")?;
            m.serialize_entry("apiVersion", META_V1)?;
            m.serialize_entry("metadata", &self.obj["metadata"])?;
        } else if let Some(fields) = self.obj.as_object() {
            m.serialize_entry("apiVersion", self.api_version)?;
            for (k, v) in fields.iter().filter(|(k, _)| *k != "apiVersion") {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

#[allow(clippy::too_many_arguments)]
fn patch_object(
    st: &mut Store,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    q: &Query,
) -> Result<(u16, Value), ApiError> {
    let ct = header_str(headers, header::CONTENT_TYPE)
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    const KNOWN: &[&str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ];
    if !KNOWN.contains(&ct.as_str()) {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: {} (got {ct:?})", KNOWN.join(", ")),
        ));
    }
    let key = key_of(rt, ns, name);
    let cur = st.get(&key).cloned();
    let mut o = write_opts(q, headers, sub)?;
    if sub == Some("scale") {
        let cur = cur.ok_or_else(|| ApiError::not_found(&rt.qualified(), name))?;
        let mut scale = scale_of(rt, &cur);
        let p: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        match ct.as_str() {
            "application/json-patch+json" => {
                patch::json_patch(&mut scale, &p).map_err(ApiError::bad_request)?
            }
            _ => patch::merge_patch(&mut scale, &p),
        }
        let mut new = cur.clone();
        new["spec"]["replicas"] = scale["spec"]["replicas"].clone();
        o.subresource = None;
        let stored = st.commit(rt, key, &cur, new, &o)?;
        return Ok((200, scale_of(rt, &stored)));
    }
    if ct == "application/apply-patch+yaml" || ct == "application/apply-patch+cbor" {
        if ct.ends_with("cbor") {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "CBOR apply patches are not supported",
            ));
        }
        let Some(manager) = q.get("fieldManager").filter(|m| !m.is_empty()) else {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requires fieldManager to be set",
            ));
        };
        let cfg: Value = serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        if !cfg.is_object() {
            return Err(ApiError::bad_request(
                "apply patch must be a YAML or JSON object",
            ));
        }
        if cfg["apiVersion"].as_str().is_none_or(str::is_empty)
            || cfg["kind"].as_str().is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(
                "apiVersion and kind must be set in an apply configuration",
            ));
        }
        let cfg_name = cfg["metadata"]["name"].as_str().unwrap_or_default();
        if !cfg_name.is_empty() && cfg_name != name {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let force = q.flag("force");
        o.manager = None;
        let av = rt.api_version();
        let conflict_err = |c: Vec<patch::ApplyConflict>| {
            let causes: Vec<Value> = c
                .iter()
                .map(|c| json!({"type": "FieldManagerConflict", "message": format!("conflict with {:?}", c.manager), "field": c.field}))
                .collect();
            let list: Vec<String> = c
                .iter()
                .map(|c| format!("- conflict with {:?}: {}", c.manager, c.field))
                .collect();
            ApiError::new(
                409,
                "Conflict",
                format!(
                    "Apply failed with {} conflict{}: {}",
                    c.len(),
                    if c.len() == 1 { "" } else { "s" },
                    list.join("\n")
                ),
            )
            .with_details(
                json!({"name": name, "group": rt.group, "kind": rt.plural, "causes": causes}),
            )
        };
        return match cur {
            Some(cur) => {
                let mut live = cur.clone();
                patch::server_side_apply(&mut live, &cfg, manager, force, &av)
                    .map_err(conflict_err)?;
                Ok((200, st.commit(rt, key, &cur, live, &o)?))
            }
            None => {
                if sub.is_some() {
                    return Err(ApiError::not_found(&rt.qualified(), name));
                }
                let mut live =
                    json!({"apiVersion": av, "kind": rt.kind, "metadata": {"name": name}});
                if rt.namespaced {
                    live["metadata"]["namespace"] = json!(ns);
                }
                patch::server_side_apply(&mut live, &cfg, manager, force, &av)
                    .map_err(conflict_err)?;
                Ok((201, st.create(rt, ns, live, &o)?))
            }
        };
    }
    let cur = cur.ok_or_else(|| ApiError::not_found(&rt.qualified(), name))?;
    let p: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let mut new = cur.clone();
    match ct.as_str() {
        "application/merge-patch+json" => {
            if !p.is_object() {
                return Err(ApiError::bad_request("merge patch must be a JSON object"));
            }
            patch::merge_patch(&mut new, &p)
        }
        "application/strategic-merge-patch+json" => {
            if rt.crd.is_some() {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources",
                ));
            }
            patch::strategic_merge(&mut new, &p).map_err(ApiError::bad_request)?
        }
        _ => patch::json_patch(&mut new, &p).map_err(|m| ApiError::new(422, "Invalid", m))?,
    }
    let want_rv = new["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    if !want_rv.is_empty()
        && new["metadata"]["resourceVersion"] != cur["metadata"]["resourceVersion"]
    {
        return Err(ApiError::conflict(&rt.qualified(), name));
    }
    Ok((200, st.commit(rt, key, &cur, new, &o)?))
}

fn watch_line(etype: &str, obj: &Value) -> bytes::Bytes {
    let mut s = serde_json::to_vec(&json!({"type": etype, "object": obj})).unwrap_or_default();
    s.push(b'\n');
    bytes::Bytes::from(s)
}

fn watch(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    let timeout = match q.get("timeoutSeconds") {
        Some(t) => Some(
            t.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
        ),
        None => None,
    };
    let bookmarks = q.flag("allowWatchBookmarks");
    let send_initial = q.flag("sendInitialEvents");
    let rv_param = q.get("resourceVersion").unwrap_or_default().to_string();
    let bookmark_ms = shared
        .sim
        .lock()
        .expect("sim lock")
        .timing
        .bookmark_ms
        .max(10);
    let (initial, mut rx, mut last_rv, expired) = {
        let st = shared.store.lock().expect("store lock");
        let rx = st.tx.subscribe();
        if rv_param.is_empty() || rv_param == "0" || send_initial {
            let items = st.list(rt, ns, &labels, &fields);
            let lines: Vec<bytes::Bytes> = items.iter().map(|o| watch_line("ADDED", o)).collect();
            (lines, rx, st.rv, false)
        } else {
            let from: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}"))
            })?;
            match st.events_since(from) {
                Some(evs) => {
                    let lines = evs
                        .iter()
                        .filter(|e| event_matches(e, rt, ns, &labels, &fields))
                        .map(|e| watch_line(e.etype, &Store::view(rt, &e.object)))
                        .collect();
                    (lines, rx, st.rv, false)
                }
                None => (Vec::new(), rx, st.rv, true),
            }
        }
    };
    let (tx, body_rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(64);
    let rt = rt.clone();
    let ns = ns.map(String::from);
    let kind = rt.kind.clone();
    let av = rt.api_version();
    tokio::spawn(async move {
        if expired {
            let e = ApiError::new(410, "Expired", "too old resource version");
            let _ = tx.send(Ok(watch_line("ERROR", &e.status()))).await;
            return;
        }
        for l in initial {
            if tx.send(Ok(l)).await.is_err() {
                return;
            }
        }
        if send_initial && bookmarks {
            let bm = json!({"kind": kind, "apiVersion": av, "metadata": {"resourceVersion": last_rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
            if tx.send(Ok(watch_line("BOOKMARK", &bm))).await.is_err() {
                return;
            }
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + Duration::from_secs(t));
        let mut tick = tokio::time::interval(Duration::from_millis(bookmark_ms));
        tick.tick().await;
        loop {
            let until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = until => return,
                _ = tx.closed() => return,
                _ = tick.tick(), if bookmarks => {
                    let bm = json!({"kind": kind, "apiVersion": av, "metadata": {"resourceVersion": last_rv.to_string()}});
                    if tx.send(Ok(watch_line("BOOKMARK", &bm))).await.is_err() { return; }
                }
                ev = rx.recv() => match ev {
                    Ok(e) => {
                        if e.rv <= last_rv { continue; }
                        last_rv = e.rv;
                        if event_matches(&e, &rt, ns.as_deref(), &labels, &fields)
                            && tx.send(Ok(watch_line(e.etype, &Store::view(&rt, &e.object)))).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let e = ApiError::new(410, "Expired", "watch fell behind; resourceVersion too old");
                        let _ = tx.send(Ok(watch_line("ERROR", &e.status()))).await;
                        return;
                    }
                    Err(_) => return,
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(body_rx, |mut r| async move {
        r.recv().await.map(|item| (item, r))
    });
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(stream))
        .expect("static response parts"))
}

fn event_matches(
    e: &crate::store::Event,
    rt: &ResourceType,
    ns: Option<&str>,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> bool {
    e.group == rt.group
        && e.plural == rt.plural
        && ns.is_none_or(|n| e.object["metadata"]["namespace"].as_str() == Some(n))
        && labels.matches(&e.object["metadata"]["labels"])
        && fields.matches(&e.object)
}

async fn exec_upgrade(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    q: &Query,
    req: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    let pod = {
        let st = shared.store.lock().expect("store lock");
        st.get(&key_of(rt, ns, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.qualified(), name))?
    };
    let command = q.all("command");
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let container = match q.get("container") {
        Some(c) if containers.iter().any(|x| x == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )))
        }
        None => containers.first().cloned().unwrap_or_default(),
    };
    if pod["status"]["phase"] != "Running" {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: container not found ({container:?})"
        )));
    }
    let (mut parts, _) = req.into_parts();
    let ws = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| {
            ApiError::bad_request(format!(
                "exec needs a websocket upgrade (v5.channel.k8s.io or v4.channel.k8s.io): {e}"
            ))
        })?;
    let ws = ws.protocols(["v5.channel.k8s.io", "v4.channel.k8s.io"]);
    if ws.selected_protocol().is_none() {
        return Err(ApiError::bad_request(
            "unsupported exec subprotocol: v5.channel.k8s.io or v4.channel.k8s.io required",
        ));
    }
    let shared = shared.clone();
    let ns = ns.to_string();
    let name = name.to_string();
    let resp =
        ws.on_upgrade(move |socket| exec::session(shared, socket, ns, name, container, command));
    let (p, b) = resp.into_parts();
    Ok(Response::from_parts(p, b))
}

fn text_response(code: u16, text: String) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text))
        .expect("static response parts")
}

/// `GET pods/{name}/log?container=&tailLines=`: text from the log rules.
fn pod_log(
    shared: &Arc<Shared>,
    pod: &Value,
    name: &str,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let containers = podio::containers(pod);
    let container = match q.get("container") {
        Some(c) if containers.iter().any(|x| x == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )))
        }
        None if containers.len() > 1 => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: {containers:?}"
            )))
        }
        None => containers.first().cloned().unwrap_or_default(),
    };
    let tail = match q.get("tailLines") {
        None => None,
        Some(t) => Some(t.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid tailLines {t:?}: not a non-negative integer"
            ))
        })?),
    };
    let s = shared.sim.lock().expect("sim lock");
    Ok(text_response(
        200,
        podio::log_text(&s.log_rules, name, &container, tail),
    ))
}

/// `GET pods/{name}[:port]/proxy/{path}`: answered by the proxy rules, recorded.
fn pod_proxy(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    ns: &str,
    seg: &str,
    req: &Request<Body>,
) -> Result<Response<Body>, ApiError> {
    let (name, port) = podio::split_pod_port(seg).map_err(ApiError::bad_request)?;
    let pod = {
        let st = shared.store.lock().expect("store lock");
        st.get(&key_of(rt, ns, &name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.qualified(), &name))?
    };
    let uri_path = req.uri().path();
    let mut path = uri_path
        .split_once(&format!("/pods/{seg}/proxy"))
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    if path.is_empty() {
        path.push('/');
    }
    if let Some(qs) = req.uri().query().filter(|q| !q.is_empty()) {
        path = format!("{path}?{qs}");
    }
    let mut s = shared.sim.lock().expect("sim lock");
    let (status, body) = if pod["status"]["phase"] != "Running" {
        (503, format!("pod {name} is not running\n"))
    } else {
        match podio::proxy_answer(&mut s.proxy_rules, &name, port, &path) {
            Some(r) => (r.status, r.body.unwrap_or_default()),
            None => (
                503,
                format!("kube-sim: no proxy rule for pod {name} {path}\n"),
            ),
        }
    };
    s.proxies.push(podio::ProxyRecord {
        namespace: ns.to_string(),
        pod: name,
        port,
        path,
        status,
        time: util::now_micro(),
    });
    Ok(text_response(status, body))
}

async fn introspect(
    shared: &Arc<Shared>,
    method: Method,
    rest: &str,
    req: Request<Body>,
) -> Response<Body> {
    let bad = |m: String| error_response(&ApiError::bad_request(m));
    match (method.as_str(), rest.trim_end_matches('/')) {
        ("GET", "requests") => {
            let r = shared.sim.lock().expect("sim lock").requests.clone();
            json_response(200, &json!(r))
        }
        ("GET", "execs") => {
            let r = shared.sim.lock().expect("sim lock").execs.clone();
            json_response(200, &json!(r))
        }
        ("GET", "proxies") => {
            let r = shared.sim.lock().expect("sim lock").proxies.clone();
            json_response(200, &json!(r))
        }
        ("GET", "objects") => {
            let r = shared.store.lock().expect("store lock").snapshot();
            json_response(200, &json!(r))
        }
        ("GET", "faults") => {
            let r = shared.sim.lock().expect("sim lock").faults.rules();
            json_response(200, &json!(r))
        }
        ("POST", "reset") => {
            shared.reset();
            json_response(200, &json!({"reset": true}))
        }
        ("POST", what @ ("faults" | "exec-rules" | "logs" | "proxy-rules" | "timing")) => {
            let body = match read_body(req).await {
                Ok((_, b)) => b,
                Err(e) => return error_response(&e),
            };
            let result = match what {
                "faults" => serde_json::from_slice::<Vec<faults::FaultRule>>(&body)
                    .map_err(|e| format!("/_sim/faults: invalid rules: {e}"))
                    .and_then(|r| {
                        let n = r.len();
                        shared
                            .sim
                            .lock()
                            .expect("sim lock")
                            .faults
                            .set(r)
                            .map(|_| n)
                    }),
                "exec-rules" => serde_json::from_slice::<Vec<exec::ExecRule>>(&body)
                    .map_err(|e| format!("/_sim/exec-rules: invalid rules: {e}"))
                    .and_then(|r| {
                        let n = r.len();
                        let c = exec::compile(r)?;
                        shared.sim.lock().expect("sim lock").exec_rules = c;
                        Ok(n)
                    }),
                "logs" => serde_json::from_slice::<Vec<podio::LogRule>>(&body)
                    .map_err(|e| format!("/_sim/logs: invalid rules: {e}"))
                    .and_then(|r| {
                        let n = r.len();
                        let c = podio::compile_logs(r)?;
                        shared.sim.lock().expect("sim lock").log_rules = c;
                        Ok(n)
                    }),
                "proxy-rules" => serde_json::from_slice::<Vec<podio::ProxyRule>>(&body)
                    .map_err(|e| format!("/_sim/proxy-rules: invalid rules: {e}"))
                    .and_then(|r| {
                        let n = r.len();
                        let c = podio::compile_proxy(r)?;
                        shared.sim.lock().expect("sim lock").proxy_rules = c;
                        Ok(n)
                    }),
                _ => serde_json::from_slice::<Timing>(&body)
                    .map_err(|e| format!("/_sim/timing: invalid timing: {e}"))
                    .map(|t| {
                        shared.sim.lock().expect("sim lock").timing = t;
                        shared.notify.notify_one();
                        1
                    }),
            };
            match result {
                Ok(n) => json_response(200, &json!({"rules": n})),
                Err(m) => bad(m),
            }
        }
        _ => {
            let _ = StatusCode::NOT_FOUND;
            error_response(&ApiError::unknown_path())
        }
    }
}
