//! How a command fails: a message and an exit code (1 failed, 2 usage, 3 still
//! waiting), and the retries that keep a passing network failure from being one.

use crate::engine::ClientError;
use crate::relay::RelayError;

/// A command that failed: what to tell the user, and the exit code.
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What went wrong, in words for the user.
    pub message: String,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let code = match e {
            ClientError::Usage(_)
            | ClientError::NoGroup(_)
            | ClientError::NoMember(_)
            | ClientError::Relay(RelayError::PlainWs(_)) => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

/// A usage error (exit code 2).
pub fn usage(msg: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: msg.into(),
    }
}

/// The process's exit code for a command's outcome; a failure is said first.
pub fn exit(outcome: Result<u8, Failure>) -> std::process::ExitCode {
    match outcome {
        Ok(code) => std::process::ExitCode::from(code),
        Err(f) => {
            eprintln!("{}", kith_i18n::t!("profile-error", message = &f.message));
            std::process::ExitCode::from(f.code)
        }
    }
}

/// A failure of the command itself (exit code 1).
pub fn failed(msg: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: msg.into(),
    }
}

/// Whether an error is a passing network failure, worth retrying.
/// A send whose outcome is unknown is not: retrying could post it twice.
pub fn transient(e: &ClientError) -> bool {
    e.is_passing()
}

pub(crate) fn is_connect(e: &ClientError) -> bool {
    matches!(e, ClientError::Relay(RelayError::Connect(_)))
}

/// Retries an engine call on transient relay failures with exponential backoff
/// (0.5 s … 8 s, five retries), reconnecting in between.
macro_rules! retry {
    ($client:ident, $call:expr) => {{
        let mut delay = std::time::Duration::from_millis(500);
        let mut tries = 0;
        loop {
            match $call {
                Err(e) if $crate::cli::failure::transient(&e) && tries < 5 => {
                    tries += 1;
                    $client.close().await;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(8));
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retry;
