// SPDX-License-Identifier: GPL-2.0
//! End-to-end tests: build synthetic sysfs/debugfs trees in temporary
//! directories and run the real binary against them with `--sysfs-root`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_swiotlbctl");
const MISSING: &str = "The running kernel is missing a patch that significantly improves virtio device performance. Update to a more recent WSL kernel to enable this optimization.";
const HV: &str = "sys/bus/vmbus/drivers/hv_pci";
const VIRTIO: &str = "sys/bus/pci/drivers/virtio-pci";
const DEBUG: &str = "sys/kernel/debug/hv_pci_swiotlb";
const HEADER: &str = "# device driver base size slots used hiwater mappings failures\n";
const TWO_DEVICES: &str = "# device driver base size slots used hiwater mappings failures\n\
     0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234 5\n\
     0000:00:04.0 - 0x7d000000 16777216 8192 12 512 98765 0\n";

/// A synthetic tree under a temporary directory.
struct Tree {
    dir: TempDir,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Tree {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        self
    }

    fn mkdir(&self, rel: &str) -> &Tree {
        fs::create_dir_all(self.path(rel)).unwrap();
        self
    }

    /// Publishes the two attributes in `dir`.
    fn attrs(&self, dir: &str, base: &str, size: &str) -> &Tree {
        self.write(&format!("{dir}/swiotlb_base"), base)
            .write(&format!("{dir}/swiotlb_size"), size)
    }

    /// The usual 64 MiB pool at 0x7c000000 in the hv_pci directory.
    fn hv_default(&self) -> &Tree {
        self.attrs(HV, "0x7c000000\n", "67108864\n")
    }

    fn debugfs(&self, layout: &str, devices: &str) -> &Tree {
        self.write(&format!("{DEBUG}/layout"), layout)
            .write(&format!("{DEBUG}/devices"), devices)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--sysfs-root").arg(self.root()).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run swiotlbctl"))
    }
}

/// The result of one run, with convenient accessors.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().expect("exited normally (no signal)"),
            stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
        }
    }
}

impl Run {
    #[track_caller]
    fn code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout\n{}--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).expect("valid JSON on stdout")
    }
}

fn run_plain(args: &[&str]) -> Run {
    Run::from(Command::new(BIN).args(args).output().unwrap())
}

// ---------------------------------------------------------------------------
// device-option: locations and fallback

#[test]
fn device_option_reads_hv_pci() {
    let t = Tree::new();
    t.hv_default();
    let r = t.run(&["device-option"]);
    r.code(0);
    assert_eq!(r.stdout, "swiotlb=0x7c000000,67108864\n");
    assert_eq!(r.stderr, "");
}

#[test]
fn device_option_accepts_missing_trailing_newline() {
    let t = Tree::new();
    t.attrs(HV, "0x0", "2048");
    let r = t.run(&["device-option"]);
    r.code(0);
    assert_eq!(r.stdout, "swiotlb=0x0,2048\n");
}

#[test]
fn device_option_falls_back_to_test_mode_and_says_so() {
    let t = Tree::new();
    t.attrs(VIRTIO, "0x40000000\n", "33554432\n");
    // The hv_pci driver directory may exist without the attributes.
    t.mkdir(HV);
    let r = t.run(&["device-option"]);
    r.code(0);
    assert_eq!(r.stdout, "swiotlb=0x40000000,33554432\n");
    assert!(r.stderr.contains("note:"), "{}", r.stderr);
    assert!(r.stderr.contains(&t.path(VIRTIO).display().to_string()));
    assert!(r.stderr.contains(&t.path(HV).display().to_string()));
    assert!(r.stderr.contains("test mode"));
}

#[test]
fn hv_pci_wins_over_test_mode() {
    let t = Tree::new();
    t.hv_default().attrs(VIRTIO, "0x40000000\n", "2048\n");
    let r = t.run(&["device-option"]);
    r.code(0);
    assert_eq!(r.stdout, "swiotlb=0x7c000000,67108864\n");
    assert_eq!(r.stderr, "");
}

#[test]
fn test_mode_flag_selects_virtio_pci() {
    let t = Tree::new();
    t.hv_default().attrs(VIRTIO, "0x40000000\n", "2048\n");
    let r = t.run(&["--test-mode", "device-option"]);
    r.code(0);
    assert_eq!(r.stdout, "swiotlb=0x40000000,2048\n");
    assert_eq!(r.stderr, "", "no fallback note for an explicit choice");
}

