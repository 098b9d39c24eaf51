// SPDX-License-Identifier: GPL-2.0-only
/*
 * The parts of dcbm that Rust cannot reach out of tree: static inline
 * helpers of <linux/dmaengine.h>, <linux/scatterlist.h> and <linux/mm.h>,
 * and the struct migrator, whose layout only C sees. No logic lives here;
 * it is all in the Rust side.
 */
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/migrate_copy_offload.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>

#include "dcbm_shim.h"

static struct migrator dcbm_migrator = {
	.name = "DCBM",
	.offload_copy = dcbm_offload_copy,
	.owner = THIS_MODULE,
};

int dcbm_migrator_register(void)
{
	return migrate_offload_register(&dcbm_migrator);
}

void dcbm_migrator_unregister(void)
{
	migrate_offload_unregister(&dcbm_migrator);
}

struct folio *dcbm_lru_folio(struct list_head *entry)
{
	return list_entry(entry, struct folio, lru);
}

size_t dcbm_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

void dcbm_sg_set_folio(struct scatterlist *sg, struct folio *folio)
{
	sg_set_folio(sg, folio, folio_size(folio), 0);
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

const char *dcbm_chan_name(struct dma_chan *chan)
{
	return dma_chan_name(chan);
}

unsigned int dcbm_max_seg_size(struct device *dev)
{
	return dma_get_max_seg_size(dev);
}

/*
 * The dmaengine callback of every dcbm descriptor. It has the exact type
 * dmaengine calls (dma_async_tx_callback_result), so a kCFI kernel's type
 * check passes; it calls the Rust side directly with the verdict.
 */
static void dcbm_dma_done(void *param, const struct dmaengine_result *result)
{
	dcbm_on_complete(param, result && result->result == DMA_TRANS_NOERROR &&
				result->residue == 0);
}

/*
 * Prepare and submit one memcpy whose completion calls dcbm_on_complete()
 * with @param. Returns 0 once submitted, DCBM_NO_DESCRIPTOR if the engine
 * gave no descriptor (pool empty, copy too long, ...), or the negative
 * submit error (nothing was queued then).
 */
int dcbm_submit_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		       size_t len, void *param)
{
	struct dma_async_tx_descriptor *tx;
	dma_cookie_t cookie;

	tx = dmaengine_prep_dma_memcpy(chan, dst, src, len,
				       DMA_PREP_INTERRUPT | DMA_CTRL_ACK);
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
 * Whether the channel's descriptors can be aborted: the provider has both
 * device_terminate_all and device_synchronize (ioatdma, for one, has
 * neither, and dmaengine_terminate_sync() then returns -EINVAL).
 */
bool dcbm_chan_can_terminate(struct dma_chan *chan)
{
	return chan->device->device_terminate_all &&
	       chan->device->device_synchronize;
}

/* Aborts the channel's descriptors and waits for their callbacks. */
int dcbm_terminate_sync(struct dma_chan *chan)
{
	return dmaengine_terminate_sync(chan);
}

/* Whether the provider can copy @len bytes between these addresses. */
/* Whether this offload_copy() call is a no-wait one (see the header). */
bool dcbm_offload_nowait(void)
{
	return migrate_offload_nowait();
}

unsigned int dcbm_nowait_ms(void)
{
	return MIGRATE_OFFLOAD_NOWAIT_MS;
}

/* The allocation flags the header asks of a no-wait call. */
gfp_t dcbm_nowait_gfp(void)
{
	return GFP_NOWAIT | __GFP_NOMEMALLOC | __GFP_NOWARN;
}

bool dcbm_copy_aligned(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		       size_t len)
{
	return is_dma_copy_aligned(chan->device, src, dst, len);
}
