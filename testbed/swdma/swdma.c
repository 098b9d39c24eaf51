// SPDX-License-Identifier: GPL-2.0-only
/*
 * swdma - a software DMA_MEMCPY engine for testing dmaengine clients
 *
 * Each channel owns a work item on an unbound workqueue that performs the
 * copies with the CPU, outside the submitter's context, and a tasklet that
 * delivers the completion callbacks in softirq context like a real engine's
 * interrupt handler would.  A doorbell (issue_pending) wakes the work only
 * when the engine is idle; while it runs it takes what was issued
 * meanwhile, as a hardware engine reads its ring.  As ioatdma's, the
 * interrupt is raised only by a descriptor prepared with
 * DMA_PREP_INTERRUPT, and delivers the callbacks of every descriptor
 * completed by then; a status read delivers them too.  Faults
 * (prep/submit/transfer failures, a stalled engine, late and out-of-order
 * completions) can be injected at run time through the module parameters
 * in /sys/module/swdma/parameters/.
 *
 * Personalities (load-time parameters, see below) model the providers real
 * machines have: no terminate_all (ioatdma), a bounded descriptor pool that
 * fails or blocks (preallocated rings, idxd), a copy-length limit and a
 * copy alignment, and a DMA device behind an IOMMU.
 *
 * Test infrastructure only: by default the copies rely on dma-direct (no
 * IOMMU), so a DMA address is a physical address; with iommu=1 the engine
 * translates IOVAs through the IOMMU domain of its PCI device.
 */

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/highmem.h>
#include <linux/init.h>
#include <linux/instrumented.h>
#include <linux/interrupt.h>
#include <linux/iommu.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/math64.h>
#include <linux/mem_encrypt.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dmaengine.h"

#define SWDMA_NAME		"swdma"
#define SWDMA_MAX_CHANNELS	64
/* pages copied between two cond_resched()/termination checks */
#define SWDMA_RESCHED_PAGES	64
/* failed cookies remembered per channel so tx_status can report DMA_ERROR */
#define SWDMA_ERR_RING		16
/* poll period of a stalled (hang) engine for the hang knob being cleared */
#define SWDMA_HANG_POLL_MS	20
/* mbps pacing: a channel less than this ahead of its speed does not sleep */
#define SWDMA_PACE_SLACK_US	100
/* poll period of a prep waiting on a full pool for descriptors acked */
#define SWDMA_POOL_POLL_MS	10
/* QEMU's educational PCI device (iommu=1) */
#define SWDMA_EDU_VENDOR	0x1234
#define SWDMA_EDU_DEVICE	0x11e8

/* Load-time configuration. */
static unsigned int channels = 4;
module_param(channels, uint, 0444);
MODULE_PARM_DESC(channels, "Number of DMA channels (1..64, default 4)");

static bool private = true;
module_param(private, bool, 0444);
MODULE_PARM_DESC(private, "Set DMA_PRIVATE on the device (default 1)");

/*
 * Personalities: load-time parameters that make the engine behave like the
 * memcpy providers real machines have.
 *
 * terminate=0: no device_terminate_all nor device_synchronize, as ioatdma;
 *   dmaengine_terminate_sync() returns -EINVAL and does nothing, so a
 *   client can only wait for its descriptors.  The channel is still
 *   stopped when its client frees it (device_free_chan_resources).
 */
static bool terminate = true;
module_param(terminate, bool, 0444);
MODULE_PARM_DESC(terminate,
		 "Provide device_terminate_all/device_synchronize (default 1; 0: none, as ioatdma)");

/*
 * terminate_stops=0: the hooks are there and return success, but stop
 *   nothing: what was submitted runs on, copies and calls back later, as
 *   ptdma's terminate_all (it clears the queue's interrupt status; the
 *   command in the queue keeps running) and idxd's (software only).  A
 *   client that trusts such an abort frees memory the engine still
 *   writes.  (Releasing the channel still stops it.)
 * driver=NAME: the driver and its device register under NAME instead of
 *   swdma, so a client that knows providers by driver name (dcbm) takes
 *   the engine for that provider, e.g. driver=ptdma.
 */
static bool terminate_stops = true;
module_param(terminate_stops, bool, 0444);
MODULE_PARM_DESC(terminate_stops,
		 "terminate_all stops the channel's descriptors (default 1; 0: returns 0 and stops nothing, as ptdma)");
static char *driver = SWDMA_NAME;
module_param(driver, charp, 0444);
MODULE_PARM_DESC(driver, "Name of the driver and its device (default swdma), e.g. ptdma");

/*
 * pool=N: at most N descriptors allocated per channel, from prep until
 *   they are freed (completed and acked, or dmaengine_desc_free() of a
 *   reusable one), like a preallocated descriptor ring.  When the pool is
 *   full, prep returns NULL, or with pool_block=1 sleeps (interruptibly)
 *   until a slot frees, as idxd's blocking submission does (and, like
 *   idxd, submit then starts the copy at once); prep may
 *   sleep and must not be called in atomic context.  0: unbounded.
 */
static unsigned int pool;
module_param(pool, uint, 0444);
MODULE_PARM_DESC(pool, "Descriptors per channel (default 0: unbounded)");

static bool pool_block;
module_param(pool_block, bool, 0444);
MODULE_PARM_DESC(pool_block,
		 "Full pool: 0 prep returns NULL (default), 1 prep sleeps until a slot frees");

/*
 * max_xfer=BYTES: prep returns NULL for a longer copy, as idxd does beyond
 *   its max_xfer_bytes; independent of the mapping limit (max_seg_size).
 *   0: no limit.  Can be changed at run time.
 */
static unsigned long max_xfer;
module_param(max_xfer, ulong, 0644);
MODULE_PARM_DESC(max_xfer, "Longest copy in bytes (default 0: no limit)");

/*
 * max_seg=BYTES: the device's mapping limit, dma_set_max_seg_size().  The
 *   PCI core gives every PCI device 64 KiB and ptdma, idxd and ioat keep
 *   it; it bounds how an IOMMU merges segments, not how long a copy the
 *   engine takes (swdma's default, UINT_MAX, hid that difference).
 *   0: UINT_MAX.
 */
static unsigned int max_seg;
module_param(max_seg, uint, 0444);
MODULE_PARM_DESC(max_seg, "dma_set_max_seg_size() of the device (default 0: UINT_MAX; PCI devices get 65536)");

/*
 * copy_align=K: dma_device.copy_align = K (log2 of bytes, the
 *   DMAENGINE_ALIGN_* values, 0..8); prep returns NULL when the source, the
 *   destination or the length is not a multiple of 2^K, and counts it in
 *   align_rejects.
 */
static unsigned int copy_align;
module_param(copy_align, uint, 0444);
MODULE_PARM_DESC(copy_align,
		 "Copy alignment, log2 bytes (0..8, default 0); unaligned preps return NULL");

/*
 * iommu=1: instead of its own platform device, the engine binds QEMU's
 *   "edu" PCI device (-device edu, 1234:11e8) and uses it as its DMA
 *   device, so clients' mappings go through the IOMMU that device sits
 *   behind (and dma_map_sg() may merge segments).  The engine translates
 *   every IOVA page with iommu_iova_to_phys() on the device's domain (a
 *   range contiguous in IOVA space need not be physically contiguous) and
 *   counts each translation in iova_translations; with no IOMMU domain
 *   the addresses are physical, as with iommu=0.  The edu device's own DMA
 *   engine is not used, and nothing loads swdma for it automatically.
 */
static bool use_iommu;
module_param_named(iommu, use_iommu, bool, 0444);
MODULE_PARM_DESC(iommu,
		 "Bind QEMU's edu PCI device and translate IOVAs through its IOMMU domain (default 0)");

/*
 * Run-time fault injection.  Countdown knobs: N > 0 makes the next N
 * operations fail and then reads 0 again, a negative value makes every
 * operation fail, 0 turns the fault off.
 */
static int fail_prep;
module_param(fail_prep, int, 0644);
MODULE_PARM_DESC(fail_prep, "Fail the next N prep calls (return NULL), -1: all");

