//! Child processes of a local federation: `renkei-prefecture` and `renkei-node` binaries found
//! next to the `renkei` executable, started on port 0 (the address is read from their first
//! stdout line, `<binary> listening on ADDR`), logging to files, and stopped with SIGTERM.
//!
//! No child is ever left behind: [`Processes::stop_all`] stops them in order and waits; dropping
//! [`Processes`] (an error, or Ctrl-C dropping the command's future) sends SIGTERM to every child
//! still running and waits for it, with SIGKILL as the last resort; and on Linux each child gets
//! SIGTERM from the kernel should `renkei` itself die (parent-death signal). Children run in their
//! own process group, so a Ctrl-C typed in the terminal reaches `renkei` alone, which then stops
//! them in order.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::failure::Failure;

/// How long a child may take to print its listening line.
const START_PATIENCE: Duration = Duration::from_secs(30);
/// How long a child may take to exit after SIGTERM before it is killed.
const STOP_PATIENCE: Duration = Duration::from_secs(15);

/// Returns the path of a sibling binary of the running `renkei` executable, or an error naming
/// the missing binary and how to build it.
pub fn sibling_binary(name: &str) -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::runtime(format!("cannot find the renkei executable's path: {e}")))?;
    let dir = exe
        .parent()
        .ok_or_else(|| Failure::runtime("the renkei executable has no parent directory"))?;
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Failure::runtime(format!(
            "{name} not found at {}: renkei runs the {name} binary built beside it; build every \
             binary with `cargo build --release --workspace --bins` (scripts/demo does this)",
            path.display()
        )))
    }
}

/// One running child.
struct Running {
    /// What the child is, e.g. `prefecture replica 1` or `node 新川`.
    name: String,
    child: Child,
    log: PathBuf,
    /// Kept open so that the child never writes to a closed pipe.
    _stdout: Option<Lines<BufReader<ChildStdout>>>,
}

/// How a child ended when it was stopped.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub name: String,
    /// `None` when it had to be killed or its status could not be read.
    pub status: Option<ExitStatus>,
}

impl Stopped {
    /// True when the child exited with status 0 after SIGTERM.
    pub fn clean(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// The children of one command.
#[derive(Default)]
pub struct Processes {
    running: Vec<Running>,
}

impl Processes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts `binary` with `args`, its stderr appended to `log`, and returns the address it
    /// listens on. `name` says what it is in messages.
    pub async fn start(
        &mut self,
        name: &str,
        binary: &Path,
        args: &[OsString],
        log: &Path,
    ) -> Result<String, Failure> {
        let log_file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| Failure::runtime(format!("cannot open {}: {e}", log.display())))?;
        let mut command = Command::new(binary);
        command
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .process_group(0)
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        #[allow(unsafe_code)]
        // SAFETY: the closure runs in the forked child before exec and only calls prctl(2),
        // which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| Failure::runtime(format!("cannot start {}: {e}", binary.display())))?;
        let Some(stdout) = child.stdout.take() else {
            return Err(Failure::runtime(format!("{name}: no stdout pipe")));
        };
        let mut lines = BufReader::new(stdout).lines();
        let binary_name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Registered before waiting, so that a failure below still stops it.
        self.running.push(Running {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
            _stdout: None,
        });
        let first = tokio::time::timeout(START_PATIENCE, lines.next_line()).await;
        let index = self.running.len() - 1;
        self.running[index]._stdout = Some(lines);
        let prefix = format!("{binary_name} listening on ");
        match first {
            Ok(Ok(Some(line))) if line.starts_with(&prefix) => {
                Ok(line[prefix.len()..].trim().to_owned())
            }
            Ok(Ok(Some(line))) => Err(self.startup_failure(
                index,
                &format!("printed {line:?} instead of its listening line"),
            )),
            Ok(Ok(None)) | Ok(Err(_)) => {
                Err(self.startup_failure(index, "exited before it was listening"))
            }
            Err(_) => Err(self.startup_failure(
                index,
                &format!("was not listening after {START_PATIENCE:?}"),
            )),
        }
    }

    fn startup_failure(&mut self, index: usize, what: &str) -> Failure {
        let r = &mut self.running[index];
        let status = r.child.try_wait().ok().flatten();
        let tail = log_tail(&r.log, 12);
        Failure::runtime(format!(
            "{} {what}{}; last lines of {}:\n{tail}",
            r.name,
            status.map(|s| format!(" ({s})")).unwrap_or_default(),
            r.log.display()
        ))
    }

    /// Returns the names of children that have exited although nobody stopped them.
    pub fn exited(&mut self) -> Vec<String> {
        self.running
            .iter_mut()
            .filter_map(|r| match r.child.try_wait() {
                Ok(Some(status)) => Some(format!("{} ({status}; log {})", r.name, r.log.display())),
                _ => None,
            })
            .collect()
    }

    /// Stops every child, the last started first: SIGTERM, then waits for each (SIGKILL after
    /// [`STOP_PATIENCE`]). Returns how each ended.
    pub async fn stop_all(&mut self) -> Vec<Stopped> {
        let mut stopped = Vec::new();
        while let Some(mut r) = self.running.pop() {
            terminate(&r.child);
            let status = match tokio::time::timeout(STOP_PATIENCE, r.child.wait()).await {
                Ok(Ok(status)) => Some(status),
                _ => {
                    let _ = r.child.start_kill();
                    let _ = r.child.wait().await;
                    None
                }
            };
            stopped.push(Stopped {
                name: r.name,
                status,
            });
        }
        stopped
    }
}

impl Drop for Processes {
    /// Stops every child still running (an error or an interruption got here first): SIGTERM to
    /// all at once, then waits for each, killing those that do not exit in time.
    fn drop(&mut self) {
        for r in &self.running {
            terminate(&r.child);
        }
        let deadline = Instant::now() + STOP_PATIENCE;
        for r in &mut self.running {
            loop {
                match r.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = r.child.start_kill();
                        break;
                    }
                    // A synchronous wait: drop cannot await, and the children exit within
                    // moments of SIGTERM.
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
    }
}

/// Sends SIGTERM to a child that is still running.
fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        #[allow(unsafe_code)]
        // SAFETY: kill(2) with a pid of our own, not yet reaped, child.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
}

/// Returns the last `n` lines of a log file (or a note that it cannot be read).
pub fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read the log: {e})"),
    }
}
