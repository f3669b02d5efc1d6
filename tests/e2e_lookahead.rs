//! The worker with tables large enough for its burst look-ahead
//! (`pipeline::ahead`): every frame still goes to its own entry's tunnel,
//! in order, whether the express tier, the look-ahead or the per-packet
//! path takes it.
mod common;

use std::fmt::Write;
use std::time::Duration;

use common::gw::{self, dpdk_slot, run_gw, strings, Ports};
use common::{read_pcap, scratch, write_pcap};

/// More than the look-ahead's threshold (`AHEAD_MIN_ENTRIES`).
const MACS: usize = 5000;

fn mac(i: usize) -> [u8; 6] {
    let b = (i as u32).to_be_bytes();
    [2, 0x10, b[0], b[1], b[2], b[3]]
}

/// The remote VTEP of static MAC `i`.
fn remote(i: usize) -> [u8; 4] {
    [198, 19, (i / 250) as u8, (1 + i % 250) as u8]
}

#[test]
fn large_mac_table_sends_every_frame_to_its_own_vtep_in_order() {
    let _slot = dpdk_slot();
    let dir = scratch("gw-scale-l2");
    const N: usize = 700;
    // Destinations spread over the table, with runs of one MAC (the
    // express tier's case) and now and then a frame of another EtherType
    // in between.
    let mut dst = Vec::new();
    for i in 0..N {
        let m = if i % 10 < 3 && i > 0 {
            dst[i - 1]
        } else {
            (i * 7919) % MACS
        };
        dst.push(m);
    }
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut f = common::inner_ipv4_udp(60 + i % 41, 0, 64, i as u16);
            f[0..6].copy_from_slice(&mac(dst[i]));
            if i % 13 == 5 {
                f[12..14].copy_from_slice(&[0x88, 0xb5]);
            }
            f
        })
        .collect();
    write_pcap(&dir.join("acc_in.pcap"), &frames);
    write_pcap(&dir.join("ul_in.pcap"), &[]);
    let mut cfg = Ports::new(
        &gw::pcap_devices(&dir)[0],
        &gw::pcap_devices(&dir)[1],
        &format!("gwscale-{}", std::process::id()),
    )
    .yaml();
    cfg.push_str(
        r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.19.0.0/16] }
l2:
  learning: false
  segments:
    - port: acc
      vni: 100
      flood: []
      static_macs:
"#,
    );
    for i in 0..MACS {
        let m = mac(i).map(|b| format!("{b:02x}")).join(":");
        let r = remote(i);
        writeln!(
            cfg,
            "        - {{ mac: \"{m}\", remote: {}.{}.{}.{} }}",
            r[0], r[1], r[2], r[3]
        )
        .unwrap();
    }
    let path = dir.join("gw.yaml");
    std::fs::write(&path, cfg).unwrap();
    let mut args = strings(&["run", "-c", path.to_str().unwrap()]);
    args.extend(strings(&[
        "--stop-after-packets",
        &N.to_string(),
        "--stop-after-idle",
        "2000",
    ]));
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    assert_eq!(r.value("encap "), N as u64, "{}", r.stdout);
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
    let (_, out) = read_pcap(&dir.join("ul_out.pcap"));
    assert_eq!(out.len(), N);
    for (i, (o, sent)) in out.iter().zip(&frames).enumerate() {
        // RFC 791 / 768 / 8926 layout: outer Ethernet (14), IPv4 (20, its
        // destination at 16..20), UDP (8), Geneve (8, VNI at 4..7), frame.
        assert_eq!(&o[50..], &sent[..], "frame {i}");
        assert_eq!(o[30..34], remote(dst[i]), "frame {i}: outer destination");
        assert_eq!(o[46..49], [0, 0, 100], "frame {i}: VNI");
    }
}
