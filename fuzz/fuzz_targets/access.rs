//! Fuzz target: the access-side classifier on tables from a fixed config never panics, and its MAC cache never changes a decision; on a table large enough for the look-ahead, the look-ahead encapsulates a frame exactly as the per-packet path does, or leaves it alone.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static T: checks::Tables = checks::access_tables();
        static AHEAD: checks::Tables = checks::access_ahead_tables();
    }
    T.with(|t| {
        let _ = checks::access(t, data);
    });
    AHEAD.with(|t| {
        let _ = checks::access_ahead(t, data);
    });
});
