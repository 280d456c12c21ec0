// SPDX-License-Identifier: GPL-2.0
//! Error type and exit codes.
//!
//! Every failure the tool can report is an [`Error`](enum@Error); [`Error::exit_status`]
//! maps it to the documented exit code ([`ExitStatus`]).

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::sysfs::{ParseError, RangeError};

/// The exact message printed (on its own) when the running kernel does not
/// publish the `swiotlb_base` / `swiotlb_size` driver attributes.
pub const MISSING_FEATURE_MESSAGE: &str = "The running kernel is missing a patch that significantly improves virtio device performance. Update to a more recent WSL kernel to enable this optimization.";

/// Process exit codes. The numeric values are part of the tool's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success.
    Success,
    /// 1: an I/O error other than "not found" or "permission denied".
    Io,
    /// 2: malformed attribute content (or `status --strict` found problems
    /// in the debugfs detail).
    Malformed,
    /// 3: the running kernel does not publish the attributes.
    Unsupported,
    /// 4: permission denied reading a file; root is needed.
    PermissionDenied,
    /// 64 (`EX_USAGE`): command-line usage error.
    Usage,
}

impl ExitStatus {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Io => 1,
            ExitStatus::Malformed => 2,
            ExitStatus::Unsupported => 3,
            ExitStatus::PermissionDenied => 4,
            ExitStatus::Usage => 64,
        }
    }
}

/// A byte string from a file, shown escaped and truncated in messages so
/// that control characters and binary junk stay readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value(pub Vec<u8>);

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_SHOWN: usize = 64;
        let text = String::from_utf8_lossy(&self.0);
        if text.chars().count() > MAX_SHOWN {
            let head: String = text.chars().take(MAX_SHOWN).collect();
            write!(f, "{head:?}... ({} bytes)", self.0.len())
        } else {
            write!(f, "{text:?}")
        }
    }
}

/// Everything that can make `swiotlbctl` fail.
#[derive(Debug, Error)]
pub enum Error {
    /// Neither candidate driver directory (or the explicitly chosen one)
    /// holds the attributes.
    #[error("{MISSING_FEATURE_MESSAGE}")]
    Unsupported {
        /// The driver directories that were searched.
        searched: Vec<PathBuf>,
    },

    /// An attribute file exists but its content does not follow the format.
    #[error("{}: malformed value {value}: {reason}", path.display())]
    Malformed {
        /// The file that was read.
        path: PathBuf,
        /// Its raw content.
        value: Value,
        /// What is wrong with it.
        reason: ParseError,
    },

    /// Only one of the two attributes exists in the selected directory.
    #[error(
        "{}: missing, although {} exists: the kernel published only half of the pool range",
        missing.display(),
        present.display()
    )]
    Incomplete {
        /// The attribute that is absent.
        missing: PathBuf,
        /// The attribute that is present.
        present: PathBuf,
    },

    /// Both attributes parse, but together they describe an invalid range.
    #[error(
        "{}: {base:#x} and {}: {size}: {reason}",
        base_path.display(),
        size_path.display()
    )]
    OutOfRange {
        /// Path of `swiotlb_base`.
        base_path: PathBuf,
        /// Parsed base.
        base: u64,
        /// Path of `swiotlb_size`.
        size_path: PathBuf,
        /// Parsed size.
        size: u64,
        /// Why the range is invalid.
        reason: RangeError,
    },

    /// A file could not be read for lack of privileges.
    #[error(
        "{}: permission denied: reading it requires root privileges (run swiotlbctl as root, e.g. with sudo)",
        path.display()
    )]
    PermissionDenied {
        /// The file or directory that could not be accessed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Any other I/O error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A usage error detected after argument parsing (e.g. a bad
    /// `--sysfs-root`).
    #[error("{0}")]
    Usage(String),

    /// `status --strict` found problems in the debugfs detail.
    #[error("{0} problem(s) in the per-device detail (--strict)")]
    StrictProblems(usize),
}

impl Error {
    /// Wraps an I/O error on `path`, classifying permission errors.
    pub fn from_io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        let path = path.into();
        if source.kind() == io::ErrorKind::PermissionDenied {
            Error::PermissionDenied { path, source }
        } else {
            Error::Io { path, source }
        }
    }

    /// The exit status this error maps to.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Unsupported { .. } => ExitStatus::Unsupported,
            Error::Malformed { .. }
            | Error::Incomplete { .. }
            | Error::OutOfRange { .. }
            | Error::StrictProblems(_) => ExitStatus::Malformed,
            Error::PermissionDenied { .. } => ExitStatus::PermissionDenied,
            Error::Io { .. } => ExitStatus::Io,
            Error::Usage(_) => ExitStatus::Usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let denied = Error::from_io("/x", io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(denied.exit_status(), ExitStatus::PermissionDenied);
        assert_eq!(denied.exit_status().code(), 4);
        assert!(denied.to_string().contains("requires root"));
        let other = Error::from_io("/x", io::Error::from(io::ErrorKind::InvalidData));
        assert_eq!(other.exit_status().code(), 1);
    }

    #[test]
    fn unsupported_message_is_exact() {
        let e = Error::Unsupported { searched: vec![] };
        assert_eq!(e.to_string(), MISSING_FEATURE_MESSAGE);
        assert_eq!(e.exit_status().code(), 3);
    }

    #[test]
    fn values_are_escaped_and_truncated() {
        assert_eq!(Value(b"0x1\r\n".to_vec()).to_string(), r#""0x1\r\n""#);
        let long = Value(vec![b'a'; 100]);
        let shown = long.to_string();
        assert!(shown.ends_with("... (100 bytes)"), "{shown}");
    }
}
