//! Configuration errors: every one names the file, the line and column, the
//! field path and what is allowed.

use std::fmt;

/// A position in the YAML text: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
}

/// One configuration error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigError {
    /// The file name as given to [`super::load`] or [`super::load_str`].
    pub file: String,
    /// Where in the file; line 0 when the error is about the file as a whole.
    pub pos: Pos,
    /// The field path in the document, e.g. `tunnels[2].vni`; empty for the
    /// document itself.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigError {
    /// The 1-based line of the error (0 when unknown).
    pub fn line(&self) -> usize {
        self.pos.line
    }

    /// The 1-based column of the error (0 when unknown).
    pub fn column(&self) -> usize {
        self.pos.column
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.pos.line > 0 {
            write!(f, ":{}", self.pos.line)?;
            if self.pos.column > 0 {
                write!(f, ":{}", self.pos.column)?;
            }
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// How many errors `Display` prints before it only counts the rest.
pub const SHOWN_ERRORS: usize = 20;

/// All the errors found in one configuration file, in the order of the file.
///
/// `Display` prints one error per line (`file:line:col: field.path: message`)
/// with no trailing newline: exactly what an operator should see. Past
/// [`SHOWN_ERRORS`] it prints one more line, `... and N more errors (M in
/// all)`: a generated file with a hundred thousand mistakes usually has one
/// cause. The alternate form (`{:#}`) prints every error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub(crate) fn new(mut errors: Vec<ConfigError>) -> Self {
        errors.sort_by_key(|e| e.pos);
        errors.dedup();
        ConfigErrors { errors }
    }

    /// The errors, sorted by position in the file.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// How many errors.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Never true for an error returned by `load`; here for clippy.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Iterate over the errors.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if f.alternate() {
            self.errors.len()
        } else {
            SHOWN_ERRORS
        };
        for (i, e) in self.errors.iter().take(shown).enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        let more = self.errors.len().saturating_sub(shown);
        if more > 0 {
            write!(
                f,
                "\n... and {more} more error{} ({} in all)",
                if more == 1 { "" } else { "s" },
                self.errors.len()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Turn a serde_yaml_ng error into a [`ConfigError`]: split its path from its
/// message, drop the `at line N column M` it carries in the text (we print the
/// position ourselves), and make serde's wording operator-friendly (suggest
/// the closest name for a misspelled field or keyword).
pub(crate) fn from_serde(file: &str, err: &serde_yaml_ng::Error) -> ConfigError {
    let pos = err
        .location()
        .map(|l| Pos {
            line: l.line(),
            column: l.column(),
        })
        .unwrap_or_default();
    let text = strip_marks(&err.to_string());
    let (mut path, msg) = split_path(&text);
    let mut message = msg.to_string();
    if let Some((field, allowed)) = parse_unknown(&message, "unknown field `") {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&field);
        message = unknown_message("field", &field, &allowed);
    } else if let Some((variant, allowed)) = parse_unknown(&message, "unknown variant `") {
        message = unknown_message("value", &variant, &allowed);
    } else if let Some((field, _)) = parse_unknown(&message, "missing field `") {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&field);
        message = "missing; this field is required".to_string();
    } else if let Some((field, _)) = parse_unknown(&message, "duplicate field `") {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&field);
        message = "given twice; a field may appear once".to_string();
    } else if message.starts_with("deserializing from YAML containing more than one document") {
        message =
            "more than one YAML document (`---`); a configuration is a single document".to_string();
    } else {
        message = friendly_types(&message);
    }
    ConfigError {
        file: file.to_string(),
        pos,
        path,
        message,
    }
}

/// Remove every ` at line N column M` (and ` at position N`) from a message.
fn strip_marks(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        // skip "N column M"
        let digits = after.trim_start_matches(|c: char| c.is_ascii_digit());
        if let Some(col) = digits.strip_prefix(" column ") {
            rest = col.trim_start_matches(|c: char| c.is_ascii_digit());
        } else {
            rest = digits;
        }
    }
    out.push_str(rest);
    if let Some(i) = out.find(" at position ") {
        let tail =
            out[i + " at position ".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out = format!("{}{}", &out[..i], tail);
    }
    out
}

/// serde_yaml_ng prefixes the message with `path: ` when the error is below
/// the document root. Paths never hold spaces or backticks; messages that are
/// not prefixed do have a space before their first `: `.
fn split_path(s: &str) -> (String, &str) {
    if let Some(i) = s.find(": ") {
        let head = &s[..i];
        if !head.is_empty() && !head.contains(char::is_whitespace) && !head.contains('`') {
            return (head.to_string(), &s[i + 2..]);
        }
    }
    (String::new(), s)
}

/// Parse serde's "unknown field `x`, expected one of `a`, `b`" (or
/// "expected `a` or `b`", "there are no fields") into the name and the
/// allowed names.
fn parse_unknown(msg: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    let name = rest[..end].to_string();
    let tail = &rest[end + 1..];
    let allowed = tail
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect();
    Some((name, allowed))
}

