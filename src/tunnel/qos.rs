//! RFC 6040 ECN and the DSCP / TTL pipe and uniform models (RFC 2983).
use crate::wire::Ecn;

/// How encapsulation sets the outer ECN field (RFC 6040 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EcnEncapMode {
    /// Normal mode: copy the inner ECN field to the outer (CE stays CE).
    #[default]
    Normal,
    /// Compatibility mode: outer Not-ECT, for legacy decapsulators.
    Compatibility,
}

/// Outer ECN for an inner ECN under `mode` (RFC 6040 section 4.1).
#[inline]
pub fn ecn_encap(inner: Ecn, mode: EcnEncapMode) -> Ecn {
    match mode {
        EcnEncapMode::Normal => inner,
        EcnEncapMode::Compatibility => Ecn::NotEct,
    }
}

/// Result of combining inner and outer ECN at decapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcnDecap {
    /// Forward with this inner ECN. `alarm` marks the combinations RFC 6040
    /// flags "(!!!)": currently unused codepoint combinations that may
    /// indicate an attack or a faulty node; the packet is still forwarded.
    Forward { ecn: Ecn, alarm: bool },
    /// Outer CE over inner Not-ECT: drop (the congestion signal cannot be
    /// passed on).
    Drop,
}

/// RFC 6040 section 4.2, Figure 4: the decapsulation table.
///
/// ```text
///            | outer Not-ECT | ECT(0)       | ECT(1)       | CE
/// inner -----+---------------+--------------+--------------+-------------
/// Not-ECT    | Not-ECT       | Not-ECT(!!!) | Not-ECT(!!!) | drop(!!!)
/// ECT(0)     | ECT(0)        | ECT(0)       | ECT(1)       | CE
/// ECT(1)     | ECT(1)        | ECT(1)(!!!)  | ECT(1)       | CE
/// CE         | CE            | CE           | CE(!!!)      | CE
/// ```
#[inline]
pub fn ecn_decap(inner: Ecn, outer: Ecn) -> EcnDecap {
    use Ecn::*;
    let (ecn, alarm) = match (inner, outer) {
        (NotEct, NotEct) => (NotEct, false),
        (NotEct, Ect0) | (NotEct, Ect1) => (NotEct, true),
        (NotEct, Ce) => return EcnDecap::Drop,
        (Ect0, NotEct) | (Ect0, Ect0) => (Ect0, false),
        (Ect0, Ect1) => (Ect1, false),
        (Ect0, Ce) => (Ce, false),
        (Ect1, NotEct) | (Ect1, Ect1) => (Ect1, false),
        (Ect1, Ect0) => (Ect1, true),
        (Ect1, Ce) => (Ce, false),
        (Ce, NotEct) | (Ce, Ect0) | (Ce, Ce) => (Ce, false),
        (Ce, Ect1) => (Ce, true),
    };
    EcnDecap::Forward { ecn, alarm }
}

/// DSCP handling at encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DscpEncap {
    /// Pipe model: the outer DSCP is this fixed value (default 0).
    Pipe(u8),
    /// Uniform model: copy the inner DSCP (0 for non-IP inner packets).
    Uniform,
}

impl Default for DscpEncap {
    fn default() -> Self {
        DscpEncap::Pipe(0)
    }
}

/// TTL / hop limit handling at encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlEncap {
    /// Pipe model: the outer TTL is this fixed value (default 64).
    Pipe(u8),
    /// Uniform model: copy the inner TTL; non-IP inner packets get the value given.
    Uniform { non_ip: u8 },
}

impl Default for TtlEncap {
    fn default() -> Self {
        TtlEncap::Pipe(64)
    }
}

/// DSCP / TTL model at decapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QosModel {
    /// Pipe: the inner field is left as it is.
    #[default]
    Pipe,
    /// Uniform: DSCP: inner := outer. TTL: inner := min(inner, outer), so a
    /// tunnel can only shorten a packet's life, never extend it.
    Uniform,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encap_modes() {
        for e in Ecn::ALL {
            assert_eq!(ecn_encap(e, EcnEncapMode::Normal), e);
            assert_eq!(ecn_encap(e, EcnEncapMode::Compatibility), Ecn::NotEct);
        }
    }
}
