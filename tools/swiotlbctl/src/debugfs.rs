// SPDX-License-Identifier: GPL-2.0
//! Per-device detail from `/sys/kernel/debug/hv_pci_swiotlb/`.
//!
//! debugfs is not a stable ABI, so this module never fails hard: content it
//! cannot understand becomes a [`Problem`] (file, line, message) and the
//! rest of the file is still used. `status --strict` turns problems into
//! exit code 2.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::sysfs::{format_base, parse_dec_token, parse_hex_token, read_small, PoolRange};

/// The debugfs mount point, relative to the sysfs root.
pub const DEBUGFS_MOUNT: &str = "sys/kernel/debug";
/// The driver's debugfs directory, relative to the sysfs root.
pub const DEBUGFS_DIR: &str = "sys/kernel/debug/hv_pci_swiotlb";
/// File holding the layout.
pub const LAYOUT_FILE: &str = "layout";
/// File holding the device table.
pub const DEVICES_FILE: &str = "devices";
/// Size of one bounce-buffer slot (`IO_TLB_SIZE`).
pub const SLOT_SIZE: u64 = 2048;
/// Column names of the `devices` table, as in its header line.
pub const DEVICE_COLUMNS: [&str; 9] = [
    "device", "driver", "base", "size", "slots", "used", "hiwater", "mappings", "failures",
];

/// How the pool is divided between devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Each device has its own slice of the range.
    PerDevice,
    /// All devices share the whole range.
    Shared,
}

impl Layout {
    /// The spelling used in the `layout` file.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::PerDevice => "per-device",
            Layout::Shared => "shared",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the content of the `layout` file: `per-device\n` or `shared\n`
/// (the newline is optional, nothing else is allowed).
pub fn parse_layout(content: &[u8]) -> Result<Layout, String> {
    let text = std::str::from_utf8(content).map_err(|_| "not valid UTF-8 text".to_owned())?;
    match text.strip_suffix('\n').unwrap_or(text) {
        "per-device" => Ok(Layout::PerDevice),
        "shared" => Ok(Layout::Shared),
        "" => Err("empty file (expected \"per-device\" or \"shared\")".to_owned()),
        other => Err(format!(
            "unknown layout {other:?} (expected \"per-device\" or \"shared\")"
        )),
    }
}

/// One row of the `devices` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// PCI address, `DDDD:BB:DD.F`.
    pub device: String,
    /// Bound driver, `None` for `-`.
    pub driver: Option<String>,
    /// Start of the device's slice.
    pub base: u64,
    /// Slice length in bytes.
    pub size: u64,
    /// Number of 2 KiB slots in the slice.
    pub slots: u64,
    /// Slots in use now.
    pub used: u64,
    /// Maximum slots ever in use.
    pub hiwater: u64,
    /// Number of bounce mappings made.
    pub mappings: u64,
    /// Number of bounce mappings that found no room in the pool.
    pub failures: u64,
}

impl Device {
    /// Formats the row the way the kernel prints it (without newline).
    pub fn to_line(&self) -> String {
        format!(
            "{} {} {} {} {} {} {} {} {}",
            self.device,
            self.driver.as_deref().unwrap_or("-"),
            format_base(self.base),
            self.size,
            self.slots,
            self.used,
            self.hiwater,
            self.mappings,
            self.failures
        )
    }
}

