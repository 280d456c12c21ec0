// SPDX-License-Identifier: GPL-2.0

//! The driver's contiguous bounce buffer memory below 4 GiB.

use crate::{params::SizeChoice, shim};
use kernel::{bindings, prelude::*};

/// Alignment and granularity of a reservation.
pub(crate) const RESERVATION_ALIGN: usize = 2 << 20;

/// When the requested size cannot be had, halve it down to this before giving up.
pub(crate) const FALLBACK_FLOOR: usize = 4 << 20;

/// A physically contiguous, zeroed range of kernel-owned memory below 4 GiB, aligned to
/// [`RESERVATION_ALIGN`], taken from the page allocator with `alloc_contig_pages()` and
/// returned to it on drop.
pub(crate) struct Reservation {
    phys: bindings::phys_addr_t,
    /// Kernel address of the first byte. Only the KUnit tests look at the bytes.
    #[cfg(hvps_kunit)]
    virt: *mut u8,
    size: usize,
}

// SAFETY: the range is plain memory owned by this object; nothing in it is tied to a thread.
unsafe impl Send for Reservation {}
// SAFETY: `&Reservation` only hands out addresses, never access to the memory itself.
unsafe impl Sync for Reservation {}

impl Reservation {
    /// Allocates `size` bytes, a non-zero multiple of [`RESERVATION_ALIGN`].
    pub(crate) fn new(size: usize) -> Result<Self> {
        if size == 0 || size % RESERVATION_ALIGN != 0 {
            return Err(EINVAL);
        }
        let mut phys: bindings::phys_addr_t = 0;
        // SAFETY: `phys` is a valid place for the result; `size` is a multiple of 2 MiB.
        let virt = unsafe { shim::hvps_reserve(size, &mut phys) };
        if virt.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self {
            phys,
            #[cfg(hvps_kunit)]
            virt,
            size,
        })
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

    /// Takes over the range the built-in driver reserved at `core_initcall`, if any.
    pub(crate) fn take_early() -> Option<Self> {
        let mut phys: bindings::phys_addr_t = 0;
        let mut size = 0;
        // SAFETY: both out-parameters are writable; the shim hands the range out once, and it
        // came from `hvps_reserve`, so ownership passes to the returned value.
        let virt = unsafe { shim::hvps_early_take(&mut phys, &mut size) };
        (!virt.is_null()).then(|| Self {
            phys,
            #[cfg(hvps_kunit)]
            virt,
            size,
        })
    }

    /// Physical address of the first byte.
    pub(crate) fn base(&self) -> u64 {
        self.phys
    }

    /// Size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the range came from `hvps_reserve` with this size and is freed only here.
        unsafe { shim::hvps_unreserve(self.phys, self.size) };
    }
}

/// Entry point of the built-in driver's early reservation, called by the C shim at
/// `core_initcall`, long before the Rust module starts: decides the size from
/// `hv_pci_swiotlb=` and reserves it while memory below 4 GiB is unfragmented.
#[no_mangle]
pub(crate) extern "C" fn hvps_early_reserve() {
    // Without the pool API nothing could use the range, and Microsoft's pool code parses the
    // same parameter and reserves at the same level; the module's init says why nothing happens.
    if !kernel::dma::swiotlb::AVAILABLE
        || crate::shared_pool_owner()
        || !crate::serves_this_machine()
    {
        return;
    }
    let SizeChoice::Reserve(size) = crate::params::log_size_choice() else {
        return;
    };
    if let Ok(r) = Reservation::with_fallback(size) {
        let r = core::mem::ManuallyDrop::new(r);
        // SAFETY: ownership of the range passes to the shim, which hands it back once through
        // `take_early`.
        unsafe { shim::hvps_early_set(r.phys, r.size) };
    }
}

#[cfg(hvps_kunit)]
#[path = "kunit/reservation.rs"]
mod kunit;
