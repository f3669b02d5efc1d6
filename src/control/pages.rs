//! The control API's lists, a page at a time, in key order: a page token
//! is the last key the previous page returned, and the next page resumes
//! strictly after it. Entries added or removed between two pages move no
//! other entry from one page to another: every entry present from the
//! first page to the last is listed exactly once, whatever changes
//! meanwhile (a position token would skip or repeat one per change before
//! it).
//!
//! Keys and orders: tunnels by name, routes by prefix (address, then
//! length; IPv4 first), static MACs by (segment index, MAC), decap entries
//! by VNI. The configuration's lists are read through the
//! [`Editor`]'s ordered indexes (B-trees kept up to date by every edit,
//! made once per configuration) and the decap table, which is sorted by
//! VNI: a page costs O(log n + page). Learned MACs and neighbours change
//! on their own (learning, ageing, resolution), so they page through a
//! [`Snapshot`] of their keys sorted once per listing (at its first page);
//! each later page is a binary search into it plus a look-up per key in
//! the live table (a key gone meanwhile is skipped). An entry learned after
//! the first page is not listed; one present throughout is, once. The
//! other way, a key-ordered index kept beside the learned table, would put
//! a B-tree insert on every learned MAC of the control loop to spare a sort
//! per listing.
use std::net::IpAddr;
use std::ops::Bound;

use crate::config::edit::Editor;
use crate::config::{Config, IpPrefix, MacAddr};
use crate::wire::ethernet::{parse_mac, MacDisplay};

/// A refused page token.
fn bad(t: &str) -> String {
    format!("page_token `{t}` is not one this gateway gave; start with an empty one")
}