#[test]
fn driver_dir_is_resolved_under_the_root() {
    let t = Tree::new();
    t.attrs("custom/dir", "0x1000\n", "4096\n");
    for dir in ["custom/dir", "/custom/dir"] {
        let r = t.run(&["device-option", "--driver-dir", dir]);
        r.code(0);
        assert_eq!(r.stdout, "swiotlb=0x1000,4096\n");
    }
}

#[test]
fn explicit_dir_without_attributes_is_unsupported() {
    let t = Tree::new();
    t.hv_default();
    let r = t.run(&["--test-mode", "device-option"]);
    r.code(3);
    assert!(r.stderr.ends_with(&format!("{MISSING}\n")));
    assert!(r.stderr.contains(&t.path(VIRTIO).display().to_string()));
    t.run(&["--driver-dir", "nowhere", "device-option"]).code(3);
}

#[test]
fn missing_attributes_print_exact_message() {
    let t = Tree::new();
    for args in [&["device-option"][..], &["status"], &["status", "--json"]] {
        let r = t.run(args);
        r.code(3);
        assert_eq!(r.stderr, format!("{MISSING}\n"), "{args:?}");
    }
    // Driver directories present, attributes absent: same.
    t.mkdir(HV).mkdir(VIRTIO);
    let r = t.run(&["device-option"]);
    r.code(3);
    assert_eq!(r.stderr, format!("{MISSING}\n"));
    assert_eq!(r.stdout, "");
}

// ---------------------------------------------------------------------------
// Malformed content: exit 2, message names the file and the value

/// (which attribute is bad, content, text the reason must contain)
const MALFORMED: &[(&str, &str, &str)] = &[
    ("swiotlb_base", "", "empty"),
    ("swiotlb_base", "\n", "empty"),
    ("swiotlb_base", "0xzz\n", "invalid digit"),
    ("swiotlb_base", "0x7c00g000\n", "trailing"),
    ("swiotlb_base", "7c000000\n", "must start with \"0x\""),
    ("swiotlb_base", "0X7c000000\n", "0X"),
    ("swiotlb_base", "0x7C000000\n", "uppercase"),
    ("swiotlb_base", "0x007c0000\n", "leading zeros"),
    ("swiotlb_base", "0x7c000000 junk\n", "trailing"),
    ("swiotlb_base", "0x7c000000\n\n", "trailing"),
    ("swiotlb_base", "0x7c000000\r\n", "trailing"),
    ("swiotlb_base", " 0x7c000000\n", "must start with \"0x\""),
    ("swiotlb_base", "0x10000000000000000\n", "64 bits"),
    ("swiotlb_size", "", "empty"),
    ("swiotlb_size", "0\n", "must not be 0"),
    ("swiotlb_size", "18446744073709551616\n", "64 bits"),
    ("swiotlb_size", "99999999999999999999999\n", "64 bits"),
    ("swiotlb_size", "0x4000000\n", "decimal"),
    ("swiotlb_size", "64M\n", "trailing"),
    ("swiotlb_size", "-1\n", "invalid digit"),
    ("swiotlb_size", "67108864\nextra\n", "trailing"),
    ("swiotlb_size", "\u{fffd}\n", "invalid digit"),
];

#[test]
fn malformed_attributes_exit_2_naming_file_and_value() {
    for (attr, content, reason) in MALFORMED {
        for (dir, extra) in [(HV, &[][..]), (VIRTIO, &["--test-mode"][..])] {
            let t = Tree::new();
            t.attrs(dir, "0x7c000000\n", "67108864\n");
            t.write(&format!("{dir}/{attr}"), content);
            for cmd in ["device-option", "status"] {
                let mut args = extra.to_vec();
                args.push(cmd);
                let r = t.run(&args);
                r.code(2);
                let file = t.path(&format!("{dir}/{attr}")).display().to_string();
                assert!(r.stderr.contains(&file), "{content:?}: {}", r.stderr);
                assert!(
                    r.stderr.contains(&format!("{content:?}")),
                    "{content:?} not quoted in: {}",
                    r.stderr
                );
                assert!(r.stderr.contains(reason), "{content:?}: {}", r.stderr);
                assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
                assert_eq!(r.stdout, "", "nothing on stdout for a malformed attribute");
            }
        }
    }
}

