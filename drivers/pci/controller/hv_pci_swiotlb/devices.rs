// SPDX-License-Identifier: GPL-2.0

//! Which device uses which pool: the attach policy and its bookkeeping.
//!
//! A virtio PCI function gets a pool when virtio-pci is about to bind to it (nothing is mapped
//! yet), gives it back when virtio-pci turns out not to use the DMA API for it, and when the
//! driver unbinds or the device goes away. All pools are made up front, so these events only
//! move pointers.
//!
//! A device only gets a pool while the range is published by this driver: the host hands every
//! virtio device the published range, and expects its bounce buffers there.

use crate::{
    params::Layout,
    pool::{Attachment, Pool},
    publish::Publication,
    shim::{self, raw_device},
    slices,
};
use core::fmt::{self, Write};
use kernel::{
    bindings,
    device::{
        lock::Locked,
        notifier::{BusEvent, BusEvents},
        Device,
    },
    ffi::{c_int, c_void},
    new_mutex, pci,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
};

/// PCI vendor ID of virtio devices.
pub(crate) const VIRTIO_VENDOR: u16 = 0x1af4;
/// Name of the PCI driver of virtio devices.
pub(crate) const VIRTIO_PCI_DRIVER_NAME: &str = "virtio-pci";
/// [`VIRTIO_PCI_DRIVER_NAME`] as the C side spells it.
pub(crate) const VIRTIO_PCI_DRIVER: &[u8] = VIRTIO_PCI_DRIVER_NAME.as_bytes();

/// The driver whose directory holds the published range.
pub(crate) fn target(test_mode: bool) -> &'static str {
    if test_mode {
        VIRTIO_PCI_DRIVER_NAME
    } else {
        "hv_pci"
    }
}

/// Logs that the range is published by someone else at start, after which this driver hands out
/// no pools.
pub(crate) fn log_published_elsewhere(test_mode: bool) {
    pr_info!(
        "{} already publishes swiotlb_base: the kernel has its own pools; idle\n",
        target(test_mode)
    );
}

/// What the attach policy looks at, gathered by the C shim.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DeviceFacts<'a> {
    /// PCI vendor ID.
    pub(crate) vendor: u16,
    /// Name of the driver binding or bound, if any.
    pub(crate) driver: Option<&'a [u8]>,
    /// Whether an ancestor is bound to hv_pci (a Hyper-V vPCI function).
    pub(crate) behind_hv_pci: bool,
}

/// Whether a device should get a pool: a virtio function handled by virtio-pci, behind Hyper-V
/// vPCI unless in test mode.
pub(crate) fn wants_pool(facts: &DeviceFacts<'_>, test_mode: bool) -> bool {
    facts.vendor == VIRTIO_VENDOR
        && facts.driver == Some(VIRTIO_PCI_DRIVER)
        && (test_mode || facts.behind_hv_pci)
}

struct Binding {
    dev: ARef<Device>,
    /// The driver `dev` was binding to when it got its pool, for the debugfs table: readers of
    /// the table do not hold the device lock, so they must not look at the device's driver.
    driver: &'static str,
    slice: usize,
    attachment: Attachment,
    module: ModuleRef,
}

/// Who publishes the range.
enum Published {
    /// Nobody yet: the target driver was not registered when this driver started.
    Pending,
    /// This driver, until the publication is dropped.
    Here(Publication),
    /// Someone else (the running kernel's hv_pci): the host reads their range, so this driver
    /// hands out no pools.
    Elsewhere,
}

struct Bindings {
    list: KVec<Binding>,
    published: Published,
}

/// The pools and the devices using them; handles the PCI bus's events.
///
/// Fields drop in order: the publication (in `bindings`) goes before the pools do.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    bindings: Mutex<Bindings>,
    pools: KVec<Arc<Pool>>,
    test_mode: bool,
    layout: Layout,
    base: u64,
    size: usize,
}

/// A module reference held for each device with a pool, so that the module cannot be unloaded
/// while a bound driver may be mapping through one of its pools.
struct ModuleRef;

impl ModuleRef {
    /// Takes a reference on this module; [`None`] once it is being unloaded.
    fn get() -> Option<Self> {
        #[cfg(CONFIG_MODULES)]
        {
            // SAFETY: `this_module()` is this module (NULL when built in, which
            // `try_module_get()` accepts), alive while its code runs.
            if !unsafe { bindings::try_module_get(crate::this_module()) } {
                return None;
            }
        }
        Some(ModuleRef)
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        #[cfg(CONFIG_MODULES)]
        // SAFETY: the reference was taken by `get`.
        unsafe {
            bindings::module_put(crate::this_module())
        };
    }
}

