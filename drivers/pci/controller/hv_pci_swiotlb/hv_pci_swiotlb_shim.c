// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the hv_pci SWIOTLB companion: the few things Rust cannot
 * express or reach through the kernel crate's bindings. The Rust side
 * declares all of these in one place (shim.rs) and wraps them in safe types.
 *
 * The SWIOTLB device pool API (swiotlb_create_pool() and friends) is looked
 * up at run time rather than linked against, so that one module binary
 * loads on kernels with and without it and can tell the user which it is.
 */

#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/swiotlb.h>

#include "hv_pci_swiotlb_shim.h"

/*
 * Kernels without the core patch have neither the functions nor struct
 * swiotlb_pool_stats, so the driver has its own copy of that layout
 * (struct hvps_pool_stats in the shim's header), checked
 * against the header's when built against a patched tree. The function
 * pointers keep the API's exact types, which kCFI checks on every call.
 */
struct swiotlb_pool_stats;

#ifdef CONFIG_SWIOTLB_DEVICE_POOL
static_assert(sizeof(struct hvps_pool_stats) == sizeof(struct swiotlb_pool_stats));
static_assert(offsetof(struct hvps_pool_stats, mapped) ==
	      offsetof(struct swiotlb_pool_stats, mapped));
#endif

static struct {
	struct io_tlb_mem *(*create)(phys_addr_t base, size_t size,
				     const char *name);
	int (*destroy)(struct io_tlb_mem *mem);
	int (*set_pool)(struct device *dev, struct io_tlb_mem *mem);
	void (*stats)(struct io_tlb_mem *mem, struct swiotlb_pool_stats *stats);
} hvps_api;
static unsigned int hvps_api_users;
static DEFINE_MUTEX(hvps_api_lock);

/*
 * Keep the names in the symbol table even with CONFIG_TRIM_UNUSED_KSYMS,
 * as symbol_get() does for a declared symbol.
 */