/// A token as the key it names (None: the first page).
fn key<T>(t: &str, f: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, String> {
    if t.is_empty() {
        return Ok(None);
    }
    f(t).map(Some).ok_or_else(|| bad(t))
}

/// Takes at most `size` of `it`; the token of the next page (empty when
/// nothing is left).
fn take<T, K>(
    mut it: impl Iterator<Item = T>,
    size: usize,
    key: impl Fn(&T) -> K,
    token: impl Fn(K) -> String,
) -> (Vec<T>, String) {
    let mut out = Vec::with_capacity(size.min(1024));
    for x in it.by_ref() {
        out.push(x);
        if out.len() == size {
            break;
        }
    }
    let next = match (out.len() == size, out.last()) {
        (true, Some(last)) => {
            // Only a full page may have a next one; peek without keeping.
            if it.next().is_some() {
                token(key(last))
            } else {
                String::new()
            }
        }
        _ => String::new(),
    };
    (out, next)
}

/// Tunnels (indexes into `cfg.tunnels`) by name.
pub fn tunnels(ed: &Editor, token: &str, size: usize) -> Result<(Vec<usize>, String), String> {
    let after = key(token, |t| Some(t.to_string()))?;
    let (v, next) = take(
        ed.tunnels_after(after.as_deref()),
        size,
        |(n, _)| n.to_string(),
        |n| n,
    );
    Ok((v.into_iter().map(|(_, i)| i).collect(), next))
}

fn prefix_text(p: &IpPrefix) -> String {
    format!("{}/{}", p.addr, p.len)
}

fn parse_prefix(t: &str) -> Option<IpPrefix> {
    let (a, l) = t.split_once('/')?;
    let addr: IpAddr = a.parse().ok()?;
    let len: u8 = l.parse().ok()?;
    (len <= if addr.is_ipv4() { 32 } else { 128 }).then(|| IpPrefix::containing(addr, len))
}

/// Routes (prefix, tunnel index) by prefix: all, those inside `within`,
/// those of tunnel `tunnel`, or both.
pub fn routes(
    ed: &Editor,
    token: &str,
    size: usize,
    within: Option<IpPrefix>,
    tunnel: Option<usize>,
) -> Result<(Vec<(IpPrefix, usize)>, String), String> {
    let after = key(token, parse_prefix)?;
    // Inside `within` the addresses run from its own on, so start there.
    let from = match (after, within) {
        (Some(a), Some(w))
            if a < IpPrefix {
                addr: w.addr,
                len: 0,
            } =>
        {
            Bound::Included(IpPrefix {
                addr: w.addr,
                len: 0,
            })
        }
        (Some(a), _) => Bound::Excluded(a),
        (None, Some(w)) => Bound::Included(IpPrefix {
            addr: w.addr,
            len: 0,
        }),
        (None, None) => Bound::Unbounded,
    };
    let it = ed
        .routes_from(from, tunnel)
        .take_while(move |(p, _)| within.is_none_or(|w| w.contains(p.addr)))
        .filter(move |(p, _)| within.is_none_or(|w| p.len >= w.len));
    Ok(take(it, size, |(p, _)| *p, |p| prefix_text(&p)))
}

fn parse_seg_mac(t: &str) -> Option<(usize, MacAddr)> {
    let (s, m) = t.split_once('/')?;
    Some((s.parse().ok()?, parse_mac(m).ok()?))
}

fn seg_mac_text(k: (usize, MacAddr)) -> String {
    format!("{}/{}", k.0, MacDisplay(&k.1))
}

/// Static MACs (segment, position in its list) by (segment, MAC), of one
/// segment or all.
pub fn static_macs(
    ed: &Editor,
    token: &str,
    size: usize,
    segment: Option<usize>,
) -> Result<(Vec<(usize, usize)>, String), String> {
    let mut after = key(token, parse_seg_mac)?;
    if let Some(s) = segment {
        // The segment's first MAC is all zeros or after it.
        if after.is_none_or(|a| a.0 < s) {
            after = (s > 0).then(|| (s - 1, [0xff; 6]));
        }
    }
    let it = ed
        .static_macs_after(after)
        .take_while(move |(s, _, _)| segment.is_none_or(|x| x == *s));
    let (v, next) = take(it, size, |(s, m, _)| (*s, *m), seg_mac_text);
    Ok((v.into_iter().map(|(s, _, p)| (s, p)).collect(), next))
}

/// Decap entries (positions in `cfg.decap`, which is sorted by VNI).
pub fn decap(cfg: &Config, token: &str, size: usize) -> Result<(Vec<usize>, String), String> {
    let after = key(token, |t| t.parse::<u32>().ok())?;
    let start = after.map_or(0, |a| cfg.decap.partition_point(|d| d.vni.get() <= a));
    let (v, next) = take(
        start..cfg.decap.len(),
        size,
        |&i| cfg.decap[i].vni.get(),
        |v| v.to_string(),
    );
    Ok((v, next))
}

/// The keys of a table that changes on its own (learned MACs,
/// neighbours), sorted once at the first page of a listing.
#[derive(Debug)]
pub struct Snapshot<K> {
    keys: Vec<K>,
}

impl<K: Ord + Copy> Snapshot<K> {
    /// A snapshot of `keys` (in any order).
    pub fn new(mut keys: Vec<K>) -> Snapshot<K> {
        keys.sort_unstable();
        keys.dedup();
        Snapshot { keys }
    }

    /// Up to `size` keys strictly after `after` (from `from` on, if that
    /// is later) that `live` still has, while `within` holds; whether
    /// more may follow.
    pub fn page(
        &self,
        after: Option<K>,
        from: Option<K>,
        size: usize,
        within: impl Fn(&K) -> bool,
        live: impl Fn(&K) -> bool,
    ) -> (Vec<K>, bool) {
        let mut i = after.map_or(0, |a| self.keys.partition_point(|k| *k <= a));
        if let Some(f) = from {
            i = i.max(self.keys.partition_point(|k| *k < f));
        }
        let mut out = Vec::with_capacity(size.min(1024));
        while i < self.keys.len() && out.len() < size {
            let k = &self.keys[i];
            if !within(k) {
                return (out, false);
            }
            if live(k) {
                out.push(*k);
            }
            i += 1;
        }
        let more = self.keys[i..].first().is_some_and(&within);
        (out, more)
    }
}

impl<K: Ord + Copy> Snapshot<K> {
    /// How many keys from `from` on `within` takes (a range of the
    /// snapshot: two binary searches).
    pub fn count(&self, from: K, within: impl Fn(&K) -> bool) -> usize {
        let lo = self.keys.partition_point(|k| *k < from);
        self.keys[lo..].partition_point(within)
    }
}

impl<K> Default for Snapshot<K> {
    fn default() -> Snapshot<K> {
        Snapshot { keys: Vec::new() }
    }
}

/// A learned MAC's page token, and back.
pub fn learned_token(k: (usize, MacAddr)) -> String {
    seg_mac_text(k)
}

pub fn parse_learned_token(t: &str) -> Result<Option<(usize, MacAddr)>, String> {
    key(t, parse_seg_mac)
}

/// A neighbour's page token (its address), and back.
pub fn parse_neighbor_token(t: &str) -> Result<Option<IpAddr>, String> {
    key(t, |t| t.parse().ok())
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
