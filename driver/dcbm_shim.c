// SPDX-License-Identifier: GPL-2.0-only
/*
 * The parts of dcbm that Rust cannot reach out of tree: static inline
 * helpers of <linux/dmaengine.h>, <linux/scatterlist.h> and <linux/mm.h>,
 * and the struct migrator, whose layout only C sees. No logic lives here;
 * it is all in the Rust side.
 */
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/migrate.h>
#include <linux/migrate_copy_offload.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/moduleparam.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/scatterlist.h>

#include "dcbm_shim.h"

/*
 * Every call runs in a memalloc_noio scope: the batch holds its folios
 * locked and unmapped, so nothing dcbm allocates may start I/O. The
 * test bed's patch 6 makes the core enter that scope; the series as
 * posted does not, so dcbm enters it itself (nesting is harmless).
 */
static int dcbm_offload_copy_noio(struct list_head *dst_list,
				  struct list_head *src_list,
				  unsigned int folio_cnt,
				  enum migrate_reason reason)
{
	unsigned int noio = memalloc_noio_save();
	int rc = dcbm_offload_copy(dst_list, src_list, folio_cnt, reason);

	memalloc_noio_restore(noio);
	return rc;
}

/*
 * The test bed's patch 6 (detected by its MIGRATE_OFFLOAD_NOWAIT_MS, see
 * dcbm_caller_rule_in_kernel()) also tells the migrator each batch's
 * migration reason, through offload_copy_reason(). The series as posted
 * does not: its batches count under DCBM_REASON_UNKNOWN.
 */
#ifdef MIGRATE_OFFLOAD_NOWAIT_MS
#define DCBM_COPY_HOOK .offload_copy_reason = dcbm_offload_copy_noio
#else
static int dcbm_offload_copy_unknown(struct list_head *dst_list,
				     struct list_head *src_list,
				     unsigned int folio_cnt)
{
	return dcbm_offload_copy_noio(dst_list, src_list, folio_cnt,
				      DCBM_REASON_UNKNOWN);
}
#define DCBM_COPY_HOOK .offload_copy = dcbm_offload_copy_unknown
#endif

static_assert(DCBM_REASON_UNKNOWN == MR_TYPES);

static struct migrator dcbm_migrator = {
	.name = "DCBM",
	DCBM_COPY_HOOK,
	.owner = THIS_MODULE,
};

/*
 * The interface is chosen at build time by what the kernel's header
 * declares: MIGRATE_OFFLOAD_REASONS_ALLOWED exists only in the v6 series.
 * The Rust side asks dcbm_interface_v6() and never names either API.
 */
#ifdef MIGRATE_OFFLOAD_REASONS_ALLOWED
#define DCBM_V6 1
#else
#define DCBM_V6 0
#endif

bool dcbm_interface_v6(void)
{
	return DCBM_V6;
}

#if DCBM_V6
int dcbm_migrator_register(unsigned long reason_mask)
{
	return migrate_offload_register(&dcbm_migrator, reason_mask);
}

void dcbm_migrator_unregister(void)
{
	WARN_ON(migrate_offload_unregister(&dcbm_migrator));
}

unsigned long dcbm_reasons_available(void)
{
	return MIGRATE_OFFLOAD_REASONS_ALLOWED;
}

int dcbm_set_reason_mask(unsigned long reason_mask)
{
	return migrate_offload_set_reason_mask(&dcbm_migrator, reason_mask);
}

int dcbm_reason_mask_parse(const char *buf, unsigned long *maskp)
{
	return migrate_offload_reason_mask_parse(buf, maskp);
}

/* v6: the migrator marks each destination folio it has copied. */
void dcbm_mark_copied(struct folio *dst)
{
	dst->migrate_info |= FOLIO_CONTENT_COPIED;
}
#else
/* v5 offers these reasons, always; the return value decides the batch. */
#define DCBM_V5_REASONS (BIT(MR_COMPACTION) | BIT(MR_SYSCALL) | \
			 BIT(MR_NUMA_MISPLACED) | BIT(MR_DEMOTION))

int dcbm_migrator_register(unsigned long reason_mask)
{
	return migrate_offload_register(&dcbm_migrator);
}

void dcbm_migrator_unregister(void)
{
	migrate_offload_unregister(&dcbm_migrator);
}

unsigned long dcbm_reasons_available(void)
{
	return DCBM_V5_REASONS;
}

int dcbm_set_reason_mask(unsigned long reason_mask)
{
	return -EOPNOTSUPP;
}

int dcbm_reason_mask_parse(const char *buf, unsigned long *maskp)
{
	return -EOPNOTSUPP;
}

