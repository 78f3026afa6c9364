//! `renkei certs`: a development certificate authority and the certificates of nodes and
//! replicas for mutual TLS ([`renkei_proto::tls`]). Files are created, never overwritten; private
//! keys are readable by their owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

use renkei_proto::tls::{DevCa, Issued, Subject, local_hosts};
use serde_json::json;

use crate::cli::{CertsCommand, IssueArgs};
use crate::failure::Failure;

/// The CA certificate's file name in a CA folder.
pub const CA_CERT: &str = "ca.pem";
/// The CA key's file name in a CA folder.
pub const CA_KEY: &str = "ca.key";

/// Runs one `renkei certs` command.
pub fn run(command: CertsCommand, json: bool) -> Result<(), Failure> {
    let written = match command {
        CertsCommand::Ca { out, name } => {
            let ca = DevCa::generate(&name).map_err(Failure::runtime)?;
            write_ca(&out, &ca)?
        }
        CertsCommand::Node {
            municipalities,
            issue: args,
        } => {
            let base = format!("node-{}", municipalities[0]);
            issue(&Subject::Node { municipalities }, args, &base)?
        }
        CertsCommand::Replica {
            prefecture,
            node_id,
            issue: args,
        } => {
            let base = format!("replica-{prefecture}-{node_id}");
            let subject = Subject::Replica {
                prefecture,
                node_id,
            };
            issue(&subject, args, &base)?
        }
    };
    if json {
        let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        println!("{}", json!({ "written": files }));
    } else {
        for path in &written {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// Writes a new CA's certificate and key into `dir`.
pub fn write_ca(dir: &Path, ca: &DevCa) -> Result<Vec<PathBuf>, Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let cert = dir.join(CA_CERT);
    let key = dir.join(CA_KEY);
    refuse_existing(&[&cert, &key])?;
    write_new(&cert, ca.cert_pem(), false)?;
    write_new(&key, ca.key_pem(), true)?;
    Ok(vec![cert, key])
}

/// Reads the CA in `--ca-dir`, issues a certificate for `subject` and writes `<base>.pem` and
/// `<base>.key` into `--out` (default: the CA's folder).
fn issue(subject: &Subject, args: IssueArgs, base: &str) -> Result<Vec<PathBuf>, Failure> {
    if args.days == 0 {
        return Err(Failure::usage("--days: 0 is not allowed"));
    }
    let ca = read_ca(&args.ca_dir)?;
    let hosts = if args.hosts.is_empty() {
        local_hosts()
    } else {
        args.hosts
    };
    let issued = ca
        .issue(subject, &hosts, args.days)
        .map_err(|e| Failure::usage(format!("--host: {e}")))?;
    write_issued(args.out.as_deref().unwrap_or(&args.ca_dir), base, &issued)
}

/// Reads `ca.pem` and `ca.key` from `dir`.
pub fn read_ca(dir: &Path) -> Result<DevCa, Failure> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| {
            Failure::usage(format!(
                "--ca-dir: cannot read {} ({e}); create a CA with `renkei certs ca`",
                path.display()
            ))
        })
    };
    DevCa::from_pem(&read(CA_CERT)?, &read(CA_KEY)?)
        .map_err(|e| Failure::usage(format!("--ca-dir: {}: {e}", dir.display())))
}

/// Writes an issued certificate and key as `<base>.pem` and `<base>.key` into `dir`.
pub fn write_issued(dir: &Path, base: &str, issued: &Issued) -> Result<Vec<PathBuf>, Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let cert = dir.join(format!("{base}.pem"));
    let key = dir.join(format!("{base}.key"));
    refuse_existing(&[&cert, &key])?;
    write_new(&cert, &issued.cert_pem, false)?;
    write_new(&key, &issued.key_pem, true)?;
    Ok(vec![cert, key])
}

fn refuse_existing(paths: &[&Path]) -> Result<(), Failure> {
    for path in paths {
        if path.exists() {
            return Err(Failure::usage(format!(
                "{} already exists: certificates and keys are never overwritten",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Creates `path` (failing if it exists) with `text`, owner-only when `secret`, and syncs it.
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail =
        |e: std::io::Error| Failure::runtime(format!("cannot write {}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}
