// SPDX-License-Identifier: GPL-2.0

//! Per-device SWIOTLB bounce buffer pools for virtio devices behind Hyper-V vPCI.
//!
//! In a WSL 2 guest every virtio device (virtiofs for `/mnt/c`, virtio-net) bounces its streaming
//! DMA through SWIOTLB. This driver gives each such device its own pool carved from one range
//! below 4 GiB and publishes that range for the host, which hands it to every virtio device as
//! `swiotlb=0x<base>,<size>`.
//!
//! The pools need the SWIOTLB device pool API of the core kernel. It is looked up when the driver
//! starts, so one module binary serves kernels with and without it; without it the driver says
//! so once and stays idle.

mod core_api;
mod pool;
mod reservation;
mod shim;
mod size;

use kernel::prelude::*;

module! {
    type: HvPciSwiotlb,
    name: "hv_pci_swiotlb",
    authors: ["hv-swiotlb developers"],
    description: "Per-device SWIOTLB pools for virtio devices behind Hyper-V vPCI",
    license: "GPL",
}

/// What a user on a kernel without the core SWIOTLB device pool API reads, word for word as the
/// WSL host service prints it.
pub(crate) const MISSING_PATCH_MSG: &str = "The running kernel is missing a patch that \
    significantly improves virtio device performance. Update to a more recent WSL kernel to \
    enable this optimization.";

struct HvPciSwiotlb {
    _api: Option<core_api::CoreApi>,
}

impl kernel::Module for HvPciSwiotlb {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let api = core_api::CoreApi::get();
        match api {
            Some(_) => pr_info!("SWIOTLB device pool API available\n"),
            None => pr_warn!("{}\n", MISSING_PATCH_MSG),
        }
        Ok(Self { _api: api })
    }
}
