// SPDX-License-Identifier: GPL-2.0

//! dcbm, the DMA Core Batch Migrator: copies batches of folios for page
//! migration with dmaengine memcpy channels.
//!
//! The Rust rewrite of the reference C driver of the "Accelerate page
//! migration with batch copying and hardware offload" series. One source
//! builds for the v5 and the RFC v6 interface (dcbm_shim.c picks by the
//! kernel's header), with both drivers' files: v5's /sys/module/dcbm/ and
//! v6's /sys/module/dcbm/parameters/. See DESIGN.md and README.md.

use kernel::prelude::*;

mod attrs;
mod batch;
mod channels;
mod context;
mod control;
mod coverage;
mod ffi;
mod health;
mod inflight;
mod input;
mod knobs;
mod prober;
mod providers;
mod reasons;
mod removal;
mod segments;
mod sgtable;
mod stats;
mod verify;
mod workspace;

module! {
    type: Dcbm,
    name: "dcbm",
    authors: ["dcbm developers"],
    description: "DMA Core Batch Migrator: page migration copies by DMA",
    license: "GPL",
    // The parameters (offloading, nr_dma_chan, reason_mask, ...) are
    // declared in dcbm_shim.c: they are writable at run time, which the
    // `module!` macro's parameters are not. knobs.rs implements them.
}

struct Dcbm {
    files: Option<attrs::Files>,
    buses: Option<removal::Buses>,
}

impl kernel::Module for Dcbm {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // Before any channel can be held (a load-time offloading=1).
        prober::init()?;
        let buses = removal::Buses::watch()?;
        // Parameters given at load were validated and stored as they were
        // parsed; a load-time offloading=1 is applied here.
        if let Err(e) = control::go_live(module) {
            pr_warn!(
                "offloading=1 at load failed ({:?}): no usable DMA memcpy channel?\n",
                e
            );
        }
        let files = attrs::Files::create(module).inspect_err(|_| control::go_away())?;
        pr_info!(
            "DMA Core Batch Migrator loaded (offload interface {})\n",
            reasons::interface()
        );
        Ok(Self {
            files: Some(files),
            buses: Some(buses),
        })
    }
}

impl Drop for Dcbm {
    fn drop(&mut self) {
        // Remove the files first so no write can re-enable offloading,
        // then unregister (waiting for copies in flight) and release the
        // channels; parameters/ stays until exit returns, and refuses.
        drop(self.files.take());
        // No unbind is told to dcbm once this returns; a devres action
        // already running is waited for by go_away().
        drop(self.buses.take());
        control::go_away();
        pr_info!("DMA Core Batch Migrator unloaded\n");
    }
}
