// SPDX-License-Identifier: GPL-2.0

//! Safe ownership of SWIOTLB pools and of their attachment to devices.
//!
//! A [`Pool`] is a SWIOTLB allocator over a slice of a [`Reservation`]; an [`Attachment`] points
//! one device at a pool. The types encode the core API's rules:
//!
//! - an attachment holds a reference to its pool, so a pool outlives every device that uses it;
//! - a pool holds a reference to its reservation, so the memory outlives the pool;
//! - if the kernel refuses to let go (a device still has bounce buffers mapped), the pool or the
//!   memory is leaked with a warning instead of being freed under the device.

use crate::{
    core_api::CoreApi,
    reservation::Reservation,
    shim::{self, IoTlbMem, PoolStats},
};
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{
    bindings,
    device::Device,
    error::to_result,
    prelude::*,
    sync::{aref::ARef, Arc},
};

/// Pools created and not (yet) destroyed, for accounting and leak checks.
static LIVE_POOLS: AtomicUsize = AtomicUsize::new(0);

/// Proof that the device lock of a device is held, which the core requires to change the
/// device's pool.
pub(crate) struct Locked<'a>(&'a Device);

impl<'a> Locked<'a> {
    /// Vouches for a lock the caller already holds, e.g. in a bus notifier's driver events.
    ///
    /// # Safety
    ///
    /// The caller holds the device lock of `dev` for as long as the result lives.
    // SAFETY: only the bus notifier's driver events (the driver core holds the lock) and
    // `DeviceGuard::locked` (which holds it) call this.
    pub(crate) unsafe fn assume(dev: &'a Device) -> Self {
        Self(dev)
    }

    /// The locked device.
    pub(crate) fn device(&self) -> &'a Device {
        self.0
    }
}

/// Returns the C `struct device` behind `dev`.
pub(crate) fn raw_device(dev: &Device) -> *mut bindings::device {
    // CAST: `Device` is `#[repr(transparent)]` over `Opaque<bindings::device>`, which is itself
    // transparent over the C struct, so a pointer to one is a pointer to the other. The kernel
    // crate keeps its own accessor crate-private.
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}

/// A SWIOTLB pool over `[base, base + size)` of a reservation, destroyed when dropped.
pub(crate) struct Pool {
    mem: NonNull<IoTlbMem>,
    base: u64,
    size: usize,
    backing: Arc<Reservation>,
    _api: CoreApi,
}

// SAFETY: the core API synchronises all use of a pool internally; the handle is just an address.
unsafe impl Send for Pool {}
// SAFETY: as above; `&Pool` only allows attaching devices and reading counters, both thread-safe.
unsafe impl Sync for Pool {}

