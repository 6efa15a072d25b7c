//! Chart references (`REPO/CHART`, `.tgz`, URL, folder) through `template`, and signature
//! checks through `pull --verify` and `template --verify`.

mod repo_support;

use repo_support::*;
use stackpkg::repo::serve::{spawn, ServeOptions};

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\ndata:\n  replicas: \"{{ values.replicas }}\"\n";

#[test]
fn template_and_pull_accept_every_reference_kind_with_verification() {
    let env = Env::new();
    let pk = env.path("pk");
    std::fs::create_dir_all(&pk).unwrap();
    for v in ["1.0.0", "1.1.0"] {
        std::fs::write(
            pk.join(format!("web-{v}.tgz")),
            package("web", v, &[("templates/cm.yaml", CM)]),
        )
        .unwrap();
    }
    // Sign 1.0.0 only.
    env.ok(&["keygen", "--out", "k.key"]);
    env.ok(&[
        "sign",
        pk.join("web-1.0.0.tgz").to_str().unwrap(),
        "--key",
        "k.key",
    ]);
    let srv = spawn(&ServeOptions {
        dir: pk.clone(),
        addr: "127.0.0.1:0".into(),
        auth: None,
        allow_overwrite: false,
        max_upload_size: 1 << 20,
        base_url: None,
        tls: None,
    })
    .unwrap();
    env.ok(&["repo", "add", "data", &srv.url()]);

    let out = env.ok(&["template", "demo", "data/web", "--version", "1.0.0"]);
    assert!(out.contains("name: demo-cm"), "{out}");
    let url = format!("{}/web-1.1.0.tgz", srv.url());
    let out = env.ok(&["template", "demo", &url, "--set", "replicas=3"]);
    assert!(out.contains("replicas: \"3\""), "{out}");
    let tgz = pk.join("web-1.1.0.tgz");
    let out = env.ok(&["template", "demo", tgz.to_str().unwrap()]);
    assert!(out.contains("demo-cm"), "{out}");
    env.ok(&["pull", "data/web", "--untar", "-d", "unpacked"]);
    let out = env.ok(&["template", "demo", "unpacked/web"]);
    assert!(out.contains("demo-cm"), "{out}");
    let err = env.fails(&["template", "demo", "nowhere/web"]);
    assert!(err.contains("no repository named \"nowhere\""), "{err}");

    // Verification: signed passes, unsigned and tampered are refused.
    env.ok(&[
        "pull",
        "data/web",
        "--version",
        "1.0.0",
        "--verify",
        "--keyring",
        "k.key.pub",
        "-d",
        "v",
    ]);
    assert!(env.path("v/web-1.0.0.tgz.minisig").is_file());
    env.ok(&["verify", "v/web-1.0.0.tgz", "--keyring", "k.key.pub"]);
    let err = env.fails(&[
        "pull",
        "data/web",
        "--verify",
        "--keyring",
        "k.key.pub",
        "-d",
        "v",
    ]);
    assert!(err.contains("unsigned"), "{err}");
    assert!(!env.path("v/web-1.1.0.tgz").exists());
    let err = env.fails(&[
        "template",
        "demo",
        "data/web",
        "--verify",
        "--keyring",
        "k.key.pub",
    ]);
    assert!(err.contains("unsigned"), "{err}");
    env.ok(&[
        "template",
        "demo",
        "data/web",
        "--version",
        "1.0.0",
        "--verify",
        "--keyring",
        "k.key.pub",
    ]);

    // Tamper with the local copy: verify and template --verify refuse it.
    std::fs::copy(
        env.path("v/web-1.0.0.tgz.minisig"),
        env.path("v/web-1.1.0.tgz.minisig"),
    )
    .unwrap();
    std::fs::copy(&tgz, env.path("v/web-1.1.0.tgz")).unwrap();
    let err = env.fails(&["verify", "v/web-1.1.0.tgz", "--keyring", "k.key.pub"]);
    assert!(err.contains("does not match"), "{err}");
    let err = env.fails(&[
        "template",
        "demo",
        "v/web-1.1.0.tgz",
        "--verify",
        "--keyring",
        "k.key.pub",
    ]);
    assert!(err.contains("does not match"), "{err}");
    let err = env.fails(&["verify", "v/web-1.1.0.tgz", "--keyring", "k.key"]);
    assert!(err.contains("k.key"), "{err}");
}

#[test]
fn package_sign_then_verify() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("c/templates")).unwrap();
    std::fs::write(
        env.path("c/Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(env.path("c/templates/cm.yaml"), CM).unwrap();
    env.ok(&["keygen", "--out", "k.key"]);
    let err = env.fails(&["keygen", "--out", "k.key"]);
    assert!(err.contains("not overwriting"), "{err}");
    let out = env.ok(&["package", "c", "-d", "out", "--sign", "--key", "k.key"]);
    assert!(out.contains("c-0.1.0.tgz.minisig"), "{out}");
    let ok = env.ok(&["verify", "out/c-0.1.0.tgz", "--keyring", "k.key.pub"]);
    assert!(ok.contains("signature OK"), "{ok}");
    let o = env.run(&["package", "c", "-d", "out", "--sign"]);
    assert_eq!(o.status.code(), Some(2), "--sign needs --key");
}
