//! The commands and flags of `renkei`. Every flag value is validated while parsing, so that a
//! wrong value is reported by name with exit code 2 before anything is contacted.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use renkei_proto::FiscalYear;

/// renkei (連携): run a local federation, administer prefecture clusters and municipal nodes,
/// export the implementation-status survey and merge prefectures' exports into the national table.
///
/// Exit codes: 0 ok, 1 runtime failure, 2 usage or bad input, 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "renkei", version)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Connect over TLS, verifying nodes and replicas against this CA certificate (PEM); the
    /// federation's CA from `renkei certs ca`. Without it, connections are plaintext.
    #[arg(long, global = true, value_name = "FILE", env = "RENKEI_CA")]
    pub ca: Option<PathBuf>,
    /// Read the caller's token from this file (mode 600, one line) instead of `--token`, so it
    /// appears in no process list or shell history; a `--token` given too wins.
    #[arg(long, global = true, value_name = "FILE", env = "RENKEI_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a local federation of 富山県 (a 3-replica prefecture cluster and municipal nodes for
    /// its 15 municipalities), load a fiscal year of programme activity, wait until the prefecture
    /// has every fact, print the national-style tally, the (ク) designation candidates and gaps,
    /// write the survey exports, and stop everything.
    Demo(DemoArgs),
    /// Administer a prefecture cluster (the ClusterAdmin service of `renkei-prefecture`).
    Cluster(ClusterArgs),
    /// Inspect a municipal node (`renkei-node`).
    #[command(subcommand)]
    Node(NodeCommand),
    /// Export the prefecture's survey, or merge prefectures' exports into the national survey.
    #[command(subcommand)]
    Survey(SurveyCommand),
    /// Import data into a municipal node.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Take an online backup of a serving node or prefecture replica (Backup.CreateBackup): a
    /// consistent copy written into a new directory on the serving machine.
    Backup {
        /// The node or replica (host:port).
        #[arg(long, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: String,
        /// The directory to create on the serving machine: an absolute path that does not exist.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// For a replica: the token of a caller with role `admin`.
        #[arg(long, env = "RENKEI_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Create development certificates for mutual TLS: a CA, then a certificate per municipal
    /// node (naming the municipalities it speaks for) and per prefecture replica.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Restore a backup into a fresh data directory, with the node or replica stopped; it then
    /// starts on that directory with exactly the backed-up state.
    Restore {
        /// The backup directory (holding backup.json and data/).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The data directory to fill: absent or empty (nothing is ever overwritten).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// For a node's backup (required): the node's master key file. A backup holds no master
        /// key; the key must open the backed-up key vault, and the erasure log beside it
        /// (erasures.log) is replayed, so nobody erased since the backup comes back.
        #[arg(long, value_name = "FILE")]
        master_key: Option<PathBuf>,
    },
}

/// `renkei certs …`
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Create a certificate authority: `ca.pem` (give it to every node, replica and tool) and
    /// `ca.key` (keep it off the nodes; it issues the other certificates).
    Ca {
        /// The folder to write into (created if missing; existing files are never overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The CA's name.
        #[arg(long, default_value = "renkei development CA")]
        name: String,
    },
    /// Issue a municipal node's certificate, naming the municipalities it speaks for:
    /// `node-<code>.pem` and `node-<code>.key`.
    Node {
        /// A municipality the node serves (6-digit code); repeat for several.
        #[arg(long = "municipality", required = true, value_name = "CODE", value_parser = parse_municipality)]
        municipalities: Vec<renkei_proto::MunicipalityCode>,
        #[command(flatten)]
        issue: IssueArgs,
    },
    /// Issue a prefecture replica's certificate: `replica-<prefecture>-<id>.pem` and `.key`.
    Replica {
        /// The prefecture (2-digit code).
        #[arg(long, value_name = "CODE", value_parser = parse_prefecture)]
        prefecture: renkei_proto::PrefectureCode,
        /// The replica's node id.
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u64).range(1..))]
        node_id: u64,
        #[command(flatten)]
        issue: IssueArgs,
    },
}

/// What every issued certificate is given: the CA, where it is served, how long, where to write.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The folder holding `ca.pem` and `ca.key`.
    #[arg(long, value_name = "DIR")]
    pub ca_dir: PathBuf,
    /// A host name or IP address the holder is reached at; repeat. Default: localhost,
    /// 127.0.0.1, ::1.
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// The folder to write into (default: the CA's folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn parse_municipality(text: &str) -> Result<renkei_proto::MunicipalityCode, String> {
    text.trim().parse().map_err(|e| format!("{e}"))
}

