// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the hv_pci SWIOTLB companion: its parameters and the
 * core_initcall of the built-in driver, for which the kernel crate has no
 * form yet (string and early parameters, initcall levels; the crate of
 * 6.18 has no module parameters at all). The Rust side declares these in
 * one place (shim.rs) and wraps them in safe functions.
 */

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

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