static int fail_submit;
module_param(fail_submit, int, 0644);
MODULE_PARM_DESC(fail_submit, "Fail the next N submits (cookie -EIO), -1: all");

static int fail_transfer;
module_param(fail_transfer, int, 0644);
MODULE_PARM_DESC(fail_transfer,
		 "Fail the next N transfers after copying half, -1: all");

static int fail_result = DMA_TRANS_READ_FAILED;
module_param(fail_result, int, 0644);
MODULE_PARM_DESC(fail_result,
		 "Result of an injected transfer failure: 1 read failed (default), 2 write failed, 3 aborted");

/*
 * corrupt=N: the next N transfers write one wrong byte (the first byte of
 *   the destination, inverted) and report success, as an engine or
 *   firmware that corrupts silently: only a check of the bytes finds it.
 */
static int corrupt;
module_param(corrupt, int, 0644);
MODULE_PARM_DESC(corrupt, "Corrupt the next N transfers silently (report success), -1: all");

/*
 * How completion is reported, like the real providers:
 * null_result=1: the callback gets a NULL result, as ptdma calls it;
 *   dmaengine then hands the client DMA_TRANS_NOERROR, also after a
 *   failed transfer (fail_transfer is invisible to the client).
 * junk_residue=1: the residue of a successful transfer is not set (idxd
 *   never sets it: the client reads what its stack held), and the device
 *   says so: residue_granularity DMA_RESIDUE_GRANULARITY_DESCRIPTOR.
 */
static bool null_result;
module_param(null_result, bool, 0444);
MODULE_PARM_DESC(null_result, "Call back with a NULL result, as ptdma (errors look like success)");
static bool junk_residue;
module_param(junk_residue, bool, 0444);
MODULE_PARM_DESC(junk_residue, "Leave the residue unset (junk), granularity DESCRIPTOR, as idxd");

/* Level knobs. */
static int hang;
module_param(hang, int, 0644);
MODULE_PARM_DESC(hang,
		 "Non-zero: the engine stalls; descriptors stay pending until terminate_all or hang=0");

static unsigned int late_ms;
module_param(late_ms, uint, 0644);
MODULE_PARM_DESC(late_ms, "Complete each descriptor M ms after it was copied");

static bool out_of_order;
module_param(out_of_order, bool, 0644);
MODULE_PARM_DESC(out_of_order,
		 "Complete the descriptors of each batch in reverse cookie order");

static unsigned int delay_us;
module_param(delay_us, uint, 0644);
MODULE_PARM_DESC(delay_us, "Extra time each copy takes, in microseconds");

/*
 * Removal while clients hold channels, as real providers meet it: an
 * unbind through sysfs (unbind=1 allows it), and remove_chan=N, which
 * unregisters channel N alone and frees it at once, as idxd does when a
 * work queue is disabled. release=0: no device_release, so the device
 * and its channels are freed in remove, as ptdma's devm memory is; a
 * client still using a channel after its removal touches freed memory.
 */
static bool unbind;
module_param(unbind, bool, 0444);
MODULE_PARM_DESC(unbind, "Allow unbinding the device through sysfs (default 0)");

static bool release = true;
module_param(release, bool, 0444);
MODULE_PARM_DESC(release,
		 "Free the device once the dmaengine core releases it (default 1, as idxd, ioat); 0: in remove, as ptdma");

static int swdma_remove_chan_set(const char *val, const struct kernel_param *kp);
static const struct kernel_param_ops swdma_remove_chan_ops = {
	.set = swdma_remove_chan_set,
};
module_param_cb(remove_chan, &swdma_remove_chan_ops, NULL, 0200);
MODULE_PARM_DESC(remove_chan, "Write N: unregister channel N and free it, as idxd's work queue disable");

/*
 * mbps=N: each channel moves at most N MB/s (10^6 bytes per second), like
 *   a hardware queue of known speed: the copy itself is done at once and
 *   the descriptor completes when a channel of that speed would have
 *   finished it (after the copies queued before it).  The kworker sleeps
 *   meanwhile, so a paced channel takes no CPU time, as an engine takes
 *   none.  0: no pacing, the copy takes what the CPU copy takes.  A
 *   benchmark sets it to compare dcbm against an engine of given speed.
 */
static unsigned int mbps;
module_param(mbps, uint, 0644);
MODULE_PARM_DESC(mbps, "Per-channel speed in MB/s, 0: unpaced (default)");

/*
 * Fault target.  With fault_pid = 0 the faults above (fail_prep,
 * fail_submit, fail_transfer, hang, late_ms, delay_us) apply to every
 * descriptor; otherwise only to descriptors prepared by a task of that
 * thread group (global TGID, recorded at prep, which runs in the client's
 * context).  Other descriptors are served normally, except that a hung
 * descriptor stalls its channel: the engine runs each channel in FIFO
 * order, as hardware does.
 */
static int fault_pid;
module_param(fault_pid, int, 0644);
MODULE_PARM_DESC(fault_pid,
		 "Inject faults only into descriptors prepared by this TGID (0: every process)");

/* Global counters, read-only parameters. */
static atomic64_t swdma_copies_done = ATOMIC64_INIT(0);
static atomic64_t swdma_bytes_copied = ATOMIC64_INIT(0);
static atomic64_t swdma_errors_injected = ATOMIC64_INIT(0);
static atomic64_t swdma_failed_bytes = ATOMIC64_INIT(0);
static atomic64_t swdma_desc_live = ATOMIC64_INIT(0);
static atomic64_t swdma_max_outstanding = ATOMIC64_INIT(0);
static atomic64_t swdma_pool_waits = ATOMIC64_INIT(0);
static atomic64_t swdma_align_rejects = ATOMIC64_INIT(0);
static atomic64_t swdma_iova_translations = ATOMIC64_INIT(0);
static atomic64_t swdma_terminates = ATOMIC64_INIT(0);
static atomic64_t swdma_interrupts = ATOMIC64_INIT(0);
static atomic64_t swdma_status_deliveries = ATOMIC64_INIT(0);
static atomic64_t swdma_preps = ATOMIC64_INIT(0);
/* the engine's hand-offs: doorbell to start (idle engine), interrupt to callbacks */
static atomic64_t swdma_wake_ns = ATOMIC64_INIT(0);
static atomic64_t swdma_wakes = ATOMIC64_INIT(0);
static atomic64_t swdma_irq_ns = ATOMIC64_INIT(0);
static atomic64_t swdma_irqs_timed = ATOMIC64_INIT(0);
static atomic64_t swdma_interrupt_requests = ATOMIC64_INIT(0);

static int swdma_counter_get(char *buffer, const struct kernel_param *kp)
{
	return sysfs_emit(buffer, "%lld\n", atomic64_read(kp->arg));
}

static const struct kernel_param_ops swdma_counter_ops = {
	.get = swdma_counter_get,
};

/* A high-water mark: writing 0 resets it, other values are refused. */
static int swdma_mark_set(const char *val, const struct kernel_param *kp)
{
	u64 v;
	int ret;

	ret = kstrtou64(val, 0, &v);
	if (ret)
		return ret;
	if (v)
		return -EINVAL;
	atomic64_set(kp->arg, 0);
	return 0;
}

static const struct kernel_param_ops swdma_mark_ops = {
	.set = swdma_mark_set,
	.get = swdma_counter_get,
};

module_param_cb(copies_done, &swdma_counter_ops, &swdma_copies_done, 0444);
MODULE_PARM_DESC(copies_done, "Transfers completed successfully");
module_param_cb(bytes_copied, &swdma_counter_ops, &swdma_bytes_copied, 0444);
MODULE_PARM_DESC(bytes_copied, "Bytes copied, partial copies included");
module_param_cb(errors_injected, &swdma_counter_ops, &swdma_errors_injected,
		0444);
MODULE_PARM_DESC(errors_injected, "Prep, submit and transfer faults injected");
module_param_cb(failed_bytes, &swdma_counter_ops, &swdma_failed_bytes, 0444);
MODULE_PARM_DESC(failed_bytes,
		 "Bytes of the transfers failed by fail_transfer (their whole length)");
