// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of [`Pool`] and [`Attachment`] against the core API, and the fixtures the
//! other suites share: a device lock guard and the `struct device` of a faux device.

use super::*;

// Helpers of the C shim that only the tests need; `bindings::device` crosses as a pointer only.
#[allow(improper_ctypes)]
extern "C" {
    fn hvps_pool_geometry(size: usize, nareas: u32, nslabs: *mut usize) -> u32;
    fn hvps_dev_pool(dev: *mut bindings::device) -> *const IoTlbMem;
    fn hvps_virt_to_phys(addr: *const u8) -> bindings::phys_addr_t;
    fn hvps_device_lock(dev: *mut bindings::device);
    fn hvps_device_unlock(dev: *mut bindings::device);
    fn hvps_dma_mapping_error(dev: *mut bindings::device, addr: bindings::dma_addr_t) -> bool;
}

/// Size of one bounce buffer slot, `IO_TLB_SIZE`.
pub(crate) const SLOT_SIZE: usize = 2048;
/// Slots in one segment, `IO_TLB_SEGSIZE`; no single mapping may exceed a segment.
pub(crate) const SEGMENT_SLOTS: usize = 128;
/// The smallest useful pool and the largest single mapping: one segment, 256 KiB.
pub(crate) const SEGMENT_SIZE: usize = SLOT_SIZE * SEGMENT_SLOTS;

/// Number of pools alive now.
pub(crate) fn live_pools() -> usize {
    LIVE_POOLS.load(Ordering::Relaxed)
}

impl CoreApi {
    /// How a pool over `size` bytes with `nareas` areas wanted is laid out:
    /// `(areas, slots used)`; no areas if `size` holds no whole segment.
    pub(crate) fn pool_geometry(&self, size: usize, nareas: u32) -> (u32, usize) {
        let mut nslabs = 0;
        // SAFETY: `self` holds the API; `nslabs` is writable; the call only computes.
        let areas = unsafe { hvps_pool_geometry(size, nareas, &mut nslabs) };
        (areas, nslabs)
    }
}

/// The device lock of a device, held until dropped. Never take it where the driver core already
/// holds it (bus notifiers, probe, remove): it is not recursive. The driver runs only in bus
/// events; the tests take the lock themselves.
pub(crate) struct DeviceGuard<'a>(&'a Device);

impl<'a> DeviceGuard<'a> {
    /// Takes the device lock of `dev`, sleeping until it is free.
    pub(crate) fn lock(dev: &'a Device) -> Self {
        // SAFETY: `dev` is a live device; the lock is released exactly once, in `drop`.
        unsafe { hvps_device_lock(raw_device(dev)) };
        Self(dev)
    }

    /// The proof that the lock is held, for as long as the guard lives.
    pub(crate) fn locked(&self) -> Locked<'_> {
        // SAFETY: `self` holds the lock until it is dropped, and the result borrows `self`.
        unsafe { Locked::assume(self.0) }
    }
}

impl Drop for DeviceGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: taken in `lock`, released once here.
        unsafe { hvps_device_unlock(raw_device(self.0)) };
    }
}

/// Returns the `struct device` of a faux device, for the KUnit fixtures. From 6.19 on the kernel
/// crate hands out a bound `faux::Device` (the driver's Makefile sets `hvps_faux_bound`), before
/// that the generic device itself.
pub(crate) fn faux_device(reg: &kernel::faux::Registration) -> &Device {
    #[cfg(hvps_faux_bound)]
    let dev: &Device<kernel::device::Bound> = {
        let fdev: &kernel::faux::Device<kernel::device::Bound> = reg.as_ref();
        fdev.as_ref()
    };
    #[cfg(not(hvps_faux_bound))]
    let dev: &Device = reg.as_ref();
    dev
}

impl Pool {
    /// Whether the physical range `[addr, addr + len)` lies inside the pool.
    pub(crate) fn contains(&self, addr: u64, len: usize) -> bool {
        addr >= self.base
            && addr
                .checked_add(len as u64)
                .is_some_and(|end| end <= self.base + self.size as u64)
    }

    /// Whether `dev` bounces through this pool now.
    pub(crate) fn is_used_by(&self, dev: &Device) -> bool {
        // SAFETY: `dev` is a live device; the call only reads its pool pointer.
        let cur = unsafe { hvps_dev_pool(raw_device(dev)) };
        core::ptr::eq(cur, self.mem.as_ptr())
    }