void dcbm_mark_copied(struct folio *dst)
{
}
#endif

/*
 * The module parameters, writable at run time under
 * /sys/module/dcbm/parameters/ and settable from modprobe.d: the upstream
 * v6 driver's names and dcbm's own. Each is the same knob as the
 * top-level file of that name (v5 layout); the Rust side (knobs.rs)
 * parses, applies and formats both, by name.
 */
static int dcbm_param_set(const char *val, const struct kernel_param *kp)
{
	return dcbm_knob_store(kp->name, val);
}

static int dcbm_param_get(char *buf, const struct kernel_param *kp)
{
	return dcbm_knob_show(kp->name, buf);
}

static const struct kernel_param_ops dcbm_param_ops = {
	.set = dcbm_param_set,
	.get = dcbm_param_get,
};

#define DCBM_PARAM(name, desc)					\
	module_param_cb(name, &dcbm_param_ops, NULL, 0644);	\
	MODULE_PARM_DESC(name, desc)

DCBM_PARAM(offloading, "Offload migration copies (bool; same as /sys/module/dcbm/offloading)");
DCBM_PARAM(nr_dma_chan, "DMA channels to hold, 1..16 (default 4)");
DCBM_PARAM(reason_mask, "Migration reasons to offload: names (compaction,demotion,...), all, none or a number; fixed on a v5 kernel");
DCBM_PARAM(timeout_ms, "Time a batch may take before it falls back to the CPU, 1..600000 ms (default 10000)");
DCBM_PARAM(min_batch_bytes, "Batches smaller than this are left to the CPU, 0..1 GiB (default 2 MiB)");
DCBM_PARAM(min_folio_bytes, "Batches whose largest folio is smaller are left to the CPU, 0..1 GiB (default 2 MiB)");
DCBM_PARAM(min_timeout_ms, "The least time a batch is given before it falls back to the CPU (the floor of its limit fitted to the engine's pace), 1..600000 ms (default 100)");
DCBM_PARAM(health_strikes, "Troubles in a row (timeout, error) that take a DMA channel out of use until a probe copy passes, 0..1000 (default 1; 0: never)");
DCBM_PARAM(verify, "Compare each destination with its source after the engine says done: off (default), sampled (1 batch in 16) or all");
DCBM_PARAM(folios_migrated, "Folios copied by DMA (a write resets it)");
DCBM_PARAM(folios_failures, "Folios whose DMA copy failed and went to the CPU (a write resets it)");

struct folio *dcbm_lru_folio(struct list_head *entry)
{
	return list_entry(entry, struct folio, lru);
}

size_t dcbm_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

/* @len bytes of @folio from @offset (a piece within the device's mapping limit). */
void dcbm_sg_set_folio_part(struct scatterlist *sg, struct folio *folio,
			    size_t len, size_t offset)
{
	/*
	 * A workspace's entries are reused batch after batch (sgtable.rs):
	 * forget the last mapping's DMA state, as sg_init_table() does for a
	 * new table, since unmapping does not clear all of it (dma-iommu
	 * leaves SG_DMA_SWIOTLB on a bounced run's first entry, and takes
	 * the next run that starts there for bounced too). The chain and end
	 * marks in page_link stay.
	 */
	sg->dma_address = 0;
#ifdef CONFIG_NEED_SG_DMA_LENGTH
	sg->dma_length = 0;
#endif
#ifdef CONFIG_NEED_SG_DMA_FLAGS
	sg->dma_flags = 0;
#endif
	sg_set_folio(sg, folio, len, offset);
}

/* The device's mapping limit: no mapped segment may be longer. */
unsigned int dcbm_max_seg_size(struct device *dev)
{
	return dma_get_max_seg_size(dev);
}

/*
 * A bound on the base pages, and so on the folios, of one batch: the
 * migration core closes a batch at the folio that brings it to
 * NR_MAX_BATCHED_MIGRATION base pages (mm/migrate.c, not in a header:
 * HPAGE_PMD_NR with THP, else 512), so a batch holds fewer than twice that
 * many; the large folios of a batch that had to be split are retried as one
 * batch of their order-0 folios.
 */
unsigned int dcbm_batch_pages_max(void)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	return 2 * HPAGE_PMD_NR;
#else
	return 2 * 512;
#endif
}

/* A private memcpy channel, or an ERR_PTR. */
struct dma_chan *dcbm_request_memcpy_chan(void)
{
	dma_cap_mask_t mask;

