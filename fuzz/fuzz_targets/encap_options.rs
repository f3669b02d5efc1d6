//! Fuzz target: encap with a template built from fuzzed options writes the header the options say, in front of the unchanged inner packet.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    let _ = checks::encap_options(data);
});
