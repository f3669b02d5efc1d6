//! `geneve-gw probe`: what every port can offload, where the gateway puts
//! each feature (hardware or software, and why), and with `--validate`
//! whether the PMD really creates the rte_flow decap rules the gateway
//! would install. No traffic is forwarded.
//!
//! Exit status: 0 once every port was probed, whatever the rules' outcome
//! (a refused rule is a finding, reported with the PMD's message); 1 when
//! the probe itself could not run (EAL, configuration, a port that does not
//! start).
use std::path::PathBuf;

use clap::Args;

use crate::config::{self, Config, DeviceRef, PortRole};
use crate::dpdk::{self, Eal, FlowRule, Mempool, Port, PortSetup, TxOffloads};
use crate::offload::{self, DecapRule, Feature, FlowApi, Place, PortCaps, RuleTarget};

/// How `geneve-gw probe` runs.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// A gateway configuration: its eal section is used and its VNIs
    /// decide which decap rules are validated.
    pub config_path: Option<PathBuf>,
    pub validate: bool,
    pub verbose: bool,
    /// EAL arguments from the command line; they follow the file's, and a
    /// core list or a device replaces the file's (`config::EalConfig::merged_args`).
    pub eal_args: Vec<String>,
}

/// `geneve-gw probe` options.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// A gateway configuration: its eal section is used and its VNIs decide
    /// which decap rules --validate tries.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also create and destroy each rte_flow rule, printing the PMD's answer
    /// and the testpmd command line that replays it.
    #[arg(long)]
    pub validate: bool,
    /// Show the EAL's own log.
    #[arg(short, long)]
    pub verbose: bool,
    /// DPDK EAL arguments, after `--`: with a configuration file they extend
    /// its eal section, but a core list (-l, --lcores, or the EAL's -c
    /// coremask) replaces its cores and a device (-a/--allow, -b/--block,
    /// --vdev) all its devices.
    #[arg(last = true, value_name = "EAL_ARGS")]
    pub eal_args: Vec<String>,
}

/// Runs `geneve-gw probe` from its command line.
pub fn execute(a: ProbeArgs) -> Result<(), String> {
    probe(&ProbeOptions {
        config_path: a.config,
        validate: a.validate,
        verbose: a.verbose,
        eal_args: a.eal_args,
    })
}

/// The TX offloads `run` asks the underlay port for with `offload: auto`
/// (masked by what the port advertises when it is configured): probing with
/// the same request makes "enabled at configure" what `run` would get.
pub fn gateway_tx_offloads() -> TxOffloads {
    crate::dataplane::tx_offload::request(crate::config::Offload::Auto)
}

pub fn probe(opts: &ProbeOptions) -> Result<(), String> {
    let cfg = match &opts.config_path {
        Some(p) => {
            Some(config::load(p).map_err(|e| format!("{} is not valid:\n{e}", p.display()))?)
        }
        None => None,
    };
    let eal_args = match &cfg {
        Some(c) => c.eal.merged_args(&opts.eal_args),
        None => opts.eal_args.clone(),
    };
    if eal_args.is_empty() {
        return Err("no DPDK devices given: use -c FILE, or put EAL arguments after `--`, e.g. `geneve-gw probe -- --no-pci --vdev net_null0`".into());
    }
    let eal = Eal::init_for_cli(&eal_args, opts.verbose)?;
    let r = super::check_devices(&eal_args, &eal).and_then(|()| probe_with_eal(opts, cfg.as_ref()));
    drop(eal);
    r
}

/// Queues per port: what `run` would configure (one per worker core of the
/// EAL, which has the file's cores unless the command line replaced them).
fn queues_for(cfg: Option<&Config>, port: &Port) -> u16 {
    let want = cfg.map(|_| dpdk::worker_lcores().len()).unwrap_or(1).max(1);
    (want.min(usize::from(u16::MAX)) as u16).min(port.info().max_rx_queues.max(1))
}

