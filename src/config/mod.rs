//! YAML configuration: schema, validation, errors naming file, line and field.
//!
//! ```text
//! eal:      cores, control_core, memory {mode, size_mb}, devices {pci, vdev}, file_prefix, args
//! ports:    [{name, role: underlay|access, device, queues, mtu, mac}]
//! vtep:     port, ipv4, ipv6, udp_port, vxlan_port, vlan, next_hops [{via, mac, destinations}]
//! tunnels:  [{name, remote, vni, encapsulation: geneve|vxlan, mesh,
//!             options [{name | class+type, data, critical}],
//!             udp_port, udp_checksum: zero|compute,
//!             accept_zero_checksum: bool (receive, IPv6 remotes; default false),
//!             ttl: N|inherit, dscp: N|inherit,
//!             source_ports {min, max}}]
//! l2:       learning, ageing_seconds,
//!           segments [{name, port, vlan, vni, vxlan_vni, flood, static_macs [{mac, remote}]}]
//! l3:       access {port, vlan, ipv4, ipv6, gateway_mac, next_hop | next_hop_mac}, routes [{prefix, tunnel}]
//! decap:    [{vni, port, vlan, allow_from}]
//! options:  registry [{name, class, type, length}],
//!           policies {require [{option, vni|tunnel}],
//!                     security_tags [{option, vni|tunnel, allow, deny, default: allow|deny}],
//!                     flow_id_copy [{option, vni|tunnel}]}
//! limits:   max_options, mac_table_size, flow_table_size, burst_size, mbufs,
//!           route_groups, neighbors
//! offload:  auto|off (TX/RX checksum offload and rte_flow decap where the underlay port has them)
//! metrics:  prometheus, latency, capture, top_tunnels (Prometheus series for the N busiest tunnels; 0)
//! api:      listen_tcp (the control API on TCP too; it is always on the Unix socket)
//! ```
//!
//! The commented examples under `config/` describe every field. Loading
//! happens in two steps:
//!
//! 1. serde_yaml_ng reads the text into the schema of `raw` (with
//!    `deny_unknown_fields` everywhere). Its errors (YAML syntax, wrong
//!    types, unknown or missing fields) carry their position. serde stops at
//!    the first such error, so when one occurs each top-level section is read
//!    again on its own (the other sections blanked out, line numbers kept) to
//!    report one error per broken section.
//! 2. `validate` checks values and cross references (ranges, addresses,
//!    names, duplicates...) and builds the typed [`Config`], collecting every
//!    error. Every pass is linear: references and duplicates go through hash
//!    maps built once per list, and field paths are formatted only for an
//!    error. Positions come from a path -> position index built with
//!    `saphyr-parser` (see `index`), and only when there are errors, for
//!    their paths alone: a valid file of a million entries builds none.
//!
//! At scale, serde_yaml_ng is the cost (it holds every event of the document
//! in memory and its scanner is slow per byte), so long lists written one
//! entry per line go around it: see `fast`, a tier that takes such lines or
//! declines the whole file to the steps above, with the same result either
//! way. Measured in BENCHMARKS.md ("Scale"). The other crates considered:
//! serde-saphyr (a streaming serde deserializer on a saphyr parser) would
//! fix the memory but not most of the time (the parse alone costs several
//! times the fast tier per entry here) and would change the wording of
//! every serde error operators and tests rely on.
//!
//! Interpretation of "overlapping prefixes" in `l3.routes`: prefixes of
//! different lengths that overlap are the essence of longest prefix match and
//! are accepted; the same prefix listed twice (to the same or to another
//! tunnel) is an error, and so is a prefix with host bits set
//! (`198.19.1.5/24`), which would hide what was meant.
#![forbid(unsafe_code)]

pub mod diff;
pub mod edit;
pub(crate) mod emit;
mod error;
mod fast;
mod index;
mod raw;
mod stitch;
mod types;
mod validate;

use std::collections::HashSet;
use std::path::Path;

pub use emit::{emit, save};
pub use error::{ConfigError, ConfigErrors, Pos, SHOWN_ERRORS};
pub use types::*;

use error::from_serde;
use index::{PosIndex, Want};
use raw::RawConfig;

/// Read and validate the configuration file at `path`. Needs no DPDK.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    if let Ok(m) = std::fs::metadata(path) {
        if m.len() > index::MAX_FILE_BYTES {
            return Err(too_large(&file, m.len()));
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => load_str(&text, &file),
            Err(e) => Err(not_utf8(&file, e.as_bytes(), e.utf8_error().valid_up_to())),
        },
        Err(e) => Err(ConfigErrors::new(vec![ConfigError {
            file,
            pos: Pos::default(),
            path: String::new(),
            message: format!("cannot read the configuration: {e}"),
        }])),
    }
}

