//! Loading charts from folders and archives: the happy path, every validation rule of
//! Chart.yaml, and archive safety (traversal, links, bombs, oversized packages).

mod common;

use common::{fixture, raw_tgz, write_tree, Entry, Kind, CHART_YAML};
use stackpkg::chart::{self, ChartError, Limits};

fn load_err(rel: &str) -> String {
    chart::load(&fixture(rel)).unwrap_err().to_string()
}

#[test]
fn loads_a_chart_folder_with_subcharts() {
    let c = chart::load(&fixture("stack")).unwrap();
    assert_eq!(c.metadata.name, "stack");
    assert_eq!(c.metadata.version, "1.2.3");
    assert_eq!(c.metadata.app_version.as_deref(), Some("4.1"));
    assert_eq!(c.metadata.dependencies.len(), 4);
    assert_eq!(c.values["replicas"], 3);
    assert!(c.schema.is_some());
    let templates: Vec<&str> = c.templates.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        templates,
        ["templates/_helpers.j2", "templates/configmap.yaml"]
    );
    assert_eq!(c.crds.len(), 1);
    let subs: Vec<&str> = c.subcharts.iter().map(|s| s.name()).collect();
    assert_eq!(subs, ["common", "kafka", "zookeeper"]);
    assert!(c.subcharts[0].is_library());
    assert!(!c.subcharts[1].is_library());
    // Subchart files belong to the subchart, not to the parent.
    assert!(c.files.iter().all(|f| !f.path.starts_with("charts/")));
    assert_eq!(c.subcharts[2].values["heap"], 512);
    assert!(c.subcharts[2]
        .display_path("values.yaml")
        .ends_with("stack/charts/zookeeper/values.yaml"));
}

#[test]
fn ignore_file_leaves_files_out() {
    let c = chart::load(&fixture("stack")).unwrap();
    let paths: Vec<&str> = c.files.iter().map(|f| f.path.as_str()).collect();
    assert!(!paths.contains(&"notes.bak"), "{paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with("secret/")), "{paths:?}");
    assert!(paths.contains(&"README.md"));
}

#[test]
fn helmignore_is_used_when_ours_is_absent_and_ours_wins_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Chart.yaml", std::str::from_utf8(CHART_YAML).unwrap()),
            (".helmignore", "*.tmp\n"),
            ("a.tmp", "x"),
            ("b.txt", "y"),
        ],
    );
    let c = chart::load(dir.path()).unwrap();
    assert!(c.file("a.tmp").is_none());
    assert!(c.file("b.txt").is_some());
    write_tree(dir.path(), &[(".stackpkgignore", "*.txt\n")]);
    let c = chart::load(dir.path()).unwrap();
    assert!(
        c.file("a.tmp").is_some(),
        ".helmignore must be ignored when .stackpkgignore exists"
    );
    assert!(c.file("b.txt").is_none());
}

#[test]
fn bad_chart_yaml_is_reported_with_file_and_field() {
    let cases = [
        (
            "bad/yaml-syntax",
            "bad/yaml-syntax/Chart.yaml:4:12: did not find expected ','",
        ),
        (
            "bad/semver",
            "bad/semver/Chart.yaml: field version: \"1.0\" is not a semantic version",
        ),
        (
            "bad/api-v1",
            "bad/api-v1/Chart.yaml: field apiVersion: \"v1\" charts",
        ),
        (
            "bad/kube-version",
            "bad/kube-version/Chart.yaml: field kubeVersion: unknown operator \">=>\"",
        ),
        (
            "bad/no-chart-yaml",
            "bad/no-chart-yaml: no Chart.yaml found",
        ),
        (
            "bad/name",
            "bad/name/Chart.yaml: field name: \"My_Chart\" must be lowercase",
        ),
        (
            "bad/type",
            "bad/type/Chart.yaml: field type: \"plugin\" is not one of application, library",
        ),
        (
            "bad/dep-range",
            "bad/dep-range/Chart.yaml: field dependencies[0].version: unknown operator \"^^\"",
        ),
        (
            "bad/missing-version",
            "bad/missing-version/Chart.yaml: field version: is required",
        ),
        (
            "bad/empty-chart-yaml",
            "bad/empty-chart-yaml/Chart.yaml: is empty",
        ),
        (
            "bad/subchart-broken",
            "bad/subchart-broken/charts/sub/Chart.yaml: field version: \"one\"",
        ),
    ];
    for (rel, want) in cases {
        let got = load_err(rel);
        assert!(got.contains(want), "{rel}: got {got:?}, want {want:?}");
    }
}

