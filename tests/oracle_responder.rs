//! scapy as an independent oracle for the control thread's responder
//! (src/control/responder.rs): scapy builds ARP who-has, ICMP / ICMPv6 echo
//! requests (with and without a VLAN tag), Neighbor Solicitations (unicast,
//! multicast, DAD) and Advertisements; `respond` answers; scapy checks every
//! field of our replies, checksums included (recomputed by scapy). Our ARP
//! request and NS builders are checked the same way.
//! Skips (with the reason printed) when python3 or scapy is missing.
mod common;

use std::ffi::OsStr;
use std::net::IpAddr;
use std::path::Path;

use common::*;
use geneve_gw::control::responder::{
    arp_request, neighbor_solicitation, respond, LocalAddrs, Neighbor, Response,
};

fn oracle(mode: &str, pcap: &Path) -> String {
    scapy("responder_oracle.py", [OsStr::new(mode), pcap.as_os_str()])
}

fn local() -> LocalAddrs {
    LocalAddrs {
        mac: MAC_A,
        ipv4: vec![V4_LOCAL],
        ipv6: vec![V6_LOCAL],
    }
}

fn check_learned(name: &str, n: &Neighbor, want: &serde_json::Value) {
    let ip: IpAddr = want["ip"].as_str().unwrap().parse().unwrap();
    assert_eq!(n.ip, ip, "{name}: learned IP");
    assert_eq!(
        geneve_gw::wire::ethernet::MacDisplay(&n.mac).to_string(),
        want["mac"].as_str().unwrap(),
        "{name}: learned MAC"
    );
    assert_eq!(
        n.targeted,
        want["targeted"].as_bool().unwrap(),
        "{name}: targeted"
    );
}

/// Every line of the oracle's `check` output must have no errors.
fn assert_clean(out: &str, names: &[String]) {
    let lines: Vec<_> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), names.len(), "oracle output: {out}");
    let mut bad = Vec::new();
    for (l, name) in lines.iter().zip(names) {
        let v = json(l);
        let errs = v["errors"].as_array().expect("errors list");
        if !errs.is_empty() {
            bad.push(format!("{name} ({}): {errs:?}", v["name"]));
        }
    }
    assert!(bad.is_empty(), "scapy found errors:\n{}", bad.join("\n"));
}

#[test]
fn scapy_checks_our_replies() {
    if !have_scapy() {
        return;
    }
    let dir = scratch("responder-replies");
    let req_pcap = dir.join("requests.pcap");
    let cases = json(&oracle("build", &req_pcap));
    let cases = cases.as_array().expect("case list");
    let (_, frames) = read_pcap(&req_pcap);
    assert_eq!(frames.len(), cases.len());

    let local = local();
    let mut pairs = Vec::new();
    let mut replied = Vec::new();
    let mut out = Vec::new();
    for (c, f) in cases.iter().zip(&frames) {
        let name = c["name"].as_str().unwrap();
        let r = respond(f, &local, &mut out);
        match (c["expect"].as_str().unwrap(), &r) {
            ("reply", Response::Reply) => {}
            ("reply_learn", Response::ReplyAndLearned(n)) | ("learn", Response::Learned(n)) => {
                check_learned(name, n, &c["learn"])
            }
            ("ignore", Response::Ignored(_)) => {}
            (want, got) => panic!("{name}: expected {want}, got {got:?}"),
        }
        if matches!(r, Response::Reply | Response::ReplyAndLearned(_)) {
            assert!(!out.is_empty(), "{name}: empty reply");
            pairs.push(f.clone());
            pairs.push(out.clone());
            replied.push(name.to_string());
        } else {
            assert!(out.is_empty(), "{name}: bytes left in out");
        }
    }
    assert!(replied.len() >= 12, "too few replies: {replied:?}");
    let pairs_pcap = dir.join("pairs.pcap");
    write_pcap(&pairs_pcap, &pairs);
    assert_clean(&oracle("check", &pairs_pcap), &replied);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scapy_checks_our_requests() {
    if !have_scapy() {
        return;
    }
    let dir = scratch("responder-requests");
    let pcap = dir.join("ours.pcap");
    let mut arp = Vec::new();
    arp_request(MAC_A, V4_LOCAL, V4_REMOTE, &mut arp);
    let mut ns = Vec::new();
    neighbor_solicitation(MAC_A, V6_LOCAL, V6_REMOTE, &mut ns);
    write_pcap(&pcap, &[arp, ns]);
    assert_clean(&oracle("requests", &pcap), &["requests".to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
}