fn parse_prefecture(text: &str) -> Result<renkei_proto::PrefectureCode, String> {
    text.trim().parse().map_err(|e| format!("{e}"))
}

/// Flags of `renkei demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the processes' data, logs and the exports (created if missing; must be empty).
    /// It is kept. Default: a temporary folder, removed at the end unless --keep.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the temporary folder (data, logs, exports) instead of removing it.
    #[arg(long)]
    pub keep: bool,
    /// After the report, keep the federation running until Ctrl-C (which stops it and exits 130
    /// as any interruption does), so that other `renkei` commands or gRPC tools can be pointed
    /// at it.
    #[arg(long)]
    pub serve: bool,
}

/// `renkei cluster`: a subcommand and the caller's token.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
    /// The caller's token: role `admin` to change the membership, `viewer` or above for status.
    #[arg(long, global = true, env = "RENKEI_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// `renkei cluster …`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Initialise a new cluster on a fresh replica with the given voters.
    Init {
        /// The replica to initialise (host:port).
        #[arg(long, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: String,
        /// A voter as ID=HOST:PORT; repeat for each. Default: the replica at --addr alone, as
        /// --node-id.
        #[arg(long = "member", value_name = "ID=HOST:PORT", value_parser = parse_member)]
        members: Vec<Member>,
        /// The node id of the replica at --addr when no --member is given.
        #[arg(long, default_value_t = 1)]
        node_id: u64,
    },
    /// Add a non-voting learner and wait until it has caught up.
    AddLearner {
        /// Any replica of the cluster (host:port); repeat for several. Calls follow the leader.
        #[arg(long, required = true, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: Vec<String>,
        /// The learner as ID=HOST:PORT.
        #[arg(long, value_name = "ID=HOST:PORT", value_parser = parse_member)]
        member: Member,
    },
    /// Make the given node ids the voters (learners must have been added first).
    Promote {
        /// Any replica of the cluster (host:port); repeat for several.
        #[arg(long, required = true, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: Vec<String>,
        /// The voters, e.g. --voters 1,2,3.
        #[arg(long, required = true, value_delimiter = ',', value_name = "ID,…")]
        voters: Vec<u64>,
    },
    /// Remove a node from the voters and learners; its id may never be used again.
    Remove {
        /// Any replica of the cluster (host:port); repeat for several.
        #[arg(long, required = true, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: Vec<String>,
        /// The node id to remove.
        #[arg(long, value_name = "ID")]
        node_id: u64,
    },
    /// Show each replica's view: state, leader, term, log and applied index, voters, learners.
    Status {
        /// A replica (host:port); repeat for each to compare their views.
        #[arg(long, required = true, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: Vec<String>,
    },
}

/// `renkei node …`
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Show the municipalities a node hosts, their event counts and how far their facts have
    /// reached the prefecture (produced, acknowledged, lag).
    Status {
        /// The node (host:port).
        #[arg(long, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: String,
        /// A staff token of the node (role `viewer` or above), when the node has [[staff]].
        #[arg(long, env = "RENKEI_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

/// `renkei import …`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a resource list (ア) — the CSV a municipality keeps in Excel, UTF-8 or Shift_JIS,
    /// headers in Japanese (ID, 種別, 名称, 機能強化型, 医療機関コード, …) — into a node
    /// (MunicipalProgram.ImportResources). Rows already registered with the same details add
    /// nothing; rejected rows are listed with their line and reason (exit 2).
    Resources {
        /// The node (host:port).
        #[arg(long, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: String,
        /// The municipality the resources belong to (6-digit code).
        #[arg(long, value_name = "CODE")]
        municipality: String,
        /// The registration date of the imported rows (YYYY-MM-DD); default today.
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        on: Option<NaiveDate>,
        /// Who imports, as recorded with each event.
        #[arg(long, default_value = "renkei-import")]
        actor: String,
        /// A staff token of the node (role `operator`), when the node has [[staff]].
        #[arg(long, env = "RENKEI_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The CSV file.
        file: PathBuf,
    },
}

/// The file formats of `renkei survey export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// The summary table as CSV in UTF-8 with BOM (opens in Excel on Japanese Windows).
    Csv,
    /// The summary table as CSV in Shift_JIS (cp932).
    CsvSjis,
    /// The per-municipality detail as CSV in UTF-8 with BOM.
    DetailCsv,
    /// The summary and detail sheets as an Excel workbook.
    Xlsx,
    /// The signed JSON export that `renkei survey merge` reads.
    Json,
}

