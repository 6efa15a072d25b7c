//! `schemas/release.schema.json` describes the records stackpkg really writes: records made
//! by install, upgrade and uninstall --keep-history validate against it, and records it
//! refuses are refused by the codec too, with an error naming the Secret.

mod common;

use std::io::{Read, Write};
use std::path::Path;

use base64::Engine as _;
use common::cluster::{connect, stackpkg, start_blocking, text};
use common::write_tree;
use kube_sim::Config;
use serde_json::{json, Value};

fn schema() -> jsonschema::Validator {
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/release.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&s)
        .expect("the schema compiles")
}

fn errors(v: &jsonschema::Validator, rec: &Value) -> Vec<String> {
    v.iter_errors(rec)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn decode(secret: &Value) -> Value {
    let b = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["release"].as_str().unwrap())
        .unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&b[..])
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

fn gzip_b64(v: &Value) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(v.to_string().as_bytes()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

fn chart(dir: &Path) {
    write_tree(
        dir,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: \"2.0\"\n",
            ),
            ("values.yaml", "greeting: hello\n"),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\ndata:\n  greeting: {{ values.greeting }}\n",
            ),
            (
                "templates/role.yaml",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {{ release.name }}-reader\nrules: []\n",
            ),
            ("templates/NOTES.txt", "Hi {{ release.name }}\n"),
            // A hook and a lifecycle step, so the records carry `hooks` and `lifecycle` too.
            (
                "templates/hook.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ release.name }}-hello\n  annotations:\n    stackpkg.io/hook: post-install\n    stackpkg.io/hook-weight: \"1\"\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: hello\n          image: busybox:1.36\n",
            ),
            (
                "templates/db.yaml",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {{ release.name }}-db\nspec:\n  replicas: 1\n  serviceName: {{ release.name }}-db\n  selector:\n    matchLabels: {app: {{ release.name }}-db}\n  template:\n    metadata:\n      labels: {app: {{ release.name }}-db}\n    spec:\n      containers:\n        - name: db\n          image: busybox:1.36\n",
            ),
            (
                "lifecycle.yaml",
                "steps:\n  - name: flush\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: \"{{ release.name }}-db\"}\n    exec: {container: db, command: [sync], timeout: 30s}\n",
            ),
        ],
    );
}

#[test]
fn real_records_validate_and_garbage_is_refused() {
    let (sim, dir, kc) = start_blocking(Config::default());
    let c = dir.path().join("app");
    chart(&c);
    let c = c.to_str().unwrap();
    for args in [
        &["install", "web", c, "-n", "team", "--create-namespace"][..],
        &["upgrade", "web", c, "-n", "team", "--set", "greeting=hey"],
        &["install", "gone", c, "-n", "team", "--wait"],
        &["uninstall", "gone", "-n", "team", "--keep-history"],
    ] {
        let out = stackpkg(&kc, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let v = schema();
    let heads: Vec<Value> = sim
        .objects()
        .into_iter()
        .filter(|o| o["type"] == "stackpkg.io/release.v1")
        .collect();
    assert_eq!(heads.len(), 3);
    let mut seen = Vec::new();
    for h in &heads {
        let rec = decode(h);
        assert_eq!(errors(&v, &rec), Vec::<String>::new(), "{rec:#}");
        seen.push(format!(
            "{}.v{} {}",
            rec["name"], rec["revision"], rec["status"]
        ));
        // A cluster-scoped resource has no namespace; a namespaced one has.
        let res = rec["resources"].as_array().unwrap();
        assert!(res
            .iter()
            .any(|r| r["kind"] == "ClusterRole" && r.get("namespace").is_none()));
        assert!(res
            .iter()
            .any(|r| r["kind"] == "ConfigMap" && r["namespace"] == "team"));
    }
    // The hook ran and the step drained the one pod before uninstall: both are recorded.
    let gone = heads
        .iter()
        .map(decode)
        .find(|r| r["name"] == "gone")
        .unwrap();
    assert_eq!(
        gone["hooks"][0]["lastRun"]["status"], "succeeded",
        "{gone:#}"
    );
    assert_eq!(gone["lifecycle"]["steps"][0]["name"], "flush", "{gone:#}");
    assert_eq!(gone["lifecycle"]["runs"][0]["pod"], "gone-db-0", "{gone:#}");
    seen.sort();
    assert_eq!(
        seen,
        [
            "\"gone\".v1 \"uninstalled\"",
            "\"web\".v1 \"superseded\"",
            "\"web\".v2 \"deployed\""
        ]
    );

    // Every key the schema documents has a description.
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/release.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    fn described(v: &Value, path: &str) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                assert!(
                    p["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{path}/{k} has no description"
                );
                described(p, &format!("{path}/{k}"));
                if let Some(items) = p.get("items") {
                    described(items, &format!("{path}/{k}[]"));
                }
            }
        }
    }
    described(&s, "");

    // Garbage records: the schema refuses them and so does the codec, naming the Secret.
    let good = decode(&heads[0]);
    let mut bad_status = good.clone();
    bad_status["status"] = json!("done");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("manifest");
    let mut extra = good.clone();
    extra["surprise"] = json!(true);
    let mut bad_rev = good.clone();
    bad_rev["revision"] = json!("one");
    let cases = [
        (bad_status, "unknown variant `done`"),
        (missing, "missing field `manifest`"),
        (extra, "unknown field `surprise`"),
        (bad_rev, "invalid type: string \"one\""),
    ];
    for (rec, want) in cases {
        assert!(!errors(&v, &rec).is_empty(), "schema accepts {want}");
        let mut rec = rec;
        if rec.get("name").is_some() {
            rec["name"] = json!("bad");
        }
        if rec["revision"].is_u64() {
            rec["revision"] = json!(1);
        }
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "stackpkg.release.v1.bad.v1", "namespace": "team",
                "labels": {"owner": "stackpkg", "name": "bad", "status": "deployed", "version": "1"}},
            "type": "stackpkg.io/release.v1",
            "data": {"release": gzip_b64(&rec)},
        });
        put_secret(&kc, &secret);
        let out = stackpkg(&kc, &["status", "bad", "-n", "team"]);
        assert_eq!(out.status.code(), Some(1), "{want}");
        let e = text(&out.stderr);
        assert!(
            e.starts_with("Error: release record Secret team/stackpkg.release.v1.bad.v1: invalid record JSON: "),
            "{e}"
        );
        assert!(e.contains(want), "{want}: {e}");
    }
}

/// Writes a Secret with stackpkg's own cluster client (server-side apply, so it replaces).
fn put_secret(kubeconfig: &Path, secret: &Value) {
    use stackpkg::kube::ApplyOptions;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = connect(kubeconfig.to_path_buf(), None).await;
        c.apply(secret, &ApplyOptions::default()).await.unwrap();
    });
}
