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

/// The entries `n` frames go to, spread over a table of `entries`, with
/// runs of one entry (the express tier's case) among them.
fn destinations(n: usize, entries: usize) -> Vec<usize> {
    let mut dst = Vec::new();
    for i in 0..n {
        let d = if i % 10 < 3 && i > 0 {
            dst[i - 1]
        } else {
            (i * 7919) % entries
        };
        dst.push(d);
    }
    dst
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
    let dst = destinations(N, MACS);
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
    let (r, out) = run_frames(&dir, &cfg, N);
    assert_eq!(r.value("encap "), N as u64, "{}", r.stdout);
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
    assert_eq!(out.len(), N);
    let mut over = 0;
    for (i, (o, sent)) in out.iter().zip(&frames).enumerate() {
        // RFC 791 / 768 / 8926 (and 7348) layout: outer Ethernet (14),
        // IPv4 (20, its destination at 16..20), UDP (8, its destination
        // port at 2..4), Geneve or VXLAN (8, VNI at 4..7), frame.
        assert_eq!(&o[50..], &sent[..], "frame {i}");
        assert_outer_ipv4_udp(o, i);
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

/// Runs the gateway of configuration `cfg` (written to `dir`) until it
/// has taken `n` frames and is idle; its exit report and the packets it
/// sent on the underlay.
fn run_frames(dir: &std::path::Path, cfg: &str, n: usize) -> (gw::Run, Vec<Vec<u8>>) {
    let path = dir.join("gw.yaml");
    std::fs::write(&path, cfg).unwrap();
    let mut args = strings(&["run", "-c", path.to_str().unwrap()]);
    args.extend(strings(&[
        "--stop-after-packets",
        &n.to_string(),
        "--stop-after-idle",
        "2000",
    ]));
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    let (_, out) = read_pcap(&dir.join("ul_out.pcap"));
    (r, out)
}

/// The outer Ethernet, IPv4 and UDP headers of encapsulated packet `o`
/// (frame `i`): IPv4 without options, its header checksum (summed here,
/// RFC 1071, not with the gateway's code), total length and UDP length
/// those of the packet, the source port in the default range.
fn assert_outer_ipv4_udp(o: &[u8], i: usize) {
    assert_eq!(o[12..14], [0x08, 0x00], "frame {i}: outer EtherType");
    assert_eq!(o[14], 0x45, "frame {i}: outer IPv4, no options");
    assert_eq!(o[23], 17, "frame {i}: UDP");
    let mut sum = 0u32;
    for w in o[14..34].chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    assert_eq!(sum, 0xffff, "frame {i}: outer IPv4 header checksum");
    let total = u16::from_be_bytes([o[16], o[17]]) as usize;
    assert_eq!(total, o.len() - 14, "frame {i}: outer total length");
    let udp_len = u16::from_be_bytes([o[38], o[39]]) as usize;
    assert_eq!(udp_len, o.len() - 34, "frame {i}: UDP length");
    let sport = u16::from_be_bytes([o[34], o[35]]);
    assert!(sport >= 49152, "frame {i}: source port {sport}");
}

/// Routes in [`large_route_table_sends_every_packet_to_its_own_vtep_in_order`].
const ROUTES: u32 = 5000;
/// Their tunnels (route r goes to tunnel r % TUNNELS).
const TUNNELS: u32 = 1000;
/// The first routed address, 198.18.64.0: route r is it plus r, /32.
const FIRST_ROUTE: u32 = 0xc612_4000;

fn route_remote(t: u32) -> [u8; 4] {
    [198, 18, (1 + t / 250) as u8, (1 + t % 250) as u8]
}

/// An L3 access port with more routes than the look-ahead's threshold:
/// every packet leaves under its own route's tunnel, in order, with the
/// header a fast-tier encapsulation writes, whichever tier took it (a
/// packet with IP options or another EtherType now and then in between).
#[test]
fn large_route_table_sends_every_packet_to_its_own_vtep_in_order() {
    let _slot = dpdk_slot();
    let dir = scratch("gw-scale-l3");
    const N: usize = 700;
    let dst: Vec<u32> = destinations(N, ROUTES as usize)
        .into_iter()
        .map(|r| r as u32)
        .collect();
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut f = common::inner_ipv4_udp(60 + i % 41, (i % 256) as u8, 64, i as u16);
            f[0..6].copy_from_slice(&[2, 0, 0, 0, 1, 2]);
            f[30..34].copy_from_slice(&(FIRST_ROUTE + dst[i]).to_be_bytes());
            if i % 17 == 6 {
                // IHL 6: a four-byte option (the flow hash takes the
                // general path), the ports after it.
                f.splice(34..34, [1, 1, 1, 0]);
                f[14] = 0x46;
                let ip_len = (f.len() - 14) as u16;
                f[16..18].copy_from_slice(&ip_len.to_be_bytes());
            }
            if i % 13 == 5 {
                // IPv6 EtherType on an IPv4 body: no route, a counted drop.
                f[12..14].copy_from_slice(&[0x86, 0xdd]);
            }
            f
        })
        .collect();
    let dropped = (0..N).filter(|i| i % 13 == 5).count();
    write_pcap(&dir.join("acc_in.pcap"), &frames);
    write_pcap(&dir.join("ul_in.pcap"), &[]);
    let mut cfg = Ports::new(
        &gw::pcap_devices(&dir)[0],
        &gw::pcap_devices(&dir)[1],
        &format!("gwscale-l3-{}", std::process::id()),
    )
    .yaml();
    cfg.push_str(
        "vtep:\n  ipv4: 198.18.0.1/24\n  next_hops:\n    - { via: 198.18.0.254, mac: \"02:00:00:00:00:fe\" }\ntunnels:\n",
    );
    for t in 0..TUNNELS {
        let r = route_remote(t);
        writeln!(
            cfg,
            "  - {{ name: t{t}, remote: {}.{}.{}.{}, vni: {} }}",
            r[0],
            r[1],
            r[2],
            r[3],
            1000 + t
        )
        .unwrap();
    }
    cfg.push_str("l3:\n  access: { port: acc, ipv4: 198.19.0.1/24, next_hop_mac: \"02:00:00:00:00:09\" }\n  routes:\n");
    for r in 0..ROUTES {
        let a = (FIRST_ROUTE + r).to_be_bytes();
        writeln!(
            cfg,
            "    - {{ prefix: {}.{}.{}.{}/32, tunnel: t{} }}",
            a[0],
            a[1],
            a[2],
            a[3],
            r % TUNNELS
        )
        .unwrap();
    }
    let (r, out) = run_frames(&dir, &cfg, N);
    assert_eq!(r.value("encap "), (N - dropped) as u64, "{}", r.stdout);
    assert_eq!(r.value("drops total "), dropped as u64, "{}", r.stdout);
    let sent: Vec<(usize, &Vec<u8>)> = frames
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 13 != 5)
        .collect();
    assert_eq!(out.len(), sent.len());
    for (o, (i, f)) in out.iter().zip(sent) {
        // Outer Ethernet (14), IPv4 (20), UDP (8), Geneve (8; protocol
        // IPv4, VNI at 4..7), then the IP packet without its Ethernet header.
        assert_eq!(&o[50..], &f[14..], "packet {i}");
        assert_outer_ipv4_udp(o, i);
        let t = dst[i] % TUNNELS;
        assert_eq!(o[30..34], route_remote(t), "packet {i}: outer destination");
        assert_eq!(o[36..38], 6081u16.to_be_bytes(), "packet {i}: Geneve port");
        assert_eq!(o[44..46], [0x08, 0x00], "packet {i}: Geneve protocol IPv4");
        let vni = u32::from_be_bytes([0, o[46], o[47], o[48]]);
        assert_eq!(vni, 1000 + t, "packet {i}: VNI");
    }
}
