//! Bad configurations under tests/data/config/: each gives one clear error
//! naming the file, the exact line (and column) and the field path, and what
//! is allowed. `many-errors.yaml` checks that every error is reported.

mod common;

use std::path::PathBuf;

use common::data_path;
use geneve_gw::config::{self, ConfigError};

fn data(name: &str) -> PathBuf {
    data_path("config").join(name)
}

fn errors(name: &str) -> (String, Vec<ConfigError>) {
    let path = data(name);
    match config::load(&path) {
        Ok(_) => panic!("{name} loaded, but it is a bad configuration"),
        Err(e) => (e.to_string(), e.errors().to_vec()),
    }
}

/// `name` gives exactly one error, at `line`:`column`, on `field`, whose
/// message contains every one of `needles`.
fn check(name: &str, line: usize, column: usize, field: &str, needles: &[&str]) {
    let (text, errs) = errors(name);
    assert_eq!(errs.len(), 1, "{name}: expected one error, got:\n{text}");
    let e = &errs[0];
    assert_eq!(
        (e.line(), e.column(), e.path.as_str()),
        (line, column, field),
        "{name}: {e}"
    );
    for n in needles {
        assert!(e.message.contains(n), "{name}: `{e}` lacks `{n}`");
    }
    // The operator's line: file:line:col: field: message
    let file = data(name).display().to_string();
    assert_eq!(
        text,
        format!("{file}:{line}:{column}: {field}: {}", e.message)
    );
    // The line named really is the one marked in the file.
    let src = std::fs::read_to_string(data(name)).unwrap();
    let marked = src.lines().position(|l| l.contains("# <-")).map(|i| i + 1);
    assert_eq!(marked, Some(line), "{name}: the marked line differs");
}

#[test]
fn wrong_type() {
    check(
        "wrong-type.yaml",
        10,
        10,
        "ports[1].mtu",
        &["invalid type", "\"large\"", "expected an integer"],
    );
}

#[test]
fn unknown_field() {
    check(
        "unknown-field.yaml",
        19,
        5,
        "tunnels[1].colour",
        &["unknown field `colour`", "allowed: name, remote, vni"],
    );
}

#[test]
fn misspelled_field_suggests_the_closest_name() {
    check(
        "misspelled-field.yaml",
        17,
        5,
        "tunnels[1].remtoe",
        &["unknown field `remtoe`", "did you mean `remote`?"],
    );
}

#[test]
fn duplicate_prefix() {
    check(
        "duplicate-prefix.yaml",
        27,
        15,
        "l3.routes[2].prefix",
        &[
            "198.19.1.0/24 is already routed by l3.routes[0]",
            "different lengths may overlap",
        ],
    );
}

#[test]
fn prefix_with_host_bits() {
    check(
        "prefix-host-bits.yaml",
        25,
        15,
        "l3.routes[1].prefix",
        &["host bits set", "did you mean 198.19.0.0/16?"],
    );
}

#[test]
fn vni_out_of_range() {
    check(
        "vni-out-of-range.yaml",
        18,
        10,
        "tunnels[1].vni",
        &["16777216 is out of range; allowed 0..=16777215"],
    );
}

#[test]
fn option_longer_than_124_bytes() {
    check(
        "option-too-long.yaml",
        19,
        15,
        "tunnels[0].options[0].data",
        &[
            "128 bytes",
            "longer than 124 bytes",
            "allowed 0..=124 bytes in steps of 4",
        ],
    );
}

#[test]
fn option_not_a_multiple_of_4() {
    check(
        "option-not-multiple-of-4.yaml",
        19,
        15,
        "tunnels[0].options[0].data",
        &["6 bytes", "not a multiple of 4"],
    );
}

#[test]
fn missing_port() {
    check(
        "missing-port.yaml",
        21,
        11,
        "l3.access.port",
        &["no access port named `access1`", "did you mean `access0`?"],
    );
}

#[test]
fn missing_tunnel() {
    check(
        "missing-tunnel.yaml",
        26,
        15,
        "l3.routes[1].tunnel",
        &["no tunnel named `north`", "defined: east, west"],
    );
}

#[test]
fn invalid_ip() {
    check(
        "invalid-ip.yaml",
        17,
        13,
        "tunnels[1].remote",
        &["`198.18.0.300` is not an IP address", "allowed: an IPv4"],
    );
}

#[test]
fn duplicate_tunnel_name() {
    check(
        "duplicate-tunnel-name.yaml",
        16,
        11,
        "tunnels[1].name",
        &[
            "duplicate tunnel name `east`",
            "already defined at tunnels[0].name",
        ],
    );
}

#[test]
fn port_role_mismatch() {
    check(
        "port-role.yaml",
        12,
        9,
        "vtep.port",
        &["port `access0` has role access", "role underlay"],
    );
}

#[test]
fn api_listen_tcp_not_an_address() {
    check(
        "api-listen-tcp-not-an-address.yaml",
        22,
        15,
        "api.listen_tcp",
        &["`localhost:50051` is not an address:port"],
    );
}

#[test]
fn top_tunnels_over_its_bound() {
    check(
        "top-tunnels-too-many.yaml",
        23,
        16,
        "metrics.top_tunnels",
        &["1000000 is out of range; allowed 0..=1000"],
    );
}

#[test]
fn udp_port_zero() {
    check(
        "udp-port-zero.yaml",
        19,
        15,
        "tunnels[1].udp_port",
        &["0 is out of range; allowed 1..=65535"],
    );
}

#[test]
fn invalid_mac() {
    check(
        "invalid-mac.yaml",
        22,
        18,
        "l3.access.gateway_mac",
        &["not a MAC address", "six hex bytes"],
    );
}

#[test]
fn vni_mapped_to_two_segments() {
    check(
        "vni-two-segments.yaml",
        15,
        12,
        "l2.segments[1].vni",
        &["VNI 1000 is already mapped by l2.segments[0]"],
    );
}

#[test]
fn missing_option_name() {
    check(
        "missing-option.yaml",
        32,
        17,
        "options.policies.require[0].option",
        &[
            "no option in options.registry named `security-tg`",
            "did you mean `security-tag`?",
        ],
    );
}

#[test]
fn every_error_is_reported_in_file_order() {
    let (text, errs) = errors("many-errors.yaml");
    let got: Vec<(usize, &str)> = errs.iter().map(|e| (e.line(), e.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (5, "ports[1].mac"),
            (8, "vtep.udp_port"),
            (11, "tunnels[0].remote"),
            (12, "tunnels[0].vni"),
            (13, "tunnels[0].ttl"),
            (16, "l2.segments[0].port"),
            (17, "l2.segments[0].vlan"),
            (19, "l2.segments[0].flood[1]"),
        ],
        "{text}"
    );
    assert_eq!(text.lines().count(), errs.len());
}

#[test]
fn unreadable_file() {
    let path = data("does-not-exist.yaml");
    let e = config::load(&path).unwrap_err();
    assert_eq!(e.len(), 1);
    let s = e.to_string();
    assert!(
        s.starts_with(&format!("{}: cannot read", path.display())),
        "{s}"
    );
}

#[test]
fn vxlan_tunnel_with_options() {
    check(
        "vxlan-options.yaml",
        15,
        5,
        "tunnels[0].options",
        &["VXLAN has no options", "encapsulation: geneve"],
    );
}

#[test]
fn vxlan_tunnel_as_an_l3_route() {
    check(
        "vxlan-l3.yaml",
        14,
        20,
        "tunnels[0].encapsulation",
        &["tunnel `tor` is used by l3.routes", "Ethernet frames only"],
    );
}
