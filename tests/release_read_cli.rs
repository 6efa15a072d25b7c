//! The read commands as a user runs them, the binary against the simulator: `list` (filters,
//! statuses, formats), `history -o`, `status -o`, `get …`, `diff upgrade|rollback`, the
//! `configmaps` storage, and garbage input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::cluster::{stackpkg_cmd, start_blocking, text};
use common::write_tree;
use kube_sim::{BlockingSimulator, Config};
use serde_json::Value;

struct Env {
    _sim: BlockingSimulator,
    dir: tempfile::TempDir,
    kc: PathBuf,
}

impl Env {
    fn start() -> Env {
        let (sim, dir, kc) = start_blocking(Config::default());
        chart(&dir.path().join("app"));
        Env { _sim: sim, dir, kc }
    }

    fn chart(&self) -> String {
        self.dir.path().join("app").to_str().unwrap().to_string()
    }

    fn run_env(&self, args: &[&str], storage: Option<&str>) -> Output {
        let mut c = stackpkg_cmd(&self.kc);
        c.args(args);
        if let Some(s) = storage {
            c.env("STACKPKG_STORAGE", s);
        }
        c.output().expect("binary runs")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, None)
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs and requires exit code `code`; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stderr)
    }
}

fn chart(dir: &Path) {
    write_tree(
        dir,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: \"2.0\"\n",
            ),
            (
                "values.yaml",
                "greeting: hello\npassword: s3cret\nextra: false\n",
            ),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\ndata:\n  greeting: {{ values.greeting }}\n  other: same\n",
            ),
            (
                "templates/secret.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ release.name }}-pw\nstringData:\n  password: {{ values.password }}\n",
            ),
            (
                "templates/extra.yaml",
                "{% if values.extra %}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-extra\ndata:\n  a: b\n{% endif %}",
            ),
            (
                "templates/NOTES.txt",
                "Say {{ values.greeting }} to {{ release.name }}.\n",
            ),
        ],
    );
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_filters_statuses_and_formats() {
    let env = Env::start();
    let c = env.chart();
    env.ok(&["install", "web", &c, "-n", "team", "--create-namespace"]);
    env.ok(&["install", "web2", &c, "-n", "team"]);
    env.ok(&["install", "db", &c, "-n", "data", "--create-namespace"]);
    env.ok(&["upgrade", "db", &c, "-n", "data", "--set", "greeting=hey"]);
    env.ok(&["install", "gone", &c, "-n", "team"]);
    env.ok(&["uninstall", "gone", "-n", "team", "--keep-history"]);

    // Default: every status but uninstalled, sorted by namespace then name.
    let all = json(&env.ok(&["list", "-A", "-o", "json"]));
    assert_eq!(names(&all), ["db", "web", "web2"]);
    let db = &all[0];
    let keys: Vec<&String> = db.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "appVersion",
            "chart",
            "description",
            "name",
            "namespace",
            "revision",
            "status",
            "updated"
        ]
    );
    assert_eq!(db["revision"], 2);
    assert_eq!(db["status"], "deployed");
    assert_eq!(db["chart"], "app-1.0.0");
    assert_eq!(db["appVersion"], "2.0");
    assert_eq!(db["description"], "Upgrade complete");
    assert!(db["updated"].as_str().unwrap().ends_with('Z'));

    // -a adds the uninstalled one; --status selects exactly.
    assert_eq!(
        names(&json(&env.ok(&["list", "-A", "-a", "-o", "json"]))),
        ["db", "gone", "web", "web2"]
    );
    assert_eq!(
        names(&json(&env.ok(&[
            "list",
            "-A",
            "--status",
            "uninstalled",
            "-o",
            "json"
        ]))),
        ["gone"]
    );
    assert_eq!(
        names(&json(&env.ok(&[
            "list",
            "-A",
            "--status",
            "failed,uninstalled",
            "--status",
            "deployed",
            "-o",
            "json"
        ]))),
        ["db", "gone", "web", "web2"]
    );
    // Regex filter on the name, unanchored.
    assert_eq!(
        names(&json(
            &env.ok(&["list", "-A", "--filter", "^web", "-o", "json"])
        )),
        ["web", "web2"]
    );
    assert_eq!(
        names(&json(
            &env.ok(&["list", "-A", "--filter", "d", "-o", "json"])
        )),
        ["db"]
    );
    // One namespace only without -A.
    assert_eq!(
        names(&json(&env.ok(&["list", "-n", "team", "-o", "json"]))),
        ["web", "web2"]
    );
    // YAML has the same rows.
    let y: Value = serde_yaml::from_str(&env.ok(&["list", "-n", "data", "-o", "yaml"])).unwrap();
    assert_eq!(y, json(&env.ok(&["list", "-n", "data", "-o", "json"])));
    // The table.
    let t = env.ok(&["list", "-n", "data"]);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 2, "{t}");
    assert!(
        lines[0].starts_with("NAME  NAMESPACE  REVISION  UPDATED"),
        "{t}"
    );
    assert!(
        lines[1].starts_with("db    data       2         ")
            && lines[1].ends_with("deployed  app-1.0.0  2.0"),
        "{t}"
    );

    // Garbage: bad regex and unknown status are usage errors naming the problem.
    let e = env.fails(&["list", "--filter", "(web"], 2);
    assert!(
        e.contains("--filter") && e.contains("invalid regular expression"),
        "{e}"
    );
    let e = env.fails(&["list", "--status", "done"], 2);
    assert!(e.contains("unknown status \"done\""), "{e}");
    let e = env.fails(&["list", "-o", "xml"], 2);
    assert!(e.contains("xml"), "{e}");
}

