//! Fuzz target: the access-side classifier on tables from a fixed config never panics, and its MAC cache never changes a decision.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static T: checks::Tables = checks::access_tables();
    }
    T.with(|t| {
        let _ = checks::access(t, data);
    });
});
