//! What a port can offload (`rte_eth_dev_info_get`, supported packet types,
//! whether the PMD has the rte_flow API), and the rte_flow Geneve decap
//! rules: built from an [`offload::DecapRule`], validated, created and
//! destroyed, with the PMD's own error message when it refuses.
use std::ffi::CStr;
use std::net::IpAddr;
use std::os::raw::c_void;
use std::ptr::{self, NonNull};

use crate::offload::{
    DecapRule, FlowApi, PortCaps, RuleTarget, RxCaps, TxCaps, ECN_MASK, GENEVE_OPTLEN_O_MASK,
    GENEVE_PROTO_ETHERNET, IPV4_FRAGMENT_MASK,
};

use super::error::strerror;
use super::port::{Port, TxOffloads};

const ENOSYS: i32 = 38;
const ENOTSUP: i32 = 95;

/// The capabilities of an opened port, for [`crate::offload::decide`]. Packet
/// types and the flow API answer best once the port is configured.
pub fn port_caps(port: &Port) -> PortCaps {
    let i = port.info();
    // SAFETY: reads immutable C constants.
    let rx_bits = unsafe {
        [
            dpdk_sys::GENEVE_ETH_RX_OFFLOAD_IPV4_CKSUM,
            dpdk_sys::GENEVE_ETH_RX_OFFLOAD_UDP_CKSUM,
            dpdk_sys::GENEVE_ETH_RX_OFFLOAD_TCP_CKSUM,
            dpdk_sys::GENEVE_ETH_RX_OFFLOAD_OUTER_IPV4_CKSUM,
            dpdk_sys::GENEVE_ETH_RX_OFFLOAD_OUTER_UDP_CKSUM,
            dpdk_sys::GENEVE_ETH_RX_OFFLOAD_RSS_HASH,
            dpdk_sys::GENEVE_ETH_RX_OFFLOAD_SCATTER,
        ]
    };
    let rx = |k: usize| i.rx_offload_capa & rx_bits[k] != 0;
    let (ptypes, geneve_ptype) = supported_ptypes(i.id);
    PortCaps {
        port: i.id,
        name: i.name.clone(),
        driver: i.driver.clone(),
        tx: tx_caps(i.tx_offload_capa),
        rx: RxCaps {
            ipv4_cksum: rx(0),
            udp_cksum: rx(1),
            tcp_cksum: rx(2),
            outer_ipv4_cksum: rx(3),
            outer_udp_cksum: rx(4),
            rss_hash: rx(5),
            scatter: rx(6),
        },
        ptypes,
        geneve_ptype,
        flow_api: flow_api(i.id),
        max_rx_queues: i.max_rx_queues,
    }
}

/// Asks the PMD to register `udp_port` as a Geneve tunnel port
/// (`rte_eth_dev_udp_tunnel_port_add`), and removes it again when it
/// accepts: the probe's answer to "does the NIC parse Geneve on this port".
/// i40e refuses Geneve here in 22.11.
pub fn try_geneve_udp_port(port: u16, udp_port: u16) -> Result<(), String> {
    let mut t = dpdk_sys::rte_eth_udp_tunnel {
        udp_port,
        prot_type: dpdk_sys::rte_eth_tunnel_type_RTE_ETH_TUNNEL_TYPE_GENEVE as u8,
    };
    // SAFETY: t is a valid in-parameter for a valid, configured port.
    let rc = unsafe { dpdk_sys::rte_eth_dev_udp_tunnel_port_add(port, &mut t) };
    if rc < 0 {
        return Err(strerror(-rc));
    }
    // SAFETY: as above; removes what was just added.
    let rc = unsafe { dpdk_sys::rte_eth_dev_udp_tunnel_port_delete(port, &mut t) };
    if rc < 0 {
        return Err(format!("added, but not removed again: {}", strerror(-rc)));
    }
    Ok(())
}

