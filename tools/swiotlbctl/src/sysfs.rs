// SPDX-License-Identifier: GPL-2.0
//! Locating and parsing the `swiotlb_base` / `swiotlb_size` attributes.
//!
//! The kernel prints `swiotlb_base` with `"0x%llx\n"` and `swiotlb_size`
//! with `"%zu\n"`. The parsers accept exactly what those formats can
//! produce, with the trailing newline optional:
//!
//! * base: lowercase `0x` followed by lowercase hex digits, no leading zeros
//!   (`0x0` is the only way to write zero), at most `u64::MAX`;
//! * size: decimal digits, no sign, no leading zeros, not zero, at most
//!   `u64::MAX`;
//! * nothing else: no surrounding whitespace, no `\r`, no second line.
//!
//! Together they must describe a range below 4 GiB
//! (`base + size <= 0x1_0000_0000`).

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Value};

/// Directory of the `hv_pci` driver (real WSL / Hyper-V), relative to the
/// sysfs root.
pub const HV_PCI_DIR: &str = "sys/bus/vmbus/drivers/hv_pci";
/// Directory of the `virtio-pci` driver used in test mode (QEMU guests
/// without VMBus), relative to the sysfs root.
pub const VIRTIO_PCI_DIR: &str = "sys/bus/pci/drivers/virtio-pci";
/// Name of the base attribute.
pub const BASE_ATTR: &str = "swiotlb_base";
/// Name of the size attribute.
pub const SIZE_ATTR: &str = "swiotlb_size";
/// The pool must end at or below this address.
pub const LIMIT_4G: u64 = 0x1_0000_0000;
/// Longest attribute file accepted (sysfs `show` buffers are one page).
pub const MAX_ATTR_LEN: usize = 4096;

/// Why an attribute value (or a debugfs column) failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but (at most) a newline.
    Empty,
    /// The content is not UTF-8.
    NotUtf8,
    /// The file is longer than [`MAX_ATTR_LEN`].
    TooLong(usize),
    /// A hexadecimal value without the `0x` prefix.
    MissingPrefix,
    /// `0X` instead of `0x`.
    UppercasePrefix,
    /// `0x` with no digits after it.
    NoDigits,
    /// A character that cannot start a number.
    InvalidDigit(char),
    /// An uppercase hex digit (the kernel prints lowercase).
    UppercaseDigit(char),
    /// A hexadecimal value where a decimal one is expected.
    NotDecimal,
    /// Zero padding (the kernel prints without padding).
    LeadingZero,
    /// Anything after the number other than one trailing newline.
    TrailingGarbage(String),
    /// The value does not fit in a `u64`.
    Overflow,
    /// A size of zero.
    Zero,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "empty value"),
            ParseError::NotUtf8 => write!(f, "not valid UTF-8 text"),
            ParseError::TooLong(n) => {
                write!(f, "file is too long ({n} bytes, at most {MAX_ATTR_LEN})")
            }
            ParseError::MissingPrefix => write!(f, "hexadecimal value must start with \"0x\""),
            ParseError::UppercasePrefix => write!(
                f,
                "prefix must be lowercase \"0x\", not \"0X\" (the kernel prints 0x%llx)"
            ),
            ParseError::NoDigits => write!(f, "no digits"),
            ParseError::InvalidDigit(c) => write!(f, "invalid digit {c:?}"),
            ParseError::UppercaseDigit(c) => write!(
                f,
                "uppercase hex digit {c:?} (the kernel prints lowercase hex)"
            ),
            ParseError::NotDecimal => write!(f, "value must be decimal, not hexadecimal"),
            ParseError::LeadingZero => write!(
                f,
                "leading zeros are not allowed (the kernel prints without padding)"
            ),
            ParseError::TrailingGarbage(rest) => write!(
                f,
                "unexpected trailing characters {rest:?} (only one trailing newline is allowed)"
            ),
            ParseError::Overflow => write!(f, "value does not fit in 64 bits"),
            ParseError::Zero => write!(f, "size must not be 0"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Why a syntactically valid base/size pair is still not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// `base + size` does not fit in a `u64`.
    Overflow,
    /// The range ends above 4 GiB.
    Beyond4G {
        /// Exclusive end address of the range.
        end: u64,
    },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeError::Overflow => write!(f, "base + size overflows 64 bits"),
            RangeError::Beyond4G { end } => write!(
                f,
                "pool range ends at {end:#x}, beyond the 4 GiB limit {LIMIT_4G:#x}"
            ),
        }
    }
}

