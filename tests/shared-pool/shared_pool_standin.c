// SPDX-License-Identifier: GPL-2.0
/*
 * Stand-in for Microsoft's WSL pool patch on kernels that do not carry it,
 * for tests/guest/shared-pool.sh: exports swiotlb_create_pool() with the
 * four-argument signature of the 6.18.52 forward port, which is not the
 * one hv_pci_swiotlb's pool API used to have under that name.
 *
 * hv_pci_swiotlb must see that the symbol exists, step aside, and never
 * call it: a call is counted, warns, and fails. The real patch is tested by
 * `make test-wsl MS_PATCH=...` on a 6.18 tree.
 */

#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/err.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/types.h>

struct io_tlb_mem;

static atomic_t calls = ATOMIC_INIT(0);

static int calls_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&calls));
}

static const struct kernel_param_ops calls_ops = {
	.get = calls_get,
};
module_param_cb(calls, &calls_ops, NULL, 0444);
MODULE_PARM_DESC(calls, "How often swiotlb_create_pool() was called (must stay 0)");

struct io_tlb_mem *swiotlb_create_pool(phys_addr_t base, void *vaddr,
				       size_t size, const char *name);

/**
 * swiotlb_create_pool() - a symbol that must be found and never called
 * @base: unused
 * @vaddr: unused
 * @size: unused
 * @name: unused
 *
 * Context: any.
 * Return: ERR_PTR(-EPERM), after a warning with the caller's stack.
 */
struct io_tlb_mem *swiotlb_create_pool(phys_addr_t base, void *vaddr,
				       size_t size, const char *name)
{
	atomic_inc(&calls);
	WARN(1, "shared_pool_standin: %s() called\n", __func__);
	return ERR_PTR(-EPERM);
}
EXPORT_SYMBOL_GPL(swiotlb_create_pool);

MODULE_DESCRIPTION("Exports swiotlb_create_pool() as WSL kernels do, for tests");
MODULE_LICENSE("GPL");
