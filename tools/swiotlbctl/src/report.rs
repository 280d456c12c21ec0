// SPDX-License-Identifier: GPL-2.0
//! The `status` report: gathering it, and rendering it as text or JSON.
//!
//! The JSON form is the serialisation of [`StatusReport`]; its field names
//! and meanings are documented there and in
//! `Documentation/tools/swiotlbctl.rst`. The schema is versioned by
//! [`SCHEMA_VERSION`]: fields are only ever added within one version.
//!
//! Version history: 1, the first; 2 added `failures` to the device
//! objects (the `failures` column of the debugfs `devices` table).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::debugfs::{self, Detail, Device, Layout};
use crate::error::Error;
use crate::sysfs::{self, DirChoice, Source, LIMIT_4G};

/// Version of the JSON schema emitted by `status --json`.
pub const SCHEMA_VERSION: u32 = 2;

/// The whole `status` report.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Whether the running kernel publishes the attributes.
    pub supported: bool,
    /// The driver directory the attributes were read from (`null` when
    /// unsupported).
    pub driver_dir: Option<String>,
    /// `"hv-pci"`, `"test-mode"` or `"custom"` (`null` when unsupported).
    pub source: Option<Source>,
    /// When the automatic search fell back to test mode: the `hv_pci`
    /// directory that lacked the attributes. `null` otherwise.
    pub fell_back_from: Option<String>,
    /// The directories searched without success (empty when supported).
    pub searched: Vec<String>,
    /// The pool range (`null` when unsupported).
    pub range: Option<RangeReport>,
    /// The `swiotlb=<base>,<size>` token, `null` unless the range is valid.
    pub device_option: Option<String>,
    /// Per-device detail from debugfs.
    pub per_device: PerDeviceReport,
    /// Problems found in the debugfs files.
    pub problems: Vec<ProblemReport>,
}

/// The pool range.
#[derive(Debug, Clone, Serialize)]
pub struct RangeReport {
    /// Path of `swiotlb_base`.
    pub base_file: String,
    /// Path of `swiotlb_size`.
    pub size_file: String,
    /// Start address.
    pub base: u64,
    /// Start address as `0x...` (lowercase).
    pub base_hex: String,
    /// Length in bytes.
    pub size: u64,
    /// Exclusive end address (`null` if `base + size` overflows 64 bits).
    pub end: Option<u64>,
    /// `end` as `0x...` (`null` if it overflows).
    pub end_hex: Option<String>,
    /// Whether `end <= 0x100000000`.
    pub below_4g: bool,
}

/// Per-device detail.
#[derive(Debug, Clone, Serialize)]
pub struct PerDeviceReport {
    /// The debugfs directory.
    pub dir: String,
    /// Whether the directory could be read.
    pub available: bool,
    /// Why it could not (`null` when available).
    pub unavailable_reason: Option<String>,
    /// `"per-device"` or `"shared"`, `null` if unknown.
    pub layout: Option<Layout>,
    /// The device rows, `null` if the `devices` file could not be read.
    pub devices: Option<Vec<DeviceReport>>,
}

/// One device row.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    /// PCI address.
    pub device: String,
    /// Bound driver, `null` for none (`-` in the file).
    pub driver: Option<String>,
    /// Slice start address.
    pub base: u64,
    /// Slice start as `0x...`.
    pub base_hex: String,
    /// Slice length in bytes.
    pub size: u64,
    /// Number of 2 KiB slots.
    pub slots: u64,
    /// Slots in use now.
    pub used: u64,
    /// Maximum slots in use.
    pub hiwater: u64,
    /// Bounce mappings made.
    pub mappings: u64,
    /// Bounce mappings that found no room in the pool.
    pub failures: u64,
}

impl From<Device> for DeviceReport {
    fn from(d: Device) -> Self {
        DeviceReport {
            base_hex: sysfs::format_base(d.base),
            device: d.device,
            driver: d.driver,
            base: d.base,
            size: d.size,
            slots: d.slots,
            used: d.used,
            hiwater: d.hiwater,
            mappings: d.mappings,
            failures: d.failures,
        }
    }
}

/// A problem in a debugfs file.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemReport {
    /// Path of the file.
    pub file: String,
    /// 1-based line number, `null` for the whole file.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// A report, plus the error (if any) that decides the exit code after the
