//! The one table of drop reasons. Every packet the gateway drops is counted
//! under exactly one of these; the declaration below is the only list: it
//! generates the enum, the counter index (the discriminant), the stable
//! snake_case name that the exit report, `geneve-gw stats`, DPDK telemetry
//! and Prometheus print, and the help text they show with it.
//!
//! The first group is what decapsulation's RFC 8926 checks reject (in check
//! order); the second is what the gateway around it drops. Adding a reason:
//! one line here (variant, name, help), then count it where it happens;
//! every reader picks it up. Names are part of the operator interface
//! (dashboards, alerts): never rename one, add a new reason instead.

/// Declares [`DropReason`] and everything derived from the list.
macro_rules! drop_reasons {
    ($($variant:ident = $name:literal, $help:literal;)*) => {
        /// Why a packet was dropped. Exactly one per drop; each is a counter.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $(#[doc = $help] $variant,)*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];

            /// Number of reasons (size of a counter array indexed by [`DropReason::index`]).
            pub const COUNT: usize = Self::ALL.len();

            /// Stable snake_case counter name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $name,)*
                }
            }

            /// One sentence for operators: what was wrong with the packet.
            pub const fn help(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $help,)*
                }
            }

            /// Index into a counter array (`0..COUNT`): the declaration order.
            #[inline(always)]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// The reason named `name` ([`DropReason::as_str`]).
            pub fn from_name(name: &str) -> Option<DropReason> {
                Self::ALL.iter().copied().find(|r| r.as_str() == name)
            }
        }

        impl core::fmt::Display for DropReason {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

drop_reasons! {
    // Decapsulation: the RFC 8926 checks, in the order they run.
    EthTruncated = "eth_truncated", "Shorter than an Ethernet header, or a VLAN tag cut off, or too many tags.";
    NotIp = "not_ip", "Outer EtherType is neither IPv4 nor IPv6.";
    Ipv4BadHeader = "ipv4_bad_header", "Outer IPv4 header cut off, version not 4 or IHL below 5.";
    Ipv4BadLength = "ipv4_bad_length", "Outer IPv4 total length below the header or past the frame.";
    Ipv4BadChecksum = "ipv4_bad_checksum", "Outer IPv4 header checksum wrong.";
    Ipv6BadHeader = "ipv6_bad_header", "Outer IPv6 header cut off or version not 6.";
    Ipv6BadLength = "ipv6_bad_length", "Outer IPv6 payload length past the frame (or zero: jumbogram).";
    Ipv6BadExtHeader = "ipv6_bad_ext_header", "Outer IPv6 extension header chain malformed or too long.";
    IpFragment = "ip_fragment", "Outer IP fragment (no reassembly here).";
    NotLocalAddress = "not_local_address", "Outer destination is not one of our VTEP addresses.";
    NotUdp = "not_udp", "Outer IP payload is not UDP.";
    UdpBadLength = "udp_bad_length", "UDP header cut off, or UDP length disagrees with the IP length.";
    WrongUdpPort = "wrong_udp_port", "UDP destination port is not the Geneve port.";
    UdpBadChecksum = "udp_bad_checksum", "Non-zero UDP checksum that does not verify.";
    UdpZeroChecksumIpv6 = "udp_zero_checksum_ipv6", "Zero UDP checksum over IPv6 while the policy forbids it (RFC 6935/6936).";
    GeneveTruncated = "geneve_truncated", "UDP payload shorter than the 8-byte Geneve header.";
    GeneveBadVersion = "geneve_bad_version", "Geneve version not 0.";
    GeneveOptLenPastFrame = "geneve_opt_len_past_frame", "Geneve Opt Len runs past the end of the UDP payload.";
    OptionOverrun = "option_overrun", "Option TLV lengths do not add up to Opt Len.";
    TooManyOptions = "too_many_options", "More options than the configured maximum.";
    KnownOptionBadLength = "known_option_bad_length", "An understood option with the wrong length.";
    UnknownCriticalOption = "unknown_critical_option", "An option we do not understand with the critical bit set.";
    ControlNotPunted = "control_not_punted", "O bit set and control packets are not punted.";
    UnsupportedProtocol = "unsupported_protocol", "Protocol type not Ethernet (0x6558), IPv4 or IPv6 (or not enabled).";
    InnerMalformed = "inner_malformed", "Inner packet shorter than its own header (inner Ethernet, or the IP header of an L3 payload).";
    EcnCeOverNotEct = "ecn_ce_over_not_ect", "RFC 6040: outer CE over an inner Not-ECT packet.";
    UnderlayVlan = "underlay_vlan", "Geneve on the underlay with a VLAN tag other than vtep.vlan (any tag when none is set; two tags always).";
    VxlanTruncated = "vxlan_truncated", "UDP payload to the VXLAN port shorter than the 8-byte VXLAN header.";
    VxlanNoIFlag = "vxlan_no_i_flag", "VXLAN header without the I flag (RFC 7348: the VNI is not valid).";
    // The gateway around encap and decap.
    NoSegment = "no_segment", "Access frame on a port or VLAN that belongs to no segment or L3 access.";
    NoRoute = "no_route", "L3: no route for the inner destination.";
    NextHopUnresolved = "next_hop_unresolved", "The underlay next hop (or the L3 inner next hop) is not resolved yet.";
    UnknownVni = "unknown_vni", "Decapsulated VNI has no decap entry.";
    SourceVtepNotAllowed = "source_vtep_not_allowed", "Source VTEP not in the VNI's allow list.";
    RequiredOptionMissing = "required_option_missing", "A required option is missing.";
    SecurityTagDenied = "security_tag_denied", "A security-tag policy denied the packet.";
    EncapNoRoom = "encap_no_room", "Not enough room in the buffer for the outer headers.";
    EncapTooBig = "encap_too_big", "Inner packet larger than the tunnel MTU and not segmentable.";
    InnerNotIp = "inner_not_ip", "L3 mode: an access frame that is not IPv4/IPv6, or of a family the route's tunnel does not carry.";
    NoFloodTarget = "no_flood_target", "Broadcast or unknown unicast with an empty flood list.";
    PuntQueueFull = "punt_queue_full", "The control thread's queue was full.";
    ReplicationNoMbuf = "replication_no_mbuf", "No mbuf to replicate a flooded frame.";
    TxFull = "tx_full", "The NIC did not take the packet.";
    AccessTruncated = "access_truncated", "A frame shorter than an Ethernet header on an access port.";
    SegmentNoMbuf = "segment_no_mbuf", "No mbuf for a segment of a too-big TCP frame (the rest of that frame's segments are counted here too).";
    FrameOverMtu = "frame_over_mtu", "A received frame in a chain of mbufs that does not fit one: longer than the largest port MTU.";
    EgressOverMtu = "egress_over_mtu", "A decapsulated frame longer than its access port's MTU (no fragmentation here).";
    InnerVlanTag = "inner_vlan_tag", "A decapsulated Ethernet frame carries its own 802.1Q or 802.1ad tag: only the segment's VLAN may tag the access port.";
    AccessStackedTag = "access_stacked_tag", "An access frame with an 802.1ad tag, or another tag under the segment's 802.1Q tag.";
    PayloadNotAllowed = "payload_not_allowed", "Geneve protocol type the VNI does not carry (IP on an Ethernet VNI, Ethernet on an L3 VNI).";
    PuntPolicedArpNd = "punt_policed_arp_nd", "ARP or neighbour discovery for the control thread above its rate limit.";
    PuntPolicedIcmp = "punt_policed_icmp", "ICMP for the control thread above its rate limit.";
    PuntPolicedGeneveControl = "punt_policed_geneve_control", "Geneve control packet (O bit) above its rate limit.";
    SplitHorizon = "split_horizon", "A decapsulated frame for a MAC behind a tunnel of the mesh group it came from (never sent back into its own group).";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_indexes_follow_the_declaration() {
        let mut seen = std::collections::HashSet::new();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r}");
            assert!(seen.insert(r.as_str()), "{r} twice");
            assert!(
                r.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{r}"
            );
            assert!(r.help().ends_with('.'), "{r}: {}", r.help());
            assert_eq!(DropReason::from_name(r.as_str()), Some(*r));
        }
        assert_eq!(DropReason::from_name("no_such_reason"), None);
    }
}