/// Validate configuration text; `file_name` is what errors name.
pub fn load_str(text: &str, file_name: &str) -> Result<Config, ConfigErrors> {
    if text.len() as u64 > index::MAX_FILE_BYTES {
        return Err(too_large(file_name, text.len() as u64));
    }
    if let Some(split) = fast::Split::new(text) {
        if let Some(result) = load_split(text, file_name, split) {
            return result;
        }
    }
    load_whole(text, file_name)
}

/// How many list entries the fast tier read itself from `text` (the lines
/// it took out of the skeleton), or None when it declined the file. For
/// tests and tools that check a file loads the fast way (a saved file
/// should).
pub fn fast_tier_entries(text: &str) -> Option<usize> {
    let split = fast::Split::new(text)?;
    let taken = split.taken();
    load_split(text, "", split).map(|_| taken)
}

/// The general tier: serde_yaml_ng reads the whole text.
fn load_whole(text: &str, file_name: &str) -> Result<Config, ConfigErrors> {
    // The bounds on nesting and aliases are checked while indexing, before
    // serde_yaml_ng reads the text (which would follow them unbounded).
    // Positions are indexed only when there is an error to place.
    let index = PosIndex::build_for(text, Want::TopKeys);
    if let Some(e) = bounds(&index, text, file_name) {
        return Err(e);
    }
    let raw: RawConfig = match serde_yaml_ng::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let index = PosIndex::build(text);
            return Err(ConfigErrors::new(structural_errors(
                text, file_name, &index, &e,
            )));
        }
    };
    validated(raw, file_name, |errors| {
        let wanted = with_ancestors(errors.iter().map(|e| e.path.as_str()));
        let index = PosIndex::build_for(text, Want::Paths(&wanted));
        for e in errors {
            e.pos = index.value_pos(&e.path);
        }
    })
}

/// The fast tier (see `fast`): serde_yaml_ng reads the skeleton, the runs
/// are read line by line. None: declined, load the whole text instead.
fn load_split(
    text: &str,
    file_name: &str,
    mut split: fast::Split,
) -> Option<Result<Config, ConfigErrors>> {
    let index = PosIndex::build(&split.skeleton);
    // An alias would repeat the skeleton's part of a list, not the whole.
    if index.limit.is_some() || index.aliases {
        return None;
    }
    split.place(&index)?;
    let raw: RawConfig = match serde_yaml_ng::from_str(&split.skeleton) {
        Ok(raw) => split.splice(raw)?,
        Err(e) => return schema_errors(&split, file_name, &index, &e).map(Err),
    };
    Some(validated(raw, file_name, |errors| {
        for e in errors {
            e.pos = split.value_pos(text, &e.path, &index);
        }
    }))
}

/// serde's errors on the skeleton as errors of the whole file, when they
/// are about the schema (a wrong type, an unknown, missing or repeated
/// field) and so cannot come from the lines the fast tier took out (each
/// one a well-formed entry of its list): their lines and columns are the
/// file's, and list indexes are moved past the runs. A YAML syntax error
/// declines (None): the lines taken out could change what the scanner
/// sees, so the whole file is read.
fn schema_errors(
    split: &fast::Split,
    file_name: &str,
    index: &PosIndex,
    first: &serde_yaml_ng::Error,
) -> Option<ConfigErrors> {
    // How `error::from_serde` words serde's schema errors.
    const SCHEMA: &[&str] = &[
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown field",
        "unknown value",
        "missing;",
        "given twice;",
    ];
    let mut errs = structural_errors(&split.skeleton, file_name, index, first);
    for e in &mut errs {
        if e.pos.line == 0 || !SCHEMA.iter().any(|s| e.message.starts_with(s)) {
            return None;
        }
        e.path = split.real_path(&e.path);
    }
    Some(ConfigErrors::new(errs))
}

/// Errors a document breaks a bound with, or that it is blank.
fn bounds(index: &PosIndex, text: &str, file_name: &str) -> Option<ConfigErrors> {
    if let Some((pos, message)) = &index.limit {
        return Some(ConfigErrors::new(vec![ConfigError {
            file: file_name.to_string(),
            pos: *pos,
            path: String::new(),
            message: message.clone(),
        }]));
    }
    if index.top_keys.is_empty() && is_blank(text) {
        return Some(ConfigErrors::new(vec![ConfigError {
            file: file_name.to_string(),
            pos: Pos::default(),
            path: String::new(),
            message: "the file holds no configuration; see the examples under config/".into(),
        }]));
    }
    None
}

/// Validate `raw`; when there are errors, `locate` fills in their positions.
fn validated(
    raw: RawConfig,
    file_name: &str,
    locate: impl FnOnce(&mut [ConfigError]),
) -> Result<Config, ConfigErrors> {
    let mut ctx = validate::Ctx::new(file_name);
    let cfg = validate::validate(raw, &mut ctx);
    if ctx.errors.is_empty() {
        if let Some(cfg) = cfg {
            return Ok(cfg);
        }
    }
    locate(&mut ctx.errors);
    Err(ConfigErrors::new(ctx.errors))
}

