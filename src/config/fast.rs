//! The fast tier of loading, for configurations of a million entries.
//!
//! serde_yaml_ng holds every event of the document in memory before it
//! deserializes (over a hundred bytes per scalar) and its libyaml scanner is
//! slow per byte, so a file of a million tunnels and routes took most of a
//! minute and several GB. The long lists such files hold are written one
//! entry per line, in flow style:
//!
//! ```yaml
//! tunnels:
//!   - { name: t0, remote: 198.18.1.1, vni: 1000 }
//!   - { name: t1, remote: 198.18.1.2, vni: 1000 }
//! ```
//!
//! This tier reads such lines itself, with a grammar narrow enough that it
//! gives exactly what serde_yaml_ng would (plain words and numbers, quoted
//! strings without escapes, one flow list of words), and declines
//! everything else. Like the packet path's tiers it either gives the
//! general tier's result or declines:
//!
//! 1. [`Split::new`] finds runs of at least two consecutive lines of one
//!    entry kind (tunnel, route, static MAC, decap entry) at one
//!    indentation, parses them, and writes the *skeleton*: the text with
//!    every run's lines but its first blanked (newlines kept, so every line
//!    number stays).
//! 2. serde_yaml_ng reads the skeleton (small) as usual, the run's first
//!    entry among it; [`Split::splice`] then finds, from the skeleton's
//!    position index, which list each run's first line is in, checks that
//!    the kind fits that list, and puts the run's other entries after it.
//!    When serde refuses the skeleton with a schema error (a wrong type,
//!    an unknown, missing or repeated field), its errors are the file's:
//!    the lines taken out are each a well-formed entry of their list, the
//!    skeleton keeps every line number and column, and
//!    [`Split::real_path`] moves list indexes past the runs. A YAML syntax
//!    error declines.
//! 3. Errors found afterwards name paths of the whole file; [`Split::value_pos`]
//!    finds a path inside a run by reading its line again, and any other
//!    path in the skeleton's index (list indexes shifted back by the lines
//!    taken out before it).
//!
//! Any doubt (a run in a list of another kind or in no list, a skeleton
//! serde rejects or that uses an alias, which would repeat only the
//! skeleton's part of a list) declines the whole file; a line that does
//! not fit the grammar just stays in the skeleton. A declined file is
//! loaded as before, with the same result and the same errors, only
//! slower. Tests compare both tiers on every example and on
//! random files.

use std::collections::HashMap;

use super::error::Pos;
use super::index::PosIndex;
use super::raw::{RawConfig, RawDecap, RawRoute, RawStaticMac, RawTunnel, Scalar};

/// A value on a run line: its text (without quotes) and its 0-based byte
/// column (of the opening quote or bracket).
#[derive(Debug, Clone, PartialEq)]
enum Value<'t> {
    Plain(&'t str, usize),
    Quoted(&'t str, usize),
    /// A flow list of plain or quoted words: `[a, "b"]`.
    List(Vec<(&'t str, usize, bool)>, usize),
}

impl Value<'_> {
    fn column(&self) -> usize {
        match self {
            Value::Plain(_, c) | Value::Quoted(_, c) | Value::List(_, c) => *c,
        }
    }
}

/// One parsed line: `- { key: value, ... }`.
#[derive(Debug)]
struct Line<'t> {
    /// Column of the `-`.
    indent: usize,
    /// Column of the `{`.
    brace: usize,
    /// Keys with their columns and values, in the line's order.
    fields: Vec<(&'t str, usize, Value<'t>)>,
}

impl<'t> Line<'t> {
    fn get(&self, key: &str) -> Option<&Value<'t>> {
        self.fields.iter().find(|f| f.0 == key).map(|f| &f.2)
    }
}

struct Cursor<'t> {
    s: &'t str,
    b: &'t [u8],
    i: usize,
}

