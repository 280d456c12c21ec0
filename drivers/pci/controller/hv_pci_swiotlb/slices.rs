// SPDX-License-Identifier: GPL-2.0

//! How the reservation is cut into pools.

use crate::{params::Layout, reservation::RESERVATION_ALIGN};

/// The smallest pool: a device's largest request must fit in its pool, or the request is
/// retried forever. virtio-blk's default largest request is 1280 KiB (`max_sectors_kb`), and
/// pools only use whole 256 KiB segments.
pub(crate) const MIN_SLICE: usize = 2 << 20;

/// The pools to make: `count` slices of `size` bytes, back to back from the start of the
/// reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlicePlan {
    /// Number of pools.
    pub(crate) count: usize,
    /// Bytes per pool, a whole number of 2 MiB: eight 256 KiB segments, so that a pool with
    /// up to eight areas (one per CPU) uses all of it (an area holds whole segments).
    pub(crate) size: usize,
}

impl SlicePlan {
    /// Plans `total` bytes for `layout`, with at most `max_devices` per-device slices.
    ///
    /// Each slice gets at least [`MIN_SLICE`], so a small reservation makes fewer slices than
    /// asked for. [`None`] if not even one fits.
    pub(crate) fn new(total: usize, layout: Layout, max_devices: usize) -> Option<Self> {
        if total < MIN_SLICE {
            return None;
        }
        let count = match layout {
            Layout::Shared => 1,
            Layout::PerDevice => max_devices.clamp(1, total / MIN_SLICE),
        };
        Some(Self {
            count,
            size: total / count / RESERVATION_ALIGN * RESERVATION_ALIGN,
        })
    }

    /// Offset of slice `i` in the reservation.
    pub(crate) fn offset(&self, i: usize) -> usize {
        i * self.size
    }
}

/// Which slice a device that needs one gets, given how many devices use each slice now.
///
/// A free slice if there is one, the lowest-numbered; otherwise the least shared slice. More
/// devices than slices therefore share pools evenly instead of falling back to the default pool,
/// so that every device still bounces inside the range the host was told about.
pub(crate) fn pick_slice(users: impl IntoIterator<Item = usize>) -> Option<usize> {
    users
        .into_iter()
        .enumerate()
        .min_by_key(|&(i, n)| (n, i))
        .map(|(i, _)| i)
}

#[cfg(hvps_kunit)]
#[path = "kunit/slices.rs"]
mod kunit;
