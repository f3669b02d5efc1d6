//! Stitching through the binary on net_pcap: scapy writes VXLAN frames
//! from the fabric's VTEP for a MAC behind the Geneve VTEP and Geneve
//! frames for a MAC behind the VXLAN VTEP; `geneve-gw run` re-encapsulates
//! each on the underlay port; tshark (not our parser) reads what left.
//! With learning off the frames take the stitch express tier, with
//! learning on the one-by-one path: the same bytes and counters.
mod common;

use std::path::Path;
use std::time::Duration;

use common::gw::{self, dpdk_slot, run_gw, strings, Ports};
use common::{have_scapy, have_tshark, read_pcap, scapy, scratch, tshark_fields};

const N: usize = 100;

const TAIL: &str = r#"
vtep:
  ipv4: 198.18.0.1/24
  vxlan_port: 4789
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32, 198.18.0.3/32] }
tunnels:
  - { name: ovn, remote: 198.18.0.2, vni: 1000, mesh: overlay }
  - { name: tor, remote: 198.18.0.3, vni: 5000, encapsulation: vxlan, mesh: fabric }
l2:
  learning: LEARN
  segments:
    - { port: acc, vni: 1000, vxlan_vni: 5000, flood: [],
        static_macs: [ { mac: "02:00:00:00:0b:02", remote: 198.18.0.2 },
                       { mac: "02:00:00:00:0b:03", remote: 198.18.0.3 } ] }
"#;

/// tshark's fields of every frame of `file`, `|`-separated, first
/// occurrence (the outer headers).
fn fields(file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    tshark_fields(
        file,
        &["-d", "udp.port==4789,vxlan", "-E", "occurrence=f"],
        fields,
    )
}

fn stitch_run(learning: bool) {
    let _slot = dpdk_slot();
    let dir = scratch(&format!("stitch-pcap-{learning}"));
    scapy(
        "vxlan_oracle.py",
        ["stitch", dir.to_str().unwrap(), &N.to_string()],
    );
    let devices = gw::pcap_devices(&dir);
    let prefix = format!("gwtest-{}-{learning}", std::process::id());
    let ports = Ports::new(&devices[0], &devices[1], &prefix);
    let cfg = dir.join("gw.yaml");
    let tail = TAIL.replace("LEARN", if learning { "true" } else { "false" });
    std::fs::write(&cfg, ports.yaml() + &tail).unwrap();
    let mut args = strings(&["run", "-c", cfg.to_str().unwrap()]);
    args.extend(strings(&[
        "--stop-after-packets",
        &(2 * N).to_string(),
        "--stop-after-idle",
        "2000",
    ]));
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    assert_eq!(r.value("encap "), 2 * N as u64, "{}", r.stdout);
    assert_eq!(r.value("decap "), 0, "{}", r.stdout);
    assert_eq!(r.value("stitched "), 2 * N as u64, "{}", r.stdout);
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
    let split = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("encap geneve "))
        .unwrap()
        .to_string();
    assert_eq!(split, format!("{N} vxlan {N}"), "{}", r.stdout);
    let out = dir.join("ul_out.pcap");
    let rows = fields(
        &out,
        &[
            "ip.dst",
            "udp.dstport",
            "vxlan.vni",
            "geneve.vni",
            "vxlan.flags",
            "geneve.proto_type",
        ],
    );
    assert_eq!(rows.len(), 2 * N);
    let (_, sent) = read_pcap(&dir.join("ul_in.pcap"));
    let (_, got) = read_pcap(&out);
    for (i, r) in rows.iter().enumerate() {
        if i < N {
            // VXLAN in, Geneve VNI 1000 out to 198.18.0.2.
            assert_eq!(r[..2], ["198.18.0.2", "6081"], "{i}: {r:?}");
            assert_eq!(r[3], "0x0003e8", "{i}: VNI 1000");
            assert_eq!(r[5], "0x6558", "{i}");
        } else {
            // Geneve in, VXLAN VNI 5000 out to 198.18.0.3, I flag only.
            assert_eq!(r[..3], ["198.18.0.3", "4789", "5000"], "{i}: {r:?}");
            assert_eq!(r[4], "0x0800", "{i}");
        }
        // The inner frame crossed byte for byte (50 bytes of outer headers
        // both ways: no options on either side here).
        assert_eq!(got[i][50..], sent[i][50..], "frame {i}");
    }
}

#[test]
fn vxlan_and_geneve_are_stitched_through_the_express_tier() {
    if !have_scapy() || !have_tshark() {
        return;
    }
    stitch_run(false);
}

#[test]
fn vxlan_and_geneve_are_stitched_one_by_one_with_learning() {
    if !have_scapy() || !have_tshark() {
        return;
    }
    stitch_run(true);
}
