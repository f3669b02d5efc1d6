//! Records the DPDK version the gateway was built against, so `--version`
//! and the startup banner can name it.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let dpdk = Command::new("pkg-config")
        .args(["--modversion", "libdpdk"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "none".to_string());
    println!("cargo:rustc-env=GENEVE_GW_DPDK_VERSION={dpdk}");
}
