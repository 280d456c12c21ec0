// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the device decisions and of pool assignment on faux devices.

use super::*;

#[kunit_tests(hv_pci_swiotlb_devices)]
mod tests {
    use super::*;
    use crate::{reservation::Reservation, slices::MIN_SLICE};
    use kernel::{c_str, device::lock::Guard, dma::swiotlb, faux, kunit::skip};

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

    /// A registry in test mode with one pool, and a faux device to hand it to. The faux device
    /// is bound to the faux bus's own driver, never to virtio-pci.
    struct Fixture {
        registry: Arc<Registry>,
        dev: faux::Registration,
    }

    impl Fixture {
        /// [`None`] (and the test marked skipped) on a kernel without the pool API. `name`
        /// names the device and the pool, one per test so that a failed test cannot make the
        /// next one fail.
        fn new(name: &CStr) -> Option<Self> {
            if !swiotlb::AVAILABLE {
                skip(c_str!("kernel without the SWIOTLB device pool API"));
                return None;
            }
            let backing = Arc::new(Reservation::new(MIN_SLICE).ok()?, GFP_KERNEL).ok()?;
            // SAFETY: the only pool over `backing`.
            let pool = unsafe { crate::pool::new_pool(&backing, 0, MIN_SLICE, name) }.ok()?;
            let mut pools = KVec::new();
            pools.push(pool, GFP_KERNEL).ok()?;
            let registry = Arc::pin_init(
                Registry::new(
                    true,
                    Layout::PerDevice,
                    pools,
                    backing.base(),
                    backing.size(),
                ),
                GFP_KERNEL,
            )
            .ok()?;
            let dev = faux::Registration::new(name, None).ok()?;
            Some(Self { registry, dev })
        }

        fn dev(&self) -> &Device {
            crate::pool::kunit::faux_device(&self.dev)
        }

        fn bound(&self) -> usize {
            self.registry.bindings.lock().list.len()
        }
    }

    /// The text of a debugfs table.
    struct Text(KVec<u8>);

    impl Write for Text {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0
                .extend_from_slice(s.as_bytes(), GFP_KERNEL)
                .map_err(|_| fmt::Error)
        }
    }

    #[test]
    fn table_names_the_driver_attach_saw() {
        let Some(fx) = Fixture::new(c_str!("hv_pci_swiotlb_test_table")) else {
            return;
        };
        {
            // As the driver core holds it at BUS_NOTIFY_BIND_DRIVER.
            let guard = Guard::lock(fx.dev());
            // SAFETY: the faux device's driver maps nothing.
            unsafe {
                fx.registry.attach(
                    &mut fx.registry.bindings.lock(),
                    &guard.locked(),
                    VIRTIO_PCI_DRIVER_NAME,
                )
            };
        }
        assert_eq!(fx.bound(), 1);
        let mut text = Text(KVec::new());
        assert!(fx.registry.write_table(&mut text).is_ok());
        // The device's driver now is faux's own: a table that looked at it, as a reader
        // without the device lock must not, would name that one.
        let text = core::str::from_utf8(&text.0).unwrap_or("");
        let mut rows = text.lines().filter(|l| !l.starts_with('#'));
        let driver = rows.next().and_then(|row| row.split_whitespace().nth(1));
        assert_eq!(driver, Some(VIRTIO_PCI_DRIVER_NAME));
        assert!(rows.next().is_none());
        // SAFETY: as above.
        unsafe {
            fx.registry
                .release(&Guard::lock(fx.dev()).locked(), "test done")
        };
        assert_eq!(fx.bound(), 0);
    }

    #[test]
    fn no_pool_while_someone_else_publishes() {
        let Some(fx) = Fixture::new(c_str!("hv_pci_swiotlb_test_elsewhere")) else {
            return;
        };
        // Someone else publishes in virtio-pci's directory: a publication made here, or the
        // running driver's own when it was loaded with test_mode=1.
        let _other = match Publication::new(true, 0, MIN_SLICE) {
            Ok(p) => Some(p),
            Err(e) if e == EEXIST => None,
            Err(_) => {
                skip(c_str!("no virtio-pci driver to publish in"));
                return;
            }
        };
        let virtio = facts(VIRTIO_VENDOR, Some(VIRTIO_PCI_DRIVER), false);
        // The first bind finds the range taken, the next ones remember it.
        let guard = Guard::lock(fx.dev());
        // SAFETY: the faux device's driver maps nothing.
        unsafe { fx.registry.bind(&guard.locked(), &virtio) };
        assert_eq!(fx.bound(), 0);
        // SAFETY: as above.
        unsafe { fx.registry.bind(&guard.locked(), &virtio) };
        assert_eq!(fx.bound(), 0);
        drop(guard);
        assert_eq!(fx.registry.publish(), Err(EEXIST));
    }
}