#define HVPS_SYMBOL_GET(sym) ({						\
	static const char __notrim_##sym[]				\
		__used __section(".no_trim_symbol") = #sym;		\
	__symbol_get(#sym); })

static void hvps_api_release(void)
{
	if (hvps_api.create)
		__symbol_put("swiotlb_create_pool");
	if (hvps_api.destroy)
		__symbol_put("swiotlb_destroy_pool");
	if (hvps_api.set_pool)
		__symbol_put("swiotlb_dev_set_pool");
	if (hvps_api.stats)
		__symbol_put("swiotlb_pool_get_stats");
	memset(&hvps_api, 0, sizeof(hvps_api));
}

/**
 * hvps_core_api_get() - look up the SWIOTLB device pool API
 *
 * Return: true if the running kernel exports the whole API; the caller then
 * holds a reference on it until hvps_core_api_put(). False if any part is
 * missing, and no reference is held.
 */
bool hvps_core_api_get(void)
{
	bool ok = true;

	mutex_lock(&hvps_api_lock);
	if (!hvps_api_users) {
#if IS_ENABLED(CONFIG_MODULES)
		hvps_api.create = HVPS_SYMBOL_GET(swiotlb_create_pool);
		hvps_api.destroy = HVPS_SYMBOL_GET(swiotlb_destroy_pool);
		hvps_api.set_pool = HVPS_SYMBOL_GET(swiotlb_dev_set_pool);
		hvps_api.stats = HVPS_SYMBOL_GET(swiotlb_pool_get_stats);
#elif IS_ENABLED(CONFIG_SWIOTLB_DEVICE_POOL)
		/* Built into a kernel without modules: link directly. */
		hvps_api.create = swiotlb_create_pool;
		hvps_api.destroy = swiotlb_destroy_pool;
		hvps_api.set_pool = swiotlb_dev_set_pool;
		hvps_api.stats = swiotlb_pool_get_stats;
#endif
		ok = hvps_api.create && hvps_api.destroy && hvps_api.set_pool &&
		     hvps_api.stats;
		if (!ok && IS_ENABLED(CONFIG_MODULES))
			hvps_api_release();
	}
	if (ok)
		hvps_api_users++;
	mutex_unlock(&hvps_api_lock);
	return ok;
}

/**
 * hvps_core_api_put() - drop a reference taken by hvps_core_api_get()
 */
void hvps_core_api_put(void)
{
	mutex_lock(&hvps_api_lock);
	if (!WARN_ON(!hvps_api_users) && !--hvps_api_users &&
	    IS_ENABLED(CONFIG_MODULES))
		hvps_api_release();
	mutex_unlock(&hvps_api_lock);
}

/**
 * hvps_pool_create() - swiotlb_create_pool(); the caller holds the API
 * @base: physical start of the range
 * @size: bytes
 * @name: debugfs name
 * @mem: set to the new pool on success
 *
 * Return: 0 or a negative errno.
 */
int hvps_pool_create(phys_addr_t base, size_t size, const char *name,
		     struct io_tlb_mem **mem)
{
	struct io_tlb_mem *m = hvps_api.create(base, size, name);

	if (IS_ERR(m))
		return PTR_ERR(m);
	*mem = m;
	return 0;
}

/**
 * hvps_pool_destroy() - swiotlb_destroy_pool(); the caller holds the API
 * @mem: the pool
 *
 * Return: 0, -EBUSY (pool unchanged) or -EIO (pool gone, memory unusable).
 */
int hvps_pool_destroy(struct io_tlb_mem *mem)
{
	return hvps_api.destroy(mem);
}

/**
 * hvps_dev_set_pool() - swiotlb_dev_set_pool(); the caller holds the API
 * @dev: the device
 * @mem: its new pool, or NULL for the default one
 *
 * Return: 0 or -EBUSY.
 */
int hvps_dev_set_pool(struct device *dev, struct io_tlb_mem *mem)
{
	return hvps_api.set_pool(dev, mem);
}

/**
 * hvps_dev_pool() - the pool a device bounces through now
 * @dev: the device
 *
 * Return: dev->dma_io_tlb_mem, which drivers may compare but not use.
 */
const void *hvps_dev_pool(struct device *dev)
{
#ifdef CONFIG_SWIOTLB
	return READ_ONCE(dev->dma_io_tlb_mem);
#else
	return NULL;
#endif
}

/**
 * hvps_pool_stats() - swiotlb_pool_get_stats(); the caller holds the API
 * @mem: the pool
 * @stats: filled with its counters
 */
void hvps_pool_stats(struct io_tlb_mem *mem, struct hvps_pool_stats *stats)
{
	hvps_api.stats(mem, (struct swiotlb_pool_stats *)stats);
}

/**
 * hvps_reserve() - allocate a zeroed, contiguous, 2 MiB aligned range below 4 GiB
 * @size: bytes, a multiple of 2 MiB
 * @phys: set to the physical address of the range
 *
 * alloc_contig_pages() aligns a power-of-two allocation to its size; for
 * other sizes, over-allocate by 2 MiB and give back the unaligned ends.
 *
 * Return: the range's kernel virtual address, or NULL.
 */
void *hvps_reserve(size_t size, phys_addr_t *phys)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_DMA32 | __GFP_ZERO | __GFP_NOWARN;
	unsigned long nr = size >> PAGE_SHIFT, extra = 0, pfn, head;
	struct page *page;

	if (!size || !IS_ALIGNED(size, SZ_2M))
		return NULL;
	if (!is_power_of_2(nr))
		extra = (SZ_2M >> PAGE_SHIFT) - 1;
	page = alloc_contig_pages(nr + extra, gfp, first_online_node, NULL);
	if (!page)
		return NULL;
	pfn = page_to_pfn(page);
	if (extra) {
		head = ALIGN(pfn, SZ_2M >> PAGE_SHIFT) - pfn;
		if (head)
			free_contig_range(pfn, head);
		if (extra - head)
			free_contig_range(pfn + head + nr, extra - head);
		pfn += head;
	}
	*phys = PFN_PHYS(pfn);
	return phys_to_virt(*phys);
}

/**
 * hvps_unreserve() - free a range from hvps_reserve()
 * @phys: its physical address
 * @size: its size
 */
void hvps_unreserve(phys_addr_t phys, size_t size)
{
	free_contig_range(PHYS_PFN(phys), size >> PAGE_SHIFT);
}

/**
 * hvps_virt_to_phys() - virt_to_phys(), an inline function on x86
 * @addr: a linear-map address
 *
 * Return: its physical address.
 */
phys_addr_t hvps_virt_to_phys(const void *addr)
{
	return virt_to_phys((void *)addr);
}

#if IS_ENABLED(CONFIG_KUNIT)
#include <kunit/test.h>
#include <kunit/test-bug.h>

/**
 * hvps_kunit_skip() - mark the running KUnit test as skipped
 * @reason: why, shown in the test's KTAP line
 *
 * kunit_mark_skipped() is a macro, out of reach of Rust tests.
 */
void hvps_kunit_skip(const char *reason)
{
	struct kunit *test = kunit_get_current_test();

	if (test)
		kunit_mark_skipped(test, "%s", reason);
}
#endif
