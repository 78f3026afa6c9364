//! Helpers shared by the tests of the `renkei` binary: run it, wait for it on a predicate with a
//! deadline, look for processes left behind.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one `renkei` command may run before the test fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// The binary under test.
pub fn renkei() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_renkei"));
    command.stdin(Stdio::null());
    command
}

/// Runs `renkei args…` to the end (failing the test after [`PATIENCE`]).
pub fn run(args: &[&str]) -> Output {
    run_with(&[], args)
}

/// Runs `renkei args…` with extra environment variables (e.g. `RENKEI_CA`).
pub fn run_with(env: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> Output {
    let child = renkei()
        .envs(env.iter().copied())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn renkei");
    finish(child, &format!("renkei {}", args.join(" ")))
}

/// Waits for a child to exit, polling; kills it and fails after [`PATIENCE`].
pub fn finish(mut child: Child, what: &str) -> Output {
    let started = Instant::now();
    loop {
        match child.try_wait().expect("poll the child") {
            Some(_) => return child.wait_with_output().expect("collect the output"),
            None if started.elapsed() > PATIENCE => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("collect the output");
                panic!(
                    "{what} still running after {PATIENCE:?}; stderr:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns the pids of processes whose command line mentions `needle` (e.g. a test's folder).
pub fn processes_mentioning(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}
