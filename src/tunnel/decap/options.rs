//! Geneve option checks: the fast tier's one-pass walk and the general
//! tier's ordered checks (structure, count, known lengths, unknown critical).
use super::{Decapsulator, DropReason, OptionsSeen};
use crate::wire::geneve::{self, TunnelOption};

/// An options area the fast tier recognises without walking it: its
/// length and the option headers at their word positions, with what the
/// walk ([`Decapsulator::options_pass`]) gives for it. The walk reads only
/// the headers, and each header's length says where the next one is, so
/// an area of the same length with the same headers at the same positions
/// walks the same way and passes with the same result, whatever the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OptionLayout {
    /// Length of the options area in 4-byte words.
    words: usize,
    /// (word position, header word in memory order) of each option.
    headers: [(usize, u32); OptionLayout::MAX],
    n: usize,
    /// For an area of 16 bytes (the usual one or two small options): the
    /// area as two native-endian words, header bytes masked in, compared
    /// at once as the header pattern is.
    words16: Option<([u64; 2], [u64; 2])>,
    seen: OptionsSeen,
}

impl OptionLayout {
    /// Most options a layout holds.
    const MAX: usize = 4;

    /// The layout of `options` as a peer sends them (what this gateway's
    /// own tunnels send, data zeroed), if the walk passes it under `d`.
    pub(super) fn new(d: &Decapsulator, options: &[TunnelOption]) -> Option<OptionLayout> {
        if options.is_empty() || options.len() > Self::MAX {
            return None;
        }
        let mut area = Vec::new();
        let mut headers = [(0usize, 0u32); Self::MAX];
        for (i, o) in options.iter().enumerate() {
            let len = u8::try_from(o.data.len() / 4).ok().filter(|&l| l <= 0x1f)?;
            let [c0, c1] = o.class.to_be_bytes();
            let h = [c0, c1, o.typ, len];
            headers[i] = (area.len() / 4, u32::from_ne_bytes(h));
            area.extend_from_slice(&h);
            area.resize(area.len() + o.data.len(), 0);
        }
        let seen = d.options_walk(&area)?;
        let words16 = (area.len() == 16).then(|| {
            let mut mask = [0u8; 16];
            for &(at, _) in &headers[..options.len()] {
                mask[at * 4..at * 4 + 4].fill(0xff);
            }
            let word = |b: &[u8], i: usize| {
                u64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]))
            };
            (
                [
                    word(&area, 0) & word(&mask, 0),
                    word(&area, 1) & word(&mask, 1),
                ],
                [word(&mask, 0), word(&mask, 1)],
            )
        });
        Some(OptionLayout {
            words: area.len() / 4,
            headers,
            n: options.len(),
            words16,
            seen,
        })
    }

    /// The layout is compared as two masked words (a 16-byte area).
    #[cfg(test)]
    pub(super) fn is_16_bytes(&self) -> bool {
        self.words16.is_some()
    }

    /// What the walk gives for `words` (the area `opts`) if they have this
    /// layout.
    #[inline(always)]
    fn matches(&self, opts: &[u8], words: &[[u8; 4]]) -> Option<OptionsSeen> {
        if words.len() != self.words {
            return None;
        }
        if let (Some((want, mask)), Some(a)) = (&self.words16, opts.first_chunk::<16>()) {
            let (w0, w1) = a.split_at(8);
            let w = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
            let diff = ((w(w0) ^ want[0]) & mask[0]) | ((w(w1) ^ want[1]) & mask[1]);
            return (diff == 0).then_some(self.seen);
        }
        for &(at, h) in self.headers.get(..self.n)? {
            if u32::from_ne_bytes(*words.get(at)?) != h {
                return None;
            }
        }
        Some(self.seen)
    }
}

impl Decapsulator {
    /// The fast tier's option walk: what [`check_options`](Self::check_options)
    /// returns when the options pass, `None` when they do not (the general
    /// tier then finds which check fails first, so the checks here need no
    /// order).
    ///
    /// An area laid out as the configured tunnels send their options
    /// ([`OptionLayout`]) is recognised by comparing its option headers.
    #[inline(always)]
    pub(super) fn options_pass(&self, opts: &[u8]) -> Option<OptionsSeen> {
        // Opt Len counts 4-byte words; so do TLV lengths.
        let (words, []) = opts.as_chunks::<4>() else {
            return None;
        };
        if let Some(seen) = self
            .option_layout
            .as_ref()
            .and_then(|l| l.matches(opts, words))
        {
            return Some(seen);
        }
        self.options_walk(opts)
    }

    /// [`options_pass`](Self::options_pass) without the layout: the walk.
    #[inline(always)]
    fn options_walk(&self, opts: &[u8]) -> Option<OptionsSeen> {
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