impl<'t> Cursor<'t> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn spaces(&mut self) -> usize {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i - start
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }

    /// `[a-z_]+`.
    fn key(&mut self) -> Option<(&'t str, usize)> {
        let start = self.i;
        while matches!(self.peek(), Some(b'a'..=b'z' | b'_')) {
            self.i += 1;
        }
        (self.i > start).then(|| (&self.s[start..self.i], start))
    }

    /// A plain word `[A-Za-z0-9][A-Za-z0-9._/-]*` or a quoted string of
    /// printable ASCII without escapes; `bool` says quoted.
    fn word(&mut self) -> Option<(&'t str, usize, bool)> {
        let start = self.i;
        match self.peek()? {
            q @ (b'"' | b'\'') => {
                self.i += 1;
                let from = self.i;
                while let Some(c) = self.peek() {
                    if c == q {
                        break;
                    }
                    if c == b'\\' || !(0x20..0x7f).contains(&c) {
                        return None;
                    }
                    self.i += 1;
                }
                let to = self.i;
                self.eat(q)?;
                // `''` is an escaped quote in single-quoted style.
                if self.peek() == Some(q) {
                    return None;
                }
                Some((&self.s[from..to], start, true))
            }
            c if c.is_ascii_alphanumeric() => {
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-'))
                {
                    self.i += 1;
                }
                // A plain word ends at a space or an indicator of the flow
                // around it; anything else (`:`, `#`...) is beyond the grammar.
                match self.peek() {
                    Some(b' ' | b',' | b'}' | b']') => Some((&self.s[start..self.i], start, false)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn value(&mut self) -> Option<Value<'t>> {
        if self.peek() == Some(b'[') {
            let start = self.i;
            self.i += 1;
            self.spaces();
            let mut items = Vec::new();
            if self.eat(b']').is_none() {
                loop {
                    items.push(self.word()?);
                    self.spaces();
                    if self.eat(b']').is_some() {
                        break;
                    }
                    self.eat(b',')?;
                    self.spaces();
                }
            }
            return Some(Value::List(items, start));
        }
        let (w, col, quoted) = self.word()?;
        Some(if quoted {
            Value::Quoted(w, col)
        } else {
            Value::Plain(w, col)
        })
    }
}

/// Parse `<indent>- { key: value, ... }[ # comment]`, or decline.
fn parse_line(s: &str) -> Option<Line<'_>> {
    let mut c = Cursor {
        s,
        b: s.as_bytes(),
        i: 0,
    };
    let indent = c.spaces();
    c.eat(b'-')?;
    if c.spaces() == 0 {
        return None;
    }
    let brace = c.i;
    c.eat(b'{')?;
    c.spaces();
    let mut fields: Vec<(&str, usize, Value)> = Vec::with_capacity(4);
    loop {
        let (k, kcol) = c.key()?;
        c.eat(b':')?;
        if c.spaces() == 0 {
            return None;
        }
        let v = c.value()?;
        if fields.iter().any(|f| f.0 == k) {
            return None; // serde reports a field given twice
        }
        fields.push((k, kcol, v));
        c.spaces();
        if c.eat(b'}').is_some() {
            break;
        }
        c.eat(b',')?;
        c.spaces();
    }
    let before = c.spaces();
    match c.peek() {
        None => {}
        Some(b'#') if before > 0 => {}
        _ => return None,
    }
    Some(Line {
        indent,
        brace,
        fields,
    })
}

/// Plain words serde_yaml_ng reads as something other than a string.
fn special(w: &str) -> bool {
    matches!(
        w,
        "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    )
}

/// A string field: any word but the ones YAML reads as null or a boolean.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Plain(w, _) if !special(w) => Some((*w).to_string()),
        Value::Quoted(w, _) => Some((*w).to_string()),
        _ => None,
    }
}

/// An integer field: a plain decimal without a leading zero (`0x10`,
/// `010`, `+5`, `-5` decline: serde reads them differently or refuses).
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Plain(w, _)
            if w.bytes().all(|b| b.is_ascii_digit()) && (w.len() == 1 || !w.starts_with('0')) =>
        {
            w.parse().ok()
        }
        _ => None,
    }
}

