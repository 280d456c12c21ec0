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
    slices,
};
use core::{
    fmt::{self, Write},
    ops::ControlFlow,
};
use kernel::{
    c_str,
    device::{
        lock::{Guard, Locked},
        notifier::{BusEvent, BusEvents, BusType},
        Device,
    },
    new_mutex, pci,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
    virtio,
};

/// PCI vendor ID of virtio devices.
pub(crate) const VIRTIO_VENDOR: u16 = 0x1af4;
/// Name of the PCI driver of virtio devices.
pub(crate) const VIRTIO_PCI_DRIVER_NAME: &str = "virtio-pci";
/// The bus that hv_pci's devices are on, as in `/sys/bus/vmbus`.
const VMBUS: &CStr = c_str!("vmbus");
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

/// What the attach policy looks at, read from the locked device.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DeviceFacts<'a> {
    /// PCI vendor ID.
    pub(crate) vendor: u16,
    /// Name of the driver binding or bound, if any.
    pub(crate) driver: Option<&'a [u8]>,
    /// Whether the device hangs below a VMBus device, which hv_pci binds to: a Hyper-V vPCI
    /// function.
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
    Here {
        /// The files, removed when the registry goes.
        _files: Publication,
    },
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
/// while a bound driver may be mapping through one of its pools. Without module unloading
/// (`CONFIG_MODULE_UNLOAD=n`, or built in) there is nothing to hold.
struct ModuleRef;

impl ModuleRef {
    /// Takes a reference on this module; [`None`] once it is being unloaded.
    fn get() -> Option<Self> {
        #[cfg(CONFIG_MODULE_UNLOAD)]
        {
            // SAFETY: `this_module()` is this module (NULL when built in, which
            // `try_module_get()` accepts). It was stored by `init` before the bus notifier,
            // the only caller outside the tests (which run after `init`), was registered, and
            // the module is not freed before that notifier is unregistered, which waits for
            // callbacks in flight.
            if !unsafe { kernel::bindings::try_module_get(crate::this_module()) } {
                return None;
            }
        }
        Some(ModuleRef)
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        #[cfg(CONFIG_MODULE_UNLOAD)]
        // SAFETY: the reference was taken by `get`, on the same module.
        unsafe {
            kernel::bindings::module_put(crate::this_module())
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
            Published::Here { .. } => Ok(()),
            Published::Elsewhere => Err(EEXIST),
            Published::Pending => match Publication::new(self.test_mode, self.base, self.size) {
                Ok(p) => {
                    b.published = Published::Here { _files: p };
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

    /// What the attach policy needs to know about the locked device; the driver name borrows
    /// from the driver bound or binding to it, which the lock keeps.
    fn facts<'a>(locked: &'a Locked<'_>) -> DeviceFacts<'a> {
        let dev = locked.device();
        let pdev: Result<&pci::Device> = dev.try_into();
        let driver = locked.driver_name().map(CStr::to_bytes);
        DeviceFacts {
            vendor: pdev.map_or(0, |p| p.vendor_id().as_raw()),
            driver,
            // hv_pci puts the PCI buses of a vPCI device below that VMBus device; nothing else
            // puts PCI buses on VMBus. Only a device with a driver matters to the policy.
            // SAFETY: the device is locked with a driver bound or binding, so it is registered
            // (`device_del()` unbinds it first, under the lock) and holds its parent, as each
            // ancestor holds its own, so none is freed (PCI removes children before bridges;
            // after a failed resume hv_pci may remove the VMBus device first, which its child's
            // reference still pins). A device's bus is never cleared, and the buses here (PCI,
            // VMBus, platform) are static. Nothing in PCI, VMBus or virtio calls
            // `device_move()`.
            behind_hv_pci: driver.is_some()
                && unsafe { dev.ancestors().any(|a| a.is_on_bus(VMBUS)) },
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
        let mut count = 0;
        let _ = BusType::pci().for_each_dev(|dev| {
            let guard = Guard::lock(dev);
            if self.is_prebound(&guard.locked()) {
                dev_info!(
                    dev,
                    "bound before hv_pci_swiotlb started: keeps the default SWIOTLB pool until \
                     bound again\n"
                );
                count += 1;
            }
            ControlFlow::Continue(())
        });
        if count > 0 {
            pr_info!(
                "{} device(s) bound before this driver started keep the default SWIOTLB pool; \
                 to give one its own pool, bind it again (it stops for a moment): \
                 echo <device> >/sys/bus/pci/drivers/{drv}/unbind; \
                 echo <device> >/sys/bus/pci/drivers/{drv}/bind\n",
                count,
                drv = VIRTIO_PCI_DRIVER_NAME
            );
        }
    }

    /// Whether the locked device would have a pool had it bound after this driver started, and
    /// has none.
    fn is_prebound(&self, locked: &Locked<'_>) -> bool {
        let dev = locked.device();
        if !wants_pool(&Self::facts(locked), self.test_mode) {
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
        virtio_dma_api(locked) != Some(false)
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

/// Whether the virtio device of the locked PCI function maps its buffers through the DMA API
/// (`VIRTIO_F_ACCESS_PLATFORM`), and so through SWIOTLB: as negotiated if a virtio driver is
/// bound to it, else as the device offers (the virtio core keeps every transport feature the
/// device offers). [`None`] if the function is not bound to virtio-pci or has no virtio device
/// (yet).
///
/// Takes the virtio device's lock, child after parent as the driver core does.
fn virtio_dma_api(locked: &Locked<'_>) -> Option<bool> {
    if locked.driver_name().map(CStr::to_bytes) != Some(VIRTIO_PCI_DRIVER) {
        return None;
    }
    let mut uses = None;
    let _ = locked.device().for_each_child(|child| {
        if !virtio::is_virtio_device(child) {
            return ControlFlow::Continue(());
        }
        let guard = Guard::lock(child);
        let locked = guard.locked();
        // SAFETY: a virtio child of the function is the one virtio-pci registered in its probe;
        // virtio-pci, bound, unregisters it only in its remove, which needs the function's
        // lock, held here.
        let Some(vdev) = (unsafe { virtio::Device::from_locked(&locked) }) else {
            return ControlFlow::Continue(());
        };
        let feature = virtio::TransportFeature::ACCESS_PLATFORM;
        uses = Some(
            vdev.negotiated(feature)
                .unwrap_or_else(|| vdev.offers(feature)),
        );
        ControlFlow::Break(())
    });
    uses
}

impl BusEvents for Registry {
    fn event(&self, event: BusEvent, dev: &Device) {
        // SAFETY: the driver core holds the device lock for every driver event (really_probe()
        // and device_release_driver()) while it calls the notifier chain.
        let locked = || unsafe { Locked::assume(dev) };
        match event {
            BusEvent::BindDriver => {
                let locked = locked();
                // SAFETY: sent after dma_configure() and before the driver's probe: nothing maps.
                unsafe { self.bind(&locked, &Self::facts(&locked)) }
            }
            BusEvent::BoundDriver => {
                // Decided now for good: by the negotiated features if a virtio driver is bound
                // to the function's virtio device, else by what the device offers.
                if virtio_dma_api(&locked()) == Some(false) {
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