fn probe_with_eal(opts: &ProbeOptions, cfg: Option<&Config>) -> Result<(), String> {
    let count = dpdk::port_count();
    if count == 0 {
        return Err("the EAL found no port: add devices (--vdev, -a PCI) after `--` or in the configuration's eal.devices".into());
    }
    let cache = 64;
    let size = crate::dataplane::forward::pool_size(u32::from(count), 1, 512, 512, cache);
    let pool =
        Mempool::new("probe_pool", size, cache, dpdk::DEFAULT_MBUF_BUF_SIZE, -1).map_err(|e| {
            format!("{e}; reserve hugepages (scripts/setup.sh) or add --no-huge -m 512")
        })?;
    let mut ports = Vec::new();
    for id in 0..count {
        let mut port = Port::open(id).map_err(|e| e.to_string())?;
        let q = queues_for(cfg, &port);
        let pc = PortSetup {
            rx_queues: q,
            tx_queues: q.min(port.info().max_tx_queues.max(1)),
            rx_desc: 512,
            tx_desc: 512,
            promiscuous: false,
            tx_offloads: gateway_tx_offloads(),
            ..PortSetup::default()
        };
        let applied = port
            .configure_and_start(&pc, &pool)
            .map_err(|e| e.to_string())?;
        let caps = dpdk::port_caps(&port);
        let udp_port = cfg
            .map(|c| c.vtep.udp_port)
            .unwrap_or(config::GENEVE_UDP_PORT);
        let registration = match dpdk::try_geneve_udp_port(id, udp_port) {
            Ok(()) => "accepted (removed again)".to_string(),
            Err(e) => format!("refused: {e}"),
        };
        let registration =
            format!("Geneve UDP port {udp_port} (udp_tunnel_port_add): {registration}");
        print!(
            "{}",
            render_port(&caps, applied.tx_offloads, q, &registration)
        );
        if opts.validate {
            match rules_for(cfg, &caps, q) {
                Some((rules, left)) => print!("{}", validate_rules(&caps, &rules, &left)),
                None => println!(
                    "  validate: not an underlay port in the configuration: no decap rules"
                ),
            }
        }
        ports.push(port);
    }
    // Ports close before the pool goes (their queues hold its mbufs).
    drop(ports);
    Ok(())
}

/// The rules `--validate` tries on a port: with a configuration, those the
/// gateway installs on its underlay port(s); without one, a sample rule
/// per address family, so the PMD's answer to the shape is still seen.
fn rules_for(
    cfg: Option<&Config>,
    caps: &PortCaps,
    queues: u16,
) -> Option<(Vec<DecapRule>, offload::SoftwareVnis)> {
    let Some(cfg) = cfg else {
        return Some((offload::sample_rules(caps.port), Vec::new()));
    };
    let underlay = cfg.ports.iter().any(|p| {
        p.role == PortRole::Underlay
            && match &p.device {
                DeviceRef::Name(n) => dpdk::port_id_by_name(n) == Some(caps.port),
                DeviceRef::Index(i) => *i == caps.port,
            }
    });
    underlay.then(|| offload::decap_rules(cfg, caps.port, queues))
}

fn list(v: &[&str]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(" ")
    }
}

/// One port's capabilities and decision table.
/// `registration`: the Geneve UDP port answer, one line.
pub fn render_port(caps: &PortCaps, tx_enabled: u64, queues: u16, registration: &str) -> String {
    let mut s = format!(
        "port {} {} (driver {}), {} queue(s)\n",
        caps.port, caps.name, caps.driver, queues
    );
    s.push_str(&format!("  TX offloads:  {}\n", list(&caps.tx.names())));
    s.push_str(&format!("  RX offloads:  {}\n", list(&caps.rx.names())));
    s.push_str(&format!(
        "  TX offloads enabled at configure: {}\n",
        list(&dpdk::tx_caps(tx_enabled).names())
    ));
    let ptypes: Vec<&str> = caps.ptypes.iter().map(String::as_str).collect();
    s.push_str(&format!("  packet types: {}\n", list(&ptypes)));
    s.push_str(&format!(
        "  Geneve packet type: {}\n",
        if caps.geneve_ptype { "yes" } else { "no" }
    ));
    s.push_str(&format!(
        "  rte_flow API: {}\n",
        match &caps.flow_api {
            FlowApi::Available => "available".to_string(),
            FlowApi::Unavailable(why) => format!("unavailable ({why})"),
        }
    ));
    s.push_str(&format!("  {registration}\n"));
    s.push_str("  decisions (offload on):\n");
    s.push_str(&offload::decide(caps, true).render("    "));
    s
}

fn target_str(t: &RuleTarget) -> String {
    match t {
        RuleTarget::Queue(q) => format!("queue {q}"),
        RuleTarget::InnerRss(qs) => format!("inner RSS over {} queues", qs.len()),
    }
}

