// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C shim (`hv_pci_swiotlb_shim.c`), kept in one place.
//!
//! Only the small safe types of this driver ([`crate::reservation`], [`crate::devices`],
//! [`crate::publish`]) call these; see the C file for each function's contract.

use kernel::{
    bindings,
    device::Device,
    ffi::{c_char, c_int, c_void},
    prelude::*,
};

/// What the C shim tells about a device (`struct hvps_dev_facts`).
#[repr(C)]
pub(crate) struct DevFacts {
    pub(crate) driver: *const c_char,
    pub(crate) behind_hv_pci: bool,
}

impl Default for DevFacts {
    fn default() -> Self {
        Self {
            driver: core::ptr::null(),
            behind_hv_pci: false,
        }
    }
}

// `bindings::device` ends in a flexible array that bindgen models as a field-less struct, which
// the lint flags; only pointers to it cross the boundary.
#[allow(improper_ctypes)]
extern "C" {
    pub(crate) fn hvps_param_size() -> *const c_char;
    pub(crate) fn hvps_param_size_too_long() -> bool;
    pub(crate) fn hvps_param_layout() -> *const c_char;
    pub(crate) fn hvps_param_test_mode() -> bool;
    pub(crate) fn hvps_param_max_devices() -> u32;
    pub(crate) fn hvps_hyperv_guest() -> bool;
    pub(crate) fn hvps_publish(test_mode: bool, base: bindings::phys_addr_t, size: usize) -> c_int;
    pub(crate) fn hvps_unpublish();
    pub(crate) fn hvps_dev_facts(dev: *mut bindings::device, facts: *mut DevFacts);
    // SAFETY: `f` is called with a live PCI device, its lock held, and `data` as given.
    pub(crate) fn hvps_walk_pci_devs(
        f: Option<unsafe extern "C" fn(dev: *mut bindings::device, data: *mut c_void) -> c_int>,
        data: *mut c_void,
    ) -> c_int;
    pub(crate) fn hvps_virtio_dma_api(dev: *mut bindings::device) -> c_int;
}

/// Returns the C `struct device` behind `dev`, for the shim's functions.
pub(crate) fn raw_device(dev: &Device) -> *mut bindings::device {
    // CAST: `Device` is `#[repr(transparent)]` over `Opaque<bindings::device>`, which is itself
    // transparent over the C struct, so a pointer to one is a pointer to the other. The kernel
    // crate keeps its own accessor crate-private.
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}

/// A string parameter of the shim, as given by the user.
#[derive(Clone, Copy)]
pub(crate) enum Param {
    /// `hv_pci_swiotlb=` (built in) or `size=`.
    Size,
    /// `layout=`.
    Layout,
}

/// Whether the size parameter was longer than the shim's buffer: [`param`] then returns only
/// its start.
pub(crate) fn size_param_too_long() -> bool {
    // SAFETY: no preconditions.
    unsafe { hvps_param_size_too_long() }
}

/// Reads a string parameter from the shim: [`None`] if not given.
pub(crate) fn param(which: Param) -> Option<&'static [u8]> {
    // SAFETY: the parameter getters have no preconditions.
    let p = unsafe {
        match which {
            Param::Size => hvps_param_size(),
            Param::Layout => hvps_param_layout(),
        }
    };
    // SAFETY: a non-NULL result is a NUL-terminated string in a static buffer that is only
    // written while parameters are parsed, before the driver runs.
    (!p.is_null()).then(|| unsafe { CStr::from_char_ptr(p) }.to_bytes())
}

/// The `test_mode` parameter: serve every virtio-pci function, not only those behind hv_pci.
pub(crate) fn test_mode() -> bool {
    // SAFETY: no preconditions.
    unsafe { hvps_param_test_mode() }
}

/// The `max_devices` parameter as given; [`crate::params::choose_max_devices`] checks it.
pub(crate) fn max_devices() -> u32 {
    // SAFETY: no preconditions.
    unsafe { hvps_param_max_devices() }
}