module_param_cb(descriptors, &swdma_counter_ops, &swdma_desc_live, 0444);
MODULE_PARM_DESC(descriptors, "Descriptors currently allocated");
module_param_cb(max_outstanding, &swdma_mark_ops, &swdma_max_outstanding,
		0644);
MODULE_PARM_DESC(max_outstanding,
		 "Most descriptors allocated at once on one channel (write 0 to reset)");
module_param_cb(pool_waits, &swdma_counter_ops, &swdma_pool_waits, 0444);
MODULE_PARM_DESC(pool_waits,
		 "Preps that found the pool full (returned NULL or slept)");
module_param_cb(align_rejects, &swdma_counter_ops, &swdma_align_rejects,
		0444);
MODULE_PARM_DESC(align_rejects, "Preps refused for copy_align");
module_param_cb(terminates, &swdma_counter_ops, &swdma_terminates, 0444);
MODULE_PARM_DESC(terminates, "device_terminate_all calls by clients (a release's own stop not counted)");
module_param_cb(preps, &swdma_counter_ops, &swdma_preps, 0444);
MODULE_PARM_DESC(preps, "Descriptors prepared");
module_param_cb(interrupt_requests, &swdma_counter_ops,
		&swdma_interrupt_requests, 0444);
MODULE_PARM_DESC(interrupt_requests,
		 "Descriptors prepared with DMA_PREP_INTERRUPT");
module_param_cb(wake_ns, &swdma_counter_ops, &swdma_wake_ns, 0444);
MODULE_PARM_DESC(wake_ns,
		 "Time from a doorbell on an idle engine to its work starting, summed (over wakes)");
module_param_cb(wakes, &swdma_counter_ops, &swdma_wakes, 0444);
MODULE_PARM_DESC(wakes, "Doorbells that woke an idle engine");
module_param_cb(irq_ns, &swdma_counter_ops, &swdma_irq_ns, 0444);
MODULE_PARM_DESC(irq_ns,
		 "Time from an interrupt raised to its callbacks starting, summed (over irqs_timed)");
module_param_cb(irqs_timed, &swdma_counter_ops, &swdma_irqs_timed, 0444);
MODULE_PARM_DESC(irqs_timed,
		 "Interrupt deliveries timed (raises while one is pending count once)");
module_param_cb(interrupts, &swdma_counter_ops, &swdma_interrupts, 0444);
MODULE_PARM_DESC(interrupts,
		 "Completion interrupts raised (each runs the callbacks of every descriptor completed by then; cleanups are status_deliveries)");
module_param_cb(status_deliveries, &swdma_counter_ops,
		&swdma_status_deliveries, 0444);
MODULE_PARM_DESC(status_deliveries,
		 "Cleanups without an interrupt (a status read, a full pool, as ioatdma's) that delivered completed descriptors' callbacks");
module_param_cb(iova_translations, &swdma_counter_ops,
		&swdma_iova_translations, 0444);
MODULE_PARM_DESC(iova_translations,
		 "IOVA pages translated through the IOMMU (iommu=1)");

enum swdma_desc_state {
	SWDMA_ALLOCATED,	/* prepared, not submitted (or idle reusable) */
	SWDMA_SUBMITTED,	/* cookie assigned, waiting for issue_pending */
	SWDMA_ISSUED,		/* waiting for the engine */
	SWDMA_ACTIVE,		/* taken by the engine (current batch) */
	SWDMA_COMPLETED,	/* done, callback not yet delivered */
	SWDMA_TERMINATED,	/* aborted, freed by device_synchronize */
	SWDMA_UNACKED,		/* done, waiting for the client's ack */
};

struct swdma_desc {
	struct dma_async_tx_descriptor tx;
	struct dmaengine_result res;
	struct list_head node;		/* protected by swdma_chan.lock */
	enum swdma_desc_state state;	/* protected by swdma_chan.lock */
	dma_addr_t dst;
	dma_addr_t src;
	size_t len;
	size_t done;			/* bytes copied, for the residue */
	bool copied;			/* engine finished with it */
	bool corrupt;			/* write one wrong byte (corrupt=N) */
	pid_t tgid;			/* thread group that prepared it */
	ktime_t issued;			/* when issue_pending gave it the engine */
};

struct swdma_chan {
	struct dma_chan chan;
	struct swdma_dev *sd;
	spinlock_t lock;		/* protects the lists, gen, failed, stats */
	/* lists of struct swdma_desc, protected by lock */
	struct list_head allocated;
	struct list_head submitted;
	struct list_head issued;
	struct list_head active;
	struct list_head completed;
	struct list_head terminated;
	struct list_head unacked;
	/* bumped by terminate_all, tells the engine to drop its batch */
	unsigned int gen;
	dma_cookie_t failed[SWDMA_ERR_RING];
	unsigned int failed_next;
	struct work_struct work;
	/*
	 * The engine is running: its work drains the issued list and clears
	 * this, under lock, only when it finds the list empty.  A doorbell
	 * (issue_pending) while it runs adds to the list and nothing more,
	 * as a running hardware engine reads new ring entries on its own.
	 */
	bool running;
	ktime_t woken_at;		/* when the idle engine was rung */
	bool raised;			/* an interrupt is pending, since: */
	ktime_t raised_at;
	struct tasklet_struct task;
	wait_queue_head_t wait;
	/* descriptors allocated, and preps waiting for one to be freed */
	atomic_t nr_desc;
	wait_queue_head_t pool_wait;
	/* preps sleeping for a slot: each completion frees one (cleanup) */
	atomic_t slot_waiters;
	/* mbps pacing: when this channel finishes what it was given (engine) */
	ktime_t busy_until;
	/* statistics, protected by lock */
	u64 copies;
	u64 bytes;
	u64 errors;
};

struct swdma_dev {
	struct dma_device dd;
	struct device *dev;
	unsigned int nr;
	/* NULL once removed (remove_chan); protected by swdma_lock */
	struct swdma_chan *chans[] __counted_by(nr);
};

/* swdma_bound and each bound device's chans[] */
static DEFINE_MUTEX(swdma_lock);

static struct workqueue_struct *swdma_wq;
static struct platform_device *swdma_pdev;
static struct dentry *swdma_debugfs;
/* the one bound device (an edu device may be one of several) */
static struct swdma_dev *swdma_bound;

static struct swdma_chan *to_swdma_chan(struct dma_chan *chan)
{
	return container_of(chan, struct swdma_chan, chan);
}

static struct swdma_desc *to_swdma_desc(struct dma_async_tx_descriptor *tx)
{
	return container_of(tx, struct swdma_desc, tx);
}

/* Consume one fault from a countdown knob, see above. */
static bool swdma_inject(int *knob)
{
	int old, val = READ_ONCE(*knob);

	for (;;) {
		if (!val)
			return false;
		if (val < 0)
			break;
		old = cmpxchg(knob, val, val - 1);
		if (old == val)
			break;
		val = old;
	}
	atomic64_inc(&swdma_errors_injected);
	return true;
}

/* Whether the faults apply to a descriptor prepared by @tgid. */
static bool swdma_targeted(pid_t tgid)
{
	int pid = READ_ONCE(fault_pid);

	return !pid || pid == tgid;
}

static bool swdma_terminated(struct swdma_chan *sc, unsigned int gen)
{
	return READ_ONCE(sc->gen) != gen;
}

/* Take a pool slot for a new descriptor; false when the pool is full. */
static bool swdma_slot_get(struct swdma_chan *sc)
{
	int n = atomic_read(&sc->nr_desc);
	s64 mark;

	do {
		if (pool && (unsigned int)n >= pool)
			return false;
	} while (!atomic_try_cmpxchg(&sc->nr_desc, &n, n + 1));

	atomic64_inc(&swdma_desc_live);
	mark = atomic64_read(&swdma_max_outstanding);
	while (n + 1 > mark &&
	       !atomic64_try_cmpxchg(&swdma_max_outstanding, &mark, n + 1))
		;
	return true;
}

static void swdma_slot_put(struct swdma_chan *sc)
{
	atomic_dec(&sc->nr_desc);
	atomic64_dec(&swdma_desc_live);
	if (pool)
		wake_up(&sc->pool_wait);
}

