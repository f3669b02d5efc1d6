//! Internet checksum (RFC 1071), pseudo-headers and incremental update (RFC 1624).
//!
//! Sums are accumulated unfolded in a `u64` over big-endian 32-bit words (the
//! one's complement sum is independent of the word size used), then folded.
//!
//! Written here rather than taken from a crate or DPDK: the worker sums
//! whole packets (the outer UDP checksum over IPv6, both ways) and needs the
//! loop inlined into its fast tiers, starting from a precomputed seed (the
//! template's header, or the pseudo-header addresses that lie right before
//! the UDP header). DPDK's `rte_raw_cksum` is a static inline C function,
//! reachable from Rust only through an out-of-line wrapper call per packet,
//! and sums 32-bit words; the `internet-checksum` crate sums 16-bit words
//! through a stateful `Checksum` whose `add_bytes` has a fixed overhead per
//! call (its documentation says so). [`accumulate`] adds 64-bit words with
//! their end-around carry (an add and an add-with-carry per 8 bytes).
//!
//! The decap IPv6 fast tier, which sums the whole datagram per packet,
//! uses [`verifies_inline_from`]`::<96>`: the first 96 bytes (what a
//! datagram with a minimum inner Ethernet frame has) as one add-with-carry
//! chain from the seed (`u64::carrying_add`, stable and safe), then
//! 32-byte blocks the same way, the remainder as the 16 bytes (a remainder
//! of at most 16) or 32 bytes before them read once more under a mask (a
//! 64-byte table: no loop, one branch on the remainder's size; the
//! 16-byte window saved the minimum frame over IPv6 10 instructions a
//! packet), each chain's carry added back at once, the seed byte-swapped
//! rather than the sum, and
//! the result tested for a multiple of 0xffff with one multiplication
//! rather than folded. Considered and not taken: the tail 8 bytes at a
//! time (a loop round per word), a 48-byte head (a loop round for a
//! minimum frame), and the NIC's verdict alone (the port's RX verdict is
//! used where it gives one; virtual devices give none). SSE2 was weighed
//! and not built: widening 32-bit words to 64-bit lanes (or splitting
//! 16-bit lanes) takes about 6 instructions per 16 bytes against the
//! chain's 5 per 32, and the sums here are under 128 bytes, where the
//! horizontal fold would cost as much again. Figures in BENCHMARKS.md.
//!
//! The encap IPv6 fast tier, which sums the inner frame per packet (60
//! bytes in the usual case), uses [`sum_frame`]: the blocks as above,
//! then no loop for what is left (the 0 to 3 words are one chain chosen
//! by their count, the tail the last 8 bytes masked), and
//! [`udp_field_machine_order`] to add the template's constant sum and
//! make the field: folded in machine order, the computed-zero rule as a
//! negation. DPDK's `rte_ipv6_udptcp_cksum` sums the pseudo header and the
//! whole datagram again per packet (the template's bytes included) behind
//! a call; the crates above have no seed in machine order.

/// Unfolded one's complement accumulation of `data` onto `acc`.
///
/// `data` is treated as a sequence of big-endian 16-bit words; an odd trailing
/// byte is padded with zero. The result must be folded with [`fold`].
///
/// The data is summed as 64-bit words in the machine's byte order, each
/// add followed by its end-around carry (an add and an add-with-carry per
/// 8 bytes, 32 bytes per loop round), and the total byte-swapped once: the
/// one's complement sum is independent of byte order and of word size (RFC
/// 1071 section 2(B), (C)), since 2^16, 2^32 and 2^64 are all 1 modulo
/// 2^16 - 1. The tail (under 8 bytes, starting at a multiple of 8) is
/// summed the same way, 4, 2 and 1 bytes at a time.
#[inline]
pub fn accumulate(acc: u64, data: &[u8]) -> u64 {
    accumulate_chain(acc, data)
}

/// [`accumulate`]'s body: each 8-byte word its own add and end-around
/// carry, the tail 4, 2 and 1 bytes at a time. Kept for the callers that
/// inline [`accumulate`] into the encap fast tier: the shape of
/// [`accumulate_inline`] cost the encap cases more there.
#[inline(always)]
fn accumulate_chain(acc: u64, data: &[u8]) -> u64 {
    let (blocks, rest) = data.as_chunks::<32>();
    let mut sum = 0u64;
    for b in blocks {
        // One chain: an add and an add-with-carry per word.
        for w in b.as_chunks::<8>().0 {
            sum = add_carry(sum, u64::from_ne_bytes(*w));
        }
    }
    let (words, tail) = rest.as_chunks::<8>();
    for w in words {
        sum = add_carry(sum, u64::from_ne_bytes(*w));
    }
    let sum = add_carry(sum, tail_words(tail));
    // 64 to 32 bits, the carry added back in (end-around carry; a sum
    // that wrapped is at most 2^32 - 2, so adding it cannot wrap).
    let (lo, c) = (sum as u32).overflowing_add((sum >> 32) as u32);
    let sum = lo + u32::from(c);
    // Machine order to big-endian 16-bit words (a no-op on big-endian).
    acc + u64::from(u32::from_be(sum))
}