impl std::error::Error for RangeError {}

/// Parses a run of digits in `radix` (10 or 16) that makes up the whole of
/// `digits`.
fn parse_digits(digits: &str, radix: u32) -> Result<u64, ParseError> {
    let run_len = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let (run, rest) = digits.split_at(run_len);
    if run.is_empty() {
        return Err(match rest.chars().next() {
            None => ParseError::NoDigits,
            Some(c) => ParseError::InvalidDigit(c),
        });
    }
    if let Some(c) = run.chars().find(char::is_ascii_uppercase) {
        return Err(ParseError::UppercaseDigit(c));
    }
    if !rest.is_empty() {
        return Err(ParseError::TrailingGarbage(rest.to_owned()));
    }
    if run.len() > 1 && run.starts_with('0') {
        return Err(ParseError::LeadingZero);
    }
    u64::from_str_radix(run, radix).map_err(|_| ParseError::Overflow)
}

/// Parses one `0x%llx` token (no newline handling).
///
/// ```
/// use swiotlbctl::sysfs::{parse_hex_token, ParseError};
/// assert_eq!(parse_hex_token("0x7c000000"), Ok(0x7c00_0000));
/// assert_eq!(parse_hex_token("0X10"), Err(ParseError::UppercasePrefix));
/// ```
pub fn parse_hex_token(s: &str) -> Result<u64, ParseError> {
    if s.is_empty() {
        return Err(ParseError::Empty);
    }
    match s.strip_prefix("0x") {
        Some(digits) => parse_digits(digits, 16),
        None if s.starts_with("0X") => Err(ParseError::UppercasePrefix),
        None => Err(ParseError::MissingPrefix),
    }
}

/// Parses one `%zu` / `%llu` token (no newline handling). Zero is allowed.
///
/// ```
/// use swiotlbctl::sysfs::parse_dec_token;
/// assert_eq!(parse_dec_token("67108864"), Ok(64 << 20));
/// assert!(parse_dec_token("064").is_err());
/// ```
pub fn parse_dec_token(s: &str) -> Result<u64, ParseError> {
    if s.is_empty() {
        return Err(ParseError::Empty);
    }
    if s.starts_with("0x") || s.starts_with("0X") {
        return Err(ParseError::NotDecimal);
    }
    parse_digits(s, 10)
}

/// Turns raw attribute content into the single token it must contain:
/// UTF-8, one optional trailing newline, not empty.
fn attr_text(content: &[u8]) -> Result<&str, ParseError> {
    if content.len() > MAX_ATTR_LEN {
        return Err(ParseError::TooLong(content.len()));
    }
    let text = std::str::from_utf8(content).map_err(|_| ParseError::NotUtf8)?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(text)
}

/// Parses the content of `swiotlb_base` (`"0x%llx\n"`).
///
/// ```
/// use swiotlbctl::sysfs::parse_base;
/// assert_eq!(parse_base(b"0x7c000000\n"), Ok(0x7c00_0000));
/// assert!(parse_base(b"7c000000\n").is_err());
/// ```
pub fn parse_base(content: &[u8]) -> Result<u64, ParseError> {
    parse_hex_token(attr_text(content)?)
}

/// Parses the content of `swiotlb_size` (`"%zu\n"`, not zero).
///
/// ```
/// use swiotlbctl::sysfs::parse_size;
/// assert_eq!(parse_size(b"67108864\n"), Ok(67108864));
/// assert!(parse_size(b"0\n").is_err());
/// ```
pub fn parse_size(content: &[u8]) -> Result<u64, ParseError> {
    match parse_dec_token(attr_text(content)?)? {
        0 => Err(ParseError::Zero),
        n => Ok(n),
    }
}

/// Formats a base the way the kernel does (`"0x%llx"`, without newline).
pub fn format_base(base: u64) -> String {
    format!("{base:#x}")
}

/// The reserved bounce-buffer range as published by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolRange {
    /// Physical start address.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl PoolRange {
    /// Exclusive end address, or `None` if `base + size` overflows.
    pub fn end(&self) -> Option<u64> {
        self.base.checked_add(self.size)
    }

    /// Checks that the range lies entirely below 4 GiB and returns its end.
    pub fn check(&self) -> Result<u64, RangeError> {
        match self.end() {
            None => Err(RangeError::Overflow),
            Some(end) if end > LIMIT_4G => Err(RangeError::Beyond4G { end }),
            Some(end) => Ok(end),
        }
    }

    /// The `swiotlb=<base>,<size>` token for virtio device options.
    pub fn device_option(&self) -> String {
        format!("swiotlb={},{}", format_base(self.base), self.size)
    }
}