static void swdma_desc_free(struct swdma_chan *sc, struct swdma_desc *d)
{
	kfree(d);
	swdma_slot_put(sc);
}

/*
 * Free a descriptor the engine is done with, unless the client may still
 * use it: reusable descriptors go back to the allocated list, descriptors
 * the client has not acked (async_tx_ack()) wait on the unacked list and
 * are reaped by the next prep or by free_chan_resources.
 */
static void swdma_desc_put(struct swdma_chan *sc, struct swdma_desc *d)
{
	unsigned long flags;
	bool release = false;

	spin_lock_irqsave(&sc->lock, flags);
	if (dmaengine_desc_test_reuse(&d->tx)) {
		d->state = SWDMA_ALLOCATED;
		list_add_tail(&d->node, &sc->allocated);
	} else if (!async_tx_test_ack(&d->tx)) {
		d->state = SWDMA_UNACKED;
		list_add_tail(&d->node, &sc->unacked);
	} else {
		release = true;
	}
	spin_unlock_irqrestore(&sc->lock, flags);

	if (release)
		swdma_desc_free(sc, d);
}

static void swdma_free_list(struct swdma_chan *sc, struct list_head *head)
{
	struct swdma_desc *d, *n;

	list_for_each_entry_safe(d, n, head, node) {
		list_del(&d->node);
		swdma_desc_free(sc, d);
	}
}

/* Free the descriptors the client has acked since their completion. */
static void swdma_reap_acked(struct swdma_chan *sc)
{
	struct swdma_desc *d, *n;
	unsigned long flags;
	LIST_HEAD(head);

	spin_lock_irqsave(&sc->lock, flags);
	list_for_each_entry_safe(d, n, &sc->unacked, node)
		if (async_tx_test_ack(&d->tx))
			list_move_tail(&d->node, &head);
	spin_unlock_irqrestore(&sc->lock, flags);

	swdma_free_list(sc, &head);
}

/*
 * Whether a descriptor prepared without DMA_PREP_INTERRUPT is called back
 * at a later interrupt (or a status read), as ioatdma's cleanup does; as
 * idxd (and any other name posed as), it is never called back.
 */
static bool swdma_late_callbacks(void)
{
	return !strcmp(driver, SWDMA_NAME) || !strcmp(driver, "ioatdma");
}

/*
 * Completion "interrupt", raised by a descriptor that asked for one (or a
 * status read): delivers the callbacks of every descriptor completed so
 * far, never under sc->lock.
 */
static void swdma_tasklet(struct tasklet_struct *t)
{
	struct swdma_chan *sc = from_tasklet(sc, t, task);
	bool late = swdma_late_callbacks();
	struct dmaengine_desc_callback cb;
	struct swdma_desc *d, *n;
	ktime_t raised_at = 0;
	bool raised;
	LIST_HEAD(head);

	spin_lock_irq(&sc->lock);
	list_splice_tail_init(&sc->completed, &head);
	raised = sc->raised;
	if (raised)
		raised_at = sc->raised_at;
	sc->raised = false;
	spin_unlock_irq(&sc->lock);
	if (raised) {
		atomic64_add(ktime_to_ns(ktime_sub(ktime_get(), raised_at)),
			     &swdma_irq_ns);
		atomic64_inc(&swdma_irqs_timed);
	}

	list_for_each_entry_safe(d, n, &head, node) {
		list_del(&d->node);
		if (late || (d->tx.flags & DMA_PREP_INTERRUPT)) {
			dmaengine_desc_get_callback(&d->tx, &cb);
			dmaengine_desc_callback_invoke(&cb, null_result ? NULL : &d->res);
		}
		swdma_desc_put(sc, d);
	}
}

/* A cleanup delivers the callbacks due, without an interrupt. */
static void swdma_deliver(struct swdma_chan *sc)
{
	atomic64_inc(&swdma_status_deliveries);
	tasklet_schedule(&sc->task);
}

/* The engine raises its completion interrupt. */
static void swdma_interrupt(struct swdma_chan *sc)
{
	lockdep_assert_held(&sc->lock);
	if (!sc->raised) {
		sc->raised = true;
		sc->raised_at = ktime_get();
	}
	atomic64_inc(&swdma_interrupts);
	tasklet_schedule(&sc->task);
}

/*
 * Mark a descriptor complete, its callback due at the next interrupt: its
 * own if it asked for one.  Completions may come out of cookie order
 * (out_of_order, where @may_interrupt is false: the caller raises the
 * interrupt once the whole batch is complete), so completed_cookie only moves forward; tx_status checks the
 * active list for older cookies still pending.  Called with sc->lock held.
 */
static void swdma_complete(struct swdma_chan *sc, struct swdma_desc *d,
			   bool may_interrupt)
{
	struct dma_chan *chan = &sc->chan;
	dma_cookie_t cookie = d->tx.cookie;

	lockdep_assert_held(&sc->lock);

	if (dma_async_is_complete(cookie, chan->completed_cookie,
				  chan->cookie) == DMA_IN_PROGRESS)
		chan->completed_cookie = cookie;
	d->tx.cookie = 0;

	if (d->res.result == DMA_TRANS_NOERROR) {
		sc->copies++;
		atomic64_inc(&swdma_copies_done);
	} else {
		sc->errors++;
		sc->failed[sc->failed_next] = cookie;
		sc->failed_next = (sc->failed_next + 1) % SWDMA_ERR_RING;
	}

	d->state = SWDMA_COMPLETED;
	list_move_tail(&d->node, &sc->completed);
	if (!may_interrupt)
		return;
	if (d->tx.flags & DMA_PREP_INTERRUPT)
		swdma_interrupt(sc);
	else if (atomic_read(&sc->slot_waiters))
		swdma_deliver(sc);	/* a prep waits: as ioatdma's full ring */
}

/*
 * Cleanup without an interrupt, as ioatdma's on a status read or a full
 * ring: the callbacks of the descriptors completed so far run (and free
 * their slots) now.
 */
static void swdma_cleanup(struct swdma_chan *sc)
{
	unsigned long flags;
	bool due;

	if (!swdma_late_callbacks())
		return;
	spin_lock_irqsave(&sc->lock, flags);
	due = !list_empty(&sc->completed);
	spin_unlock_irqrestore(&sc->lock, flags);
	if (due)
		swdma_deliver(sc);
}

/* Sleep up to @ms, or less if the batch is terminated; false if it was. */
static bool swdma_wait(struct swdma_chan *sc, unsigned int gen,
		       unsigned int ms)
{
	wait_event_timeout(sc->wait, swdma_terminated(sc, gen),
			   msecs_to_jiffies(ms));
	return !swdma_terminated(sc, gen);
}

/*
 * The physical address behind @addr: the IOMMU's translation of an IOVA
 * with a @domain (0 when nothing is mapped there), else @addr itself.
 */
static phys_addr_t swdma_phys(struct iommu_domain *domain, dma_addr_t addr)
{
	if (!domain)
		return dma_addr_canonical(addr);
	atomic64_inc(&swdma_iova_translations);
	return iommu_iova_to_phys(domain, addr);
}

/*
 * Copy @len bytes of @d page by page through temporary mappings, so any
 * page works, highmem included; behind an IOMMU each IOVA page is
 * translated on its own.  Returns DMA_TRANS_NOERROR, an error when an
 * address is not mapped or not backed by memory, or DMA_TRANS_ABORTED when
 * terminated.
 */
