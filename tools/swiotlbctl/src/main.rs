// SPDX-License-Identifier: GPL-2.0
//! `swiotlbctl` command-line entry point: argument parsing, dispatch and
//! exit codes. The work is done in the library (`swiotlbctl::*`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use swiotlbctl::error::MISSING_FEATURE_MESSAGE;
use swiotlbctl::report;
use swiotlbctl::sysfs::{self, DirChoice};
use swiotlbctl::{Error, ExitStatus};

const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   I/O error other than \"not found\" or \"permission denied\"
  2   malformed swiotlb_base/swiotlb_size content, only one of the two
      present, or a range that does not lie below 4 GiB; with
      `status --strict`, also problems in the debugfs per-device detail
  3   the running kernel does not publish swiotlb_base/swiotlb_size
  4   permission denied reading a file (run as root)
  64  command-line usage error (EX_USAGE)";

/// Inspect the SWIOTLB bounce-buffer pool the hv_pci driver reserves for
/// virtio devices.
///
/// By default the attributes are read from
/// /sys/bus/vmbus/drivers/hv_pci/ and, if they are not there, from the
/// virtio-pci test-mode directory /sys/bus/pci/drivers/virtio-pci/.
#[derive(Debug, Parser)]
#[command(name = "swiotlbctl", version, after_help = EXIT_CODES, arg_required_else_help = true)]
struct Cli {
    /// Resolve every sysfs/debugfs path under DIR (for captured or
    /// synthetic trees).
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    sysfs_root: PathBuf,

    /// Read the attributes only from PATH (resolved under --sysfs-root;
    /// a leading '/' is ignored). Disables the fallback.
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "test_mode")]
    driver_dir: Option<PathBuf>,

    /// Read the attributes only from the virtio-pci test-mode directory
    /// (sys/bus/pci/drivers/virtio-pci). Disables the fallback.
    #[arg(long, global = true)]
    test_mode: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the `swiotlb=0x<base>,<size>` token for virtio device options.
    #[command(after_help = EXIT_CODES)]
    DeviceOption,

    /// Show the pool range, the layout and per-device usage.
    #[command(after_help = EXIT_CODES)]
    Status {
        /// Print the report as JSON (schema in Documentation/tools/swiotlbctl.rst).
        #[arg(long)]
        json: bool,

        /// Exit 2 if the debugfs detail has problems (default: report them
        /// and exit 0).
        #[arg(long)]
        strict: bool,
    },
}

impl Cli {
    fn dir_choice(&self) -> DirChoice {
        match (&self.driver_dir, self.test_mode) {
            (Some(dir), _) => DirChoice::Explicit(dir.clone()),
            (None, true) => DirChoice::TestMode,
            (None, false) => DirChoice::Auto,
        }
    }
}

/// Writes `text` to stdout, reporting failures as I/O errors.
fn emit(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Io {
            path: PathBuf::from("<stdout>"),
            source,
        })
}

/// Prints `err` to stderr the way the tool documents it and returns its
/// exit status.
fn report_error(err: &Error, choice: &DirChoice) -> ExitStatus {
    match err {
        Error::Unsupported { searched } => {
            if *choice != DirChoice::Auto {
                for dir in searched {
                    eprintln!(
                        "swiotlbctl: {}: no {} or {}",
                        dir.display(),
                        sysfs::BASE_ATTR,
                        sysfs::SIZE_ATTR
                    );
                }
            }
            eprintln!("{MISSING_FEATURE_MESSAGE}");
        }
        // A closed pipe on stdout is not worth a message.
        Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe => {}
        other => eprintln!("swiotlbctl: error: {other}"),
    }
    err.exit_status()
}

fn check_root(root: &Path) -> Result<(), Error> {
    match root.metadata() {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::Usage(format!(
            "--sysfs-root {}: not a directory",
            root.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::Usage(format!(
            "--sysfs-root {}: no such directory",
            root.display()
        ))),
        Err(e) => Err(Error::from_io(root, e)),
    }
}

fn device_option(root: &Path, choice: &DirChoice) -> Result<(), Error> {
    let location = sysfs::locate(root, choice)?;
    if let Some(from) = &location.fell_back_from {
        eprintln!(
            "swiotlbctl: note: no swiotlb attributes in {}; read {} (virtio-pci test mode)",
            from.display(),
            location.dir.display()
        );
    }
    let range = sysfs::read_range(&location)?;
    sysfs::check_range(&location, &range)?;
    emit(&format!("{}\n", range.device_option()))
}

fn status(root: &Path, choice: &DirChoice, json: bool, strict: bool) -> Result<(), Error> {
    let outcome = report::status(root, choice, strict)?;
    let text = if json {
        outcome.report.to_json()
    } else {
        outcome.report.to_text()
    };
    emit(&text)?;
    match outcome.error {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version go to stdout and succeed; everything
            // else is a usage error, which must not collide with exit 2.
            let _ = err.print();
            let status = if err.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            };
            return ExitCode::from(status.code());
        }
    };
    let choice = cli.dir_choice();
    let result = check_root(&cli.sysfs_root).and_then(|()| match cli.command {
        Command::DeviceOption => device_option(&cli.sysfs_root, &choice),
        Command::Status { json, strict } => status(&cli.sysfs_root, &choice, json, strict),
    });
    let status = match result {
        Ok(()) => ExitStatus::Success,
        Err(err) => report_error(&err, &choice),
    };
    ExitCode::from(status.code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dir_choice_follows_flags() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().dir_choice();
        assert_eq!(parse(&["swiotlbctl", "status"]), DirChoice::Auto);
        assert_eq!(
            parse(&["swiotlbctl", "--test-mode", "status"]),
            DirChoice::TestMode
        );
        assert_eq!(
            parse(&["swiotlbctl", "status", "--driver-dir", "/x/y"]),
            DirChoice::Explicit(PathBuf::from("/x/y"))
        );
    }
}
