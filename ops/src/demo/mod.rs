//! `renkei demo`: a whole federation of 富山県 on this machine, in one command.
//!
//! It starts a 3-replica prefecture cluster (`renkei-prefecture`) and one municipal node
//! (`renkei-node`) per 二次医療圏 hosting that 圏域's municipalities, all on loopback port 0 with
//! their data under one folder, each configured by a TOML file written from its binary's own
//! configuration type (`federation::config::RawConfig`, `node::config::RawConfig`); forms the
//! cluster through `ClusterAdmin` (initialise replica 1, add 2 and 3 as learners, make all three
//! voters); sets the real 二次医療圏; records a fiscal year of programme activity through each
//! node's `MunicipalProgram` service ([`activity`]); waits until the prefecture has acknowledged
//! every fact each node produced; and reports the national-style tally (prefecture and per
//! 二次医療圏), the (ク) designation candidates with their reasons and the gap report, and the
//! survey exports it writes into the folder.
//!
//! Every child process is stopped with SIGTERM at the end, on any error and on Ctrl-C (see
//! [`crate::local`]).

pub mod activity;
mod report;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use renkei_federation::config::{PrefectureEntry, RawCaller, RawConfig as ReplicaFile};
use renkei_node::config::{CodeEntry, RawConfig as NodeFile, RawStaff, RawSync};
use renkei_proto::tls::TlsFiles;
use renkei_proto::v1::{self, ClusterAdminClient, MunicipalProgramClient, NodeSyncClient};
use tempfile::TempDir;

use crate::cli::DemoArgs;
use crate::failure::Failure;
use crate::local::{Processes, Stopped, sibling_binary};
use crate::rpc::{self, Auth, ClusterClient, authed, bearer};

use activity::Municipality;

/// The real 二次医療圏 of 富山県 (第8次医療計画), from the federation's reference data.
const TOYAMA_AREAS: &str =
    include_str!("../../../federation/data/toyama_secondary_medical_areas.csv");
/// 富山県.
const PREFECTURE: &str = "16";
/// How long the prefecture may take to acknowledge every fact before the demo gives up.
const SYNC_PATIENCE: Duration = Duration::from_secs(60);
/// How long the cluster may take to agree on a leader.
const LEADER_PATIENCE: Duration = Duration::from_secs(20);
/// The pause between two looks at a condition being waited for.
const POLL: Duration = Duration::from_millis(50);

/// A municipal node of the demo: one per 二次医療圏.
struct NodeSpec {
    /// e.g. `node-niikawa`.
    name: String,
    area_name: String,
    municipalities: Vec<Municipality>,
    token: String,
    /// The `[[staff]]` token of the node's clerk (role admin: records, reads, takes backups):
    /// the demo's own calls to the node and the workspace's sign-in.
    clerk_token: String,
}

/// A started node.
struct RunningNode {
    spec: NodeSpec,
    address: String,
}

/// Where the demo keeps its data: a folder kept at the end (the one given with `--dir`, or a
/// temporary one with `--keep`), or a temporary one removed at the end — also when the demo is
/// interrupted, after its processes have stopped.
enum Folder {
    Kept(PathBuf),
    Temporary(TempDir),
}

impl Folder {
    fn open(args: &DemoArgs) -> Result<Self, Failure> {
        let Some(dir) = &args.dir else {
            let temporary = tempfile::Builder::new()
                .prefix("renkei-demo-")
                .tempdir()
                .map_err(|e| Failure::runtime(format!("cannot create a temporary folder: {e}")))?;
            return Ok(if args.keep {
                Folder::Kept(temporary.keep())
            } else {
                Folder::Temporary(temporary)
            });
        };
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(|e| {
                Failure::usage(format!("--dir {}: cannot read it: {e}", dir.display()))
            })?;
            if entries.next().is_some() {
                return Err(Failure::usage(format!(
                    "--dir {}: the folder is not empty; give a new or empty folder",
                    dir.display()
                )));
            }
        } else {
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::usage(format!("--dir {}: cannot create it: {e}", dir.display()))
            })?;
        }
        Ok(Folder::Kept(
            dir.canonicalize().unwrap_or_else(|_| dir.clone()),
        ))
    }

    fn path(&self) -> &Path {
        match self {
            Folder::Kept(p) => p,
            Folder::Temporary(t) => t.path(),
        }
    }

    /// Returns a note on what becomes of the folder at the end.
    fn note(&self) -> String {
        match self {
            Folder::Kept(p) => format!("data, logs and exports kept in {}", p.display()),
            Folder::Temporary(t) => format!(
                "temporary folder {} removed at exit (pass --keep or --dir DIR to keep it)",
                t.path().display()
            ),
        }
    }
}