static enum dmaengine_tx_result swdma_copy(struct swdma_chan *sc,
					   struct swdma_desc *d, size_t len,
					   unsigned int gen)
{
	struct iommu_domain *domain = NULL;
	unsigned int pages = 0;
	size_t done = 0;

	if (use_iommu)
		domain = iommu_get_domain_for_dev(sc->sd->dev);

	while (done < len) {
		dma_addr_t si = d->src + done, ti = d->dst + done;
		phys_addr_t s = swdma_phys(domain, si);
		phys_addr_t t = swdma_phys(domain, ti);
		size_t soff = offset_in_page(s), toff = offset_in_page(t);
		size_t chunk = min3(len - done, PAGE_SIZE - soff,
				    PAGE_SIZE - toff);
		void *vs, *vt;

		/* an IOMMU page may be smaller than a CPU page */
		chunk = min3(chunk, PAGE_SIZE - offset_in_page(si),
			     PAGE_SIZE - offset_in_page(ti));

		if ((domain && !s) || !pfn_valid(PHYS_PFN(s))) {
			dev_err_ratelimited(sc->sd->dev,
					    "%s: source %pad (%pa) is not memory\n",
					    dma_chan_name(&sc->chan), &si, &s);
			return DMA_TRANS_READ_FAILED;
		}
		if ((domain && !t) || !pfn_valid(PHYS_PFN(t))) {
			dev_err_ratelimited(sc->sd->dev,
					    "%s: destination %pad (%pa) is not memory\n",
					    dma_chan_name(&sc->chan), &ti, &t);
			return DMA_TRANS_WRITE_FAILED;
		}

		vs = kmap_local_page(pfn_to_page(PHYS_PFN(s)));
		vt = kmap_local_page(pfn_to_page(PHYS_PFN(t)));
		/*
		 * copy_page() for a whole page, as the kernel's own page copies
		 * do: a memcpy() of unknown length can be a "rep movsb" (-Os
		 * inlines it so), which QEMU's TCG runs a byte per step.
		 */
		if (chunk == PAGE_SIZE) {
			/*
			 * copy_page() is not instrumented: KASAN must still see
			 * the engine touch a page the client no longer owns.
			 */
			instrument_memcpy_before(vt, vs, PAGE_SIZE);
			copy_page(vt, vs);
			instrument_memcpy_after(vt, vs, PAGE_SIZE, 0);
		} else {
			memcpy(vt + toff, vs + soff, chunk);
		}
		if (d->corrupt && !done)
			((u8 *)vt)[toff] ^= 0xff;
		kunmap_local(vt);
		kunmap_local(vs);

		done += chunk;
		WRITE_ONCE(d->done, done);
		atomic64_add(chunk, &swdma_bytes_copied);

		if (++pages % SWDMA_RESCHED_PAGES == 0) {
			cond_resched();
			if (swdma_terminated(sc, gen))
				return DMA_TRANS_ABORTED;
		}
	}
	return DMA_TRANS_NOERROR;
}

/*
 * mbps pacing of @d, whose @len bytes were just copied: a channel of that
 * speed starts it when it is both issued and done with the copies before
 * it (so the time a sleep overshoots is not lost to the next copy), and
 * the descriptor completes when the channel would have finished it.
 * Sleeps (interrupted by terminate_all) unless less than
 * SWDMA_PACE_SLACK_US is left: a descriptor may complete that much early.
 * Returns false when the batch was terminated meanwhile.
 */
static bool swdma_pace(struct swdma_chan *sc, struct swdma_desc *d,
		       size_t len, unsigned int gen)
{
	unsigned int rate = READ_ONCE(mbps);
	ktime_t left;

	if (!rate)
		return true;
	/* len bytes at rate MB/s take len * 1000 / rate ns */
	sc->busy_until = ktime_add_ns(ktime_after(sc->busy_until, d->issued) ?
				      sc->busy_until : d->issued,
				      div_u64((u64)len * NSEC_PER_USEC, rate));
	left = ktime_sub(sc->busy_until, ktime_get());
	if (ktime_to_us(left) < SWDMA_PACE_SLACK_US)
		return true;
	wait_event_hrtimeout(sc->wait, swdma_terminated(sc, gen), left);
	return !swdma_terminated(sc, gen);
}

/* Run one descriptor; false if the batch was terminated meanwhile. */
static bool swdma_run_desc(struct swdma_chan *sc, struct swdma_desc *d,
			   unsigned int gen)
{
	enum dmaengine_tx_result result;
	unsigned int us, ms;
	size_t len = d->len;
	bool fail, target;

	while (READ_ONCE(hang) && swdma_targeted(d->tgid)) {
		if (!swdma_wait(sc, gen, SWDMA_HANG_POLL_MS))
			return false;
	}

	target = swdma_targeted(d->tgid);
	fail = target && swdma_inject(&fail_transfer);
	if (fail) {
		atomic64_add(len, &swdma_failed_bytes);
		len /= 2;
	}

	d->corrupt = target && !fail && swdma_inject(&corrupt);
	result = swdma_copy(sc, d, len, gen);
	if (result == DMA_TRANS_ABORTED || !swdma_pace(sc, d, len, gen))
		return false;
	if (result == DMA_TRANS_NOERROR && fail) {
		int kind = READ_ONCE(fail_result);

		if (kind < DMA_TRANS_READ_FAILED || kind > DMA_TRANS_ABORTED)
			kind = DMA_TRANS_READ_FAILED;
		result = kind;
	}

	us = target ? READ_ONCE(delay_us) : 0;
	if (us) {
		if (us >= 20000) {
			if (!swdma_wait(sc, gen, DIV_ROUND_UP(us, 1000)))
				return false;
		} else {
			fsleep(us);
		}
	}

	ms = target ? READ_ONCE(late_ms) : 0;
	if (ms && !swdma_wait(sc, gen, ms))
		return false;

	d->res.result = result;
	d->res.residue = d->len - READ_ONCE(d->done);
	if (junk_residue && result == DMA_TRANS_NOERROR)
		d->res.residue = 0x5a5a5a5a;	/* what a stack may hold */
	return !swdma_terminated(sc, gen);
}

/*
 * The interrupt arrives.  A hardware engine's interrupt runs its handler,
 * and the tasklet that schedules, on the CPU it lands on, at once.  The
 * tasklet swdma_interrupt() schedules from the engine's worker would wait
 * for ksoftirqd, a thread that runs only once the worker sleeps: 0.1-0.3
 * ms a batch under TCG (the bench's "engine irq"), a hand-off no hardware
 * makes.  So the worker runs the softirqs pending itself, with sc->lock
 * dropped, before its next descriptor and when it stops.
 */
static void swdma_take_interrupts(void)
{
	local_bh_disable();
	local_bh_enable();
}

/*
 * The engine: takes one descriptor at a time (or, with out_of_order, every
 * issued descriptor as one batch), copies and completes it.  Returns false
 * when nothing is left to do.
 */
static bool swdma_run_batch(struct swdma_chan *sc)
{
	struct swdma_desc *d, *first;
	unsigned long flags;
	unsigned int gen;
	bool reverse;

	spin_lock_irqsave(&sc->lock, flags);
	first = list_first_entry_or_null(&sc->issued, struct swdma_desc, node);
	if (!first) {
		sc->running = false;
		spin_unlock_irqrestore(&sc->lock, flags);
		return false;
	}
	gen = sc->gen;
	reverse = READ_ONCE(out_of_order);
	if (reverse)
		list_splice_tail_init(&sc->issued, &sc->active);
	else
		list_move_tail(&first->node, &sc->active);
	list_for_each_entry(d, &sc->active, node)
		d->state = SWDMA_ACTIVE;

	for (;;) {
		struct swdma_desc *next = NULL;

		list_for_each_entry(d, &sc->active, node) {
			if (!d->copied) {
				next = d;
				break;
			}
		}
		if (!next)
			break;
		spin_unlock_irqrestore(&sc->lock, flags);
		swdma_take_interrupts();

		/*
		 * Unlocked: terminate_all may move @next to the terminated
		 * list, but only device_synchronize frees it, after flushing
		 * this work.
		 */
		if (!swdma_run_desc(sc, next, gen))
			return true;

		spin_lock_irqsave(&sc->lock, flags);
		if (sc->gen != gen)
			goto out;
		sc->bytes += next->len - next->res.residue;
		next->copied = true;
		if (!reverse)
			swdma_complete(sc, next, true);
	}

	/* out_of_order: complete the batch newest first, then interrupt */
	while (!list_empty(&sc->active)) {
		swdma_complete(sc, list_last_entry(&sc->active,
						   struct swdma_desc, node),
			       false);
		spin_unlock_irqrestore(&sc->lock, flags);
		spin_lock_irqsave(&sc->lock, flags);
		if (sc->gen != gen)
			break;
	}
	if (reverse && !list_empty(&sc->completed))
		swdma_interrupt(sc);
out:
	spin_unlock_irqrestore(&sc->lock, flags);
	swdma_take_interrupts();
	return true;
}

