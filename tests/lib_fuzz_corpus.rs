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
    let d = Decapsulator::new(DecapConfig::new(
        vec![
            Ipv4Addr::new(20, 0, 0, 1),
            Ipv4Addr::new(20, 0, 0, 2),
            Ipv4Addr::new(10, 25, 132, 13),
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(192, 168, 100, 1),
            Ipv4Addr::new(192, 168, 100, 3),
        ],
        vec!["2604:1380:4091:ce00::d".parse::<Ipv6Addr>().unwrap()],
    ));
    let mut n = 0;
    let mut delivered = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        n += 1;
        if let Verdict::Deliver(del) = d.decap(&data) {
            delivered += 1;
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
    // geneve.pcap VNI 0xb (20), zeek (6 + 2), gcp (1), gso ipv4 (2).
    assert_eq!(delivered, 31);
}
