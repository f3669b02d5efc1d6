//! Registry of Geneve options this gateway understands (RFC 8926 section 3.5).
//!
//! On decap an option found here is "understood": if the registry gives an
//! expected length, the option must have it. An option not found here is
//! ignored unless its Type has the critical bit, in which case the packet is
//! dropped. The registry is built once (from configuration) and read by the
//! workers without locks.

/// Most entries a registry holds: [`super::OptionsSeen::known`] is a bit set.
pub const MAX_KNOWN_OPTIONS: usize = 32;

/// One understood option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownOption {
    pub class: u16,
    /// Type including the critical bit.
    pub typ: u8,
    /// Name for logs and counters.
    pub name: String,
    /// Expected data length in 4-byte words (the TLV Length field), if fixed.
    pub len_words: Option<u8>,
}

/// Why a registry could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    TooMany,
    Duplicate { class: u16, typ: u8 },
    BadLength { class: u16, typ: u8 },
}

impl core::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RegistryError::TooMany => write!(f, "more than {MAX_KNOWN_OPTIONS} known options"),
            RegistryError::Duplicate { class, typ } => {
                write!(f, "option class {class:#06x} type {typ:#04x} listed twice")
            }
            RegistryError::BadLength { class, typ } => {
                write!(
                    f,
                    "option class {class:#06x} type {typ:#04x}: length over 31 words"
                )
            }
        }
    }
}

impl std::error::Error for RegistryError {}

/// The set of understood options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionRegistry {
    entries: Vec<KnownOption>,
    /// Per entry, what decap compares with an option header's first word
    /// (class, type, flags, length): `class << 16 | type << 8` plus the
    /// expected length in words, or [`ANY_LENGTH`] when any length is fine.
    /// A packed array instead of the `entries`, so the per-option lookup
    /// scans a few cache-resident words.
    keys: Vec<u32>,
    /// The fast tier's one-probe lookup: entry `i` in slot
    /// [`slot_of`]`(class, type)` unless an earlier entry took it (those
    /// few are found by [`check_header`](Self::check_header)).
    slots: Box<[HeaderSlot; SLOTS]>,
}

/// Low byte of a [`OptionRegistry`] key whose option may have any length.
const ANY_LENGTH: u32 = 0x80;

/// Slots of [`OptionRegistry::known_bit`]: a power of two, twice the most
/// entries, so that few entries share one.
const SLOTS: usize = 2 * MAX_KNOWN_OPTIONS;

/// An option header `h` matches when `h & mask == want`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeaderSlot {
    want: u32,
    mask: u32,
    /// `1 << index` of the entry.
    bit: u32,
}

/// Matches no header: bit 5 (reserved) is masked off, wanted set.
const EMPTY_SLOT: HeaderSlot = HeaderSlot {
    want: 0x20,
    mask: 0xffff_ff1f,
    bit: 0,
};

/// The slot of `(class, type)`, given as `class << 8 | type` (Fibonacci
/// hashing: the top bits of a multiplication by 2^32 / phi).
#[inline(always)]
fn slot_of(class_type: u32) -> usize {
    (class_type.wrapping_mul(0x9e37_79b9) >> (32 - SLOTS.trailing_zeros())) as usize
}

impl Default for OptionRegistry {
    fn default() -> Self {
        OptionRegistry {
            entries: Vec::new(),
            keys: Vec::new(),
            slots: Box::new([EMPTY_SLOT; SLOTS]),
        }
    }
}

impl OptionRegistry {
    /// An empty registry: every critical option is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Build from a list, checking size, duplicates and lengths.
    pub fn from_options(
        list: impl IntoIterator<Item = KnownOption>,
    ) -> Result<Self, RegistryError> {
        let mut r = Self::new();
        for o in list {
            r.add(o)?;
        }
        Ok(r)
    }

    /// Add one option.
    pub fn add(&mut self, o: KnownOption) -> Result<(), RegistryError> {
        if self.entries.len() == MAX_KNOWN_OPTIONS {
            return Err(RegistryError::TooMany);
        }
        if self
            .entries
            .iter()
            .any(|e| e.class == o.class && e.typ == o.typ)
        {
            return Err(RegistryError::Duplicate {
                class: o.class,
                typ: o.typ,
            });
        }
        if o.len_words.is_some_and(|l| l > 31) {
            return Err(RegistryError::BadLength {
                class: o.class,
                typ: o.typ,
            });
        }
        let class_type = u32::from(o.class) << 8 | u32::from(o.typ);
        self.keys
            .push(class_type << 8 | o.len_words.map_or(ANY_LENGTH, u32::from));
        let slot = &mut self.slots[slot_of(class_type)];
        if slot.bit == 0 {
            *slot = match o.len_words {
                Some(l) => HeaderSlot {
                    want: class_type << 8 | u32::from(l),
                    mask: 0xffff_ff1f,
                    bit: 1 << self.entries.len(),
                },
                None => HeaderSlot {
                    want: class_type << 8,
                    mask: 0xffff_ff00,
                    bit: 1 << self.entries.len(),
                },
            };
        }
        self.entries.push(o);
        Ok(())
    }

