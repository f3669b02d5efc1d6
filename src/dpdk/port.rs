//! Ethernet ports: configuration, queues, start/stop, link and statistics.
use std::ffi::CStr;

use super::error::DpdkError;
use super::mempool::Mempool;

/// Number of ports the EAL probed.
pub fn port_count() -> u16 {
    // SAFETY: no preconditions beyond a running EAL.
    unsafe { dpdk_sys::rte_eth_dev_count_avail() }
}

/// TX offloads a caller may ask for; only those the port advertises are
/// enabled (`rte_eth_dev_configure` rejects the others).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOffloads(pub u64);

impl TxOffloads {
    pub fn ipv4_cksum() -> u64 {
        // SAFETY: reads an immutable C constant.
        unsafe { dpdk_sys::GENEVE_ETH_TX_OFFLOAD_IPV4_CKSUM }
    }
    pub fn udp_cksum() -> u64 {
        // SAFETY: reads an immutable C constant.
        unsafe { dpdk_sys::GENEVE_ETH_TX_OFFLOAD_UDP_CKSUM }
    }
    pub fn tcp_cksum() -> u64 {
        // SAFETY: reads an immutable C constant.
        unsafe { dpdk_sys::GENEVE_ETH_TX_OFFLOAD_TCP_CKSUM }
    }
    pub fn outer_ipv4_cksum() -> u64 {
        // SAFETY: reads an immutable C constant.
        unsafe { dpdk_sys::GENEVE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM }
    }
    pub fn outer_udp_cksum() -> u64 {
        // SAFETY: reads an immutable C constant.
        unsafe { dpdk_sys::GENEVE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM }
    }
    pub fn geneve_tnl_tso() -> u64 {
        // SAFETY: reads an immutable C constant.
        unsafe { dpdk_sys::GENEVE_ETH_TX_OFFLOAD_GENEVE_TNL_TSO }
    }
    pub fn tcp_tso() -> u64 {
        // SAFETY: reads an immutable C constant.
        unsafe { dpdk_sys::GENEVE_ETH_TX_OFFLOAD_TCP_TSO }
    }
    pub fn multi_segs() -> u64 {
        // SAFETY: reads an immutable C constant.
        unsafe { dpdk_sys::GENEVE_ETH_TX_OFFLOAD_MULTI_SEGS }
    }
}

/// How to set a port up.
#[derive(Debug, Clone)]
pub struct PortSetup {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// None keeps the PMD's default.
    pub mtu: Option<u16>,
    pub promiscuous: bool,
    /// Requested; masked with what the port advertises.
    pub tx_offloads: TxOffloads,
    /// RX offloads (`RTE_ETH_RX_OFFLOAD_*` bits) requested; masked with
    /// what the port advertises.
    pub rx_offloads: u64,
}

/// The RX offload the gateway asks an underlay port for.
pub fn rx_offload_ipv4_cksum() -> u64 {
    // SAFETY: reads an immutable C constant.
    unsafe { dpdk_sys::GENEVE_ETH_RX_OFFLOAD_IPV4_CKSUM }
}

/// The RX offload for the outer UDP checksum of tunnel packets (decap
/// over IPv6 trusts its GOOD verdict).
pub fn rx_offload_outer_udp_cksum() -> u64 {
    // SAFETY: reads an immutable C constant.
    unsafe { dpdk_sys::GENEVE_ETH_RX_OFFLOAD_OUTER_UDP_CKSUM }
}

impl Default for PortSetup {
    fn default() -> Self {
        PortSetup {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            promiscuous: true,
            tx_offloads: TxOffloads::default(),
            rx_offloads: 0,
        }
    }
}

/// What a port is and can do (`rte_eth_dev_info_get`).
#[derive(Debug, Clone, Default)]
pub struct PortInfo {
    pub id: u16,
    pub name: String,
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub min_mtu: u16,
    pub max_mtu: u16,
    pub rx_offload_capa: u64,
    pub tx_offload_capa: u64,
    pub flow_type_rss_offloads: u64,
    pub mac: [u8; 6],
}

/// What configuration actually enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppliedConfig {
    pub rss: bool,
    pub rss_hf: u64,
    pub tx_offloads: u64,
    pub rx_offloads: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// Basic port counters (`rte_eth_stats_get`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedStat {
    pub name: String,
    pub value: u64,
}

