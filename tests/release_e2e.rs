//! Releases end to end against the in-process API server simulator: install, upgrade with
//! pruning, uninstall keeping claim PVCs, ownership conflicts, API faults, waits, big records.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{lock, quiet, Env};
use common::write_tree;
use kube_sim::{Config, FaultRule};
use serde_json::Value;
use stackpkg::action::install::install;
use stackpkg::action::list::{list, ListRequest};
use stackpkg::action::revision::DryRun;
use stackpkg::action::uninstall::{uninstall, UninstallRequest};
use stackpkg::action::upgrade::upgrade;
use stackpkg::release::{Driver, ReleaseError, Status};
use stackpkg::Error;

const CHART_YAML: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.0\"\n";

const VALUES: &str = "withExtra: true\nreplicas: 2\nunready: false\n";

const CHART: &[(&str, &str)] = &[
    ("Chart.yaml", CHART_YAML),
    ("values.yaml", VALUES),
    (
        "templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-config\ndata:\n  replicas: \"{{ values.replicas }}\"\n",
    ),
    (
        "templates/extra.yaml",
        "{% if values.withExtra %}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-extra\ndata:\n  a: b\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ release.name }}-extra\nspec:\n  ports:\n    - port: 80\n{% endif %}\n",
    ),
    (
        "templates/statefulset.yaml",
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ release.name }}-db
spec:
  replicas: {{ values.replicas }}
  serviceName: {{ release.name }}-db
  selector:
    matchLabels: {app: "{{ release.name }}-db"}
  template:
    metadata:
      labels: {app: "{{ release.name }}-db"}
{% if values.unready %}      annotations: {"sim.stackpkg.io/unready": "true"}
{% endif %}    spec:
      containers:
        - name: db
          image: db:1
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
"#,
    ),
    ("templates/NOTES.txt", "Release {{ release.name }} has {{ values.replicas }} replicas.\n"),
];

// `Env` is common::cluster's; this file's chart.
impl Env {
    async fn start() -> Env {
        Env::with_chart(Config::default(), CHART).await
    }

    fn count(&self, kind: &str) -> usize {
        self.names(kind).len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_upgrade_prune_uninstall() {
    let env = Env::start().await;
    let mut req = env.install_req("web", &[]);
    req.settings.wait = true;
    let rel = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap();
    assert_eq!(rel.status, Status::Deployed);
    assert_eq!(rel.revision, 1);
    assert_eq!(rel.description, "Install complete");
    assert_eq!(rel.notes.as_deref(), Some("Release web has 2 replicas.\n"));
    assert_eq!(rel.resources.len(), 4);

    let cm = env
        .find("ConfigMap", "web-config")
        .expect("configmap applied");
    assert_eq!(cm["data"]["replicas"], "2");
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "stackpkg"
    );
    assert_eq!(
        cm["metadata"]["annotations"]["meta.stackpkg.io/release-name"],
        "web"
    );
    assert_eq!(
        cm["metadata"]["annotations"]["meta.stackpkg.io/release-namespace"],
        "apps"
    );
    let sts = env
        .find("StatefulSet", "web-db")
        .expect("statefulset applied");
    assert_eq!(
        sts["status"]["readyReplicas"], 2,
        "--wait waited for the rollout"
    );
    assert_eq!(env.count("PersistentVolumeClaim"), 2);

    let secret = env
        .find("Secret", "stackpkg.release.v1.web.v1")
        .expect("record stored");
    assert_eq!(secret["type"], "stackpkg.io/release.v1");
    let labels = &secret["metadata"]["labels"];
    assert_eq!(labels["owner"], "stackpkg");
    assert_eq!(labels["name"], "web");
    assert_eq!(labels["status"], "deployed");
    assert_eq!(labels["version"], "1");

    // A second install of the same name is refused.
    let err = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "release web already exists in namespace apps (revision 1, deployed); use `stackpkg upgrade`"
    );