    /// One probe for an option header word (class, type, reserved bits,
    /// length): `1 << index` of the registered option it is, with the
    /// registered length; `None` if that is not known this way (unknown
    /// option, wrong length, or an entry that shares its slot: ask
    /// [`check_header`](Self::check_header)).
    #[inline(always)]
    pub fn known_bit(&self, header: u32) -> Option<u32> {
        let s = &self.slots[slot_of(header >> 8)];
        (header & s.mask == s.want).then_some(s.bit)
    }

    /// The registry's verdict on an option whose header starts with the
    /// big-endian word `header` (class, type, reserved bits, length):
    /// `None` if `(class, type)` is not registered, else its index and
    /// whether the length is the registered one (or any length is fine).
    #[inline(always)]
    pub fn check_header(&self, header: u32) -> Option<(usize, bool)> {
        let (i, &k) = self
            .keys
            .iter()
            .enumerate()
            .find(|(_, &k)| (k ^ header) & 0xffff_ff00 == 0)?;
        Some((i, k & ANY_LENGTH != 0 || (k ^ header) & 0x1f == 0))
    }

    /// Index and entry for `(class, typ)`.
    #[inline]
    pub fn lookup(&self, class: u16, typ: u8) -> Option<(usize, &KnownOption)> {
        self.entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.class == class && e.typ == typ)
    }

    /// Entry by index (the bit number in [`super::OptionsSeen::known`]).
    pub fn get(&self, i: usize) -> Option<&KnownOption> {
        self.entries.get(i)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &KnownOption> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(class: u16, typ: u8, len: Option<u8>) -> KnownOption {
        KnownOption {
            class,
            typ,
            name: format!("o{class}-{typ}"),
            len_words: len,
        }
    }

    #[test]
    fn build_and_lookup() {
        let r = OptionRegistry::from_options([k(1, 0x80, Some(1)), k(1, 1, None)]).unwrap();
        assert_eq!(r.lookup(1, 1).unwrap().0, 1);
        assert!(r.lookup(1, 2).is_none());
        // Option headers: class 1, type 0x80, length 1 (reserved bits set:
        // ignored); any length for type 1; unknown class / type.
        assert_eq!(r.check_header(0x0001_80e1), Some((0, true)));
        assert_eq!(r.check_header(0x0001_8002), Some((0, false)));
        assert_eq!(r.check_header(0x0001_8000), Some((0, false)));
        assert_eq!(r.check_header(0x0001_011f), Some((1, true)));
        assert_eq!(r.check_header(0x0001_0100), Some((1, true)));
        assert_eq!(r.check_header(0x0002_8001), None);
        assert_eq!(r.check_header(0x0001_8101), None);
        assert_eq!(r.known_bit(0x0001_80e1), Some(1));
        assert_eq!(r.known_bit(0x0001_8002), None);
        assert_eq!(r.known_bit(0x0001_011f), Some(2));
        assert_eq!(r.known_bit(0x0002_8001), None);
        assert_eq!(
            OptionRegistry::from_options([k(1, 1, None), k(1, 1, None)]).err(),
            Some(RegistryError::Duplicate { class: 1, typ: 1 })
        );
        assert!(OptionRegistry::from_options([k(1, 1, Some(32))]).is_err());
        let many = (0..33u16).map(|i| k(i, 0, None));
        assert_eq!(
            OptionRegistry::from_options(many).err(),
            Some(RegistryError::TooMany)
        );
    }

    /// The one-probe lookup agrees with the scan for full registries
    /// (entries sharing a slot included) and any header.
    #[test]
    fn known_bit_agrees_with_check_header() {
        let mut x = 0x2545_f491u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut hits = 0u32;
        for round in 0..50 {
            let mut r = OptionRegistry::new();
            while r.len() < MAX_KNOWN_OPTIONS {
                let v = next();
                // Few classes and types, so collisions and near misses happen.
                let (class, typ) = ((v >> 16) as u16 % 4, (v >> 8) as u8 % 16);
                let len = (v % 3 != 0).then_some((v >> 4) as u8 % 4);
                let _ = r.add(k(class, typ | (v as u8 & 0x80), len));
                if round % 5 == 0 && r.len() == 3 {
                    break;
                }
            }
            let entries: Vec<_> = r.iter().cloned().collect();
            for _ in 0..2000 {
                let v = next();
                let e = &entries[v as usize % entries.len()];
                let header = match v % 4 {
                    0 => v,
                    1 => u32::from(e.class) << 16 | u32::from(e.typ) << 8 | (v >> 8) & 0xff,
                    _ => {
                        u32::from(e.class) << 16
                            | u32::from(e.typ) << 8
                            | (v >> 8) & 0xe0
                            | u32::from(e.len_words.unwrap_or(v as u8 & 0x1f))
                    }
                };
                let bit = r.known_bit(header);
                match r.check_header(header) {
                    Some((i, true)) => {
                        assert!(bit.is_none_or(|b| b == 1 << i), "{header:#x}");
                        hits += u32::from(bit.is_some());
                    }
                    _ => assert_eq!(bit, None, "{header:#x}"),
                }
            }
        }
        // Most probes of registered headers hit (few entries share a slot).
        assert!(hits > 10_000, "{hits}");
    }
}