/// Names the bits of a TX offload mask (`tx_offload_capa`, or what
/// configuration enabled).
pub fn tx_caps(bits: u64) -> TxCaps {
    let tx = |bit: u64| bits & bit != 0;
    TxCaps {
        ipv4_cksum: tx(TxOffloads::ipv4_cksum()),
        udp_cksum: tx(TxOffloads::udp_cksum()),
        tcp_cksum: tx(TxOffloads::tcp_cksum()),
        outer_ipv4_cksum: tx(TxOffloads::outer_ipv4_cksum()),
        outer_udp_cksum: tx(TxOffloads::outer_udp_cksum()),
        geneve_tnl_tso: tx(TxOffloads::geneve_tnl_tso()),
        tcp_tso: tx(TxOffloads::tcp_tso()),
        multi_segs: tx(TxOffloads::multi_segs()),
    }
}

/// The packet types the PMD recognises, by DPDK's names.
fn supported_ptypes(port: u16) -> (Vec<String>, bool) {
    let mask = dpdk_sys::RTE_PTYPE_ALL_MASK;
    // SAFETY: a NULL array of length 0 asks for the count only.
    let n = unsafe { dpdk_sys::rte_eth_dev_get_supported_ptypes(port, mask, ptr::null_mut(), 0) };
    if n <= 0 {
        return (Vec::new(), false);
    }
    let mut types = vec![0u32; n as usize];
    // SAFETY: `types` holds n entries, as promised.
    let got =
        unsafe { dpdk_sys::rte_eth_dev_get_supported_ptypes(port, mask, types.as_mut_ptr(), n) };
    types.truncate(got.clamp(0, n) as usize);
    let geneve = types
        .iter()
        .any(|t| t & dpdk_sys::RTE_PTYPE_TUNNEL_MASK == dpdk_sys::RTE_PTYPE_TUNNEL_GENEVE);
    let names = types
        .iter()
        .map(|&t| {
            let mut buf = [0 as std::os::raw::c_char; 128];
            // SAFETY: buf is writable for its length; the name is NUL-terminated.
            let rc = unsafe { dpdk_sys::rte_get_ptype_name(t, buf.as_mut_ptr(), buf.len()) };
            if rc < 0 {
                return format!("{t:#x}");
            }
            // SAFETY: rte_get_ptype_name wrote a NUL-terminated string into buf.
            let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
            s.to_string_lossy().trim().to_string()
        })
        .collect();
    (names, geneve)
}

/// Whether the PMD implements rte_flow: validate the simplest rule (any
/// Ethernet frame to queue 0). A PMD without flow operations answers
/// ENOSYS or ENOTSUP with no cause; any other answer means the API is there.
fn flow_api(port: u16) -> FlowApi {
    let items = [
        item(dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_ETH, None),
        item(dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_END, None),
    ];
    let queue = dpdk_sys::rte_flow_action_queue { index: 0 };
    let actions = [
        action(
            dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_QUEUE,
            &queue as *const _ as *const c_void,
        ),
        action(
            dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_END,
            ptr::null(),
        ),
    ];
    let attr = ingress_attr();
    let mut err = zeroed_error();
    // SAFETY: attr, items and actions are valid, END-terminated and outlive
    // the call; err is a valid out-parameter.
    let rc = unsafe {
        dpdk_sys::rte_flow_validate(port, &attr, items.as_ptr(), actions.as_ptr(), &mut err)
    };
    let errno = -rc;
    if rc < 0
        && (errno == ENOSYS || errno == ENOTSUP)
        && err.type_ == dpdk_sys::rte_flow_error_type_RTE_FLOW_ERROR_TYPE_UNSPECIFIED
        && err.cause.is_null()
    {
        FlowApi::Unavailable(FlowError::from_raw(errno, &err).message)
    } else {
        FlowApi::Available
    }
}

fn item(
    type_: dpdk_sys::rte_flow_item_type,
    spec_mask: Option<(*const c_void, *const c_void)>,
) -> dpdk_sys::rte_flow_item {
    let (spec, mask) = spec_mask.unwrap_or((ptr::null(), ptr::null()));
    dpdk_sys::rte_flow_item {
        type_,
        spec,
        last: ptr::null(),
        mask,
    }
}