/// Whether `s` is a PCI address as the kernel prints it
/// (`%04x:%02x:%02x.%d`): lowercase hex domain of 4 to 8 digits, 2-digit
/// bus, 2-digit device (at most `1f`), function 0-7.
pub fn is_pci_address(s: &str) -> bool {
    fn hex(s: &str, min: usize, max: usize) -> bool {
        (min..=max).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
    let mut parts = s.split(':');
    let (Some(domain), Some(bus), Some(devfn), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some((dev, func)) = devfn.split_once('.') else {
        return false;
    };
    hex(domain, 4, 8)
        && hex(bus, 2, 2)
        && hex(dev, 2, 2)
        && u8::from_str_radix(dev, 16).is_ok_and(|d| d < 32)
        && func.len() == 1
        && (b'0'..=b'7').contains(&func.as_bytes()[0])
}

/// Parses one data line of the `devices` file: the nine
/// [`DEVICE_COLUMNS`], separated by whitespace.
///
/// ```
/// use swiotlbctl::debugfs::parse_device_line;
/// let line = "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234 5";
/// let d = parse_device_line(line).unwrap();
/// assert_eq!((d.mappings, d.failures), (1234, 5));
/// assert_eq!(d.to_line(), line);
/// // The older 8-column format is malformed.
/// let err = parse_device_line("0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234");
/// assert!(err.unwrap_err().contains("found 8"));
/// ```
pub fn parse_device_line(line: &str) -> Result<Device, String> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    if cols.len() != DEVICE_COLUMNS.len() {
        return Err(format!(
            "expected {} columns ({}), found {}",
            DEVICE_COLUMNS.len(),
            DEVICE_COLUMNS.join(" "),
            cols.len()
        ));
    }
    if !is_pci_address(cols[0]) {
        return Err(format!(
            "column \"device\": {:?} is not a PCI address (dddd:bb:dd.f)",
            cols[0]
        ));
    }
    let col = |i: usize, parse: fn(&str) -> Result<u64, crate::sysfs::ParseError>| {
        parse(cols[i]).map_err(|e| format!("column {:?}: {:?}: {e}", DEVICE_COLUMNS[i], cols[i]))
    };
    let size = col(3, parse_dec_token)?;
    if size == 0 {
        return Err(format!(
            "column \"size\": {:?}: size must not be 0",
            cols[3]
        ));
    }
    Ok(Device {
        device: cols[0].to_owned(),
        driver: (cols[1] != "-").then(|| cols[1].to_owned()),
        base: col(2, parse_hex_token)?,
        size,
        slots: col(4, parse_dec_token)?,
        used: col(5, parse_dec_token)?,
        hiwater: col(6, parse_dec_token)?,
        mappings: col(7, parse_dec_token)?,
        failures: col(8, parse_dec_token)?,
    })
}

/// A problem found in one line (or the whole) of a text file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// 1-based line number, `None` for the file as a whole.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// A device row together with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number in the `devices` file.
    pub line: usize,
    /// The parsed row.
    pub device: Device,
}

/// Parses the whole `devices` file. Bad lines are reported and skipped.
///
/// The first line must be the `#` header naming [`DEVICE_COLUMNS`]; later
/// lines starting with `#` are ignored as comments.
pub fn parse_devices(text: &str) -> (Vec<Entry>, Vec<Issue>) {
    let mut entries = Vec::new();
    let mut issues = Vec::new();
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() {
        issues.push(Issue {
            line: None,
            message: "empty file (expected at least the header line)".to_owned(),
        });
        return (entries, issues);
    }
    for (idx, line) in body.split('\n').enumerate() {
        let lineno = idx + 1;
        if let Some(comment) = line.strip_prefix('#') {
            if lineno == 1 && !comment.split_whitespace().eq(DEVICE_COLUMNS) {
                issues.push(Issue {
                    line: Some(1),
                    message: format!(
                        "unexpected header {line:?} (expected \"# {}\")",
                        DEVICE_COLUMNS.join(" ")
                    ),
                });
            }
            continue;
        }
        if lineno == 1 {
            issues.push(Issue {
                line: Some(1),
                message: format!("missing header line \"# {}\"", DEVICE_COLUMNS.join(" ")),
            });
        }
        if line.trim().is_empty() {
            issues.push(Issue {
                line: Some(lineno),
                message: "empty line".to_owned(),
            });
            continue;
        }
        match parse_device_line(line) {
            Ok(device) => entries.push(Entry {
                line: lineno,
                device,
            }),
            Err(message) => issues.push(Issue {
                line: Some(lineno),
                message: format!("{message}: {line:?}"),
            }),
        }
    }
    (entries, issues)
}

