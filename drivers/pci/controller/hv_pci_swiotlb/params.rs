// SPDX-License-Identifier: GPL-2.0

//! The driver's configuration: what the user asked for, checked, and what is used instead of
//! anything that does not make sense.
//!
//! A bad value never stops the driver from loading: it is named in the log together with what
//! happens instead, which for the size is the safe choice of not reserving anything (devices then
//! keep bouncing through the kernel's default SWIOTLB pool).
//!
//! The parameters are those of C's `module_param()`: strings among them, two of them only with
//! `CONFIG_HV_PCI_SWIOTLB_DEBUG`, and `hv_pci_swiotlb=` an early boot parameter of the built-in
//! driver, which `module!`'s `params` cannot express. `test_mode` and `max_devices` are not in
//! sysfs; built in, `hv_pci_swiotlb.<param>=` on the command line sets each.

use crate::{
    reservation::RESERVATION_ALIGN,
    size::{parse_size, SizeError},
};
use kernel::fmt;
use kernel::prelude::*;

/// Default size of the reservation, as in WSL kernels.
pub(crate) const DEFAULT_SIZE: usize = 64 << 20;
/// Largest reservation accepted: it must fit below 4 GiB next to everything else there.
pub(crate) const MAX_SIZE: usize = 1 << 30;
/// Default number of per-device slices.
pub(crate) const DEFAULT_MAX_DEVICES: u32 = 4;
/// Most per-device slices.
pub(crate) const MAX_DEVICES: u32 = 64;

/// How the reservation is shared among devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One pool per device (the default).
    PerDevice,
    /// One pool for all devices, as WSL kernels do; kept for comparisons.
    Shared,
}

impl Layout {
    /// The parameter value that selects this layout.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Layout::PerDevice => "per-device",
            Layout::Shared => "shared",
        }
    }

    /// Parses the `layout=` parameter.
    pub(crate) fn parse(s: &[u8]) -> Option<Self> {
        match s {
            b"per-device" => Some(Layout::PerDevice),
            b"shared" => Some(Layout::Shared),
            _ => None,
        }
    }
}

/// What to reserve, as decided from the size parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SizeChoice {
    /// Reserve this many bytes (a multiple of [`RESERVATION_ALIGN`]).
    Reserve(usize),
    /// Reserve nothing: the user said 0, or the value was unusable.
    Disabled,
}

kernel::module_param!(
    static SIZE: string[32],
    module "hv_pci_swiotlb", name "size", perm 0o444,
    "Memory for all pools, memparse syntax (64M); 0 disables. Built in: also hv_pci_swiotlb=<size>"
);

kernel::early_param!(
    /// `hv_pci_swiotlb=<size>`, the WSL kernels' parameter (built in): only a size. A value
    /// that does not fit is cut, which the driver refuses rather than read as another size.
    static BOOT_SIZE: string[32] = "hv_pci_swiotlb"
);

kernel::module_param!(
    /// The `max_devices` parameter as given; [`choose_max_devices`] checks it.
    pub(crate) static MAX_DEVICES_PARAM: uint = DEFAULT_MAX_DEVICES,
    module "hv_pci_swiotlb", name "max_devices", perm 0,
    "Number of per-device pools (1-64); more devices share them"
);

#[cfg(hvps_test_params)]
kernel::module_param!(
    static TEST_MODE: bool = false,
    module "hv_pci_swiotlb", name "test_mode", perm 0,
    "Serve any virtio-pci function and publish in virtio-pci's directory (guests without VMBus)"
);

#[cfg(hvps_test_params)]
kernel::module_param!(
    static LAYOUT: string[16],
    module "hv_pci_swiotlb", name "layout", perm 0o444,
    "per-device (default): a pool per device; shared: one pool for all"
);

/// The `test_mode` parameter: serve every virtio-pci function, not only those behind hv_pci.
/// Always false without `CONFIG_HV_PCI_SWIOTLB_DEBUG`.
pub(crate) fn test_mode() -> bool {
    #[cfg(hvps_test_params)]
    return TEST_MODE.get();
    #[cfg(not(hvps_test_params))]
    false
}

/// The `layout` parameter, [`None`] if not given (always without
/// `CONFIG_HV_PCI_SWIOTLB_DEBUG`); [`choose_layout`] checks it.
pub(crate) fn layout_param() -> Option<&'static [u8]> {
    #[cfg(hvps_test_params)]
    return LAYOUT.get().map(|s| s.to_bytes());
    #[cfg(not(hvps_test_params))]
    None
}

/// The size parameter as the user gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SizeParam<'a> {
    /// Not given.
    Absent,
    /// Given, in full.
    Given(&'a [u8]),
    /// Given, but longer than the boot parameter's buffer: only its start, which could read as
    /// another size than the user asked for. (A module parameter that does not fit is refused
    /// when the module loads.)
    TooLong(&'a [u8]),
}

impl<'a> SizeParam<'a> {
    /// Reads the parameter: `hv_pci_swiotlb=` if given (built in only), else `size=`.
    pub(crate) fn get() -> SizeParam<'static> {
        if let Some(raw) = BOOT_SIZE.get() {
            return if BOOT_SIZE.truncated() {
                SizeParam::TooLong(raw.to_bytes())
            } else {
                SizeParam::Given(raw.to_bytes())
            };
        }
        match SIZE.get() {
            None => SizeParam::Absent,
            Some(raw) => SizeParam::Given(raw.to_bytes()),
        }
    }
}