/// [`accumulate`] always inlined, for the one fast tier that sums a whole
/// datagram per packet and would otherwise call it out of line (the decap
/// IPv6 fast tier: its caller is out of the IPv4 express tier's way, so
/// the loop's registers cost the IPv4 cases nothing).
///
/// Shape (safe Rust, `u64::carrying_add`): each 32-byte block is one
/// add-with-carry chain of four 8-byte words whose last carry is counted
/// apart (an `add`, three `adc` and one `adc` into the carry count per
/// block; no carry lives across the loop's compare); the bytes after the
/// blocks, when there was a block, the last 32 bytes read once more with
/// the bytes already summed masked off (one more chain of four words),
/// rotated by a byte when the length is odd (those bytes then sit one byte
/// off their 16-bit lanes, and rotating a sum by 8 bits multiplies it by
/// 2^8, a byte swap modulo 2^16 - 1); data under 32 bytes one word at a
/// time, its tail as the last 8 bytes masked the same way. No branch per
/// tail size.
#[inline(always)]
pub fn accumulate_inline(acc: u64, data: &[u8]) -> u64 {
    let sum = sum_machine_order(data);
    // 64 to 32 bits, the carry added back in (end-around carry; a sum
    // that wrapped is at most 2^32 - 2, so adding it cannot wrap).
    let (lo, c) = (sum as u32).overflowing_add((sum >> 32) as u32);
    let sum = lo + u32::from(c);
    // Machine order to big-endian 16-bit words (a no-op on big-endian).
    acc + u64::from(u32::from_be(sum))
}

/// Whether `seed` (an unfolded big-endian sum, e.g. a pseudo-header's)
/// plus `data` sums to 0xffff: a checksum over them verifies. As
/// `fold(accumulate_inline(seed, data)) == 0xffff`, without the machine
/// order fold and byte swap: 0xffff is its own byte swap, so the seed is
/// swapped instead (a 64-bit byte swap is a 16-bit one modulo 2^16 - 1),
/// and the 64-bit sum is tested for a non-zero multiple of 0xffff with one
/// multiplication instead of being folded ([`is_nonzero_multiple_of_0xffff`]).
#[inline(always)]
pub fn verifies_inline(seed: u64, data: &[u8]) -> bool {
    is_nonzero_multiple_of_0xffff(add_carry(sum_machine_order(data), seed.to_be()))
}

/// [`verifies_inline`] for data of at least `HEAD` bytes (at least 32, a
/// multiple of 8; shorter data takes [`verifies_inline`] out of line), in
/// one add-with-carry chain: the first `HEAD` bytes word by word from the
/// seed, no loop round for them; the rest in 32-byte blocks that end where
/// the data ends, the bytes before the first of them as the 16 bytes (at
/// most 16 of them) or 32 bytes that end there masked to those bytes (a
/// 64-byte table: one branch on the remainder's size, none per size).
/// When the length is odd those blocks sit a byte off
/// the head's 16-bit lanes: the head's sum is rotated by a byte into
/// theirs instead, which multiplies the total by 2^8, and a multiple of
/// 0xffff stays one. The total is tested with one multiplication rather
/// than folded.
///
/// The decap IPv6 fast tier takes `HEAD` = 96: the pseudo header's
/// addresses, the UDP and Geneve headers and a minimum inner Ethernet
/// frame (60 bytes) make 108, so a datagram without options is the head
/// and one masked 16-byte window, no loop round.
#[inline(always)]
pub fn verifies_inline_from<const HEAD: usize>(seed: u64, data: &[u8]) -> bool {
    verifies_inline_from_ne::<HEAD>(seed.to_be(), data)
}

