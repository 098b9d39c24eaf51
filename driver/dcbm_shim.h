/* SPDX-License-Identifier: GPL-2.0-only */
/* Functions of dcbm_shim.c called from Rust (see ffi.rs), and back. */
#ifndef DCBM_SHIM_H
#define DCBM_SHIM_H

#include <linux/dmaengine.h>

struct folio;
struct page;
struct list_head;
struct scatterlist;

/* Implemented in Rust (batch.rs, inflight.rs, knobs.rs, control.rs). */
int dcbm_offload_copy(struct list_head *dst_list, struct list_head *src_list,
		      unsigned int folio_cnt, unsigned int reason);
void dcbm_on_complete(void *param, bool ok, u32 residue);
int dcbm_knob_store(const char *name, const char *val);
int dcbm_knob_show(const char *name, char *buf);
void dcbm_chan_going(void *data);
void dcbm_device_unbinding(struct device *dev);

/* dcbm_submit_memcpy(): the engine gave no descriptor. */
#define DCBM_NO_DESCRIPTOR 1
/*
 * dcbm_offload_copy()'s reason when the kernel does not tell it (MR_TYPES,
 * asserted in dcbm_shim.c; the header cannot include <linux/migrate_mode.h>
 * for bindgen's sake).
 */
#define DCBM_REASON_UNKNOWN 11

bool dcbm_interface_v6(void);
int dcbm_migrator_register(unsigned long reason_mask);
void dcbm_migrator_unregister(void);
unsigned long dcbm_reasons_available(void);
int dcbm_set_reason_mask(unsigned long reason_mask);
int dcbm_reason_mask_parse(const char *buf, unsigned long *maskp);
void dcbm_mark_copied(struct folio *dst);
struct folio *dcbm_lru_folio(struct list_head *entry);
struct folio *dcbm_page_folio(struct page *page);
size_t dcbm_folio_size(struct folio *folio);
void dcbm_sg_set_folio_part(struct scatterlist *sg, struct folio *folio,
			    size_t len, size_t offset);
unsigned int dcbm_max_seg_size(struct device *dev);
unsigned int dcbm_batch_pages_max(void);
struct dma_chan *dcbm_request_memcpy_chan(void);
struct dma_chan *dcbm_find_public_memcpy_chan(void);
struct device *dcbm_chan_device(struct dma_chan *chan);
const char *dcbm_chan_driver(struct dma_chan *chan);
const char *dcbm_chan_name(struct dma_chan *chan);
int dcbm_submit_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		       size_t len, void *param, bool interrupt);
void dcbm_issue_pending(struct dma_chan *chan);
void dcbm_poll(struct dma_chan *chan);
bool dcbm_chan_can_terminate(struct dma_chan *chan);
bool dcbm_chan_reports_residue(struct dma_chan *chan);
bool dcbm_folio_same(struct folio *a, struct folio *b);
int dcbm_terminate_async(struct dma_chan *chan);
void dcbm_synchronize(struct dma_chan *chan);
bool dcbm_caller_rule_in_kernel(void);
bool dcbm_offload_nowait(void);
bool dcbm_health_log_ok(void);
unsigned int dcbm_nowait_ms(void);
gfp_t dcbm_nowait_gfp(void);
bool dcbm_copy_aligned(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		       size_t len);
int dcbm_watch_chan(struct dma_chan *chan, void *data);
bool dcbm_unwatch_chan(struct dma_chan *chan, void *data);
int dcbm_watch_buses(void);
void dcbm_unwatch_buses(void);
bool dcbm_dev_within(struct device *dev, struct device *anc);

#endif /* DCBM_SHIM_H */