/// A [`Scalar`] field: a decimal, or a plain word that is no number,
/// boolean or null to YAML.
fn scalar(v: &Value) -> Option<Scalar> {
    if let Some(n) = int(v) {
        return Some(Scalar::Int(n));
    }
    match v {
        Value::Plain(w, _)
            if w.as_bytes()[0].is_ascii_alphabetic()
                && !special(w)
                && w.parse::<f64>().is_err() =>
        {
            Some(Scalar::Str((*w).to_string()))
        }
        _ => None,
    }
}

fn keys_are(l: &Line, required: &[&str], optional: &[&str]) -> bool {
    required.iter().all(|k| l.get(k).is_some())
        && l.fields
            .iter()
            .all(|f| required.contains(&f.0) || optional.contains(&f.0))
}

/// The entries of one run.
#[derive(Debug)]
enum Entries {
    Tunnels(Vec<RawTunnel>),
    Routes(Vec<RawRoute>),
    StaticMacs(Vec<RawStaticMac>),
    Decap(Vec<RawDecap>),
}

impl Entries {
    fn len(&self) -> usize {
        match self {
            Entries::Tunnels(v) => v.len(),
            Entries::Routes(v) => v.len(),
            Entries::StaticMacs(v) => v.len(),
            Entries::Decap(v) => v.len(),
        }
    }

    /// The line as an entry of this run's kind, or None.
    fn push(&mut self, l: &Line) -> Option<()> {
        match self {
            Entries::Tunnels(v) => v.push(tunnel(l)?),
            Entries::Routes(v) => v.push(route(l)?),
            Entries::StaticMacs(v) => v.push(static_mac(l)?),
            Entries::Decap(v) => v.push(decap(l)?),
        }
        Some(())
    }

    /// An empty run of the kind `l` is, when `l` reads as one.
    fn of(l: &Line) -> Option<Entries> {
        [
            Entries::Tunnels(Vec::new()),
            Entries::Routes(Vec::new()),
            Entries::StaticMacs(Vec::new()),
            Entries::Decap(Vec::new()),
        ]
        .into_iter()
        .find(|e| match e {
            Entries::Tunnels(_) => tunnel(l).is_some(),
            Entries::Routes(_) => route(l).is_some(),
            Entries::StaticMacs(_) => static_mac(l).is_some(),
            Entries::Decap(_) => decap(l).is_some(),
        })
    }
}

fn tunnel(l: &Line) -> Option<RawTunnel> {
    if !keys_are(l, &["name", "remote", "vni"], &[]) {
        return None;
    }
    Some(RawTunnel {
        name: text(l.get("name")?)?,
        remote: text(l.get("remote")?)?,
        vni: int(l.get("vni")?)?,
        encapsulation: None,
        mesh: None,
        options: Vec::new(),
        udp_port: None,
        udp_checksum: None,
        accept_zero_checksum: None,
        ttl: None,
        dscp: None,
        source_ports: None,
    })
}

fn route(l: &Line) -> Option<RawRoute> {
    if !keys_are(l, &["prefix", "tunnel"], &[]) {
        return None;
    }
    Some(RawRoute {
        prefix: text(l.get("prefix")?)?,
        tunnel: text(l.get("tunnel")?)?,
    })
}

fn static_mac(l: &Line) -> Option<RawStaticMac> {
    if !keys_are(l, &["mac", "remote"], &[]) {
        return None;
    }
    Some(RawStaticMac {
        mac: text(l.get("mac")?)?,
        remote: text(l.get("remote")?)?,
    })
}