/// `renkei survey …`
#[derive(Debug, Subcommand)]
pub enum SurveyCommand {
    /// Export the prefecture's survey for a fiscal year as of a date.
    Export {
        /// Any replica of the prefecture cluster (host:port); repeat for several.
        #[arg(long, required = true, value_name = "HOST:PORT", value_parser = parse_address)]
        addr: Vec<String>,
        /// The caller's token (role `viewer` or above).
        #[arg(long, env = "RENKEI_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The fiscal year (年度) by its starting year, e.g. 2024 for 令和6年度.
        #[arg(long, value_name = "YEAR", value_parser = parse_fiscal_year)]
        fy: FiscalYear,
        /// The survey date (基準日), YYYY-MM-DD within the fiscal year. Default: its last day.
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// Count only what the prefecture had recorded at this instant (RFC 3339, e.g.
        /// 2024-10-01T09:00:00+09:00): reproduces an export made then, byte for byte.
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        known_at: Option<chrono::DateTime<chrono::Utc>>,
        /// The file format.
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Count each municipality's submitted snapshot where there is one (default: the live
        /// statuses derived from evidence).
        #[arg(long)]
        submitted: bool,
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Merge prefectures' JSON exports into the national survey. Refuses a modified file, mixed
    /// fiscal years or dates and any municipality found twice; reports municipalities missing
    /// against the official list (未回答: shown apart, not part of n).
    Merge {
        /// The prefectures' JSON exports (`renkei survey export --format json`).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The national file to write: .json (signed, mergeable again), .csv (summary, UTF-8 with
        /// BOM), .xlsx or .html (a report of the table with the prefectures compared).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Merge prefectures' PDCA cycle exports (`ExportCycleTally`, JSON) into the national cycle
    /// table: a line per prefecture and the nation's. Refuses a modified file, mixed fiscal years
    /// and a prefecture found twice.
    CycleMerge {
        /// The prefectures' cycle exports (JSON, from the console's PDCAサイクル集計 page or
        /// `ExportCycleTally`).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The national table to write: .json or .csv (UTF-8 with BOM).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// A member of a cluster: node id and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    pub address: String,
}

/// Validates `host:port` (an `http://` prefix is accepted and dropped).
pub fn parse_address(text: &str) -> Result<String, String> {
    let bare = text
        .trim()
        .strip_prefix("http://")
        .unwrap_or(text.trim())
        .trim_end_matches('/');
    let (host, port) = bare
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not HOST:PORT (no port)"))?;
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err(format!("{text:?} is not HOST:PORT (bad host)"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(bare.to_owned()),
        _ => Err(format!("{text:?} is not HOST:PORT (port must be 1-65535)")),
    }
}

/// Validates `ID=HOST:PORT`.
pub fn parse_member(text: &str) -> Result<Member, String> {
    let (id, address) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not ID=HOST:PORT"))?;
    let id = id
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("{text:?}: the node id must be a positive number"))?;
    Ok(Member {
        id,
        address: parse_address(address)?,
    })
}

/// Validates a fiscal year given by its starting year.
pub fn parse_fiscal_year(text: &str) -> Result<FiscalYear, String> {
    let year: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a year such as 2024"))?;
    FiscalYear::new(year).map_err(|e| e.to_string())
}

/// Validates an instant written in RFC 3339 (with its offset), e.g. 2024-10-01T09:00:00+09:00.
pub fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            format!("{text:?} is not an instant such as 2024-10-01T09:00:00+09:00 (RFC 3339)")
        })
}

/// Validates a date written YYYY-MM-DD.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_members_years_and_dates_are_validated() {
        assert_eq!(parse_address("127.0.0.1:7501").unwrap(), "127.0.0.1:7501");
        assert_eq!(
            parse_address("http://localhost:7401/").unwrap(),
            "localhost:7401"
        );
        assert!(parse_address("localhost").is_err());
        assert!(parse_address("localhost:0").is_err());
        assert!(parse_address("localhost:99999").is_err());
        assert_eq!(
            parse_member("2=10.0.0.12:7501").unwrap(),
            Member {
                id: 2,
                address: "10.0.0.12:7501".into()
            }
        );
        assert!(parse_member("0=host:1").is_err());
        assert_eq!(parse_fiscal_year("2024").unwrap().year(), 2024);
        assert!(parse_fiscal_year("1800").is_err());
        assert!(parse_fiscal_year("R6").is_err());
        assert!(parse_date("2024-13-01").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