/// A probed Ethernet port. Dropping a started port stops and closes it.
pub struct Port {
    info: PortInfo,
    applied: AppliedConfig,
    started: bool,
    configured: bool,
}

fn cstr_to_string(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: DPDK hands out NUL-terminated strings that outlive this call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

impl Port {
    /// Opens port `id` (as numbered by the EAL's probe order).
    pub fn open(id: u16) -> Result<Port, DpdkError> {
        // SAFETY: plain query of a port id.
        if unsafe { dpdk_sys::rte_eth_dev_is_valid_port(id) } == 0 {
            return Err(DpdkError::new(format!("port {id} does not exist"), 19));
        }
        let mut di = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: di is a valid out-parameter for this valid port.
        let rc = unsafe { dpdk_sys::rte_eth_dev_info_get(id, &mut di) };
        if rc != 0 {
            return Err(DpdkError::new(
                format!("port {id}: cannot read device info"),
                rc,
            ));
        }
        let mut name = [0 as std::os::raw::c_char; dpdk_sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: name has RTE_ETH_NAME_MAX_LEN bytes as the API requires.
        unsafe { dpdk_sys::rte_eth_dev_get_name_by_port(id, name.as_mut_ptr()) };
        let mut mac = dpdk_sys::rte_ether_addr::default();
        // SAFETY: mac is a valid out-parameter.
        unsafe { dpdk_sys::rte_eth_macaddr_get(id, &mut mac) };
        let info = PortInfo {
            id,
            name: cstr_to_string(name.as_ptr()),
            driver: cstr_to_string(di.driver_name),
            max_rx_queues: di.max_rx_queues,
            max_tx_queues: di.max_tx_queues,
            min_mtu: di.min_mtu,
            max_mtu: di.max_mtu,
            rx_offload_capa: di.rx_offload_capa,
            tx_offload_capa: di.tx_offload_capa,
            flow_type_rss_offloads: di.flow_type_rss_offloads,
            mac: mac.addr_bytes,
        };
        Ok(Port {
            info,
            applied: AppliedConfig::default(),
            started: false,
            configured: false,
        })
    }

    pub fn id(&self) -> u16 {
        self.info.id
    }

    pub fn info(&self) -> &PortInfo {
        &self.info
    }

    pub fn applied(&self) -> AppliedConfig {
        self.applied
    }

    fn err(&self, what: impl std::fmt::Display, rc: i32) -> DpdkError {
        DpdkError::new(
            format!("port {} ({}): {what}", self.info.id, self.info.name),
            rc,
        )
    }

    /// Configures queues, RSS, MTU and offloads, sets up every queue on
    /// `pool`, and starts the port. On failure the error carries what the
    /// driver logged (its own cause) and what to check.
    pub fn configure_and_start(
        &mut self,
        cfg: &PortSetup,
        pool: &Mempool,
    ) -> Result<AppliedConfig, DpdkError> {
        let (r, log) = super::log::capture(|| self.configure_and_start_quiet(cfg, pool));
        // The rest of DPDK's log goes where it would have gone (stderr); its
        // errors become part of the error.
        for l in log
            .all
            .lines()
            .filter(|l| r.is_ok() || !log.errors.contains(l))
        {
            eprintln!("{l}");
        }
        r.map_err(|mut e| {
            if let Some(said) = log.error_line() {
                let hint = failure_hint(&self.info.driver, &said);
                e.detail = Some(format!("DPDK said: {said}{hint}"));
            }
            e
        })
    }

    fn configure_and_start_quiet(
        &mut self,
        cfg: &PortSetup,
        pool: &Mempool,
    ) -> Result<AppliedConfig, DpdkError> {
        let id = self.info.id;
        let i = &self.info;
        if cfg.rx_queues == 0 || cfg.rx_queues > i.max_rx_queues {
            return Err(self.err(
                format!(
                    "cannot use {} RX queues: the device supports at most {}; use fewer workers, or give the device more queues (for net_pcap one rx_pcap= per queue)",
                    cfg.rx_queues, i.max_rx_queues
                ),
                22,
            ));
        }
        if cfg.tx_queues == 0 || cfg.tx_queues > i.max_tx_queues {
            return Err(self.err(
                format!(
                    "cannot use {} TX queues: the device supports at most {}; use fewer workers, or give the device more queues (for net_pcap one tx_pcap= per queue)",
                    cfg.tx_queues, i.max_tx_queues
                ),
                22,
            ));
        }
        if let Some(mtu) = cfg.mtu {
            if mtu < i.min_mtu || mtu > i.max_mtu {
                return Err(self.err(
                    format!(
                        "MTU {mtu} is outside what the device allows ({}..={})",
                        i.min_mtu, i.max_mtu
                    ),
                    22,
                ));
            }
        }
        let mut conf = dpdk_sys::rte_eth_conf::default();
        let mut applied = AppliedConfig::default();
        if cfg.rx_queues > 1 && i.flow_type_rss_offloads != 0 {
            // SAFETY: reads immutable C constants.
            let want = unsafe {
                dpdk_sys::GENEVE_ETH_RSS_IP
                    | dpdk_sys::GENEVE_ETH_RSS_UDP
                    | dpdk_sys::GENEVE_ETH_RSS_TCP
            };
            conf.rxmode.mq_mode = dpdk_sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = want & i.flow_type_rss_offloads;
            conf.rx_adv_conf.rss_conf.rss_key = std::ptr::null_mut();
            applied.rss = true;
            applied.rss_hf = conf.rx_adv_conf.rss_conf.rss_hf;
            // SAFETY: reads an immutable C constant.
            let rss_hash = unsafe { dpdk_sys::GENEVE_ETH_RX_OFFLOAD_RSS_HASH };
            if i.rx_offload_capa & rss_hash != 0 {
                conf.rxmode.offloads |= rss_hash;
            }
        }
        if let Some(mtu) = cfg.mtu {
            conf.rxmode.mtu = u32::from(mtu);
        }
        applied.rx_offloads = cfg.rx_offloads & i.rx_offload_capa;
        conf.rxmode.offloads |= applied.rx_offloads;
        applied.tx_offloads = cfg.tx_offloads.0 & i.tx_offload_capa;
        conf.txmode.offloads = applied.tx_offloads;

        // SAFETY: conf is fully initialised; the port is valid and stopped.
        let rc =
            unsafe { dpdk_sys::rte_eth_dev_configure(id, cfg.rx_queues, cfg.tx_queues, &conf) };
        if rc != 0 {
            return Err(self.err(
                format!(
                    "cannot configure {} RX / {} TX queues",
                    cfg.rx_queues, cfg.tx_queues
                ),
                rc,
            ));
        }
        self.configured = true;
        let mut rxd = cfg.rx_desc;
        let mut txd = cfg.tx_desc;
        // SAFETY: valid port; rxd/txd are in-out parameters.
        let rc = unsafe { dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rxd, &mut txd) };
        if rc != 0 {
            return Err(self.err("cannot adjust descriptor counts", rc));
        }
        // SAFETY: valid port.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        for q in 0..cfg.rx_queues {
            // SAFETY: valid configured port, queue index below the configured
            // count, pool is a live pktmbuf pool; NULL rx_conf means defaults.
            let rc = unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    id,
                    q,
                    rxd,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            if rc != 0 {
                return Err(self.err(
                    format!("cannot set up RX queue {q} ({rxd} descriptors)"),
                    rc,
                ));
            }
        }
        let mut di = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: valid out-parameter for a valid port.
        unsafe { dpdk_sys::rte_eth_dev_info_get(id, &mut di) };
        let mut txconf = di.default_txconf;
        txconf.offloads = applied.tx_offloads;
        for q in 0..cfg.tx_queues {
            // SAFETY: valid configured port, queue below the configured count,
            // txconf initialised from the device defaults.
            let rc = unsafe { dpdk_sys::rte_eth_tx_queue_setup(id, q, txd, socket, &txconf) };
            if rc != 0 {
                return Err(self.err(
                    format!("cannot set up TX queue {q} ({txd} descriptors)"),
                    rc,
                ));
            }
        }
        // SAFETY: valid, configured port with all queues set up.
        let rc = unsafe { dpdk_sys::rte_eth_dev_start(id) };
        if rc != 0 {
            return Err(self.err("cannot start", rc));
        }
        self.started = true;
        if cfg.promiscuous {
            // SAFETY: valid started port. Some PMDs have no promiscuous mode
            // (-ENOTSUP): they receive everything anyway, so that is fine.
            let rc = unsafe { dpdk_sys::rte_eth_promiscuous_enable(id) };
            if rc != 0 && rc != -95 {
                return Err(self.err("cannot enable promiscuous mode", rc));
            }
        }
        self.applied = applied;
        Ok(applied)
    }

    /// Stops the port (its queues stop receiving and sending).
    pub fn stop(&mut self) {
        if self.started {
            // SAFETY: valid started port; workers using it have stopped.
            unsafe { dpdk_sys::rte_eth_dev_stop(self.info.id) };
            self.started = false;
        }
    }

    pub fn link(&self) -> LinkStatus {
        let mut l = dpdk_sys::rte_eth_link::default();
        // SAFETY: valid port, valid out-parameter; the nowait variant never blocks.
        unsafe { dpdk_sys::rte_eth_link_get_nowait(self.info.id, &mut l) };
        LinkStatus {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() != 0,
        }
    }

    pub fn stats(&self) -> PortStats {
        stats_of(self.info.id)
    }

    /// Every extended statistic the PMD offers, by name.
    pub fn xstats(&self) -> Vec<ExtendedStat> {
        let id = self.info.id;
        // SAFETY: a NULL array asks for the count only.
        let n = unsafe { dpdk_sys::rte_eth_xstats_get_names(id, std::ptr::null_mut(), 0) };
        if n <= 0 {
            return Vec::new();
        }
        let n = n as usize;
        let mut names = vec![dpdk_sys::rte_eth_xstat_name::default(); n];
        let mut vals = vec![dpdk_sys::rte_eth_xstat::default(); n];
        // SAFETY: both arrays hold n entries as promised to DPDK.
        let got_names =
            unsafe { dpdk_sys::rte_eth_xstats_get_names(id, names.as_mut_ptr(), n as u32) };
        // SAFETY: as above.
        let got_vals = unsafe { dpdk_sys::rte_eth_xstats_get(id, vals.as_mut_ptr(), n as u32) };
        if got_names <= 0 || got_vals <= 0 {
            return Vec::new();
        }
        let m = (got_names as usize).min(got_vals as usize).min(n);
        vals[..m]
            .iter()
            .filter_map(|v| {
                names.get(v.id as usize).map(|nm| ExtendedStat {
                    name: cstr_to_string(nm.name.as_ptr()),
                    value: v.value,
                })
            })
            .collect()
    }
}

