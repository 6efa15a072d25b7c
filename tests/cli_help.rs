//! Every command's `--help` carries at least one example, and every example parses with
//! the real argument definitions (so examples cannot drift from the flags).

use clap::{CommandFactory, Parser};
use stackpkg::cli::Cli;

fn leaves(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    let subs: Vec<_> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .collect();
    if subs.is_empty() {
        out.push((path, cmd.clone()));
        return;
    }
    for s in subs {
        let mut p = path.clone();
        p.push(s.get_name().to_string());
        leaves(s, p, out);
    }
}

/// The example's words, without shell quoting and anything after a pipe or redirection.
fn words(line: &str) -> Vec<String> {
    line.split_whitespace()
        .take_while(|w| !matches!(*w, "|" | ">" | "<" | "&&" | "\\"))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_string())
        .collect()
}

#[test]
fn every_command_has_an_example_that_parses() {
    let mut all = Vec::new();
    leaves(&Cli::command(), Vec::new(), &mut all);
    assert!(all.len() >= 25, "found only {} commands", all.len());
    let mut problems = Vec::new();
    for (path, cmd) in &all {
        let help = cmd
            .get_after_help()
            .or_else(|| cmd.get_after_long_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let examples: Vec<_> = help
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("stackpkg "))
            .collect();
        if examples.is_empty() {
            problems.push(format!("{}: no example in --help", path.join(" ")));
        }
        for ex in examples {
            let w = words(ex);
            if w.get(1..1 + path.len()) != Some(&path[..]) {
                problems.push(format!(
                    "{}: example runs another command: {ex}",
                    path.join(" ")
                ));
                continue;
            }
            if let Err(e) = Cli::try_parse_from(&w) {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                problems.push(format!(
                    "{}: example `{ex}` does not parse: {first}",
                    path.join(" ")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
