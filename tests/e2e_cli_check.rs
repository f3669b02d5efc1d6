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

/// A generated file with 100,000 bad entries among a million lines' worth
/// of valid ones: `check` exits 1, prints the first 20 errors in the usual
/// form (each naming the line the generator put the mistake on) and then
/// counts the rest. The generator is the repository's own
/// scripts/scale-config.py.
#[test]
fn a_hundred_thousand_errors_print_the_first_and_the_count() {
    if !common::have_program("python3") {
        common::skip("a_hundred_thousand_errors_print_the_first_and_the_count: needs python3");
        return;
    }
    const ERRORS: usize = 100_000;
    let dir = common::scratch("check-100k-errors");
    let file = dir.join("bad.yaml");
    let status = std::process::Command::new("python3")
        .arg(repo_path("scripts/scale-config.py"))
        .args(["--mode", "l3", "--tunnels", "20000", "--routes4", "150000"])
        .args(["--errors", &ERRORS.to_string(), "-o"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let r = check(file.to_str().unwrap());
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let out: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        out.first().copied(),
        Some(format!("error: {} has {ERRORS} error(s):", file.display()).as_str())
    );
    let shown = geneve_gw::config::SHOWN_ERRORS;
    assert_eq!(out.len(), 1 + shown + 1, "{}", r.stderr);
    assert_eq!(
        out[shown + 1],
        format!("... and {} more errors ({ERRORS} in all)", ERRORS - shown)
    );
    // Each printed error points at a line the generator broke: a VNI past
    // 24 bits or a route to a tunnel that does not exist.
    let prefix = format!("{}:", file.display());
    let mut last = 0;
    for l in &out[1..=shown] {
        let rest = l.strip_prefix(&prefix).unwrap_or_else(|| panic!("{l}"));
        let mut it = rest.splitn(3, ':');
        let line: usize = it.next().unwrap().parse().unwrap();
        let col: usize = it.next().unwrap().parse().unwrap();
        assert!(line > last, "errors in file order: {l}");
        last = line;
        let src = lines[line - 1];
        let (field, bad) = if src.contains("no-such-tunnel") {
            ("tunnel: ", "no-such-tunnel")
        } else {
            ("vni: ", "16777")
        };
        assert_eq!(
            col,
            src.find(field).unwrap() + field.len() + 1,
            "{l}\n{src}"
        );
        assert!(src[col - 1..].starts_with(bad), "{l}\n{src}");
    }
}