/// report has been printed.
#[derive(Debug)]
pub struct StatusOutcome {
    /// The report to print.
    pub report: StatusReport,
    /// `Unsupported`, `OutOfRange` or `StrictProblems`; `None` for success.
    pub error: Option<Error>,
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

/// Gathers the `status` report.
///
/// Returns `Err` for failures that leave nothing to report (malformed
/// attributes, permission denied, I/O errors). An unsupported kernel, a
/// range beyond 4 GiB and (with `strict`) debugfs problems still produce a
/// report, with the error in [`StatusOutcome::error`].
pub fn status(root: &Path, choice: &DirChoice, strict: bool) -> Result<StatusOutcome, Error> {
    let location = match sysfs::locate(root, choice) {
        Ok(location) => location,
        Err(Error::Unsupported { searched }) => {
            let report = StatusReport {
                schema_version: SCHEMA_VERSION,
                supported: false,
                driver_dir: None,
                source: None,
                fell_back_from: None,
                searched: searched.iter().map(|p| show(p)).collect(),
                range: None,
                device_option: None,
                per_device: PerDeviceReport {
                    dir: show(&root.join(debugfs::DEBUGFS_DIR)),
                    available: false,
                    unavailable_reason: Some(
                        "the running kernel does not publish the swiotlb attributes".to_owned(),
                    ),
                    layout: None,
                    devices: None,
                },
                problems: Vec::new(),
            };
            return Ok(StatusOutcome {
                report,
                error: Some(Error::Unsupported { searched }),
            });
        }
        Err(e) => return Err(e),
    };
    let range = sysfs::read_range(&location)?;
    let mut error = sysfs::check_range(&location, &range).err();
    let detail = debugfs::read_detail(root, Some(&range));
    if strict && error.is_none() && !detail.problems.is_empty() {
        error = Some(Error::StrictProblems(detail.problems.len()));
    }
    let end = range.end();
    let report = StatusReport {
        schema_version: SCHEMA_VERSION,
        supported: true,
        driver_dir: Some(show(&location.dir)),
        source: Some(location.source),
        fell_back_from: location.fell_back_from.as_deref().map(show),
        searched: Vec::new(),
        range: Some(RangeReport {
            base_file: show(&location.base_path()),
            size_file: show(&location.size_path()),
            base: range.base,
            base_hex: sysfs::format_base(range.base),
            size: range.size,
            end,
            end_hex: end.map(sysfs::format_base),
            below_4g: end.is_some_and(|e| e <= LIMIT_4G),
        }),
        device_option: range.check().is_ok().then(|| range.device_option()),
        per_device: per_device_report(&detail),
        problems: detail
            .problems
            .iter()
            .map(|p| ProblemReport {
                file: show(&p.file),
                line: p.line,
                message: p.message.clone(),
            })
            .collect(),
    };
    Ok(StatusOutcome { report, error })
}

fn per_device_report(detail: &Detail) -> PerDeviceReport {
    PerDeviceReport {
        dir: show(&detail.dir),
        available: detail.unavailable.is_none(),
        unavailable_reason: detail.unavailable.clone(),
        layout: detail.layout,
        devices: detail
            .devices
            .clone()
            .map(|ds| ds.into_iter().map(DeviceReport::from).collect()),
    }
}

/// `64 MiB` style rendering for sizes that are a whole number of units.
pub fn human_size(bytes: u64) -> Option<String> {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit && bytes.is_multiple_of(*unit))
        .map(|(unit, name)| format!("{} {name}", bytes / unit))
}

fn with_human(bytes: u64) -> String {
    match human_size(bytes) {
        Some(h) => format!("{bytes} ({h})"),
        None => bytes.to_string(),
    }
}

