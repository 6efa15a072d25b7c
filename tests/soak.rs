//! Soak against the simulator: install/upgrade/rollback/uninstall through the real binary while the
//! API server injects faults (5xx, dropped connections, latency spikes), then kill -9 at
//! random points of upgrades followed by recovery. Bounded and self-stopping.
//!
//! By default a shortened form runs (40 operations over 5 releases, 6 kills); `SOAK_FULL=1`
//! runs the full one (200 operations over 20 releases, 30 kills). `SOAK_SEED=N` changes the
//! (otherwise fixed) random sequence. At the end, with faults off: every release's history
//! is consistent (revisions without gaps, nothing pending, at most one deployed), no lock is
//! left, no object of the release machinery is orphaned, and every failed operation said
//! why on one error line naming the release or an object.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::cluster::{stackpkg_cmd, start_blocking};
use common::write_tree;
use kube_sim::{Config, FaultRule};
use serde_json::Value;

/// xorshift64*: a reproducible sequence without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn write_chart(dir: &Path) {
    let files = [
        ("Chart.yaml", "apiVersion: v2\nname: soak\nversion: 1.0.0\n"),
        ("values.yaml", "replicas: 1\ngen: 0\nextra: false\n"),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\ndata:\n  gen: \"{{ values.gen }}\"\n",
        ),
        (
            "templates/svc.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ release.name }}\nspec:\n  ports:\n    - port: 80\n",
        ),
        (
            "templates/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ release.name }}\nspec:\n  replicas: {{ values.replicas }}\n  selector:\n    matchLabels: {app: \"{{ release.name }}\"}\n  template:\n    metadata:\n      labels: {app: \"{{ release.name }}\"}\n    spec:\n      containers:\n        - name: app\n          image: app:{{ values.gen }}\n",
        ),
        (
            "templates/extra.yaml",
            "{% if values.extra %}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-extra\ndata:\n  a: b\n{% endif %}\n",
        ),
    ];
    write_tree(dir, &files);
}

