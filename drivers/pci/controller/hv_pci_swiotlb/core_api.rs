// SPDX-License-Identifier: GPL-2.0

//! Run-time access to the core kernel's SWIOTLB device pool API.
//!
//! The API comes from a core kernel patch that a given kernel may or may not carry. Linking
//! against it would make the module fail to load where it is missing, so the symbols are looked
//! up when the driver starts instead.

use crate::shim;

/// Proof that the running kernel provides the SWIOTLB device pool API, holding a reference on
/// it while it lives. Every pool keeps one, so the API outlives all pools.
pub(crate) struct CoreApi(());

impl CoreApi {
    /// Looks the API up; [`None`] if the running kernel lacks any part of it.
    pub(crate) fn get() -> Option<Self> {
        // SAFETY: `hvps_core_api_get` has no preconditions; on success we own one reference
        // and release it exactly once, in `drop`.
        unsafe { shim::hvps_core_api_get() }.then(|| Self(()))
    }

    /// Takes another reference on the API.
    pub(crate) fn try_clone(&self) -> Option<Self> {
        Self::get()
    }
}

impl Drop for CoreApi {
    fn drop(&mut self) {
        // SAFETY: `self` exists only after `hvps_core_api_get` succeeded, and is dropped once.
        unsafe { shim::hvps_core_api_put() };
    }
}
