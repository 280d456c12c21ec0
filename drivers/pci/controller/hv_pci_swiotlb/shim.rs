// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C shim (`hv_pci_swiotlb_shim.c`), kept in one place.
//!
//! Only the small safe types of this driver ([`crate::core_api`], [`crate::reservation`],
//! [`crate::pool`]) call these; see the C file for each function's contract.

use kernel::{bindings, ffi::c_char, ffi::c_int};

/// `struct io_tlb_mem`, opaque to Rust: the kernel crate's bindings do not include
/// `linux/swiotlb.h`, and the driver never looks inside.
#[repr(C)]
pub(crate) struct IoTlbMem {
    _opaque: [u8; 0],
}

/// The driver's copy of `struct swiotlb_pool_stats` (the C side checks the layout).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PoolStats {
    /// Slots (of 2 KiB) in the pool.
    pub(crate) nslabs: usize,
    /// Slots in use now.
    pub(crate) used: usize,
    /// Most slots in use at once (needs `swiotlb=track_hiwater`).
    pub(crate) hiwater: usize,
    /// Bounce buffers handed out since the pool was made.
    pub(crate) mapped: usize,
}

// `bindings::device` ends in a flexible array that bindgen models as a field-less struct, which
// the lint flags; only pointers to it cross the boundary.
#[allow(improper_ctypes)]
extern "C" {
    pub(crate) fn hvps_core_api_get() -> bool;
    pub(crate) fn hvps_core_api_put();
    pub(crate) fn hvps_pool_create(
        base: bindings::phys_addr_t,
        size: usize,
        name: *const c_char,
        mem: *mut *mut IoTlbMem,
    ) -> c_int;
    pub(crate) fn hvps_pool_destroy(mem: *mut IoTlbMem) -> c_int;
    pub(crate) fn hvps_dev_set_pool(dev: *mut bindings::device, mem: *mut IoTlbMem) -> c_int;
    pub(crate) fn hvps_dev_pool(dev: *mut bindings::device) -> *const IoTlbMem;
    pub(crate) fn hvps_pool_stats(mem: *mut IoTlbMem, stats: *mut PoolStats);
    pub(crate) fn hvps_reserve(size: usize, phys: *mut bindings::phys_addr_t) -> *mut u8;
    pub(crate) fn hvps_unreserve(phys: bindings::phys_addr_t, size: usize);
    pub(crate) fn hvps_virt_to_phys(addr: *const u8) -> bindings::phys_addr_t;
}

#[cfg(CONFIG_KUNIT)]
extern "C" {
    pub(crate) fn hvps_kunit_skip(reason: *const c_char);
}
