//! Geneve encapsulation and decapsulation on a buffer trait, and VXLAN
//! (RFC 7348) beside it: a VXLAN template writes its 8-byte header where
//! Geneve's would be (`encap`), a datagram to the configured VXLAN port is
//! decapsulated after the same outer checks (`decap/vxlan.rs`).
//!
//! Knows no DPDK. The data plane calls, per packet:
//!
//! * [`encap`]`(&template, &mut buf, flow_hash)`: prepend the prebuilt
//!   [`EncapTemplate`] (built once from a [`TunnelConfig`]) and patch
//!   lengths, checksum, TOS/TTL and the UDP source port (from `flow_hash`,
//!   the NIC's RSS hash when there is one, else a hash of the inner flow).
//!   Errors: [`EncapError`].
//! * [`Decapsulator::decap`]`(&self, frame) -> `[`Verdict`]: `Deliver`
//!   ([`Delivery`]: VNI, source VTEP, payload kind and offset, options seen,
//!   inner TOS/TTL update), `Control` (O bit), or `Drop(`[`DropReason`]`)`
//!   with exactly one reason ([`DropReason::ALL`], [`DropReason::as_str`]).
//!   [`Decapsulator::decap_in_place`] also applies the inner TOS/TTL update
//!   ([`apply_inner_update`]) and trims the buffer to the inner packet.
//! * [`Buffer`]: headroom, prepend, trim_front, trim_back, data, data_mut,
//!   len, set_tx_offload. The DPDK mbuf implements it; [`VecBuffer`] is the
//!   test/bench one.
//! * [`offload`]: which outer checksums the NIC finishes
//!   ([`EncapTemplate::set_tx_offload`]) and the per-packet metadata.
//! * [`segment`]: TCP segmentation of inner frames too big for the tunnel
//!   MTU, in software ([`TcpSegmentation`]) or by the NIC ([`encap_tso`]).
//!
//! Policies: [`qos`] (RFC 6040 ECN encap/decap, DSCP/TTL pipe/uniform),
//! [`options::OptionRegistry`] (understood options), [`decap::DecapConfig`]
//! (local addresses, port, checksum rules incl. the IPv6 zero-checksum
//! policy, max options, control punting). Hot paths neither allocate nor
//! panic (see tests/lib_tunnel_alloc.rs).
//!
//! # Tiers
//!
//! A packet crosses at most three tiers, named with these three words only
//! (in function, type and module names and in comments); what each costs
//! per packet is measured in BENCHMARKS.md, not written here.
//!
//! * **express**: the worker's burst tier. The leading packets of an RX
//!   burst that the fast tier takes in their port's usual case are
//!   processed in place and moved to their TX buffer together
//!   ([`AccessExpress`](crate::dataplane::pipeline::AccessExpress),
//!   [`underlay_express`](crate::dataplane::pipeline::underlay_express),
//!   [`stitch_express`](crate::dataplane::pipeline::stitch_express),
//!   `Burst::update_while`); the first packet it does not take ends it, and
//!   the rest of the burst goes one by one, in order.
//! * **fast**: one packet, fixed-layout checks against a prebuilt pattern
//!   or template. It either gives exactly the general tier's bytes or
//!   verdict (a delivery, or a drop with the reason the general tier would
//!   count), or declines (`None`, `false`, [`decap::FastVerdict::General`])
//!   with the packet untouched. Its sub-cases
//!   are named by what they cover: [`Decapsulator::decap_fast_v4_pattern`]
//!   (the one-compare header pattern), [`Decapsulator::decap_fast_v4`],
//!   [`Decapsulator::decap_fast_v6`], [`encap_fast_ethernet`] and the
//!   `encap_fast::<L2, V6>` layouts.
//! * **general**: full parse, every RFC 8926 check in order, exactly one
//!   counted drop reason per dropped packet ([`Decapsulator::decap_general`],
//!   `encap_general`). Every packet can take it; tests hold the fast tier
//!   to it.
//!
//! Helpers kept out of a tier's code are `#[cold]` and/or
//! `#[inline(never)]` with a comment saying why; a delivery is parsed once,
//! by the tier that read the outer header ([`Delivery`]).
#![forbid(unsafe_code)]

pub mod buffer;
pub mod decap;
pub mod drop;
pub mod encap;
pub mod hash;
pub mod icmp;
pub mod offload;
pub mod options;
pub mod qos;
pub mod segment;

pub use buffer::{Buffer, BufferError, VecBuffer};
pub use decap::{
    apply_inner_update, DecapConfig, Decapsulator, Delivery, DropReason, FastVerdict, InnerUpdate,
    Ipv6ZeroChecksum, OptionsSeen, Verdict,
};
pub use encap::{
    encap, encap_fast_ethernet, encap_fast_ip, encap_tso, EncapError, EncapTemplate, FastEthernet,
    LineKind, TemplateError, TemplateLine, TunnelConfig, TunnelOption, UdpChecksumTx,
    LINE_HEADER_LEN,
};
pub use hash::inner_flow_hash;
pub use offload::{TxOffload, TxOffloadCaps};
pub use options::{KnownOption, OptionRegistry};
pub use qos::{ecn_decap, ecn_encap, DscpEncap, EcnDecap, EcnEncapMode, QosModel, TtlEncap};
pub use segment::{emulate_geneve_tso, SegmentError, TcpSegmentation, TsoOffload};

use crate::wire::ethernet::{l3_offset, EtherType};

/// What a Geneve packet carries (its Protocol Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    /// 0x6558: an Ethernet frame.
    Ethernet,
    /// 0x0800: an IPv4 packet, no inner Ethernet.
    Ipv4,
    /// 0x86DD: an IPv6 packet, no inner Ethernet.
    Ipv6,
}

impl PayloadKind {
    /// The Geneve Protocol Type.
    pub const fn ethertype(self) -> u16 {
        match self {
            PayloadKind::Ethernet => EtherType::TEB,
            PayloadKind::Ipv4 => EtherType::IPV4,
            PayloadKind::Ipv6 => EtherType::IPV6,
        }
    }
}

/// Offset of the inner IP header and whether it is IPv6, if there is one.
#[inline]
pub(crate) fn inner_l3(inner: &[u8], kind: PayloadKind) -> Option<(usize, bool)> {
    match kind {
        PayloadKind::Ipv4 => Some((0, false)),
        PayloadKind::Ipv6 => Some((0, true)),
        PayloadKind::Ethernet => match l3_offset(inner)? {
            (EtherType::IPV4, off) => Some((off, false)),
            (EtherType::IPV6, off) => Some((off, true)),
            _ => None,
        },
    }
}
