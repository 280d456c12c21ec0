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

/// Size of one bounce buffer slot, `IO_TLB_SIZE`.
pub(crate) const SLOT_SIZE: usize = 2048;
/// Slots in one segment, `IO_TLB_SEGSIZE`; no single mapping may exceed a segment.
pub(crate) const SEGMENT_SLOTS: usize = 128;
/// The smallest useful pool and the largest single mapping: one segment, 256 KiB.
pub(crate) const SEGMENT_SIZE: usize = SLOT_SIZE * SEGMENT_SLOTS;

/// Pools created and not (yet) destroyed, for accounting and leak checks.
static LIVE_POOLS: AtomicUsize = AtomicUsize::new(0);

/// Number of pools alive now.
pub(crate) fn live_pools() -> usize {
    LIVE_POOLS.load(Ordering::Relaxed)
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
    /// (misaligned, smaller than [`SEGMENT_SIZE`]).
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
        to_result(unsafe { shim::hvps_pool_create(base, size, name.as_char_ptr(), &mut mem) })?;
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

    /// Creates a pool from a raw physical range, for tests of the core's argument checks. The
    /// range is never touched because the core rejects it first; a range it accepts is leaked.
    #[cfg(CONFIG_KUNIT)]
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

    /// Physical address of the pool's first byte.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Size of the pool in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Whether the physical range `[addr, addr + len)` lies inside the pool.
    pub(crate) fn contains(&self, addr: u64, len: usize) -> bool {
        addr >= self.base
            && addr
                .checked_add(len as u64)
                .is_some_and(|end| end <= self.base + self.size as u64)
    }

    /// A snapshot of the pool's counters.
    pub(crate) fn stats(&self) -> PoolStats {
        let mut stats = PoolStats::default();
        // SAFETY: `self.mem` is a live pool (destroyed only in `drop`); `stats` is writable.
        unsafe { shim::hvps_pool_stats(self.mem.as_ptr(), &mut stats) };
        stats
    }

    /// Whether `dev` bounces through this pool now.
    pub(crate) fn is_used_by(&self, dev: &Device) -> bool {
        // SAFETY: `dev` is a live device; the call only reads its pool pointer.
        let cur = unsafe { shim::hvps_dev_pool(raw_device(dev)) };
        core::ptr::eq(cur, self.mem.as_ptr())
    }

    /// Points `dev` at this pool until the returned [`Attachment`] is dropped.
    ///
    /// Call it only while nothing maps through `dev`, e.g. before a driver binds to it. Fails
    /// with `EBUSY` if `dev` still has bounce buffers in the pool it uses now.
    pub(crate) fn attach(self: &Arc<Self>, dev: &Device) -> Result<Attachment> {
        // SAFETY: the pool stays alive as long as the attachment, which holds a reference to it
        // and to `dev`; the caller guarantees that nothing maps through `dev` concurrently.
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

/// A device pointed at a [`Pool`]; dropping it points the device back at the default pool.
pub(crate) struct Attachment {
    dev: Option<ARef<Device>>,
    pool: Arc<Pool>,
}

impl Attachment {
    /// Returns the device to the default pool now.
    ///
    /// Fails with `EBUSY`, handing the attachment back, while the device has bounce buffers
    /// mapped in the pool.
    pub(crate) fn detach(mut self) -> core::result::Result<(), (Self, Error)> {
        match self.set_default() {
            Ok(()) => Ok(()),
            Err(e) => Err((self, e)),
        }
    }

    fn set_default(&mut self) -> Result {
        let Some(dev) = self.dev.as_ref() else {
            return Ok(());
        };
        // SAFETY: `dev` is a live device we hold a reference to; NULL selects the default pool.
        to_result(unsafe { shim::hvps_dev_set_pool(raw_device(dev), core::ptr::null_mut()) })?;
        self.dev = None;
        Ok(())
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let Err(e) = self.set_default() {
            // The device still maps through the pool: keep the pool alive for good.
            pr_err!(
                "device still has bounce buffers in the pool at {:#x} ({:?}); leaking the pool\n",
                self.pool.base(),
                e
            );
            core::mem::forget(self.pool.clone());
        }
    }
}

#[kunit_tests(hv_pci_swiotlb_pool)]
mod tests {
    use super::*;
    use core::marker::PhantomData;
    use kernel::{c_str, dma::DataDirection, faux};

    const MIB: usize = 1 << 20;

    /// Marks the running test as skipped.
    fn skip(reason: &CStr) {
        // SAFETY: `reason` is NUL-terminated; the shim copies it.
        unsafe { shim::hvps_kunit_skip(reason.as_char_ptr()) };
    }

    /// A faux device that can do streaming DMA, plus memory to build pools from.
    struct Fixture {
        api: CoreApi,
        backing: Arc<Reservation>,
        dev: faux::Registration,
    }

    impl Fixture {
        /// [`None`] (and the test marked skipped) on a kernel without the pool API.
        fn new(backing_size: usize) -> Option<Self> {
            let Some(api) = CoreApi::get() else {
                skip(c_str!("kernel without the SWIOTLB device pool API"));
                return None;
            };
            let backing = Arc::new(Reservation::new(backing_size).ok()?, GFP_KERNEL).ok()?;
            let dev = faux::Registration::new(c_str!("hv_pci_swiotlb_test"), None).ok()?;
            let raw = raw_device(Self::device(&dev));
            // SAFETY: the faux device is ours; giving it a DMA mask (the platform-device way,
            // pointing at its own coherent mask) races with nothing.
            unsafe { (*raw).dma_mask = &raw mut (*raw).coherent_dma_mask };
            // SAFETY: `raw` is a live device with a DMA mask pointer.
            to_result(unsafe { bindings::dma_set_mask_and_coherent(raw, u64::MAX) }).ok()?;
            Some(Self { api, backing, dev })
        }

        fn device(reg: &faux::Registration) -> &Device {
            let fdev: &faux::Device<kernel::device::Bound> = reg.as_ref();
            let dev: &Device<kernel::device::Bound> = fdev.as_ref();
            dev
        }

        fn dev(&self) -> &Device {
            Self::device(&self.dev)
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
            let phys = unsafe { shim::hvps_virt_to_phys(buf.as_ptr()) };
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
            let failed = unsafe { shim::hvps_dma_mapping_error(raw_device(dev), addr) };
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
        let att = pool.attach(fx.dev()).expect("attach");
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
        drop(att);
    }

    #[test]
    fn destroy_is_refused_while_mapped() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        let pool = fx.pool(0, MIB);
        let att = pool.attach(fx.dev()).expect("attach");
        let mut buf = pattern(4096, 1);
        let map = Mapping::new(fx.dev(), &mut buf, DataDirection::ToDevice).expect("map");
        // SAFETY: deliberately calls the core on a pool in use; it must refuse and change
        // nothing, which the rest of the test relies on.
        let ret = unsafe { shim::hvps_pool_destroy(pool.mem.as_ptr()) };
        assert_eq!(ret, EBUSY.to_errno());
        drop(map);
        assert_eq!(pool.stats().used, 0);
        drop(att);
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
        let default = unsafe { shim::hvps_dev_pool(raw_device(fx.dev())) };
        let pool = fx.pool(0, MIB);
        let att = pool.attach(fx.dev()).expect("attach");
        assert!(pool.is_used_by(fx.dev()));

        // Not while a bounce buffer is mapped...
        let mut buf = pattern(4096, 2);
        let map = Mapping::new(fx.dev(), &mut buf, DataDirection::ToDevice).expect("map");
        let (att, err) = att.detach().expect_err("detach with a live mapping");
        assert_eq!(err, EBUSY);
        assert!(pool.is_used_by(fx.dev()));
        drop(map);

        // ...but afterwards, back to exactly the pool it had before.
        assert!(att.detach().is_ok());
        assert!(!pool.is_used_by(fx.dev()));
        // SAFETY: as above.
        let now = unsafe { shim::hvps_dev_pool(raw_device(fx.dev())) };
        assert!(core::ptr::eq(now, default));
    }

    #[test]
    fn exhaustion_fails_cleanly_and_recovers() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        // One segment: 128 slots of 2 KiB, so exactly 64 page-sized bounce buffers.
        let pool = fx.pool(0, SEGMENT_SIZE);
        let _att = pool.attach(fx.dev()).expect("attach");
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
    }

    #[test]
    fn pool_has_an_area_per_cpu_while_segments_last() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        // SAFETY: `nr_cpu_ids` is set once during early boot and only read afterwards.
        let cpus = unsafe { bindings::nr_cpu_ids };
        // An area per CPU (rounded up to a power of two, as for the default pool), but no
        // more areas than segments: a mapping must fit in one area.
        let want = cpus
            .next_power_of_two()
            .min((2 * MIB / SEGMENT_SIZE) as u32);
        assert_eq!(fx.pool(0, 2 * MIB).stats().nareas, want);
        assert_eq!(fx.pool(0, SEGMENT_SIZE).stats().nareas, 1);
        assert_eq!(fx.pool(0, 3 * SEGMENT_SIZE).stats().nareas, want.min(2));
    }

    #[test]
    fn largest_mapping_is_one_segment() {
        let Some(fx) = Fixture::new(2 * MIB) else {
            return;
        };
        let pool = fx.pool(0, MIB);
        let _att = pool.attach(fx.dev()).expect("attach");
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
