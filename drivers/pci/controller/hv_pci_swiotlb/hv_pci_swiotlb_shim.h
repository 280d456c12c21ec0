/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface of the hv_pci SWIOTLB companion's C shim to its Rust side
 * (mirrored in shim.rs). See hv_pci_swiotlb_shim.c for the contracts.
 */
#ifndef _HV_PCI_SWIOTLB_SHIM_H
#define _HV_PCI_SWIOTLB_SHIM_H

#include <linux/types.h>

/* Implemented in Rust, called at core_initcall when built in. */
void hvps_early_reserve(void);

const char *hvps_param_size(void);
bool hvps_param_size_too_long(void);
const char *hvps_param_layout(void);
bool hvps_param_test_mode(void);
unsigned int hvps_param_max_devices(void);

#endif /* _HV_PCI_SWIOTLB_SHIM_H */
