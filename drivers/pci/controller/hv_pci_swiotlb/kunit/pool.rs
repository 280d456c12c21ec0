// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the driver's pools against the core API, and the fixture the other suites
//! share: the `struct device` of a faux device.

use super::*;
use kernel::{
    bindings,
    device::{lock::Guard, Device},
    dma::swiotlb,
    error::to_result,
    ffi::c_int,
};

/// Returns the C `struct device` behind `dev`, for the C calls of the tests.
pub(crate) fn raw_device(dev: &Device) -> *mut bindings::device {
    // CAST: `Device` is `#[repr(transparent)]` over `Opaque<bindings::device>`, which is itself
    // transparent over the C struct, so a pointer to one is a pointer to the other. The kernel
    // crate keeps its own accessor crate-private.
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}

/// Number of pools alive now: their slices are freed when they are destroyed.
pub(crate) fn live_pools() -> usize {
    LIVE_SLICES.load(Ordering::Relaxed)
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

/// Whether the physical range `[addr, addr + len)` lies inside `pool`.
pub(crate) fn contains(pool: &Pool, addr: u64, len: usize) -> bool {
    let (base, size) = (pool.memory().base(), pool.memory().size());
    addr >= base
        && addr
            .checked_add(len as u64)
            .is_some_and(|end| end <= base + size as u64)
}

/// The core API called directly, for the tests of its own checks that the abstraction keeps
/// callers from reaching; `-ENODEV` without it, like its C stubs (the tests skip then).
mod raw {
    use super::*;

    /// The pool `dev` bounces through now, to compare only.
    pub(super) fn dev_pool(dev: &Device) -> *const bindings::io_tlb_mem {
        // SAFETY: `dev` is a live device; its pool pointer is read once, as the mapping paths
        // read it.
        unsafe { core::ptr::read_volatile(&raw const (*raw_device(dev)).dma_io_tlb_mem) }
            .cast_const()
    }

    /// `swiotlb_devpool_create()` on a raw range, for ranges the core must reject: one it
    /// accepts is leaked, never used.
    pub(super) fn create(base: u64, size: usize, name: &CStr) -> Result {
        #[cfg(CONFIG_SWIOTLB_DEVICE_POOL)]
        {
            // SAFETY: callers pass ranges the core must reject before it touches them; should
            // it accept one, the pool is deliberately never destroyed and never used.
            let mem = unsafe { bindings::swiotlb_devpool_create(base, size, name.as_char_ptr()) };
            kernel::error::from_err_ptr(mem).map(|_| ())
        }
        #[cfg(not(CONFIG_SWIOTLB_DEVICE_POOL))]
        {
            let _ = (base, size, name);
            Err(ENODEV)
        }
    }

    /// `swiotlb_devpool_destroy()` on anything, for pools the core must refuse to destroy.
    pub(super) fn destroy(mem: *mut bindings::io_tlb_mem) -> c_int {
        #[cfg(CONFIG_SWIOTLB_DEVICE_POOL)]
        // SAFETY: callers pass a pool in use or memory the core did not make; it must refuse
        // both and change nothing, which the tests check.
        return unsafe { bindings::swiotlb_devpool_destroy(mem) };
        #[cfg(not(CONFIG_SWIOTLB_DEVICE_POOL))]
        {
            let _ = mem;
            ENODEV.to_errno()
        }
    }

    /// `swiotlb_devpool_assign()` with any pool pointer, under the device lock.
    pub(super) fn assign(dev: &Device, mem: *mut bindings::io_tlb_mem) -> c_int {
        let guard = Guard::lock(dev);
        let dev = guard.locked().device();
        #[cfg(CONFIG_SWIOTLB_DEVICE_POOL)]
        // SAFETY: the device lock is held and nothing maps through the test's faux device; the
        // core only compares `mem` with its own pools before it uses it.
        return unsafe { bindings::swiotlb_devpool_assign(raw_device(dev), mem) };
        #[cfg(not(CONFIG_SWIOTLB_DEVICE_POOL))]
        {
            let _ = (dev, mem);
            ENODEV.to_errno()
        }
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
    use kernel::{
        c_str,
        dma::{
            swiotlb::{SEGMENT_SIZE, SEGMENT_SLOTS, SLOT_SIZE},
            DataDirection,
        },
        faux,
        kunit::skip,
        str::CString,
    };

    const MIB: usize = 1 << 20;

    /// A faux device that can do streaming DMA, plus memory to build pools from.
    struct Fixture {
        backing: Arc<Reservation>,
        dev: faux::Registration,
    }

    impl Fixture {
        /// [`None`] (and the test marked skipped) on a kernel without the pool API. A set-up
        /// that fails otherwise fails the test: it must never pass without running.
        fn new(backing_size: usize) -> Option<Self> {
            if !swiotlb::AVAILABLE {
                skip(c_str!("kernel without the SWIOTLB device pool API"));
                return None;
            }
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
            Some(Self { backing, dev })
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
            let guard = Guard::lock(self.dev());
            // SAFETY: the faux device maps only in the tests' own `Mapping`s, never while they
            // attach or detach.
            unsafe { pool.attach(&guard.locked()) }.expect("attach")
        }

        /// Detaches under the device lock.
        fn detach(&self, att: Attachment) -> core::result::Result<(), (Attachment, Error)> {
            let guard = Guard::lock(self.dev());
            // SAFETY: as in `attach`: no mapping or unmapping runs during the call. A test that
            // holds a mapping meanwhile checks that the core refuses and changes nothing.
            unsafe { att.detach(&guard.locked()) }
        }

        /// A pool over `size` bytes at `offset`; the tests keep at most one pool over any
        /// byte of their fixture's reservation alive.
        fn pool(&self, offset: usize, size: usize) -> Arc<Pool> {
            // SAFETY: see above.
            unsafe { new_pool(&self.backing, offset, size, c_str!("hv_pci_swiotlb_test")) }
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
            // SAFETY: `buf` is kmalloc memory in the linear map; the call walks the page tables.
            let phys = unsafe { bindings::slow_virt_to_phys(buf.as_mut_ptr().cast()) };
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
            let failed = kernel::dma::mapping_error(dev, addr);
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
        assert!(contains(&pool, map.addr, 4096));
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
            assert!(contains(&pool, map.addr, 8192));
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
        // The core must refuse to destroy a pool in use and change nothing, which the rest of
        // the test relies on.
        let ret = raw::destroy(pool.as_raw());
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
        let default = raw::dev_pool(fx.dev());
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
        let now = raw::dev_pool(fx.dev());
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
            assert!(st.areas.is_power_of_two() && st.areas <= want);
            assert_eq!(st.slots % (st.areas as usize * SEGMENT_SLOTS), 0);
            assert!((slots - st.slots) * 16 <= slots);
            let g = swiotlb::geometry(size, want);
            assert_eq!((st.areas, st.slots), (g.areas, g.slots));
        }
        // The review's case: 3 segments cannot be split in 2 areas.
        assert_eq!(fx.pool(0, 3 * SEGMENT_SIZE).stats().areas, 1);
    }

    #[test]
    fn every_slice_plan_has_whole_segment_areas() {
        if !swiotlb::AVAILABLE {
            skip(c_str!("kernel without the SWIOTLB device pool API"));
            return;
        }
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
                let swiotlb::Geometry {
                    areas,
                    slots: nslabs,
                } = swiotlb::geometry(size, want);
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
        let ret = raw::assign(fx.dev(), core::ptr::null_mut());
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
        let default = raw::dev_pool(fx.dev());
        let mut foreign = KVec::from_elem(0u8, 4096, GFP_KERNEL).expect("buffer");
        let fake = foreign.as_mut_ptr().cast::<bindings::io_tlb_mem>();
        assert_eq!(raw::assign(fx.dev(), fake), EINVAL.to_errno());
        let now = raw::dev_pool(fx.dev());
        assert!(core::ptr::eq(now, default));
        // The core must refuse, without touching it, a pool it did not make.
        assert_eq!(raw::destroy(fake), EINVAL.to_errno());
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
            .is_some_and(|m| contains(&pool, m.addr, SEGMENT_SIZE)));
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
        let bad = |b: u64, s: usize| raw::create(b, s, name);
        assert_eq!(bad(base + 512, MIB), Err(EINVAL)); // unaligned base
        assert_eq!(bad(base, MIB + 512), Err(EINVAL)); // unaligned size
        assert_eq!(bad(base, SEGMENT_SIZE - 4096), Err(EINVAL)); // less than one segment
        assert_eq!(bad(base, 0), Err(EINVAL)); // empty
        assert_eq!(bad(1 << 46, MIB), Err(EINVAL)); // no memory there (64 TiB)
        assert_eq!(bad(!0xfff_u64, MIB), Err(EINVAL)); // wraps around

        // The safe constructor also refuses slices outside the reservation.
        // SAFETY: no other pool over the fixture's reservation is alive.
        assert!(unsafe { new_pool(&fx.backing, MIB, 2 * MIB, name) }.is_err());
    }
}
