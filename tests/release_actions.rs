//! Release mutations end to end against the simulator: rollback with pruning, --atomic
//! install and upgrade under API faults and timeouts, --take-ownership, immutable fields
//! and --force, upgrade --install and the values modes, uninstall keeping or deleting
//! claim PVCs, --max-history, server-side dry runs.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::cluster::{lock, quiet, values, Env};
use common::write_tree;
use kube_sim::{Config, FaultRule};
use serde_json::json;
use stackpkg::action::install::install;
use stackpkg::action::revision::DryRun;
use stackpkg::action::rollback::{rollback, RollbackRequest};
use stackpkg::action::uninstall::{uninstall, UninstallRequest};
use stackpkg::action::upgrade::{upgrade, ValuesMode};
use stackpkg::release::{Driver, ReleaseError, Status};
use stackpkg::Error;

const CHART_YAML: &str = "apiVersion: v2\nname: shop\nversion: 0.1.0\n";
const VALUES: &str =
    "extra: true\nreplicas: 2\nstorage: 1Gi\njobImage: tool:1\nunready: false\ncolor: blue\n";

const CHART: &[(&str, &str)] = &[
    ("Chart.yaml", CHART_YAML),
    ("values.yaml", VALUES),
    (
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-config\ndata:\n  replicas: \"{{ values.replicas }}\"\n  color: \"{{ values.color }}\"\n",
    ),
    (
        "templates/extra.yaml",
        "{% if values.extra %}apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ release.name }}-extra\nspec:\n  ports:\n    - port: 80\n{% endif %}\n",
    ),
    (
        "templates/job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ release.name }}-job\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: t\n          image: {{ values.jobImage }}\n",
    ),
    (
        "templates/sts.yaml",
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
        resources: {requests: {storage: {{ values.storage }}}}
"#,
    ),
];

// `Env` is common::cluster's; this file's chart and requests.
impl Env {
    async fn start() -> Env {
        Env::with_chart(Config::default(), CHART).await
    }

    fn rollback_req(&self, name: &str, revision: Option<u64>) -> RollbackRequest {
        RollbackRequest {
            name: name.into(),
            namespace: "apps".into(),
            revision,
            force: false,
            settings: self.settings.clone(),
        }
    }

    async fn statuses(&self, name: &str) -> Vec<(u64, Status)> {
        self.driver
            .history("apps", name)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.revision, r.status))
            .collect()
    }
}