#[test]
fn bad_values_and_schema_files_name_the_line() {
    let got = load_err("bad/values-syntax");
    assert!(
        got.contains("bad/values-syntax/values.yaml:5:1: found unexpected end of stream"),
        "{got}"
    );
    let got = load_err("bad/values-list");
    assert!(
        got.contains("values-list/values.yaml: must hold a map"),
        "{got}"
    );
    let got = load_err("bad/schema-syntax");
    assert!(
        got.contains("schema-syntax/values.schema.json:3:18: key must be a string"),
        "{got}"
    );
}

#[test]
fn more_chart_yaml_rules() {
    let dir = tempfile::tempdir().unwrap();
    let check = |yaml: &str, want: &str| {
        std::fs::write(dir.path().join("Chart.yaml"), yaml).unwrap();
        let got = chart::load(dir.path()).unwrap_err().to_string();
        assert!(got.contains(want), "{yaml:?}: got {got:?}");
    };
    check(
        "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n  - name: x\n  - name: x\n",
        "listed twice",
    );
    check(
        "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n  - name: x\n    alias: \"a.b\"\n",
        "dependencies[0].alias",
    );
    check("apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n  - name: x\n    import-values: [3]\n", "import-values[0]");
    check(
        "apiVersion: v2\nname: a\nversion: 1.0.0\nmaintainers:\n  - email: a@b\n",
        "maintainers[0].name",
    );
    check("name: a\nversion: 1.0.0\n", "field apiVersion: is required");
    check(
        "apiVersion: v3\nname: a\nversion: 1.0.0\n",
        "\"v3\" is not supported",
    );
    check("- a\n- b\n", "must be a map of fields");
    check(
        "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies: 5\n",
        "Chart.yaml:4:15: dependencies: invalid type",
    );
    check("apiVersion: v2\nname: -a\nversion: 1.0.0\n", "field name");
    // Unknown fields are ignored; numeric appVersion is accepted.
    std::fs::write(
        dir.path().join("Chart.yaml"),
        "apiVersion: v2\nname: a\nversion: 1.0.0-rc.1+b5\nappVersion: 7\nfoo: {bar: 1}\n",
    )
    .unwrap();
    let c = chart::load(dir.path()).unwrap();
    assert_eq!(c.metadata.app_version.as_deref(), Some("7"));
}

#[test]
fn kube_version_is_checked() {
    let c = chart::load(&fixture("stack")).unwrap();
    chart::check_kube_version(&c.metadata, "1.29.3").unwrap();
    chart::check_kube_version(&c.metadata, "v1.30.1-gke.1200").unwrap();
    let e = chart::check_kube_version(&c.metadata, "1.27.0").unwrap_err();
    assert_eq!(
        e.to_string(),
        "chart stack requires kubeVersion >=1.28.0-0, which Kubernetes 1.27.0 does not satisfy"
    );
    let e = chart::check_kube_version(&c.metadata, "banana").unwrap_err();
    assert!(
        e.to_string()
            .contains("--kube-version: \"banana\" is not a version"),
        "{e}"
    );
}

