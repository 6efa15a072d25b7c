//! The security review's points that no other test file proves (docs/security.md lists
//! every point with the test that covers it): the template sandbox, credentials in
//! outputs and release records, TLS to the cluster, and where release records live.

mod repo_support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use kube_sim::{BlockingSimulator, Config};
use repo_support::{index_for, package, Env, Reply, StaticServer};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// A loopback listener that counts connection attempts: the templates' "network".
fn listener() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for _ in l.incoming() {
            h.fetch_add(1, Ordering::SeqCst);
        }
    });
    (format!("http://{addr}"), hits)
}

#[test]
fn templates_cannot_read_outside_the_chart_or_reach_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "outside-the-chart-4711";
    write(dir.path(), "secret.txt", secret);
    write(
        dir.path(),
        "chart/Chart.yaml",
        "apiVersion: v2\nname: box\nversion: 1.0.0\n",
    );
    write(dir.path(), "chart/conf/app.properties", "a=1\n");
    let secret_path = dir.path().join("secret.txt").display().to_string();
    let (url, hits) = listener();
    let cm = |body: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  v: {body}\n")
    };
    // Each attempt must fail with an error naming the template, or render without the
    // outside file's content.
    let attempts: Vec<(&str, String, Option<&str>)> = vec![
        (
            "files.get ..",
            cm("{{ files.get('../secret.txt') | tojson }}"),
            Some("no file \"../secret.txt\""),
        ),
        (
            "files.get absolute",
            cm(&format!("{{{{ files.get('{secret_path}') | tojson }}}}")),
            Some("no file"),
        ),
        (
            "files.get URL",
            cm(&format!("{{{{ files.get('{url}/x') | tojson }}}}")),
            Some("no file"),
        ),
        (
            "files.glob",
            cm("{{ files.glob('**') | tojson | tojson }}"),
            None,
        ),
        (
            "files.glob ..",
            cm("{{ files.glob('../*') | tojson | tojson }}"),
            None,
        ),
        (
            "include ..",
            "{% include '../../secret.txt' %}\n".into(),
            Some("not found"),
        ),
        (
            "include absolute",
            format!("{{% include '{secret_path}' %}}\n"),
            Some("not found"),
        ),
        (
            "include URL",
            format!("{{% include '{url}/x' %}}\n"),
            Some("not found"),
        ),
        (
            "import ..",
            "{% import '../../secret.txt' as s %}\n".into(),
            Some("not found"),
        ),
        (
            "tpl include",
            cm("{{ \"{% include '../../secret.txt' %}\" | tpl | tojson }}"),
            Some("not found"),
        ),
        (
            "lookup offline",
            cm("{{ lookup('v1', 'Secret', 'kube-system', 'x') | tojson | tojson }}"),
            None,
        ),
    ];
    for (what, template, want_err) in attempts {
        write(dir.path(), "chart/templates/t.yaml", &template);
        let o = Command::new(env!("CARGO_BIN_EXE_stackpkg"))
            .args(["template", "x", "chart"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{what}: leaked: {out}{err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
        match want_err {
            Some(want) => {
                assert_eq!(o.status.code(), Some(1), "{what}: {out}{err}");
                assert!(
                    err.contains("templates/t.yaml") && err.contains(want),
                    "{what}: {err}"
                );
            }
            None => {
                assert!(o.status.success(), "{what}: {err}");
                // The glob sees the chart's own files only.
                assert!(!out.contains("secret.txt"), "{what}: {out}");
            }
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a template reached the network"
    );
}

#[test]
fn credentials_never_appear_in_output_errors_or_the_config_listing() {
    let env = Env::new();
    let s = StaticServer::start("127.0.0.1:0");
    let pkg = package("a", "1.0.0", &[]);
    s.set(
        "/index.yaml",
        Reply::Bytes(index_for(&[("a", "1.0.0", &pkg)]).into_bytes()),
    );
    s.set("/a-1.0.0.tgz", Reply::Status(500));
    let password = "pw-never-shown-4711";
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("u:{password}"))
    );
    s.state.lock().unwrap().require_auth = Some(expected);
    let added = env.with_stdin(
        &[
            "repo",
            "add",
            "r",
            &s.url(),
            "--username",
            "u",
            "--password-stdin",
        ],
        password,
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    let mut outputs = vec![added];
    for args in [
        &["repo", "list"][..],
        &["repo", "list", "-o", "json"],
        &["repo", "list", "-o", "yaml"],
        &["pull", "r/a", "-d", "out"],
        &["repo", "update"],
        &["search", "repo", "a", "-o", "json"],
    ] {
        outputs.push(env.run(args));
    }
    // A password typed into the URL is not echoed back in errors or listings either.
    let in_url = s.url().replace("http://", &format!("http://u:{password}@"));
    outputs.push(env.run(&["repo", "add", "inurl", &format!("{in_url}/nothing")]));
    s.set("/index.yaml", Reply::Status(503));
    outputs.push(env.run(&["repo", "update"]));
    for o in &outputs {
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert!(!all.contains(password), "password shown: {all}");
        assert!(!all.contains("Authorization"), "{all}");
    }
    // The pull failed on the 500, and said so with the URL.
    assert!(
        text(&outputs[4].stderr).contains("a-1.0.0.tgz"),
        "{}",
        text(&outputs[4].stderr)
    );
}

fn stackpkg(kubeconfig: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackpkg"))
        .args(args)
        .current_dir(cwd)
        .env("KUBECONFIG", kubeconfig)
        .env("STACKPKG_CONFIG_HOME", cwd.join("config"))
        .env("STACKPKG_CACHE_HOME", cwd.join("cache"))
        .env_remove("STACKPKG_STORAGE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Release records are Secrets of type stackpkg.io/release.v1 (no ConfigMap carries one),
/// and neither the repository password nor the cluster token ends up in them.
#[test]
fn records_are_secrets_and_hold_no_credentials() {
    let sim = BlockingSimulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let token = "cluster-token-never-stored-4711";
    let yaml = sim
        .kubeconfig_yaml()
        .replace("token: sim-token", &format!("token: {token}"));
    assert!(
        yaml.contains(token),
        "kubeconfig has no user token to replace: {yaml}"
    );
    std::fs::write(&kc, yaml).unwrap();

    let s = StaticServer::start("127.0.0.1:0");
    let pkg = package(
        "app",
        "1.0.0",
        &[(
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\ndata:\n  a: b\n",
        )],
    );
    s.set(
        "/index.yaml",
        Reply::Bytes(index_for(&[("app", "1.0.0", &pkg)]).into_bytes()),
    );
    s.set("/app-1.0.0.tgz", Reply::Bytes(pkg));
    let password = "repo-password-never-stored-4711";
    s.state.lock().unwrap().require_auth = Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ci:{password}"))
    ));
    let mut add = Command::new(env!("CARGO_BIN_EXE_stackpkg"))
        .args([
            "repo",
            "add",
            "r",
            &s.url(),
            "--username",
            "ci",
            "--password-stdin",
        ])
        .current_dir(dir.path())
        .env("STACKPKG_CONFIG_HOME", dir.path().join("config"))
        .env("STACKPKG_CACHE_HOME", dir.path().join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let added = add.wait_with_output().unwrap();
    assert!(added.status.success(), "{}", text(&added.stderr));

    for args in [
        &["install", "web", "r/app"][..],
        &["upgrade", "web", "r/app", "--set", "x=1"],
        &["status", "web"],
        &["history", "web"],
        &["list", "-o", "json"],
    ] {
        let o = stackpkg(&kc, dir.path(), args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert!(
            !all.contains(password) && !all.contains(token),
            "{args:?}: {all}"
        );
    }

    let objects = sim.objects();
    let records: Vec<_> = objects
        .iter()
        .filter(|o| o["metadata"]["labels"]["owner"] == "stackpkg")
        .collect();
    assert_eq!(records.len(), 2, "one record per revision");
    for r in &records {
        assert_eq!(r["kind"], "Secret");
        assert_eq!(r["type"], "stackpkg.io/release.v1");
        let data = base64::engine::general_purpose::STANDARD
            .decode(r["data"]["release"].as_str().unwrap())
            .unwrap();
        let rel = stackpkg::release::codec::decode(&data, "record").unwrap();
        let json = serde_json::to_string(&rel).unwrap();
        assert!(!json.contains(password) && !json.contains(token), "{json}");
        assert!(!json.contains(&s.url().replace("http://", "")) || !json.contains("ci:"));
    }
    // Every stored object, records or not, is free of both credentials.
    let dump = serde_json::to_string(&objects).unwrap();
    assert!(!dump.contains(password) && !dump.contains(token));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert!(!dump.contains(&b64(password)) && !dump.contains(&b64(token)));
    assert!(
        !objects
            .iter()
            .any(|o| o["kind"] == "ConfigMap" && o["metadata"]["labels"]["owner"] == "stackpkg"),
        "a release record in a ConfigMap"
    );
}

/// A cluster behind TLS is verified against the kubeconfig's CA: without it (or with a
/// wrong one) the command fails on the certificate before anything is sent.
#[test]
fn cluster_tls_is_verified() {
    let sim = BlockingSimulator::start(Config {
        tls: true,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    sim.write_kubeconfig(&good).unwrap();
    let o = stackpkg(&good, dir.path(), &["list"]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    let yaml = std::fs::read_to_string(&good).unwrap();
    let no_ca = regex::Regex::new(r"(?m)^\s*certificate-authority-data: .*\n")
        .unwrap()
        .replace_all(&yaml, "")
        .into_owned();
    assert_ne!(no_ca, yaml, "the kubeconfig carried a CA");
    let bad = dir.path().join("no-ca");
    std::fs::write(&bad, no_ca).unwrap();
    let before = sim.requests().len();
    let o = stackpkg(&bad, dir.path(), &["list"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let err = text(&o.stderr).to_lowercase();
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(
        sim.requests().len(),
        before,
        "a request got through unverified TLS"
    );
}