impl Registry {
    /// A registry handing out `pools`, cut from `[base, base + size)`, according to `layout`.
    pub(crate) fn new(
        test_mode: bool,
        layout: Layout,
        pools: KVec<Arc<Pool>>,
        base: u64,
        size: usize,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            bindings <- new_mutex!(Bindings {
                list: KVec::new(),
                published: Published::Pending,
            }),
            pools,
            test_mode,
            layout,
            base,
            size,
        })
    }

    /// Publishes the range unless it is published already.
    ///
    /// The target driver may register after this driver starts (virtio-pci when both are
    /// built in), so this is retried whenever a device is about to bind. Once it failed with
    /// `EEXIST` (someone else publishes), it fails so for good.
    pub(crate) fn publish(&self) -> Result {
        self.publish_locked(&mut self.bindings.lock())
    }

    fn publish_locked(&self, b: &mut Bindings) -> Result {
        match b.published {
            Published::Here(_) => Ok(()),
            Published::Elsewhere => Err(EEXIST),
            Published::Pending => match Publication::new(self.test_mode, self.base, self.size) {
                Ok(p) => {
                    b.published = Published::Here(p);
                    Ok(())
                }
                Err(e) => {
                    if e == EEXIST {
                        b.published = Published::Elsewhere;
                    }
                    Err(e)
                }
            },
        }
    }

    /// What the attach policy needs to know about `dev`.
    ///
    /// Only for callers that hold the device lock (the bus notifier, [`Self::report_prebound`]):
    /// the driver name borrows from the driver bound or binding to `dev`, which the lock keeps.
    fn facts(dev: &Device) -> DeviceFacts<'_> {
        let mut raw = shim::DevFacts::default();
        // SAFETY: `dev` is a PCI device (both callers walk the PCI bus) that is alive for the
        // call, and its lock is held; `raw` is writable.
        unsafe { shim::hvps_dev_facts(raw_device(dev), &mut raw) };
        let pdev: Result<&pci::Device> = dev.try_into();
        DeviceFacts {
            vendor: pdev.map_or(0, |p| p.vendor_id().as_raw()),
            // SAFETY: a non-NULL driver name is a NUL-terminated string that lives as long as
            // the driver, which stays bound or binding to `dev` while the caller holds the
            // device lock, i.e. for as long as the caller uses the facts.
            driver: (!raw.driver.is_null())
                .then(|| unsafe { CStr::from_char_ptr(raw.driver) }.to_bytes()),
            behind_hv_pci: raw.behind_hv_pci,
        }
    }

    /// Handles a driver about to bind to `dev`: a pool if the policy wants one for the device
    /// and the range is published.
    ///
    /// # Safety
    ///
    /// Nothing maps through the locked device during the call (its driver has not probed yet).
    ///
    /// SAFETY of the callers: called at `BUS_NOTIFY_BIND_DRIVER` (before probe) and by the tests on
    /// faux devices that map nothing.
    unsafe fn bind(&self, locked: &Locked<'_>, facts: &DeviceFacts<'_>) {
        if !wants_pool(facts, self.test_mode) {
            return;
        }
        let dev = locked.device();
        let mut b = self.bindings.lock();
        let elsewhere = matches!(b.published, Published::Elsewhere);
        match self.publish_locked(&mut b) {
            // `wants_pool` matched the driver name, so this is the driver binding.
            // SAFETY: as required of our caller.
            Ok(()) => unsafe { self.attach(&mut b, locked, VIRTIO_PCI_DRIVER_NAME) },
            Err(e) if e == EEXIST => {
                if !elsewhere {
                    dev_info!(
                        dev,
                        "{} already publishes swiotlb_base: keeping the default SWIOTLB pool; \
                         hv_pci_swiotlb stays idle\n",
                        target(self.test_mode)
                    );
                }
            }
            Err(e) => dev_warn!(
                dev,
                "cannot publish the range ({e:?}): keeping the default SWIOTLB pool\n"
            ),
        }
    }

    /// Gives the locked device, about to bind to `driver`, a pool.
    ///
    /// # Safety
    ///
    /// Nothing maps through the locked device during the call.
    ///
    /// SAFETY of the callers: called by `bind`, which has the same requirement, and by the tests on
    /// faux devices that map nothing.
    unsafe fn attach(&self, b: &mut Bindings, locked: &Locked<'_>, driver: &'static str) {
        let dev = locked.device();
        if b.list.iter().any(|x| core::ptr::eq(&*x.dev, dev)) {
            return;
        }
        let users = |i: usize| b.list.iter().filter(|x| x.slice == i).count();
        let Some(slice) = slices::pick_slice((0..self.pools.len()).map(users)) else {
            return;
        };
        let shared = self.layout == Layout::PerDevice && users(slice) > 0;
        let Some(module) = ModuleRef::get() else {
            // Only while the module is being unloaded: its notifier is about to go.
            dev_warn!(
                dev,
                "hv_pci_swiotlb is being unloaded: keeping the default SWIOTLB pool\n"
            );
            return;
        };
        // Room first: once attached, the binding must not be lost to a failed allocation.
        if let Err(e) = b.list.reserve(1, GFP_KERNEL) {
            dev_err!(
                dev,
                "out of memory ({e:?}): keeping the default SWIOTLB pool\n"
            );
            return;
        }
        let pool = &self.pools[slice];
        // SAFETY: as required of our caller.
        let attachment = match unsafe { pool.attach(locked) } {
            Ok(a) => a,
            Err(e) => {
                dev_warn!(
                    dev,
                    "cannot use SWIOTLB pool {slice} ({e:?}); keeping the default\n"
                );
                return;
            }
        };
        if b.list
            .push_within_capacity(Binding {
                dev: dev.into(),
                driver,
                slice,
                attachment,
                module,
            })
            .is_err()
        {
            // Unreachable: room was reserved above, under the same lock.
            return;
        }
        dev_info!(
            dev,
            "SWIOTLB pool {slice}{}: {:#x}+{:#x}\n",
            if shared {
                " (shared: more devices than slices)"
            } else {
                ""
            },
            pool.memory().base(),
            pool.memory().size()
        );
    }

    /// Gives the pool of the locked device back, if it has one.
    ///
    /// # Safety
    ///
    /// Nothing maps through the locked device during the call: its driver has been removed,
    /// failed to probe, or does not use the DMA API for it.
    ///
    /// SAFETY of the callers: called only from the driver events listed in `event` (after remove,
    /// after a failed probe, or for a device that does not use the DMA API) and by the tests.
    unsafe fn release(&self, locked: &Locked<'_>, why: &str) {
        let dev = locked.device();
        let mut b = self.bindings.lock();
        let Some(i) = b.list.iter().position(|x| core::ptr::eq(&*x.dev, dev)) else {
            return;
        };
        let Ok(Binding {
            slice,
            attachment,
            module,
            ..
        }) = b.list.remove(i)
        else {
            return;
        };
        drop(b);
        // SAFETY: as required of our caller.
        match unsafe { attachment.detach(locked) } {
            Ok(()) => dev_info!(dev, "SWIOTLB pool {slice} released ({why})\n"),
            Err((attachment, e)) => {
                // Still mapping: the pool and the module stay with the device for good rather
                // than disappear under it.
                dev_err!(dev, "SWIOTLB pool {slice} still in use ({e:?}); kept\n");
                core::mem::forget(attachment);
                core::mem::forget(module);
            }
        }
    }

    /// Logs the devices that keep the default pool because virtio-pci bound them before this
    /// driver started, and how to move them to a pool of their own: bind them again.
    ///
    /// Call it once, after the bus notifier is registered: a device bound from then on either
    /// has a pool already or gets one (or a log line saying why not) from its own events.
    pub(crate) fn report_prebound(&self) {
        let mut walk = PreboundWalk {
            registry: self,
            count: 0,
        };
        // SAFETY: `prebound_one` takes `data` as the `PreboundWalk` it is given here, which
        // outlives the call.
        unsafe {
            shim::hvps_walk_pci_devs(
                Some(prebound_one),
                core::ptr::from_mut(&mut walk).cast::<c_void>(),
            )
        };
        if walk.count > 0 {
            pr_info!(
                "{} device(s) bound before this driver started keep the default SWIOTLB pool; \
                 to give one its own pool, bind it again (it stops for a moment): \
                 echo <device> >/sys/bus/pci/drivers/{drv}/unbind; \
                 echo <device> >/sys/bus/pci/drivers/{drv}/bind\n",
                walk.count,
                drv = VIRTIO_PCI_DRIVER_NAME
            );
        }
    }

    /// Whether `dev`, whose lock the caller holds, would have a pool had it bound after this
    /// driver started, and has none.
    fn is_prebound(&self, dev: &Device) -> bool {
        if !wants_pool(&Self::facts(dev), self.test_mode) {
            return false;
        }
        if self
            .bindings
            .lock()
            .list
            .iter()
            .any(|x| core::ptr::eq(&*x.dev, dev))
        {
            return false;
        }
        // A device whose virtio driver does not use the DMA API would give its pool back.
        // SAFETY: `dev` is bound to virtio-pci (`wants_pool` checked) and its lock is held.
        unsafe { shim::hvps_virtio_dma_api(raw_device(dev)) != 0 }
    }

    /// Writes the per-device table of the debugfs file `devices`.
    pub(crate) fn write_table(&self, f: &mut impl Write) -> fmt::Result {
        writeln!(
            f,
            "# device driver base size slots used hiwater mappings failures"
        )?;
        let b = self.bindings.lock();
        for x in b.list.iter() {
            let pool = &self.pools[x.slice];
            let st = pool.stats();
            writeln!(
                f,
                "{} {} {:#x} {} {} {} {} {} {}",
                x.dev.name().to_str().unwrap_or("?"),
                x.driver,
                pool.memory().base(),
                pool.memory().size(),
                st.slots,
                st.used,
                st.hiwater,
                st.mapped,
                st.failed
            )?;
        }
        Ok(())
    }

    /// The layout in use.
    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }
}

