// SPDX-License-Identifier: GPL-2.0
//! `swiotlbctl`: inspect the per-device SWIOTLB bounce-buffer pool that the
//! `hv_pci` driver reserves for virtio devices in WSL 2-style Hyper-V guests.
//!
//! The library half of the crate holds everything that can be tested without
//! running the binary:
//!
//! * [`sysfs`] locates and parses the `swiotlb_base` / `swiotlb_size`
//!   driver attributes (the stable contract with the kernel);
//! * [`debugfs`] parses the per-device detail in
//!   `/sys/kernel/debug/hv_pci_swiotlb/` (informational, not ABI);
//! * [`report`] renders the `status` report as text or JSON;
//! * [`error`] defines the error type and its mapping to exit codes.
//!
//! The binary (`src/main.rs`) only parses the command line and dispatches.

#![warn(missing_docs)]

pub mod debugfs;
pub mod error;
pub mod report;
pub mod sysfs;

pub use error::{Error, ExitStatus};
