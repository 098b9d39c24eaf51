// SPDX-License-Identifier: GPL-2.0-only
/*
 * A public dmaengine client, as async_tx or NET_DMA users are: it holds
 * dmaengine_get() while loaded, so public providers' channels are in
 * public use and dma_request_chan_by_mask() cannot take them privately.
 * Test-bed only: it lets the tests show dcbm working with generic,
 * non-DMA_PRIVATE engines where the C reference driver cannot.
 */
#include <linux/dmaengine.h>
#include <linux/module.h>

static int __init pubclient_init(void)
{
	dmaengine_get();
	return 0;
}

static void __exit pubclient_exit(void)
{
	dmaengine_put();
}

module_init(pubclient_init);
module_exit(pubclient_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dcbm test bed: a public dmaengine client");