/// The state of [`Registry::report_prebound`] while it walks the PCI bus.
struct PreboundWalk<'a> {
    registry: &'a Registry,
    count: usize,
}

/// Called by `hvps_walk_pci_devs` for each PCI device, with its lock held.
///
/// # Safety
///
/// `dev` is a live device whose lock the caller holds; `data` points to the [`PreboundWalk`] of
/// the running [`Registry::report_prebound`], used by nothing else during the call. (SAFETY of
/// the callers: only `hvps_walk_pci_devs` calls it, from `report_prebound`, which holds to this.)
unsafe extern "C" fn prebound_one(dev: *mut bindings::device, data: *mut c_void) -> c_int {
    // SAFETY: as required of the caller.
    let walk = unsafe { &mut *data.cast::<PreboundWalk<'_>>() };
    // SAFETY: `dev` is live for the call (the bus iterator holds a reference).
    let dev = unsafe { Device::from_raw(dev) };
    if !walk.registry.is_prebound(dev) {
        return 0;
    }
    dev_info!(
        dev,
        "bound before hv_pci_swiotlb started: keeps the default SWIOTLB pool until bound again\n"
    );
    walk.count += 1;
    0
}

impl BusEvents for Registry {
    fn event(&self, event: BusEvent, dev: &Device) {
        // SAFETY: the driver core holds the device lock for every driver event (really_probe()
        // and device_release_driver()) while it calls the notifier chain.
        let locked = || unsafe { Locked::assume(dev) };
        match event {
            // SAFETY: sent after dma_configure() and before the driver's probe: nothing maps.
            BusEvent::BindDriver => unsafe { self.bind(&locked(), &Self::facts(dev)) },
            BusEvent::BoundDriver => {
                // Decided now for good: by the negotiated features if a virtio driver is bound
                // to the function's virtio device, else by what the device offers.
                // SAFETY: `dev` is bound to virtio-pci (or not ours); the device lock is held.
                if unsafe { shim::hvps_virtio_dma_api(raw_device(dev)) } == 0 {
                    // SAFETY: without VIRTIO_F_ACCESS_PLATFORM the virtio device's driver never
                    // maps through the DMA API, and virtio-pci itself maps nothing.
                    unsafe {
                        self.release(
                            &locked(),
                            "no VIRTIO_F_ACCESS_PLATFORM: it does not use the DMA API",
                        )
                    };
                }
            }
            // SAFETY: sent after the driver's remove, whose mappings are gone with it.
            BusEvent::UnboundDriver => unsafe { self.release(&locked(), "driver unbound") },
            // A device that goes away is unbound first (device_del()), and that releases its
            // pool: at BUS_NOTIFY_DEL_DEVICE its driver is still bound and may map.
            // SAFETY: sent after a failed probe, which has undone its mappings.
            BusEvent::DriverNotBound => unsafe { self.release(&locked(), "driver failed to bind") },
            // Nothing to do before a driver is bound, and nothing to undo while it unbinds.
            BusEvent::AddDevice
            | BusEvent::DelDevice
            | BusEvent::RemovedDevice
            | BusEvent::UnbindDriver => {}
        }
    }
}

#[cfg(hvps_kunit)]
#[path = "kunit/devices.rs"]
mod kunit;
