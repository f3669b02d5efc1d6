//! `geneve-gw check -c FILE --emit OUT`: the binary saves the configuration
//! it loaded, and `geneve-gw check` accepts the saved file, which loads into
//! the same configuration (the library's tests compare them field by field
//! and table by table). Starts no EAL.
mod common;

use std::time::Duration;

use common::gw::{run_gw, strings, Run};
use common::repo_path;

fn check(args: &[&str]) -> Run {
    run_gw(&strings(args), Duration::from_secs(60))
}

/// Save `from` to `to` with the binary, check the save with the binary, and
/// load both with the library: equal configurations.
fn save_and_check(from: &std::path::Path, to: &std::path::Path) {
    let (f, t) = (from.to_str().unwrap(), to.to_str().unwrap());
    let r = check(&["check", "-c", f, "--emit", t]);
    assert_eq!(r.code, Some(0), "{f}: {}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("{t}: saved")), "{}", r.stdout);
    let r = check(&["check", "-c", t]);
    assert_eq!(
        r.code,
        Some(0),
        "the save of {f}: {}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.starts_with(&format!("{t}: OK")), "{}", r.stdout);
    let a = geneve_gw::config::load(from).expect("original loads");
    let b = geneve_gw::config::load(to).expect("save loads");
    assert_eq!(a, b, "{f} and its save differ");
}

#[test]
fn every_example_saved_by_the_binary_passes_check() {
    let dir = common::scratch("save-examples");
    let mut n = 0;
    for e in std::fs::read_dir(repo_path("config")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        let out = dir.join(path.file_name().unwrap());
        save_and_check(&path, &out);
        n += 1;
    }
    assert!(n >= 5, "only {n} examples");
}

/// 100,000 routes from the repository's own generator
/// (scripts/scale-config.py): the binary saves them, the save passes
/// check, and the save's long lists go through the fast loading tier.
#[test]
fn a_generated_100k_file_saved_by_the_binary_passes_check() {
    if !common::have_program("python3") {
        common::skip("a_generated_100k_file_saved_by_the_binary_passes_check: needs python3");
        return;
    }
    let dir = common::scratch("save-100k");
    let file = dir.join("l3.yaml");
    let status = std::process::Command::new("python3")
        .arg(repo_path("scripts/scale-config.py"))
        .args(["--mode", "l3", "--tunnels", "10000", "--routes4", "75000"])
        .args(["--routes6", "15000", "-o"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let saved = dir.join("saved.yaml");
    save_and_check(&file, &saved);
    let text = std::fs::read_to_string(&saved).unwrap();
    // Every tunnel and route but the first of each list.
    assert_eq!(
        geneve_gw::config::fast_tier_entries(&text),
        Some(10_000 + 90_000 - 2)
    );
}

#[test]
fn a_save_to_a_missing_directory_fails_clearly() {
    let r = check(&[
        "check",
        "-c",
        repo_path("config/l2-gateway.yaml").to_str().unwrap(),
        "--emit",
        "/nonexistent-dir/saved.yaml",
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("cannot save the configuration to /nonexistent-dir/saved.yaml"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}