/// How the driver directory is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirChoice {
    /// `hv_pci`, falling back to the `virtio-pci` test-mode directory.
    Auto,
    /// Only the `virtio-pci` test-mode directory (`--test-mode`).
    TestMode,
    /// Only this directory (`--driver-dir`), resolved under the sysfs root.
    Explicit(PathBuf),
}

/// Which kind of directory the attributes were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The `hv_pci` VMBus driver directory.
    HvPci,
    /// The `virtio-pci` test-mode directory.
    TestMode,
    /// A directory given with `--driver-dir`.
    Custom,
}

/// The driver directory the attributes are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Full path of the directory (sysfs root included).
    pub dir: PathBuf,
    /// What kind of directory it is.
    pub source: Source,
    /// Set when the automatic search fell back: the directory that lacked
    /// the attributes.
    pub fell_back_from: Option<PathBuf>,
}

impl Location {
    /// Full path of `swiotlb_base`.
    pub fn base_path(&self) -> PathBuf {
        self.dir.join(BASE_ATTR)
    }

    /// Full path of `swiotlb_size`.
    pub fn size_path(&self) -> PathBuf {
        self.dir.join(SIZE_ATTR)
    }
}

/// Resolves `path` under `root`: a leading `/` is ignored, so
/// `/sys/x` and `sys/x` both mean `<root>/sys/x`.
pub fn resolve(root: &Path, path: &Path) -> PathBuf {
    let mut out = root.to_path_buf();
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn exists(path: &Path) -> Result<bool, Error> {
    path.try_exists().map_err(|e| Error::from_io(path, e))
}

/// Whether `dir` holds at least one of the two attributes.
fn publishes(dir: &Path) -> Result<bool, Error> {
    Ok(exists(&dir.join(BASE_ATTR))? || exists(&dir.join(SIZE_ATTR))?)
}

/// Finds the driver directory to read, according to `choice`.
///
/// A directory is selected when it holds at least one of the attributes;
/// with [`DirChoice::Auto`], `hv_pci` is tried before `virtio-pci`.
pub fn locate(root: &Path, choice: &DirChoice) -> Result<Location, Error> {
    let (candidates, source): (Vec<PathBuf>, Option<Source>) = match choice {
        DirChoice::Auto => (vec![root.join(HV_PCI_DIR), root.join(VIRTIO_PCI_DIR)], None),
        DirChoice::TestMode => (vec![root.join(VIRTIO_PCI_DIR)], Some(Source::TestMode)),
        DirChoice::Explicit(dir) => (vec![resolve(root, dir)], Some(Source::Custom)),
    };
    for (i, dir) in candidates.iter().enumerate() {
        if publishes(dir)? {
            let source = source.unwrap_or(if i == 0 {
                Source::HvPci
            } else {
                Source::TestMode
            });
            let fell_back_from = (i > 0).then(|| candidates[0].clone());
            return Ok(Location {
                dir: dir.clone(),
                source,
                fell_back_from,
            });
        }
    }
    Err(Error::Unsupported {
        searched: candidates,
    })
}

/// Reads a small file (at most [`MAX_ATTR_LEN`] + 1 bytes are read).
pub fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    fs::File::open(path)?
        .take(MAX_ATTR_LEN as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

fn read_attr(
    path: &Path,
    other: &Path,
    parse: fn(&[u8]) -> Result<u64, ParseError>,
) -> Result<u64, Error> {
    let content = match read_small(path) {
        Ok(content) => content,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::Incomplete {
                missing: path.to_path_buf(),
                present: other.to_path_buf(),
            })
        }
        Err(e) => return Err(Error::from_io(path, e)),
    };
    parse(&content).map_err(|reason| Error::Malformed {
        path: path.to_path_buf(),
        value: Value(content),
        reason,
    })
}

/// Reads and parses both attributes in `loc`. Does not check the 4 GiB
/// limit; see [`check_range`].
pub fn read_range(loc: &Location) -> Result<PoolRange, Error> {
    let (base_path, size_path) = (loc.base_path(), loc.size_path());
    let base = read_attr(&base_path, &size_path, parse_base)?;
    let size = read_attr(&size_path, &base_path, parse_size)?;
    Ok(PoolRange { base, size })
}