static void swdma_work(struct work_struct *work)
{
	struct swdma_chan *sc = container_of(work, struct swdma_chan, work);
	unsigned long flags;
	ktime_t woken;

	spin_lock_irqsave(&sc->lock, flags);
	woken = sc->woken_at;
	spin_unlock_irqrestore(&sc->lock, flags);
	atomic64_add(ktime_to_ns(ktime_sub(ktime_get(), woken)), &swdma_wake_ns);
	atomic64_inc(&swdma_wakes);

	while (swdma_run_batch(sc))
		cond_resched();
}

static void swdma_issue_pending(struct dma_chan *chan);

static dma_cookie_t swdma_tx_submit(struct dma_async_tx_descriptor *tx)
{
	struct swdma_chan *sc = to_swdma_chan(tx->chan);
	struct swdma_desc *d = to_swdma_desc(tx);
	unsigned long flags;
	dma_cookie_t cookie;

	if (swdma_targeted(d->tgid) && swdma_inject(&fail_submit)) {
		/*
		 * The client cannot submit this descriptor again: once acked,
		 * the next prep reaps it, like a completed one.
		 */
		spin_lock_irqsave(&sc->lock, flags);
		if (d->state == SWDMA_ALLOCATED &&
		    !dmaengine_desc_test_reuse(tx)) {
			d->state = SWDMA_UNACKED;
			list_move_tail(&d->node, &sc->unacked);
		}
		spin_unlock_irqrestore(&sc->lock, flags);
		return -EIO;
	}

	spin_lock_irqsave(&sc->lock, flags);
	if (d->state != SWDMA_ALLOCATED) {
		spin_unlock_irqrestore(&sc->lock, flags);
		dev_warn_ratelimited(sc->sd->dev,
				     "%s: descriptor submitted twice\n",
				     dma_chan_name(&sc->chan));
		return -EBUSY;
	}
	cookie = dma_cookie_assign(tx);
	d->res.result = DMA_TRANS_NOERROR;
	d->res.residue = 0;
	d->done = 0;
	d->copied = false;
	d->state = SWDMA_SUBMITTED;
	list_move_tail(&d->node, &sc->submitted);
	spin_unlock_irqrestore(&sc->lock, flags);

	/*
	 * A blocking pool models idxd, whose submit writes the descriptor to
	 * the device's portal at once (its issue_pending does nothing): a
	 * client that submits more than the pool holds before issuing would
	 * otherwise sleep in prep for a slot that never frees.  Not through
	 * @tx: once the lock is dropped, a terminate_all of another client of
	 * the channel may complete and free the descriptor.
	 */
	if (pool && pool_block)
		swdma_issue_pending(&sc->chan);

	return cookie;
}

/* dmaengine_desc_free() of a reusable descriptor */
static int swdma_tx_desc_free(struct dma_async_tx_descriptor *tx)
{
	struct swdma_chan *sc = to_swdma_chan(tx->chan);
	struct swdma_desc *d = to_swdma_desc(tx);
	unsigned long flags;

	spin_lock_irqsave(&sc->lock, flags);
	if (d->state != SWDMA_ALLOCATED) {
		spin_unlock_irqrestore(&sc->lock, flags);
		return -EBUSY;
	}
	list_del(&d->node);
	spin_unlock_irqrestore(&sc->lock, flags);

	swdma_desc_free(sc, d);
	return 0;
}

/*
 * Wait for a pool slot.  Acks do not call the driver, so descriptors the
 * client acks while we sleep are reaped on a poll.  Returns 0 with the slot
 * taken, or -ERESTARTSYS on a signal.
 */
static int swdma_slot_wait(struct swdma_chan *sc)
{
	long ret;

	atomic_inc(&sc->slot_waiters);
	swdma_cleanup(sc);
	for (;;) {
		ret = wait_event_interruptible_timeout(sc->pool_wait,
						       swdma_slot_get(sc),
				msecs_to_jiffies(SWDMA_POOL_POLL_MS));
		if (ret)
			break;
		swdma_reap_acked(sc);
		swdma_cleanup(sc);
	}
	atomic_dec(&sc->slot_waiters);
	return ret < 0 ? ret : 0;
}

static struct dma_async_tx_descriptor *
swdma_prep_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		  size_t len, unsigned long flags)
{
	struct swdma_chan *sc = to_swdma_chan(chan);
	unsigned long irqflags;
	pid_t tgid = task_tgid_nr(current);
	struct swdma_desc *d;

	unsigned long mx = READ_ONCE(max_xfer);

	if (pool && pool_block)
		might_sleep();

	if (swdma_targeted(tgid) && swdma_inject(&fail_prep))
		return NULL;
	if (mx && len > mx)
		return NULL;
	if (!is_dma_copy_aligned(chan->device, src, dst, len)) {
		atomic64_inc(&swdma_align_rejects);
		return NULL;
	}

	swdma_reap_acked(sc);

	if (!swdma_slot_get(sc)) {
		atomic64_inc(&swdma_pool_waits);
		/* a full ring makes ioatdma clean up (its timer event) */
		swdma_cleanup(sc);
		if (!pool_block || swdma_slot_wait(sc))
			return NULL;
	}

	d = kzalloc_obj(*d, GFP_NOWAIT);
	if (!d) {
		swdma_slot_put(sc);
		return NULL;
	}

	dma_async_tx_descriptor_init(&d->tx, chan);
	d->tx.flags = flags;
	atomic64_inc(&swdma_preps);
	if (flags & DMA_PREP_INTERRUPT)
		atomic64_inc(&swdma_interrupt_requests);
	d->tx.tx_submit = swdma_tx_submit;
	d->tx.desc_free = swdma_tx_desc_free;
	d->dst = dst;
	d->src = src;
	d->len = len;
	d->tgid = tgid;
	d->state = SWDMA_ALLOCATED;

	spin_lock_irqsave(&sc->lock, irqflags);
	list_add_tail(&d->node, &sc->allocated);
	spin_unlock_irqrestore(&sc->lock, irqflags);

	return &d->tx;
}

static void swdma_issue_pending(struct dma_chan *chan)
{
	struct swdma_chan *sc = to_swdma_chan(chan);
	unsigned long flags;
	struct swdma_desc *d;

	spin_lock_irqsave(&sc->lock, flags);
	if (!list_empty(&sc->submitted)) {
		ktime_t now = ktime_get();

		list_for_each_entry(d, &sc->submitted, node) {
			d->state = SWDMA_ISSUED;
			d->issued = now;
		}
		list_splice_tail_init(&sc->submitted, &sc->issued);
		if (!sc->running) {
			sc->running = true;
			sc->woken_at = now;
			queue_work(swdma_wq, &sc->work);
		}
	}
	spin_unlock_irqrestore(&sc->lock, flags);
}

/* Find a not yet completed descriptor by cookie.  Called with sc->lock. */
static struct swdma_desc *swdma_find(struct swdma_chan *sc,
				     dma_cookie_t cookie)
{
	struct list_head *lists[] = { &sc->active, &sc->issued,
				      &sc->submitted };
	struct swdma_desc *d;
	int i;

	for (i = 0; i < ARRAY_SIZE(lists); i++)
		list_for_each_entry(d, lists[i], node)
			if (d->tx.cookie == cookie)
				return d;
	return NULL;
}

static enum dma_status swdma_tx_status(struct dma_chan *chan,
				       dma_cookie_t cookie,
				       struct dma_tx_state *state)
{
	struct swdma_chan *sc = to_swdma_chan(chan);
	enum dma_status ret;
	unsigned long flags;
	struct swdma_desc *d;
	int i;

	ret = dma_cookie_status(chan, cookie, state);