fn decap(l: &Line) -> Option<RawDecap> {
    if !keys_are(l, &["vni"], &["port", "vlan", "allow_from"]) {
        return None;
    }
    let allow_from = match l.get("allow_from") {
        None => None,
        Some(Value::List(items, _)) => Some(
            items
                .iter()
                .map(|(w, _, quoted)| (*quoted || !special(w)).then(|| (*w).to_string()))
                .collect::<Option<Vec<String>>>()?,
        ),
        Some(_) => return None,
    };
    Some(RawDecap {
        vni: int(l.get("vni")?)?,
        port: l
            .get("port")
            .map(text)
            .map_or(Some(None), |p| p.map(Some))?,
        vlan: l
            .get("vlan")
            .map(scalar)
            .map_or(Some(None), |v| v.map(Some))?,
        allow_from,
    })
}

/// Consecutive lines of one kind at one indentation.
#[derive(Debug)]
struct Run {
    /// 1-based line of the first entry (kept in the skeleton).
    line: usize,
    /// 0-based column of the first entry's `{`.
    brace: usize,
    /// Byte offset of each line of the run in the text.
    starts: Vec<usize>,
    /// The entries of every line but the first (serde reads that one).
    rest: Entries,
    /// Filled by `splice`: the list's path, the first entry's index in the
    /// skeleton's list and in the whole file's.
    list: String,
    skel_index: usize,
    real_index: usize,
}

/// A text split into a skeleton and runs of entries (see the module doc).
#[derive(Debug)]
pub(crate) struct Split {
    /// The text with the runs' lines after their first blanked.
    pub skeleton: String,
    runs: Vec<Run>,
    /// List path -> its runs (indexes into `runs`) in file order.
    lists: HashMap<String, Vec<usize>>,
}

/// The fewest lines a run must have to be worth taking out.
const MIN_RUN: usize = 2;

impl Split {
    /// Split `text`, or None when it holds no run (or a tab anywhere).
    pub fn new(text: &str) -> Option<Split> {
        let mut runs: Vec<Run> = Vec::new();
        // The run being built: (indent, first line, its brace, starts, rest).
        type Open = Option<(usize, usize, usize, Vec<usize>, Entries)>;
        let mut open: Open = None;
        let mut offset = 0;
        let close = |open: &mut Open, runs: &mut Vec<Run>| {
            if let Some((_, line, brace, starts, rest)) = open.take() {
                if starts.len() >= MIN_RUN {
                    runs.push(Run {
                        line,
                        brace,
                        starts,
                        rest,
                        list: String::new(),
                        skel_index: 0,
                        real_index: 0,
                    });
                }
            }
        };
        for (n, raw_line) in text.split('\n').enumerate() {
            let start = offset;
            offset += raw_line.len() + 1;
            let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
            if line.contains('\t') {
                return None;
            }
            let parsed = line
                .trim_start_matches(' ')
                .starts_with("- {")
                .then(|| parse_line(line))
                .flatten();
            let Some(l) = parsed else {
                close(&mut open, &mut runs);
                continue;
            };
            if let Some((indent, _, _, starts, rest)) = &mut open {
                if *indent == l.indent && rest.push(&l).is_some() {
                    starts.push(start);
                    continue;
                }
                close(&mut open, &mut runs);
            }
            // A new run starts here: its first line stays for serde.
            if let Some(rest) = Entries::of(&l) {
                open = Some((l.indent, n + 1, l.brace, vec![start], rest));
            }
        }
        close(&mut open, &mut runs);
        if runs.is_empty() {
            return None;
        }
        // The skeleton: every run line but the first becomes empty.
        let mut skeleton = String::with_capacity(text.len() / 8);
        let mut at = 0;
        for r in &runs {
            let second = r.starts[1];
            let end = r.starts.last().map_or(second, |s| {
                s + text[*s..].find('\n').unwrap_or(text.len() - s)
            });
            skeleton.push_str(&text[at..second]);
            for _ in 1..r.starts.len() {
                skeleton.push('\n');
            }
            // The last line's own newline (if any) is copied with what follows.
            skeleton.pop();
            at = end;
        }
        skeleton.push_str(&text[at..]);
        Some(Split {
            skeleton,
            runs,
            lists: HashMap::new(),
        })
    }

