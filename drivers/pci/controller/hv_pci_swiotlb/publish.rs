// SPDX-License-Identifier: GPL-2.0

//! Publication of the range for the host: `swiotlb_base` and `swiotlb_size` in the driver
//! directory of hv_pci (or of virtio-pci in test mode).

use crate::shim;
use kernel::{error::to_result, prelude::*};

/// The two sysfs files, removed on drop.
pub(crate) struct Publication(());

impl Publication {
    /// Publishes `[base, base + size)`.
    ///
    /// Fails with `ENXIO` if there is no vmbus (not a Hyper-V guest), `ENODEV` if the target
    /// driver is not registered (yet), and `EEXIST` if its directory already has the files,
    /// i.e. the running kernel publishes its own range.
    pub(crate) fn new(test_mode: bool, base: u64, size: usize) -> Result<Self> {
        // SAFETY: no preconditions; on success `drop` undoes it exactly once.
        to_result(unsafe { shim::hvps_publish(test_mode, base, size) })?;
        Ok(Self(()))
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        // SAFETY: the files were created by the successful `hvps_publish` in `new`.
        unsafe { shim::hvps_unpublish() };
    }
}
