//! Geneve option checks: the fast tier's one-pass walk and the general
//! tier's ordered checks (structure, count, known lengths, unknown critical).
use super::{Decapsulator, DropReason, OptionsSeen};
use crate::wire::geneve;

impl Decapsulator {
    /// The fast tier's option walk: what [`check_options`](Self::check_options)
    /// returns when the options pass, `None` when they do not (the general
    /// tier then finds which check fails first, so the checks here need no
    /// order).
    #[inline(always)]
    pub(super) fn options_pass(&self, opts: &[u8]) -> Option<OptionsSeen> {
        // Opt Len counts 4-byte words; so do TLV lengths.
        let (words, []) = opts.as_chunks::<4>() else {
            return None;
        };
        let mut known = 0u32;
        // Options in bits 0-7, critical ones in bits 8-15.
        let mut counts = 0u32;
        let mut i = 0usize;
        while let Some(w) = words.get(i) {
            // Class (16 bits), type (8), reserved (3), length in words (5).
            let h = u32::from_be_bytes(*w);
            i += 1 + (h & 0x1f) as usize;
            // The type's critical bit (bit 15) counted in bits 8-15.
            counts += 1 + (h >> 7 & 0x100);
            known |= match self.cfg.registry.known_bit(h) {
                Some(bit) => bit,
                None => self.option_pass_registry(h)?,
            };
        }
        let count = counts & 0xff;
        if i != words.len() || count > u32::from(self.cfg.max_options) {
            return None;
        }
        Some(OptionsSeen {
            count: count as u8,
            critical: (counts >> 8) as u8,
            known,
        })
    }

    /// [`options_pass`](Self::options_pass) for an option header
    /// [`OptionRegistry::known_bit`] does not know: its registry bit (0
    /// for an unknown non-critical option), `None` if it fails. Cold and
    /// not inlined: registered options of the usual lengths never get here,
    /// and the walk above keeps its registers.
    #[cold]
    #[inline(never)]
    fn option_pass_registry(&self, h: u32) -> Option<u32> {
        match self.cfg.registry.check_header(h) {
            Some((k, true)) => Some(1u32 << (k & 31)),
            Some((_, false)) => None,
            None if h & 0x8000 != 0 => None,
            None => Some(0),
        }
    }

    /// Walk the option TLVs: structure, count, known lengths, unknown critical.
    #[inline(always)]
    pub(super) fn check_options(&self, opts: &[u8]) -> Result<OptionsSeen, DropReason> {
        let mut seen = OptionsSeen::default();
        let mut rest = opts;
        while !rest.is_empty() {
            let Some(h) = rest.first_chunk::<{ geneve::OPTION_HEADER_LEN }>() else {
                return Err(DropReason::OptionOverrun);
            };
            // Class (16 bits), type (8), reserved (3), length in words (5).
            let h = u32::from_be_bytes(*h);
            let len = geneve::OPTION_HEADER_LEN + (h & 0x1f) as usize * 4;
            let Some(after) = rest.get(len..) else {
                return Err(DropReason::OptionOverrun);
            };
            rest = after;
            if seen.count == self.cfg.max_options {
                return Err(DropReason::TooManyOptions);
            }
            seen.count += 1;
            let critical = h & u32::from(geneve::OPTION_TYPE_CRITICAL) << 8 != 0;
            match self.cfg.registry.check_header(h) {
                Some((i, true)) => seen.known |= 1u32 << (i & 31),
                Some((_, false)) => return Err(DropReason::KnownOptionBadLength),
                None if critical => return Err(DropReason::UnknownCriticalOption),
                None => {}
            }
            seen.critical += u8::from(critical);
        }
        Ok(seen)
    }
}
