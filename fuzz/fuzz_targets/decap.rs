//! Fuzz target: decap never panics, never reads past the frame, and a
//! delivered payload lies inside the frame; with VXLAN received on 4789,
//! the VXLAN fast tier gives the general tier's verdict when it takes one.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use geneve_gw::tunnel::{
    DecapConfig, Decapsulator, FastVerdict, KnownOption, OptionRegistry, VecBuffer, Verdict,
};
use libfuzzer_sys::fuzz_target;

fn decapsulator() -> Decapsulator {
    // Local addresses of the seed captures and of the test suite.
    let v4 = [
        "20.0.0.1",
        "20.0.0.2",
        "10.25.132.13",
        "10.0.0.2",
        "192.168.100.1",
        "192.168.100.3",
        "198.18.0.1",
    ];
    let mut c = DecapConfig::new(
        v4.iter().map(|a| a.parse::<Ipv4Addr>().unwrap()).collect(),
        vec![
            "2604:1380:4091:ce00::d".parse::<Ipv6Addr>().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ],
    );
    c.max_options = 16;
    c.vxlan_port = Some(4789);
    c.registry = OptionRegistry::from_options([KnownOption {
        class: 0,
        typ: 0x80,
        name: "fuzz".into(),
        len_words: Some(1),
    }])
    .unwrap();
    Decapsulator::new(c)
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static D: Decapsulator = decapsulator();
    }
    D.with(|d| {
        if let Verdict::Deliver(del) | Verdict::Control(del) = d.decap(data) {
            assert!(usize::from(del.payload_offset) + usize::from(del.payload_len) <= data.len());
        }
        let mut b = VecBuffer::with_headroom(0, data);
        let _ = d.decap_in_place(&mut b);
        match (d.decap_fast_vxlan_v4(data, false), d.decap_general(data)) {
            (None, _) => {}
            (Some(FastVerdict::Deliver(a)), Verdict::Deliver(b)) => {
                assert_eq!((a.vni, a.payload_offset, a.payload_len), (b.vni, b.payload_offset, b.payload_len));
            }
            (Some(FastVerdict::Drop(a)), Verdict::Drop(b)) => assert_eq!(a, b),
            (a, b) => panic!("VXLAN fast tier {a:?}, general tier {b:?}"),
        }
    });
});