/// Collects progress lines.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl Lines {
    fn push(&self, l: &str) {
        self.0.lock().unwrap().push(l.to_string());
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_reapplies_a_revision_and_prunes() {
    let env = Env::start().await;
    env.install_ok("r", &[]).await;
    let up = env.upgrade_req("r", &["extra=false", "replicas=3"]);
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert!(env.find("Service", "r-extra").is_none(), "upgrade pruned");

    // A revision that does not exist, and a dry run, change nothing.
    let err = rollback(
        &env.cluster,
        &env.driver,
        &env.rollback_req("r", Some(7)),
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "release r: no revision 7 in namespace apps (stored revisions: 1, 2)"
    );
    let mut dry = env.rollback_req("r", None);
    dry.settings.dry_run = DryRun::Client;
    let d = rollback(&env.cluster, &env.driver, &dry, &quiet)
        .await
        .unwrap();
    assert_eq!(
        (d.revision, d.description.as_str()),
        (3, "Dry run complete")
    );
    assert!(env.find("Service", "r-extra").is_none());
    assert_eq!(env.statuses("r").await.len(), 2);

    // Default: the previous revision, as a new one.
    let rel = rollback(
        &env.cluster,
        &env.driver,
        &env.rollback_req("r", None),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!((rel.revision, rel.status), (3, Status::Deployed));
    assert_eq!(rel.description, "Rollback to 1");
    assert!(env.find("Service", "r-extra").is_some(), "restored");
    assert_eq!(
        env.find("ConfigMap", "r-config").unwrap()["data"]["replicas"],
        "2"
    );
    assert_eq!(
        env.statuses("r").await,
        [
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Deployed)
        ]
    );
    let rec = env.driver.get("apps", "r", 3).await.unwrap();
    let first = env.driver.get("apps", "r", 1).await.unwrap();
    assert_eq!(rec.values, first.values);
    assert_eq!(rec.manifest, first.manifest);

    // To revision 2 explicitly: what revision 3 has and 2 does not is pruned.
    let rel = rollback(
        &env.cluster,
        &env.driver,
        &env.rollback_req("r", Some(2)),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(
        (rel.revision, rel.description.as_str()),
        (4, "Rollback to 2")
    );
    assert!(
        env.find("Service", "r-extra").is_none(),
        "pruned by rollback"
    );
    assert_eq!(
        env.find("ConfigMap", "r-config").unwrap()["data"]["replicas"],
        "3"
    );

    // A release with a single revision has nothing to go back to.
    env.install_ok("one", &[]).await;
    let err = rollback(
        &env.cluster,
        &env.driver,
        &env.rollback_req("one", None),
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "release one: revision 1 is the first; there is no earlier revision to roll back to"
    );
    let err = rollback(
        &env.cluster,
        &env.driver,
        &env.rollback_req("nope", None),
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "release nope not found in namespace apps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_install_undoes_a_failure() {
    let env = Env::start().await;
    // Services are refused: the ConfigMap before them is created, then the install fails.
    env.sim
        .set_faults(vec![FaultRule {
            verb: Some("patch".into()),
            resource: Some("services".into()),
            status: Some(403),
            ..Default::default()
        }])
        .unwrap();
    let mut req = env.install_req("at", &[]);
    req.atomic = true;
    let err = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("release at: install failed and was uninstalled (--atomic): Service apps/at-extra: the API server refused it (403"),
        "{msg}"
    );
    assert!(
        env.find("ConfigMap", "at-config").is_none(),
        "created, then deleted"
    );
    assert!(env.driver.history("apps", "at").await.unwrap().is_empty());
    assert!(env.find("Lease", "stackpkg.lock.at").is_none());

    // Without --atomic the failed revision and its objects stay.
    let err = install(
        &env.cluster,
        &env.driver,
        &env.install_req("na", &[]),
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().starts_with("Service apps/na-extra"),
        "{err}"
    );
    assert!(env.find("ConfigMap", "na-config").is_some());
    assert_eq!(env.statuses("na").await, [(1, Status::Failed)]);

    // --atomic implies --wait: a rollout that never becomes ready is undone too.
    env.sim.set_faults(vec![]).unwrap();
    let mut req = env.install_req("slow", &["unready=true"]);
    req.atomic = true;
    req.settings.timeout = Duration::from_millis(700);
    let err = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not ready after"), "{err}");
    assert!(env.find("StatefulSet", "slow-db").is_none());
    assert!(env.driver.history("apps", "slow").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_upgrade_rolls_back_to_the_last_good_revision() {
    let env = Env::start().await;
    env.install_ok("au", &[]).await;
    // Jobs are refused: the upgrade fails, and so does the rollback's own apply.
    env.sim
        .set_faults(vec![FaultRule {
            verb: Some("patch".into()),
            resource: Some("jobs".into()),
            status: Some(403),
            ..Default::default()
        }])
        .unwrap();
    let mut up = env.upgrade_req("au", &["color=red", "extra=false"]);
    up.atomic = true;
    let err = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("release au: upgrade failed: Job.batch apps/au-job"),
        "{msg}"
    );
    assert!(
        msg.contains("rolling back to revision 1 (--atomic) failed too"),
        "{msg}"
    );

    // Only the upgrade's first ConfigMap write fails: the rollback restores revision 1.
    env.sim
        .set_faults(vec![FaultRule {
            verb: Some("patch".into()),
            resource: Some("configmaps".into()),
            status: Some(403),
            nth: Some(1),
            ..Default::default()
        }])
        .unwrap();
    let err = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("release au: upgrade failed and was rolled back to revision 1 as revision 5 (--atomic): ConfigMap apps/au-config: the API server refused it (403"),
        "{msg}"
    );
    assert_eq!(
        env.find("ConfigMap", "au-config").unwrap()["data"]["color"],
        "blue"
    );
    assert!(env.find("Service", "au-extra").is_some(), "restored");
    let h = env.driver.history("apps", "au").await.unwrap();
    let last = h.last().unwrap();
    assert_eq!((last.revision, last.status), (5, Status::Deployed));
    assert_eq!(last.description, "Rollback to 1");
    assert!(
        h[..4].iter().all(|r| r.status == Status::Superseded),
        "{h:?}"
    );
    assert!(h[3]
        .description
        .starts_with("Upgrade failed: ConfigMap apps/au-config"));
    assert!(h[2]
        .description
        .starts_with("Rollback to 1 failed: Job.batch apps/au-job"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_refusals_leave_nothing_and_take_ownership_adopts() {
    let env = Env::start().await;
    env.install_ok("one", &[]).await;
    // A chart whose ServiceAccount (applied first) is new and whose ConfigMap is one's.
    let other = env.dir.path().join("other");
    write_tree(
        &other,
        &[
            ("Chart.yaml", CHART_YAML),
            (
                "templates/all.yaml",
                "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: two-sa\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one-config\ndata: {owner: two}\n",
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
    assert!(env.find("ServiceAccount", "two-sa").is_none(), "undone");
    assert!(env.driver.history("apps", "two").await.unwrap().is_empty());
    assert_eq!(
        env.find("ConfigMap", "one-config").unwrap()["metadata"]["annotations"]
            ["meta.stackpkg.io/release-name"],
        "one",
        "untouched"
    );

    // --take-ownership adopts it.
    req.take_ownership = true;
    let rel = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap();
    assert_eq!(rel.status, Status::Deployed);
    let cm = env.find("ConfigMap", "one-config").unwrap();
    assert_eq!(
        cm["metadata"]["annotations"]["meta.stackpkg.io/release-name"],
        "two"
    );
    assert_eq!(cm["data"]["owner"], "two");

    // An object nobody manages: refused by an upgrade that adds it, adopted with the flag.
    env.cluster
        .apply(
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "handmade", "namespace": "apps"}}),
            &Default::default(),
        )
        .await
        .unwrap();
    std::fs::write(
        other.join("templates/hand.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: handmade\ndata: {a: b}\n",
    )
    .unwrap();
    let mut up = env.upgrade_req("two", &[]);
    up.chart = stackpkg::chart::load(&other).unwrap();
    let err = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConfigMap apps/handmade exists and is not managed by stackpkg; delete it or rename it in the chart"
    );
    assert_eq!(
        env.statuses("two").await,
        [(1, Status::Deployed)],
        "nothing recorded"
    );
    up.take_ownership = true;
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(env.find("ConfigMap", "handmade").unwrap()["data"]["a"], "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_fields_are_named_and_force_recreates() {
    let env = Env::start().await;
    env.install_ok("im", &[]).await;
    let uid = env.find("StatefulSet", "im-db").unwrap()["metadata"]["uid"].clone();

    let up = env.upgrade_req("im", &["storage=5Gi"]);
    let err = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("StatefulSet.apps apps/im-db: the API server refuses to change spec ("),
        "{msg}"
    );
    assert!(
        msg.contains("updates to statefulset spec for fields other than"),
        "{msg}"
    );
    assert!(msg.ends_with("--force deletes and recreates it"), "{msg}");
    assert!(matches!(
        err,
        Error::Release(ReleaseError::Immutable { .. })
    ));
    assert_eq!(
        env.statuses("im").await,
        [(1, Status::Deployed), (2, Status::Failed)]
    );

    // A Job's template is immutable too; the field is named.
    let up2 = env.upgrade_req("im", &["jobImage=tool:2"]);
    let err = upgrade(&env.cluster, &env.driver, &up2, &quiet)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Job.batch apps/im-job: the API server refuses to change spec.template ("),
        "{err}"
    );

    // --force deletes and recreates the StatefulSet; its claims stay.
    let lines = Lines::default();
    let mut up = env.upgrade_req("im", &["storage=5Gi", "jobImage=tool:2"]);
    up.force = true;
    let rel = upgrade(&env.cluster, &env.driver, &up, &|l: &str| lines.push(l))
        .await
        .unwrap();
    assert_eq!((rel.revision, rel.status), (4, Status::Deployed));
    let sts = env.find("StatefulSet", "im-db").unwrap();
    assert_ne!(sts["metadata"]["uid"], uid, "recreated");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "5Gi"
    );
    let all = lines.all();
    assert!(
        all.contains(
            &"recreating StatefulSet.apps apps/im-db (immutable field changed, --force)"
                .to_string()
        ),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|l| l.starts_with("recreating Job.batch apps/im-job")),
        "{all:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_install_and_values_modes() {
    let env = Env::start().await;
    let mut up = env.upgrade_req("vi", &["color=green"]);
    up.install = true;
    up.create_namespace = true;
    let rel = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(
        (rel.revision, rel.description.as_str()),
        (1, "Install complete")
    );
    let color = || env.find("ConfigMap", "vi-config").unwrap()["data"].clone();

    // Default with values given: only those over the chart defaults.
    let up = env.upgrade_req("vi", &["replicas=3"]);
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(color(), json!({"color": "blue", "replicas": "3"}));
    // --reuse-values: merged over the previous values.
    let mut up = env.upgrade_req("vi", &["color=red"]);
    up.values_mode = ValuesMode::Reuse;
    let rel = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(color(), json!({"color": "red", "replicas": "3"}));
    assert_eq!(rel.values, json!({"color": "red", "replicas": 3}));
    // Default with no values given: the previous ones are kept.
    let up = env.upgrade_req("vi", &[]);
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(color(), json!({"color": "red", "replicas": "3"}));
    // --reset-values: back to the chart defaults.
    let mut up = env.upgrade_req("vi", &[]);
    up.values_mode = ValuesMode::Reset;
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(color(), json!({"color": "blue", "replicas": "2"}));
    // --reset-then-reuse-values: the new chart's defaults under the previous values.
    let mut up = env.upgrade_req("vi", &["color=pink"]);
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    std::fs::write(
        env.dir.path().join("chart/values.yaml"),
        VALUES.replace("replicas: 2", "replicas: 4"),
    )
    .unwrap();
    up.chart = env.chart();
    up.values = values(&[]);
    up.values_mode = ValuesMode::ResetThenReuse;
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(color(), json!({"color": "pink", "replicas": "4"}));
    // --reuse-values ignores the new chart's defaults (Helm's rule).
    std::fs::write(
        env.dir.path().join("chart/values.yaml"),
        VALUES.replace("replicas: 2", "replicas: 5"),
    )
    .unwrap();
    up.chart = env.chart();
    up.values_mode = ValuesMode::Reuse;
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(color(), json!({"color": "pink", "replicas": "4"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_keeps_claims_unless_delete_volumes() {
    let env = Env::start().await;
    for name in ["keep", "drop"] {
        let mut req = env.install_req(name, &[]);
        req.settings.wait = true;
        install(&env.cluster, &env.driver, &req, &quiet)
            .await
            .unwrap();
    }
    let claims = |n: &str| -> Vec<String> {
        env.names("PersistentVolumeClaim")
            .into_iter()
            .filter(|c| c.starts_with(&format!("data-{n}-db-")))
            .collect()
    };
    assert_eq!(claims("keep"), ["data-keep-db-0", "data-keep-db-1"]);

    let lines = Lines::default();
    let req = UninstallRequest::new("keep", "apps", lock());
    uninstall(&env.cluster, &env.driver, &req, &|l: &str| lines.push(l))
        .await
        .unwrap();
    assert_eq!(claims("keep").len(), 2, "kept by default");
    assert!(
        lines.all().contains(
            &"kept PersistentVolumeClaim apps/data-keep-db-0 (made from a volumeClaimTemplate; --delete-volumes deletes it)".to_string()
        ),
        "{:?}",
        lines.all()
    );

    let mut req = UninstallRequest::new("drop", "apps", lock());
    req.delete_volumes = true;
    req.wait = true;
    uninstall(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap();
    // --wait returned only once everything was gone.
    assert!(claims("drop").is_empty());
    assert!(env.find("StatefulSet", "drop-db").is_none());
    assert_eq!(
        claims("keep").len(),
        2,
        "another release's claims untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_history_prunes_the_oldest_records() {
    let env = Env::start().await;
    env.install_ok("mh", &[]).await;
    for i in 0..4 {
        let mut up = env.upgrade_req("mh", &[&format!("color=c{i}")]);
        up.settings.max_history = 3;
        upgrade(&env.cluster, &env.driver, &up, &quiet)
            .await
            .unwrap();
    }
    assert_eq!(
        env.statuses("mh").await,
        [
            (3, Status::Superseded),
            (4, Status::Superseded),
            (5, Status::Deployed)
        ]
    );
    let mut rb = env.rollback_req("mh", None);
    rb.settings.max_history = 2;
    rollback(&env.cluster, &env.driver, &rb, &quiet)
        .await
        .unwrap();
    assert_eq!(
        env.statuses("mh").await,
        [(5, Status::Superseded), (6, Status::Deployed)]
    );
    // 0 keeps everything.
    for _ in 0..3 {
        let mut up = env.upgrade_req("mh", &[]);
        up.settings.max_history = 0;
        upgrade(&env.cluster, &env.driver, &up, &quiet)
            .await
            .unwrap();
    }
    assert_eq!(env.statuses("mh").await.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dry_run_is_checked_by_the_server_and_stores_nothing() {
    let env = Env::start().await;
    // A server dry run cannot create the namespace, so it must exist (as with kubectl).
    env.cluster
        .apply(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
            &Default::default(),
        )
        .await
        .unwrap();
    let before = env.sim.requests().len();
    let mut req = env.install_req("sd", &[]);
    req.settings.dry_run = DryRun::Server;
    let rel = install(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap();
    assert_eq!(rel.description, "Dry run complete (server)");
    let patches: Vec<_> = env.sim.requests()[before..]
        .iter()
        .filter(|r| r.verb == "patch")
        .cloned()
        .collect();
    assert_eq!(patches.len(), 4, "{patches:?}");
    assert!(
        patches.iter().all(|r| r.query.contains("dryRun=All")),
        "{patches:?}"
    );
    assert!(env.find("ConfigMap", "sd-config").is_none());
    assert!(env.find("Lease", "stackpkg.lock.sd").is_none());
    assert!(env.driver.history("apps", "sd").await.unwrap().is_empty());

    // The server rejects what it would reject for real: an immutable change.
    env.install_ok("sd", &[]).await;
    let mut up = env.upgrade_req("sd", &["storage=9Gi"]);
    up.settings.dry_run = DryRun::Server;
    let err = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("StatefulSet.apps apps/sd-db"),
        "{err}"
    );
    up.settings.dry_run = DryRun::Client;
    upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(env.statuses("sd").await, [(1, Status::Deployed)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upgrade_fails_at_once_with_the_lock_message() {
    let env = Env::start().await;
    env.install_ok("cc", &[]).await;
    // The first upgrade is slow (its ConfigMap apply takes 1.5 s) and holds the lock.
    env.sim
        .set_faults(vec![FaultRule {
            verb: Some("patch".into()),
            resource: Some("configmaps".into()),
            latency_ms: Some(1500),
            nth: Some(1),
            ..Default::default()
        }])
        .unwrap();
    let mut a = env.upgrade_req("cc", &["color=a"]);
    a.settings.lock.holder = "first".into();
    let mut b = env.upgrade_req("cc", &["color=b"]);
    b.settings.lock.holder = "second".into();
    let first = upgrade(&env.cluster, &env.driver, &a, &quiet);
    let second = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let start = std::time::Instant::now();
        let r = upgrade(&env.cluster, &env.driver, &b, &quiet).await;
        (r, start.elapsed())
    };
    let (ra, (rb, took)) = tokio::join!(first, second);
    assert_eq!(ra.unwrap().revision, 2);
    let err = rb.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("release cc is being changed by first since "),
        "{msg}"
    );
    assert!(
        took < Duration::from_millis(500),
        "failed at once, not after {took:?}"
    );
    assert_eq!(
        env.statuses("cc").await,
        [(1, Status::Superseded), (2, Status::Deployed)]
    );
}