#[test]
fn binary_garbage_is_reported_not_panicked() {
    let t = Tree::new();
    t.hv_default()
        .write(&format!("{HV}/swiotlb_base"), b"0x7c\xff\x00\n");
    let r = t.run(&["device-option"]);
    r.code(2);
    assert!(r.stderr.contains("UTF-8"), "{}", r.stderr);
    assert!(r.stderr.contains("swiotlb_base"));

    let t = Tree::new();
    t.hv_default()
        .write(&format!("{HV}/swiotlb_size"), vec![b'1'; 10_000]);
    let r = t.run(&["device-option"]);
    r.code(2);
    assert!(r.stderr.contains("too long"), "{}", r.stderr);
}

#[test]
fn range_beyond_4g_exits_2_naming_both_files() {
    let cases = [
        ("0xfc000000\n", "67108865\n", "0x100000001"),
        ("0x100000000\n", "2048\n", "beyond the 4 GiB limit"),
        ("0xffffffffffffffff\n", "1\n", "overflows"),
        ("0x1\n", "18446744073709551615\n", "overflows"),
    ];
    for (base, size, reason) in cases {
        let t = Tree::new();
        t.attrs(HV, base, size);
        let r = t.run(&["device-option"]);
        r.code(2);
        assert_eq!(r.stdout, "");
        for attr in ["swiotlb_base", "swiotlb_size"] {
            let file = t.path(&format!("{HV}/{attr}")).display().to_string();
            assert!(r.stderr.contains(&file), "{}", r.stderr);
        }
        assert!(r.stderr.contains(base.trim_end()), "{}", r.stderr);
        assert!(r.stderr.contains(size.trim_end()), "{}", r.stderr);
        assert!(r.stderr.contains(reason), "{}", r.stderr);

        // status still shows the range, flagged, and exits 2.
        let r = t.run(&["status", "--json"]);
        r.code(2);
        let json = r.json();
        assert_eq!(json["range"]["below_4g"], false);
        assert_eq!(json["device_option"], Value::Null);
    }
}

#[test]
fn range_ending_exactly_at_4g_is_fine() {
    let t = Tree::new();
    t.attrs(HV, "0xfc000000\n", "67108864\n");
    let r = t.run(&["device-option"]);
    r.code(0);
    assert_eq!(r.stdout, "swiotlb=0xfc000000,67108864\n");
}

#[test]
fn half_published_range_exits_2() {
    let t = Tree::new();
    t.write(&format!("{HV}/swiotlb_base"), "0x7c000000\n");
    let r = t.run(&["device-option"]);
    r.code(2);
    assert!(r
        .stderr
        .contains(&t.path(&format!("{HV}/swiotlb_size")).display().to_string()));
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------
// Permission and other I/O errors

/// Whether this process can read a file with mode 000 (root, or
/// CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH).
fn bypasses_file_permissions() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    fs::write(&probe, "x").unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o000)).unwrap();
    fs::read(&probe).is_ok()
}