/// [`verifies_inline_from`] with the seed in the machine order the data's
/// words are summed in (`seed.to_be()` of a big-endian sum, or big-endian
/// 16-bit fields read as native `u16`s, at any 16-bit lane): a caller
/// that holds a header field as read from the frame adds it as it is,
/// without a byte swap (the decap IPv6 fast tier's payload length).
#[inline(always)]
pub fn verifies_inline_from_ne<const HEAD: usize>(seed_ne: u64, data: &[u8]) -> bool {
    const { assert!(HEAD >= 32 && HEAD.is_multiple_of(8)) };
    let Some((head, rest)) = data.split_first_chunk::<HEAD>() else {
        return verifies_out_of_line(seed_ne.to_be(), data);
    };
    let (words, _) = head.as_chunks::<8>();
    let (mut s, mut c) = (seed_ne, false);
    for w in words {
        (s, c) = s.carrying_add(u64::from_ne_bytes(*w), c);
    }
    let mut sum = add_carry(s, u64::from(c)).rotate_left(8 * (data.len() as u32 & 1));
    let (partial, blocks) = rest.as_rchunks::<32>();
    let r = partial.len();
    // The 16 or 32 bytes that end after the partial ones (inside the data:
    // the head is at least as long), the others masked off: 16 when the
    // partial ones fit (two words fewer, for half the remainder sizes).
    // Each chain's carry goes back in at once (two adds with carry), not
    // kept for the end: nothing held across the blocks.
    if r <= 16 {
        if let (Some(window), Some(keep)) = (
            data.get(..HEAD + r).and_then(|d| d.last_chunk::<16>()),
            LAST_BYTES_OF_32[16 + r..].first_chunk::<16>(),
        ) {
            let (w, _) = window.as_chunks::<8>();
            let (k, _) = keep.as_chunks::<8>();
            let word = |i: usize| u64::from_ne_bytes(w[i]) & u64::from_ne_bytes(k[i]);
            let (s, c) = sum.overflowing_add(word(0));
            let (s, c) = s.carrying_add(word(1), c);
            sum = add_carry(s, u64::from(c));
        }
    } else if let (Some(window), Some(keep)) = (
        data.get(..HEAD + r).and_then(|d| d.last_chunk::<32>()),
        LAST_BYTES_OF_32[r % 32..].first_chunk::<32>(),
    ) {
        let (w, _) = window.as_chunks::<8>();
        let (k, _) = keep.as_chunks::<8>();
        let word = |i: usize| u64::from_ne_bytes(w[i]) & u64::from_ne_bytes(k[i]);
        // Written out, not `chain4`: beside the 16-byte window LLVM left
        // that closure out of line.
        let (s, c) = sum.overflowing_add(word(0));
        let (s, c) = s.carrying_add(word(1), c);
        let (s, c) = s.carrying_add(word(2), c);
        let (s, c) = s.carrying_add(word(3), c);
        sum = add_carry(s, u64::from(c));
    }
    for b in blocks {
        let (s, c) = add_block(sum, b);
        sum = add_carry(s, u64::from(c));
    }
    // An end-around sum is zero only when everything in it was: with a
    // non-zero seed (a pseudo header's always is) the zero test folds away.
    (seed_ne != 0 || sum != 0) && sum.wrapping_mul(INVERSE_0XFFFF) <= u64::MAX / 0xffff
}

/// [`verifies_inline`] out of line: the short data of
/// [`verifies_inline_from`], kept out of its caller's registers.
#[inline(never)]
fn verifies_out_of_line(seed: u64, data: &[u8]) -> bool {
    verifies_inline(seed, data)
}

/// The sum of the last `r` (under 32) bytes of `last`, the last 32 bytes
/// of data `len` bytes long, in the lanes of the data's start: the other
/// bytes masked off, the sum rotated by a byte when `len` is odd (see
/// [`accumulate_inline`]).
#[inline(always)]
fn last_bytes_sum(last: &[u8; 32], r: usize, len: usize) -> u64 {
    let Some(keep) = LAST_BYTES_OF_32[r % 32..].first_chunk::<32>() else {
        return 0;
    };
    let (w, _) = last.as_chunks::<8>();
    let (k, _) = keep.as_chunks::<8>();
    let (s, c) = chain4(0, |i| u64::from_ne_bytes(w[i]) & u64::from_ne_bytes(k[i]));
    add_carry(s, u64::from(c)).rotate_left(8 * (len as u32 & 1))
}

/// `sum` plus the four words `word(0..4)` as one carry chain (an add,
/// then three adds with carry): the sum and the chain's carry out.
#[inline(always)]
fn chain4(sum: u64, word: impl Fn(usize) -> u64) -> (u64, bool) {
    let (s, c) = sum.overflowing_add(word(0));
    let (s, c) = s.carrying_add(word(1), c);
    let (s, c) = s.carrying_add(word(2), c);
    s.carrying_add(word(3), c)
}

/// `sum` plus the 32-byte block `b` as four native-endian words
/// ([`chain4`]).
#[inline(always)]
fn add_block(sum: u64, b: &[u8; 32]) -> (u64, bool) {
    let (w, _) = b.as_chunks::<8>();
    chain4(sum, |i| u64::from_ne_bytes(w[i]))
}

/// Whether an unfolded sum `s` folds to 0xffff: `s` is a non-zero
/// multiple of 0xffff (0xffff divides 2^64 - 1, so the end-around sum
/// keeps the 16-bit sum's residue; an end-around sum is zero only when
/// everything summed was). `s % 0xffff == 0` as one multiplication:
/// 0xffff is odd, so multiplying by its inverse modulo 2^64 maps its
/// multiples, and only them, onto `0..=u64::MAX / 0xffff`.
#[inline(always)]
pub fn is_nonzero_multiple_of_0xffff(s: u64) -> bool {
    s != 0 && s.wrapping_mul(INVERSE_0XFFFF) <= u64::MAX / 0xffff
}

/// The inverse of 0xffff modulo 2^64 (Newton's iteration; each step
/// doubles the correct low bits, 5 steps from the 5 of `x = d`).
pub const INVERSE_0XFFFF: u64 = {
    let d: u64 = 0xffff;
    let mut x = d;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(d.wrapping_mul(x)));
        i += 1;
    }
    x
};