#[test]
fn history_status_and_get() {
    let env = Env::start();
    let c = env.chart();
    env.ok(&["install", "web", &c, "-n", "team", "--create-namespace"]);
    env.ok(&["upgrade", "web", &c, "-n", "team", "--set", "greeting=hey"]);

    let h = json(&env.ok(&["history", "web", "-n", "team", "-o", "json"]));
    assert_eq!(h.as_array().unwrap().len(), 2);
    assert_eq!(h[0]["revision"], 1);
    assert_eq!(h[0]["status"], "superseded");
    assert_eq!(h[0]["description"], "Install complete");
    assert_eq!(h[1]["status"], "deployed");
    let hy: Value =
        serde_yaml::from_str(&env.ok(&["history", "web", "-n", "team", "-o", "yaml"])).unwrap();
    assert_eq!(hy, h);

    let s = json(&env.ok(&["status", "web", "-n", "team", "-o", "json"]));
    assert_eq!(s["revision"], 2);
    assert_eq!(s["values"]["greeting"], "hey");
    let s1: Value = serde_yaml::from_str(&env.ok(&[
        "status",
        "web",
        "-n",
        "team",
        "--revision",
        "1",
        "-o",
        "yaml",
    ]))
    .unwrap();
    assert_eq!(s1["revision"], 1);
    assert_eq!(s1["status"], "superseded");
    let t = env.ok(&["status", "web", "-n", "team"]);
    assert!(t.contains("STATUS: deployed\nREVISION: 2\n"), "{t}");
    assert!(t.contains("NOTES:\nSay hey to web.\n"), "{t}");

    // get values: user-supplied, computed (--all), per revision, YAML and JSON.
    assert_eq!(
        env.ok(&["get", "values", "web", "-n", "team"]),
        "greeting: hey\n"
    );
    assert_eq!(
        env.ok(&["get", "values", "web", "-n", "team", "--revision", "1"]),
        "{}\n"
    );
    let all = json(&env.ok(&["get", "values", "web", "-n", "team", "--all", "-o", "json"]));
    assert_eq!(
        all,
        serde_json::json!({"greeting": "hey", "password": "s3cret", "extra": false})
    );
    // get manifest / notes.
    let m = env.ok(&["get", "manifest", "web", "-n", "team"]);
    assert!(m.starts_with("---\n# Source: app/templates/"), "{m}");
    assert!(m.contains("---\n# Source: app/templates/cm.yaml\n"), "{m}");
    assert!(m.contains("greeting: hey"), "{m}");
    let m1 = env.ok(&["get", "manifest", "web", "-n", "team", "--revision", "1"]);
    assert!(m1.contains("greeting: hello"), "{m1}");
    assert_eq!(
        env.ok(&["get", "notes", "web", "-n", "team", "--revision", "1"]),
        "Say hello to web.\n"
    );
    // No hooks in these records: nothing printed, success.
    assert_eq!(env.ok(&["get", "hooks", "web", "-n", "team"]), "");
    // get all: sections in text; the whole record with -o.
    let a = env.ok(&["get", "all", "web", "-n", "team"]);
    assert!(
        a.starts_with("NAME: web\nNAMESPACE: team\nSTATUS: deployed\n"),
        "{a}"
    );
    assert!(
        a.contains("\nUSER-SUPPLIED VALUES:\ngreeting: hey\n"),
        "{a}"
    );
    assert!(
        a.contains("\nMANIFEST:\n---\n# Source: app/templates/"),
        "{a}"
    );
    assert!(a.ends_with("  other: same\n"), "{a}");
    let a = env.ok(&["get", "all", "web", "-n", "team", "--all"]);
    assert!(
        a.contains("\nCOMPUTED VALUES:\nextra: false\ngreeting: hey\n"),
        "{a}"
    );
    let rec = json(&env.ok(&["get", "all", "web", "-n", "team", "-o", "json"]));
    assert_eq!(rec, s);

    // Unknown release / revision: exit 1, the message names them.
    for args in [
        &["history", "nope", "-n", "team"][..],
        &["status", "nope", "-n", "team"],
        &["get", "values", "nope", "-n", "team"],
        &["get", "manifest", "nope", "-n", "team"],
    ] {
        let e = env.fails(args, 1);
        assert!(
            e.contains("release nope not found in namespace team"),
            "{args:?}: {e}"
        );
    }
    for args in [
        &["status", "web", "-n", "team", "--revision", "9"][..],
        &["get", "notes", "web", "-n", "team", "--revision", "9"],
        &["get", "all", "web", "-n", "team", "--revision", "9"],
    ] {
        let e = env.fails(args, 1);
        assert!(
            e.contains("release web has no revision 9 in namespace team"),
            "{args:?}: {e}"
        );
    }
    // Bad revision numbers and names are usage errors.
    env.fails(&["get", "values", "web", "--revision", "two"], 2);
    env.fails(&["get", "values", "Web"], 2);
    env.fails(&["get", "colours", "web"], 2);
}

