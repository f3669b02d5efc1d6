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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionRegistry {
    entries: Vec<KnownOption>,
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
        self.entries.push(o);
        Ok(())
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
}
