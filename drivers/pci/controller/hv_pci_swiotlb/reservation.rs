// SPDX-License-Identifier: GPL-2.0

//! The driver's contiguous bounce buffer memory below 4 GiB.

#[cfg(not(MODULE))]
use crate::params::SizeChoice;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{
    page::contiguous::{ContiguousPages, Placement},
    prelude::*,
};

/// Alignment and granularity of a reservation.
pub(crate) const RESERVATION_ALIGN: usize = 2 << 20;

/// When the requested size cannot be had, halve it down to this before giving up.
pub(crate) const FALLBACK_FLOOR: usize = 4 << 20;

/// A physically contiguous, zeroed range of kernel-owned memory below 4 GiB, aligned to
/// [`RESERVATION_ALIGN`], taken from the page allocator and returned to it on drop.
pub(crate) struct Reservation {
    pages: ContiguousPages,
}

impl Reservation {
    /// Allocates `size` bytes, a non-zero multiple of [`RESERVATION_ALIGN`].
    pub(crate) fn new(size: usize) -> Result<Self> {
        if size == 0 || size % RESERVATION_ALIGN != 0 {
            return Err(EINVAL);
        }
        let flags = GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN;
        let pages = ContiguousPages::alloc(size, RESERVATION_ALIGN, Placement::Below4G, flags)?;
        Ok(Self { pages })
    }

    /// Allocates `size` bytes, or, failing that, half as much again and again down to
    /// [`FALLBACK_FLOOR`] (or `size` itself if it is smaller), logging what was obtained.
    pub(crate) fn with_fallback(size: usize) -> Result<Self> {
        let mut try_size = size;
        loop {
            match Self::new(try_size) {
                Ok(r) => {
                    if try_size == size {
                        pr_info!("reserved {} MiB at {:#x}\n", size >> 20, r.base());
                    } else {
                        pr_warn!(
                            "could not reserve {} MiB below 4 GiB; reserved {} MiB at {:#x}\n",
                            size >> 20,
                            try_size >> 20,
                            r.base()
                        );
                    }
                    return Ok(r);
                }
                Err(e) if e != ENOMEM => return Err(e),
                Err(_) => {}
            }
            let next = (try_size / 2) / RESERVATION_ALIGN * RESERVATION_ALIGN;
            if try_size <= FALLBACK_FLOOR || next < FALLBACK_FLOOR.min(size) || next == 0 {
                pr_err!(
                    "could not reserve {} MiB (nor down to {} MiB) below 4 GiB; devices keep \
                     the default SWIOTLB pool\n",
                    size >> 20,
                    FALLBACK_FLOOR.min(size) >> 20
                );
                return Err(ENOMEM);
            }
            try_size = next;
        }
    }

    /// Takes over the range the built-in driver reserved at `core_initcall`, if any; only the
    /// first call gets it.
    pub(crate) fn take_early() -> Option<Self> {
        let p = EARLY.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: a non-NULL pointer in `EARLY` came from `KBox::into_raw` in
        // `early_reserve`, and the swap hands it out once.
        (!p.is_null()).then(|| KBox::into_inner(unsafe { KBox::from_raw(p) }))
    }

    /// Physical address of the first byte.
    pub(crate) fn base(&self) -> u64 {
        self.pages.phys()
    }

    /// Size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.pages.size()
    }
}

/// The range the built-in driver reserved at `core_initcall`, until the module takes it.
static EARLY: AtomicPtr<Reservation> = AtomicPtr::new(core::ptr::null_mut());

/// The built-in driver's early reservation, at `core_initcall`, long before the Rust module
/// starts (`device_initcall`): decides the size from `hv_pci_swiotlb=` and reserves it while
/// memory below 4 GiB is unfragmented. A module reserves in its init instead.
///
/// It does not fail: every failure is logged, and the module's init tries again.
#[cfg(not(MODULE))]
fn early_reserve() -> Result {
    // Without the pool API nothing could use the range, and Microsoft's pool code parses the
    // same parameter and reserves at the same level; the module's init says why nothing happens.
    if !kernel::dma::swiotlb::AVAILABLE
        || crate::shared_pool_owner()
        || !crate::serves_this_machine()
    {
        return Ok(());
    }
    let SizeChoice::Reserve(size) = crate::params::log_size_choice() else {
        return Ok(());
    };
    let Ok(r) = Reservation::with_fallback(size) else {
        return Ok(());
    };
    match KBox::new(r, GFP_KERNEL) {
        Ok(r) => EARLY.store(KBox::into_raw(r), Ordering::Release),
        Err(_) => pr_err!("out of memory: devices keep the default SWIOTLB pool\n"),
    }
    Ok(())
}

#[cfg(not(MODULE))]
kernel::initcall!(core, early_reserve);

#[cfg(hvps_kunit)]
#[path = "kunit/reservation.rs"]
mod kunit;
