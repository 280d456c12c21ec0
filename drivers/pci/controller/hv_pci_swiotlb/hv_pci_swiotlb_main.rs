// SPDX-License-Identifier: GPL-2.0

//! Per-device SWIOTLB bounce buffer pools for virtio devices behind Hyper-V vPCI.
//!
//! In a WSL 2 guest every virtio device (virtiofs for `/mnt/c`, virtio-net) bounces its streaming
//! DMA through SWIOTLB. This driver reserves one range below 4 GiB, cuts it into pools, gives
//! each virtio PCI function its own pool when virtio-pci binds to it, and publishes the range as
//! `swiotlb_base` and `swiotlb_size` in hv_pci's driver directory for the host, which hands it to
//! every virtio device as `swiotlb=0x<base>,<size>`.
//!
//! The pools need the SWIOTLB device pool API of the core kernel (`CONFIG_SWIOTLB_DEVICE_POOL`,
//! [`kernel::dma::swiotlb`]). Built without it, the driver says so once, in the words the WSL
//! host uses, and stays idle. See `Documentation/admin-guide/hv-pci-swiotlb.rst`.

mod devices;
mod params;
mod pool;
mod publish;
mod reservation;
mod size;
mod slices;

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use devices::Registry;
use kernel::{
    bindings, c_str, debugfs,
    device::notifier::{BusNotifier, BusType},
    dma::swiotlb,
    prelude::*,
    str::CString,
    sync::Arc,
};
use params::SizeChoice;
use reservation::Reservation;
use slices::SlicePlan;

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

/// What a user reads on a kernel that carries Microsoft's own hv_pci pool (WSL kernels from
/// 6.18.26.3 on), where this driver steps aside rather than compete for `hv_pci_swiotlb=`.
pub(crate) const SHARED_POOL_MSG: &str = "this kernel carries Microsoft's hv_pci SWIOTLB pool \
    (swiotlb_create_pool(), one pool for every device behind hv_pci, sized by \
    hv_pci_swiotlb=): leaving the devices to it; idle. For a pool per device, build \
    hv_pci_swiotlb in with the patch that replaces it (see hv-pci-swiotlb-wsl.rst)";

/// Whether Microsoft's shared hv_pci pool is in this kernel and not replaced by this driver:
/// then the driver reserves nothing and stays idle, so that there is one owner of the range.
///
/// WSL kernels from 6.18.26.3 on carry Microsoft's patch: swiotlb.c exports
/// `swiotlb_create_pool()` (with two signatures, depending on the version), and pci-hyperv.c,
/// built in, parses `hv_pci_swiotlb=`, reserves one range at `core_initcall` and points every
/// device behind hv_pci at a single pool made from it, again on every rescan. Two owners of the
/// parameter would reserve twice, and pci-hyperv.c would move devices off this driver's pools
/// while they map. The patch in patches/ms-pool/ compiles that code out when this driver is
/// built in and sets `CONFIG_PCI_HYPERV_SWIOTLB_REPLACES_SHARED`; a Microsoft tree that got this
/// series without it is recognised by the exported symbol. Without module support nothing can
/// be looked up, and that patch is what keeps the two apart.
pub(crate) fn shared_pool_owner() -> bool {
    #[cfg(all(CONFIG_MODULES, not(CONFIG_PCI_HYPERV_SWIOTLB_REPLACES_SHARED)))]
    {
        // What `symbol_get()` adds: the name stays in the symbol table even with
        // `CONFIG_TRIM_UNUSED_KSYMS`. The linker discards this section from the image, so the
        // lookup needs a copy of its own.
        #[used]
        #[link_section = ".no_trim_symbol"]
        static NOTRIM: [u8; 20] = *b"swiotlb_create_pool\0";
        let name = c_str!("swiotlb_create_pool").as_char_ptr();
        // SAFETY: `name` is a NUL-terminated string. The symbol found is never called (its
        // signature is not ours to know), only put back.
        if unsafe { bindings::__symbol_get(name) }.is_null() {
            return false;
        }
        // Without module unloading there is no reference to put back.
        #[cfg(CONFIG_MODULE_UNLOAD)]
        // SAFETY: the symbol was got just above, and is put back once.
        unsafe {
            bindings::__symbol_put(name)
        };
        true
    }
    #[cfg(not(all(CONFIG_MODULES, not(CONFIG_PCI_HYPERV_SWIOTLB_REPLACES_SHARED))))]
    false
}