fn cmd(kc: &Path, args: &[String]) -> Command {
    let mut c = stackpkg_cmd(kc);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(kc: &Path, args: &[String]) -> Output {
    cmd(kc, args).output().unwrap()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A failed command must have said why: exit 1, one `Error: ` line naming the release or
/// an object, no panic.
fn check_failure(op: &str, rel: &str, o: &Output) -> Result<(), String> {
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("panicked") {
        return Err(format!("{op}: panic: {err}"));
    }
    if o.status.code() != Some(1) {
        return Err(format!("{op}: exit {:?}: {err}", o.status.code()));
    }
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error: ")).collect();
    match lines.as_slice() {
        [l] if l.contains(rel) => Ok(()),
        _ => Err(format!("{op}: unclear error: {err}")),
    }
}

fn history(kc: &Path, rel: &str) -> Vec<Value> {
    let o = run(kc, &s(&["history", rel, "-n", "soak", "-o", "json"]));
    if !o.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn soak_with_faults_and_kills() {
    let full = std::env::var("SOAK_FULL").is_ok_and(|v| v == "1");
    let (ops, releases, kills) = if full { (200, 20, 30) } else { (40, 5, 6) };
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261122);
    let deadline = Instant::now() + Duration::from_secs(if full { 1800 } else { 300 });
    let mut rng = Rng(seed | 1);
    let (sim, dir, kc) = start_blocking(Config {
        seed,
        ..Default::default()
    });
    let chart = dir.path().join("chart");
    write_chart(&chart);
    let chart = chart.to_str().unwrap().to_string();
    let o = run(
        &kc,
        &s(&[
            "install",
            "seed",
            &chart,
            "-n",
            "soak",
            "--create-namespace",
        ]),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // About one request in ten is hit: 5xx answers, dropped connections, latency spikes.
    let faults = vec![
        FaultRule {
            status: Some(503),
            rate: Some(0.03),
            ..Default::default()
        },
        FaultRule {
            status: Some(500),
            rate: Some(0.02),
            ..Default::default()
        },
        FaultRule {
            drop: Some(true),
            rate: Some(0.02),
            ..Default::default()
        },
        FaultRule {
            latency_ms: Some(250),
            rate: Some(0.03),
            ..Default::default()
        },
    ];
    sim.set_faults(faults).unwrap();

    let names: Vec<String> = (0..releases).map(|i| format!("r{i}")).collect();
    let mut problems = Vec::new();
    let (mut done, mut failed) = (0, 0);
    let mut by_verb = BTreeMap::<String, usize>::new();
    let requests_before = sim.requests().len();
    let started = Instant::now();
    for i in 0..ops {
        if Instant::now() > deadline {
            problems.push(format!("deadline reached after {i} operations"));
            break;
        }
        let rel = &names[rng.below(releases as u64) as usize];
        let revisions = history(&kc, rel).len();
        let exists = revisions > 0;
        let gen = i.to_string();
        let set_gen = format!("gen={gen}");
        let extra = format!("extra={}", rng.below(2) == 0);
        let args = match (exists, rng.below(10)) {
            (false, _) => s(&["install", rel, &chart, "-n", "soak", "--set", &set_gen]),
            (true, 0..=1) => s(&["uninstall", rel, "-n", "soak"]),
            // Back to the previous revision, or to a random earlier one.
            (true, 2..=3) if revisions >= 2 => {
                let mut a = s(&["rollback", rel, "-n", "soak"]);
                if rng.below(2) == 0 {
                    let h = history(&kc, rel);
                    let pick = &h[rng.below(h.len() as u64 - 1) as usize];
                    a.insert(2, pick["revision"].as_u64().unwrap_or(1).to_string());
                }
                a
            }
            (true, _) => s(&[
                "upgrade", rel, &chart, "-n", "soak", "--set", &set_gen, "--set", &extra,
            ]),
        };
        *by_verb.entry(args[0].clone()).or_default() += 1;
        let o = run(&kc, &args);
        if o.status.success() {
            done += 1;
        } else {
            failed += 1;
            if let Err(e) = check_failure(&args.join(" "), rel, &o) {
                problems.push(e);
            }
        }
    }
    let faulted_ops = started.elapsed();
    // Injected 5xx answers as the request log saw them (dropped connections and latency
    // spikes leave no status of their own).
    let injected_5xx = sim.requests()[requests_before..]
        .iter()
        .filter(|r| r.status == 500 || r.status == 503)
        .count();

    // kill -9 at random points of upgrades whose writes are slowed down, then recover.
    sim.set_faults(vec![FaultRule {
        verb: Some("patch".into()),
        latency_ms: Some(300),
        ..Default::default()
    }])
    .unwrap();
    for k in 0..kills {
        if Instant::now() > deadline {
            problems.push(format!("deadline reached after {k} kills"));
            break;
        }
        let rel = &names[rng.below(releases as u64) as usize];
        let set_gen = format!("gen=k{k}");
        let verb = if history(&kc, rel).is_empty() {
            "install"
        } else {
            "upgrade"
        };
        let mut child = cmd(
            &kc,
            &s(&[
                verb,
                rel,
                &chart,
                "-n",
                "soak",
                "--set",
                &set_gen,
                "--lock-timeout",
                "1s",
            ]),
        )
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_millis(50 + rng.below(1200)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    // Let the dead holders' 1 s locks expire, then every release recovers with one upgrade
    // (or install, for one whose first install was killed before recording anything).
    sim.set_faults(vec![]).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    for rel in &names {
        let verb = if history(&kc, rel).is_empty() {
            "install"
        } else {
            "upgrade"
        };
        let o = run(
            &kc,
            &s(&[verb, rel, &chart, "-n", "soak", "--set", "gen=final"]),
        );
        if !o.status.success() {
            problems.push(format!(
                "{rel}: recovery {verb} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }

    // Consistency, with faults off.
    let objects = sim.objects();
    for rel in &names {
        let h = history(&kc, rel);
        let revs: Vec<u64> = h.iter().map(|r| r["revision"].as_u64().unwrap()).collect();
        let first = revs.first().copied().unwrap_or(1);
        if revs != (first..first + revs.len() as u64).collect::<Vec<_>>() {
            problems.push(format!("{rel}: revisions with gaps: {revs:?}"));
        }
        let statuses: Vec<&str> = h.iter().map(|r| r["status"].as_str().unwrap()).collect();
        if statuses.iter().any(|s| s.starts_with("pending")) {
            problems.push(format!("{rel}: left pending: {statuses:?}"));
        }
        if statuses.last() != Some(&"deployed")
            || statuses.iter().filter(|s| **s == "deployed").count() != 1
        {
            problems.push(format!(
                "{rel}: not exactly one deployed, the last: {statuses:?}"
            ));
        }
        // Each stored record decodes (history read them all), so now the objects: those of
        // the release are exactly the latest revision's resources.
        let o = run(&kc, &s(&["status", rel, "-n", "soak", "-o", "json"]));
        let rec: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        let mut want: Vec<String> = rec["resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        format!(
                            "{}/{}",
                            r["kind"].as_str().unwrap(),
                            r["name"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        want.sort();
        let mut have: Vec<String> = objects
            .iter()
            .filter(|o| {
                o["metadata"]["annotations"]["meta.stackpkg.io/release-name"] == rel.as_str()
            })
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        have.sort();
        if want != have {
            problems.push(format!("{rel}: objects {have:?}, record says {want:?}"));
        }
    }
    let leases: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "Lease"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("stackpkg.lock."))
        })
        .collect();
    if !leases.is_empty() {
        problems.push(format!("{} locks left held", leases.len()));
    }
    // Chunk Secrets without their head record are orphans too.
    for o in &objects {
        if o["metadata"]["labels"]["owner"] == "stackpkg-chunk" {
            let name = o["metadata"]["name"].as_str().unwrap();
            let head = name.rsplit_once(".c").map(|(h, _)| h).unwrap_or(name);
            if !objects.iter().any(|x| x["metadata"]["name"] == head) {
                problems.push(format!("orphaned chunk {name}"));
            }
        }
    }
    eprintln!(
        "soak: seed {seed}, {ops} operations {by_verb:?} over {releases} releases in {:.1} s ({done} ok, {failed} failed cleanly), {injected_5xx} injected 5xx answers, {kills} kills, {} requests logged",
        faulted_ops.as_secs_f64(),
        sim.requests().len()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