/// Checks the 4 GiB limit, naming both files in the error.
pub fn check_range(loc: &Location, range: &PoolRange) -> Result<u64, Error> {
    range.check().map_err(|reason| Error::OutOfRange {
        base_path: loc.base_path(),
        base: range.base,
        size_path: loc.size_path(),
        size: range.size,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_accepts_kernel_format() {
        assert_eq!(parse_base(b"0x7c000000\n"), Ok(0x7c00_0000));
        assert_eq!(parse_base(b"0x7c000000"), Ok(0x7c00_0000));
        assert_eq!(parse_base(b"0x0\n"), Ok(0));
        assert_eq!(parse_base(b"0xffffffffffffffff\n"), Ok(u64::MAX));
        assert_eq!(parse_base(b"0xabcdef\n"), Ok(0xabcdef));
    }

    #[test]
    fn base_rejects_malformed() {
        use ParseError::*;
        let cases: &[(&[u8], ParseError)] = &[
            (b"", Empty),
            (b"\n", Empty),
            (b"7c000000\n", MissingPrefix),
            (b" 0x10\n", MissingPrefix),
            (b"0X7c000000\n", UppercasePrefix),
            (b"0x7C000000\n", UppercaseDigit('C')),
            (b"0x\n", NoDigits),
            (b"0xg\n", InvalidDigit('g')),
            (b"0x-1\n", InvalidDigit('-')),
            (b"0x007c\n", LeadingZero),
            (b"0x00\n", LeadingZero),
            (b"0x10 \n", TrailingGarbage(" ".into())),
            (b"0x10\n\n", TrailingGarbage("\n".into())),
            (b"0x10\r\n", TrailingGarbage("\r".into())),
            (b"0x10\nfoo\n", TrailingGarbage("\nfoo".into())),
            (b"0x10zz\n", TrailingGarbage("zz".into())),
            (b"0x10000000000000000\n", Overflow),
            (b"0x\xff\n", NotUtf8),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_base(input).as_ref(),
                Err(want),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            parse_base(&vec![b'0'; MAX_ATTR_LEN + 1]),
            Err(TooLong(MAX_ATTR_LEN + 1))
        );
    }

    #[test]
    fn size_accepts_kernel_format() {
        assert_eq!(parse_size(b"67108864\n"), Ok(67_108_864));
        assert_eq!(parse_size(b"1"), Ok(1));
        assert_eq!(parse_size(b"18446744073709551615\n"), Ok(u64::MAX));
    }

    #[test]
    fn size_rejects_malformed() {
        use ParseError::*;
        let cases: &[(&[u8], ParseError)] = &[
            (b"", Empty),
            (b"\n", Empty),
            (b"0\n", Zero),
            (b"00\n", LeadingZero),
            (b"064\n", LeadingZero),
            (b"0x4000000\n", NotDecimal),
            (b"0X4000000\n", NotDecimal),
            (b"-1\n", InvalidDigit('-')),
            (b"+1\n", InvalidDigit('+')),
            (b"64M\n", TrailingGarbage("M".into())),
            (b"1 \n", TrailingGarbage(" ".into())),
            (b"1\n\n", TrailingGarbage("\n".into())),
            (b"18446744073709551616\n", Overflow),
            (b"\xff\n", NotUtf8),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_size(input).as_ref(),
                Err(want),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn range_checks() {
        let ok = PoolRange {
            base: 0xfc00_0000,
            size: 0x400_0000,
        };
        assert_eq!(ok.check(), Ok(LIMIT_4G));
        let beyond = PoolRange {
            base: 0xfc00_0000,
            size: 0x400_0001,
        };
        assert_eq!(
            beyond.check(),
            Err(RangeError::Beyond4G { end: LIMIT_4G + 1 })
        );
        let overflow = PoolRange {
            base: u64::MAX,
            size: 1,
        };
        assert_eq!(overflow.check(), Err(RangeError::Overflow));
        assert_eq!(
            PoolRange {
                base: 0x7c00_0000,
                size: 64 << 20
            }
            .device_option(),
            "swiotlb=0x7c000000,67108864"
        );
    }

    #[test]
    fn resolve_ignores_leading_slash() {
        let root = Path::new("/tmp/root");
        assert_eq!(
            resolve(root, Path::new("/sys/bus")),
            PathBuf::from("/tmp/root/sys/bus")
        );
        assert_eq!(
            resolve(root, Path::new("sys/bus")),
            PathBuf::from("/tmp/root/sys/bus")
        );
        assert_eq!(
            resolve(Path::new("/"), Path::new("/sys/bus")),
            PathBuf::from("/sys/bus")
        );
    }
}