#[test]
fn diff_upgrade_and_rollback() {
    let env = Env::start();
    let c = env.chart();
    env.ok(&["install", "web", &c, "-n", "team", "--create-namespace"]);

    // Same chart and values: no changes, exit 0 even with --detailed-exitcode.
    let out = env.run(&[
        "diff",
        "upgrade",
        "web",
        &c,
        "-n",
        "team",
        "--detailed-exitcode",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains("no changes"),
        "{}",
        text(&out.stderr)
    );

    // Changed, added and (Secret) masked.
    let args = [
        "diff",
        "upgrade",
        "web",
        &c,
        "-n",
        "team",
        "--set",
        "greeting=hey,extra=true,password=other",
    ];
    let d = env.ok(&args);
    assert!(!d.contains('\x1b'), "not a TTY: no colour\n{d}");
    assert!(
        d.contains("ConfigMap team/web-cm (changed)\n--- revision 1\n+++ upgrade\n@@"),
        "{d}"
    );
    assert!(
        d.contains("\n-  greeting: hello\n+  greeting: hey\n"),
        "{d}"
    );
    assert!(d.contains("ConfigMap team/web-extra (added)\n"), "{d}");
    assert!(d.contains("Secret team/web-pw (changed)\n"), "{d}");
    assert!(
        !d.contains("s3cret") && !d.contains("password: other"),
        "{d}"
    );
    assert!(d.contains("-  password: '*** (sha256:"), "{d}");
    // Unchanged lines only as context.
    assert!(d.contains("\n   other: same\n"), "{d}");
    let shown = env.ok(&[&args[..], &["--show-secrets"]].concat());
    assert!(
        shown.contains("-  password: s3cret\n+  password: other\n"),
        "{shown}"
    );
    let coloured = env.ok(&[&args[..], &["--color", "always"]].concat());
    assert!(
        coloured.contains("\x1b[32m+  greeting: hey\x1b[0m\n"),
        "{coloured}"
    );
    let zero = env.ok(&[&args[..], &["--context", "0"]].concat());
    assert!(!zero.contains("   other: same"), "{zero}");
    let out = env.run(&[&args[..], &["--detailed-exitcode"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // Nothing was written.
    assert_eq!(
        json(&env.ok(&["history", "web", "-n", "team", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );

    env.ok(&[
        "upgrade",
        "web",
        &c,
        "-n",
        "team",
        "--set",
        "greeting=hey,extra=true",
    ]);
    // Rollback to revision 1 (the default: the one before the current) removes the extra.
    let d = env.ok(&["diff", "rollback", "web", "-n", "team"]);
    assert!(
        d.contains("ConfigMap team/web-cm (changed)\n--- revision 2\n+++ revision 1\n"),
        "{d}"
    );
    assert!(d.contains("ConfigMap team/web-extra (removed)\n"), "{d}");
    assert!(!d.contains("Secret"), "{d}");
    assert_eq!(d, env.ok(&["diff", "rollback", "web", "1", "-n", "team"]));
    assert_eq!(env.ok(&["diff", "rollback", "web", "2", "-n", "team"]), "");

    // Garbage.
    let e = env.fails(&["diff", "rollback", "web", "7", "-n", "team"], 1);
    assert!(
        e.contains("release web has no revision 7 in namespace team"),
        "{e}"
    );
    let e = env.fails(&["diff", "rollback", "nope", "-n", "team"], 1);
    assert!(
        e.contains("release nope not found in namespace team"),
        "{e}"
    );
    let e = env.fails(&["diff", "upgrade", "nope", &c, "-n", "team"], 1);
    assert!(
        e.contains("release nope not found in namespace team"),
        "{e}"
    );
    let e = env.fails(
        &["diff", "upgrade", "web", "/no/such/chart", "-n", "team"],
        1,
    );
    assert!(e.contains("/no/such/chart"), "{e}");
    let e = env.fails(
        &["diff", "upgrade", "web", &c, "-n", "team", "--set", "a[=1"],
        1,
    );
    assert!(e.contains("a[=1"), "{e}");
    env.fails(&["diff", "rollback", "web", "x"], 2);
}

#[test]
fn configmaps_storage() {
    let env = Env::start();
    let c = env.chart();
    let run = |args: &[&str]| {
        let out = env.run_env(args, Some("configmaps"));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    run(&["install", "web", &c, "-n", "team", "--create-namespace"]);
    run(&["upgrade", "web", &c, "-n", "team", "--set", "greeting=hey"]);
    let objects: Vec<Value> = env._sim.objects();
    let records: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("stackpkg.release.v1.web."))
        })
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    for r in &records {
        assert_eq!(r["kind"], "ConfigMap");
        assert_eq!(r["metadata"]["labels"]["owner"], "stackpkg");
        assert!(r["binaryData"]["release"].is_string());
    }
    let h = json(&run(&["history", "web", "-n", "team", "-o", "json"]));
    assert_eq!(h[1]["status"], "deployed");
    assert_eq!(h[0]["status"], "superseded");
    // The secrets driver does not see them; the flag overrides the environment.
    let out = env.run_env(
        &["list", "-n", "team", "-o", "json", "--storage", "secrets"],
        Some("configmaps"),
    );
    assert_eq!(json(&text(&out.stdout)), serde_json::json!([]));
    assert_eq!(
        names(&json(&run(&["list", "-n", "team", "-o", "json"]))),
        ["web"]
    );
    run(&["uninstall", "web", "-n", "team"]);
    assert!(!env._sim.objects().iter().any(|o| o["metadata"]["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("stackpkg.release"))));
    let out = env.run_env(&["list", "--storage", "tape"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("tape"));
}