#[test]
fn archive_roundtrip_and_metadata_only_read() {
    let c = chart::load(&fixture("stack")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = chart::package(&fixture("stack"), out.path()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let a = chart::load_archive(&bytes, "stack-1.2.3.tgz").unwrap();
    assert_eq!(a.metadata, c.metadata);
    assert_eq!(a.values, c.values);
    assert_eq!(a.files, c.files);
    assert_eq!(a.subcharts.len(), 3);
    assert_eq!(
        a.display_path("values.yaml"),
        "stack-1.2.3.tgz:stack/values.yaml"
    );
    let meta = chart::read_archive_metadata(&bytes).unwrap();
    assert_eq!(meta.name, "stack");
    // Loading the .tgz from disk goes through the same path.
    let from_disk = chart::load(&path).unwrap();
    assert_eq!(from_disk.metadata, c.metadata);
}

#[test]
fn tgz_subcharts_under_charts_are_loaded() {
    let sub = raw_tgz(&[
        (
            "redis/Chart.yaml",
            Kind::File,
            b"apiVersion: v2\nname: redis\nversion: 7.0.1\n",
        ),
        ("redis/values.yaml", Kind::File, b"port: 6379\n"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 7.x\n")]);
    std::fs::create_dir(dir.path().join("charts")).unwrap();
    std::fs::write(dir.path().join("charts/redis-7.0.1.tgz"), &sub).unwrap();
    let c = chart::load(dir.path()).unwrap();
    assert_eq!(c.subcharts.len(), 1);
    assert_eq!(c.subcharts[0].values["port"], 6379);
    assert!(c.subcharts[0]
        .origin
        .0
        .ends_with("charts/redis-7.0.1.tgz:redis"));
}

fn archive_err(entries: &[Entry]) -> String {
    chart::load_archive(&raw_tgz(entries), "evil.tgz")
        .unwrap_err()
        .to_string()
}

#[test]
fn unsafe_archive_entries_are_rejected() {
    let c: &[u8] = CHART_YAML;
    let cases: Vec<(Vec<Entry>, &str)> = vec![
        (
            vec![
                ("demo/Chart.yaml", Kind::File, c),
                ("demo/../../etc/passwd", Kind::File, b"x"),
            ],
            "path contains '..'",
        ),
        (
            vec![("/etc/demo/Chart.yaml", Kind::File, c)],
            "absolute path",
        ),
        (
            vec![
                ("demo/Chart.yaml", Kind::File, c),
                ("demo/link", Kind::Symlink("/etc/passwd"), b""),
            ],
            "links are not allowed",
        ),
        (
            vec![
                ("demo/Chart.yaml", Kind::File, c),
                ("demo/hard", Kind::HardLink("demo/Chart.yaml"), b""),
            ],
            "links are not allowed",
        ),
        (
            vec![
                ("demo/Chart.yaml", Kind::File, c),
                ("other/x", Kind::File, b"x"),
            ],
            "outside the chart folder",
        ),
        (
            vec![("Chart.yaml", Kind::File, c)],
            "outside the chart folder",
        ),
        (
            vec![
                ("demo/Chart.yaml", Kind::File, c),
                ("demo/fifo", Kind::Fifo, b""),
            ],
            "only regular files",
        ),
        (
            vec![
                ("demo/Chart.yaml", Kind::File, c),
                ("demo/Chart.yaml", Kind::File, c),
            ],
            "appears twice",
        ),
        (
            vec![
                ("demo/", Kind::Dir, b""),
                ("demo/values.yaml", Kind::File, b"a: 1\n"),
            ],
            "no Chart.yaml found",
        ),
    ];
    for (entries, want) in cases {
        let got = archive_err(&entries);
        assert!(got.starts_with("evil.tgz"), "{got}");
        assert!(got.contains(want), "want {want:?}, got {got:?}");
    }
}

#[test]
fn garbage_archives_are_rejected() {
    for bytes in [
        &b""[..],
        b"not gzip at all",
        &common::gzip(b"not a tar stream, just text that is long enough"),
    ] {
        let got = chart::load_archive(bytes, "junk.tgz")
            .unwrap_err()
            .to_string();
        assert!(
            got.starts_with("junk.tgz: not a valid chart archive"),
            "{got}"
        );
    }
    let e = chart::read_archive_metadata(b"\x1f\x8b garbage").unwrap_err();
    assert!(matches!(e, ChartError::BadArchive { .. }), "{e}");
}

#[test]
fn decompression_bombs_and_oversized_packages_are_stopped() {
    // A 6 MiB file of zeros compresses to a few KiB but is over the 5 MiB file limit.
    let zeros = vec![0u8; 6 << 20];
    let bomb = raw_tgz(&[
        ("demo/Chart.yaml", Kind::File, CHART_YAML),
        ("demo/zeros", Kind::File, &zeros),
    ]);
    assert!(
        bomb.len() < 64 << 10,
        "test archive should be small: {}",
        bomb.len()
    );
    let got = chart::load_archive(&bomb, "bomb.tgz")
        .unwrap_err()
        .to_string();
    assert!(
        got.contains("file size exceeds the limit of 5242880 bytes"),
        "{got}"
    );

    // Total size across many files, with small limits to keep the test fast.
    let limits = Limits {
        max_archive: 1 << 20,
        max_total: 100_000,
        max_file: 60_000,
        max_entries: 100,
    };
    let chunk = vec![b'a'; 50_000];
    let many = raw_tgz(&[
        ("demo/Chart.yaml", Kind::File, CHART_YAML),
        ("demo/a", Kind::File, &chunk),
        ("demo/b", Kind::File, &chunk),
        ("demo/c", Kind::File, &chunk),
    ]);
    let got = chart::load_archive_with_limits(&many, "many.tgz", &limits)
        .unwrap_err()
        .to_string();
    assert_eq!(
        got,
        "many.tgz: total uncompressed size exceeds the limit of 100000 bytes"
    );

    let entries: Vec<(String, Kind, &[u8])> = (0..150)
        .map(|i| (format!("demo/f{i}"), Kind::File, &b"x"[..]))
        .collect();
    let refs: Vec<Entry> = entries
        .iter()
        .map(|(n, _, d)| (n.as_str(), Kind::File, *d))
        .collect();
    let got = chart::load_archive_with_limits(&raw_tgz(&refs), "count.tgz", &limits)
        .unwrap_err()
        .to_string();
    assert!(got.contains("entry count (more than 100)"), "{got}");

    let small = Limits {
        max_archive: 100,
        ..limits
    };
    let got = chart::load_archive_with_limits(&many, "big.tgz", &small)
        .unwrap_err()
        .to_string();
    assert!(got.contains("big.tgz: package size"), "{got}");
}

#[cfg(unix)]
#[test]
fn symlinks_leaving_a_chart_folder_are_errors_and_inner_ones_are_followed() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s").unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Chart.yaml", std::str::from_utf8(CHART_YAML).unwrap()),
            ("files/real.txt", "r"),
        ],
    );
    std::os::unix::fs::symlink("files/real.txt", dir.path().join("inner.txt")).unwrap();
    let c = chart::load(dir.path()).unwrap();
    assert_eq!(c.file("inner.txt").unwrap().data, b"r");

    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
    let got = chart::load(dir.path()).unwrap_err().to_string();
    assert!(
        got.contains("leak: symlink points outside the chart"),
        "{got}"
    );
    std::fs::remove_file(dir.path().join("leak")).unwrap();

    std::os::unix::fs::symlink("../..", dir.path().join("files/up")).unwrap();
    let got = chart::load(dir.path()).unwrap_err().to_string();
    assert!(got.contains("symlink points outside the chart"), "{got}");
    std::fs::remove_file(dir.path().join("files/up")).unwrap();

    std::os::unix::fs::symlink("nowhere.txt", dir.path().join("files/dangling")).unwrap();
    let got = chart::load(dir.path()).unwrap_err().to_string();
    assert!(
        got.contains("files/dangling: broken symlink to nowhere.txt"),
        "{got}"
    );
    std::fs::remove_file(dir.path().join("files/dangling")).unwrap();

    std::os::unix::fs::symlink("..", dir.path().join("files/loop")).unwrap();
    let got = chart::load(dir.path()).unwrap_err().to_string();
    assert!(got.contains("loops back"), "{got}");
}