	swdma_cleanup(sc);
	spin_lock_irqsave(&sc->lock, flags);
	if (ret == DMA_COMPLETE) {
		/* an older cookie of an out-of-order batch may be pending */
		d = list_empty(&sc->active) ? NULL : swdma_find(sc, cookie);
		if (d) {
			ret = DMA_IN_PROGRESS;
			dma_set_residue(state, d->len - READ_ONCE(d->done));
		} else {
			for (i = 0; i < SWDMA_ERR_RING; i++)
				if (sc->failed[i] == cookie)
					ret = DMA_ERROR;
		}
	} else if (state) {
		d = swdma_find(sc, cookie);
		if (d)
			dma_set_residue(state, d->len - READ_ONCE(d->done));
	}
	spin_unlock_irqrestore(&sc->lock, flags);

	return ret;
}

/* Stops the channel: its descriptors move to the terminated list. */
static void swdma_stop(struct dma_chan *chan)
{
	struct swdma_chan *sc = to_swdma_chan(chan);
	unsigned long flags;
	struct swdma_desc *d;

	spin_lock_irqsave(&sc->lock, flags);
	WRITE_ONCE(sc->gen, sc->gen + 1);
	list_splice_tail_init(&sc->submitted, &sc->terminated);
	list_splice_tail_init(&sc->issued, &sc->terminated);
	list_splice_tail_init(&sc->active, &sc->terminated);
	list_splice_tail_init(&sc->completed, &sc->terminated);
	list_for_each_entry(d, &sc->terminated, node)
		d->state = SWDMA_TERMINATED;
	spin_unlock_irqrestore(&sc->lock, flags);

	wake_up_all(&sc->wait);
}

/* Waits for a stopped channel's work and frees what it terminated. */
static void swdma_stop_sync(struct dma_chan *chan)
{
	struct swdma_chan *sc = to_swdma_chan(chan);
	struct swdma_desc *d, *n;
	unsigned long flags;
	LIST_HEAD(head);

	flush_work(&sc->work);
	tasklet_kill(&sc->task);

	spin_lock_irqsave(&sc->lock, flags);
	list_splice_tail_init(&sc->terminated, &head);
	spin_unlock_irqrestore(&sc->lock, flags);

	list_for_each_entry_safe(d, n, &head, node) {
		list_del(&d->node);
		swdma_desc_put(sc, d);
	}
}

static int swdma_terminate_all(struct dma_chan *chan)
{
	atomic64_inc(&swdma_terminates);
	if (terminate_stops)
		swdma_stop(chan);
	return 0;
}

static void swdma_synchronize(struct dma_chan *chan)
{
	if (terminate_stops)
		swdma_stop_sync(chan);
}

static int swdma_alloc_chan_resources(struct dma_chan *chan)
{
	struct swdma_chan *sc = to_swdma_chan(chan);
	unsigned long flags;

	spin_lock_irqsave(&sc->lock, flags);
	dma_cookie_init(chan);
	memset(sc->failed, 0, sizeof(sc->failed));
	spin_unlock_irqrestore(&sc->lock, flags);
	return 0;
}

static void swdma_free_chan_resources(struct dma_chan *chan)
{
	struct swdma_chan *sc = to_swdma_chan(chan);
	unsigned long flags;
	LIST_HEAD(head);

	swdma_stop(chan);
	swdma_stop_sync(chan);

	spin_lock_irqsave(&sc->lock, flags);
	list_splice_tail_init(&sc->allocated, &head);
	list_splice_tail_init(&sc->unacked, &head);
	spin_unlock_irqrestore(&sc->lock, flags);

	swdma_free_list(sc, &head);
}

/* The engine's own work on @sc stops, then its memory goes. */
static void swdma_chan_free(struct swdma_chan *sc)
{
	swdma_stop(&sc->chan);
	swdma_stop_sync(&sc->chan);
	kfree(sc);
}

static void swdma_free(struct swdma_dev *sd)
{
	unsigned int i;

	for (i = 0; i < sd->nr; i++)
		if (sd->chans[i])
			swdma_chan_free(sd->chans[i]);
	kfree(sd);
}

static void swdma_release(struct dma_device *dd)
{
	swdma_free(container_of(dd, struct swdma_dev, dd));
}

