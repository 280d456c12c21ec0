// SPDX-License-Identifier: GPL-2.0

//! The driver's contiguous bounce buffer memory below 4 GiB.

use crate::shim;
use kernel::{bindings, prelude::*};

/// Alignment and granularity of a reservation.
pub(crate) const RESERVATION_ALIGN: usize = 2 << 20;

/// A physically contiguous, zeroed range of kernel-owned memory below 4 GiB, aligned to
/// [`RESERVATION_ALIGN`], taken from the page allocator with `alloc_contig_pages()` and
/// returned to it on drop.
pub(crate) struct Reservation {
    phys: bindings::phys_addr_t,
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
        Ok(Self { phys, virt, size })
    }

    /// Physical address of the first byte.
    pub(crate) fn base(&self) -> u64 {
        self.phys
    }

    /// Size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Copies `buf.len()` bytes at `offset` out of the range, for tests that look at what a
    /// bounce left there.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        let end = offset.checked_add(buf.len()).ok_or(EINVAL)?;
        if end > self.size {
            return Err(EINVAL);
        }
        // SAFETY: `offset..end` lies inside the mapped range we own; the bytes are plain data
        // (a device may write them concurrently, so the copy may be torn, never unsound).
        unsafe {
            core::ptr::copy_nonoverlapping(self.virt.add(offset), buf.as_mut_ptr(), buf.len())
        };
        Ok(())
    }

    /// Writes `buf` at `offset` into the range, as a device would.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn write(&self, offset: usize, buf: &[u8]) -> Result {
        let end = offset.checked_add(buf.len()).ok_or(EINVAL)?;
        if end > self.size {
            return Err(EINVAL);
        }
        // SAFETY: as in `read`; the memory is ours and holds plain bytes.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), self.virt.add(offset), buf.len()) };
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the range came from `hvps_reserve` with this size and is freed only here.
        unsafe { shim::hvps_unreserve(self.phys, self.size) };
    }
}
