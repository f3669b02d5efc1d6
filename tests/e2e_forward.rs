//! `geneve-gw forward` on DPDK virtual devices, run as a subprocess.
mod common;

use std::path::Path;
use std::time::Duration;

use common::gw::{self, dpdk_slot, eal_base, run_gw, strings};
use common::{have_program, is_root, read_pcap, scratch, skip, write_pcap};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Ethernet/IPv4/UDP frames of `len` bytes for flow `flow` (distinct MACs,
/// addresses and ports), with a payload that differs per frame.
fn frame(len: usize, flow: u8, seq: u32) -> Vec<u8> {
    assert!(len >= 60);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 1, flow]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 2, flow]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 0, flow]);
    f[30..34].copy_from_slice(&[198, 19, 0, flow]);
    f[34..36].copy_from_slice(&(10000 + u16::from(flow)).to_be_bytes());
    f[36..38].copy_from_slice(&5001u16.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    for (i, b) in f[42..].iter_mut().enumerate() {
        *b = (seq as usize * 31 + i * 7) as u8;
    }
    f
}

/// 60..9000-byte frames over several flows, sizes in a fixed mixed order.
fn mixed_frames(n: usize) -> Vec<Vec<u8>> {
    const SIZES: [usize; 10] = [60, 64, 128, 512, 1000, 1500, 1514, 2048, 4000, 9000];
    (0..n)
        .map(|i| frame(SIZES[(i * 7) % SIZES.len()], (i % 5) as u8, i as u32))
        .collect()
}

fn empty_pcap(path: &Path) {
    write_pcap(path, &[]);
}

fn pcap_arg(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn pcap_mixed_frames_come_out_byte_identical_in_order() {
    let _slot = dpdk_slot();
    let dir = scratch("fwd-pcap");
    let input = dir.join("in.pcap");
    let empty = dir.join("empty.pcap");
    let out = dir.join("out.pcap");
    let back = dir.join("back.pcap");
    let frames = mixed_frames(200);
    write_pcap(&input, &frames);
    empty_pcap(&empty);
    let mut args = strings(&[
        "forward",
        "--stop-after-packets",
        "200",
        "--stop-after-idle",
        "3000",
        "--",
    ]);
    args.extend(eal_base("pcap"));
    args.push("--vdev".into());
    args.push(format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        pcap_arg(&input),
        pcap_arg(&back)
    ));
    args.push("--vdev".into());
    args.push(format!(
        "net_pcap1,rx_pcap={},tx_pcap={}",
        pcap_arg(&empty),
        pcap_arg(&out)
    ));
    let r = run_gw(&args, TIMEOUT);
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.port(0), (200, 0, 0), "{}", r.stdout);
    assert_eq!(r.port(1), (0, 200, 0), "{}", r.stdout);
    r.assert_no_leak();
    let (_, got) = read_pcap(&out);
    assert_eq!(got.len(), frames.len());
    for (i, (g, w)) in got.iter().zip(&frames).enumerate() {
        assert!(g == w, "frame {i} ({} bytes) differs", w.len());
    }
    assert!(read_pcap(&back).1.is_empty());
}

#[test]
fn ring_round_trip_returns_every_frame() {
    // pcap0 -> ring1 (its TX feeds its own RX) -> back to pcap0's TX file.
    let _slot = dpdk_slot();
    let dir = scratch("fwd-ring");
    let input = dir.join("in.pcap");
    let out = dir.join("out.pcap");
    let frames = mixed_frames(50);
    write_pcap(&input, &frames);
    let mut args = strings(&["forward", "--stop-after-idle", "1500", "--"]);
    args.extend(eal_base("ring"));
    args.push("--vdev".into());
    args.push(format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        pcap_arg(&input),
        pcap_arg(&out)
    ));
    args.extend(strings(&["--vdev", "net_ring0"]));
    let r = run_gw(&args, TIMEOUT);
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.port(0), (50, 50, 0), "{}", r.stdout);
    assert_eq!(r.port(1), (50, 50, 0), "{}", r.stdout);
    r.assert_no_leak();
    assert_eq!(read_pcap(&out).1, frames);
}

#[test]
fn null_pair_forwards_and_returns_every_mbuf() {
    let _slot = dpdk_slot();
    let mut args = strings(&["forward", "--stop-after-packets", "2000000", "--"]);
    args.extend(eal_base("null"));
    args.extend(strings(&["--vdev", "net_null0", "--vdev", "net_null1"]));
    let r = run_gw(&args, TIMEOUT);
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    let (rx0, tx0, d0) = r.port(0);
    let (rx1, tx1, d1) = r.port(1);
    assert!(rx0 + rx1 >= 2_000_000, "{}", r.stdout);
    // Everything received on one port left through the other, or was counted.
    assert_eq!(rx0, tx1 + d1, "{}", r.stdout);
    assert_eq!(rx1, tx0 + d0, "{}", r.stdout);
    assert!(r.stdout.contains("stopped: "), "{}", r.stdout);
    r.assert_no_leak();
}