static int swdma_stats_show(struct seq_file *s, void *unused)
{
	struct swdma_dev *sd = s->private;
	unsigned long flags;
	unsigned int i;

	seq_printf(s, "copies_done %lld\nbytes_copied %lld\nerrors_injected %lld\ndescriptors %lld\n",
		   atomic64_read(&swdma_copies_done),
		   atomic64_read(&swdma_bytes_copied),
		   atomic64_read(&swdma_errors_injected),
		   atomic64_read(&swdma_desc_live));
	seq_printf(s, "max_outstanding %lld\npool_waits %lld\nalign_rejects %lld\n",
		   atomic64_read(&swdma_max_outstanding),
		   atomic64_read(&swdma_pool_waits),
		   atomic64_read(&swdma_align_rejects));
	mutex_lock(&swdma_lock);
	for (i = 0; i < sd->nr; i++) {
		struct swdma_chan *sc = sd->chans[i];

		if (!sc)
			continue;
		spin_lock_irqsave(&sc->lock, flags);
		seq_printf(s, "%s: copies %llu bytes %llu errors %llu descriptors %d cookie %d completed %d busy %d queued %zu\n",
			   dma_chan_name(&sc->chan), sc->copies, sc->bytes,
			   sc->errors, atomic_read(&sc->nr_desc),
			   sc->chan.cookie,
			   sc->chan.completed_cookie,
			   !list_empty(&sc->active) || !list_empty(&sc->issued),
			   list_count_nodes(&sc->submitted) +
			   list_count_nodes(&sc->issued) +
			   list_count_nodes(&sc->active));
		spin_unlock_irqrestore(&sc->lock, flags);
	}
	mutex_unlock(&swdma_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(swdma_stats);

static void swdma_chan_init(struct swdma_dev *sd, struct swdma_chan *sc)
{
	sc->sd = sd;
	spin_lock_init(&sc->lock);
	INIT_LIST_HEAD(&sc->allocated);
	INIT_LIST_HEAD(&sc->submitted);
	INIT_LIST_HEAD(&sc->issued);
	INIT_LIST_HEAD(&sc->active);
	INIT_LIST_HEAD(&sc->completed);
	INIT_LIST_HEAD(&sc->terminated);
	INIT_LIST_HEAD(&sc->unacked);
	INIT_WORK(&sc->work, swdma_work);
	tasklet_setup(&sc->task, swdma_tasklet);
	init_waitqueue_head(&sc->wait);
	atomic_set(&sc->nr_desc, 0);
	atomic_set(&sc->slot_waiters, 0);
	init_waitqueue_head(&sc->pool_wait);
	sc->chan.device = &sd->dd;
	dma_cookie_init(&sc->chan);
	list_add_tail(&sc->chan.device_node, &sd->dd.channels);
}

/* Register the engine on @dev, its DMA device. */
static int swdma_setup(struct device *dev)
{
	struct dma_device *dd;
	struct swdma_dev *sd;
	unsigned int i;
	int ret;

	if (swdma_bound)
		return -EBUSY;

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	dma_set_max_seg_size(dev, max_seg ? max_seg : UINT_MAX);
	if (dev->dma_range_map || (!use_iommu && device_iommu_mapped(dev))) {
		dev_err(dev, "DMA addresses are not physical addresses\n");
		return -ENODEV;
	}

	/*
	 * freed by swdma_release() once the dmaengine core drops it, or in
	 * remove with release=0
	 */
	sd = kzalloc_flex(*sd, chans, channels);
	if (!sd)
		return -ENOMEM;
	sd->nr = channels;
	sd->dev = dev;
	for (i = 0; i < sd->nr; i++) {
		sd->chans[i] = kzalloc(sizeof(*sd->chans[i]), GFP_KERNEL);
		if (!sd->chans[i]) {
			while (i--)
				kfree(sd->chans[i]);
			kfree(sd);
			return -ENOMEM;
		}
	}

	dd = &sd->dd;
	dd->dev = dev;
	INIT_LIST_HEAD(&dd->channels);
	dma_cap_set(DMA_MEMCPY, dd->cap_mask);
	if (private)
		dma_cap_set(DMA_PRIVATE, dd->cap_mask);
	dd->copy_align = copy_align;
	dd->directions = BIT(DMA_MEM_TO_MEM);
	dd->residue_granularity = junk_residue ? DMA_RESIDUE_GRANULARITY_DESCRIPTOR :
						 DMA_RESIDUE_GRANULARITY_BURST;
	dd->descriptor_reuse = true;
	dd->device_alloc_chan_resources = swdma_alloc_chan_resources;
	dd->device_free_chan_resources = swdma_free_chan_resources;
	dd->device_prep_dma_memcpy = swdma_prep_memcpy;
	dd->device_issue_pending = swdma_issue_pending;
	dd->device_tx_status = swdma_tx_status;
	if (terminate) {
		dd->device_terminate_all = swdma_terminate_all;
		dd->device_synchronize = swdma_synchronize;
	}
	if (release)
		dd->device_release = swdma_release;

	for (i = 0; i < sd->nr; i++)
		swdma_chan_init(sd, sd->chans[i]);

	ret = dma_async_device_register(dd);
	if (ret) {
		swdma_free(sd);
		return ret;
	}
	dev_set_drvdata(dev, sd);
	mutex_lock(&swdma_lock);
	swdma_bound = sd;
	mutex_unlock(&swdma_lock);

	swdma_debugfs = debugfs_create_dir(SWDMA_NAME, NULL);
	debugfs_create_file("stats", 0444, swdma_debugfs, sd,
			    &swdma_stats_fops);

	dev_info(dev, "%u memcpy channels, %s%s%s; pool %u%s, max_xfer %lu, copy_align %u\n",
		 sd->nr, private ? "private" : "public",
		 terminate ? "" : ", no terminate_all",
		 !use_iommu ? "" : iommu_get_domain_for_dev(dev) ?
		 ", behind an IOMMU" : ", no IOMMU domain",
		 pool, pool_block ? " (blocking)" : "", max_xfer, copy_align);
	return 0;
}

/*
 * Remove: module exit (clients hold module references, so then no channel
 * is in use), or an unbind (unbind=1) with clients holding channels.
 */
static void swdma_teardown(struct device *dev)
{
	struct swdma_dev *sd = dev_get_drvdata(dev);

	debugfs_remove_recursive(swdma_debugfs);
	swdma_debugfs = NULL;
	mutex_lock(&swdma_lock);
	swdma_bound = NULL;
	dma_async_device_unregister(&sd->dd);
	if (!release)
		swdma_free(sd);
	mutex_unlock(&swdma_lock);
}

static int swdma_remove_chan_set(const char *val, const struct kernel_param *kp)
{
	struct swdma_chan *sc;
	unsigned int i;
	int ret;

	ret = kstrtouint(val, 0, &i);
	if (ret)
		return ret;
	mutex_lock(&swdma_lock);
	if (!swdma_bound || i >= swdma_bound->nr || !swdma_bound->chans[i]) {
		ret = -ENODEV;
		goto out;
	}
	sc = swdma_bound->chans[i];
	swdma_bound->chans[i] = NULL;
	dev_info(swdma_bound->dev, "removing channel %u\n", i);
	/* idxd_unregister_dma_channel(): unregister, unlink, free */
	dma_async_device_channel_unregister(&swdma_bound->dd, &sc->chan);
	list_del(&sc->chan.device_node);
	swdma_chan_free(sc);
out:
	mutex_unlock(&swdma_lock);
	return ret;
}

static int swdma_probe(struct platform_device *pdev)
{
	return swdma_setup(&pdev->dev);
}

static void swdma_remove(struct platform_device *pdev)
{
	swdma_teardown(&pdev->dev);
}

static struct platform_driver swdma_driver = {
	.probe = swdma_probe,
	.remove = swdma_remove,
	.driver = {
		.name = SWDMA_NAME,
		/* an unbind only with unbind=1 (swdma_init) */
		.suppress_bind_attrs = true,
	},
};

/* iommu=1: QEMU's edu device stands for a DMA engine behind an IOMMU. */
static int swdma_pci_probe(struct pci_dev *pdev,
			   const struct pci_device_id *id)
{
	int ret;

	ret = pci_enable_device(pdev);
	if (ret)
		return ret;
	ret = swdma_setup(&pdev->dev);
	if (ret)
		pci_disable_device(pdev);
	return ret;
}

static void swdma_pci_remove(struct pci_dev *pdev)
{
	swdma_teardown(&pdev->dev);
	pci_disable_device(pdev);
}

/* no MODULE_DEVICE_TABLE: the edu device must not autoload swdma */
static const struct pci_device_id swdma_pci_ids[] = {
	{ PCI_DEVICE(SWDMA_EDU_VENDOR, SWDMA_EDU_DEVICE) },
	{ }
};

static struct pci_driver swdma_pci_driver = {
	.name = SWDMA_NAME,
	.id_table = swdma_pci_ids,
	.probe = swdma_pci_probe,
	.remove = swdma_pci_remove,
	.driver = {
		.suppress_bind_attrs = true,
	},
};

static int __init swdma_pci_init(void)
{
	int ret;

	ret = pci_register_driver(&swdma_pci_driver);
	if (ret)
		return ret;
	if (!swdma_bound) {
		pr_err(SWDMA_NAME ": iommu=1 needs QEMU's edu PCI device (-device edu)\n");
		pci_unregister_driver(&swdma_pci_driver);
		return -ENODEV;
	}
	return 0;
}

static int __init swdma_platform_init(void)
{
	int ret;

	ret = platform_driver_register(&swdma_driver);
	if (ret)
		return ret;

	swdma_pdev = platform_device_register_simple(driver, -1, NULL, 0);
	if (IS_ERR(swdma_pdev)) {
		ret = PTR_ERR(swdma_pdev);
		goto err_driver;
	}
	if (!platform_get_drvdata(swdma_pdev)) {
		ret = -ENODEV;
		goto err_device;
	}
	return 0;

err_device:
	platform_device_unregister(swdma_pdev);
err_driver:
	platform_driver_unregister(&swdma_driver);
	return ret;
}

static int __init swdma_init(void)
{
	int ret;

	if (channels < 1 || channels > SWDMA_MAX_CHANNELS) {
		pr_err(SWDMA_NAME ": channels must be 1..%d\n",
		       SWDMA_MAX_CHANNELS);
		return -EINVAL;
	}
	if (copy_align > DMAENGINE_ALIGN_256_BYTES) {
		pr_err(SWDMA_NAME ": copy_align must be 0..%d\n",
		       DMAENGINE_ALIGN_256_BYTES);
		return -EINVAL;
	}
	if (pool > INT_MAX) {
		pr_err(SWDMA_NAME ": pool must be 0..%d\n", INT_MAX);
		return -EINVAL;
	}
	if (!driver[0]) {
		pr_err(SWDMA_NAME ": driver= needs a name\n");
		return -EINVAL;
	}

	/*
	 * Page migration copies through this engine from reclaim and direct
	 * compaction (PF_MEMALLOC), and terminate_sync flushes the work
	 * there: the workqueue must make progress under memory pressure.
	 */
	swdma_wq = alloc_workqueue(SWDMA_NAME, WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!swdma_wq)
		return -ENOMEM;

	swdma_driver.driver.name = driver;
	swdma_driver.driver.suppress_bind_attrs = !unbind;
	swdma_pci_driver.name = driver;
	ret = use_iommu ? swdma_pci_init() : swdma_platform_init();
	if (ret)
		destroy_workqueue(swdma_wq);
	return ret;
}
module_init(swdma_init);

static void __exit swdma_exit(void)
{
	if (use_iommu) {
		pci_unregister_driver(&swdma_pci_driver);
	} else {
		platform_device_unregister(swdma_pdev);
		platform_driver_unregister(&swdma_driver);
	}
	destroy_workqueue(swdma_wq);
}
module_exit(swdma_exit);

MODULE_DESCRIPTION("Software DMA memcpy engine for testing dmaengine clients");
MODULE_LICENSE("GPL");