/// Runs the binary so that permission bits are enforced: directly when we
/// are unprivileged, otherwise as `nobody` (uid/gid 65534) from a
/// world-executable copy. Returns `Err(reason)` only when dropping
/// privileges is impossible here.
fn run_unprivileged(t: &Tree, args: &[&str]) -> Result<Run, String> {
    if !bypasses_file_permissions() {
        return Ok(t.run(args));
    }
    // `nobody` must be able to reach the tree and execute the binary.
    fs::set_permissions(t.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin_dir = tempfile::tempdir().unwrap();
    fs::set_permissions(bin_dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin_dir.path().join("swiotlbctl");
    fs::copy(BIN, &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(&bin);
    cmd.arg("--sysfs-root")
        .arg(t.root())
        .args(args)
        .uid(65534)
        .gid(65534);
    // Confirm that the unprivileged child really runs before trusting it.
    let probe = output_retrying(Command::new(&bin).arg("--version").uid(65534).gid(65534))
        .map_err(|e| format!("cannot run as uid 65534: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "binary does not run as uid 65534: {}",
            String::from_utf8_lossy(&probe.stderr)
        ));
    }
    Ok(Run::from(
        output_retrying(&mut cmd).map_err(|e| e.to_string())?,
    ))
}

/// Runs `cmd`, retrying while the fresh copy of the binary is "busy": a child
/// that another test thread forks while the copy's file is still open keeps
/// it open for writing until it execs (ETXTBSY).
fn output_retrying(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    const ETXTBSY: i32 = 26;
    let mut tries = 0;
    loop {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

fn make_tree_world_readable(t: &Tree, rels: &[&str]) {
    for rel in rels {
        let mut path = t.path(rel);
        while path.starts_with(t.root()) {
            let mode = if path.is_dir() { 0o755 } else { 0o644 };
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            if !path.pop() {
                break;
            }
        }
    }
}

#[test]
fn permission_denied_exits_4_saying_root_is_needed() {
    let t = Tree::new();
    t.hv_default();
    let base = t.path(&format!("{HV}/swiotlb_base"));
    make_tree_world_readable(
        &t,
        &[&format!("{HV}/swiotlb_size"), &format!("{HV}/swiotlb_base")],
    );
    // Sanity: the unprivileged run can read the tree, so the failure below
    // comes from the file mode alone.
    match run_unprivileged(&t, &["device-option"]) {
        Ok(r) => {
            r.code(0);
        }
        Err(reason) => {
            eprintln!("SKIPPED permission_denied_exits_4_saying_root_is_needed: {reason}");
            return;
        }
    }
    fs::set_permissions(&base, fs::Permissions::from_mode(0o000)).unwrap();
    match run_unprivileged(&t, &["device-option"]) {
        Ok(r) => {
            r.code(4);
            assert!(
                r.stderr.contains(&base.display().to_string()),
                "{}",
                r.stderr
            );
            assert!(r.stderr.contains("permission denied"), "{}", r.stderr);
            assert!(r.stderr.contains("root"), "{}", r.stderr);
        }
        Err(reason) => {
            eprintln!("SKIPPED permission_denied_exits_4_saying_root_is_needed: {reason}");
            return;
        }
    }
    // Same for status, and for an untraversable driver directory.
    run_unprivileged(&t, &["status"]).unwrap().code(4);
    fs::set_permissions(&base, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(t.path(HV), fs::Permissions::from_mode(0o000)).unwrap();
    let r = run_unprivileged(&t, &["device-option"]).unwrap();
    fs::set_permissions(t.path(HV), fs::Permissions::from_mode(0o755)).unwrap();
    r.code(4);
    assert!(
        r.stderr.contains(&t.path(HV).display().to_string()),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("root"), "{}", r.stderr);
}

#[test]
fn unreadable_debugfs_is_reported_not_fatal() {
    let t = Tree::new();
    t.hv_default().debugfs("per-device\n", TWO_DEVICES);
    make_tree_world_readable(
        &t,
        &[
            &format!("{HV}/swiotlb_base"),
            &format!("{HV}/swiotlb_size"),
            &format!("{DEBUG}/layout"),
            &format!("{DEBUG}/devices"),
        ],
    );
    if let Ok(r) = run_unprivileged(&t, &["status", "--json"]) {
        assert_eq!(r.code(0).json()["per_device"]["available"], true);
    }
    // debugfs is mode 0700 root on real systems; 000 also keeps out an
    // unprivileged owner (when the tests themselves run unprivileged).
    let debug = t.path("sys/kernel/debug");
    fs::set_permissions(&debug, fs::Permissions::from_mode(0o000)).unwrap();
    let r = run_unprivileged(&t, &["status", "--json"]);
    fs::set_permissions(&debug, fs::Permissions::from_mode(0o755)).unwrap();
    let r = match r {
        Ok(r) => r,
        Err(reason) => {
            eprintln!("SKIPPED unreadable_debugfs_is_reported_not_fatal: {reason}");
            return;
        }
    };
    r.code(0);
    let json = r.json();
    assert_eq!(json["range"]["base"], 0x7c00_0000u64);
    assert_eq!(json["per_device"]["available"], false);
    let reason = json["per_device"]["unavailable_reason"].as_str().unwrap();
    assert!(
        reason.contains("permission denied") && reason.contains("root"),
        "{reason}"
    );
}

#[test]
fn attribute_that_cannot_be_read_is_an_io_error() {
    // A directory in place of the attribute: open() works, read() fails
    // with EISDIR, for root too.
    let t = Tree::new();
    t.hv_default();
    let base = t.path(&format!("{HV}/swiotlb_base"));
    fs::remove_file(&base).unwrap();
    fs::create_dir(&base).unwrap();
    let r = t.run(&["device-option"]);
    r.code(1);
    assert!(
        r.stderr.contains(&base.display().to_string()),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------
// Usage errors and help

#[test]
fn usage_errors_exit_64() {
    for args in [
        &["--bogus"][..],
        &[],
        &["frobnicate"],
        &["status", "--jsn"],
        &["device-option", "extra"],
        &["--test-mode", "--driver-dir", "x", "status"],
        &["--sysfs-root"],
    ] {
        let r = run_plain(args);
        r.code(64);
        assert!(!r.stderr.is_empty(), "{args:?}");
    }
    let r = run_plain(&["--sysfs-root", "/nonexistent/swiotlbctl-test", "status"]);
    r.code(64);
    assert!(r.stderr.contains("/nonexistent/swiotlbctl-test"));
}

#[test]
fn help_documents_exit_codes() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["status", "--help"],
        &["help", "device-option"],
    ] {
        let r = run_plain(args);
        r.code(0);
        for needle in [
            "Exit codes:",
            "64",
            "EX_USAGE",
            "permission denied",
            "malformed",
        ] {
            assert!(r.stdout.contains(needle), "{args:?} lacks {needle:?}");
        }
    }
    let r = run_plain(&["--version"]);
    r.code(0);
    assert!(r.stdout.starts_with("swiotlbctl "));
}

// ---------------------------------------------------------------------------
// status

#[test]
fn status_text_shows_range_layout_and_devices() {
    let t = Tree::new();
    t.hv_default().debugfs("per-device\n", TWO_DEVICES);
    let r = t.run(&["status"]);
    r.code(0);
    let out = &r.stdout;
    for needle in [
        "supported:     yes",
        &format!("driver dir:    {} (hv_pci)", t.path(HV).display()),
        "base:          0x7c000000",
        "size:          67108864 (64 MiB)",
        "end:           0x80000000 (exclusive)",
        "below 4 GiB:   yes",
        "device option: swiotlb=0x7c000000,67108864",
        "layout:        per-device",
        "devices:       2",
        "DEVICE        DRIVER      BASE            SIZE  SLOTS  USED  HIWATER  MAPPINGS  FAILURES",
        "0000:00:03.0  virtio-pci  0x7c000000  16777216   8192     0       37      1234         5",
        "0000:00:04.0  -           0x7d000000  16777216   8192    12      512     98765         0",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!out.contains("note:"));
    assert!(!out.contains("Problems"));
    assert_eq!(r.stderr, "");
}

#[test]
fn status_json_schema() {
    let t = Tree::new();
    t.hv_default().debugfs("per-device\n", TWO_DEVICES);
    let r = t.run(&["status", "--json"]);
    r.code(0);
    let j = r.json();
    assert_eq!(j["schema_version"], 2);
    assert_eq!(j["supported"], true);
    assert_eq!(j["source"], "hv-pci");
    assert_eq!(j["driver_dir"], t.path(HV).display().to_string());
    assert_eq!(j["fell_back_from"], Value::Null);
    assert_eq!(j["searched"], serde_json::json!([]));
    let range = &j["range"];
    assert_eq!(range["base"], 0x7c00_0000u64);
    assert_eq!(range["base_hex"], "0x7c000000");
    assert_eq!(range["size"], 67_108_864u64);
    assert_eq!(range["end"], 0x8000_0000u64);
    assert_eq!(range["end_hex"], "0x80000000");
    assert_eq!(range["below_4g"], true);
    assert_eq!(
        range["base_file"],
        t.path(&format!("{HV}/swiotlb_base")).display().to_string()
    );
    assert_eq!(j["device_option"], "swiotlb=0x7c000000,67108864");
    let pd = &j["per_device"];
    assert_eq!(pd["available"], true);
    assert_eq!(pd["unavailable_reason"], Value::Null);
    assert_eq!(pd["layout"], "per-device");
    assert_eq!(
        pd["devices"][0],
        serde_json::json!({
            "device": "0000:00:03.0", "driver": "virtio-pci",
            "base": 0x7c00_0000u64, "base_hex": "0x7c000000", "size": 16_777_216u64,
            "slots": 8192, "used": 0, "hiwater": 37, "mappings": 1234, "failures": 5
        })
    );
    assert_eq!(pd["devices"][1]["driver"], Value::Null);
    assert_eq!(pd["devices"][1]["failures"], 0);
    assert_eq!(j["problems"], serde_json::json!([]));
}

#[test]
fn status_reports_fallback_directory() {
    let t = Tree::new();
    t.attrs(VIRTIO, "0x40000000\n", "33554432\n")
        .debugfs("shared\n", HEADER);
    let r = t.run(&["status"]);
    r.code(0);
    assert!(r.stdout.contains(&format!(
        "driver dir:    {} (virtio-pci test mode)",
        t.path(VIRTIO).display()
    )));
    assert!(r.stdout.contains(&format!(
        "note:          no swiotlb attributes in {}; fell back",
        t.path(HV).display()
    )));
    assert!(r.stdout.contains("layout:        shared"));
    assert!(r
        .stdout
        .contains("devices:       0 (no device is attached to the pool)"));

    let j = t.run(&["status", "--json"]).json();
    assert_eq!(j["source"], "test-mode");
    assert_eq!(j["fell_back_from"], t.path(HV).display().to_string());
    assert_eq!(j["per_device"]["devices"], serde_json::json!([]));
}

#[test]
fn status_without_debugfs_still_shows_the_range() {
    // (directory to create, expected reason)
    let cases = [
        (None, "does not exist"),
        (Some("sys/kernel/debug"), "not mounted"),
        (
            Some("sys/kernel/debug/tracing"),
            "does not publish per-device detail",
        ),
    ];
    for (dir, reason) in cases {
        let t = Tree::new();
        t.hv_default();
        if let Some(dir) = dir {
            t.mkdir(dir);
        }
        let r = t.run(&["status"]);
        r.code(0);
        assert!(r.stdout.contains("base:          0x7c000000"));
        assert!(r.stdout.contains("available:     no"), "{}", r.stdout);
        assert!(r.stdout.contains(reason), "{reason}: {}", r.stdout);
        let j = t.run(&["status", "--json"]).json();
        assert_eq!(j["per_device"]["available"], false);
        assert!(j["per_device"]["unavailable_reason"]
            .as_str()
            .unwrap()
            .contains(reason));
        assert_eq!(j["per_device"]["devices"], Value::Null);
    }
}

#[test]
fn status_reports_bad_debugfs_lines_and_strict_exits_2() {
    let t = Tree::new();
    let devices = format!(
        "{HEADER}0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234 5\n\
         this is not a device line\n\
         0000:00:04.0 - 0x7d000000 16777216 8192 12 512\n\
         0000:00:05.0 - 0X7e000000 2048 1 0 0 0 0\n"
    );
    t.hv_default().debugfs("per-device\n", &devices);
    let devices_file = t.path(&format!("{DEBUG}/devices")).display().to_string();

    let r = t.run(&["status"]);
    r.code(0);
    assert!(r.stdout.contains("devices:       1"));
    assert!(r.stdout.contains("Problems (3)"), "{}", r.stdout);
    assert!(r
        .stdout
        .contains(&format!("{devices_file}:3: expected 9 columns")));
    assert!(r.stdout.contains("\"this is not a device line\""));
    assert!(r
        .stdout
        .contains(&format!("{devices_file}:4: expected 9 columns")));
    assert!(r
        .stdout
        .contains(&format!("{devices_file}:5: column \"base\"")));

    let j = t.run(&["status", "--json"]).json();
    let lines: Vec<_> = j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 4, 5]);
    assert_eq!(j["problems"][0]["file"], devices_file);

    let r = t.run(&["status", "--strict"]);
    r.code(2);
    assert!(r.stdout.contains("Problems (3)"));
    assert!(r.stderr.contains("3 problem(s)"), "{}", r.stderr);
}

#[test]
fn status_reports_eight_column_lines_as_malformed() {
    // The table as printed before the `failures` column was added.
    let t = Tree::new();
    let old_line = "0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234";
    t.hv_default()
        .debugfs("per-device\n", &format!("{HEADER}{old_line}\n"));
    let devices_file = t.path(&format!("{DEBUG}/devices")).display().to_string();
    let r = t.run(&["status"]);
    r.code(0);
    assert!(r.stdout.contains("devices:       0"), "{}", r.stdout);
    assert!(r.stdout.contains("Problems (1)"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "{devices_file}:2: expected 9 columns (device driver base size slots used \
             hiwater mappings failures), found 8: {old_line:?}"
        )),
        "{}",
        r.stdout
    );
    t.run(&["status", "--strict"]).code(2);

    // The old 8-column header is reported like any other wrong header.
    t.debugfs(
        "per-device\n",
        "# device driver base size slots used hiwater mappings\n",
    );
    let j = t.run(&["status", "--json"]).code(0).json();
    assert_eq!(j["per_device"]["devices"], serde_json::json!([]));
    assert_eq!(j["problems"][0]["line"], 1);
    assert_eq!(
        j["problems"][0]["message"],
        "unexpected header \"# device driver base size slots used hiwater mappings\" \
         (expected \"# device driver base size slots used hiwater mappings failures\")"
    );
}

#[test]
fn status_reports_non_decimal_failures_naming_the_column() {
    let t = Tree::new();
    let devices = format!(
        "{HEADER}0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 0 37 1234 0x5\n\
         0000:00:04.0 - 0x7d000000 16777216 8192 12 512 98765 7\n"
    );
    t.hv_default().debugfs("per-device\n", &devices);
    let devices_file = t.path(&format!("{DEBUG}/devices")).display().to_string();
    let r = t.run(&["status"]);
    r.code(0);
    assert!(r.stdout.contains("devices:       1"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("{devices_file}:2: column \"failures\": \"0x5\": ")),
        "{}",
        r.stdout
    );
    let j = t.run(&["status", "--json"]).json();
    assert_eq!(j["per_device"]["devices"][0]["device"], "0000:00:04.0");
    assert_eq!(j["per_device"]["devices"][0]["failures"], 7);
    t.run(&["status", "--strict"]).code(2);
}

#[test]
fn status_reports_inconsistent_devices() {
    let t = Tree::new();
    let devices = format!(
        "{HEADER}0000:00:03.0 virtio-pci 0x7c000000 16777216 8192 9000 37 1 0\n\
         0000:00:04.0 - 0x7c800000 16777216 8192 0 0 0 0\n\
         0000:00:05.0 - 0x90000000 2048 1 0 0 0 0\n"
    );
    t.hv_default().debugfs("per-device\n", &devices);
    let r = t.run(&["status"]);
    r.code(0);
    for needle in [
        ":2: 0000:00:03.0: used (9000) exceeds slots (8192)",
        ":3: 0000:00:04.0: slice overlaps the slice of 0000:00:03.0 (line 2)",
        ":4: 0000:00:05.0: slice 0x90000000 + 2048 lies outside the pool range",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
    t.run(&["status", "--strict"]).code(2);
}

#[test]
fn status_reports_bad_layout() {
    let t = Tree::new();
    t.hv_default().debugfs("sideways\n", HEADER);
    let r = t.run(&["status"]);
    r.code(0);
    let layout_file = t.path(&format!("{DEBUG}/layout")).display().to_string();
    assert!(r.stdout.contains("layout:        unknown"));
    assert!(r
        .stdout
        .contains(&format!("{layout_file}:1: unknown layout \"sideways\"")));
    t.run(&["status", "--strict"]).code(2);

    // A missing file inside an existing directory is a problem too.
    fs::remove_file(t.path(&format!("{DEBUG}/devices"))).unwrap();
    let r = t.run(&["status"]);
    r.code(0);
    let devices_file = t.path(&format!("{DEBUG}/devices")).display().to_string();
    assert!(
        r.stdout
            .contains(&format!("{devices_file}: file is missing")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("devices:       unknown"));
}

#[test]
fn status_unsupported_reports_and_exits_3() {
    let t = Tree::new();
    let r = t.run(&["status"]);
    r.code(3);
    assert!(r.stdout.contains("supported:     no"));
    assert_eq!(r.stderr, format!("{MISSING}\n"));
    let r = t.run(&["status", "--json"]);
    r.code(3);
    let j = r.json();
    assert_eq!(j["supported"], false);
    assert_eq!(j["range"], Value::Null);
    assert_eq!(
        j["searched"],
        serde_json::json!([
            t.path(HV).display().to_string(),
            t.path(VIRTIO).display().to_string()
        ])
    );
}

#[test]
fn status_survives_garbage_debugfs() {
    let t = Tree::new();
    t.hv_default()
        .write(&format!("{DEBUG}/layout"), b"\xff\xfe\x00")
        .write(&format!("{DEBUG}/devices"), b"\x00\x01\n\xff garbage\n\n\n");
    let r = Run::from(t.command(&["status"]).output().unwrap());
    r.code(0);
    assert!(r.stdout.contains("Problems"));
    assert!(!r.stderr.contains("panicked"));
}