/// Validates, then creates and destroys, every rule; one block per rule
/// with the PMD's answers and the testpmd commands that replay it.
fn validate_rules(caps: &PortCaps, rules: &[DecapRule], left: &[(u32, &str)]) -> String {
    let mut s = String::new();
    let decided = offload::decide(caps, true);
    let hw = decided.place(Feature::FlowDecap) == Place::Hardware;
    s.push_str(&format!(
        "  validate: {} decap rule(s) on port {}{}\n",
        rules.len(),
        caps.port,
        if hw {
            ""
        } else {
            " (decided software: the gateway would not install them; tried to show the PMD's answer)"
        }
    ));
    for (vni, why) in left {
        s.push_str(&format!("    VNI {vni}: software, {why}\n"));
    }
    let mut created = 0;
    for r in rules {
        s.push_str(&format!(
            "    rule VNI {} to {} udp {} -> raw_decap, mark {}, {}\n",
            r.vni,
            r.vtep,
            r.udp_port,
            r.mark(),
            target_str(&r.target)
        ));
        let rule = FlowRule::decap(r);
        match rule.validate() {
            Ok(()) => s.push_str("      validate: OK\n"),
            Err(e) => s.push_str(&format!("      validate: FAILED: {e}\n")),
        }
        // Validation alone proves little: create, then destroy at once.
        match rule.create() {
            Ok(flow) => match flow.destroy() {
                Ok(()) => {
                    created += 1;
                    s.push_str("      create: OK, destroy: OK\n");
                }
                Err(e) => s.push_str(&format!("      create: OK, destroy: FAILED: {e}\n")),
            },
            Err(e) => s.push_str(&format!("      create: FAILED: {e}\n")),
        }
        for line in r.testpmd() {
            s.push_str(&format!("      testpmd> {line}\n"));
        }
    }
    s.push_str(&format!(
        "  validate: {created} of {} rule(s) created and destroyed\n",
        rules.len()
    ));
    s
}

/// `run`'s offload side: the decision table of every port, logged once at
/// start, and the decap rules on the underlay port(s) where rte_flow decap
/// was decided hardware (mlx5 only), removed at shutdown and re-created on
/// reload. A rule the PMD refuses is logged and its VNI stays in software.
pub struct RunOffload {
    hw_ports: Vec<u16>,
    queues: u16,
    flows: Vec<dpdk::Flow>,
}

impl RunOffload {
    /// `ports[i]` is `cfg.ports[i]`, started with `queues` RX queues.
    pub fn start(cfg: &Config, ports: &[Port], queues: u16, offload_enabled: bool) -> RunOffload {
        let mut hw_ports = Vec::new();
        for (p, port) in cfg.ports.iter().zip(ports) {
            let caps = dpdk::port_caps(port);
            let table = offload::decide(&caps, offload_enabled);
            eprint!(
                "port {} offloads (driver {}):\n{}",
                p.name,
                caps.driver,
                table.render("  ")
            );
            if p.role == PortRole::Underlay && table.place(Feature::FlowDecap) == Place::Hardware {
                hw_ports.push(port.id());
            }
        }
        let mut r = RunOffload {
            hw_ports,
            queues,
            flows: Vec::new(),
        };
        r.install(cfg);
        r
    }

    fn install(&mut self, cfg: &Config) {
        for &port in &self.hw_ports {
            let (rules, left) = offload::decap_rules(cfg, port, self.queues);
            for (vni, why) in left {
                eprintln!("port {port}: VNI {vni} decapsulated in software: {why}");
            }
            let before = self.flows.len();
            for r in &rules {
                match FlowRule::decap(r).create() {
                    Ok(f) => self.flows.push(f),
                    Err(e) => eprintln!(
                        "port {port}: decap rule for VNI {} to {} not created, stays in software: {e}",
                        r.vni, r.vtep
                    ),
                }
            }
            eprintln!(
                "port {port}: {} of {} hardware decap rule(s) installed",
                self.flows.len() - before,
                rules.len()
            );
        }
    }

    /// Replaces the rules with those of the reloaded configuration.
    pub fn reload(&mut self, cfg: &Config) {
        if self.hw_ports.is_empty() {
            return;
        }
        self.remove();
        self.install(cfg);
    }

    /// Removes every installed rule (before the ports stop).
    pub fn remove(&mut self) {
        for f in self.flows.drain(..) {
            if let Err(e) = f.destroy() {
                eprintln!("a hardware decap rule could not be removed: {e}");
            }
        }
    }
}