/// Counters of port `id`.
pub fn stats_of(id: u16) -> PortStats {
    let mut s = dpdk_sys::rte_eth_stats::default();
    // SAFETY: valid out-parameter; an invalid port id just returns an error.
    unsafe { dpdk_sys::rte_eth_stats_get(id, &mut s) };
    PortStats {
        rx_packets: s.ipackets,
        tx_packets: s.opackets,
        rx_bytes: s.ibytes,
        tx_bytes: s.obytes,
        rx_missed: s.imissed,
        rx_errors: s.ierrors,
        tx_errors: s.oerrors,
        rx_nombuf: s.rx_nombuf,
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        self.stop();
        if self.configured {
            // SAFETY: the port is stopped; closing releases its queues and the
            // mbufs they hold, so the pool is whole again afterwards.
            unsafe { dpdk_sys::rte_eth_dev_close(self.info.id) };
        }
    }
}

/// What to check after a port failed to configure or start, from the driver
/// and what it logged.
fn failure_hint(driver: &str, said: &str) -> &'static str {
    let said = said.to_ascii_lowercase();
    if driver.contains("memif") && said.contains("connect") {
        "; is the memif server on that socket running? A role=client port needs its peer up first"
    } else if said.contains("frame size") || said.contains("mtu") {
        "; lower the port's mtu to what the device takes"
    } else if said.contains("queue") {
        "; use fewer workers or queues"
    } else {
        "; check the device's arguments after --vdev or in eal.devices"
    }
}

/// The port id of a DPDK device by name (`net_pcap0`, a PCI address).
pub fn port_id_by_name(name: &str) -> Option<u16> {
    let c = std::ffi::CString::new(name).ok()?;
    let mut id = 0u16;
    // SAFETY: c is a valid NUL-terminated string, id a valid out-parameter.
    let rc = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
    (rc == 0).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::failure_hint;

    #[test]
    fn failure_hints_say_what_to_check() {
        assert!(failure_hint(
            "net_memif",
            "memif_connect_client(): Failed to connect socket: /tmp/x.sock."
        )
        .contains("memif server"));
        assert!(failure_hint(
            "net_memif",
            "Frame size (9018) > device max frame size (1518) for port_id 0"
        )
        .contains("mtu"));
        assert!(failure_hint("net_pcap", "something else").contains("device's arguments"));
    }
}
