// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the hv_pci SWIOTLB companion: the few things Rust cannot
 * express or reach through the kernel crate's bindings. The Rust side
 * declares all of these in one place (shim.rs) and wraps them in safe types.
 *
 * The SWIOTLB device pool API is the kernel crate's (kernel::dma::swiotlb),
 * and so is the reservation (kernel::page::contiguous).
 */

#include <linux/device.h>
#include <linux/hyperv.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/sysfs.h>
#include <asm/hypervisor.h>
#include <asm/mshyperv.h>

#include "hv_pci_swiotlb_shim.h"

/* --- Parameters ------------------------------------------------------------ */

/*
 * All parameters are declared here rather than in the Rust module! macro:
 * strings and early_param have no Rust form, and the kernel crate of 6.18
 * has no module parameters at all. As the Rust ones were, test_mode and
 * max_devices are not in sysfs (mode 0); hv_pci_swiotlb.test_mode=1 on the
 * command line (built in) and test_mode=1 at insmod set the same variable.
 *
 * test_mode and layout are for tests and comparisons only and exist with
 * CONFIG_HV_PCI_SWIOTLB_DEBUG (HVPS_TEST_PARAMS, see the Makefile); without
 * it they read as not given.
 */
static bool hvps_test_mode;
#ifdef HVPS_TEST_PARAMS
module_param_named(test_mode, hvps_test_mode, bool, 0);
MODULE_PARM_DESC(test_mode,
		 "Serve every virtio-pci function, not only those behind hv_pci, and publish in virtio-pci's driver directory (for guests without VMBus)");
#endif

static unsigned int hvps_max_devices = 4;
module_param_named(max_devices, hvps_max_devices, uint, 0);
MODULE_PARM_DESC(max_devices,
		 "Number of per-device pools (1-64); more devices share them");

/**
 * hvps_param_test_mode() - the test_mode parameter (default false)
 */
bool hvps_param_test_mode(void)
{
	return hvps_test_mode;
}

/**
 * hvps_param_max_devices() - the max_devices parameter as given (default 4)
 *
 * The Rust side checks the range.
 */
unsigned int hvps_param_max_devices(void)
{
	return hvps_max_devices;
}

static char hvps_size[32];
module_param_string(size, hvps_size, sizeof(hvps_size), 0444);
MODULE_PARM_DESC(size,
		 "Bounce buffer memory for all pools, memparse syntax (e.g. 64M); 0 disables. Built in, hv_pci_swiotlb=<size> sets it too.");

static char hvps_layout[16];
#ifdef HVPS_TEST_PARAMS
module_param_string(layout, hvps_layout, sizeof(hvps_layout), 0444);
MODULE_PARM_DESC(layout, "per-device (default): a pool per device; shared: one pool for all");
#endif

#ifndef MODULE
static char hvps_boot_size[32];
static bool hvps_boot_size_set;
static bool hvps_boot_size_too_long;

/* hv_pci_swiotlb=<size>, the WSL kernels' parameter; only a size. */
static int __init hvps_boot_size_param(char *arg)
{
	/*
	 * A value that does not fit would be cut off and read as another
	 * size: keep its start for the log and let the driver refuse it.
	 */
	if (strscpy(hvps_boot_size, arg ?: "", sizeof(hvps_boot_size)) < 0)
		hvps_boot_size_too_long = true;
	hvps_boot_size_set = true;
	return 0;
}
early_param("hv_pci_swiotlb", hvps_boot_size_param);
#endif

/**
 * hvps_param_size() - the requested size as the user wrote it
 *
 * Return: the boot parameter hv_pci_swiotlb= if given (built in only), else
 * the module parameter, or NULL if neither was given.
 */
const char *hvps_param_size(void)
{
#ifndef MODULE
	if (hvps_boot_size_set)
		return hvps_boot_size;
#endif
	return hvps_size[0] ? hvps_size : NULL;
}

/**
 * hvps_param_size_too_long() - whether the size was cut off
 *
 * The module parameter cannot be: the kernel refuses a string parameter
 * longer than its buffer. The boot parameter hv_pci_swiotlb= is copied
 * by this file, which keeps only its start; hvps_param_size() then
 * returns that start.
 *
 * Return: true if hv_pci_swiotlb= was longer than the buffer.
 */
bool hvps_param_size_too_long(void)
{
#ifndef MODULE
	return hvps_boot_size_set && hvps_boot_size_too_long;
#else
	return false;
#endif
}

/**
 * hvps_param_layout() - the layout parameter, or NULL if not given
 */
const char *hvps_param_layout(void)
{
	return hvps_layout[0] ? hvps_layout : NULL;
}

/* --- The early reservation of the built-in driver -------------------------- */

/**
 * hvps_hyperv_guest() - whether this kernel runs on Hyper-V
 *
 * Known from early boot (the hypervisor is detected in setup_arch()), so
 * the built-in driver can decide at core_initcall.
 *
 * Return: true on Hyper-V (WSL 2 included).
 */