/// This module, as [`kernel::Module::init`] was given it (NULL when built in), for module
/// references. A static because the handle is spelled differently in 7.x
/// (`ModuleMetadata::THIS_MODULE`) and 6.18 (a crate-level `THIS_MODULE`); `init` stores it
/// before anything that takes a reference is registered, so a relaxed load sees it.
static THIS_MODULE_PTR: AtomicPtr<bindings::module> = AtomicPtr::new(core::ptr::null_mut());

/// This module's `struct module`, NULL when built in.
#[cfg(CONFIG_MODULE_UNLOAD)]
pub(crate) fn this_module() -> *mut bindings::module {
    THIS_MODULE_PTR.load(Ordering::Relaxed)
}

/// Whether debugfs has the driver's view, `hv_pci_swiotlb/` with `layout` and `devices`, or
/// there is no debugfs at all. debugfs reports no errors to its users by design; the driver
/// still says when its view could not be made.
#[cfg(CONFIG_DEBUG_FS)]
fn debugfs_present() -> bool {
    // A found dentry comes with a reference, which `dput()` drops.
    let lookup = |name: &CStr, parent: *mut bindings::dentry| {
        // SAFETY: `name` is a NUL-terminated string and `parent` NULL or a dentry we hold.
        let d = unsafe { bindings::debugfs_lookup(name.as_char_ptr(), parent) };
        kernel::error::from_err_ptr(d).ok().filter(|d| !d.is_null())
    };
    let Some(dir) = lookup(c_str!("hv_pci_swiotlb"), core::ptr::null_mut()) else {
        return false;
    };
    let mut ok = true;
    for name in [c_str!("layout"), c_str!("devices")] {
        match lookup(name, dir) {
            // SAFETY: `d` came from `debugfs_lookup()` with a reference, dropped once here.
            Some(d) => unsafe { bindings::dput(d) },
            None => ok = false,
        }
    }
    // SAFETY: as above, for `dir`.
    unsafe { bindings::dput(dir) };
    ok
}

/// Without debugfs no view is expected.
#[cfg(not(CONFIG_DEBUG_FS))]
fn debugfs_present() -> bool {
    true
}

/// The debugfs view: `hv_pci_swiotlb/layout` and `hv_pci_swiotlb/devices`.
struct Debugfs {
    _files: [Pin<KBox<debugfs::File<Arc<Registry>>>>; 2],
    _dir: debugfs::Dir,
}

impl Debugfs {
    fn new(registry: &Arc<Registry>) -> Result<Self> {
        let dir = debugfs::Dir::new(c_str!("hv_pci_swiotlb"));
        let layout = KBox::pin_init(
            dir.read_callback_file(c_str!("layout"), registry.clone(), &|r, f| {
                writeln!(f, "{}", r.layout().name())
            }),
            GFP_KERNEL,
        )?;
        let devices = KBox::pin_init(
            dir.read_callback_file(c_str!("devices"), registry.clone(), &|r, f| {
                r.write_table(f)
            }),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _files: [layout, devices],
            _dir: dir,
        })
    }
}

/// Everything the driver runs while active. Fields drop in order: first no new devices are
/// attached, then the views go, then the publication, the pools and finally the memory.
#[pin_data]
struct Active {
    #[pin]
    notifier: BusNotifier<Registry>,
    _debugfs: Debugfs,
    // Module references keep the module loaded while any device has a pool, so when this
    // goes, no device holds one.
    _registry: Arc<Registry>,
}

struct HvPciSwiotlb {
    _active: Option<Pin<KBox<Active>>>,
}

/// Whether the driver has anything to do here: on Hyper-V, or anywhere in test mode. Elsewhere
/// (a distribution kernel with the driver built in, on bare metal or another hypervisor) it
/// reserves nothing and stays idle, once it has said so.
pub(crate) fn serves_this_machine() -> bool {
    if params::test_mode() || hyperv_guest() {
        return true;
    }
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        // Only a kernel with the test parameters can be told otherwise.
        #[cfg(hvps_test_params)]
        const HINT: &str = " (test_mode=1 serves QEMU guests)";
        #[cfg(not(hvps_test_params))]
        const HINT: &str = "";
        pr_info!("not a Hyper-V guest{HINT}: nothing reserved; idle\n");
    }
    false
}

/// Whether the kernel runs on Hyper-V; known from early boot, so the built-in driver can ask at
/// `core_initcall`. Without Hyper-V support there is no hv_pci to serve.
fn hyperv_guest() -> bool {
    #[cfg(CONFIG_HYPERV)]
    return kernel::hyperv::is_guest();
    #[cfg(not(CONFIG_HYPERV))]
    false
}

