//! Standalone Kubernetes API server simulator:
//! `cargo run --release --example kube-sim -- --kubeconfig PATH [--addr 127.0.0.1:0] [--tls]`
//! Writes a kubeconfig to PATH, prints `ready <url>` once serving, and runs until killed.

use std::io::Write;
use std::path::PathBuf;

const USAGE: &str = "usage: kube-sim --kubeconfig PATH [--addr 127.0.0.1:0] [--tls]";

fn parse(args: &[String]) -> Result<(PathBuf, std::net::SocketAddr, bool), String> {
    let mut kubeconfig = None;
    let mut addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut tls = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kubeconfig" => {
                kubeconfig = Some(PathBuf::from(it.next().ok_or("--kubeconfig needs a path")?))
            }
            "--addr" => {
                let v = it.next().ok_or("--addr needs HOST:PORT")?;
                addr = v
                    .parse()
                    .map_err(|e| format!("--addr {v:?}: not a socket address: {e}"))?;
            }
            "--tls" => tls = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let kubeconfig = kubeconfig.ok_or("--kubeconfig is required")?;
    Ok((kubeconfig, addr, tls))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kubeconfig, addr, tls) = match parse(&args) {
        Ok(v) => v,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("kube-sim: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kube-sim: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async move {
        let cfg = kube_sim::Config {
            addr,
            tls,
            ..Default::default()
        };
        let sim = match kube_sim::Simulator::start(cfg).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kube-sim: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        if let Err(e) = sim.write_kubeconfig(&kubeconfig) {
            eprintln!(
                "kube-sim: {}: cannot write kubeconfig: {e}",
                kubeconfig.display()
            );
            std::process::exit(1);
        }
        println!("ready {}", sim.url());
        let _ = std::io::stdout().flush();
        std::future::pending::<()>().await;
    });
}
