//! `geneve-gw check`: each bad configuration gives a clear error naming the
//! file, line and field, exits non-zero and never shows a panic; the shipped
//! examples pass.
mod common;

use std::time::Duration;

use common::gw::{run_gw, strings, Run};
use common::{data_path, repo_path};

fn check(path: &str) -> Run {
    run_gw(&strings(&["check", "-c", path]), Duration::from_secs(30))
}

#[test]
fn every_bad_configuration_is_refused_with_file_line_and_field() {
    let dir = data_path("config");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        n += 1;
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let r = check(path.to_str().unwrap());
        assert_eq!(r.code, Some(1), "{name}: {}\n{}", r.stdout, r.stderr);
        assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with("error: ") && first.contains(&name),
            "{name}: {first}"
        );
        // Every following line: FILE:LINE:COL: field: message.
        let detail: Vec<&str> = r.stderr.lines().skip(1).collect();
        assert!(!detail.is_empty(), "{name}: no detail lines");
        for l in detail {
            let rest = l
                .split_once(&format!("{name}:"))
                .map(|x| x.1)
                .unwrap_or_else(|| panic!("{name}: {l}"));
            let mut it = rest.splitn(3, ':');
            let line: u32 = it
                .next()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: no line in {l}"));
            assert!(line > 0, "{l}");
            assert!(
                it.next().unwrap().parse::<u32>().is_ok(),
                "{name}: no column in {l}"
            );
            assert!(
                it.next().is_some_and(|m| m.trim().len() > 5),
                "{name}: no message in {l}"
            );
        }
    }
    assert!(n >= 15, "only {n} bad configurations found");
}

#[test]
fn shipped_examples_pass_check() {
    let dir = repo_path("config");
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let r = check(path.to_str().unwrap());
        assert!(r.ok(), "{}: {}", path.display(), r.stderr);
        assert!(r.stdout.contains(": OK"), "{}", r.stdout);
    }
}

#[test]
fn missing_file_is_one_clear_error() {
    let r = check("/nonexistent/gw.yaml");
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("/nonexistent/gw.yaml"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}