#[test]
fn two_queues_two_workers_keep_each_queue_whole_and_ordered() {
    let _slot = dpdk_slot();
    let dir = scratch("fwd-2q");
    let in_q: Vec<_> = (0..2).map(|q| dir.join(format!("in{q}.pcap"))).collect();
    let out_q: Vec<_> = (0..2).map(|q| dir.join(format!("out{q}.pcap"))).collect();
    let back_q: Vec<_> = (0..2).map(|q| dir.join(format!("back{q}.pcap"))).collect();
    let empty = dir.join("empty.pcap");
    empty_pcap(&empty);
    let per_q: Vec<Vec<Vec<u8>>> = (0..2)
        .map(|q| {
            (0..40)
                .map(|i| frame(60 + 37 * i, q as u8 + 10, (q * 1000 + i) as u32))
                .collect()
        })
        .collect();
    for q in 0..2 {
        write_pcap(&in_q[q], &per_q[q]);
    }
    let mut args = strings(&[
        "forward",
        "--workers",
        "2",
        "--stop-after-packets",
        "80",
        "--stop-after-idle",
        "3000",
        "--",
    ]);
    let mut eal = eal_base("2q");
    // Three lcores on two CPUs: control on 0, workers on 1 and 0.
    eal.splice(0..2, strings(&["--lcores", "0@0,1@1,2@0"]));
    args.extend(eal);
    args.push("--vdev".into());
    args.push(format!(
        "net_pcap0,rx_pcap={},rx_pcap={},tx_pcap={},tx_pcap={}",
        pcap_arg(&in_q[0]),
        pcap_arg(&in_q[1]),
        pcap_arg(&back_q[0]),
        pcap_arg(&back_q[1])
    ));
    args.push("--vdev".into());
    args.push(format!(
        "net_pcap1,rx_pcap={},rx_pcap={},tx_pcap={},tx_pcap={}",
        pcap_arg(&empty),
        pcap_arg(&empty),
        pcap_arg(&out_q[0]),
        pcap_arg(&out_q[1])
    ));
    let r = run_gw(&args, TIMEOUT);
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("2 queue(s)"), "{}", r.stderr);
    assert_eq!(r.port(0).0, 80);
    assert_eq!(r.port(1).1, 80);
    assert_eq!(r.stdout.matches("worker ").count(), 2, "{}", r.stdout);
    r.assert_no_leak();
    // Worker q owns queue q on both ports: each queue's frames come out whole
    // and in order on the same queue of the peer port.
    for q in 0..2 {
        assert_eq!(read_pcap(&out_q[q]).1, per_q[q], "queue {q}");
    }
}

#[test]
fn misspelled_vdev_is_one_clear_error() {
    let _slot = dpdk_slot();
    let mut args = strings(&["forward", "--"]);
    args.extend(eal_base("bad-vdev"));
    args.extend(strings(&["--vdev", "net_nul0"]));
    let r = run_gw(&args, TIMEOUT);
    r.assert_clean_error("net_nul0");
    assert!(r.stderr.contains("--vdev"), "{}", r.stderr);
}

#[test]
fn missing_pcap_file_is_one_clear_error() {
    let _slot = dpdk_slot();
    let mut args = strings(&["forward", "--"]);
    args.extend(eal_base("bad-pcap"));
    args.extend(strings(&[
        "--vdev",
        "net_pcap0,rx_pcap=/nonexistent/in.pcap",
    ]));
    let r = run_gw(&args, TIMEOUT);
    r.assert_clean_error("/nonexistent/in.pcap");
}

#[test]
fn more_workers_than_queues_is_one_clear_error() {
    let _slot = dpdk_slot();
    let dir = scratch("fwd-badq");
    let empty = dir.join("empty.pcap");
    empty_pcap(&empty);
    let mut args = strings(&["forward", "--workers", "2", "--"]);
    let mut eal = eal_base("badq");
    eal.splice(0..2, strings(&["--lcores", "0@0,1@1,2@0"]));
    args.extend(eal);
    args.push("--vdev".into());
    args.push(format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        pcap_arg(&empty),
        pcap_arg(&dir.join("o.pcap"))
    ));
    let r = run_gw(&args, TIMEOUT);
    r.assert_clean_error("cannot use 2 RX queues");
}

#[test]
fn no_eal_arguments_is_one_clear_error() {
    let r = run_gw(&strings(&["forward"]), TIMEOUT);
    r.assert_clean_error("after `--`");
}

#[test]
fn one_core_only_is_one_clear_error() {
    let _slot = dpdk_slot();
    let mut args = strings(&["forward", "--"]);
    let mut eal = eal_base("onecore");
    eal[1] = "0".into();
    args.extend(eal);
    args.extend(strings(&["--vdev", "net_null0"]));
    let r = run_gw(&args, TIMEOUT);
    r.assert_clean_error("-l 0-1");
}

#[test]
fn missing_option_value_is_a_usage_error_not_a_panic() {
    let r = run_gw(&strings(&["forward", "--stop-after-packets"]), TIMEOUT);
    r.assert_clean_error("--stop-after-packets");
}

#[test]
fn no_hugepages_and_no_no_huge_is_one_clear_error() {
    // A private mount namespace without hugetlbfs: what a machine that never
    // ran the setup looks like.
    if !is_root() || !have_program("unshare") {
        skip("needs root and unshare(1) for a private mount namespace");
        return;
    }
    let _slot = dpdk_slot();
    let script = format!(
        "umount -a -t hugetlbfs 2>/dev/null; exec {} forward -- -l 0-1 --no-pci --file-prefix gwtest-nohuge --vdev net_null0",
        gw::bin()
    );
    let r = gw::run_cmd(
        std::process::Command::new("unshare").args(["-m", "sh", "-c", &script]),
        TIMEOUT,
    );
    r.assert_clean_error("--no-huge");
    assert!(r.stderr.contains("scripts/setup.sh"), "{}", r.stderr);
}
