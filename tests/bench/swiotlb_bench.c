// SPDX-License-Identifier: GPL-2.0
/*
 * swiotlb_bench - streaming DMA mapping through SWIOTLB, three ways.
 *
 * Compares, in one run and on the same faux devices:
 *   global   the kernel's default pool (boot with swiotlb=force);
 *   shared   one pool from swiotlb_devpool_create() for all devices (the WSL
 *            kernels' layout);
 *   perdev   one pool per device (hv_pci_swiotlb's default layout), an
 *            equal slice of the same memory each.
 *
 * Three devices by default (ndev=): the case the pools exist for, two file
 * shares and a NIC.
 *
 * Kernel threads map and unmap a buffer of 4 KiB, 64 KiB or 256 KiB for a
 * fixed time, in three cases:
 *   map     a thread per CPU and device: every device is used from every
 *           CPU, as a virtio queue is when requests are submitted on one CPU
 *           and completed on another; alternately to and from the device;
 *   pinned  a thread per CPU, on device (cpu % ndev) only; alternating;
 *   map_to  as map, but to the device only: one copy per mapping.
 * Mapping from the device copies twice, since swiotlb_tbl_map_single()
 * fills the slot from the buffer first (so that a short device write
 * cannot expose stale data), so "map" moves 1.5 copies per mapping.
 * A memcpy loop (a thread per CPU) of the same sizes gives the bandwidth
 * that bouncing is measured against: "memcpy" between two cache-hot
 * buffers, and "memcpy_pool" into the pools' memory at a moving offset, as
 * bounce buffers are written. An isolation case fills one device's
 * pool and measures a second device streaming meanwhile.
 *
 * Everything runs in module init; results are printed as one line per
 * measurement, "swiotlb_bench: key=value ...", for tests/bench/report.py.
 * The module then stays loaded until removed. Needs the core pool API.
 */

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/device/faux.h>
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/swiotlb.h>
#include <linux/vmalloc.h>

static unsigned int ndev = 3;
module_param(ndev, uint, 0444);
MODULE_PARM_DESC(ndev, "Number of devices, 1 to 7 (default 3: two file shares and a NIC)");
static unsigned int ms = 500;
module_param(ms, uint, 0444);
MODULE_PARM_DESC(ms, "Duration of each measurement in milliseconds");
static unsigned int pool_mb = 64;
module_param(pool_mb, uint, 0444);
MODULE_PARM_DESC(pool_mb, "Memory for the dedicated pools, split among devices in perdev");
static unsigned int reps = 5;
module_param(reps, uint, 0444);
MODULE_PARM_DESC(reps, "Repetitions of every measurement");
static char *only = "";
module_param(only, charp, 0444);
MODULE_PARM_DESC(only, "Run just this case:layout:size (e.g. map:shared:4096), for profiling");

#define BENCH_MAX_DEV	8
#define BENCH_SAMPLES	BIT(16)
#define BENCH_BUF	SZ_256K		/* largest mapping; buffers are twice that */

enum layout { GLOBAL, SHARED, PERDEV, NR_LAYOUTS };
static const char * const layout_name[] = { "global", "shared", "perdev" };
static const size_t sizes[] = { SZ_4K, SZ_64K, SZ_256K };

static struct faux_device *devs[BENCH_MAX_DEV];
static struct io_tlb_mem *pools[BENCH_MAX_DEV];
static struct page *pool_pages;
static unsigned long pool_nr_pages;
static size_t pool_slice;	/* bytes of each per-device pool */

enum bench_case { MAP, PINNED, MAP_TO, NR_CASES };
static const char * const case_name[] = { "map", "pinned", "map_to" };

struct worker {
	struct task_struct *task;
	struct device *dev;
	void *buf;
	size_t size;
	bool memcpy_only;
	void *cold;		/* memcpy into this range (rotating), not buf */
	size_t cold_len;
	bool to_only;		/* DMA_TO_DEVICE only, instead of alternating */
	bool hold;		/* isolation: map until full, keep */
	u64 *samples;
	unsigned long nsamples;
	unsigned long ops, fails;
	dma_addr_t *held;
	unsigned long nheld;
	u64 ns;
};