fn action(type_: dpdk_sys::rte_flow_action_type, conf: *const c_void) -> dpdk_sys::rte_flow_action {
    dpdk_sys::rte_flow_action { type_, conf }
}

fn ingress_attr() -> dpdk_sys::rte_flow_attr {
    let mut attr = dpdk_sys::rte_flow_attr::default();
    attr.set_ingress(1);
    attr
}

fn zeroed_error() -> dpdk_sys::rte_flow_error {
    dpdk_sys::rte_flow_error {
        type_: dpdk_sys::rte_flow_error_type_RTE_FLOW_ERROR_TYPE_NONE,
        cause: ptr::null(),
        message: ptr::null(),
    }
}

/// A refused rule: DPDK's errno and the PMD's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    pub errno: i32,
    /// The PMD's `rte_flow_error.message`, else DPDK's text for the errno.
    pub message: String,
}

impl FlowError {
    fn from_raw(errno: i32, err: &dpdk_sys::rte_flow_error) -> FlowError {
        let message = if err.message.is_null() {
            strerror(errno)
        } else {
            // SAFETY: a non-NULL message is a NUL-terminated string owned by
            // the PMD (usually static) that outlives this copy.
            unsafe { CStr::from_ptr(err.message) }
                .to_string_lossy()
                .into_owned()
        };
        FlowError { errno, message }
    }
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let errno_text = strerror(self.errno);
        if self.message == errno_text {
            f.write_str(&self.message)
        } else {
            write!(f, "{} ({errno_text})", self.message)
        }
    }
}

/// The memory the item specs/masks and action configurations point into;
/// boxed so that the pointers stay valid while the [`FlowRule`] moves.
#[derive(Default)]
struct RuleStorage {
    ipv4: [dpdk_sys::rte_flow_item_ipv4; 2],
    ipv6: [dpdk_sys::rte_flow_item_ipv6; 2],
    udp: [dpdk_sys::rte_flow_item_udp; 2],
    geneve: [dpdk_sys::rte_flow_item_geneve; 2],
    raw_decap_bytes: Vec<u8>,
    raw_decap: dpdk_sys::rte_flow_action_raw_decap,
    mark: dpdk_sys::rte_flow_action_mark,
    queue: dpdk_sys::rte_flow_action_queue,
    rss_queues: Vec<u16>,
    rss: dpdk_sys::rte_flow_action_rss,
}

/// An rte_flow decap rule ready for `rte_flow_validate` / `rte_flow_create`:
/// the attribute, the END-terminated item and action arrays, and the
/// storage they point into.
pub struct FlowRule {
    port: u16,
    attr: dpdk_sys::rte_flow_attr,
    items: Vec<dpdk_sys::rte_flow_item>,
    actions: Vec<dpdk_sys::rte_flow_action>,
    /// Only read through the pointers in `items` and `actions`.
    #[cfg_attr(not(test), allow(dead_code))]
    storage: Box<RuleStorage>,
}

fn be16(v: u16) -> u16 {
    v.to_be()
}

fn spec_mask<T>(pair: &[T; 2]) -> Option<(*const c_void, *const c_void)> {
    Some((
        &pair[0] as *const T as *const c_void,
        &pair[1] as *const T as *const c_void,
    ))
}

