//! Release builds of the `stackpkg` binary on x86_64 Linux, linked by rustc's own lld (the
//! default there since Rust 1.90), lay out the functions of link/symbol-order.txt first
//! (scripts/symbol-order.sh makes it). Peak RSS of `template` is mostly touched code pages,
//! and the kernel maps 64 KiB around each fault: packing the hot functions together is what
//! keeps it small (docs/performance.md, "Where the memory goes"). Elsewhere, or with another
//! linker chosen through RUSTFLAGS, the link is left as it is.

use std::path::Path;
use std::process::Command;

fn main() {
    let order = Path::new("link/symbol-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if release
        && target == "x86_64-unknown-linux-gnu"
        && rustc_links_with_lld()
        && !flags.contains("linker")
        && order.exists()
    {
        let abs = std::fs::canonicalize(order).expect("link/symbol-order.txt exists");
        println!(
            "cargo:rustc-link-arg-bin=stackpkg=-Wl,--symbol-ordering-file={}",
            abs.display()
        );
        // Entries for symbols a code change renamed are skipped, not errors.
        println!("cargo:rustc-link-arg-bin=stackpkg=-Wl,--no-warn-symbol-ordering");
    }
}

/// Rust 1.90 and later link x86_64 Linux binaries with the bundled lld.
fn rustc_links_with_lld() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (…)"
    let text = String::from_utf8_lossy(&out.stdout);
    let minor = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