/// 32 zero bytes, then 32 bytes of 0xff: the 32 bytes from `r` (under
/// 32) keep the last `r` bytes of a 32-byte block and clear the others.
const LAST_BYTES_OF_32: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut i = 32;
    while i < 64 {
        t[i] = 0xff;
        i += 1;
    }
    t
};

/// The unfolded one's complement sum of `data` in the machine's byte
/// order (any value of 64 bits); the shape is [`accumulate_inline`]'s.
/// The bytes after the last whole 32-byte block, when there is one, are
/// the last 32 bytes read once more with the bytes already summed masked
/// off (a table of masks per remainder): four words as one chain, no
/// loop and no branch per remainder size, rotated by a byte when the
/// length is odd (see [`accumulate_inline`]).
#[inline(always)]
fn sum_machine_order(data: &[u8]) -> u64 {
    let (blocks, rest) = data.as_chunks::<32>();
    let mut sum = 0u64;
    let mut carries = 0u64;
    for b in blocks {
        let (s, c) = add_block(sum, b);
        sum = s;
        // At most one per block: never overflows.
        carries += u64::from(c);
    }
    let sum = add_carry(sum, carries);
    let r = rest.len();
    if r == 0 {
        return sum;
    }
    if let (false, Some(last)) = (blocks.is_empty(), data.last_chunk::<32>()) {
        return add_carry(sum, last_bytes_sum(last, r, data.len()));
    }
    sum_under_32(sum, rest)
}

/// The rest of [`sum_machine_order`] for data under 32 bytes: its 8-byte
/// words one add each, the tail as the last 8 bytes masked when there are
/// 8 bytes, else 4, 2 and 1 bytes at a time.
#[inline(always)]
fn sum_under_32(mut sum: u64, data: &[u8]) -> u64 {
    let (words, tail) = data.as_chunks::<8>();
    for w in words {
        sum = add_carry(sum, u64::from_ne_bytes(*w));
    }
    let t = tail.len();
    if t == 0 {
        sum
    } else if let Some(last) = data.last_chunk::<8>() {
        // The last `t` bytes of `last`, in place (memory order).
        let keep = if cfg!(target_endian = "little") {
            !(u64::MAX >> (8 * t))
        } else {
            !(u64::MAX << (8 * t))
        };
        let w = u64::from_ne_bytes(*last) & keep;
        // `last` starts at `len - 8`: one byte off the words' lanes when
        // the length is odd.
        add_carry(sum, w.rotate_left(8 * (data.len() as u32 & 1)))
    } else {
        add_carry(sum, short_tail(tail))
    }
}

/// The unfolded one's complement sum of a frame in the machine's byte
/// order (any value of 64 bits), for the encap IPv6 fast tier, which sums
/// the inner frame (usually under 128 bytes) per packet: the 32-byte
/// blocks as in [`accumulate_inline`], then no loop at all: the 0 to 3
/// words left are one add-with-carry chain chosen by their count, and the
/// tail under 8 bytes is the last 8 bytes masked (and rotated by a byte
/// for an odd length) whatever its size, a tail of 0 bytes masked to
/// zero. Data under 8 bytes is summed 4, 2 and 1 bytes at a time.
///
/// Fold it with a seed as [`fold_machine_order`] or
/// [`udp_field_machine_order`] does.
#[inline(always)]
pub fn sum_frame(data: &[u8]) -> u64 {
    let Some(last) = data.last_chunk::<8>() else {
        return short_tail(data);
    };
    let (blocks, rest) = data.as_chunks::<32>();
    let ne = u64::from_ne_bytes;
    // The first block outside the loop (frames of 32 bytes or more have
    // one): its chain starts the sum.
    let (mut sum, mut carries, more) = match blocks.split_first() {
        Some((b, more)) => {
            let (s, c) = add_block(0, b);
            (s, u64::from(c), more)
        }
        None => (0, 0, blocks),
    };
    for b in more {
        let (s, c) = add_block(sum, b);
        sum = s;
        // At most one per block: never overflows.
        carries += u64::from(c);
    }
    let (words, tail) = rest.as_chunks::<8>();
    let (s, c) = match words {
        [a, b, c] => {
            let (s, k) = sum.overflowing_add(ne(*a));
            let (s, k) = s.carrying_add(ne(*b), k);
            s.carrying_add(ne(*c), k)
        }
        [a, b] => {
            let (s, k) = sum.overflowing_add(ne(*a));
            s.carrying_add(ne(*b), k)
        }
        [a] => sum.overflowing_add(ne(*a)),
        _ => (sum, false),
    };
    // The last `t` bytes of `last`, in place (memory order); none for 0.
    let t = tail.len();
    let keep = if cfg!(target_endian = "little") {
        !(u64::MAX >> (8 * t))
    } else {
        !(u64::MAX << (8 * t))
    };
    // `last` starts at `len - 8`: one byte off the words' lanes when the
    // length is odd.
    let w = (u64::from_ne_bytes(*last) & keep).rotate_left(8 * (data.len() as u32 & 1));
    let (s, k) = s.carrying_add(w, c);
    add_carry(s, carries + u64::from(k))
}

