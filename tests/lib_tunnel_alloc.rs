//! No heap allocation on the encap / decap hot paths: a counting global
//! allocator around the calls (this test binary only).
mod common;

use common::*;
use geneve_gw::tunnel::{
    encap, Buffer, DecapConfig, Decapsulator, EncapTemplate, KnownOption, OptionRegistry,
    PayloadKind, QosModel, TcpSegmentation, TunnelOption, VecBuffer, Verdict,
};

/// Heap allocations made by this thread while `f` runs. The
/// `allocation-counter` crate replaces the global allocator of this test
/// binary only (it is a dev-dependency used nowhere else).
fn allocations_during(f: impl FnOnce()) -> u64 {
    allocation_counter::measure(f).count_total
}

fn opts(n: usize) -> Vec<TunnelOption> {
    (0..n)
        .map(|i| TunnelOption {
            class: 0x0100 + i as u16,
            typ: 0x80 | i as u8,
            data: vec![i as u8; 4],
        })
        .collect()
}

#[test]
fn encap_and_decap_do_not_allocate() {
    let mut checked = 0;
    for v6 in [false, true] {
        for n_opts in [0usize, 2, 8] {
            for kind in [PayloadKind::Ethernet, PayloadKind::Ipv4] {
                let mut cfg = tunnel(v6, 5);
                cfg.options = opts(n_opts);
                cfg.payload = kind;
                let t = EncapTemplate::new(&cfg).unwrap();
                let mut dc: DecapConfig = decap_cfg();
                dc.registry =
                    OptionRegistry::from_options(cfg.options.iter().map(|o| KnownOption {
                        class: o.class,
                        typ: o.typ,
                        name: "a".into(),
                        len_words: Some(1),
                    }))
                    .unwrap();
                dc.dscp = QosModel::Uniform;
                dc.ttl = QosModel::Uniform;
                let d = Decapsulator::new(dc);
                let inner_eth = inner_ipv4_udp(1000, 0x02, 64, 9);
                let inner = if kind == PayloadKind::Ethernet {
                    &inner_eth[..]
                } else {
                    &inner_eth[14..]
                };
                let mut b = VecBuffer::with_headroom(t.header_len(), inner);
                let mut frame = Vec::with_capacity(2048);
                // Warm up outside the counted region.
                encap(&t, &mut b, None).unwrap();
                b.reset(t.header_len(), inner);

                let counted = allocations_during(|| {
                    for i in 0..100u32 {
                        b.set_window(t.header_len(), inner.len());
                        encap(&t, &mut b, if i % 2 == 0 { None } else { Some(i) }).unwrap();
                        match d.decap(b.data()) {
                            Verdict::Deliver(del) => {
                                assert_eq!(usize::from(del.options.count), n_opts)
                            }
                            v => panic!("{v:?}"),
                        }
                        assert!(matches!(d.decap_in_place(&mut b), Verdict::Deliver(_)));
                        assert_eq!(b.data(), inner);
                        b.reset(t.header_len(), inner);
                    }
                    // A drop path too (truncated frame).
                    b.set_window(t.header_len(), inner.len());
                    encap(&t, &mut b, None).unwrap();
                    frame.extend_from_slice(b.data());
                    assert!(matches!(d.decap(&frame[..60]), Verdict::Drop(_)));
                });
                assert_eq!(
                    counted, 0,
                    "v6={v6} opts={n_opts} {kind:?}: {counted} allocations"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 12);
    // The counter does count (guards against a vacuous pass).
    let counted = allocations_during(|| {
        let v: Vec<u8> = std::hint::black_box(vec![1, 2, 3]);
        assert_eq!(v.len(), 3);
    });
    assert!(counted > 0);
}

#[test]
fn software_segmentation_does_not_allocate() {
    let t = EncapTemplate::new(&{
        let mut c = tunnel(false, 5);
        c.options = opts(3);
        c.underlay_mtu = 1500;
        c
    })
    .unwrap();
    // An IPv4/TCP frame: the UDP builder's frame with protocol 6 and a TCP
    // header (checksums are not checked here, only that nothing allocates).
    let mut inner = inner_ipv4_udp(5000, 0, 64, 9);
    inner[23] = 6;
    inner[14 + 20 + 12] = 0x50;
    let mut seg = vec![0u8; t.max_inner_len()];
    let mut b = VecBuffer::with_headroom(t.header_len(), &seg);
    // Warm up outside the counted region (as above).
    b.reset(t.header_len(), &inner[..1000]);
    encap(&t, &mut b, None).unwrap();
    let mut segments = 0;
    let counted = allocations_during(|| {
        let plan = TcpSegmentation::plan(&inner, t.payload_kind(), t.max_inner_len()).unwrap();
        for i in 0..plan.count() {
            let n = plan.write(&inner, i, &mut seg).unwrap();
            b.reset(t.header_len(), &seg[..n]);
            encap(&t, &mut b, None).unwrap();
            segments += 1;
        }
    });
    assert_eq!(counted, 0, "{counted} allocations");
    assert!(segments >= 4, "{segments}");
}