impl Pool {
    /// Creates a pool over `size` bytes at `offset` into `backing`, named `name` in debugfs.
    ///
    /// Fails with `EINVAL` if the slice does not lie within `backing` or the core rejects it
    /// (misaligned, smaller than one 256 KiB segment).
    pub(crate) fn new(
        api: &CoreApi,
        backing: &Arc<Reservation>,
        offset: usize,
        size: usize,
        name: &CStr,
    ) -> Result<Arc<Self>> {
        let end = offset.checked_add(size).ok_or(EINVAL)?;
        if end > backing.size() {
            return Err(EINVAL);
        }
        let base = backing.base() + offset as u64;
        let api = api.try_clone().ok_or(ENODEV)?;
        let mut mem = core::ptr::null_mut();
        // SAFETY: the API is referenced by `api`; `name` is NUL-terminated and only read during
        // the call; `mem` is a valid place for the result. The range is memory we own for as
        // long as the pool holds `backing`.
        match to_result(unsafe { shim::hvps_pool_create(base, size, name.as_char_ptr(), &mut mem) })
        {
            Ok(()) => {}
            Err(e) if e == EIO => {
                // Part of the range may still be shared with the host: never give it back.
                pr_err!("pool at {base:#x}: memory shared with the host is leaked\n");
                core::mem::forget(backing.clone());
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let mem = NonNull::new(mem).ok_or(ENOMEM)?;
        LIVE_POOLS.fetch_add(1, Ordering::Relaxed);
        let pool = Self {
            mem,
            base,
            size,
            backing: backing.clone(),
            _api: api,
        };
        // On allocation failure `pool` is dropped here, which destroys the fresh, idle pool.
        Ok(Arc::new(pool, GFP_KERNEL)?)
    }

    /// Physical address of the pool's first byte.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Size of the pool in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// A snapshot of the pool's counters.
    pub(crate) fn stats(&self) -> PoolStats {
        let mut stats = PoolStats::default();
        // SAFETY: `self.mem` is a live pool (destroyed only in `drop`); `stats` is writable.
        unsafe { shim::hvps_pool_stats(self.mem.as_ptr(), &mut stats) };
        stats
    }

    /// Points the locked device at this pool until the returned [`Attachment`] is detached.
    ///
    /// Call it only while nothing maps through the device: before its driver's probe runs
    /// (`BUS_NOTIFY_BIND_DRIVER`). Fails with `EBUSY` if the device still has bounce buffers in
    /// the pool it uses now, or has a pool the core does not let go (a restricted DMA pool).
    pub(crate) fn attach(self: &Arc<Self>, locked: &Locked<'_>) -> Result<Attachment> {
        let dev = locked.device();
        // SAFETY: the device lock is held (`locked`); the pool stays alive as long as the
        // attachment, which holds a reference to it and to `dev`; the caller guarantees that
        // nothing maps through `dev` concurrently.
        to_result(unsafe { shim::hvps_dev_set_pool(raw_device(dev), self.mem.as_ptr()) })?;
        Ok(Attachment {
            dev: Some(dev.into()),
            pool: self.clone(),
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: no attachment holds this pool any more (each holds a reference), so no device
        // maps through it; the pool is destroyed only here.
        let ret = unsafe { shim::hvps_pool_destroy(self.mem.as_ptr()) };
        if ret == 0 {
            LIVE_POOLS.fetch_sub(1, Ordering::Relaxed);
        } else {
            // The pool (EBUSY) or its memory's encryption state (EIO) is still live: never give
            // the memory back.
            pr_err!(
                "pool at {:#x} not destroyed ({}): leaking its memory\n",
                self.base,
                ret
            );
            core::mem::forget(self.backing.clone());
        }
    }
}

/// A device pointed at a [`Pool`]; [`Attachment::detach`] points it back at the default pool.
///
/// Dropping an attachment that is still attached cannot take the device lock (the driver core
/// may hold it), so it leaves the device with the pool and leaks the pool, loudly.
pub(crate) struct Attachment {
    dev: Option<ARef<Device>>,
    pool: Arc<Pool>,
}

impl Attachment {
    /// Returns the locked device, which must be this attachment's, to the default pool now.
    ///
    /// Call it only while nothing maps through the device: after its driver's remove, or while
    /// the bound driver does not use the DMA API for it. Fails with `EBUSY`, handing the
    /// attachment back, while the device has bounce buffers mapped in the pool, and with
    /// `EINVAL` for another device.
    pub(crate) fn detach(mut self, locked: &Locked<'_>) -> core::result::Result<(), (Self, Error)> {
        let Some(dev) = self.dev.as_ref() else {
            return Ok(());
        };
        if !core::ptr::eq(&**dev, locked.device()) {
            return Err((self, EINVAL));
        }
        // SAFETY: `dev` is live (we hold a reference) and locked (`locked`); NULL selects the
        // default pool.
        let ret = unsafe { shim::hvps_dev_set_pool(raw_device(dev), core::ptr::null_mut()) };
        match to_result(ret) {
            Ok(()) => {
                self.dev = None;
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if self.dev.is_some() {
            // The device still points at the pool: keep the pool alive for good.
            pr_err!(
                "a device was left with the pool at {:#x}; leaking the pool\n",
                self.pool.base()
            );
            core::mem::forget(self.pool.clone());
        }
    }
}

#[cfg(CONFIG_HV_PCI_SWIOTLB_KUNIT_TEST)]
#[path = "kunit/pool.rs"]
pub(crate) mod kunit;
