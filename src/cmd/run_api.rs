//! The control thread's side of the control API (`control::api`): the
//! requests the API thread queued run here, between control-loop turns,
//! against the running configuration and the table planner. Changes are
//! made entry by entry (`config::edit`, then `Planner::apply_diff`, as a
//! reload's difference is) and reach the workers in the turn's one
//! Publisher batch: all of a transaction or none of it.
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam::channel::Receiver;
use tonic::Status;

use super::ControlState;
use crate::config::edit::{Edit, Editor};
use crate::control::api::{self, Host, Job};
use crate::control::api_proto as pb;
use crate::control::pages::Snapshot;
use crate::dataplane::changes;
use crate::dataplane::gateway::Shared;
use crate::dataplane::publish::Publisher;
use crate::dataplane::stats::{drop_totals, port_totals};
use crate::tunnel::DropReason;

/// Requests run per control-loop turn, at most.
const JOBS_PER_TURN: usize = 16;

type ReloadDone = Box<dyn FnOnce(Result<String, String>) + Send>;

/// The API as the control loop keeps it.
pub(super) struct ApiState {
    rx: Receiver<Job>,
    /// The editor's indexes of the running configuration: made at start
    /// before the workers run, and for a reloaded file on the reload
    /// thread (`reload_editor`), so no change waits for them.
    editor: Editor,
    /// The learned MACs' and the neighbours' keys, sorted at the first
    /// page of a listing (`control::pages::Snapshot`).
    learned_keys: Snapshot<(usize, [u8; 6])>,
    neighbor_keys: Snapshot<IpAddr>,
    /// Who waits for the reload under way.
    reload_waiters: Vec<ReloadDone>,
    _server: api::ApiServer,
}

impl ApiState {
    /// Starts the API server for the gateway.
    pub(super) fn start(
        socket: &std::path::Path,
        tcp: Option<std::net::SocketAddr>,
        cfg: &crate::config::Config,
    ) -> Result<ApiState, String> {
        let (tx, rx) = crossbeam::channel::bounded(api::QUEUE);
        let server = api::ApiServer::start(socket, tcp, tx)?;
        eprintln!(
            "api: serving on {}{}",
            server.socket.display(),
            server
                .tcp
                .map(|a| format!(" and tcp {a}"))
                .unwrap_or_default()
        );
        Ok(ApiState {
            rx,
            editor: Editor::new(cfg),
            learned_keys: Snapshot::default(),
            neighbor_keys: Snapshot::default(),
            reload_waiters: Vec::new(),
            _server: server,
        })
    }

    /// A reload finished (accepted or refused): whoever asked for it
    /// learns the outcome.
    pub(super) fn reloaded(&mut self, outcome: Result<String, String>) {
        for w in self.reload_waiters.drain(..) {
            w(outcome.clone());
        }
    }

    /// A reload was accepted: the indexes of its configuration, made on
    /// the reload thread; the old ones are returned to be freed elsewhere.
    pub(super) fn reload_editor(&mut self, editor: Editor) -> Editor {
        std::mem::replace(&mut self.editor, editor)
    }

    /// Runs the requests waiting, a bounded number per turn.
    pub(super) fn turn(
        &mut self,
        st: &mut ControlState,
        publisher: &mut Publisher,
        shared: &Shared,
        hup: &AtomicBool,
        reloading: bool,
        config_path: &std::path::Path,
    ) {
        let jobs: Vec<Job> = self.rx.try_iter().take(JOBS_PER_TURN).collect();
        if jobs.is_empty() {
            return;
        }
        let mut host = RunHost {
            st,
            api: self,
            publisher,
            shared,
            hup,
            reloading,
            config_path,
        };
        for job in jobs {
            job(&mut host);
        }
    }
}

struct RunHost<'a> {
    st: &'a mut ControlState,
    api: &'a mut ApiState,
    publisher: &'a mut Publisher,
    shared: &'a Shared,
    hup: &'a AtomicBool,
    reloading: bool,
    config_path: &'a std::path::Path,
}

