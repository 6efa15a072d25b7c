//! The new release flags as a user runs them: `install --generate-name`, `rollback`,
//! `--dry-run=server`, `--atomic` exit codes, `uninstall --delete-volumes`, usage errors.

mod common;

use std::path::Path;

use common::cluster::{stackpkg, start_blocking, text};
use common::write_tree;
use kube_sim::Config;

fn chart(dir: &Path) {
    write_tree(
        dir,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: store\nversion: 1.0.0\n"),
            ("values.yaml", "greeting: hello\nreplicas: 1\n"),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\ndata:\n  greeting: {{ values.greeting }}\n",
            ),
            (
                "templates/sts.yaml",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {{ release.name }}-db\nspec:\n  replicas: {{ values.replicas }}\n  serviceName: db\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n        - {name: db, image: db:1}\n  volumeClaimTemplates:\n    - metadata: {name: data}\n      spec:\n        accessModes: [ReadWriteOnce]\n        resources: {requests: {storage: 1Gi}}\n",
            ),
        ],
    );
}

#[test]
fn generate_name_rollback_dry_run_server_delete_volumes() {
    let (sim, dir, kc) = start_blocking(Config::default());
    let c = dir.path().join("store");
    chart(&c);
    let c = c.to_str().unwrap();

    // --generate-name: only CHART; the name is `<chart>-<10 digits>`.
    let out = stackpkg(
        &kc,
        &[
            "install",
            "--generate-name",
            c,
            "-n",
            "s",
            "--create-namespace",
            "--wait",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let name = stdout
        .lines()
        .find_map(|l| l.strip_prefix("NAME: "))
        .unwrap()
        .to_string();
    let digits = name.strip_prefix("store-").expect("chart name first");
    assert!(
        digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );

    // Usage errors exit 2.
    for args in [
        &["install", "--generate-name", "x", c][..],
        &["install", "only-a-name"][..],
        &["install", "Bad_Name", c][..],
        &["rollback", "x", "0"][..],
        &["install", "x", c, "--dry-run=maybe"][..],
    ] {
        let out = stackpkg(&kc, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }

    let out = stackpkg(
        &kc,
        &["upgrade", &name, c, "-n", "s", "--set", "greeting=hey"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // --dry-run=server: checked by the API server, nothing stored, manifest printed.
    let out = stackpkg(&kc, &["rollback", &name, "-n", "s", "--dry-run=server"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("DESCRIPTION: Dry run complete (server)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MANIFEST:\n") && stdout.contains("greeting: hello"),
        "{stdout}"
    );

    let out = stackpkg(&kc, &["rollback", &name, "-n", "s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("REVISION: 3\n"), "{stdout}");
    assert!(stdout.contains("DESCRIPTION: Rollback to 1\n"), "{stdout}");
    let cm = sim
        .objects()
        .into_iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == format!("{name}-cm"))
        .unwrap();
    assert_eq!(cm["data"]["greeting"], "hello");

    let out = stackpkg(&kc, &["rollback", &name, "9", "-n", "s"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "Error: release {name}: no revision 9 in namespace s (stored revisions: 1, 2, 3)\n"
        )
    );

    // --atomic failure: exit 1, nothing left.
    let out = stackpkg(
        &kc,
        &[
            "install",
            "bad",
            c,
            "-n",
            "s",
            "--atomic",
            "--timeout",
            "1",
            "--set",
            "replicas=-1",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "deleted ConfigMap s/bad-cm\nError: release bad: install failed and was uninstalled (--atomic): StatefulSet.apps s/bad-db"
        ),
        "{}",
        text(&out.stderr)
    );
    let out = stackpkg(&kc, &["history", "bad", "-n", "s"]);
    assert_eq!(out.status.code(), Some(1));

    // Uninstall keeps the claim PVC and says so; --delete-volumes removes it.
    let pvcs = || {
        sim.objects()
            .into_iter()
            .filter(|o| o["kind"] == "PersistentVolumeClaim")
            .count()
    };
    assert_eq!(pvcs(), 1);
    let out = stackpkg(&kc, &["uninstall", &name, "-n", "s", "--keep-history"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "kept PersistentVolumeClaim s/data-{name}-db-0 (made from a volumeClaimTemplate; --delete-volumes deletes it)"
        )),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(pvcs(), 1);
    // Reinstalled over the kept history, then removed with its volumes.
    let out = stackpkg(
        &kc,
        &["upgrade", "--install", &name, c, "-n", "s", "--wait"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("REVISION: 4\n"),
        "{}",
        text(&out.stdout)
    );
    let out = stackpkg(
        &kc,
        &[
            "uninstall",
            &name,
            "-n",
            "s",
            "--delete-volumes",
            "--wait",
            "--timeout",
            "20s",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("deleted PersistentVolumeClaim s/data-{name}-db-0")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(pvcs(), 0);
}