/// Builds the pools and starts serving devices; [`None`] where the driver stays idle (the reason
/// is logged).
fn start() -> Result<Option<Pin<KBox<Active>>>> {
    let test_mode = params::test_mode();
    if !serves_this_machine() {
        return Ok(None);
    }

    // Built in, the range was reserved at core_initcall; as a module, now.
    let reservation = match Reservation::take_early() {
        Some(r) => r,
        None => {
            let SizeChoice::Reserve(size) = params::log_size_choice() else {
                return Ok(None);
            };
            match Reservation::with_fallback(size) {
                Ok(r) => r,
                Err(_) => return Ok(None),
            }
        }
    };

    let (layout, ok) = params::choose_layout(params::layout_param());
    if !ok {
        pr_warn!("unknown layout: using {}\n", layout.name());
    }
    let (max_devices, ok) = params::choose_max_devices(params::MAX_DEVICES_PARAM.get());
    if !ok {
        pr_warn!(
            "max_devices must be 1-{}: using {max_devices}\n",
            params::MAX_DEVICES
        );
    }
    let Some(plan) = SlicePlan::new(reservation.size(), layout, max_devices as usize) else {
        pr_err!("reservation too small for a pool\n");
        return Ok(None);
    };

    let base = reservation.base();
    let size = reservation.size();
    let backing = Arc::new(reservation, GFP_KERNEL)?;
    let mut pools = KVec::with_capacity(plan.count, GFP_KERNEL)?;
    for i in 0..plan.count {
        let name = CString::try_from_fmt(fmt!("hv_pci_swiotlb-{i}"))?;
        // SAFETY: the plan's slices do not overlap, and these are the only pools over
        // `backing`.
        let pool = unsafe { pool::new_pool(&backing, plan.offset(i), plan.size, &name) }?;
        pools.push(pool, GFP_KERNEL)?;
    }
    drop(backing);

    let registry = Arc::pin_init(
        Registry::new(test_mode, layout, pools, base, size),
        GFP_KERNEL,
    )?;
    let target = devices::target(test_mode);
    match registry.publish() {
        Ok(()) => {}
        Err(e) if e == EEXIST => {
            devices::log_published_elsewhere(test_mode);
            return Ok(None);
        }
        Err(e) if e == ENXIO => {
            pr_info!("no vmbus found: idle\n");
            return Ok(None);
        }
        Err(e) if e == ENODEV => {
            pr_info!("{target} is not registered yet: publishing when it binds a device\n");
        }
        Err(e) => return Err(e),
    }
    let debugfs = Debugfs::new(&registry)?;
    if !debugfs_present() {
        pr_warn!(
            "no debugfs view (hv_pci_swiotlb/ could not be made): the pools work without it\n"
        );
    }
    let (notified, kept) = (registry.clone(), registry.clone());
    let active = KBox::pin_init(
        try_pin_init!(Active {
            notifier <- BusNotifier::new(BusType::pci(), notified),
            _debugfs: debugfs,
            _registry: kept,
        }),
        GFP_KERNEL,
    )?;
    pr_info!(
        "{} layout: {} pool(s) of {} KiB in {:#x}+{:#x}{}\n",
        layout.name(),
        plan.count,
        plan.size >> 10,
        base,
        size,
        if test_mode {
            " (test mode: any virtio-pci function)"
        } else {
            ""
        }
    );
    // With the notifier in place, every device bound from now on is taken care of; name the
    // ones bound before.
    registry.report_prebound();
    Ok(Some(active))
}

impl kernel::Module for HvPciSwiotlb {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: this is the first and only call, and publishing (by the registry started
        // below, or by the KUnit tests, which run after `init`) comes later.
        unsafe { publish::init_lock() };
        THIS_MODULE_PTR.store(module.as_ptr(), Ordering::Relaxed);
        if shared_pool_owner() {
            pr_notice!("{}\n", SHARED_POOL_MSG);
            return Ok(Self { _active: None });
        }
        if !swiotlb::AVAILABLE {
            pr_warn!("{}\n", MISSING_PATCH_MSG);
            return Ok(Self { _active: None });
        }
        pr_info!("SWIOTLB device pool API available\n");
        let active = start().inspect_err(|e| {
            pr_err!("cannot start ({e:?}): devices keep the default SWIOTLB pool\n");
        })?;
        Ok(Self { _active: active })
    }
}