static atomic_t ready;
static DECLARE_COMPLETION(go);
static u64 deadline;

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static int bench_thread(void *data)
{
	struct worker *w = data;
	void *dst = w->buf + BENCH_BUF;
	u64 start, t0, t1 = 0;
	size_t off = 0;
	dma_addr_t addr;
	bool to_dev = true;

	atomic_inc(&ready);
	wait_for_completion(&go);
	start = ktime_get_ns();
	while ((t0 = ktime_get_ns()) < deadline) {
		if (w->memcpy_only) {
			/* Into the pool, the destination moves as a bounce's does. */
			memcpy(w->cold ? w->cold + off : dst, w->buf, w->size);
			off = off + 2 * w->size <= w->cold_len ? off + w->size : 0;
			t1 = ktime_get_ns();
		} else if (w->hold) {
			/* A noisy neighbour: grab every slot that comes free. */
			if (w->nheld < SZ_64K) {
				addr = dma_map_single_attrs(w->dev, w->buf, w->size,
							    DMA_TO_DEVICE,
							    DMA_ATTR_NO_WARN);
				if (!dma_mapping_error(w->dev, addr))
					w->held[w->nheld++] = addr;
			}
			cond_resched();
			continue;
		} else {
			enum dma_data_direction dir = to_dev || w->to_only ?
						      DMA_TO_DEVICE : DMA_FROM_DEVICE;

			addr = dma_map_single_attrs(w->dev, w->buf, w->size, dir,
						    DMA_ATTR_NO_WARN);
			if (dma_mapping_error(w->dev, addr)) {
				w->fails++;
				cond_resched();
				continue;
			}
			dma_unmap_single(w->dev, addr, w->size, dir);
			t1 = ktime_get_ns();
			to_dev = !to_dev;
		}
		if (w->nsamples < BENCH_SAMPLES)
			w->samples[w->nsamples++] = t1 - t0;
		w->ops++;
		if (!(w->ops & 255))
			cond_resched();
	}
	w->ns = ktime_get_ns() - start;
	/* Wait to be stopped, so that kthread_stop() finds us alive. */
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/*
 * Run one measurement with a worker per entry of @w (already set up),
 * worker i on CPU (i % number of CPUs), for @dur_ms.
 */
static int run_workers(struct worker *w, unsigned int n, unsigned int dur_ms)
{
	unsigned int i;

	atomic_set(&ready, 0);
	reinit_completion(&go);
	for (i = 0; i < n; i++) {
		w[i].ops = 0;
		w[i].fails = 0;
		w[i].nsamples = 0;
		w[i].ns = 0;
		w[i].task = kthread_create(bench_thread, &w[i], "swiotlb_bench/%u", i);
		if (IS_ERR(w[i].task))
			return PTR_ERR(w[i].task);
		kthread_bind(w[i].task, cpumask_nth(i % num_online_cpus(), cpu_online_mask));
		wake_up_process(w[i].task);
	}
	while (atomic_read(&ready) < n)
		usleep_range(100, 200);
	deadline = ktime_get_ns() + (u64)dur_ms * NSEC_PER_MSEC;
	complete_all(&go);
	for (i = 0; i < n; i++)
		kthread_stop(w[i].task);
	return 0;
}

static void report(const char *what, const char *layout, struct worker *w,
		   unsigned int n, unsigned int rep)
{
	unsigned long ops = 0, fails = 0, ns = 0, total = 0, i, k;
	u64 *all;

	for (i = 0; i < n; i++) {
		ops += w[i].ops;
		fails += w[i].fails;
		ns = max_t(unsigned long, ns, w[i].ns);
		total += w[i].nsamples;
	}
	all = vmalloc_array(total ?: 1, sizeof(*all));
	if (!all)
		return;
	for (i = 0, k = 0; i < n; i++) {
		memcpy(all + k, w[i].samples, w[i].nsamples * sizeof(*all));
		k += w[i].nsamples;
	}
	sort(all, total, sizeof(*all), cmp_u64, NULL);
	pr_info("swiotlb_bench: case=%s layout=%s size=%zu threads=%u devices=%u rep=%u ops=%lu fails=%lu ns=%lu p50=%llu p99=%llu\n",
		what, layout, w[0].size, n, ndev, rep, ops, fails, ns,
		total ? all[total / 2] : 0, total ? all[total * 99 / 100] : 0);
	vfree(all);
}

static int set_layout(enum layout l)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ndev && devs[i]; i++) {
		struct io_tlb_mem *mem = NULL;

		if (l == SHARED)
			mem = pools[BENCH_MAX_DEV - 1];
		else if (l == PERDEV)
			mem = pools[i];
		/* The core changes a device's pool only under its lock. */
		device_lock(&devs[i]->dev);
		ret = swiotlb_devpool_assign(&devs[i]->dev, mem);
		device_unlock(&devs[i]->dev);
		if (ret)
			return ret;
	}
	return 0;
}

