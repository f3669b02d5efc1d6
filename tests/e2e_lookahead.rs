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

/// The remote VTEP of every MAC that goes over VXLAN in
/// [`vxlan_members_of_a_large_mac_table_are_counted_as_vxlan`].
const VXLAN_REMOTE: [u8; 4] = [198, 18, 0, 3];

/// Whether MAC `i` goes to the VXLAN member when some do (every third).
fn over_vxlan(vxlan: bool, i: usize) -> bool {
    vxlan && i % 3 == 1
}

#[test]
fn large_mac_table_sends_every_frame_to_its_own_vtep_in_order() {
    through_a_large_mac_table("gw-scale-l2", false);
}

/// A segment of Geneve and VXLAN members: a frame the look-ahead
/// encapsulates over VXLAN counts as VXLAN, as the express tier's and the
/// per-packet path's do.
#[test]
fn vxlan_members_of_a_large_mac_table_are_counted_as_vxlan() {
    through_a_large_mac_table("gw-scale-l2-vxlan", true);
}

/// N frames over a table of MACS static MACs, in order; with `vxlan`
/// every third MAC's remote is a VXLAN member of the segment.
fn through_a_large_mac_table(name: &str, vxlan: bool) {
    let _slot = dpdk_slot();
    let dir = scratch(name);
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
        &format!("gwscale-{}-{}", vxlan, std::process::id()),
    )
    .yaml();
    cfg.push_str(
        r#"
vtep:
  ipv4: 198.18.0.1/24
  vxlan_port: 4789
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.19.0.0/16, 198.18.0.3/32] }
"#,
    );
    if vxlan {
        cfg.push_str(
            "tunnels:\n  - { name: tor, remote: 198.18.0.3, vni: 5000, encapsulation: vxlan }\n",
        );
    }
    cfg.push_str(
        r#"l2:
  learning: false
  segments:
    - port: acc
      vni: 100
      flood: []
"#,
    );
    if vxlan {
        cfg.push_str("      vxlan_vni: 5000\n");
    }
    cfg.push_str("      static_macs:\n");
    for i in 0..MACS {
        let m = mac(i).map(|b| format!("{b:02x}")).join(":");
        let r = if over_vxlan(vxlan, i) {
            VXLAN_REMOTE
        } else {
            remote(i)
        };
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
    let mut over = 0;
    for (i, (o, sent)) in out.iter().zip(&frames).enumerate() {
        // RFC 791 / 768 / 8926 (and 7348) layout: outer Ethernet (14),
        // IPv4 (20, its destination at 16..20), UDP (8, its destination
        // port at 2..4), Geneve or VXLAN (8, VNI at 4..7), frame.
        assert_eq!(&o[50..], &sent[..], "frame {i}");
        if over_vxlan(vxlan, dst[i]) {
            over += 1;
            assert_eq!(o[30..34], VXLAN_REMOTE, "frame {i}: outer destination");
            assert_eq!(o[36..38], 4789u16.to_be_bytes(), "frame {i}: VXLAN port");
            assert_eq!(o[46..49], [0, 0x13, 0x88], "frame {i}: VXLAN VNI 5000");
        } else {
            assert_eq!(o[30..34], remote(dst[i]), "frame {i}: outer destination");
            assert_eq!(o[36..38], 6081u16.to_be_bytes(), "frame {i}: Geneve port");
            assert_eq!(o[46..49], [0, 0, 100], "frame {i}: VNI");
        }
    }
    assert_eq!(over > 0, vxlan, "{over} frames over VXLAN");
    // The exit report's split: `encap geneve G vxlan V`.
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("encap geneve "))
        .unwrap_or_default();
    assert_eq!(
        line,
        format!("encap geneve {} vxlan {over}", N - over),
        "{}",
        r.stdout
    );
}
