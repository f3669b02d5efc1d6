//! Fuzz target: the ARP/ND/ICMP responder never panics; a reply goes from our MAC to the requester.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static L: checks::LocalAddrs = checks::local_addrs();
    }
    let mut out = Vec::with_capacity(2048);
    L.with(|l| {
        let _ = checks::responder(data, l, &mut out);
    });
});
