// SPDX-License-Identifier: GPL-2.0

//! Publication of the range for the host: `swiotlb_base` and `swiotlb_size` in the driver
//! directory of hv_pci (or of virtio-pci in test mode).

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use kernel::{
    c_str, device::notifier::BusType, driver::attr::File, driver_attr_ro, prelude::*,
    str::Formatter, sync::global_lock,
};

/// What the files show. Written before the files are created, which orders the writes before
/// any read of them (the sysfs locks do); read by `show()` without a lock.
static BASE: AtomicU64 = AtomicU64::new(0);
static SIZE: AtomicUsize = AtomicUsize::new(0);

fn show_base(f: &mut Formatter<'_>) -> Result {
    writeln!(f, "{:#x}", BASE.load(Ordering::Relaxed)).map_err(|_| EINVAL)
}

fn show_size(f: &mut Formatter<'_>) -> Result {
    writeln!(f, "{}", SIZE.load(Ordering::Relaxed)).map_err(|_| EINVAL)
}

// The address is as sensitive as /proc/iomem's: root only.
driver_attr_ro!(static BASE_ATTR = (c_str!("swiotlb_base"), 0o400, show_base));
driver_attr_ro!(static SIZE_ATTR = (c_str!("swiotlb_size"), 0o444, show_size));

global_lock! {
    // SAFETY: `init_lock()` initialises it first thing in the module's `init`.
    //
    // Whether a [`Publication`] exists: the files show one range at a time.
    unsafe(uninit) static PUBLISHED: Mutex<bool> = false;
}

/// Initialises the lock that serialises publishers (the registry, and the KUnit tests beside
/// it).
///
/// # Safety
///
/// Called once, before any [`Publication::new`].
pub(crate) unsafe fn init_lock() {
    // SAFETY: by the caller's guarantee this is the only call, and it comes before any use.
    unsafe { PUBLISHED.init() };
}

/// The two sysfs files.
struct Files {
    // Declared so that `swiotlb_size` goes first, then `swiotlb_base`.
    _size: File,
    _base: File,
}

/// A publication of the range; dropping it removes the files.
pub(crate) struct Publication(Option<Files>);

impl Publication {
    /// Publishes `[base, base + size)`.
    ///
    /// Fails with `ENXIO` if there is no vmbus (not a Hyper-V guest), `ENODEV` if the target
    /// driver is not registered (yet), and `EEXIST` if its directory already has the files
    /// (the running kernel publishes its own range) or this module published already.
    ///
    /// Context: process context.
    pub(crate) fn new(test_mode: bool, base: u64, size: usize) -> Result<Self> {
        let mut published = PUBLISHED.lock();
        if *published {
            return Err(EEXIST);
        }
        let drv = if test_mode {
            // SAFETY: `test_mode` is true only with `CONFIG_HV_PCI_SWIOTLB_DEBUG`, which needs
            // `CONFIG_VIRTIO_PCI=y`: virtio-pci is built in, registered at boot and never
            // unregistered.
            unsafe { BusType::pci().find_driver(c_str!("virtio-pci")) }
        } else {
            // SAFETY: the driver's Kconfig needs `CONFIG_PCI_HYPERV=y` unless there is no hv_pci
            // at all: it is built in, registered at boot and never unregistered.
            unsafe { vmbus()?.find_driver(c_str!("hv_pci")) }
        }
        .ok_or(ENODEV)?;
        BASE.store(base, Ordering::Relaxed);
        SIZE.store(size, Ordering::Relaxed);
        let base = drv.create_file(&BASE_ATTR)?;
        let size = drv.create_file(&SIZE_ATTR)?;
        *published = true;
        Ok(Self(Some(Files {
            _size: size,
            _base: base,
        })))
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        let mut published = PUBLISHED.lock();
        // The files go before the next publisher may create them again.
        drop(self.0.take());
        *published = false;
    }
}

/// The vmbus, where hv_pci is; `ENXIO` without one (not a Hyper-V guest).
fn vmbus() -> Result<&'static BusType> {
    #[cfg(CONFIG_HYPERV_VMBUS = "y")]
    return kernel::hyperv::vmbus().ok_or(ENXIO);
    #[cfg(not(CONFIG_HYPERV_VMBUS = "y"))]
    Err(ENXIO)
}