	dma_cap_zero(mask);
	dma_cap_set(DMA_MEMCPY, mask);
	return dma_request_chan_by_mask(&mask);
}

/* A public memcpy channel shared with other clients (dmaengine_get() held). */
struct dma_chan *dcbm_find_public_memcpy_chan(void)
{
	return dma_find_channel(DMA_MEMCPY);
}

struct device *dcbm_chan_device(struct dma_chan *chan)
{
	return dmaengine_get_dma_device(chan);
}

/* The name of the DMA device's driver (providers.rs keys on it). */
const char *dcbm_chan_driver(struct dma_chan *chan)
{
	return dev_driver_string(chan->device->dev);
}

const char *dcbm_chan_name(struct dma_chan *chan)
{
	return dma_chan_name(chan);
}

/*
 * The dmaengine callback of every dcbm descriptor. It has the exact type
 * dmaengine calls (dma_async_tx_callback_result), so a kCFI kernel's type
 * check passes; it calls the Rust side directly with the verdict.
 */
static void dcbm_dma_done(void *param, const struct dmaengine_result *result)
{
	dcbm_on_complete(param, result && result->result == DMA_TRANS_NOERROR,
			 result ? result->residue : 0);
}

/*
 * Whether the channel's provider reports a residue: with
 * DMA_RESIDUE_GRANULARITY_DESCRIPTOR it does not (idxd never sets the
 * field, which then holds whatever its stack did), and only the result
 * counts.
 */
bool dcbm_chan_reports_residue(struct dma_chan *chan)
{
	return chan->device->residue_granularity != DMA_RESIDUE_GRANULARITY_DESCRIPTOR;
}

/* Whether @a and @b, folios of the same size, hold the same bytes. */
bool dcbm_folio_same(struct folio *a, struct folio *b)
{
	size_t off, size = folio_size(a);
	bool same = true;

	for (off = 0; same && off < size; off += PAGE_SIZE) {
		void *va = kmap_local_folio(a, off);
		void *vb = kmap_local_folio(b, off);

		same = !memcmp(va, vb, PAGE_SIZE);
		kunmap_local(vb);
		kunmap_local(va);
	}
	return same;
}

/*
 * Prepare and submit one memcpy whose completion calls dcbm_on_complete()
 * with @param, asking for a completion interrupt if @interrupt. Returns 0
 * once submitted, DCBM_NO_DESCRIPTOR if the engine gave no descriptor
 * (pool empty, copy too long, ...), or the negative submit error (nothing
 * was queued then).
 */
int dcbm_submit_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		       size_t len, void *param, bool interrupt)
{
	struct dma_async_tx_descriptor *tx;
	dma_cookie_t cookie;

	tx = dmaengine_prep_dma_memcpy(chan, dst, src, len,
				       (interrupt ? DMA_PREP_INTERRUPT : 0) |
				       DMA_CTRL_ACK);
	if (!tx)
		return DCBM_NO_DESCRIPTOR;
	tx->callback_result = dcbm_dma_done;
	tx->callback_param = param;
	cookie = dmaengine_submit(tx);
	return dma_submit_error(cookie) ? cookie : 0;
}

void dcbm_issue_pending(struct dma_chan *chan)
{
	dma_async_issue_pending(chan);
}

/*
 * Reads the status of the channel's newest descriptor. A provider that
 * calls back descriptors submitted without an interrupt runs the
 * callbacks of those completed when asked (ioatdma's tx_status cleans up).
 */
void dcbm_poll(struct dma_chan *chan)
{
	dmaengine_tx_status(chan, READ_ONCE(chan->cookie), NULL);
}

/*
 * Whether the channel's descriptors can be aborted: the provider has both
 * device_terminate_all and device_synchronize (ioatdma, for one, has
 * neither, and dmaengine_terminate_sync() then returns -EINVAL).
 */
bool dcbm_chan_can_terminate(struct dma_chan *chan)
{
	return chan->device->device_terminate_all &&
	       chan->device->device_synchronize;
}

/*
 * Aborts the channel's descriptors (dmaengine_terminate_async()); once
 * dcbm_synchronize() returns, none of their callbacks runs any more. Split
 * so that a batch aborts all its channels before waiting for any.
 */
int dcbm_terminate_async(struct dma_chan *chan)
{
	return dmaengine_terminate_async(chan);
}

void dcbm_synchronize(struct dma_chan *chan)
{
	dmaengine_synchronize(chan);
}

