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
//! limits:   max_options, mac_table_size, flow_table_size, burst_size, mbufs
//! offload:  auto|off (TX/RX checksum offload and rte_flow decap where the underlay port has them)
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
//!    error. Positions come from a path -> position index built with
//!    `saphyr-parser` (see `index`).
//!
//! Interpretation of "overlapping prefixes" in `l3.routes`: prefixes of
//! different lengths that overlap are the essence of longest prefix match and
//! are accepted; the same prefix listed twice (to the same or to another
//! tunnel) is an error, and so is a prefix with host bits set
//! (`198.19.1.5/24`), which would hide what was meant.
#![forbid(unsafe_code)]

mod error;
mod index;
mod raw;
mod stitch;
mod types;
mod validate;

use std::collections::HashSet;
use std::path::Path;

pub use error::{ConfigError, ConfigErrors, Pos};
pub use types::*;

use error::from_serde;
use index::PosIndex;
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
    // The bounds on nesting and aliases are checked while indexing, before
    // serde_yaml_ng reads the text (which would follow them unbounded).
    let index = PosIndex::build(text);
    if let Some((pos, message)) = &index.limit {
        return Err(ConfigErrors::new(vec![ConfigError {
            file: file_name.to_string(),
            pos: *pos,
            path: String::new(),
            message: message.clone(),
        }]));
    }
    if index.top_keys.is_empty() && is_blank(text) {
        return Err(ConfigErrors::new(vec![ConfigError {
            file: file_name.to_string(),
            pos: Pos::default(),
            path: String::new(),
            message: "the file holds no configuration; see the examples under config/".into(),
        }]));
    }
    let raw: RawConfig = match serde_yaml_ng::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            return Err(ConfigErrors::new(structural_errors(
                text, file_name, &index, &e,
            )))
        }
    };
    let mut ctx = validate::Ctx::new(file_name, &index);
    match validate::validate(raw, &mut ctx) {
        Some(cfg) if ctx.errors.is_empty() => Ok(cfg),
        _ => Err(ConfigErrors::new(ctx.errors)),
    }
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
mod tests;