/// Consistency checks across rows: slot accounting, slices inside the
/// pool range, duplicate devices and (for the per-device layout)
/// overlapping slices.
pub fn check_devices(
    entries: &[Entry],
    layout: Option<Layout>,
    range: Option<&PoolRange>,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for Entry { line, device: d } in entries {
        let mut warn = |message: String| {
            issues.push(Issue {
                line: Some(*line),
                message: format!("{}: {message}", d.device),
            })
        };
        if let Some(first) = seen.insert(&d.device, *line) {
            warn(format!("listed again (first on line {first})"));
        }
        if d.slots.checked_mul(SLOT_SIZE) != Some(d.size) {
            warn(format!(
                "size {} is not slots ({}) x {SLOT_SIZE}",
                d.size, d.slots
            ));
        }
        if d.used > d.slots {
            warn(format!("used ({}) exceeds slots ({})", d.used, d.slots));
        }
        if d.hiwater > d.slots {
            warn(format!(
                "hiwater ({}) exceeds slots ({})",
                d.hiwater, d.slots
            ));
        }
        // The kernel tracks the high water mark only with swiotlb=track_hiwater; 0 means untracked.
        if d.hiwater > 0 && d.used > d.hiwater {
            warn(format!("used ({}) exceeds hiwater ({})", d.used, d.hiwater));
        }
        if let (Some(range), Some(pool_end)) = (range, range.and_then(PoolRange::end)) {
            let inside =
                d.base >= range.base && d.base.checked_add(d.size).is_some_and(|e| e <= pool_end);
            if !inside {
                warn(format!(
                    "slice {} + {} lies outside the pool range {}..{}",
                    format_base(d.base),
                    d.size,
                    format_base(range.base),
                    format_base(pool_end)
                ));
            }
        }
    }
    if layout == Some(Layout::PerDevice) {
        let mut sorted: Vec<&Entry> = entries.iter().collect();
        sorted.sort_by_key(|e| e.device.base);
        for pair in sorted.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let a_end = a.device.base.saturating_add(a.device.size);
            // Devices beyond the number of slices share one: the very same slice is fine.
            let same_slice = a.device.base == b.device.base && a.device.size == b.device.size;
            if b.device.base < a_end && a.device.device != b.device.device && !same_slice {
                issues.push(Issue {
                    line: Some(b.line),
                    message: format!(
                        "{}: slice overlaps the slice of {} (line {}) in the per-device layout",
                        b.device.device, a.device.device, a.line
                    ),
                });
            }
        }
    }
    issues
}

/// A problem in a debugfs file, with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Full path of the file.
    pub file: PathBuf,
    /// 1-based line number, `None` for the file as a whole.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Everything read from the debugfs directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// Full path of the debugfs directory.
    pub dir: PathBuf,
    /// Why the directory cannot be used at all (debugfs not mounted, no
    /// permission, ...). `None` when it was read.
    pub unavailable: Option<String>,
    /// The layout, if `layout` was read and understood.
    pub layout: Option<Layout>,
    /// The device rows, if `devices` was read (bad lines left out).
    pub devices: Option<Vec<Device>>,
    /// Problems found in the files.
    pub problems: Vec<Problem>,
}

fn describe_missing(root: &Path, dir: &Path) -> String {
    let mount = root.join(DEBUGFS_MOUNT);
    match fs::read_dir(&mount) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            format!("debugfs mount point {} does not exist", mount.display())
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => format!(
            "permission denied reading {}: debugfs is readable only by root",
            mount.display()
        ),
        Err(e) => format!("{}: {e}", mount.display()),
        Ok(mut entries) => {
            if entries.next().is_none() {
                return format!(
                    "debugfs is not mounted at {} (mount it with: mount -t debugfs none /sys/kernel/debug)",
                    mount.display()
                );
            }
            format!(
                "{} does not exist: the running kernel does not publish per-device detail in debugfs",
                dir.display()
            )
        }
    }
}