pub(crate) fn unknown_message<S: AsRef<str>>(what: &str, name: &str, allowed: &[S]) -> String {
    let allowed: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
    let list = allowed.join(", ");
    match closest(name, allowed.iter().copied()) {
        Some(best) => format!("unknown {what} `{name}`; did you mean `{best}`? allowed: {list}"),
        None if allowed.is_empty() => format!("unknown {what} `{name}`; none allowed here"),
        None => format!("unknown {what} `{name}`; allowed: {list}"),
    }
}

/// The closest of `candidates` to `name`, if it is close enough to be a
/// plausible typo.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase().replace('-', "_");
    candidates
        .map(|c| (strsim::damerau_levenshtein(&lower, c), c))
        .filter(|(d, c)| {
            *d <= (c.len().max(3) / 3).max(1)
                || (lower.len() >= 3 && (c.starts_with(&lower) || lower.starts_with(c)))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// serde names Rust types ("expected u16"); say what the operator writes.
fn friendly_types(msg: &str) -> String {
    let mut m = msg.to_string();
    for (from, to) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected an integer"),
        ("expected u32", "expected an integer"),
        ("expected u16", "expected an integer"),
        ("expected u8", "expected an integer"),
        ("expected a string", "expected a string"),
        ("expected a sequence", "expected a list"),
        ("expected a boolean", "expected true or false"),
    ] {
        if let Some(stripped) = m.strip_suffix(from) {
            m = format!("{stripped}{to}");
        }
    }
    if let Some(stripped) = m.strip_suffix("expected struct RawConfig") {
        return format!("{stripped}expected a mapping of sections: eal, ports, vtep, tunnels, l2, l3, decap, options, limits");
    }
    if let Some(i) = m.find("expected struct Raw") {
        let tail = &m[i + "expected struct Raw".len()..];
        let name: String = tail.chars().take_while(|c| c.is_alphanumeric()).collect();
        let rest = &tail[name.len()..];
        m = format!(
            "{}expected a mapping ({}){}",
            &m[..i],
            name.to_lowercase(),
            rest
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_marks_removes_positions() {
        assert_eq!(
            strip_marks("a: invalid type at line 3 column 7"),
            "a: invalid type"
        );
        assert_eq!(
            strip_marks("mapping values are not allowed in this context at line 2 column 5"),
            "mapping values are not allowed in this context"
        );
    }

    #[test]
    fn split_path_only_takes_paths() {
        assert_eq!(
            split_path("tunnels[0].vni: invalid type: string"),
            ("tunnels[0].vni".to_string(), "invalid type: string")
        );
        assert_eq!(
            split_path("invalid type: string"),
            (String::new(), "invalid type: string")
        );
    }

    #[test]
    fn closest_finds_typos() {
        let c = ["name", "remote", "vni", "udp_port"];
        assert_eq!(closest("vnii", c.iter().copied()), Some("vni"));
        assert_eq!(closest("remtoe", c.iter().copied()), Some("remote"));
        assert_eq!(closest("udp-port", c.iter().copied()), Some("udp_port"));
        assert_eq!(closest("zzzzzz", c.iter().copied()), None);
    }

    #[test]
    fn display_is_one_line_per_error() {
        let e = |line, path: &str| ConfigError {
            file: "gw.yaml".into(),
            pos: Pos { line, column: 3 },
            path: path.into(),
            message: "bad".into(),
        };
        let errs = ConfigErrors::new(vec![e(9, "b"), e(2, "a"), e(0, "")]);
        assert_eq!(
            errs.to_string(),
            "gw.yaml: bad\ngw.yaml:2:3: a: bad\ngw.yaml:9:3: b: bad"
        );
    }

    #[test]
    fn display_counts_what_it_does_not_print() {
        let e = |line| ConfigError {
            file: "gw.yaml".into(),
            pos: Pos { line, column: 1 },
            path: "x".into(),
            message: "bad".into(),
        };
        let n = SHOWN_ERRORS + 5;
        let errs = ConfigErrors::new((1..=n).rev().map(e).collect());
        let text = errs.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), SHOWN_ERRORS + 1);
        assert_eq!(lines[0], "gw.yaml:1:1: x: bad");
        assert_eq!(
            lines[SHOWN_ERRORS - 1],
            format!("gw.yaml:{SHOWN_ERRORS}:1: x: bad")
        );
        assert_eq!(
            lines[SHOWN_ERRORS],
            format!("... and 5 more errors ({n} in all)")
        );
        assert_eq!(format!("{errs:#}").lines().count(), n);
        let one_more = ConfigErrors::new((1..=SHOWN_ERRORS + 1).map(e).collect());
        assert!(one_more
            .to_string()
            .ends_with("... and 1 more error (21 in all)"));
        let exactly = ConfigErrors::new((1..=SHOWN_ERRORS).map(e).collect());
        assert_eq!(exactly.to_string().lines().count(), SHOWN_ERRORS);
    }
}