impl FlowRule {
    /// Builds the rte_flow structures for `r` (see [`DecapRule`] for what it
    /// matches and does).
    pub fn decap(r: &DecapRule) -> FlowRule {
        let mut s = Box::<RuleStorage>::default();
        let mut items = vec![item(
            dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_ETH,
            None,
        )];
        match r.vtep {
            IpAddr::V4(a) => {
                let [spec, mask] = &mut s.ipv4;
                spec.hdr.dst_addr = u32::from_ne_bytes(a.octets());
                mask.hdr.dst_addr = u32::MAX;
                mask.hdr.type_of_service = ECN_MASK;
                mask.hdr.fragment_offset = be16(IPV4_FRAGMENT_MASK);
                items.push(item(
                    dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_IPV4,
                    spec_mask(&s.ipv4),
                ));
            }
            IpAddr::V6(a) => {
                let [spec, mask] = &mut s.ipv6;
                spec.hdr.dst_addr = a.octets();
                mask.hdr.dst_addr = [0xff; 16];
                // vtc_flow: version (4 bits), traffic class (8), flow label
                // (20); the ECN bits are the low two of the traffic class.
                mask.hdr.vtc_flow = (u32::from(ECN_MASK) << 20).to_be();
                items.push(item(
                    dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_IPV6,
                    spec_mask(&s.ipv6),
                ));
            }
        }
        s.udp[0].hdr.dst_port = be16(r.udp_port);
        s.udp[1].hdr.dst_port = u16::MAX;
        items.push(item(
            dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_UDP,
            spec_mask(&s.udp),
        ));
        let v = r.vni.to_be_bytes();
        s.geneve[0].vni = [v[1], v[2], v[3]];
        s.geneve[0].protocol = be16(GENEVE_PROTO_ETHERNET);
        s.geneve[1].vni = [0xff; 3];
        s.geneve[1].protocol = u16::MAX;
        s.geneve[1].ver_opt_len_o_c_rsvd0 = be16(GENEVE_OPTLEN_O_MASK);
        items.push(item(
            dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_GENEVE,
            spec_mask(&s.geneve),
        ));
        items.push(item(
            dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_END,
            None,
        ));

        s.raw_decap_bytes = r.raw_decap_bytes();
        s.raw_decap.data = s.raw_decap_bytes.as_mut_ptr();
        s.raw_decap.size = s.raw_decap_bytes.len();
        s.mark.id = r.mark();
        let mut actions = vec![
            action(
                dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_RAW_DECAP,
                &s.raw_decap as *const _ as *const c_void,
            ),
            action(
                dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_MARK,
                &s.mark as *const _ as *const c_void,
            ),
        ];
        match &r.target {
            RuleTarget::Queue(q) => {
                s.queue.index = *q;
                actions.push(action(
                    dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_QUEUE,
                    &s.queue as *const _ as *const c_void,
                ));
            }
            RuleTarget::InnerRss(queues) => {
                s.rss_queues = queues.clone();
                s.rss.func = dpdk_sys::rte_eth_hash_function_RTE_ETH_HASH_FUNCTION_DEFAULT;
                // Level 2: hash on the inner headers, after the decap.
                s.rss.level = 2;
                // SAFETY: reads immutable C constants.
                s.rss.types = unsafe {
                    dpdk_sys::GENEVE_ETH_RSS_IP
                        | dpdk_sys::GENEVE_ETH_RSS_UDP
                        | dpdk_sys::GENEVE_ETH_RSS_TCP
                };
                s.rss.queue_num = s.rss_queues.len() as u32;
                s.rss.queue = s.rss_queues.as_ptr();
                actions.push(action(
                    dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_RSS,
                    &s.rss as *const _ as *const c_void,
                ));
            }
        }
        actions.push(action(
            dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_END,
            ptr::null(),
        ));
        FlowRule {
            port: r.port,
            attr: ingress_attr(),
            items,
            actions,
            storage: s,
        }
    }

    /// Asks the PMD whether it would accept the rule (it can still refuse
    /// to create it: use [`FlowRule::create`] to be sure).
    pub fn validate(&self) -> Result<(), FlowError> {
        let mut err = zeroed_error();
        // SAFETY: attr/items/actions are valid, END-terminated, and point
        // into self.storage, which outlives the call.
        let rc = unsafe {
            dpdk_sys::rte_flow_validate(
                self.port,
                &self.attr,
                self.items.as_ptr(),
                self.actions.as_ptr(),
                &mut err,
            )
        };
        if rc < 0 {
            return Err(FlowError::from_raw(-rc, &err));
        }
        Ok(())
    }

