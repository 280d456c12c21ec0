// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C shim (`hv_pci_swiotlb_shim.c`), kept in one place.
//!
//! Only the small safe functions below call these; see the C file for each function's
//! contract.

use kernel::{ffi::c_char, prelude::*};

extern "C" {
    pub(crate) fn hvps_param_size() -> *const c_char;
    pub(crate) fn hvps_param_size_too_long() -> bool;
    pub(crate) fn hvps_param_layout() -> *const c_char;
    pub(crate) fn hvps_param_test_mode() -> bool;
    pub(crate) fn hvps_param_max_devices() -> u32;
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
