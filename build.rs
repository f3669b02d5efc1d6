//! Records the DPDK version the gateway was built against, so `--version`
//! and the startup banner can name it; compiles the control API's
//! `proto/geneve_gw.proto` with protox (a protobuf compiler in Rust, so the
//! build needs no system `protoc`) into tonic/prost code.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=proto/geneve_gw.proto");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let dpdk = Command::new("pkg-config")
        .args(["--modversion", "libdpdk"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "none".to_string());
    println!("cargo:rustc-env=GENEVE_GW_DPDK_VERSION={dpdk}");

    let fds = match protox::compile(["proto/geneve_gw.proto"], ["proto"]) {
        Ok(f) => f,
        Err(e) => panic!("proto/geneve_gw.proto: {e}"),
    };
    if let Err(e) = tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // `geneve-gw ctl --json` prints the replies as they are.
        .type_attribute(".", "#[derive(serde::Serialize)]")
        .compile_fds(fds)
    {
        panic!("generating the control API code: {e}");
    }
}