    // Upgrade without the extra objects: they are pruned, revision 1 is superseded.
    let up = env.upgrade_req("web", &["withExtra=false", "replicas=3"]);
    let rel2 = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!((rel2.revision, rel2.status), (2, Status::Deployed));
    assert_eq!(rel2.first_deployed, rel.first_deployed);
    assert!(env.find("ConfigMap", "web-extra").is_none(), "pruned");
    assert!(env.find("Service", "web-extra").is_none(), "pruned");
    assert_eq!(
        env.find("ConfigMap", "web-config").unwrap()["data"]["replicas"],
        "3"
    );
    let h = env.driver.history("apps", "web").await.unwrap();
    assert_eq!(
        h.iter().map(|r| (r.revision, r.status)).collect::<Vec<_>>(),
        [(1, Status::Superseded), (2, Status::Deployed)]
    );
    assert_eq!(
        env.find("Secret", "stackpkg.release.v1.web.v1").unwrap()["metadata"]["labels"]["status"],
        "superseded"
    );

    let listed = list(&env.driver, &ListRequest::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].name.as_str(), listed[0].revision), ("web", 2));

    // Uninstall: objects gone in reverse order, records gone, claim PVCs kept.
    let pvcs_before = env.count("PersistentVolumeClaim");
    let requests_before = env.sim.requests().len();
    assert!(pvcs_before >= 2);
    let u = UninstallRequest {
        keep_history: false,
        ..UninstallRequest::new("web", "apps", lock())
    };
    let gone = uninstall(&env.cluster, &env.driver, &u, &quiet)
        .await
        .unwrap();
    assert_eq!(gone.status, Status::Uninstalled);
    assert!(env.find("ConfigMap", "web-config").is_none());
    assert!(env.find("StatefulSet", "web-db").is_none());
    assert_eq!(
        env.count("PersistentVolumeClaim"),
        pvcs_before,
        "data PVCs kept"
    );
    assert!(env.driver.history("apps", "web").await.unwrap().is_empty());
    let err = uninstall(&env.cluster, &env.driver, &u, &quiet)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "release web not found in namespace apps");

    // The deletes ran in reverse install order: StatefulSet before Service before ConfigMaps.
    let deletes: Vec<String> = env.sim.requests()[requests_before..]
        .iter()
        .filter(|r| {
            r.verb == "delete" && !r.path.contains("/secrets/") && !r.path.contains("/leases/")
        })
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert!(deletes[0].contains("/statefulsets/web-db"), "{deletes:?}");
    assert!(deletes[1].contains("/configmaps/web-config"), "{deletes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_history_then_reinstall() {
    let env = Env::start().await;
    env.install_ok("kh", &[]).await;
    let u = UninstallRequest {
        keep_history: true,
        ..UninstallRequest::new("kh", "apps", lock())
    };
    let r = uninstall(&env.cluster, &env.driver, &u, &quiet)
        .await
        .unwrap();
    assert!(r.deleted.is_some());
    let h = env.driver.history("apps", "kh").await.unwrap();
    assert_eq!(h[0].status, Status::Uninstalled);
    assert!(list(&env.driver, &ListRequest::default())
        .await
        .unwrap()
        .is_empty());
    let all = ListRequest {
        namespace: None,
        all: true,
        ..Default::default()
    };
    assert_eq!(list(&env.driver, &all).await.unwrap().len(), 1);
    let again = env.install_ok("kh", &[]).await;
    assert_eq!(again.revision, 2);
    let h = env.driver.history("apps", "kh").await.unwrap();
    assert_eq!(
        h.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Status::Superseded, Status::Deployed]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_other_releases_are_refused() {
    let env = Env::start().await;
    env.install_ok("one", &[]).await;
    // A second release rendering an object with the same name: a chart whose names do not
    // depend on the release name.
    let other = env.dir.path().join("fixed");
    write_tree(
        &other,
        &[
            ("Chart.yaml", CHART_YAML),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one-config\n",
            ),
        ],
    );
    let mut req = env.install_req("two", &[]);
    req.chart = stackpkg::chart::load(&other).unwrap();
    let err = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConfigMap apps/one-config belongs to release one (namespace apps), not to two"
    );
    assert!(matches!(err, Error::Release(ReleaseError::Owned { .. })));
    // Nothing was recorded or changed for the refused release.
    assert!(env.driver.history("apps", "two").await.unwrap().is_empty());

    // An object nobody manages is refused too.
    std::fs::write(
        other.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: handmade\n",
    )
    .unwrap();
    env.cluster
        .apply(
            &serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "handmade", "namespace": "apps"}}),
            &Default::default(),
        )
        .await
        .unwrap();
    req.chart = stackpkg::chart::load(&other).unwrap();
    let err = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConfigMap apps/handmade exists and is not managed by stackpkg; delete it or rename it in the chart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_are_retried() {
    let env = Env::start().await;
    env.sim
        .set_faults(vec![
            FaultRule {
                verb: Some("patch".into()),
                resource: Some("configmaps".into()),
                status: Some(503),
                nth: Some(1),
                ..Default::default()
            },
            FaultRule {
                verb: Some("patch".into()),
                resource: Some("services".into()),
                drop: Some(true),
                nth: Some(1),
                ..Default::default()
            },
            FaultRule {
                verb: Some("patch".into()),
                resource: Some("statefulsets".into()),
                status: Some(429),
                nth: Some(1),
                ..Default::default()
            },
        ])
        .unwrap();
    let start = Instant::now();
    let rel = env.install_ok("flaky", &[]).await;
    assert_eq!(rel.status, Status::Deployed);
    // The 429 carried Retry-After: 1s, which was honoured.
    assert!(start.elapsed() >= Duration::from_secs(1));
    let patches = |res: &str| {
        env.sim
            .requests()
            .iter()
            .filter(|r| r.verb == "patch" && r.path.contains(res))
            .map(|r| r.status)
            .collect::<Vec<_>>()
    };
    let sts = patches("/statefulsets/");
    assert_eq!(sts.len(), 2, "{sts:?}");
    assert_eq!(sts[0], 429);
    assert!(sts[1] < 300, "{sts:?}");
    assert!(patches("/configmaps/").contains(&503));
    assert!(env.find("Service", "flaky-extra").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_fault_fails_the_revision_at_once() {
    let env = Env::start().await;
    env.sim
        .set_faults(vec![FaultRule {
            verb: Some("patch".into()),
            resource: Some("services".into()),
            status: Some(403),
            ..Default::default()
        }])
        .unwrap();
    let err = install(
        &env.cluster,
        &env.driver,
        &env.install_req("deny", &[]),
        &quiet,
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("Service apps/deny-extra: the API server refused it (403"),
        "{msg}"
    );
    let tries = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.verb == "patch" && r.path.contains("/services/"))
        .count();
    assert_eq!(tries, 1, "4xx is not retried");
    let h = env.driver.history("apps", "deny").await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].status, Status::Failed);
    assert!(h[0]
        .description
        .starts_with("Install failed: Service apps/deny-extra"));

    // A failed release can be upgraded once the fault is gone.
    env.sim.set_faults(vec![]).unwrap();
    let rel = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("deny", &[]),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!((rel.revision, rel.status), (2, Status::Deployed));
    let h = env.driver.history("apps", "deny").await.unwrap();
    assert_eq!(h[0].status, Status::Superseded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_timeout_marks_failed_and_pending_blocks_others() {
    let env = Env::start().await;
    let mut req = env.install_req("slow", &["unready=true"]);
    req.settings.wait = true;
    req.settings.timeout = Duration::from_millis(800);
    let err = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("StatefulSet.apps apps/slow-db: not ready after"),
        "{msg}"
    );
    assert!(msg.contains("0 of 2 replicas ready"), "{msg}");
    let h = env.driver.history("apps", "slow").await.unwrap();
    assert_eq!(h[0].status, Status::Failed);

    // A revision left pending by a command that died (no live lock): the next command
    // marks it failed and proceeds.
    let mut stuck = h[0].clone();
    stuck.revision = 2;
    stuck.status = Status::PendingUpgrade;
    env.driver.put(&stuck).await.unwrap();
    let rel = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("slow", &[]),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!((rel.revision, rel.status), (3, Status::Deployed));
    let h = env.driver.history("apps", "slow").await.unwrap();
    assert_eq!(
        h.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Status::Superseded, Status::Superseded, Status::Deployed]
    );
    assert!(
        h[1].description.starts_with(
            "Interrupted: an earlier command stopped while the revision was pending-upgrade"
        ),
        "{}",
        h[1].description
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let env = Env::start().await;
    let mut req = env.install_req("dry", &[]);
    req.settings.dry_run = DryRun::Client;
    let rel = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap();
    assert_eq!(rel.description, "Dry run complete");
    assert!(rel.manifest.contains("name: dry-config"));
    assert!(env.find("ConfigMap", "dry-config").is_none());
    assert!(env.driver.history("apps", "dry").await.unwrap().is_empty());
    assert!(env
        .sim
        .requests()
        .iter()
        .all(|r| r.verb == "get" || r.verb == "list"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_namespace_without_create_is_an_error() {
    let env = Env::start().await;
    let mut req = env.install_req("nons", &[]);
    req.create_namespace = false;
    let err = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "namespace apps does not exist (add --create-namespace to create it)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_request_budget() {
    let env = Env::start().await;
    let before = env.sim.requests().len();
    let rel = env.install_ok("b", &[]).await;
    let used = env.sim.requests().len() - before;
    let objects = rel.resources.len();
    let log: Vec<String> = env.sim.requests()[before..]
        .iter()
        .map(|r| format!("{} {}?{}", r.verb, r.path, r.query))
        .collect();
    // One apply per object (ownership rides on it) and a fixed overhead: discovery
    // (v1, apps/v1, coordination.k8s.io/v1), namespace, lock (create, delete), history,
    // two record writes.
    assert_eq!(used, objects + 9, "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_first_then_their_objects() {
    let env = Env::start().await;
    let c = env.dir.path().join("crdchart");
    write_tree(
        &c,
        &[
            ("Chart.yaml", CHART_YAML),
            (
                "crds/widgets.yaml",
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets, singular: widget}\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n",
            ),
            (
                "templates/widget.yaml",
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {{ release.name }}-w\nspec:\n  size: 3\n",
            ),
        ],
    );
    let mut req = env.install_req("cr", &[]);
    req.chart = stackpkg::chart::load(&c).unwrap();
    let rel = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap();
    assert_eq!(rel.resources[0].kind, "CustomResourceDefinition");
    assert_eq!(rel.resources[0].namespace, None, "cluster-scoped");
    assert_eq!(rel.resources[1].namespace.as_deref(), Some("apps"));
    let w = env.find("Widget", "cr-w").expect("custom object applied");
    assert_eq!(w["spec"]["size"], 3);

    // A kind the cluster does not serve is named with its template.
    let bad = env.dir.path().join("badkind");
    write_tree(
        &bad,
        &[
            ("Chart.yaml", CHART_YAML),
            (
                "templates/g.yaml",
                "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n",
            ),
        ],
    );
    let mut req = env.install_req("bk", &[]);
    req.chart = stackpkg::chart::load(&bad).unwrap();
    let err = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Gadget.example.com apps/g (from demo/templates/g.yaml): the cluster does not serve kind Gadget in example.com/v1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_of_unknown_release_and_dry_run_upgrade() {
    let env = Env::start().await;
    let err = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("nope", &[]),
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "release nope not found in namespace apps");
    env.install_ok("d", &[]).await;
    let mut up = env.upgrade_req("d", &["withExtra=false"]);
    up.settings.dry_run = DryRun::Client;
    let rel = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(rel.revision, 2);
    assert!(
        env.find("ConfigMap", "d-extra").is_some(),
        "dry run prunes nothing"
    );
    assert_eq!(env.driver.history("apps", "d").await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_conflicts_need_force() {
    use kube::api::{Api, DynamicObject, Patch, PatchParams};
    let env = Env::start().await;
    env.install_ok("fc", &[]).await;
    // Someone else takes over a field with their own field manager.
    let kc = kube::config::Kubeconfig::from_yaml(&env.sim.kubeconfig_yaml()).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let cms: Api<DynamicObject> = Api::namespaced_with(
        client,
        "apps",
        &kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    let theirs = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "fc-config"}, "data": {"replicas": "9"}});
    cms.patch(
        "fc-config",
        &PatchParams::apply("someone-else").force(),
        &Patch::Apply(&theirs),
    )
    .await
    .unwrap();

    let up = env.upgrade_req("fc", &["replicas=3"]);
    let err = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("ConfigMap apps/fc-config: the API server refused it (409"),
        "{msg}"
    );
    assert!(msg.contains("someone-else"), "{msg}");
    let h = env.driver.history("apps", "fc").await.unwrap();
    assert_eq!(
        h.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Status::Deployed, Status::Failed]
    );

    let mut up = up;
    up.settings.force_conflicts = true;
    let rel = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!((rel.revision, rel.status), (3, Status::Deployed));
    assert_eq!(
        env.find("ConfigMap", "fc-config").unwrap()["data"]["replicas"],
        "3"
    );
}

fn lease(holder: &str, renewed: &str, secs: u64) -> Value {
    serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "stackpkg.lock.locked", "namespace": "apps"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": secs,
            "acquireTime": "2026-01-01T00:00:00.000000Z", "renewTime": renewed},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_lock_refuses_expired_lock_is_taken_over() {
    let env = Env::start().await;
    env.install_ok("locked", &[]).await;
    assert!(
        env.find("Lease", "stackpkg.lock.locked").is_none(),
        "released after install"
    );

    // Someone else holds a live lock.
    let now = format!("{}", jiff::Timestamp::now());
    env.cluster
        .create(&lease("ops@box pid 7", &now, 300))
        .await
        .unwrap();
    let err = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("locked", &[]),
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "release locked is being changed by ops@box pid 7 since 2026-01-01T00:00:00.000000Z"
    );
    let err = uninstall(
        &env.cluster,
        &env.driver,
        &UninstallRequest {
            keep_history: false,
            ..UninstallRequest::new("locked", "apps", lock())
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Release(ReleaseError::Locked { .. })));

    // It died mid-upgrade: its lease stopped being renewed and its revision is pending.
    env.cluster
        .delete(&stackpkg::kube::ObjectRef {
            api_version: "coordination.k8s.io/v1".into(),
            kind: "Lease".into(),
            namespace: Some("apps".into()),
            name: "stackpkg.lock.locked".into(),
        })
        .await
        .unwrap();
    env.cluster
        .create(&lease("ops@box pid 7", "2026-01-01T00:00:00.000000Z", 60))
        .await
        .unwrap();
    let mut pending = env.driver.get("apps", "locked", 1).await.unwrap();
    pending.revision = 2;
    pending.status = Status::PendingUpgrade;
    env.driver.put(&pending).await.unwrap();

    let rel = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("locked", &[]),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!((rel.revision, rel.status), (3, Status::Deployed));
    let h = env.driver.history("apps", "locked").await.unwrap();
    assert_eq!(
        h.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Status::Superseded, Status::Superseded, Status::Deployed]
    );
    assert!(
        h[1].description.starts_with(
            "Interrupted: ops@box pid 7 stopped while the revision was pending-upgrade"
        ),
        "{}",
        h[1].description
    );
    assert!(env.find("Lease", "stackpkg.lock.locked").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_upgrades_one_wins() {
    let env = Env::start().await;
    env.install_ok("race", &[]).await;
    // Slow applies so the two commands overlap.
    env.sim
        .set_faults(vec![FaultRule {
            verb: Some("patch".into()),
            resource: Some("configmaps".into()),
            latency_ms: Some(300),
            ..Default::default()
        }])
        .unwrap();
    let mut a = env.upgrade_req("race", &["replicas=3"]);
    a.settings.lock.holder = "a".into();
    let mut b = env.upgrade_req("race", &["replicas=4"]);
    b.settings.lock.holder = "b".into();
    let (ra, rb) = tokio::join!(
        upgrade(&env.cluster, &env.driver, &a, &quiet),
        upgrade(&env.cluster, &env.driver, &b, &quiet)
    );
    let (ok, err) = match (ra, rb) {
        (Ok(r), Err(e)) | (Err(e), Ok(r)) => (r, e),
        (ra, rb) => panic!("expected one winner: {ra:?} / {rb:?}"),
    };
    assert_eq!(ok.revision, 2);
    assert!(
        matches!(err, Error::Release(ReleaseError::Locked { .. })),
        "{err}"
    );
    let h = env.driver.history("apps", "race").await.unwrap();
    assert_eq!(
        h.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Status::Superseded, Status::Deployed]
    );
}
