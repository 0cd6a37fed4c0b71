//! Records the compiler's version for the agent exporter's `Datadog-Meta-Lang-Version`
//! header. Without the `agent` feature there is nothing to record, and nothing is run.

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    if std::env::var_os("CARGO_FEATURE_AGENT").is_none() {
        return;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SPANLOG_RUSTC_VERSION={version}");
}