/// Progress on stderr: one line per step, a bar where the amount of work is known. Hidden when
/// stderr is not a terminal; the finished steps are then printed as plain lines.
struct Progress {
    multi: MultiProgress,
    started: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            started: Instant::now(),
        }
    }

    fn step(&self, message: &str, total: Option<u64>) -> Step {
        let bar = match total {
            Some(n) => {
                let bar = self.multi.add(ProgressBar::new(n));
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg:<44} [{bar:30}] {pos}/{len}")
                        .map(|s| s.progress_chars("=> "))
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            }
            None => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        };
        bar.enable_steady_tick(Duration::from_millis(100));
        bar.set_message(message.to_owned());
        Step {
            bar,
            message: message.to_owned(),
            started: Instant::now(),
            hidden: self.multi.is_hidden(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// One step of the progress display.
struct Step {
    bar: ProgressBar,
    message: String,
    started: Instant,
    hidden: bool,
}

impl Step {
    fn inc(&self) {
        self.bar.inc(1);
    }

    fn done(self, detail: &str) {
        let line = format!(
            "✓ {} — {detail} ({:.2} s)",
            self.message,
            self.started.elapsed().as_secs_f64()
        );
        self.bar.set_style(
            ProgressStyle::with_template("{msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        self.bar.finish_with_message(line.clone());
        if self.hidden {
            eprintln!("{line}");
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.abandon();
        }
    }
}

/// Runs `renkei demo`.
pub async fn run(args: DemoArgs, json: bool) -> Result<(), Failure> {
    let prefecture_bin = sibling_binary("renkei-prefecture")?;
    let node_bin = sibling_binary("renkei-node")?;
    // Declared before the processes, so that it is removed only after they have stopped.
    let folder = Folder::open(&args)?;
    let progress = Progress::new();
    let mut processes = Processes::new();
    let outcome = federation(
        &mut processes,
        &progress,
        folder.path(),
        &prefecture_bin,
        &node_bin,
    )
    .await;
    if let (Ok(report), true) = (&outcome, args.serve) {
        print_report(report, json);
        print_consoles(report, json);
        eprintln!(
            "the federation keeps running (prefecture cluster {}, mTLS: add --ca {} to renkei \
             commands); Ctrl-C stops it",
            report.replicas.join(", "),
            folder.path().join("certs").join("ca.pem").display()
        );
        // Returns only if a child dies; Ctrl-C ends the command through `main`.
        return Err(watch(&mut processes).await);
    }
    let step = progress.step("stopping every process (SIGTERM)", None);
    let stopped = processes.stop_all().await;
    let unclean: Vec<&Stopped> = stopped.iter().filter(|s| !s.clean()).collect();
    step.done(&format!(
        "{} stopped, {} cleanly",
        stopped.len(),
        stopped.len() - unclean.len()
    ));
    drop(progress);
    let mut report = outcome?;
    report.stopped = stopped
        .iter()
        .map(|s| (s.name.clone(), s.clean()))
        .collect();
    report.folder_note = folder.note();
    print_report(&report, json);
    if let Some(s) = unclean.first() {
        return Err(Failure::runtime(format!(
            "{} did not exit cleanly after SIGTERM ({:?})",
            s.name, s.status
        )));
    }
    Ok(())
}

fn print_report(report: &report::Report, json: bool) {
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
}

/// Prints where the prefecture consoles and the nodes' workspaces are served and the tokens to
/// sign in with (`--serve`).
fn print_consoles(report: &report::Report, json: bool) {
    let mut text = String::from(
        "\n■ 都道府県コンソール（ブラウザで開く; 開発用の証明書なので警告が出ます）\n",
    );
    for (i, url) in report.consoles.iter().enumerate() {
        text.push_str(&format!("  replica {}: {url}\n", i + 1));
    }
    text.push_str(&format!(
        "  サインイン用トークン（管理者）: {}\n",
        report.officer_token
    ));
    text.push_str("\n■ 市区町村ワークスペース（ノードごと; 職員トークン（管理者）でサインイン）\n");
    for (name, url, token) in &report.workspaces {
        text.push_str(&format!("  {name}: {url}  トークン: {token}\n"));
    }
    if json {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

/// Waits until a log names the URL of the web pages the line `marker` announces (`serving the
/// console` of a replica, `serving the workspace` of a node), and returns it.
async fn logged_url(log: &Path, marker: &str) -> Result<String, Failure> {
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(url) = text
            .lines()
            .filter(|l| l.contains(marker))
            .find_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("url=")))
        {
            return Ok(url.to_owned());
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err(Failure::runtime(format!(
                "{} names no url ({marker}) after 20 s",
                log.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Watches that no child dies on its own; returns the failure when one does.
async fn watch(processes: &mut Processes) -> Failure {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let exited = processes.exited();
        if !exited.is_empty() {
            return Failure::runtime(format!("exited on its own: {}", exited.join(", ")));
        }
    }
}

/// A random token for a caller of the demo's cluster.
fn token(name: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(name.as_bytes());
    let a = hasher.finish();
    hasher.write_u64(a);
    format!("{name}-{a:016x}{:016x}", hasher.finish())
}

/// The romanised name of a 二次医療圏 of 富山県, for folder and caller names.
fn romaji(area_id: &str) -> String {
    match area_id {
        "16-1" => "niikawa".to_owned(),
        "16-2" => "toyama".to_owned(),
        "16-3" => "takaoka".to_owned(),
        "16-4" => "tonami".to_owned(),
        other => format!(
            "area-{}",
            other.replace(|c: char| !c.is_ascii_alphanumeric(), "")
        ),
    }
}

/// One node per 二次医療圏, in the order of the regions file.
fn node_specs(all: &[Municipality]) -> Vec<NodeSpec> {
    let mut specs: Vec<NodeSpec> = Vec::new();
    for m in all {
        match specs
            .iter_mut()
            .find(|s| s.municipalities[0].area_id == m.area_id)
        {
            Some(spec) => spec.municipalities.push(m.clone()),
            None => {
                let name = format!("node-{}", romaji(&m.area_id));
                specs.push(NodeSpec {
                    token: token(&name),
                    clerk_token: token(&format!("{name}-clerk")),
                    name,
                    area_name: m.area_name.clone(),
                    municipalities: vec![m.clone()],
                });
            }
        }
    }
    specs
}

/// A configuration file's text, written from its configuration type (what the binary reads it
/// into), so that every value is quoted and escaped as TOML wants it.
fn toml_text(config: &impl serde::Serialize) -> Result<String, Failure> {
    toml::to_string(config).map_err(|e| Failure::runtime(format!("cannot write TOML: {e}")))
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))
}

fn mkdir(path: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(path)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", path.display())))
}

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

/// The demo's certificates: a CA, one certificate per replica and per node, in `certs/`.
struct Pki {
    dir: PathBuf,
    ca_pem: String,
}

impl Pki {
    fn create(dir: &Path, specs: &[NodeSpec]) -> Result<Self, Failure> {
        use renkei_proto::tls::{DevCa, Subject, local_hosts};
        let ca = DevCa::generate("renkei demo CA").map_err(Failure::runtime)?;
        crate::certs::write_ca(dir, &ca)?;
        let prefecture: renkei_proto::PrefectureCode =
            PREFECTURE.parse().map_err(Failure::runtime)?;
        for node_id in 1..=3u64 {
            let subject = Subject::Replica {
                prefecture,
                node_id,
            };
            let issued = ca
                .issue(&subject, &local_hosts(), 30)
                .map_err(Failure::runtime)?;
            crate::certs::write_issued(dir, &format!("replica-{PREFECTURE}-{node_id}"), &issued)?;
        }
        for spec in specs {
            let municipalities = spec
                .municipalities
                .iter()
                .map(|m| m.code.parse())
                .collect::<Result<Vec<_>, _>>()
                .map_err(Failure::runtime)?;
            let issued = ca
                .issue(&Subject::Node { municipalities }, &local_hosts(), 30)
                .map_err(Failure::runtime)?;
            crate::certs::write_issued(dir, &Self::node_base(spec), &issued)?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            ca_pem: ca.cert_pem().to_owned(),
        })
    }

    /// e.g. `node-niikawa`.
    fn node_base(spec: &NodeSpec) -> String {
        spec.name.clone()
    }

    /// The `[tls]` table of the process whose certificate and key are `<base>.pem`, `<base>.key`.
    fn files(&self, base: &str) -> TlsFiles {
        TlsFiles {
            ca: self.dir.join("ca.pem"),
            cert: self.dir.join(format!("{base}.pem")),
            key: self.dir.join(format!("{base}.key")),
        }
    }
}

/// Starts the federation, loads it, and gathers the report.
async fn federation(
    processes: &mut Processes,
    progress: &Progress,
    root: &Path,
    prefecture_bin: &Path,
    node_bin: &Path,
) -> Result<report::Report, Failure> {
    let all = activity::municipalities(TOYAMA_AREAS);
    let specs = node_specs(&all);
    let officer_token = token("prefecture-office");
    let officer = bearer(Some(&officer_token))?;

    // Mutual TLS everywhere, with a CA of the demo's own.
    let step = progress.step("creating a development CA and certificates (mTLS)", None);
    let certs = root.join("certs");
    let pki = Pki::create(&certs, &specs)?;
    rpc::use_tls(
        renkei_proto::tls::ClientTls::verify_with(pki.ca_pem.as_bytes())
            .map_err(|e| Failure::runtime(format!("the demo CA: {e}")))?,
    );
    step.done(&certs.display().to_string());

    // The prefecture cluster: three replicas, formed through ClusterAdmin.
    let step = progress.step("starting the prefecture cluster (3 replicas)", Some(3));
    let pref_dir = root.join("prefecture");
    mkdir(&pref_dir)?;
    let mut callers: Vec<RawCaller> = specs
        .iter()
        .map(|spec| RawCaller {
            name: Some(spec.name.clone()),
            token: Some(spec.token.clone()),
            municipalities: spec.municipalities.iter().map(|m| m.code.clone()).collect(),
            ..RawCaller::default()
        })
        .collect();
    callers.push(RawCaller {
        name: Some("prefecture-office".to_owned()),
        token: Some(officer_token.clone()),
        role: Some("admin".to_owned()),
        ..RawCaller::default()
    });
    let mut replicas = Vec::new();
    for id in 1..=3u64 {
        let config = pref_dir.join(format!("replica-{id}.toml"));
        let replica = ReplicaFile {
            node_id: Some(id),
            listen: Some("127.0.0.1:0".to_owned()),
            web_listen: Some("127.0.0.1:0".to_owned()),
            data_dir: Some(pref_dir.join(format!("replica-{id}"))),
            prefecture: Some(PrefectureEntry::Text(PREFECTURE.to_owned())),
            tls: Some(pki.files(&format!("replica-{PREFECTURE}-{id}"))),
            callers: callers.clone(),
            ..ReplicaFile::default()
        };
        write(&config, &toml_text(&replica)?)?;
        let address = processes
            .start(
                &format!("prefecture replica {id}"),
                prefecture_bin,
                &[os("--config"), config.into_os_string()],
                &pref_dir.join(format!("replica-{id}.log")),
            )
            .await?;
        replicas.push(address);
        step.inc();
    }
    step.done(&replicas.join(", "));
    let mut consoles = Vec::new();
    for id in 1..=3u64 {
        consoles.push(
            logged_url(
                &pref_dir.join(format!("replica-{id}.log")),
                "serving the console",
            )
            .await?,
        );
    }

    let step = progress.step(
        "forming the cluster (initialise, add learners, promote)",
        None,
    );
    let leader = form_cluster(&replicas, &officer).await?;
    step.done(&format!("3 voters, leader replica {leader}"));
    // Survey and federation calls go to the leader first.
    let mut ordered = replicas.clone();
    ordered.rotate_left((leader - 1) as usize);
    let mut cluster = ClusterClient::new(ordered);

    // The 二次医療圏 and the unified form, before any municipality reports.
    let step = progress.step(
        "setting the 二次医療圏 and publishing the unified form",
        None,
    );
    let regions = set_regions(&mut cluster, &officer).await?;
    publish_form(&mut cluster, &officer).await?;
    step.done(&format!("{} regions (第8次医療計画, FY2024–2029)", regions));

    // One node per 二次医療圏.
    let step = progress.step("starting the municipal nodes", Some(specs.len() as u64));
    let mut nodes = Vec::new();
    let mut workspaces = Vec::new();
    for spec in specs {
        let dir = root.join(&spec.name);
        mkdir(&dir)?;
        let config = dir.join("node.toml");
        let node = NodeFile {
            listen: Some("127.0.0.1:0".to_owned()),
            web_listen: Some("127.0.0.1:0".to_owned()),
            data_dir: Some(dir.join("data")),
            municipalities: spec
                .municipalities
                .iter()
                .map(|m| CodeEntry::Text(m.code.clone()))
                .collect(),
            tls: Some(pki.files(&Pki::node_base(&spec))),
            sync: Some(RawSync {
                prefecture: replicas.clone(),
                token: Some(spec.token.clone()),
                pull_interval_ms: Some(500),
                ..RawSync::default()
            }),
            staff: vec![RawStaff {
                name: Some("demo clerk".to_owned()),
                token: Some(spec.clerk_token.clone()),
                role: Some("admin".to_owned()),
                ..RawStaff::default()
            }],
            ..NodeFile::default()
        };
        write(&config, &toml_text(&node)?)?;
        let address = processes
            .start(
                &format!("municipal node {} ({})", spec.name, spec.area_name),
                node_bin,
                &[os("--config"), config.into_os_string()],
                &dir.join("node.log"),
            )
            .await?;
        let workspace = logged_url(&dir.join("node.log"), "serving the workspace").await?;
        workspaces.push((spec.name.clone(), workspace, spec.clerk_token.clone()));
        nodes.push(RunningNode { spec, address });
        step.inc();
    }
    step.done(&format!(
        "{} nodes hosting {} municipalities",
        nodes.len(),
        all.len()
    ));

    // A fiscal year of activity, the four nodes in parallel.
    let plans: Vec<Vec<(String, activity::ProgramCommand)>> = nodes
        .iter()
        .map(|n| {
            n.spec
                .municipalities
                .iter()
                .flat_map(|m| {
                    activity::plan(m, &all)
                        .into_iter()
                        .map(|a| (m.name.clone(), a))
                })
                .collect()
        })
        .collect();
    let total: usize = plans.iter().map(Vec::len).sum();
    let step = progress.step(
        "recording 令和6年度 programme activity (MunicipalProgram)",
        Some(total as u64),
    );
    let loads = nodes.iter().zip(plans).map(|(node, plan)| {
        let step = &step;
        async move {
            let channel = rpc::connect(&node.address).await?;
            let mut client = MunicipalProgramClient::new(channel);
            let clerk = bearer(Some(&node.spec.clerk_token))?;
            for (name, action) in plan {
                let what = action.describe();
                action.send(&mut client, &clerk).await.map_err(|status| {
                    Failure::runtime(format!(
                        "{} refused {name}'s {what}: {} ({:?})",
                        node.spec.name,
                        status.message(),
                        status.code()
                    ))
                })?;
                step.inc();
            }
            Ok::<(), Failure>(())
        }
    });
    futures::future::try_join_all(loads).await?;
    step.done(&format!("{total} commands"));

    // The prefecture's own (ク) work: a 保健所 meeting for 砺波.
    record_prefecture_meeting(&mut cluster, &officer).await?;

    // Sync: every fact a node produced, acknowledged by the prefecture.
    let facts = wait_for_sync(progress, processes, &nodes, &mut cluster, &officer).await?;

    // The prefecture officer decides designations for some 圏域 from the candidates.
    let step = progress.step("reading designations and recording decisions", None);
    let before = designations(&mut cluster, &officer).await?;
    let decided = decide(&mut cluster, &officer, &before).await?;
    let designations = designations(&mut cluster, &officer).await?;
    step.done(&format!("{decided} decisions recorded"));

    let step = progress.step("tallying and exporting the survey", Some(5));
    let tally_request = v1::GetTallyRequest {
        fiscal_year: i32::from(activity::FISCAL_YEAR),
        as_of: activity::AS_OF.to_owned(),
        known_at: None,
        source: v1::TallySource::Live as i32,
        consistency: v1::ReadConsistency::Linearizable as i32,
    };
    let tally = {
        let auth = officer.clone();
        let request = tally_request.clone();
        cluster
            .call("GetTally", move |channel| {
                let mut client = v1::PrefectureSurveyClient::new(channel);
                let request = authed(&auth, request.clone());
                async move { client.get_tally(request).await }
            })
            .await?
    };
    let cycle_request = v1::GetCycleTallyRequest {
        fiscal_year: i32::from(activity::FISCAL_YEAR),
        region_kind: String::new(),
        consistency: v1::ReadConsistency::Linearizable as i32,
    };
    let cycle = {
        let auth = officer.clone();
        let request = cycle_request.clone();
        cluster
            .call("GetCycleTally", move |channel| {
                let mut client = v1::PrefectureSurveyClient::new(channel);
                let request = authed(&auth, request.clone());
                async move { client.get_cycle_tally(request).await }
            })
            .await?
    };
    step.inc();
    let export_dir = root.join("exports");
    mkdir(&export_dir)?;
    let mut exports = Vec::new();
    for (format, shift_jis) in [
        (v1::ExportFormat::SummaryCsv, false),
        (v1::ExportFormat::DetailCsv, false),
        (v1::ExportFormat::Xlsx, false),
        (v1::ExportFormat::Json, false),
    ] {
        let request = v1::ExportSurveyRequest {
            tally: Some(tally_request.clone()),
            format: format as i32,
            shift_jis,
        };
        let auth = officer.clone();
        let reply = cluster
            .call("ExportSurvey", move |channel| {
                let mut client = v1::PrefectureSurveyClient::new(channel)
                    .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES);
                let request = authed(&auth, request.clone());
                async move { client.export_survey(request).await }
            })
            .await?;
        let path = export_dir.join(&reply.file_name);
        std::fs::write(&path, &reply.content)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
        exports.push(path);
        step.inc();
    }
    // The cycle tally beside the survey: its summary CSV and the JSON the national merge reads.
    for format in [v1::ExportFormat::SummaryCsv, v1::ExportFormat::Json] {
        let request = v1::ExportCycleTallyRequest {
            tally: Some(cycle_request.clone()),
            format: format as i32,
        };
        let auth = officer.clone();
        let reply = cluster
            .call("ExportCycleTally", move |channel| {
                let mut client = v1::PrefectureSurveyClient::new(channel)
                    .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES);
                let request = authed(&auth, request.clone());
                async move { client.export_cycle_tally(request).await }
            })
            .await?;
        let path = export_dir.join(&reply.file_name);
        std::fs::write(&path, &reply.content)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
        exports.push(path);
    }
    step.done(&format!(
        "{} files in {}",
        exports.len(),
        export_dir.display()
    ));

    Ok(report::Report {
        tally,
        cycle,
        designations,
        replicas,
        leader,
        nodes: nodes
            .iter()
            .map(|n| {
                (
                    n.spec.name.clone(),
                    n.address.clone(),
                    n.spec
                        .municipalities
                        .iter()
                        .map(|m| m.name.clone())
                        .collect(),
                )
            })
            .collect(),
        facts,
        commands: total,
        exports,
        elapsed: progress.elapsed(),
        stopped: Vec::new(),
        folder_note: String::new(),
        consoles,
        officer_token,
        workspaces,
    })
}

/// Initialises replica 1 alone, adds 2 and 3 as learners, makes all three voters, and waits until
/// every replica names the same leader. Returns the leader's id.
async fn form_cluster(replicas: &[String], admin: &Auth) -> Result<u64, Failure> {
    let mut first = ClusterAdminClient::new(rpc::connect(&replicas[0]).await?);
    first
        .initialize(authed(
            admin,
            v1::InitializeRequest {
                members: vec![v1::ClusterMember {
                    node_id: 1,
                    address: replicas[0].clone(),
                }],
            },
        ))
        .await
        .map_err(|s| Failure::from_status("ClusterAdmin.Initialize", &s))?;
    wait_for_leader(&replicas[..1], 1, admin).await?;
    let mut cluster = ClusterClient::new(replicas.to_vec());
    for (i, address) in replicas.iter().enumerate().skip(1) {
        let member = v1::ClusterMember {
            node_id: i as u64 + 1,
            address: address.clone(),
        };
        cluster
            .call("ClusterAdmin.AddLearner", move |channel| {
                let mut client = ClusterAdminClient::new(channel);
                let request = authed(admin, member.clone());
                async move { client.add_learner(request).await }
            })
            .await?;
    }
    let voters: Vec<u64> = (1..=replicas.len() as u64).collect();
    cluster
        .call("ClusterAdmin.ChangeMembership", move |channel| {
            let mut client = ClusterAdminClient::new(channel);
            let request = authed(
                admin,
                v1::ChangeMembershipRequest {
                    voters: voters.clone(),
                },
            );
            async move { client.change_membership(request).await }
        })
        .await?;
    wait_for_leader(replicas, replicas.len(), admin).await
}

/// Waits until every replica at `addresses` names the same leader, which says it leads, with
/// `voters` voters.
async fn wait_for_leader(
    addresses: &[String],
    voters: usize,
    admin: &Auth,
) -> Result<u64, Failure> {
    let started = Instant::now();
    let mut clients = Vec::new();
    for a in addresses {
        clients.push(ClusterAdminClient::new(rpc::connect(a).await?));
    }
    loop {
        let mut views = Vec::new();
        for client in &mut clients {
            if let Ok(reply) = client.status(authed(admin, v1::StatusRequest {})).await {
                views.push(reply.into_inner());
            }
        }
        if views.len() == clients.len() {
            let leader = views[0].leader_id;
            let agreed = leader != 0
                && views
                    .iter()
                    .all(|v| v.leader_id == leader && v.voters.len() == voters && !v.joint);
            if agreed
                && views
                    .iter()
                    .any(|v| v.node_id == leader && v.state == "Leader")
            {
                return Ok(leader);
            }
        }
        if started.elapsed() > LEADER_PATIENCE {
            return Err(Failure::runtime(format!(
                "the prefecture replicas did not agree on a leader within {LEADER_PATIENCE:?}: {}",
                views
                    .iter()
                    .map(|v| format!("replica {} {} (leader {})", v.node_id, v.state, v.leader_id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn set_regions(cluster: &mut ClusterClient, officer: &Auth) -> Result<usize, Failure> {
    let auth = officer.clone();
    let view = cluster
        .call("PrefectureSurvey.SetRegions", move |channel| {
            let mut client = v1::PrefectureSurveyClient::new(channel);
            let request = authed(
                &auth,
                v1::SetRegionsRequest {
                    request_id: "demo-regions-8th-plan".into(),
                    kind: "secondary_medical_area".into(),
                    first_fiscal_year: 2024,
                    last_fiscal_year: 2029,
                    csv: TOYAMA_AREAS.into(),
                },
            );
            async move { client.set_regions(request).await }
        })
        .await?;
    Ok(view.regions.len())
}

async fn publish(
    cluster: &mut ClusterClient,
    officer: &Auth,
    request_id: String,
    kind: v1::DownItemKind,
) -> Result<(), Failure> {
    let auth = officer.clone();
    cluster
        .call("Federation.PublishDown", move |channel| {
            let mut client = v1::FederationClient::new(channel);
            let request = authed(
                &auth,
                v1::PublishDownRequest {
                    request_id: request_id.clone(),
                    item: Some(v1::DownItem {
                        kind: Some(kind.clone()),
                        ..Default::default()
                    }),
                },
            );
            async move { client.publish_down(request).await }
        })
        .await?;
    Ok(())
}

async fn publish_form(cluster: &mut ClusterClient, officer: &Auth) -> Result<(), Failure> {
    let field = |name: &str, r#type: &str, required: bool| v1::FormField {
        name: name.into(),
        r#type: r#type.into(),
        required,
        choices: vec![],
    };
    let form = v1::UnifiedFormVersion {
        form_id: activity::FORM_ID.into(),
        name: activity::FORM_NAME.into(),
        version: activity::FORM_VERSION.into(),
        effective_from: "2024-04-01".into(),
        fields: vec![
            field("入院日", "date", true),
            field("退院予定日", "date", true),
            field("担当介護支援専門員", "text", false),
            field("要介護度", "text", false),
        ],
    };
    publish(
        cluster,
        officer,
        "demo-form-discharge-liaison-2024.1".into(),
        v1::DownItemKind::Form(form),
    )
    .await
}

async fn record_prefecture_meeting(
    cluster: &mut ClusterClient,
    officer: &Auth,
) -> Result<(), Failure> {
    let auth = officer.clone();
    cluster
        .call("PrefectureSurvey.RecordWideAreaMeeting", move |channel| {
            let mut client = v1::PrefectureSurveyClient::new(channel);
            let request = authed(
                &auth,
                v1::RecordWideAreaMeetingRequest {
                    request_id: "demo-tonami-meeting-2024".into(),
                    id: "tonami-2024-1".into(),
                    title: "砺波圏域 在宅医療・介護連携推進会議（砺波厚生センター）".into(),
                    held_by: "health_center".into(),
                    region: "16-4".into(),
                    on: "2024-07-10".into(),
                    municipalities: vec!["162086".into(), "162108".into()],
                },
            );
            async move { client.record_wide_area_meeting(request).await }
        })
        .await?;
    Ok(())
}

/// Waits until the prefecture has acknowledged every fact each node has produced; returns the
/// number of facts.
async fn wait_for_sync(
    progress: &Progress,
    processes: &mut Processes,
    nodes: &[RunningNode],
    cluster: &mut ClusterClient,
    officer: &Auth,
) -> Result<u64, Failure> {
    let mut sync_clients = Vec::new();
    for n in nodes {
        sync_clients.push((
            NodeSyncClient::new(rpc::connect(&n.address).await?),
            bearer(Some(&n.spec.clerk_token))?,
        ));
    }
    let mut produced: Vec<(String, u64)> = Vec::new();
    for (client, clerk) in &mut sync_clients {
        let state = client
            .get_sync_state(authed(
                clerk,
                v1::GetSyncStateRequest {
                    municipalities: vec![],
                },
            ))
            .await
            .map_err(|s| Failure::from_status("NodeSync.GetSyncState", &s))?
            .into_inner();
        produced.extend(
            state
                .municipalities
                .into_iter()
                .map(|m| (m.municipality, m.produced)),
        );
    }
    let total: u64 = produced.iter().map(|(_, p)| p).sum();
    let step = progress.step(
        "syncing facts to the prefecture (acknowledged / produced)",
        Some(total),
    );
    let started = Instant::now();
    loop {
        let mut acknowledged = 0;
        let mut behind = Vec::new();
        for n in nodes {
            let auth = officer.clone();
            let codes: Vec<String> = n
                .spec
                .municipalities
                .iter()
                .map(|m| m.code.clone())
                .collect();
            let reply = cluster
                .call("Federation.GetAcknowledged", move |channel| {
                    let mut client = v1::FederationClient::new(channel);
                    let request = authed(
                        &auth,
                        v1::GetAcknowledgedRequest {
                            municipalities: codes.clone(),
                            consistency: v1::ReadConsistency::Linearizable as i32,
                        },
                    );
                    async move { client.get_acknowledged(request).await }
                })
                .await?;
            for a in reply.acknowledged {
                let want = produced
                    .iter()
                    .find(|(m, _)| *m == a.municipality)
                    .map_or(0, |(_, p)| *p);
                acknowledged += a.acknowledged.min(want);
                if a.acknowledged < want {
                    behind.push(format!("{} {}/{}", a.municipality, a.acknowledged, want));
                }
            }
        }
        step.bar.set_position(acknowledged);
        if behind.is_empty() {
            step.done(&format!(
                "{total} facts from {} municipalities",
                produced.len()
            ));
            return Ok(total);
        }
        let exited = processes.exited();
        if !exited.is_empty() {
            return Err(Failure::runtime(format!(
                "exited during sync: {}",
                exited.join(", ")
            )));
        }
        if started.elapsed() > SYNC_PATIENCE {
            return Err(Failure::runtime(format!(
                "the prefecture had not acknowledged every fact after {SYNC_PATIENCE:?}; \
                 behind (acknowledged/produced): {}",
                behind.join(", ")
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn designations(
    cluster: &mut ClusterClient,
    officer: &Auth,
) -> Result<v1::DesignationsView, Failure> {
    let auth = officer.clone();
    cluster
        .call("PrefectureSurvey.GetDesignations", move |channel| {
            let mut client = v1::PrefectureSurveyClient::new(channel);
            let request = authed(
                &auth,
                v1::GetDesignationsRequest {
                    fiscal_year: i32::from(activity::FISCAL_YEAR),
                    as_of: activity::AS_OF.into(),
                    ..Default::default()
                },
            );
            async move { client.get_designations(request).await }
        })
        .await
}

/// Designates the first candidate of 富山 and 高岡 for both roles and of 砺波 for the active
/// role only, as a prefecture officer would after reviewing them; 新川 stays undecided. Returns
/// how many decisions were recorded.
async fn decide(
    cluster: &mut ClusterClient,
    officer: &Auth,
    view: &v1::DesignationsView,
) -> Result<usize, Failure> {
    let mut decided = 0;
    for area in &view.areas {
        let roles: &[&str] = match area.region_id.as_str() {
            "16-2" | "16-3" => &["active_role_medical_institution", "liaison_base"],
            "16-4" => &["active_role_medical_institution"],
            _ => &[],
        };
        for role in roles {
            let candidate = if *role == "liaison_base" {
                area.liaison_bases.first()
            } else {
                area.active_role
                    .iter()
                    .filter(|m| !m.from_neighbour)
                    .flat_map(|m| m.candidates.first())
                    .next()
            };
            let Some(c) = candidate else { continue };
            let designation = v1::Designation {
                role: (*role).to_owned(),
                area: area.region_id.clone(),
                institution_name: c.name.clone(),
                medical_institution_code: c.medical_institution_code.clone(),
                decided_on: "2024-09-30".into(),
            };
            publish(
                cluster,
                officer,
                format!("demo-designation-{}-{role}", area.region_id),
                v1::DownItemKind::Designation(designation),
            )
            .await?;
            decided += 1;
        }
    }
    Ok(decided)
}
