//! Every example configuration under config/ loads without error.

use std::path::{Path, PathBuf};

use geneve_gw::config::{self, Payload, PortRole, UdpChecksum};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(name)
}

fn load(name: &str) -> config::Config {
    match config::load(&example(name)) {
        Ok(c) => c,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

#[test]
fn every_example_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            if let Err(e) = config::load(&path) {
                panic!("{} does not load:\n{e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 5, "expected at least 5 examples, found {n}");
}

#[test]
fn the_required_examples_exist() {
    for name in [
        "l2-gateway.yaml",
        "l3-gateway.yaml",
        "ipv6-underlay.yaml",
        "options-policy.yaml",
        "demo-ovs.yaml",
    ] {
        load(name);
    }
}