    /// Creates a pool from a raw physical range, for tests of the core's argument checks. The
    /// range is never touched because the core rejects it first; a range it accepts is leaked.
    pub(crate) fn create_unchecked_for_test(
        api: &CoreApi,
        base: u64,
        size: usize,
        name: &CStr,
    ) -> Result {
        let _ = api;
        let mut mem = core::ptr::null_mut();
        // SAFETY: the API is referenced by `api`. Callers pass ranges the core must reject, so
        // no memory is used; should it accept one, the pool is deliberately never destroyed.
        to_result(unsafe { shim::hvps_pool_create(base, size, name.as_char_ptr(), &mut mem) })
    }
}

#[kunit_tests(hv_pci_swiotlb_pool)]
mod tests {
    use super::*;
    use crate::{
        params::{Layout, MAX_DEVICES, MAX_SIZE},
        reservation::RESERVATION_ALIGN,
        slices::{SlicePlan, MIN_SLICE},
    };
    use core::marker::PhantomData;
    use kernel::{c_str, dma::DataDirection, faux, ffi::c_int, kunit::skip, str::CString};

    const MIB: usize = 1 << 20;

    /// A faux device that can do streaming DMA, plus memory to build pools from.
    struct Fixture {
        api: CoreApi,
        backing: Arc<Reservation>,
        dev: faux::Registration,
    }

    impl Fixture {
        /// [`None`] (and the test marked skipped) on a kernel without the pool API. A set-up
        /// that fails otherwise fails the test: it must never pass without running.
        fn new(backing_size: usize) -> Option<Self> {
            let Some(api) = CoreApi::get() else {
                skip(c_str!("kernel without the SWIOTLB device pool API"));
                return None;
            };
            let backing = Reservation::new(backing_size)
                .and_then(|r| Ok(Arc::new(r, GFP_KERNEL)?))
                .ok();
            assert!(backing.is_some());
            // A name per fixture: a test that failed half way (a KUnit assertion ends its
            // thread without unwinding) leaves its device behind.
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let name = CString::try_from_fmt(fmt!(
                "hv_pci_swiotlb_test{}",
                NEXT.fetch_add(1, Ordering::Relaxed)
            ))
            .ok();
            assert!(name.is_some());
            let dev = name.and_then(|n| faux::Registration::new(&n, None).ok());
            assert!(dev.is_some());
            let (backing, dev) = (backing?, dev?);
            let raw = raw_device(Self::device(&dev));
            // SAFETY: the faux device is ours; giving it a DMA mask (the platform-device way,
            // pointing at its own coherent mask) races with nothing.
            unsafe { (*raw).dma_mask = &raw mut (*raw).coherent_dma_mask };
            // SAFETY: `raw` is a live device with a DMA mask pointer.
            let masked = to_result(unsafe { bindings::dma_set_mask_and_coherent(raw, u64::MAX) });
            assert!(masked.is_ok());
            Some(Self { api, backing, dev })
        }

        fn device(reg: &faux::Registration) -> &Device {
            super::faux_device(reg)
        }

        fn dev(&self) -> &Device {
            Self::device(&self.dev)
        }

        /// Attaches the fixture's device to `pool` under its device lock, as the driver core
        /// would hold it at `BUS_NOTIFY_BIND_DRIVER`.
        fn attach(&self, pool: &Arc<Pool>) -> Attachment {
            let guard = DeviceGuard::lock(self.dev());
            pool.attach(&guard.locked()).expect("attach")
        }

        /// Detaches under the device lock.
        fn detach(&self, att: Attachment) -> core::result::Result<(), (Attachment, Error)> {
            let guard = DeviceGuard::lock(self.dev());
            att.detach(&guard.locked())
        }

        /// Sets the device's pool with the raw core call, under the device lock.
        fn set_pool_raw(&self, mem: *mut IoTlbMem) -> c_int {
            let guard = DeviceGuard::lock(self.dev());
            let dev = guard.locked().device();
            // SAFETY: the device lock is held and nothing maps through the faux device; the
            // core only compares `mem` with its own pools before it uses it.
            unsafe { shim::hvps_dev_set_pool(raw_device(dev), mem) }
        }

        fn pool(&self, offset: usize, size: usize) -> Arc<Pool> {
            Pool::new(
                &self.api,
                &self.backing,
                offset,
                size,
                c_str!("hv_pci_swiotlb_test"),
            )
            .expect("pool creation")
        }
    }