/// Renders rows as a table: first `left` columns left-aligned, the rest
/// right-aligned, two spaces between columns, each line indented by two.
fn table(header: &[&str], rows: &[Vec<String>], left: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::from(" ");
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i < left {
                let _ = write!(line, " {cell:<w$}");
            } else {
                let _ = write!(line, " {cell:>w$}");
            }
            line.push(' ');
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

impl StatusReport {
    /// The report as pretty-printed JSON (with a trailing newline).
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and integers cannot fail.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }

    /// The report as human-readable text.
    pub fn to_text(&self) -> String {
        fn field(out: &mut String, name: &str, value: &str) {
            let _ = writeln!(out, "  {:<15}{value}", format!("{name}:"));
        }
        let mut out = String::new();
        out.push_str("Bounce-buffer pool\n");
        if !self.supported {
            field(&mut out, "supported", "no");
            field(&mut out, "searched", &self.searched.join(", "));
            return out;
        }
        field(&mut out, "supported", "yes");
        if let Some(dir) = &self.driver_dir {
            let kind = match self.source {
                Some(Source::HvPci) => " (hv_pci)",
                Some(Source::TestMode) => " (virtio-pci test mode)",
                _ => "",
            };
            field(&mut out, "driver dir", &format!("{dir}{kind}"));
        }
        if let Some(from) = &self.fell_back_from {
            field(
                &mut out,
                "note",
                &format!("no swiotlb attributes in {from}; fell back to the test-mode directory"),
            );
        }
        if let Some(r) = &self.range {
            field(&mut out, "base", &r.base_hex);
            field(&mut out, "size", &with_human(r.size));
            field(
                &mut out,
                "end",
                &match &r.end_hex {
                    Some(end) => format!("{end} (exclusive)"),
                    None => "overflows 64 bits".to_owned(),
                },
            );
            field(
                &mut out,
                "below 4 GiB",
                if r.below_4g { "yes" } else { "NO" },
            );
        }
        field(
            &mut out,
            "device option",
            self.device_option.as_deref().unwrap_or("- (invalid range)"),
        );

        let pd = &self.per_device;
        let _ = writeln!(out, "\nPer-device detail ({})", pd.dir);
        if let Some(reason) = &pd.unavailable_reason {
            field(&mut out, "available", "no");
            field(&mut out, "reason", reason);
        } else {
            field(
                &mut out,
                "layout",
                pd.layout.map_or("unknown", Layout::as_str),
            );
            match &pd.devices {
                None => field(&mut out, "devices", "unknown"),
                Some(devices) if devices.is_empty() => {
                    field(&mut out, "devices", "0 (no device is attached to the pool)")
                }
                Some(devices) => {
                    field(&mut out, "devices", &devices.len().to_string());
                    out.push('\n');
                    let rows: Vec<Vec<String>> = devices
                        .iter()
                        .map(|d| {
                            vec![
                                d.device.clone(),
                                d.driver.clone().unwrap_or_else(|| "-".to_owned()),
                                d.base_hex.clone(),
                                d.size.to_string(),
                                d.slots.to_string(),
                                d.used.to_string(),
                                d.hiwater.to_string(),
                                d.mappings.to_string(),
                                d.failures.to_string(),
                            ]
                        })
                        .collect();
                    out.push_str(&table(
                        &[
                            "DEVICE", "DRIVER", "BASE", "SIZE", "SLOTS", "USED", "HIWATER",
                            "MAPPINGS", "FAILURES",
                        ],
                        &rows,
                        3,
                    ));
                }
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(out, "\nProblems ({})", self.problems.len());
            for p in &self.problems {
                match p.line {
                    Some(line) => {
                        let _ = writeln!(out, "  {}:{line}: {}", p.file, p.message);
                    }
                    None => {
                        let _ = writeln!(out, "  {}: {}", p.file, p.message);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(64 << 20).as_deref(), Some("64 MiB"));
        assert_eq!(human_size(2048).as_deref(), Some("2 KiB"));
        assert_eq!(human_size(1 << 30).as_deref(), Some("1 GiB"));
        assert_eq!(human_size(1000), None);
        assert_eq!(human_size(0), None);
    }

    #[test]
    fn table_aligns() {
        let t = table(
            &["A", "NUM"],
            &[
                vec!["long-name".into(), "1".into()],
                vec!["x".into(), "12345".into()],
            ],
            1,
        );
        assert_eq!(
            t,
            "  A            NUM\n  long-name      1\n  x          12345\n"
        );
    }

    #[test]
    fn unsupported_report_renders() {
        let root = tempfile::tempdir().unwrap();
        let outcome = status(root.path(), &DirChoice::Auto, false).unwrap();
        assert!(!outcome.report.supported);
        assert!(matches!(outcome.error, Some(Error::Unsupported { .. })));
        assert!(outcome.report.to_text().contains("supported:     no"));
        let json: serde_json::Value = serde_json::from_str(&outcome.report.to_json()).unwrap();
        assert_eq!(json["supported"], false);
        assert_eq!(json["searched"].as_array().unwrap().len(), 2);
    }
}