bool hvps_hyperv_guest(void)
{
	return hypervisor_is_type(X86_HYPER_MS_HYPERV);
}

#ifndef MODULE
/*
 * Built in, reserve at core_initcall while memory below 4 GiB is still
 * unfragmented; the Rust module itself only starts at device_initcall.
 */
static int __init hvps_early_initcall(void)
{
	hvps_early_reserve();
	return 0;
}
core_initcall(hvps_early_initcall);
#endif

/* --- Publication of the range in the driver directory ---------------------- */

static phys_addr_t hvps_pub_base;
static size_t hvps_pub_size;
static struct device_driver *hvps_pub_drv;
/* Serialises publishers: the registry, and KUnit tests beside it. */
static DEFINE_MUTEX(hvps_pub_lock);

static ssize_t hvps_swiotlb_base_show(struct device_driver *drv, char *buf)
{
	return sysfs_emit(buf, "0x%llx\n", (unsigned long long)hvps_pub_base);
}

static ssize_t hvps_swiotlb_size_show(struct device_driver *drv, char *buf)
{
	return sysfs_emit(buf, "%zu\n", hvps_pub_size);
}

/* The address is as sensitive as /proc/iomem's: root only. */
static struct driver_attribute hvps_attr_swiotlb_base =
	__ATTR(swiotlb_base, 0400, hvps_swiotlb_base_show, NULL);
static struct driver_attribute hvps_attr_swiotlb_size =
	__ATTR(swiotlb_size, 0444, hvps_swiotlb_size_show, NULL);

#if IS_REACHABLE(CONFIG_HYPERV_VMBUS)
static int hvps_match_any(struct device *dev, const void *data)
{
	return 1;
}
#endif

/* The vmbus bus_type is static in vmbus_drv.c; take it from a vmbus device. */
static const struct bus_type *hvps_vmbus_bus(void)
{
#if IS_REACHABLE(CONFIG_HYPERV_VMBUS)
	struct device *root = hv_is_hyperv_initialized() ?
			      hv_get_vmbus_root_device() : NULL;
	struct device *child;
	const struct bus_type *bus;

	if (!root)
		return NULL;
	child = device_find_child(root, NULL, hvps_match_any);
	if (!child)
		return NULL;
	bus = child->bus;
	put_device(child);
	return bus;
#else
	return NULL;
#endif
}

/**
 * hvps_publish() - publish the range as swiotlb_base and swiotlb_size
 * @test_mode: publish in the virtio-pci driver's directory on the PCI bus
 *	(QEMU guests without VMBus) instead of in hv_pci's on the vmbus
 * @base: physical address of the range
 * @size: its size
 *
 * Both targets go through the same lookup and file creation.
 *
 * Context: process context.
 * Return: 0; -ENXIO if there is no vmbus (not a Hyper-V guest); -ENODEV if
 * the driver is not registered (yet); -EEXIST if the files already exist
 * (the running kernel's hv_pci publishes its own) or this module published
 * already; another negative errno.
 */
int hvps_publish(bool test_mode, phys_addr_t base, size_t size)
{
	const struct bus_type *bus = test_mode ? &pci_bus_type : hvps_vmbus_bus();
	const char *name = test_mode ? "virtio-pci" : "hv_pci";
	struct device_driver *drv;
	int ret;

	guard(mutex)(&hvps_pub_lock);
	/*
	 * One range at a time: a second caller must neither change the
	 * values the files show nor try to create them again.
	 */
	if (hvps_pub_drv)
		return -EEXIST;
	if (!bus)
		return -ENXIO;
	drv = driver_find(name, bus);
	if (!drv)
		return -ENODEV;
	/* Our files live in its directory: keep its module, if any, loaded. */
	if (!try_module_get(drv->owner))
		return -ENODEV;

	hvps_pub_base = base;
	hvps_pub_size = size;
	ret = driver_create_file(drv, &hvps_attr_swiotlb_base);
	if (ret)
		goto err_put;
	ret = driver_create_file(drv, &hvps_attr_swiotlb_size);
	if (ret) {
		driver_remove_file(drv, &hvps_attr_swiotlb_base);
		goto err_put;
	}
	hvps_pub_drv = drv;
	return 0;

err_put:
	module_put(drv->owner);
	return ret;
}

/**
 * hvps_unpublish() - remove what hvps_publish() created
 */
void hvps_unpublish(void)
{
	struct device_driver *drv;

	guard(mutex)(&hvps_pub_lock);
	drv = hvps_pub_drv;
	if (!drv)
		return;
	driver_remove_file(drv, &hvps_attr_swiotlb_size);
	driver_remove_file(drv, &hvps_attr_swiotlb_base);
	module_put(drv->owner);
	hvps_pub_drv = NULL;
}