fn read_file(path: &Path, problems: &mut Vec<Problem>) -> Option<Vec<u8>> {
    let message = match read_small(path) {
        Ok(content) => return Some(content),
        Err(e) if e.kind() == io::ErrorKind::NotFound => "file is missing".to_owned(),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            "permission denied: reading it requires root privileges".to_owned()
        }
        Err(e) => e.to_string(),
    };
    problems.push(Problem {
        file: path.to_path_buf(),
        line: None,
        message,
    });
    None
}

/// Reads and checks the debugfs detail under `root`. Never fails: anything
/// that goes wrong ends up in [`Detail::unavailable`] or
/// [`Detail::problems`].
pub fn read_detail(root: &Path, range: Option<&PoolRange>) -> Detail {
    let dir = root.join(DEBUGFS_DIR);
    let mut detail = Detail {
        dir: dir.clone(),
        unavailable: None,
        layout: None,
        devices: None,
        problems: Vec::new(),
    };
    let unavailable = match fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some(format!("{} is not a directory", dir.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(describe_missing(root, &dir)),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Some(format!(
            "permission denied reading {}: debugfs is readable only by root",
            dir.display()
        )),
        Err(e) => Some(format!("{}: {e}", dir.display())),
    };
    if unavailable.is_some() {
        detail.unavailable = unavailable;
        return detail;
    }

    let layout_path = dir.join(LAYOUT_FILE);
    if let Some(content) = read_file(&layout_path, &mut detail.problems) {
        match parse_layout(&content) {
            Ok(layout) => detail.layout = Some(layout),
            Err(message) => detail.problems.push(Problem {
                file: layout_path,
                line: Some(1),
                message,
            }),
        }
    }

    let devices_path = dir.join(DEVICES_FILE);
    if let Some(content) = read_file(&devices_path, &mut detail.problems) {
        let text = match String::from_utf8(content) {
            Ok(text) => text,
            Err(e) => {
                detail.problems.push(Problem {
                    file: devices_path.clone(),
                    line: None,
                    message: "not valid UTF-8 text (invalid bytes replaced)".to_owned(),
                });
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        let (entries, mut issues) = parse_devices(&text);
        issues.extend(check_devices(&entries, detail.layout, range));
        issues.sort_by_key(|i| i.line);
        detail.problems.extend(issues.into_iter().map(|i| Problem {
            file: devices_path.clone(),
            line: i.line,
            message: i.message,
        }));
        detail.devices = Some(entries.into_iter().map(|e| e.device).collect());
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "# device driver base size slots used hiwater mappings failures";

    fn dev(addr: &str, base: u64, slots: u64) -> Device {
        Device {
            device: addr.to_owned(),
            driver: Some("virtio-pci".to_owned()),
            base,
            size: slots * SLOT_SIZE,
            slots,
            used: 0,
            hiwater: 0,
            mappings: 0,
            failures: 0,
        }
    }

    #[test]
    fn layout_parses() {
        assert_eq!(parse_layout(b"per-device\n"), Ok(Layout::PerDevice));
        assert_eq!(parse_layout(b"shared\n"), Ok(Layout::Shared));
        assert_eq!(parse_layout(b"shared"), Ok(Layout::Shared));
        for bad in [
            &b""[..],
            b"\n",
            b"Shared\n",
            b"shared \n",
            b"shared\n\n",
            b"per_device\n",
            b"\xff",
        ] {
            assert!(parse_layout(bad).is_err(), "{bad:?}");
        }
        assert!(parse_layout(b"bogus\n").unwrap_err().contains("\"bogus\""));
    }

    #[test]
    fn pci_addresses() {
        for good in ["0000:00:03.0", "0001:ff:1f.7", "abcd1234:00:00.0"] {
            assert!(is_pci_address(good), "{good}");
        }
        for bad in [
            "",
            "00:03.0",
            "0000:00:03",
            "0000:00:20.0",
            "0000:00:03.8",
            "0000:0:03.0",
            "000:00:03.0",
            "0000:00:03.0.1",
            "0000:00:03.00",
            "0000:AB:03.0",
            "0000:00:03:0",
            "123456789:00:00.0",
        ] {
            assert!(!is_pci_address(bad), "{bad}");
        }
    }

    #[test]
    fn device_line_parses() {
        let d = parse_device_line("0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234 5")
            .unwrap();
        assert_eq!(
            d,
            Device {
                device: "0000:00:03.0".into(),
                driver: Some("virtio-pci".into()),
                base: 0x7c00_0000,
                size: 16_777_216,
                slots: 8192,
                used: 0,
                hiwater: 37,
                mappings: 1234,
                failures: 5,
            }
        );
        let unbound = parse_device_line("0000:00:04.0   -\t0x7d000000 2048 1 0 0 0 0").unwrap();
        assert_eq!(unbound.driver, None);
        assert_eq!(
            unbound.to_line(),
            "0000:00:04.0 - 0x7d000000 2048 1 0 0 0 0"
        );
    }

    #[test]
    fn device_line_rejects() {
        let cases = [
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1",
                "expected 9 columns",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1 2 3",
                "found 10",
            ),
            (
                "00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1 0",
                "not a PCI address",
            ),
            (
                "0000:00:03.0 virtio-pci 7c000000 16777216 8192 0 37 1 0",
                "column \"base\"",
            ),
            (
                "0000:00:03.0 virtio-pci 0X7c000000 16777216 8192 0 37 1 0",
                "0X",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 0 8192 0 37 1 0",
                "size must not be 0",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16M 8192 0 37 1 0",
                "column \"size\"",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16777216 -1 0 37 1 0",
                "column \"slots\"",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 x 37 1 0",
                "column \"used\"",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 3.7 1 0",
                "column \"hiwater\"",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 99999999999999999999 0",
                "column \"mappings\"",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1 0x5",
                "column \"failures\"",
            ),
            (
                "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1 05",
                "column \"failures\"",
            ),
        ];
        for (line, want) in cases {
            let err = parse_device_line(line).unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn eight_column_line_is_malformed() {
        // The format before the `failures` column was added.
        let err = parse_device_line("0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234")
            .unwrap_err();
        assert!(
            err.starts_with(
                "expected 9 columns (device driver base size slots used hiwater mappings \
                 failures), found 8"
            ),
            "{err}"
        );
    }

    #[test]
    fn non_decimal_failures_names_the_column() {
        for bad in ["x", "-1", "0x5", "1.5", "05", "18446744073709551616"] {
            let line = format!("0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234 {bad}");
            let err = parse_device_line(&line).unwrap_err();
            assert!(
                err.starts_with(&format!("column \"failures\": {bad:?}: ")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn devices_file_parses() {
        let text = format!(
            "{HEADER}\n0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234 5\n\
             0000:00:04.0 - 0x7d000000 16777216 8192 3 9 10 0\n"
        );
        let (entries, issues) = parse_devices(&text);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].line, 3);
        assert_eq!(entries[1].device.driver, None);
        assert_eq!(entries[0].device.failures, 5);

        let (entries, issues) = parse_devices(&format!("{HEADER}\n"));
        assert!(entries.is_empty() && issues.is_empty());
        // Without the final newline too.
        let (entries, issues) = parse_devices(HEADER);
        assert!(entries.is_empty() && issues.is_empty());
    }

    #[test]
    fn devices_file_reports_bad_lines() {
        let text = format!(
            "{HEADER}\n0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234 5\n\
             garbage\n\n0000:00:05.0 - 0x7e000000 2048 1 0 0 0 0\n"
        );
        let (entries, issues) = parse_devices(&text);
        assert_eq!(entries.len(), 2);
        let lines: Vec<_> = issues.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![Some(3), Some(4)]);
        assert!(issues[0].message.contains("\"garbage\""));

        let (_, issues) = parse_devices("");
        assert_eq!(issues[0].line, None);
        let (entries, issues) =
            parse_devices("0000:00:03.0 virtio-pci 0x7c000000 2048 1 0 0 0 0\n");
        assert_eq!(entries.len(), 1);
        assert!(issues[0].message.contains("missing header"));
        let (_, issues) = parse_devices("# device base\n");
        assert!(issues[0].message.contains("unexpected header"));
    }

    #[test]
    fn old_eight_column_header_is_rejected() {
        let text = "# device driver base size slots used hiwater mappings\n\
                    0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234\n";
        let (entries, issues) = parse_devices(text);
        assert!(entries.is_empty());
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert_eq!(issues[0].line, Some(1));
        assert_eq!(
            issues[0].message,
            "unexpected header \"# device driver base size slots used hiwater mappings\" \
             (expected \"# device driver base size slots used hiwater mappings failures\")"
        );
        assert_eq!(issues[1].line, Some(2));
        assert!(
            issues[1].message.contains("expected 9 columns"),
            "{issues:?}"
        );
    }

    #[test]
    fn consistency_checks() {
        let range = PoolRange {
            base: 0x7c00_0000,
            size: 64 << 20,
        };
        let good = [
            Entry {
                line: 2,
                device: dev("0000:00:03.0", 0x7c00_0000, 8192),
            },
            Entry {
                line: 3,
                device: dev("0000:00:04.0", 0x7d00_0000, 8192),
            },
        ];
        assert!(check_devices(&good, Some(Layout::PerDevice), Some(&range)).is_empty());

        let mut bad_sizes = dev("0000:00:03.0", 0x7c00_0000, 8192);
        bad_sizes.size += 1;
        bad_sizes.used = 9000;
        bad_sizes.hiwater = 10;
        let issues = check_devices(
            &[Entry {
                line: 2,
                device: bad_sizes,
            }],
            None,
            Some(&range),
        );
        let text: Vec<_> = issues.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(issues.len(), 3, "{text:?}");
        assert!(text[0].contains("not slots"));
        assert!(text[1].contains("used (9000) exceeds slots"));
        assert!(text[2].contains("exceeds hiwater"));

        let outside = [Entry {
            line: 2,
            device: dev("0000:00:03.0", 0x8000_0000, 1),
        }];
        let issues = check_devices(&outside, None, Some(&range));
        assert!(
            issues[0].message.contains("outside the pool range"),
            "{issues:?}"
        );

        let overlapping = [
            Entry {
                line: 2,
                device: dev("0000:00:03.0", 0x7c00_0000, 8192),
            },
            Entry {
                line: 3,
                device: dev("0000:00:04.0", 0x7c00_0800, 1),
            },
        ];
        let issues = check_devices(&overlapping, Some(Layout::PerDevice), Some(&range));
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("overlaps"));
        assert!(check_devices(&overlapping, Some(Layout::Shared), Some(&range)).is_empty());

        // More devices than slices: two devices on the very same slice is not an overlap.
        let sharing = [
            Entry {
                line: 2,
                device: dev("0000:00:03.0", 0x7c00_0000, 8192),
            },
            Entry {
                line: 3,
                device: dev("0000:00:04.0", 0x7c00_0000, 8192),
            },
        ];
        assert!(check_devices(&sharing, Some(Layout::PerDevice), Some(&range)).is_empty());

        // Without swiotlb=track_hiwater the kernel reports hiwater 0: not a problem.
        let mut untracked = dev("0000:00:03.0", 0x7c00_0000, 8192);
        untracked.used = 5;
        untracked.hiwater = 0;
        let untracked = [Entry {
            line: 2,
            device: untracked,
        }];
        assert!(check_devices(&untracked, Some(Layout::PerDevice), Some(&range)).is_empty());

        let dup = [
            Entry {
                line: 2,
                device: dev("0000:00:03.0", 0x7c00_0000, 1),
            },
            Entry {
                line: 3,
                device: dev("0000:00:03.0", 0x7d00_0000, 1),
            },
        ];
        let issues = check_devices(&dup, None, None);
        assert!(issues[0].message.contains("listed again (first on line 2)"));
    }
}
