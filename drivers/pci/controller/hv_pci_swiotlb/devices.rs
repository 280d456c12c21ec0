// SPDX-License-Identifier: GPL-2.0

//! Which device uses which pool: the attach policy and its bookkeeping.
//!
//! A virtio PCI function gets a pool when virtio-pci is about to bind to it (nothing is mapped
//! yet), gives it back when virtio-pci turns out not to use the DMA API for it, and when the
//! driver unbinds or the device goes away. All pools are made up front, so these events only
//! move pointers.

use crate::{
    notifier::{BusEvent, BusEvents},
    params::Layout,
    pool::{raw_device, Attachment, Pool},
    publish::Publication,
    shim, slices,
};
use core::fmt::{self, Write};
use kernel::{
    device::Device,
    new_mutex,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
};

/// PCI vendor ID of virtio devices.
pub(crate) const VIRTIO_VENDOR: u16 = 0x1af4;
/// Name of the PCI driver of virtio devices.
pub(crate) const VIRTIO_PCI_DRIVER: &[u8] = b"virtio-pci";

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
    slice: usize,
    attachment: Attachment,
    module: ModuleRef,
}

struct Bindings {
    list: KVec<Binding>,
    publication: Option<Publication>,
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
    fn get() -> Option<Self> {
        // SAFETY: no preconditions.
        unsafe { shim::hvps_module_get() }.then(|| ModuleRef)
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: taken by a successful `hvps_module_get` in `get`.
        unsafe { shim::hvps_module_put() };
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
                publication: None,
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
    /// built in), so this is retried whenever a device is about to bind.
    pub(crate) fn publish(&self) -> Result {
        let mut b = self.bindings.lock();
        if b.publication.is_none() {
            b.publication = Some(Publication::new(self.test_mode, self.base, self.size)?);
        }
        Ok(())
    }

    fn facts(dev: &Device) -> DeviceFacts<'_> {
        let mut raw = shim::DevFacts::default();
        // SAFETY: `dev` is a PCI device (the notifier is on the PCI bus) that the bus keeps
        // alive during the event; `raw` is writable.
        unsafe { shim::hvps_dev_facts(raw_device(dev), &mut raw) };
        DeviceFacts {
            vendor: raw.vendor,
            // SAFETY: a non-NULL driver name is a NUL-terminated string that lives as long as
            // the driver, which stays registered while it is bound or binding to `dev`.
            driver: (!raw.driver.is_null())
                .then(|| unsafe { CStr::from_char_ptr(raw.driver) }.to_bytes()),
            behind_hv_pci: raw.behind_hv_pci,
        }
    }

    fn attach(&self, dev: &Device) {
        let mut b = self.bindings.lock();
        if b.list.iter().any(|x| core::ptr::eq(&*x.dev, dev)) {
            return;
        }
        let users = |i: usize| b.list.iter().filter(|x| x.slice == i).count();
        let Some(slice) = slices::pick_slice((0..self.pools.len()).map(users)) else {
            return;
        };
        let shared = self.layout == Layout::PerDevice && users(slice) > 0;
        let Some(module) = ModuleRef::get() else {
            return;
        };
        let pool = &self.pools[slice];
        let attachment = match pool.attach(dev) {
            Ok(a) => a,
            Err(e) => {
                dev_warn!(
                    dev,
                    "cannot use SWIOTLB pool {slice} ({e:?}); keeping the default\n"
                );
                return;
            }
        };
        if let Err(e) = b.list.push(
            Binding {
                dev: dev.into(),
                slice,
                attachment,
                module,
            },
            GFP_KERNEL,
        ) {
            // Dropping the binding detaches again (nothing is mapped yet).
            dev_err!(
                dev,
                "out of memory ({e:?}): keeping the default SWIOTLB pool\n"
            );
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
            pool.base(),
            pool.size()
        );
    }

    fn release(&self, dev: &Device, why: &str) {
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
        match attachment.detach() {
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

    /// Releases the pools of devices that turned out not to use the DMA API, for devices whose
    /// virtio driver was not bound yet when virtio-pci finished binding.
    pub(crate) fn recheck(&self) {
        loop {
            let dev = {
                let b = self.bindings.lock();
                b.list
                    .iter()
                    // SAFETY: the device is alive (we hold a reference) and bound to virtio-pci.
                    .find(|x| unsafe { shim::hvps_virtio_dma_api(raw_device(&x.dev)) } == 0)
                    .map(|x| x.dev.clone())
            };
            match dev {
                Some(dev) => self.release(
                    &dev,
                    "no VIRTIO_F_ACCESS_PLATFORM: it does not use the DMA API",
                ),
                None => return,
            }
        }
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
            let facts = Self::facts(&x.dev);
            let driver = facts
                .driver
                .and_then(|d| core::str::from_utf8(d).ok())
                .unwrap_or("-");
            writeln!(
                f,
                "{} {} {:#x} {} {} {} {} {} {}",
                x.dev.name().to_str().unwrap_or("?"),
                driver,
                pool.base(),
                pool.size(),
                st.nslabs,
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

impl BusEvents for Registry {
    fn event(&self, event: BusEvent, dev: &Device) {
        match event {
            BusEvent::BindDriver => {
                if wants_pool(&Self::facts(dev), self.test_mode) {
                    if let Err(e) = self.publish() {
                        dev_warn!(dev, "cannot publish the range ({e:?})\n");
                    }
                    self.attach(dev);
                }
            }
            BusEvent::BoundDriver => {
                // SAFETY: `dev` is bound to virtio-pci (or not ours); the device lock is held.
                if unsafe { shim::hvps_virtio_dma_api(raw_device(dev)) } == 0 {
                    self.release(
                        dev,
                        "no VIRTIO_F_ACCESS_PLATFORM: it does not use the DMA API",
                    );
                }
            }
            BusEvent::UnboundDriver => self.release(dev, "driver unbound"),
            BusEvent::DriverNotBound => self.release(dev, "driver failed to bind"),
            BusEvent::DelDevice => self.release(dev, "device removed"),
        }
    }
}

#[kunit_tests(hv_pci_swiotlb_devices)]
mod tests {
    use super::*;

    fn facts(vendor: u16, driver: Option<&'static [u8]>, hv: bool) -> DeviceFacts<'static> {
        DeviceFacts {
            vendor,
            driver,
            behind_hv_pci: hv,
        }
    }

    #[test]
    fn matches_virtio_behind_hv_pci() {
        assert!(wants_pool(&facts(0x1af4, Some(b"virtio-pci"), true), false));
        assert!(!wants_pool(
            &facts(0x1af4, Some(b"virtio-pci"), false),
            false
        ));
        assert!(!wants_pool(
            &facts(0x8086, Some(b"virtio-pci"), true),
            false
        ));
        assert!(!wants_pool(&facts(0x1af4, Some(b"vfio-pci"), true), false));
        assert!(!wants_pool(&facts(0x1af4, None, true), false));
    }

    #[test]
    fn test_mode_matches_any_virtio_pci_function() {
        assert!(wants_pool(&facts(0x1af4, Some(b"virtio-pci"), false), true));
        assert!(!wants_pool(
            &facts(0x1b36, Some(b"virtio-pci"), false),
            true
        ));
        assert!(!wants_pool(
            &facts(0x1af4, Some(b"virtio-pcie"), false),
            true
        ));
    }
}
