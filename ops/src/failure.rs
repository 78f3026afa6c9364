//! What can go wrong in a command, and the exit code scripts see for it.
//!
//! Bad input (a flag value, a file that cannot be read, a request a service refuses as invalid or
//! unauthorised) is never reported as a runtime failure, and a failure of the network or of a
//! child process never as bad input.

use tonic::{Code, Status};

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad input: exit code 2. The message names the flag, file or field that is wrong.
    #[error("{0}")]
    Usage(String),
    /// Something failed while running (unreachable service, a child process that died, a
    /// deadline passed): exit code 1.
    #[error("{0:#}")]
    Runtime(#[from] anyhow::Error),
    /// Ctrl-C or SIGTERM: exit code 130.
    #[error("interrupted; every process this command started was stopped")]
    Interrupted,
}

impl Failure {
    /// Returns the process exit code: 1 runtime failure, 2 usage or bad input, 130 interrupted.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Runtime(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Interrupted => 130,
        }
    }

    /// A bad-input failure.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    /// A runtime failure.
    pub fn runtime(message: impl std::fmt::Display) -> Self {
        Failure::Runtime(anyhow::anyhow!("{message}"))
    }

    /// Classifies a gRPC error answered while doing `what`: refusals of the request itself
    /// (invalid argument, unknown or unauthorised caller) are bad input, the rest runtime.
    pub fn from_status(what: &str, status: &Status) -> Self {
        let message = format!("{what}: {} ({:?})", status.message(), status.code());
        match status.code() {
            Code::InvalidArgument | Code::Unauthenticated | Code::PermissionDenied => {
                Failure::Usage(message)
            }
            _ => Failure::runtime(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_bad_input_and_outages_are_runtime_failures() {
        let refused = Failure::from_status("export", &Status::invalid_argument("as_of: bad"));
        assert_eq!(refused.exit_code(), 2);
        assert!(refused.to_string().contains("as_of: bad"));
        let down = Failure::from_status("export", &Status::unavailable("no leader"));
        assert_eq!(down.exit_code(), 1);
        assert_eq!(Failure::Interrupted.exit_code(), 130);
    }
}