/// The paths and every ancestor of each (`a.b[2].c`: `a.b[2]`, `a.b`, `a`, ``).
fn with_ancestors<'a>(paths: impl Iterator<Item = &'a str>) -> HashSet<String> {
    let mut set = HashSet::new();
    for p in paths {
        let mut p = Some(p);
        while let Some(q) = p {
            if !set.insert(q.to_string()) {
                break;
            }
            p = index::parent(q);
        }
    }
    set
}

/// The first byte that is not UTF-8, by line and column.
fn not_utf8(file: &str, bytes: &[u8], valid: usize) -> ConfigErrors {
    let before = &bytes[..valid];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    // Valid up to `valid`, so the part of the line before it is UTF-8.
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    ConfigErrors::new(vec![ConfigError {
        file: file.to_string(),
        pos: Pos { line, column },
        path: String::new(),
        message: format!(
            "byte 0x{:02x} is not UTF-8; a configuration is UTF-8 text",
            bytes.get(valid).copied().unwrap_or(0)
        ),
    }])
}

fn too_large(file: &str, len: u64) -> ConfigErrors {
    ConfigErrors::new(vec![ConfigError {
        file: file.to_string(),
        pos: Pos::default(),
        path: String::new(),
        message: format!(
            "the file is {len} bytes; a configuration may be at most {} MiB",
            index::MAX_FILE_BYTES >> 20
        ),
    }])
}

/// Where serde's position or words mislead, say the real cause.
fn fix_serde(text: &str, index: &PosIndex, mut e: ConfigError) -> ConfigError {
    if e.message.starts_with("given twice") {
        // serde points at the enclosing mapping: point at the second key.
        if let Some(p) = index.duplicate(&e.path) {
            e.pos = p;
        }
    } else if e.message.starts_with("more than one YAML document") && !has_document_marker(text) {
        // No `---`: a key indented less than the first one ended the
        // document. Name the first key's column and the line that broke it.
        if let Some((k, first)) = index.top_keys.first() {
            let outdented = text.lines().enumerate().skip(first.line).find(|(_, l)| {
                let t = l.trim_start();
                !t.is_empty() && !t.starts_with('#') && l.len() - t.len() < first.column - 1
            });
            if let (true, Some((i, l))) = (first.column > 1, outdented) {
                e.pos = Pos {
                    line: i + 1,
                    column: l.len() - l.trim_start().len() + 1,
                };
                e.message = format!(
                    "indented less than the first top-level key `{k}` (line {}, column {}); \
                     every top-level key starts in the same column (YAML read this line as a second document)",
                    first.line, first.column
                );
            }
        }
    }
    tab_hint(text, e)
}

fn has_document_marker(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("---") || l.starts_with("..."))
}

/// libyaml's word for a tab in the indentation is cryptic: say it.
fn tab_hint(text: &str, mut e: ConfigError) -> ConfigError {
    let line = text.lines().nth(e.pos.line.wrapping_sub(1)).unwrap_or("");
    let at_tab = line.chars().nth(e.pos.column.wrapping_sub(1)) == Some('\t');
    if at_tab || (e.pos.column <= 1 && line.starts_with('\t')) {
        e.message.push_str("; YAML indents with spaces, not tabs");
    }
    e
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

/// serde stopped at `first`. Read each top-level section alone, the others
/// blanked out so that line numbers stay, to report the first error of
/// every broken section, not only of the first one.
fn structural_errors(
    text: &str,
    file: &str,
    index: &PosIndex,
    first: &serde_yaml_ng::Error,
) -> Vec<ConfigError> {
    let mut errs = vec![fix_serde(text, index, from_serde(file, first))];
    let lines: Vec<&str> = text.split('\n').collect();
    let Some(sections) = index.sections(lines.len()) else {
        return errs;
    };
    let head_end = sections[0].0;
    let mut seen: HashSet<ConfigError> = errs.iter().cloned().collect();
    let mut read: HashSet<&str> = HashSet::new();
    for ((start, end), (key, pos)) in sections.into_iter().zip(&index.top_keys) {
        // An unknown section is reported from the index; each known section
        // is read once: the work stays linear in the file however many
        // top-level keys it has.
        let e = if !raw::TOP_FIELDS.contains(&key.as_str()) {
            ConfigError {
                file: file.to_string(),
                pos: *pos,
                path: key.clone(),
                message: error::unknown_message("field", key, raw::TOP_FIELDS),
            }
        } else if read.insert(key.as_str()) {
            let mut t = String::with_capacity(text.len());
            for (i, l) in lines.iter().enumerate() {
                let n = i + 1;
                if n < head_end || (start..end).contains(&n) {
                    t.push_str(l);
                }
                t.push('\n');
            }
            match serde_yaml_ng::from_str::<RawConfig>(&t) {
                Err(e) => fix_serde(text, index, from_serde(file, &e)),
                Ok(_) => continue,
            }
        } else {
            continue;
        };
        if seen.insert(e.clone()) {
            errs.push(e);
        }
    }
    errs
}

#[cfg(test)]
mod scale_tests;
#[cfg(test)]
mod tests;