    /// A streaming mapping of a kernel buffer, unmapped on drop. It borrows the buffer mutably
    /// because the unmap of a from-device mapping writes to it.
    struct Mapping<'a> {
        dev: &'a Device,
        addr: bindings::dma_addr_t,
        len: usize,
        dir: DataDirection,
        _buf: PhantomData<&'a mut [u8]>,
    }

    impl<'a> Mapping<'a> {
        fn new(dev: &'a Device, buf: &'a mut [u8], dir: DataDirection) -> Option<Self> {
            // SAFETY: `buf` is kmalloc memory in the linear map.
            let phys = unsafe { hvps_virt_to_phys(buf.as_ptr()) };
            // SAFETY: `dev` can do DMA and `phys..phys + len` is memory that outlives the
            // mapping (the tests unmap before freeing `buf`). NO_WARN: tests exhaust pools.
            let addr = unsafe {
                bindings::dma_map_phys(
                    raw_device(dev),
                    phys,
                    buf.len(),
                    dir.into(),
                    bindings::DMA_ATTR_NO_WARN as usize,
                )
            };
            let len = buf.len();
            // SAFETY: `addr` came from a mapping of `dev`.
            let failed = unsafe { hvps_dma_mapping_error(raw_device(dev), addr) };
            (!failed).then(|| Self {
                dev,
                addr,
                len,
                dir,
                _buf: PhantomData,
            })
        }
    }

    impl Drop for Mapping<'_> {
        fn drop(&mut self) {
            // SAFETY: unmaps exactly what `new` mapped.
            unsafe {
                bindings::dma_unmap_phys(
                    raw_device(self.dev),
                    self.addr,
                    self.len,
                    self.dir.into(),
                    0,
                )
            };
        }
    }

    fn pattern(len: usize, seed: u8) -> KVec<u8> {
        let mut v = KVec::with_capacity(len, GFP_KERNEL).expect("buffer");
        for i in 0..len {
            v.push((i as u8).wrapping_mul(31).wrapping_add(seed), GFP_KERNEL)
                .expect("buffer");
        }
        v
    }

    #[test]
    fn mapping_lands_in_pool_and_bounces() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        let pool = fx.pool(MIB, MIB);
        let att = fx.attach(&pool);
        assert!(pool.is_used_by(fx.dev()));

        // To the device: the data shows up in the pool at the DMA address.
        let mut src = pattern(4096, 7);
        let expect = pattern(4096, 7);
        let map = Mapping::new(fx.dev(), &mut src, DataDirection::ToDevice).expect("map");
        assert!(pool.contains(map.addr, 4096));
        let mut seen = KVec::from_elem(0u8, 4096, GFP_KERNEL).expect("buffer");
        fx.backing
            .read((map.addr - fx.backing.base()) as usize, &mut seen)
            .expect("read");
        assert!(seen[..] == expect[..]);
        assert_eq!(pool.stats().mapped, 1);
        drop(map);

        // From the device: what the "device" writes in the pool reaches the buffer on unmap.
        let mut dst = KVec::from_elem(0u8, 8192, GFP_KERNEL).expect("buffer");
        let data = pattern(8192, 99);
        {
            let map = Mapping::new(fx.dev(), &mut dst, DataDirection::FromDevice).expect("map");
            assert!(pool.contains(map.addr, 8192));
            fx.backing
                .write((map.addr - fx.backing.base()) as usize, &data)
                .expect("write");
        }
        assert!(dst[..] == data[..]);
        assert_eq!(pool.stats().used, 0);
        assert!(fx.detach(att).is_ok());
    }

    #[test]
    fn destroy_is_refused_while_mapped() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        let pool = fx.pool(0, MIB);
        let att = fx.attach(&pool);
        let mut buf = pattern(4096, 1);
        let map = Mapping::new(fx.dev(), &mut buf, DataDirection::ToDevice).expect("map");
        // SAFETY: deliberately calls the core on a pool in use; it must refuse and change
        // nothing, which the rest of the test relies on.
        let ret = unsafe { shim::hvps_pool_destroy(pool.mem.as_ptr()) };
        assert_eq!(ret, EBUSY.to_errno());
        drop(map);
        assert_eq!(pool.stats().used, 0);
        assert!(fx.detach(att).is_ok());
        // Unmapped and detached: dropping the pool destroys it for real.
        let before = live_pools();
        drop(pool);
        assert_eq!(live_pools(), before - 1);
    }

    #[test]
    fn detach_returns_to_default_pool() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        // SAFETY: reads the faux device's current (default) pool pointer.
        let default = unsafe { hvps_dev_pool(raw_device(fx.dev())) };
        let pool = fx.pool(0, MIB);
        let att = fx.attach(&pool);
        assert!(pool.is_used_by(fx.dev()));

        // Not while a bounce buffer is mapped...
        let mut buf = pattern(4096, 2);
        let map = Mapping::new(fx.dev(), &mut buf, DataDirection::ToDevice).expect("map");
        let (att, err) = fx.detach(att).expect_err("detach with a live mapping");
        assert_eq!(err, EBUSY);
        assert!(pool.is_used_by(fx.dev()));
        drop(map);

        // ...but afterwards, back to exactly the pool it had before.
        assert!(fx.detach(att).is_ok());
        assert!(!pool.is_used_by(fx.dev()));
        // SAFETY: as above.
        let now = unsafe { hvps_dev_pool(raw_device(fx.dev())) };
        assert!(core::ptr::eq(now, default));
    }

    #[test]
    fn exhaustion_fails_cleanly_and_recovers() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        // One segment: 128 slots of 2 KiB, so exactly 64 page-sized bounce buffers.
        let pool = fx.pool(0, SEGMENT_SIZE);
        let att = fx.attach(&pool);
        let mut buf = pattern(64 * 4096, 3);
        let mut extra = pattern(4096, 3);
        let mut maps = KVec::new();
        for chunk in buf.chunks_mut(4096) {
            match Mapping::new(fx.dev(), chunk, DataDirection::ToDevice) {
                Some(m) => maps.push(m, GFP_KERNEL).expect("vec"),
                None => break,
            }
        }
        assert_eq!(maps.len(), 64);
        let failed = pool.stats().failed;
        assert!(Mapping::new(fx.dev(), &mut extra, DataDirection::ToDevice).is_none());
        assert_eq!(pool.stats().failed, failed + 1);
        assert_eq!(pool.stats().used, SEGMENT_SLOTS);
        drop(maps);
        assert_eq!(pool.stats().used, 0);
        assert!(Mapping::new(fx.dev(), &mut extra, DataDirection::ToDevice).is_some());
        assert!(fx.detach(att).is_ok());
    }

    #[test]
    fn areas_hold_whole_segments() {
        // Every pool size from one segment to 24 MiB, on this guest's CPUs.
        let Some(fx) = Fixture::new(24 * MIB) else {
            return;
        };
        let want = kernel::cpu::nr_cpu_ids().next_power_of_two();
        for segs in 1..=96 {
            let size = segs * SEGMENT_SIZE;
            let st = fx.pool(0, size).stats();
            let slots = size / SLOT_SIZE;
            // An area that ends inside a segment hands out the next area's slots.
            assert!(st.nareas.is_power_of_two() && st.nareas <= want);
            assert_eq!(st.nslabs % (st.nareas as usize * SEGMENT_SLOTS), 0);
            assert!((slots - st.nslabs) * 16 <= slots);
            assert_eq!((st.nareas, st.nslabs), fx.api.pool_geometry(size, want));
        }
        // The review's case: 3 segments cannot be split in 2 areas.
        assert_eq!(fx.pool(0, 3 * SEGMENT_SIZE).stats().nareas, 1);
    }

    #[test]
    fn every_slice_plan_has_whole_segment_areas() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        // Every (size, layout, max_devices) the parameters accept gives a slice size, a
        // multiple of 2 MiB up to 1 GiB; check each size once for every CPU count.
        let mut seen =
            KVec::from_elem(false, MAX_SIZE / RESERVATION_ALIGN + 1, GFP_KERNEL).expect("buffer");
        let mut plans = 0;
        for total in (RESERVATION_ALIGN..=MAX_SIZE).step_by(RESERVATION_ALIGN) {
            for layout in [Layout::PerDevice, Layout::Shared] {
                for max_devices in 1..=MAX_DEVICES as usize {
                    let Some(plan) = SlicePlan::new(total, layout, max_devices) else {
                        continue;
                    };
                    plans += 1;
                    assert!(plan.size >= MIN_SLICE && plan.count * plan.size <= total);
                    assert_eq!(plan.size % RESERVATION_ALIGN, 0);
                    seen[plan.size / RESERVATION_ALIGN] = true;
                }
            }
        }
        assert!(plans > 0);
        for (i, _) in seen.iter().enumerate().filter(|(_, &s)| s) {
            let size = i * RESERVATION_ALIGN;
            let slots = size / SLOT_SIZE;
            for cpus in 1..=64u32 {
                let want = cpus.next_power_of_two();
                let (areas, nslabs) = fx.api.pool_geometry(size, want);
                assert!(areas.is_power_of_two() && areas <= want);
                assert_eq!(nslabs % (areas as usize * SEGMENT_SLOTS), 0);
                assert!((slots - nslabs) * 16 <= slots);
                // 2 MiB slices are 8 segments: up to 8 areas nothing is left over.
                if want <= 8 {
                    assert_eq!((areas, nslabs), (want, slots));
                }
            }
        }
    }

    #[test]
    fn restricted_pool_is_kept() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        let raw = raw_device(fx.dev());
        // A pool the core did not make, as a restricted DMA pool from firmware would be;
        // never used for mapping.
        let mut foreign = KVec::from_elem(0u8, 4096, GFP_KERNEL).expect("buffer");
        // SAFETY: the faux device is ours and nothing maps through it; the original pool is
        // put back right after the call.
        let orig = unsafe {
            core::ptr::replace(&raw mut (*raw).dma_io_tlb_mem, foreign.as_mut_ptr().cast())
        };
        let ret = fx.set_pool_raw(core::ptr::null_mut());
        // SAFETY: as above.
        unsafe { (*raw).dma_io_tlb_mem = orig };
        assert_eq!(ret, EBUSY.to_errno());
        // Not even its device count was touched.
        assert!(foreign.iter().all(|&b| b == 0));
    }

    #[test]
    fn foreign_pools_are_refused() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        // SAFETY: reads the faux device's current (default) pool pointer.
        let default = unsafe { hvps_dev_pool(raw_device(fx.dev())) };
        let mut foreign = KVec::from_elem(0u8, 4096, GFP_KERNEL).expect("buffer");
        let fake = foreign.as_mut_ptr().cast::<IoTlbMem>();
        assert_eq!(fx.set_pool_raw(fake), EINVAL.to_errno());
        // SAFETY: as above.
        let now = unsafe { hvps_dev_pool(raw_device(fx.dev())) };
        assert!(core::ptr::eq(now, default));
        // SAFETY: the core must refuse, without touching it, a pool it did not make.
        assert_eq!(unsafe { shim::hvps_pool_destroy(fake) }, EINVAL.to_errno());
        assert!(foreign.iter().all(|&b| b == 0));
    }

    #[test]
    fn largest_mapping_is_one_segment() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        let pool = fx.pool(0, MIB);
        let att = fx.attach(&pool);
        // SAFETY: `fx.dev()` is a live device.
        let max = unsafe { bindings::dma_max_mapping_size(raw_device(fx.dev())) };
        assert_eq!(max, SEGMENT_SIZE);
        let mut buf = pattern(SEGMENT_SIZE + 4096, 4);
        let map = Mapping::new(fx.dev(), &mut buf[..SEGMENT_SIZE], DataDirection::ToDevice);
        assert!(map
            .as_ref()
            .is_some_and(|m| pool.contains(m.addr, SEGMENT_SIZE)));
        drop(map);
        assert!(Mapping::new(fx.dev(), &mut buf, DataDirection::ToDevice).is_none());
        assert!(fx.detach(att).is_ok());
    }

    #[test]
    fn create_rejects_bad_ranges() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        let base = fx.backing.base();
        let name = c_str!("hv_pci_swiotlb_bad");
        let bad = |b: u64, s: usize| Pool::create_unchecked_for_test(&fx.api, b, s, name);
        assert_eq!(bad(base + 512, MIB), Err(EINVAL)); // unaligned base
        assert_eq!(bad(base, MIB + 512), Err(EINVAL)); // unaligned size
        assert_eq!(bad(base, SEGMENT_SIZE - 4096), Err(EINVAL)); // less than one segment
        assert_eq!(bad(base, 0), Err(EINVAL)); // empty
        assert_eq!(bad(1 << 46, MIB), Err(EINVAL)); // no memory there (64 TiB)
        assert_eq!(bad(!0xfff_u64, MIB), Err(EINVAL)); // wraps around

        // The safe constructor also refuses slices outside the reservation.
        assert!(Pool::new(&fx.api, &fx.backing, MIB, 2 * MIB, name).is_err());
    }
}
