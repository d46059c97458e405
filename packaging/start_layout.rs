//! The build script of every server binary: with `MCP_START_ORDER` naming a list of
//! symbols (one per line, as `scripts/start-order.sh` writes it), the linker places those
//! functions first and together. The list is the code a server runs to start and answer
//! `initialize` and `tools/list`: spread over the binary, it makes the kernel map about
//! four times as many pages of code as it runs. Without the variable, nothing changes.

// A build script speaks to cargo on stdout.
#![allow(clippy::print_stdout)]

fn main() {
    println!("cargo:rerun-if-env-changed=MCP_START_ORDER");
    let Some(order) = std::env::var_os("MCP_START_ORDER").filter(|v| !v.is_empty()) else { return };
    // The option is LLD's, the linker Rust uses on this target; other linkers refuse it.
    if std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        println!("cargo:warning=MCP_START_ORDER is only applied on x86_64-unknown-linux-gnu (LLD); ignored");
        return;
    }
    let order = std::path::PathBuf::from(order);
    println!("cargo:rerun-if-changed={}", order.display());
    // Every binary of the package (servers are bins, the echo bench's are examples).
    println!("cargo:rustc-link-arg=-Wl,--symbol-ordering-file={}", order.display());
    // Symbols of the other binaries in the list are absent from this one.
    println!("cargo:rustc-link-arg=-Wl,--no-warn-symbol-ordering");
}