static int make_pools(void)
{
	size_t total = (size_t)pool_mb << 20, unit;
	phys_addr_t base;
	unsigned int i;

	pool_nr_pages = total >> PAGE_SHIFT;
	pool_pages = alloc_contig_pages(pool_nr_pages,
					GFP_KERNEL | __GFP_DMA32 | __GFP_ZERO | __GFP_NOWARN,
					first_online_node, NULL);
	if (!pool_pages)
		return -ENOMEM;
	base = page_to_phys(pool_pages);
	/*
	 * The shared and the per-device pools use the same memory, one layout
	 * at a time: the shared pool covers it all.
	 */
	pools[BENCH_MAX_DEV - 1] = swiotlb_devpool_create(base, total, "bench_shared");
	if (IS_ERR(pools[BENCH_MAX_DEV - 1]))
		return PTR_ERR(pools[BENCH_MAX_DEV - 1]);
	/*
	 * An equal slice per device, in whole segments for each area it may
	 * get: one per CPU, or what swiotlb= asked for (the shared pool's
	 * count), so that both give the same slices. 64 MiB split three ways
	 * is not even a page multiple, and an area must not end inside a
	 * segment. The remainder stays unused.
	 */
	unit = max_t(size_t, roundup_pow_of_two(num_possible_cpus()),
		     pools[BENCH_MAX_DEV - 1]->defpool.nareas) * IO_TLB_SEGSIZE << IO_TLB_SHIFT;
	pool_slice = rounddown(total / ndev, unit);
	if (!pool_slice)
		return -EINVAL;
	for (i = 0; i < ndev; i++) {
		char name[16];

		snprintf(name, sizeof(name), "bench_dev%u", i);
		pools[i] = swiotlb_devpool_create(base + i * pool_slice, pool_slice, name);
		if (IS_ERR(pools[i]))
			return PTR_ERR(pools[i]);
	}
	return 0;
}

static void free_pools(void)
{
	unsigned int i;

	for (i = 0; i < BENCH_MAX_DEV; i++)
		if (!IS_ERR_OR_NULL(pools[i]))
			WARN_ON(swiotlb_devpool_destroy(pools[i]));
	if (pool_pages)
		free_contig_range(page_to_pfn(pool_pages), pool_nr_pages);
}

/* Give @w a buffer size and a device, and make it a plain streaming worker. */
static void set_worker(struct worker *w, size_t size, struct device *dev)
{
	w->size = size;
	w->dev = dev;
	w->memcpy_only = false;
	w->cold = NULL;
	w->to_only = false;
	w->hold = false;
}

/* Whether @only (empty: everything) asks for this measurement. */
static bool wanted(const char *what, const char *layout, size_t size)
{
	char buf[64];

	if (!*only)
		return true;
	snprintf(buf, sizeof(buf), "%s:%s:%zu", what, layout, size);
	return !strcmp(only, buf);
}

/* Set up @w for case @c on @size and run it; the thread count depends on @c. */
static int run_case(struct worker *w, enum bench_case c, size_t size, unsigned int ncpu)
{
	unsigned int n = c == PINNED ? ncpu : ncpu * ndev, i;

	for (i = 0; i < n; i++) {
		/* Worker i runs on CPU i % ncpu (see run_workers()). */
		set_worker(&w[i], size, &devs[c == PINNED ? i % ndev : i / ncpu % ndev]->dev);
		w[i].to_only = c == MAP_TO;
	}
	return run_workers(w, n, ms) ?: n;
}

static void run_isolation(struct worker *w, enum layout l, unsigned int r)
{
	unsigned long alone, held;
	unsigned int i;

	for (i = 0; i < 2; i++)
		set_worker(&w[i], SZ_64K, &devs[i]->dev);
	if (run_workers(&w[1], 1, ms))
		return;
	alone = w[1].ops;
	w[0].hold = true;
	w[0].nheld = 0;
	if (run_workers(w, 2, ms))
		return;
	held = w[0].nheld;
	while (w[0].nheld)
		dma_unmap_single(w[0].dev, w[0].held[--w[0].nheld], SZ_64K, DMA_TO_DEVICE);
	pr_info("swiotlb_bench: case=isolation layout=%s size=65536 rep=%u a_held=%lu b_alone_ops=%lu b_ops=%lu b_fails=%lu ns=%llu\n",
		layout_name[l], r, held, alone, w[1].ops, w[1].fails, w[1].ns);
}

