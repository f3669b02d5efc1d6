//! Harness for the suites that drive a running `geneve-gw run` through its
//! control API (`e2e_api`, `e2e_api_corners`): the gateway in the background
//! with its API socket in the test's scratch directory, the `geneve-gw ctl`
//! runner, readers of the JSON counters `ctl --json counters` prints, and a
//! bounded poll for counters that grow while traffic is replayed.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::gw::{self, Ports, Run};
use super::{signal, StderrLines};

/// A gateway running in the background with its API socket in a scratch
/// directory of the test; stopped (SIGINT) by `stop`, killed however else
/// the test ends.
pub struct Gw {
    child: Option<Child>,
    pub err: StderrLines,
    pub cfg: PathBuf,
    pub api_dir: PathBuf,
    _slot: std::sync::MutexGuard<'static, ()>,
}

impl Gw {
    /// Writes `ports` and `tables` to DIR/gw.yaml and starts the gateway on
    /// it; waits until its API serves (`name` names it in the failure).
    pub fn start(dir: &Path, name: &str, ports: Ports, tables: &str) -> Gw {
        let slot = gw::dpdk_slot();
        let cfg = dir.join("gw.yaml");
        std::fs::write(&cfg, ports.yaml() + tables).unwrap();
        let api_dir = dir.join("api");
        let mut child = Command::new(gw::bin())
            .args(["run", "-c", cfg.to_str().unwrap(), "--stats-interval", "0"])
            .env("GENEVE_GW_API_DIR", &api_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = StderrLines::take(&mut child);
        assert!(
            err.wait_for("api: serving on", Duration::from_secs(90)),
            "{name}: the gateway did not start its API:\n{}",
            err.text
        );
        Gw {
            child: Some(child),
            err,
            cfg,
            api_dir,
            _slot: slot,
        }
    }

    /// The API's Unix socket.
    pub fn socket(&self) -> PathBuf {
        std::fs::read_dir(&self.api_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "sock"))
            .expect("the API socket")
    }

    /// `geneve-gw ctl -c CFG ARGS`: (exit code, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(gw::bin())
            .arg("ctl")
            .args(["-c", self.cfg.to_str().unwrap()])
            .args(args)
            .env("GENEVE_GW_API_DIR", &self.api_dir)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// `ctl ARGS` must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (c, out, err) = self.ctl(args);
        assert_eq!(c, 0, "ctl {args:?} failed:\n{out}\n{err}");
        out
    }

    /// `ctl --json ARGS` must succeed: its output as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        super::json(&self.ok(&all))
    }

    /// `ctl ARGS` must be refused by the gateway (exit 1); its error.
    pub fn refused(&self, args: &[&str]) -> String {
        let (c, out, err) = self.ctl(args);
        assert_eq!(c, 1, "ctl {args:?} was not refused:\n{out}\n{err}");
        err
    }

    /// SIGINT, then the run's exit code, report and stderr.
    pub fn stop(mut self) -> Run {
        let child = self.child.take().expect("running");
        signal(child.id(), "INT");
        let out = child.wait_with_output().unwrap();
        let err = std::mem::replace(&mut self.err, StderrLines::empty());
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: err.finish(),
        }
    }
}

/// A failed test does not leave its gateway running.
impl Drop for Gw {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Counter `k` of a JSON object, 0 when it is absent.
pub fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

/// The packets counted under drop reason `reason` in `ctl --json counters`
/// output; a reason missing from the table fails the test.
pub fn drop_count(v: &Value, reason: &str) -> u64 {
    v["drops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["reason"] == reason)
        .and_then(|d| d["packets"].as_u64())
        .unwrap_or_else(|| panic!("no drop counter {reason}: {v}"))
}

/// Reads `read` every 50 ms until `done` holds for what it read, and
/// returns that. Replayed input never stops, so each awaited condition
/// comes; the bound (30 s) keeps a broken build from hanging the suite.
pub fn poll_until<T: Debug>(what: &str, read: impl Fn() -> T, done: impl Fn(&T) -> bool) -> T {
    for _ in 0..600 {
        let c = read();
        if done(&c) {
            return c;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: never happened; counters {:?}", read());
}