    /// How many entries the runs hold beyond their first lines (which
    /// serde reads with the skeleton).
    pub fn taken(&self) -> usize {
        self.runs.iter().map(|r| r.starts.len() - 1).sum()
    }

    /// Find, from the skeleton's position index, the list each run is in
    /// and its first entry's index there and in the whole file; None when
    /// a run is not an entry of a list its kind belongs to.
    pub fn place(&mut self, index: &PosIndex) -> Option<()> {
        // Which skeleton node each run's first line is: (list, index).
        let at: HashMap<Pos, usize> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    Pos {
                        line: r.line,
                        column: r.brace + 1,
                    },
                    i,
                )
            })
            .collect();
        if at.len() != self.runs.len() {
            return None;
        }
        for (path, run) in index.paths_at(&at) {
            let (list, i) = split_index(path)?;
            let r = &mut self.runs[run];
            let fits = match &r.rest {
                Entries::Tunnels(_) => list == "tunnels",
                Entries::Routes(_) => list == "l3.routes",
                Entries::Decap(_) => list == "decap",
                Entries::StaticMacs(_) => {
                    list.starts_with("l2.segments[") && list.ends_with("].static_macs")
                }
            };
            if !fits {
                return None;
            }
            r.list = list.to_string();
            r.skel_index = i;
        }
        if self.runs.iter().any(|r| r.list.is_empty()) {
            return None;
        }
        // Runs per list in file order, and each run's first index in the
        // whole file's list.
        let mut order: Vec<usize> = (0..self.runs.len()).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&self.runs[a], &self.runs[b]);
            (ra.list.as_str(), ra.skel_index).cmp(&(rb.list.as_str(), rb.skel_index))
        });
        let mut lists: HashMap<String, Vec<usize>> = HashMap::new();
        for i in order {
            let list = self.runs[i].list.clone();
            let runs = lists.entry(list).or_default();
            let shift: usize = runs.iter().map(|&j| self.runs[j].rest.len()).sum();
            if let Some(&prev) = runs.last() {
                if self.runs[prev].skel_index == self.runs[i].skel_index {
                    return None;
                }
            }
            self.runs[i].real_index = self.runs[i].skel_index + shift;
            runs.push(i);
        }
        self.lists = lists;
        Some(())
    }

    /// Put the runs' entries into `raw`, read from the skeleton (after
    /// [`Split::place`]); None when serde did not read a run's first entry.
    pub fn splice(&mut self, mut raw: RawConfig) -> Option<RawConfig> {
        let lists = std::mem::take(&mut self.lists);
        let mut take = |list: &str| -> Vec<(usize, Entries)> {
            lists
                .get(list)
                .map(|rs| {
                    rs.iter()
                        .map(|&i| {
                            let r = &mut self.runs[i];
                            let empty = empty_like(&r.rest);
                            let e = std::mem::replace(&mut r.rest, empty);
                            (r.skel_index, e)
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        raw.tunnels = merge(raw.tunnels, take("tunnels"), |e| match e {
            Entries::Tunnels(v) => Some(v),
            _ => None,
        })?;
        if let Some(l3) = &mut raw.l3 {
            l3.routes = merge(
                std::mem::take(&mut l3.routes),
                take("l3.routes"),
                |e| match e {
                    Entries::Routes(v) => Some(v),
                    _ => None,
                },
            )?;
        }
        raw.decap = merge(raw.decap, take("decap"), |e| match e {
            Entries::Decap(v) => Some(v),
            _ => None,
        })?;
        if let Some(l2) = &mut raw.l2 {
            for (s, seg) in l2.segments.iter_mut().enumerate() {
                let runs = take(&format!("l2.segments[{s}].static_macs"));
                seg.static_macs = merge(std::mem::take(&mut seg.static_macs), runs, |e| match e {
                    Entries::StaticMacs(v) => Some(v),
                    _ => None,
                })?;
            }
        }
        // Every run must have been placed (a list serde did not read, such
        // as l3.routes with no l3 section read, declines).
        let placed = self.runs.iter().all(|r| r.rest.len() == 0);
        self.lists = lists;
        placed.then_some(raw)
    }

    /// A path serde gave for the skeleton, as a path of the whole file:
    /// list indexes past a run move up by the lines taken out before them.
    pub fn real_path(&self, skel: &str) -> String {
        for (i, _) in skel.match_indices('[') {
            let Some(runs) = self.lists.get(&skel[..i]) else {
                continue;
            };
            let Some((k, rest)) = skel[i + 1..]
                .split_once(']')
                .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest)))
            else {
                break;
            };
            let shift: usize = runs
                .iter()
                .map(|&j| &self.runs[j])
                .filter(|r| r.skel_index < k)
                .map(|r| r.starts.len() - 1)
                .sum();
            return format!("{}[{}]{rest}", &skel[..i], k + shift);
        }
        skel.to_string()
    }

    /// Where `path` (a path of the whole file) stands: in a run's line, or
    /// in the skeleton's index.
    pub fn value_pos(&self, text: &str, path: &str, skeleton: &PosIndex) -> Pos {
        match self.locate(path) {
            Located::Line(line, start, rest) => {
                let s = &text[start..];
                let s = &s[..s.find('\n').unwrap_or(s.len())];
                let s = s.strip_suffix('\r').unwrap_or(s);
                let col = parse_line(s).map_or(0, |l| column_in(&l, rest));
                Pos {
                    line,
                    column: col + 1,
                }
            }
            Located::Skeleton(p) => skeleton.value_pos(&p),
        }
    }

    /// The skeleton path of a path of the whole file, or its line in a run.
    fn locate<'p>(&self, path: &'p str) -> Located<'p> {
        for (i, _) in path.match_indices('[') {
            let Some(runs) = self.lists.get(&path[..i]) else {
                continue;
            };
            let Some((idx, rest)) = path[i + 1..]
                .split_once(']')
                .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest)))
            else {
                break;
            };
            let mut shift = 0;
            for &j in runs {
                let r = &self.runs[j];
                let taken = r.starts.len() - 1;
                if idx <= r.real_index {
                    break;
                }
                if idx <= r.real_index + taken {
                    let k = idx - r.real_index;
                    return Located::Line(r.line + k, r.starts[k], rest);
                }
                shift += taken;
            }
            return Located::Skeleton(format!("{}[{}]{rest}", &path[..i], idx - shift));
        }
        Located::Skeleton(path.to_string())
    }
}