static int __init swiotlb_bench_init(void)
{
	unsigned int ncpu = num_online_cpus(), nw, i, s, l, r, c;
	struct worker *w;
	int ret = -ENOMEM;

	if (ndev < 1 || ndev > BENCH_MAX_DEV - 1 || !ms || !reps)
		return -EINVAL;
	nw = ncpu * ndev;
	w = kcalloc(nw, sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	for (i = 0; i < nw; i++) {
		w[i].buf = kmalloc(2 * BENCH_BUF, GFP_KERNEL);
		w[i].samples = vmalloc_array(BENCH_SAMPLES, sizeof(u64));
		w[i].held = vmalloc_array(SZ_64K, sizeof(dma_addr_t));
		if (!w[i].buf || !w[i].samples || !w[i].held)
			goto out;
		memset(w[i].buf, 0x5a, 2 * BENCH_BUF);
	}
	for (i = 0; i < ndev; i++) {
		char name[16];

		snprintf(name, sizeof(name), "swiotlb_bench%u", i);
		devs[i] = faux_device_create(name, NULL, NULL);
		if (!devs[i]) {
			ret = -ENODEV;
			goto out;
		}
		devs[i]->dev.dma_mask = &devs[i]->dev.coherent_dma_mask;
		ret = dma_set_mask_and_coherent(&devs[i]->dev, DMA_BIT_MASK(64));
		if (ret)
			goto out;
	}
	ret = make_pools();
	if (ret)
		goto out;
	pr_info("swiotlb_bench: cpus=%u devices=%u ms=%u pool_mb=%u perdev_kib=%zu reps=%u default_pool=%s areas_global=%u areas_shared=%u areas_perdev=%u\n",
		ncpu, ndev, ms, pool_mb, pool_slice >> 10, reps,
		is_swiotlb_force_bounce(&devs[0]->dev) ? "forced" : "not-forced",
		devs[0]->dev.dma_io_tlb_mem ? devs[0]->dev.dma_io_tlb_mem->defpool.nareas : 0,
		pools[BENCH_MAX_DEV - 1]->defpool.nareas, pools[0]->defpool.nareas);

	for (r = 0; r < reps; r++) {
		for (s = 0; s < ARRAY_SIZE(sizes); s++) {
			for (c = 0; c < 2; c++) {
				const char *what = c ? "memcpy_pool" : "memcpy";

				if (!wanted(what, "-", sizes[s]))
					continue;
				for (i = 0; i < ncpu; i++) {
					set_worker(&w[i], sizes[s], NULL);
					w[i].memcpy_only = true;
					/* memcpy_pool: each CPU its share of the pools' memory. */
					w[i].cold_len = ((size_t)pool_mb << 20) / ncpu;
					w[i].cold = c ? page_address(pool_pages) +
						    i * w[i].cold_len : NULL;
				}
				ret = run_workers(w, ncpu, ms);
				if (ret)
					goto out;
				report(what, "-", w, ncpu, r);
			}
			for (l = 0; l < NR_LAYOUTS; l++) {
				ret = set_layout(l);
				if (ret)
					goto out;
				for (c = 0; c < NR_CASES; c++) {
					if (!wanted(case_name[c], layout_name[l], sizes[s]))
						continue;
					ret = run_case(w, c, sizes[s], ncpu);
					if (ret < 0)
						goto out;
					report(case_name[c], layout_name[l], w, ret, r);
				}
			}
		}

		/* Isolation: B streams 64 KiB alone, then while A fills its pool. */
		for (l = 0; l < NR_LAYOUTS && ndev >= 2 && ncpu >= 2; l++) {
			if (!wanted("isolation", layout_name[l], SZ_64K))
				continue;
			ret = set_layout(l);
			if (ret)
				goto out;
			run_isolation(w, l, r);
		}
	}
	ret = 0;
	pr_info("swiotlb_bench: done\n");
out:
	set_layout(GLOBAL);
	free_pools();
	for (i = 0; i < ndev; i++)
		if (devs[i])
			faux_device_destroy(devs[i]);
	for (i = 0; i < nw; i++) {
		kfree(w[i].buf);
		vfree(w[i].samples);
		vfree(w[i].held);
	}
	kfree(w);
	/* The results are in the log; nothing stays loaded. */
	return ret ?: -ECANCELED;
}
module_init(swiotlb_bench_init);

MODULE_DESCRIPTION("SWIOTLB global vs shared vs per-device pool benchmark");
MODULE_LICENSE("GPL");
