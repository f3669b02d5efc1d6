//! A path -> position index of a YAML document, so that errors found after
//! deserialization (a VNI out of range, a missing tunnel) can name the line
//! and column of the field.
//!
//! serde_yaml_ng carries positions only in its own errors, and its `Value`
//! has none. The index is built from the marked events of `saphyr-parser`:
//! a pure-Rust YAML 1.2 event parser (no `unsafe`, two small dependencies),
//! the maintained successor of yaml-rust/yaml-rust2 from the same
//! maintainers, whose every event carries a span. We only need where each
//! node starts, so a streaming pass with a stack of open collections suffices.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser};

use super::error::Pos;

/// Where a node and, for a mapping value, its key start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodePos {
    pub key: Option<Pos>,
    pub value: Pos,
    /// A mapping or a sequence.
    pub collection: bool,
}

/// How deep mappings and lists may nest. The schema nests at most six
/// levels; the bound keeps the parsers' stacks and the field paths (whose
/// length grows with the depth) small.
pub(crate) const MAX_DEPTH: usize = 64;

/// The largest configuration file read, in bytes: generous enough for a
/// million tunnels, routes and static MACs.
pub(crate) const MAX_FILE_BYTES: u64 = 512 << 20;

/// Aliases (`*a`) may add at most this many bytes beyond the file's own size
/// times [`ALIAS_FACTOR`]: what an alias expands to is replayed in full by
/// the deserializer, so the bound follows the document, not a fixed count.
pub(crate) const ALIAS_SLACK: u64 = 1 << 20;
/// See [`ALIAS_SLACK`].
pub(crate) const ALIAS_FACTOR: u64 = 2;

/// Which nodes [`PosIndex::build_for`] records.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want<'a> {
    /// Every node (the serde error path, tests).
    All,
    /// None: only the top-level keys and the bounds (nesting, aliases), what
    /// is needed before deserializing a file that may well be valid.
    TopKeys,
    /// The nodes at these paths. The set must hold every ancestor of each
    /// path (`a.b[2].c` needs `a.b[2]`, `a.b`, `a` and ``): the walk builds
    /// a child's path only under a wanted parent, so the work stays linear
    /// and small whatever the document's size.
    Paths(&'a HashSet<String>),
}

/// Field path (serde_yaml_ng's spelling: `ports[0].name`) -> position.
#[derive(Debug, Default)]
pub(crate) struct PosIndex {
    nodes: HashMap<String, NodePos>,
    /// Top-level keys in document order with their positions.
    pub top_keys: Vec<(String, Pos)>,
    /// The document breaks a bound (nesting depth, alias expansion): where,
    /// and what to say. Indexing stopped there; do not parse further.
    pub limit: Option<(Pos, String)>,
    /// Field path -> where its second key stands, for keys given twice.
    dups: HashMap<String, Pos>,
    /// The document uses an alias (`*a`).
    pub aliases: bool,
}

/// An anchored collection still open: its anchor, where its text starts
/// (char index) and what the aliases inside it add to its size.
struct Anchored {
    id: usize,
    start: usize,
    extra: u64,
    depth: usize,
}

enum Frame {
    /// `keep`: this collection's path is recorded, so its children's paths
    /// are built and looked at.
    Map {
        path: String,
        keep: bool,
        key: Option<(String, Pos)>,
    },
    Seq {
        path: String,
        keep: bool,
        next: usize,
    },
    /// A complex (collection) mapping key, skipped.
    Skip { depth: usize },
}