    /// Installs the rule. The returned handle removes it when destroyed or
    /// dropped; drop it before the port is closed.
    pub fn create(&self) -> Result<Flow, FlowError> {
        let mut err = zeroed_error();
        // SAFETY: as in validate; the PMD copies what it needs from the
        // specs and configurations before returning.
        let f = unsafe {
            dpdk_sys::rte_flow_create(
                self.port,
                &self.attr,
                self.items.as_ptr(),
                self.actions.as_ptr(),
                &mut err,
            )
        };
        match NonNull::new(f) {
            Some(handle) => Ok(Flow {
                port: self.port,
                handle: Some(handle),
            }),
            None => Err(FlowError::from_raw(super::error::last_rte_errno(), &err)),
        }
    }
}

/// An installed rte_flow rule.
pub struct Flow {
    port: u16,
    handle: Option<NonNull<dpdk_sys::rte_flow>>,
}

impl Flow {
    /// Removes the rule.
    pub fn destroy(mut self) -> Result<(), FlowError> {
        self.destroy_inner()
    }

    fn destroy_inner(&mut self) -> Result<(), FlowError> {
        let Some(h) = self.handle.take() else {
            return Ok(());
        };
        let mut err = zeroed_error();
        // SAFETY: h came from rte_flow_create on this port and is destroyed
        // once (taken out of the Option).
        let rc = unsafe { dpdk_sys::rte_flow_destroy(self.port, h.as_ptr(), &mut err) };
        if rc < 0 {
            return Err(FlowError::from_raw(-rc, &err));
        }
        Ok(())
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        let _ = self.destroy_inner();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(vtep: &str, target: RuleTarget) -> FlowRule {
        FlowRule::decap(&DecapRule {
            port: 1,
            vni: 0x0a0b0c,
            vtep: vtep.parse().unwrap(),
            udp_port: 6081,
            target,
        })
    }

    fn types(r: &FlowRule) -> (Vec<u32>, Vec<u32>) {
        (
            r.items.iter().map(|i| i.type_).collect(),
            r.actions.iter().map(|a| a.type_).collect(),
        )
    }

    // SAFETY (tests): every spec/mask/conf pointer below points into the
    // rule's boxed storage, alive for the whole test.
    fn spec<T: Copy>(i: &dpdk_sys::rte_flow_item) -> (T, T) {
        assert!(!i.spec.is_null() && !i.mask.is_null());
        // SAFETY: see above; the item type says which struct it is.
        unsafe {
            (
                ptr::read_unaligned(i.spec as *const T),
                ptr::read_unaligned(i.mask as *const T),
            )
        }
    }

    #[test]
    fn ipv4_rule_items_and_actions() {
        let r = rule("198.18.0.1", RuleTarget::Queue(3));
        let (items, actions) = types(&r);
        assert_eq!(
            items,
            vec![
                dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_ETH,
                dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_IPV4,
                dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_UDP,
                dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_GENEVE,
                dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_END,
            ]
        );
        assert_eq!(
            actions,
            vec![
                dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_RAW_DECAP,
                dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_MARK,
                dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_QUEUE,
                dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_END,
            ]
        );
        assert!(r.items[0].spec.is_null() && r.items[0].mask.is_null());
        assert_eq!(r.attr.ingress(), 1);
        assert_eq!(r.attr.egress(), 0);
        assert_eq!(r.attr.transfer(), 0);

        let (ip, ipm): (dpdk_sys::rte_flow_item_ipv4, dpdk_sys::rte_flow_item_ipv4) =
            spec(&r.items[1]);
        assert_eq!(ip.hdr.dst_addr.to_ne_bytes(), [198, 18, 0, 1]);
        assert_eq!({ ipm.hdr.dst_addr }, u32::MAX);
        assert_eq!((ip.hdr.type_of_service, ipm.hdr.type_of_service), (0, 0x03));
        assert_eq!({ ip.hdr.fragment_offset }, 0);
        assert_eq!(ipm.hdr.fragment_offset.to_ne_bytes(), [0x3f, 0xff]);
        assert_eq!({ ipm.hdr.src_addr }, 0);

        let (udp, udpm): (dpdk_sys::rte_flow_item_udp, dpdk_sys::rte_flow_item_udp) =
            spec(&r.items[2]);
        assert_eq!(udp.hdr.dst_port.to_ne_bytes(), [0x17, 0xc1]);
        assert_eq!({ udpm.hdr.dst_port }, 0xffff);
        assert_eq!({ udpm.hdr.src_port }, 0);

        let (g, gm): (
            dpdk_sys::rte_flow_item_geneve,
            dpdk_sys::rte_flow_item_geneve,
        ) = spec(&r.items[3]);
        assert_eq!(g.vni, [0x0a, 0x0b, 0x0c]);
        assert_eq!(gm.vni, [0xff; 3]);
        assert_eq!(g.protocol.to_ne_bytes(), [0x65, 0x58]);
        assert_eq!(gm.protocol, 0xffff);
        assert_eq!(g.ver_opt_len_o_c_rsvd0, 0);
        assert_eq!(gm.ver_opt_len_o_c_rsvd0.to_ne_bytes(), [0x3f, 0x80]);

        // SAFETY: the conf pointers point into the rule's storage.
        let (decap, mark, queue) = unsafe {
            (
                *(r.actions[0].conf as *const dpdk_sys::rte_flow_action_raw_decap),
                *(r.actions[1].conf as *const dpdk_sys::rte_flow_action_mark),
                *(r.actions[2].conf as *const dpdk_sys::rte_flow_action_queue),
            )
        };
        assert_eq!(decap.size, 14 + 20 + 8 + 8);
        assert_eq!(decap.data as *const u8, r.storage.raw_decap_bytes.as_ptr());
        assert_eq!(mark.id, 0x0a0b0c);
        assert_eq!(queue.index, 3);
        assert!(r.actions[3].conf.is_null());
    }

    #[test]
    fn ipv6_rule_with_inner_rss() {
        let r = rule("2001:db8::1", RuleTarget::InnerRss(vec![0, 1]));
        let (items, actions) = types(&r);
        assert_eq!(
            items[1],
            dpdk_sys::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_IPV6
        );
        assert_eq!(
            actions[2],
            dpdk_sys::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_RSS
        );
        let (ip, ipm): (dpdk_sys::rte_flow_item_ipv6, dpdk_sys::rte_flow_item_ipv6) =
            spec(&r.items[1]);
        assert_eq!(ip.hdr.dst_addr[..4], [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(ip.hdr.dst_addr[15], 1);
        assert_eq!(ipm.hdr.dst_addr, [0xff; 16]);
        // Traffic class ECN bits only: 0x0030_0000 in network order.
        assert_eq!(ipm.hdr.vtc_flow.to_ne_bytes(), [0x00, 0x30, 0x00, 0x00]);
        // SAFETY: conf points into the rule's storage.
        let rss = unsafe { *(r.actions[2].conf as *const dpdk_sys::rte_flow_action_rss) };
        assert_eq!(rss.level, 2);
        assert_eq!(rss.queue_num, 2);
        // SAFETY: queue points at queue_num entries in the rule's storage.
        let q = unsafe { std::slice::from_raw_parts(rss.queue, 2) };
        assert_eq!(q, &[0, 1]);
        assert!(rss.key.is_null() && rss.key_len == 0);
        assert_ne!(rss.types, 0);
        // SAFETY: as above.
        let decap = unsafe { *(r.actions[0].conf as *const dpdk_sys::rte_flow_action_raw_decap) };
        assert_eq!(decap.size, 14 + 40 + 8 + 8);
    }

    #[test]
    fn pointers_survive_a_move() {
        let r = rule("198.18.0.1", RuleTarget::Queue(0));
        let before = r.items[3].spec;
        let moved = [r];
        assert_eq!(moved[0].items[3].spec, before);
        let (g, _): (
            dpdk_sys::rte_flow_item_geneve,
            dpdk_sys::rte_flow_item_geneve,
        ) = spec(&moved[0].items[3]);
        assert_eq!(g.vni, [0x0a, 0x0b, 0x0c]);
    }
}
