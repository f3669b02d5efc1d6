//! Fuzz target: TCP segmentation: every segment fits and the payload is kept, once, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    let _ = checks::segment(data);
});
