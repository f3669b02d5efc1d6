//! Replays the decap fuzz seed corpus (fuzz/corpus/decap) through decap as a
//! plain test, so the corpus is exercised even where cargo-fuzz cannot run.
//! Each input is also tried truncated at every length up to 512 bytes.
mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::repo_path;
use geneve_gw::tunnel::{Buffer, DecapConfig, Decapsulator, VecBuffer, Verdict};

#[test]
fn decap_fuzz_corpus_replays_without_panic() {
    let dir = repo_path("fuzz/corpus/decap");
    let mut cfg = DecapConfig::new(
        vec![
            Ipv4Addr::new(20, 0, 0, 1),
            Ipv4Addr::new(20, 0, 0, 2),
            Ipv4Addr::new(10, 25, 132, 13),
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(192, 168, 100, 1),
            Ipv4Addr::new(192, 168, 100, 3),
            Ipv4Addr::new(198, 18, 0, 1),
        ],
        vec![
            "2604:1380:4091:ce00::d".parse::<Ipv6Addr>().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ],
    );
    cfg.vxlan_port = Some(4789);
    let d = Decapsulator::new(cfg);
    let mut n = 0;
    let mut delivered = 0;
    let mut vxlan = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        n += 1;
        if let Verdict::Deliver(del) = d.decap(&data) {
            delivered += 1;
            vxlan += usize::from(del.encap == geneve_gw::wire::Encapsulation::Vxlan);
            assert!(usize::from(del.payload_offset) + usize::from(del.payload_len) <= data.len());
            let mut b = VecBuffer::with_headroom(0, &data);
            assert!(matches!(d.decap_in_place(&mut b), Verdict::Deliver(_)));
            assert_eq!(b.len(), usize::from(del.payload_len));
        }
        for cut in 0..data.len().min(512) {
            if let Verdict::Deliver(del) = d.decap(&data[..cut]) {
                assert!(usize::from(del.payload_offset) + usize::from(del.payload_len) <= cut);
            }
        }
    }
    assert!(n >= 50, "seed corpus has {n} files");
    // geneve.pcap VNI 0xb (20), zeek (6 + 2), gcp (1), gso ipv4 (2); the
    // scapy VXLAN seeds: plain IPv4 and IPv6, reserved bits set, CE over
    // ECT(0) (no I flag and truncated are drops).
    assert_eq!(delivered, 35);
    assert_eq!(vxlan, 4);
}

#[path = "../fuzz/checks.rs"]
mod checks;

/// Every seed of fuzz/corpus/NAME through `check`, whole and cut at every
/// length up to 512 bytes; returns what `check` said of each whole seed.
fn replay<T>(name: &str, mut check: impl FnMut(&[u8]) -> T) -> Vec<T> {
    let dir = repo_path(&format!("fuzz/corpus/{name}"));
    let mut whole = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        whole.push(check(&data));
        for cut in 0..data.len().min(512) {
            check(&data[..cut]);
        }
    }
    whole
}

// Each corpus reaches the target's interesting path, not only its early
// rejections (the seeds are scapy-built requests, frames and configs).

#[test]
fn config_fuzz_corpus_replays_without_panic() {
    let r = replay("config", checks::config);
    assert!(r.len() >= 8);
    // The shipped examples and the fixed access config load.
    assert!(r.iter().filter(|ok| **ok).count() >= 6, "{r:?}");
}

#[test]
fn responder_fuzz_corpus_replays() {
    let local = checks::local_addrs();
    let mut out = Vec::new();
    let r = replay("responder", |d| checks::responder(d, &local, &mut out));
    assert!(r.len() >= 11);
    // ARP requests (plain, tagged), echo requests (v4, QinQ, IP options,
    // v6, link-local), the NS: each must be answered.
    assert!(r.iter().filter(|x| **x).count() >= 7, "{r:?}");
}

#[test]
fn encap_options_fuzz_corpus_replays() {
    let r = replay("encap_options", checks::encap_options);
    assert!(r.len() >= 7);
    assert!(r.iter().filter(|x| **x).count() >= 5, "{r:?}");
}

#[test]
fn segment_fuzz_corpus_replays() {
    let r = replay("segment", checks::segment);
    assert!(r.len() >= 9);
    assert!(r.iter().filter(|n| **n > 1).count() >= 5, "{r:?}");
}

/// The same seeds through the look-ahead of a large MAC table: each
/// frame taken gets the per-packet path's bytes (checks::access_ahead),
/// and some seeds, sent to a known MAC, are taken.
#[test]
fn access_fuzz_corpus_replays_through_the_look_ahead() {
    let t = checks::access_ahead_tables();
    let r = replay("access", |d| checks::access_ahead(&t, d));
    assert!(r.len() >= 10);
    assert!(r.iter().any(|n| n.is_some_and(|n| n > 0)), "{r:?}");
}

#[test]
fn access_fuzz_corpus_replays() {
    use checks::Outcome;
    let t = checks::access_tables();
    let r = replay("access", |d| checks::access(&t, d));
    assert!(r.len() >= 10);
    assert!(
        r.iter().any(|o| matches!(o, Some(Outcome::Encapped(_)))),
        "{r:?}"
    );
    assert!(
        r.iter().any(|o| matches!(o, Some(Outcome::Flood(_)))),
        "{r:?}"
    );
    assert!(
        r.iter().any(|o| matches!(o, Some(Outcome::Drop(_)))),
        "{r:?}"
    );
}