/// The one's complement sum of `sum` (from [`sum_frame`], machine order)
/// and `seed` (an unfolded big-endian sum), folded to 16 bits in machine
/// order: `u16::from_be(fold(...))` of the big-endian sum without swapping
/// the sum (a 64-bit byte swap of the seed is a 16-bit one modulo
/// 2^16 - 1). Stored with `to_ne_bytes`, it writes the big-endian bytes
/// of the folded sum.
#[inline(always)]
pub fn fold_machine_order(sum: u64, seed: u64) -> u16 {
    fold(add_carry(sum, seed.to_be()))
}

/// The UDP checksum field over `sum` (from [`sum_frame`], machine order)
/// and `seed` (an unfolded big-endian sum under 2^56), in machine order
/// (stored with `to_ne_bytes`, it writes the field's big-endian bytes):
/// the complement of the one's complement sum, a computed zero sent as
/// 0xffff (RFC 768). Both at once without a test for zero: the
/// complement of the residue modulo 0xffff taken in 0..=0xfffe is that
/// rule, and as [`fold`] of the sum plus one is that residue plus one
/// (1..=0xffff), the field is its negation (`!(x - 1) == -x`). The byte
/// swap commutes with all of it (it maps 0..=0xfffe to itself and is a
/// multiplication by 2^8 modulo 0xffff), so the sum is never swapped.
#[inline(always)]
pub fn udp_field_machine_order(sum: u64, seed: u64) -> u16 {
    debug_assert!(seed >> 56 == 0, "seed {seed:#x}");
    // The swapped seed's low byte is the seed's top one, zero: adding one
    // cannot carry out.
    fold(add_carry(sum, seed.to_be() + 1)).wrapping_neg()
}

/// The sum of under 8 bytes that start a word (data shorter than 8 bytes
/// in all): 4, 2 and 1 bytes at a time, in machine order.
#[inline(never)]
fn short_tail(tail: &[u8]) -> u64 {
    tail_words(tail)
}

/// The sum of under 8 bytes: 4, 2 and 1 bytes at a time, in machine order
/// (inlined where the tail is summed in line, out of line in
/// [`short_tail`]).
#[inline(always)]
fn tail_words(mut tail: &[u8]) -> u64 {
    let mut t = 0u64;
    if let Some((w, r)) = tail.split_first_chunk::<4>() {
        t += u64::from(u32::from_ne_bytes(*w));
        tail = r;
    }
    if let Some((w, r)) = tail.split_first_chunk::<2>() {
        t += u64::from(u16::from_ne_bytes(*w));
        tail = r;
    }
    if let [b] = tail {
        // Padded with a zero byte after it, in memory order.
        t += u64::from(u16::from_ne_bytes([*b, 0]));
    }
    t
}

/// `a + b` in one's complement: the carry out of 64 bits added back in
/// (an add and an add-with-carry). Never overflows: a sum that wrapped is
/// at most 2^64 - 2.
#[inline(always)]
pub fn add_carry(a: u64, b: u64) -> u64 {
    let (s, c) = a.overflowing_add(b);
    s + u64::from(c)
}

/// Fold an unfolded sum to 16 bits (not complemented): 64 to 32 to 16
/// bits, each step's carry added back in (end-around carry). Zero only for
/// a zero sum; a non-zero multiple of 0xffff folds to 0xffff.
#[inline]
pub fn fold(acc: u64) -> u16 {
    let (s, c) = (acc as u32).overflowing_add((acc >> 32) as u32);
    // A sum that wrapped is at most 2^32 - 2: adding the carry cannot wrap.
    let s = s + u32::from(c);
    let (s, c) = (s as u16).overflowing_add((s >> 16) as u16);
    s + u16::from(c)
}

/// The Internet checksum of `data` (complemented, ready to store).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(accumulate(0, data))
}

/// Unfolded sum of the IPv4 pseudo-header (RFC 768).
#[inline]
pub fn pseudo_header_v4(src: &[u8; 4], dst: &[u8; 4], protocol: u8, len: u16) -> u64 {
    u64::from(u32::from_be_bytes(*src))
        + u64::from(u32::from_be_bytes(*dst))
        + u64::from(protocol)
        + u64::from(len)
}

/// Unfolded sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
#[inline]
pub fn pseudo_header_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, len: u32) -> u64 {
    let s = u128::from_be_bytes(*src);
    let d = u128::from_be_bytes(*dst);
    let mut acc = 0u64;
    for x in [s, d] {
        acc += (x >> 96) as u64 & 0xffff_ffff;
        acc += (x >> 64) as u64 & 0xffff_ffff;
        acc += (x >> 32) as u64 & 0xffff_ffff;
        acc += x as u64 & 0xffff_ffff;
    }
    acc + u64::from(len) + u64::from(next_header)
}