/*
 * The caller-context rule: a call from reclaim or direct compaction
 * (PF_MEMALLOC) must neither sleep in an allocation nor wait long. The
 * test bed's patch 6 states it in the header (migrate_offload_nowait(),
 * MIGRATE_OFFLOAD_NOWAIT_MS) and times such calls; the series as posted
 * has neither, and dcbm then reads the same task flag itself and keeps
 * the same bound.
 */
#ifdef MIGRATE_OFFLOAD_NOWAIT_MS
bool dcbm_caller_rule_in_kernel(void)
{
	return true;
}

bool dcbm_offload_nowait(void)
{
	return migrate_offload_nowait();
}

unsigned int dcbm_nowait_ms(void)
{
	return MIGRATE_OFFLOAD_NOWAIT_MS;
}
#else
bool dcbm_caller_rule_in_kernel(void)
{
	return false;
}

bool dcbm_offload_nowait(void)
{
	return current->flags & PF_MEMALLOC;
}

unsigned int dcbm_nowait_ms(void)
{
	return 100;
}
#endif

/* The allocation flags the header asks of a no-wait call. */
gfp_t dcbm_nowait_gfp(void)
{
	return GFP_NOWAIT | __GFP_NOMEMALLOC | __GFP_NOWARN;
}

/* Whether the provider can copy @len bytes between these addresses. */
bool dcbm_copy_aligned(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		       size_t len)
{
	return is_dma_copy_aligned(chan->device, src, dst, len);
}

/* The folio of an order-0 page the prober allocated. */
struct folio *dcbm_page_folio(struct page *page)
{
	return page_folio(page);
}

/*
 * The rate limit of dcbm's health log (health.rs), its own rather than
 * printk's, which the whole kernel shares: 20 lines per 5 s.
 */
static DEFINE_RATELIMIT_STATE(dcbm_health_rs, 5 * HZ, 20);

bool dcbm_health_log_ok(void)
{
	return __ratelimit(&dcbm_health_rs);
}

/*
 * Provider removal (removal.rs). When a provider unregisters a channel
 * (unbind, PCI removal, an idxd work queue disabled), the dmaengine core
 * deletes the channel's device, dmaXchanY, and device_del() runs the
 * device's devres actions: while the channel still exists, before the
 * provider frees it, with no lock of the core held. dcbm's action lets
 * the channel go there. (A provider without device_release has already
 * met the core's "clients hold a reference" WARN_ONCE by then.)
 */
static void dcbm_chan_going_action(void *data)
{
	dcbm_chan_going(data);
}

int dcbm_watch_chan(struct dma_chan *chan, void *data)
{
	return devm_add_action(&chan->dev->device, dcbm_chan_going_action, data);
}

/* False when the action is no longer listed: it runs, or is about to. */
bool dcbm_unwatch_chan(struct dma_chan *chan, void *data)
{
	return !devm_remove_action_nowarn(&chan->dev->device,
					  dcbm_chan_going_action, data);
}

/*
 * An unbind (sysfs, PCI removal, module removal of a provider on the
 * platform or PCI bus) is told to the bus's notifiers before the driver's
 * remove runs: dcbm lets the device's channels go there, before the
 * provider unregisters them, so that the core sees no client (and warns
 * of none). The devres action above still covers the rest (an idxd work
 * queue, other buses).
 */
static int dcbm_bus_notify(struct notifier_block *nb, unsigned long action,
			   void *data)
{
	if (action == BUS_NOTIFY_UNBIND_DRIVER)
		dcbm_device_unbinding(data);
	return NOTIFY_DONE;
}

static struct notifier_block dcbm_platform_nb = {
	.notifier_call = dcbm_bus_notify,
};

#ifdef CONFIG_PCI
static struct notifier_block dcbm_pci_nb = {
	.notifier_call = dcbm_bus_notify,
};
#endif

int dcbm_watch_buses(void)
{
	int ret = bus_register_notifier(&platform_bus_type, &dcbm_platform_nb);

#ifdef CONFIG_PCI
	if (!ret) {
		ret = bus_register_notifier(&pci_bus_type, &dcbm_pci_nb);
		if (ret)
			bus_unregister_notifier(&platform_bus_type, &dcbm_platform_nb);
	}
#endif
	return ret;
}

void dcbm_unwatch_buses(void)
{
#ifdef CONFIG_PCI
	bus_unregister_notifier(&pci_bus_type, &dcbm_pci_nb);
#endif
	bus_unregister_notifier(&platform_bus_type, &dcbm_platform_nb);
}

/* Whether @anc is @dev or one of its parents. */
bool dcbm_dev_within(struct device *dev, struct device *anc)
{
	for (; dev; dev = dev->parent)
		if (dev == anc)
			return true;
	return false;
}