/// Why the size parameter was not used as given; each becomes one log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SizeNote {
    /// Rounded up to a multiple of 2 MiB.
    RoundedUp { from: u64, to: usize },
    /// The user disabled the driver with 0.
    Zero,
    /// Not a size at all.
    Invalid(SizeError),
    /// Larger than [`MAX_SIZE`].
    TooLarge(u64),
    /// Longer than this many characters, so cut off.
    TooLong(usize),
}

impl fmt::Display for SizeNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SizeNote::RoundedUp { from, to } => {
                write!(f, "{from} bytes rounded up to {to} (a multiple of 2 MiB)")
            }
            SizeNote::Zero => write!(f, "0: disabled, devices keep the default SWIOTLB pool"),
            SizeNote::Invalid(e) => write!(
                f,
                "{}: not reserving anything, devices keep the default SWIOTLB pool",
                match e {
                    SizeError::NotANumber => "not a size (want e.g. 64M or 0x4000000)",
                    SizeError::TrailingGarbage => "unexpected characters after the size",
                    SizeError::Overflow => "too large a number",
                }
            ),
            SizeNote::TooLarge(v) => write!(
                f,
                "{v} bytes is more than the {} MiB allowed below 4 GiB: not reserving anything, \
                 devices keep the default SWIOTLB pool",
                MAX_SIZE >> 20
            ),
            SizeNote::TooLong(max) => write!(
                f,
                "too long (more than {max} characters): not reserving anything, devices keep \
                 the default SWIOTLB pool"
            ),
        }
    }
}

/// Decides the reservation size from the parameter.
pub(crate) fn choose_size(param: SizeParam<'_>) -> (SizeChoice, Option<SizeNote>) {
    let raw = match param {
        SizeParam::Absent => return (SizeChoice::Reserve(DEFAULT_SIZE), None),
        // What is left may well parse, as a size the user did not ask for.
        SizeParam::TooLong(start) => {
            return (SizeChoice::Disabled, Some(SizeNote::TooLong(start.len())))
        }
        SizeParam::Given(raw) => raw,
    };
    let bytes = match parse_size(raw) {
        Ok(0) => return (SizeChoice::Disabled, Some(SizeNote::Zero)),
        Ok(v) => v,
        Err(e) => return (SizeChoice::Disabled, Some(SizeNote::Invalid(e))),
    };
    if bytes > MAX_SIZE as u64 {
        return (SizeChoice::Disabled, Some(SizeNote::TooLarge(bytes)));
    }
    // Fits in usize: bounded by MAX_SIZE above.
    let rounded = (bytes as usize).next_multiple_of(RESERVATION_ALIGN);
    let note = (rounded as u64 != bytes).then_some(SizeNote::RoundedUp {
        from: bytes,
        to: rounded,
    });
    (SizeChoice::Reserve(rounded), note)
}

/// Decides the size from the parameters (`hv_pci_swiotlb=` or `size=`) and logs any note.
pub(crate) fn log_size_choice() -> SizeChoice {
    let param = SizeParam::get();
    let (choice, note) = choose_size(param);
    if let Some(note) = note {
        let (raw, cut) = match param {
            SizeParam::Absent => (None, ""),
            SizeParam::Given(r) => (Some(r), ""),
            SizeParam::TooLong(r) => (Some(r), "..."),
        };
        let shown = raw
            .and_then(|r| core::str::from_utf8(r).ok())
            .unwrap_or("?");
        match note {
            SizeNote::RoundedUp { .. } => pr_info!("size {shown:?}{cut}: {note}\n"),
            SizeNote::Zero => pr_info!("size {shown:?}{cut}: {note}\n"),
            _ => pr_warn!("size {shown:?}{cut}: {note}\n"),
        }
    }
    choice
}

/// Decides the layout from the raw parameter; an unknown value falls back to per-device.
pub(crate) fn choose_layout(param: Option<&[u8]>) -> (Layout, bool) {
    match param {
        None => (Layout::PerDevice, true),
        Some(raw) => match Layout::parse(raw) {
            Some(l) => (l, true),
            None => (Layout::PerDevice, false),
        },
    }
}

/// Clamps the `max_devices` parameter to `1..=MAX_DEVICES`; the flag says whether it was valid.
pub(crate) fn choose_max_devices(param: u32) -> (u32, bool) {
    if (1..=MAX_DEVICES).contains(&param) {
        (param, true)
    } else {
        (DEFAULT_MAX_DEVICES, false)
    }
}

#[cfg(hvps_kunit)]
#[path = "kunit/params.rs"]
mod kunit;