fn pos_of(m: saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl PosIndex {
    /// Index the first document of `text`. A document the parser rejects
    /// yields what was indexed before the error (serde_yaml_ng reports the
    /// syntax error itself).
    pub fn build(text: &str) -> PosIndex {
        Self::build_for(text, Want::All)
    }

    /// Index the first document of `text`, recording only the nodes `want`
    /// asks for (the top-level keys and the bounds are always checked).
    pub fn build_for(text: &str, want: Want) -> PosIndex {
        let wanted = |p: &str| match want {
            Want::All => true,
            Want::TopKeys => false,
            Want::Paths(set) => set.contains(p),
        };
        let mut idx = PosIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root_seen = false;
        // Open collections, anchored ones among them, the size each anchor
        // expands to, and the bytes all aliases so far expand to.
        let mut depth = 0usize;
        let mut anchored: Vec<Anchored> = Vec::new();
        let mut sizes: HashMap<usize, u64> = HashMap::new();
        let mut expanded = 0u64;
        let budget = (text.len() as u64)
            .saturating_mul(ALIAS_FACTOR)
            .saturating_add(ALIAS_SLACK);
        for item in Parser::new_from_str(text) {
            let Ok((ev, span)) = item else { break };
            let pos = pos_of(span.start);
            match &ev {
                Event::MappingStart(id, _) | Event::SequenceStart(id, _) => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        idx.limit = Some((
                            pos,
                            format!(
                                "mappings and lists nest more than {MAX_DEPTH} levels deep here; \
                                 no configuration field nests that deep"
                            ),
                        ));
                        break;
                    }
                    if *id != 0 {
                        anchored.push(Anchored {
                            id: *id,
                            start: span.start.index(),
                            extra: 0,
                            depth,
                        });
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    if anchored.last().is_some_and(|a| a.depth == depth) {
                        if let Some(a) = anchored.pop() {
                            let own = span.end.index().saturating_sub(a.start) as u64;
                            sizes.insert(a.id, own.saturating_add(a.extra));
                            if let Some(up) = anchored.last_mut() {
                                up.extra = up.extra.saturating_add(a.extra);
                            }
                        }
                    }
                    depth = depth.saturating_sub(1);
                }
                Event::Scalar(_, _, id, _) if *id != 0 => {
                    let own = span.end.index().saturating_sub(span.start.index()) as u64;
                    sizes.insert(*id, own);
                }
                Event::Alias(id) => {
                    idx.aliases = true;
                    let size = sizes.get(id).copied().unwrap_or(0);
                    expanded = expanded.saturating_add(size);
                    if let Some(up) = anchored.last_mut() {
                        up.extra = up.extra.saturating_add(size);
                    }
                    if expanded > budget {
                        idx.limit = Some((
                            pos,
                            format!(
                                "the aliases expand to more than {budget} bytes \
                                 ({ALIAS_FACTOR} times the file's size plus {} KiB); \
                                 write the repeated part out or anchor less",
                                ALIAS_SLACK >> 10
                            ),
                        ));
                        break;
                    }
                }
                _ => {}
            }
            match ev {
                Event::StreamStart | Event::Nothing | Event::DocumentStart(_) => {}
                Event::StreamEnd | Event::DocumentEnd => {
                    if root_seen {
                        break;
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => match stack.last_mut() {
                    Some(Frame::Skip { depth }) => {
                        *depth -= 1;
                        if *depth == 0 {
                            stack.pop();
                            if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                                *key = Some(("?".to_string(), pos));
                            }
                        }
                    }
                    Some(_) => {
                        stack.pop();
                    }
                    None => {}
                },
                Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..) => {
                    let is_collection =
                        matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..));
                    let at_root = stack.len() == 1;
                    // The node's path (None: not recorded) and its key's position.
                    let node: Option<(Option<String>, Option<Pos>)> = match stack.last_mut() {
                        None => {
                            if root_seen {
                                continue;
                            }
                            root_seen = true;
                            Some((Some(String::new()).filter(|p| wanted(p)), None))
                        }
                        Some(Frame::Skip { depth }) => {
                            if is_collection {
                                *depth += 1;
                            }
                            None
                        }
                        Some(Frame::Map { path, keep, key }) => match key.take() {
                            None => {
                                if is_collection {
                                    stack.push(Frame::Skip { depth: 1 });
                                } else {
                                    let k = match &ev {
                                        Event::Scalar(s, ..) if *keep || at_root => s.to_string(),
                                        Event::Scalar(..) => String::new(),
                                        _ => "*".to_string(),
                                    };
                                    if at_root {
                                        idx.top_keys.push((k.clone(), pos));
                                    }
                                    *key = Some((k, pos));
                                }
                                None
                            }
                            Some((k, kpos)) => Some((
                                Some(join(path, &k)).filter(|p| *keep && wanted(p)),
                                Some(kpos),
                            )),
                        },
                        Some(Frame::Seq { path, keep, next }) => {
                            let p = (*keep).then(|| format!("{path}[{next}]"));
                            *next += 1;
                            Some((p.filter(|p| wanted(p)), None))
                        }
                    };
                    let Some((path, key)) = node else { continue };
                    let keep = path.is_some();
                    if let Some(path) = &path {
                        match idx.nodes.entry(path.clone()) {
                            std::collections::hash_map::Entry::Occupied(_) => {
                                if let Some(k) = key {
                                    idx.dups.entry(path.clone()).or_insert(k);
                                }
                            }
                            std::collections::hash_map::Entry::Vacant(v) => {
                                v.insert(NodePos {
                                    key,
                                    value: pos,
                                    collection: is_collection,
                                });
                            }
                        }
                    }
                    let path = path.unwrap_or_default();
                    match ev {
                        Event::MappingStart(..) => stack.push(Frame::Map {
                            path,
                            keep,
                            key: None,
                        }),
                        Event::SequenceStart(..) => stack.push(Frame::Seq {
                            path,
                            keep,
                            next: 0,
                        }),
                        _ => {}
                    }
                }
            }
        }
        idx
    }

    /// The node at exactly `path`.
    #[cfg(test)]
    pub fn get(&self, path: &str) -> Option<NodePos> {
        self.nodes.get(path).copied()
    }

    /// Where the value at `path` starts (for a mapping or list under a key:
    /// where its key is, the line an operator looks for), or, when the field
    /// is absent, where its nearest present ancestor starts.
    pub fn value_pos(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(n) = self.nodes.get(p) {
                return match (n.collection, n.key) {
                    (true, Some(k)) => k,
                    _ => n.value,
                };
            }
            match parent(p) {
                Some(up) => p = up,
                None => return Pos::default(),
            }
        }
    }

    /// The paths of the mappings in a list that start at the positions
    /// `at` names, each with the value `at` gives it.
    pub fn paths_at<'s>(&'s self, at: &HashMap<Pos, usize>) -> Vec<(&'s str, usize)> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.collection && n.key.is_none())
            .filter_map(|(p, n)| at.get(&n.value).map(|&i| (p.as_str(), i)))
            .collect()
    }

    /// Where the second key of a field given twice stands.
    pub fn duplicate(&self, path: &str) -> Option<Pos> {
        self.dups.get(path).copied()
    }

    /// Line ranges of the top-level sections, when the document is a block
    /// mapping whose keys start at column 1 on lines of their own: one
    /// `(first_line, end_line_exclusive)` per top-level key.
    pub fn sections(&self, total_lines: usize) -> Option<Vec<(usize, usize)>> {
        if self.top_keys.len() < 2 {
            return None;
        }
        let mut out = Vec::new();
        for (i, (_, pos)) in self.top_keys.iter().enumerate() {
            if pos.column != 1 {
                return None;
            }
            let end = match self.top_keys.get(i + 1) {
                Some((_, next)) if next.line > pos.line => next.line,
                Some(_) => return None,
                None => total_lines + 1,
            };
            out.push((pos.line, end));
        }
        Some(out)
    }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> `` -> None.
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    match path.rfind(['.', '[']) {
        Some(i) => Some(&path[..i]),
        None => Some(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
# comment
ports:
  - name: up
    role: underlay
  - name: acc
    role: access
tunnels:
  - name: t1
    vni: 100
    options:
      - class: 1
        data: \"00\"
flow: {a: 1, b: [2, 3]}
";

    #[test]
    fn indexes_paths() {
        let idx = PosIndex::build(DOC);
        let p = |s: &str| {
            let n = idx.get(s).unwrap();
            (n.value.line, n.value.column)
        };
        assert_eq!(p("ports"), (3, 3));
        assert_eq!(p("ports[0]"), (3, 5));
        assert_eq!(p("ports[1].role"), (6, 11));
        assert_eq!(p("tunnels[0].vni"), (9, 10));
        assert_eq!(p("tunnels[0].options[0].data"), (12, 15));
        assert_eq!(p("flow.b[1]"), (13, 21));
        let k = idx.get("tunnels[0].vni").unwrap().key.unwrap();
        assert_eq!((k.line, k.column), (9, 5));
        // absent field: nearest ancestor
        assert_eq!(idx.value_pos("tunnels[0].udp_port").line, 8);
        // a collection under a key: the key
        assert_eq!(idx.value_pos("tunnels[0].options").line, 10);
        let keys: Vec<_> = idx.top_keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["ports", "tunnels", "flow"]);
        assert_eq!(idx.sections(13), Some(vec![(2, 7), (7, 13), (13, 14)]));
    }

    #[test]
    fn parent_walks_up() {
        assert_eq!(parent("a.b[2].c"), Some("a.b[2]"));
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }

    #[test]
    fn flow_root_has_no_sections() {
        let idx = PosIndex::build("{a: 1, b: 2}");
        assert_eq!(idx.sections(1), None);
    }
}