/// UDP/ICMP checksum over an IPv4 pseudo-header and `l4` (the whole
/// transport segment with its checksum field zeroed or included).
/// Returns the value to store; for UDP a computed zero is sent as 0xffff.
#[inline]
pub fn l4_checksum_v4(src: &[u8; 4], dst: &[u8; 4], protocol: u8, l4: &[u8]) -> u16 {
    let len = l4.len() as u16;
    !fold(accumulate(pseudo_header_v4(src, dst, protocol, len), l4))
}

/// As [`l4_checksum_v4`] for IPv6.
#[inline]
pub fn l4_checksum_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, l4: &[u8]) -> u16 {
    let len = l4.len() as u32;
    !fold(accumulate(pseudo_header_v6(src, dst, next_header, len), l4))
}

/// RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')` for one changed 16-bit word.
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!csum) + u64::from(!old) + u64::from(new);
    !fold(acc)
}

/// RFC 1624 update for a changed 32-bit field (two 16-bit words).
#[inline]
pub fn update32(csum: u16, old: u32, new: u32) -> u16 {
    let acc = u64::from(!csum)
        + u64::from(!(old >> 16) as u16)
        + u64::from(!(old as u16))
        + u64::from((new >> 16) as u16)
        + u64::from(new as u16);
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: naive 16-bit one's complement sum.
    fn naive(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            s += u32::from(w);
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    /// `fold` against its definition: the residue modulo 0xffff, with a
    /// non-zero multiple of 0xffff as 0xffff and zero as zero.
    #[test]
    fn fold_is_the_residue_modulo_0xffff() {
        let reference = |a: u64| match (a, a % 0xffff) {
            (0, _) => 0,
            (_, 0) => 0xffff,
            (_, r) => r as u16,
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = vec![0, 1, 0xfffe, 0xffff, 0x1_0000, 0xffff_ffff, 0x1_0000_0000];
        values.extend([
            u64::MAX,
            u64::MAX - 1,
            0xffff_0000_ffff,
            0xfffe_0001_0000_ffff,
        ]);
        for _ in 0..100_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            values.push(x);
            values.push(x >> (x % 61));
        }
        for a in values {
            assert_eq!(fold(a), reference(a), "{a:#x}");
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 -> sum 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(accumulate(0, &d)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn matches_naive_all_lengths() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(151) ^ 0x5a) as u8)
            .collect();
        for n in 0..data.len() {
            assert_eq!(checksum(&data[..n]), naive(&data[..n]), "len {n}");
        }
    }

    /// Seeds, carries (all-ones data) and every start offset: the
    /// machine-order sum folds to what the big-endian one does.
    #[test]
    fn accumulate_matches_naive_with_seed_and_offset() {
        let mixed: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(97) ^ 0xc3) as u8)
            .collect();
        let ones = vec![0xffu8; 200];
        for data in [&mixed, &ones] {
            for start in 0..8 {
                for n in 0..data.len() - start {
                    let d = &data[start..start + n];
                    for seed in [0u64, 1, 0xffff, 0x1_2345_6789] {
                        let want = !naive(d);
                        let s = fold(seed);
                        let want = fold(u64::from(want) + u64::from(s));
                        let got = fold(accumulate(seed, d));
                        // 0x0000 and 0xffff are the same (zero) sum.
                        assert!(
                            got == want || (got | want == 0xffff && (got == 0 || want == 0)),
                            "start {start} len {n} seed {seed:x}: {got:x} != {want:x}"
                        );
                    }
                }
            }
        }
    }

    /// Plain RFC 1071 reference: the big-endian 16-bit words (an odd last
    /// byte padded with zero) and the seed added in a `u128`, reduced
    /// modulo 0xffff (zero stays zero, a non-zero multiple is 0xffff).
    fn reference_sum(seed: u64, data: &[u8]) -> u16 {
        let mut s = u128::from(seed);
        for c in data.chunks(2) {
            s += u128::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        match (s, s % 0xffff) {
            (0, _) => 0,
            (_, 0) => 0xffff,
            (_, r) => r as u16,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(300))]
        /// Any length up to a jumbo frame, any start offset (alignment),
        /// any seed, random or all-ones bytes (every add carries): the
        /// block chains, the counted carries, the overlapped tail and its
        /// rotation fold to what the plain sum does.
        #[test]
        fn accumulate_matches_reference(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 9016),
            len in 0usize..=9000,
            start in 0usize..16,
            seed in proptest::num::u64::ANY,
            ones in proptest::bool::weighted(0.2),
        ) {
            let seed = seed >> 31;
            let mut bytes = bytes;
            if ones {
                bytes.fill(0xff);
            }
            let d = &bytes[start..start + len];
            let want = reference_sum(seed, d);
            let got = fold(accumulate(seed, d));
            let got_inline = fold(accumulate_inline(seed, d));
            proptest::prop_assert_eq!(got, got_inline);
            proptest::prop_assert_eq!(verifies_inline(seed, d), want == 0xffff);
            proptest::prop_assert_eq!(verifies_inline_from::<48>(seed, d), want == 0xffff);
            proptest::prop_assert_eq!(verifies_inline_from::<96>(seed, d), want == 0xffff);
            // A 16-bit seed as a frame holds it (big-endian, read as a
            // native u16) plus a constant field the same way, as the decap
            // IPv6 fast tier seeds it: the same verdict as the value.
            let (len16, next) = ((seed >> 8) as u16, seed as u8);
            let seed_ne = u64::from(u16::from_ne_bytes(len16.to_be_bytes()))
                + u64::from(u16::from_ne_bytes([0, next]));
            let want16 = reference_sum(u64::from(len16) + u64::from(next), d);
            proptest::prop_assert_eq!(verifies_inline_from_ne::<96>(seed_ne, d), want16 == 0xffff);
            proptest::prop_assert_eq!(verifies_inline_from_ne::<48>(seed_ne, d), want16 == 0xffff);
            // 0x0000 and 0xffff are the same sum only when the data is
            // not all zero; the reference keeps zero only for zero.
            proptest::prop_assert!(
                got == want || (want == 0xffff && got == 0) || (want == 0 && got == 0xffff),
                "len {} start {} seed {:#x}: {:#x} != {:#x}", len, start, seed, got, want
            );
        }
    }

    /// Every length 0..=80 at every alignment 0..16 over all-ones and
    /// mixed bytes, both shapes of the sum: each tail size, odd and even,
    /// short and overlapped.
    #[test]
    fn accumulate_every_short_length_and_alignment() {
        let mixed: Vec<u8> = (0..96u32)
            .map(|i| (i.wrapping_mul(167) ^ 0x3c) as u8)
            .collect();
        let ones = vec![0xffu8; 96];
        for data in [&mixed, &ones] {
            for start in 0..16 {
                for n in 0..=80 {
                    let d = &data[start..start + n];
                    let want = reference_sum(7, d);
                    for got in [fold(accumulate(7, d)), fold(accumulate_inline(7, d))] {
                        assert!(
                            got == want || (want == 0xffff && got == 0),
                            "start {start} len {n}: {got:#x} != {want:#x}"
                        );
                    }
                }
            }
        }
    }

    /// RFC 768's UDP checksum field for a plain sum: its complement, a
    /// computed zero sent as 0xffff.
    fn udp_field(sum: u16) -> u16 {
        match !sum {
            0 => 0xffff,
            c => c,
        }
    }

    /// Every residue, the fold's both forms of zero and the largest
    /// seed: the field is RFC 768's.
    #[test]
    fn udp_field_machine_order_every_sum() {
        for seed in (1u64..=0x2_0000).chain([(1 << 56) - 1, 0xffff_0000_ffff]) {
            let want = udp_field(reference_sum(seed, &[]));
            let got = u16::from_be(udp_field_machine_order(0, seed));
            assert_eq!(got, want, "seed {seed:#x}");
            assert_ne!(got, 0);
        }
    }

    /// `sum_frame` folded with a seed by `fold_machine_order` is the
    /// plain sum's byte swap, at every length 0..=300 (0 to 9 blocks,
    /// each count of words and tail size), every alignment 0..16, over
    /// mixed bytes, all-ones (every add carries) and zeros, with seeds
    /// small, large and carrying.
    #[test]
    fn sum_frame_every_length_and_alignment() {
        let mixed: Vec<u8> = (0..320u32)
            .map(|i| (i.wrapping_mul(167) ^ 0x3c) as u8)
            .collect();
        let ones = vec![0xffu8; 320];
        let zeros = vec![0u8; 320];
        for data in [&mixed, &ones, &zeros] {
            for start in 0..16 {
                for n in 0..=300 {
                    let d = &data[start..start + n];
                    for seed in [1u64, 0xffff, 0x1_2345_6789, 0xffff_ffff_ffff] {
                        let want = reference_sum(seed, d);
                        let got = u16::from_be(fold_machine_order(sum_frame(d), seed));
                        assert_eq!(got, want, "start {start} len {n} seed {seed:#x}");
                        let field = u16::from_be(udp_field_machine_order(sum_frame(d), seed));
                        assert_eq!(field, udp_field(want), "start {start} len {n}");
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(300))]
        /// `sum_frame` against the plain sum at any length up to a jumbo
        /// frame and any alignment.
        #[test]
        fn sum_frame_matches_reference(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 9016),
            len in 0usize..=9000,
            start in 0usize..16,
            seed in 1u64..(1 << 48),
            ones in proptest::bool::weighted(0.2),
        ) {
            let mut bytes = bytes;
            if ones {
                bytes.fill(0xff);
            }
            let d = &bytes[start..start + len];
            let got = u16::from_be(fold_machine_order(sum_frame(d), seed));
            proptest::prop_assert_eq!(got, reference_sum(seed, d));
            let field = u16::from_be(udp_field_machine_order(sum_frame(d), seed));
            proptest::prop_assert_eq!(field, udp_field(reference_sum(seed, d)));
        }
    }

    /// `verifies_inline` over data that carries its own checksum (the
    /// reference's complement appended, at even and odd lengths before
    /// it, every alignment): true; with any one byte changed: false.
    #[test]
    fn verifies_inline_accepts_exactly_a_correct_checksum() {
        let mixed: Vec<u8> = (0..160u32)
            .map(|i| (i.wrapping_mul(89) ^ 0xa5) as u8)
            .collect();
        for start in 0..8 {
            for n in 0..140 {
                let seed = 17 + n as u64;
                let mut d = mixed[start..start + n].to_vec();
                if n % 2 == 1 {
                    d.push(0);
                }
                let c = !reference_sum(seed, &d);
                d.extend_from_slice(&c.to_be_bytes());
                assert!(verifies_inline(seed, &d), "start {start} len {n}");
                assert!(
                    verifies_inline_from::<48>(seed, &d),
                    "start {start} len {n}"
                );
                assert!(
                    verifies_inline_from::<96>(seed, &d),
                    "start {start} len {n}"
                );
                for i in 0..d.len() {
                    let mut bad = d.clone();
                    bad[i] ^= 0x10;
                    assert!(
                        !verifies_inline(seed, &bad),
                        "start {start} len {n} byte {i}"
                    );
                    assert!(
                        !verifies_inline_from::<48>(seed, &bad),
                        "start {start} len {n} byte {i}"
                    );
                    assert!(
                        !verifies_inline_from::<96>(seed, &bad),
                        "start {start} len {n} byte {i}"
                    );
                }
            }
        }
    }

    /// The verifiers over data of every length 0..160, odd ones included
    /// (the checksum field at an even offset inside the data, as a UDP
    /// header's is, the odd last byte padded with zero by the sum), at
    /// every alignment 0..8: true for the correct checksum, false with
    /// any one byte changed.
    #[test]
    fn verifiers_accept_exactly_a_correct_checksum_at_any_length() {
        let mixed: Vec<u8> = (0..176u32)
            .map(|i| (i.wrapping_mul(113) ^ 0x5c) as u8)
            .collect();
        // The seed is a length plus 17 (UDP), as a pseudo header's; the
        // native-order form gets both as a frame holds them.
        let all = |seed: u64, d: &[u8]| {
            let len16 = (seed - 17) as u16;
            let seed_ne = u64::from(u16::from_ne_bytes(len16.to_be_bytes()))
                + u64::from(u16::from_ne_bytes([0, 17]));
            [
                verifies_inline(seed, d),
                verifies_inline_from::<48>(seed, d),
                verifies_inline_from::<96>(seed, d),
                verifies_inline_from_ne::<48>(seed_ne, d),
                verifies_inline_from_ne::<96>(seed_ne, d),
            ]
        };
        for start in 0..8 {
            for n in 2..160 {
                let seed = 17 + n as u64;
                let mut d = mixed[start..start + n].to_vec();
                // The field at 6, as in a UDP header (or at 0 when short).
                let at = if n >= 8 { 6 } else { 0 };
                d[at..at + 2].fill(0);
                let c = !reference_sum(seed, &d);
                d[at..at + 2].copy_from_slice(&c.to_be_bytes());
                assert_eq!(all(seed, &d), [true; 5], "start {start} len {n}");
                for i in 0..n {
                    let mut bad = d.clone();
                    bad[i] ^= 0x21;
                    assert_eq!(
                        all(seed, &bad),
                        [false; 5],
                        "start {start} len {n} byte {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn known_ipv4_header() {
        // Wikipedia's IPv4 header checksum example: result 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn incremental_matches_full() {
        let mut h: Vec<u8> = (0..20u8).map(|i| i.wrapping_mul(37)).collect();
        h[10] = 0;
        h[11] = 0;
        let c = checksum(&h);
        for (old, new) in [
            (0x1234u16, 0xffffu16),
            (0, 0),
            (0xffff, 0),
            (0x8000, 0x7fff),
        ] {
            h[2..4].copy_from_slice(&old.to_be_bytes());
            let c0 = checksum(&h);
            h[2..4].copy_from_slice(&new.to_be_bytes());
            let c1 = checksum(&h);
            let inc = update16(c0, old, new);
            // 0x0000 and 0xffff are both valid representations of zero sum.
            assert!(
                inc == c1 || (inc ^ c1) == 0xffff && (inc == 0 || c1 == 0),
                "{inc:x} {c1:x}"
            );
        }
        let _ = c;
        let old = 0x0102_0304u32;
        let new = 0xa0b0_c0d0u32;
        h[12..16].copy_from_slice(&old.to_be_bytes());
        let c0 = checksum(&h);
        h[12..16].copy_from_slice(&new.to_be_bytes());
        assert_eq!(update32(c0, old, new), checksum(&h));
    }

    #[test]
    fn pseudo_v6_matches_bytes() {
        let s: [u8; 16] = core::array::from_fn(|i| (i * 17) as u8);
        let d: [u8; 16] = core::array::from_fn(|i| (255 - i * 3) as u8);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&s);
        bytes.extend_from_slice(&d);
        bytes.extend_from_slice(&1234u32.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 17]);
        assert_eq!(
            fold(pseudo_header_v6(&s, &d, 17, 1234)),
            fold(accumulate(0, &bytes))
        );
    }
}