impl Host for RunHost<'_> {
    fn config(&self) -> &crate::config::Config {
        &self.st.cfg
    }

    fn apply(&mut self, edits: Vec<Edit>, transaction: bool) -> Result<pb::ChangeReply, Status> {
        if self.reloading {
            return Err(Status::unavailable(
                "a reload of the configuration file is under way; retry when it is done",
            ));
        }
        // Nobody else holds the configuration between reloads: changed in
        // place, never copied.
        let Some(cfg) = Arc::get_mut(&mut self.st.cfg) else {
            return Err(Status::unavailable(
                "the configuration is still shared with the last reload; retry",
            ));
        };
        // Segments added or removed move the others: their learned MACs
        // follow them by VNI.
        let segments_before = edits
            .iter()
            .any(|e| matches!(e, Edit::AddSegment(_) | Edit::DeleteSegment(_)))
            .then(|| super::segment_vnis(cfg));
        let editor = &mut self.api.editor;
        let label = |i: usize| {
            if transaction {
                format!("changes[{i}]")
            } else {
                "change".to_string()
            }
        };
        let diff = editor
            .apply(cfg, &edits, label)
            .map_err(|e| api::edit_status(&e))?;
        if let Some(before) = segments_before {
            self.st
                .segments_moved(&before, self.publisher.generation() + 1);
        }
        let rebuilt = match diff.global {
            Some(why) => match self.st.start_tables(self.publisher.generation() + 1) {
                Ok(t) => {
                    self.publisher
                        .push(vec![changes::Change::Replace(Box::new(t))]);
                    eprintln!("api: {why} changed: every table made anew");
                    true
                }
                Err(e) => {
                    return Err(Status::internal(format!(
                        "{why} changed and the tables could not be made (the configuration changed, the running tables stay): {e}"
                    )))
                }
            },
            None => {
                // New tunnels and VNIs get their counter slots first (only
                // the ones the change names; routes and MACs have no slots).
                if !(diff.tunnels.is_empty() && diff.decap.is_empty()) {
                    self.st.planner.sync_counters_changed(
                        &self.st.cfg,
                        &diff,
                        self.publisher.generation() + 1,
                    );
                }
                self.st.planner.apply_diff(&self.st.cfg, &diff);
                false
            }
        };
        Ok(pb::ChangeReply {
            summary: diff.counts.to_string(),
            tables_rebuilt: rebuilt,
        })
    }

    fn counters(&self, tunnel: Option<&str>, vni: Option<u32>) -> Result<pb::Counters, Status> {
        let entries = self.st.planner.counter_slots().read(&self.shared.entries);
        let tunnel = match tunnel {
            None => None,
            Some(name) => {
                let t = entries.tunnel(name).ok_or_else(|| {
                    Status::not_found(format!(
                        "tunnel: no counters for `{name}` (no such tunnel, or more tunnels than the counter arrays hold)"
                    ))
                })?;
                Some(pb::TunnelCounters {
                    name: name.to_string(),
                    encap_packets: t.encap_packets,
                    encap_bytes: t.encap_bytes,
                    encap_drops: t.encap_drops,
                    decap_packets: t.decap_packets,
                    decap_bytes: t.decap_bytes,
                })
            }
        };
        let vni = match vni {
            None => None,
            Some(v) => {
                let c = crate::wire::geneve::Vni::new(v)
                    .and_then(|x| entries.vni(x))
                    .ok_or_else(|| {
                        Status::not_found(format!("vni: no counters for VNI {v} (no decap entry)"))
                    })?;
                Some(pb::VniCounters {
                    vni: v,
                    packets: c.packets,
                    bytes: c.bytes,
                    drops: c.drops,
                })
            }
        };
        let c = &self.shared.counters;
        let sum = |f: &dyn Fn(&crate::dataplane::stats::WorkerCounters) -> u64| {
            c.iter().map(f).sum::<u64>()
        };
        let drops = drop_totals(c);
        Ok(pb::Counters {
            encap: sum(&|w| w.encap.get()),
            decap: sum(&|w| w.decap.get()),
            punted: sum(&|w| w.punted.get()),
            vxlan_encap: sum(&|w| w.vxlan_encap.get()),
            vxlan_decap: sum(&|w| w.vxlan_decap.get()),
            drops_total: drops.iter().sum(),
            ports: self
                .st
                .cfg
                .ports
                .iter()
                .zip(&self.st.port_ids)
                .map(|(p, &id)| {
                    let t = port_totals(c, id as usize);
                    pb::PortCounters {
                        name: p.name.clone(),
                        port_id: u32::from(id),
                        rx_packets: t.rx_packets,
                        tx_packets: t.tx_packets,
                        tx_dropped: t.tx_dropped,
                    }
                })
                .collect(),
            drops: DropReason::ALL
                .iter()
                .zip(drops.iter())
                .map(|(r, n)| pb::DropCounter {
                    reason: r.as_str().to_string(),
                    packets: *n,
                })
                .collect(),
            tunnel,
            vni,
            tables: self
                .st
                .table_stats()
                .into_iter()
                .map(|t| pb::TableCounter {
                    table: t.name.to_string(),
                    entries: t.entries,
                    limit: t.limit.unwrap_or(0),
                    has_limit: t.limit.is_some(),
                    refused: t.refused,
                })
                .collect(),
        })
    }

    fn learned(&self) -> Vec<(usize, [u8; 6], IpAddr, f64)> {
        let now = Instant::now();
        self.st
            .learned
            .iter()
            .map(|(&(s, m), &(r, at))| (s, m, r, now.duration_since(at).as_secs_f64()))
            .collect()
    }

    fn flush_learned(&mut self, segment: Option<usize>) -> u64 {
        let keys: Vec<(usize, [u8; 6])> = self
            .st
            .learned
            .keys()
            .filter(|k| segment.is_none_or(|s| s == k.0))
            .copied()
            .collect();
        for k in &keys {
            self.st.learned.remove(k);
            self.st
                .planner
                .set_learned_mac(&self.st.cfg, k.0, k.1, None);
        }
        keys.len() as u64
    }

    fn neighbors(&self) -> Vec<(IpAddr, [u8; 6])> {
        self.st
            .planner
            .neighbors()
            .iter()
            .map(|(a, m)| (*a, *m))
            .collect()
    }

    fn editor(&self) -> &Editor {
        &self.api.editor
    }

    fn learned_page(
        &mut self,
        after: Option<(usize, [u8; 6])>,
        segment: Option<usize>,
        size: usize,
    ) -> (Vec<api::LearnedMac>, bool, u64) {
        let learned = &self.st.learned;
        if after.is_none() {
            self.api.learned_keys = Snapshot::new(learned.keys().copied().collect());
        }
        let (keys, more) = self.api.learned_keys.page(
            after,
            segment.map(|s| (s, [0; 6])),
            size,
            |k| segment.is_none_or(|s| s == k.0),
            |k| learned.contains_key(k),
        );
        let now = Instant::now();
        let out = keys
            .into_iter()
            .map(|k| {
                let (r, at) = learned[&k];
                (k.0, k.1, r, now.duration_since(at).as_secs_f64())
            })
            .collect();
        let total = match segment {
            None => learned.len(),
            // Counted in the snapshot (the live table is not by segment).
            Some(s) => self.api.learned_keys.count((s, [0; 6]), |k| k.0 == s),
        };
        (out, more, total as u64)
    }

    fn neighbors_page(
        &mut self,
        after: Option<IpAddr>,
        size: usize,
    ) -> (Vec<(IpAddr, [u8; 6])>, bool, u64) {
        let live = self.st.planner.neighbors();
        if after.is_none() {
            self.api.neighbor_keys = Snapshot::new(live.keys().copied().collect());
        }
        let (keys, more) =
            self.api
                .neighbor_keys
                .page(after, None, size, |_| true, |k| live.contains_key(k));
        let out = keys.into_iter().map(|k| (k, live[&k])).collect();
        (out, more, live.len() as u64)
    }

    fn add_neighbor(&mut self, ip: IpAddr, mac: [u8; 6]) -> Result<pb::ChangeReply, Status> {
        let changed = self.st.planner.neighbor(&self.st.cfg, ip, mac);
        Ok(pb::ChangeReply {
            summary: format!(
                "neighbor {ip} {} {}",
                crate::wire::ethernet::MacDisplay(&mac),
                if changed { "set" } else { "unchanged" }
            ),
            tables_rebuilt: false,
        })
    }

    fn reload(&mut self, done: ReloadDone) {
        self.api.reload_waiters.push(done);
        self.hup.store(true, Ordering::Relaxed);
    }

    fn config_path(&self) -> String {
        self.config_path.display().to_string()
    }
}