enum Located<'p> {
    /// 1-based line, byte offset of the line, the path below the entry.
    Line(usize, usize, &'p str),
    Skeleton(String),
}

/// The 0-based column of `rest` (`` or `.key` or `.key[j]`, deeper parts
/// fall back to their nearest present ancestor) in a parsed line, as the
/// position index gives it: a list under a key is positioned at its key.
fn column_in(l: &Line, rest: &str) -> usize {
    let Some(rest) = rest.strip_prefix('.') else {
        return l.brace;
    };
    let (key, below) = match rest.find(['.', '[']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let Some((_, kcol, v)) = l.fields.iter().find(|f| f.0 == key) else {
        return l.brace;
    };
    match v {
        Value::List(items, _) => {
            let item = below
                .strip_prefix('[')
                .and_then(|b| b.split_once(']'))
                .and_then(|(n, _)| n.parse::<usize>().ok())
                .and_then(|j| items.get(j));
            item.map_or(*kcol, |it| it.1)
        }
        other => other.column(),
    }
}

/// `a.b[12]` -> (`a.b`, 12).
fn split_index(path: &str) -> Option<(&str, usize)> {
    let body = path.strip_suffix(']')?;
    let i = body.rfind('[')?;
    Some((&body[..i], body[i + 1..].parse().ok()?))
}

fn empty_like(e: &Entries) -> Entries {
    match e {
        Entries::Tunnels(_) => Entries::Tunnels(Vec::new()),
        Entries::Routes(_) => Entries::Routes(Vec::new()),
        Entries::StaticMacs(_) => Entries::StaticMacs(Vec::new()),
        Entries::Decap(_) => Entries::Decap(Vec::new()),
    }
}

/// The skeleton's list with each run's entries after its first entry, in
/// one pass.
fn merge<T>(
    list: Vec<T>,
    runs: Vec<(usize, Entries)>,
    unwrap: impl Fn(Entries) -> Option<Vec<T>>,
) -> Option<Vec<T>> {
    if runs.is_empty() {
        return Some(list);
    }
    let extra: usize = runs.iter().map(|r| r.1.len()).sum();
    let mut out = Vec::with_capacity(list.len() + extra);
    let mut runs = runs.into_iter().peekable();
    for (i, item) in list.into_iter().enumerate() {
        out.push(item);
        if runs.peek().is_some_and(|r| r.0 == i) {
            let (_, e) = runs.next()?;
            out.extend(unwrap(e)?);
        }
    }
    // A run whose first entry serde did not find declines.
    runs.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_or_decline() {
        let l = parse_line("  - { name: t0, remote: 198.18.1.1, vni: 1000 }  # c").unwrap();
        assert_eq!((l.indent, l.brace), (2, 4));
        assert_eq!(tunnel(&l).unwrap().vni, 1000);
        assert_eq!(l.fields[1].2, Value::Plain("198.18.1.1", 24));
        let l = parse_line(
            r#"- { vni: 7, port: acc, vlan: none, allow_from: [198.18.1.1, "2001:db8::1"] }"#,
        )
        .unwrap();
        let d = decap(&l).unwrap();
        assert_eq!(d.vlan, Some(Scalar::Str("none".into())));
        assert_eq!(d.allow_from.unwrap(), ["198.18.1.1", "2001:db8::1"]);
        for bad in [
            "- { name: t0, remote: 198.18.1.1, vni: 0x10 }",
            "- { name: t0, remote: 198.18.1.1, vni: 010 }",
            "- { name: t0, remote: 198.18.1.1, vni: \"10\" }",
            "- { name: null, remote: 198.18.1.1, vni: 1 }",
            "- { name: t0, name: t1, remote: 198.18.1.1, vni: 1 }",
            "- { name: t0, remote: 198.18.1.1, vni: 1, }",
            "- { name: t0, remote: 2001:db8::1, vni: 1 }",
            "- { name: t0, remote: \"a\\\"b\", vni: 1 }",
            "- { name: t0, remote: 'it''s', vni: 1 }",
            "- { name: &a t0, remote: x, vni: 1 }",
            "- { name: t0, remote: x, vni: 1 }#c",
            "- {name: t0, remote: x, vni: 1}x",
            "- { prefix: 10.0.0.0/24, tunnel: t, extra: 1 }",
            "- { vni: 5, vlan: true }",
            "- { vni: 5, vlan: inf }",
        ] {
            let ok = parse_line(bad).and_then(|l| Entries::of(&l));
            assert!(ok.is_none(), "{bad} should decline");
        }
    }

    #[test]
    fn skeleton_keeps_lines_and_first_entries() {
        let text = "tunnels:\n  - { name: a, remote: 198.18.1.1, vni: 1 }\n  - { name: b, remote: 198.18.1.2, vni: 1 }\n  - { name: c, remote: 198.18.1.3, vni: 1 }\nl2: {}\n";
        let s = Split::new(text).unwrap();
        assert_eq!(
            s.skeleton,
            "tunnels:\n  - { name: a, remote: 198.18.1.1, vni: 1 }\n\n\nl2: {}\n"
        );
        assert_eq!(s.runs.len(), 1);
        assert_eq!(s.runs[0].rest.len(), 2);
    }
}
