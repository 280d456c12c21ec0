// SPDX-License-Identifier: GPL-2.0

//! The driver's pools: slices of its [`Reservation`], each a [`DevicePool`] of the kernel crate.
//!
//! [`kernel::dma::swiotlb`] owns the rules of the core API (a pool outlives its devices, memory
//! outlives its pool, and what the kernel will not let go of is leaked rather than freed). What
//! is left here is the driver's own part: a slice holds its reservation, so the memory goes back
//! only when every pool over it is gone, and slices are counted for the tests' leak checks.

use crate::reservation::Reservation;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{dma::swiotlb, io::PhysAddr, prelude::*, sync::Arc};

/// A pool over a [`Slice`] of the reservation.
pub(crate) type Pool = swiotlb::DevicePool<Slice>;

/// A device pointed at a [`Pool`].
pub(crate) type Attachment = swiotlb::Attachment<Slice>;

/// Slices alive, i.e. handed to pools that were not destroyed (or leaked), for leak checks.
static LIVE_SLICES: AtomicUsize = AtomicUsize::new(0);

/// `[offset, offset + size)` of a reservation, the memory of one pool.
///
/// # Invariants
///
/// The range lies within `backing`, and no other live [`Slice`] overlaps it.
pub(crate) struct Slice {
    /// Held so that the memory outlives every pool over it.
    _backing: Arc<Reservation>,
    base: u64,
    size: usize,
}

impl Slice {
    /// The `size` bytes at `offset` into `backing`; `EINVAL` if they do not lie within it.
    ///
    /// # Safety
    ///
    /// No other live slice of `backing` overlaps the range.
    ///
    /// SAFETY of the callers: called only by `new_pool`, which has the same requirement.
    pub(crate) unsafe fn new(
        backing: &Arc<Reservation>,
        offset: usize,
        size: usize,
    ) -> Result<Self> {
        let end = offset.checked_add(size).ok_or(EINVAL)?;
        if end > backing.size() {
            return Err(EINVAL);
        }
        LIVE_SLICES.fetch_add(1, Ordering::Relaxed);
        // INVARIANT: checked above, and by the caller.
        Ok(Self {
            _backing: backing.clone(),
            base: backing.base() + offset as u64,
            size,
        })
    }

    /// Physical address of the slice's first byte.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Size of the slice in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

impl Drop for Slice {
    fn drop(&mut self) {
        LIVE_SLICES.fetch_sub(1, Ordering::Relaxed);
    }
}

// SAFETY: the reservation is contiguous linear-map memory below 4 GiB that stays allocated while
// `backing` is held, which the slice does; the range lies within it and overlaps no other live
// slice (type invariants), and the driver never touches the bytes (the tests do so only as a
// device would, through the DMA addresses of their own mappings).
unsafe impl swiotlb::PoolMemory for Slice {
    fn phys_base(&self) -> PhysAddr {
        self.base
    }

    fn size(&self) -> usize {
        self.size
    }
}

/// Makes a pool over `size` bytes at `offset` into `backing`, named `name` in debugfs.
///
/// # Safety
///
/// No other live pool's slice of `backing` overlaps the range.
///
/// SAFETY of the callers: called by the module's start with the slice plan's disjoint slices, and
/// by the tests, which keep at most one pool over any byte of their reservation alive.
pub(crate) unsafe fn new_pool(
    backing: &Arc<Reservation>,
    offset: usize,
    size: usize,
    name: &CStr,
) -> Result<Arc<Pool>> {
    // SAFETY: as required of the caller.
    let slice = unsafe { Slice::new(backing, offset, size) }?;
    Pool::new(slice, name)
}

#[cfg(hvps_kunit)]
#[path = "kunit/pool.rs"]
pub(crate) mod kunit;
