// SPDX-License-Identifier: GPL-2.0

//! dcbm, the DMA Core Batch Migrator: copies batches of folios for page
//! migration with dmaengine memcpy channels.
//!
//! The Rust rewrite of the reference C driver of the "Accelerate page
//! migration with batch copying and hardware offload" series (v5), with
//! the same /sys/module/dcbm/ interface. See README.md for what it adds.

use kernel::prelude::*;

mod attrs;
mod batch;
mod channels;
mod context;
mod control;
mod ffi;
mod inflight;
mod reasons;
mod segments;
mod sgtable;
mod stats;

module! {
    type: Dcbm,
    name: "dcbm",
    authors: ["dcbm developers"],
    description: "DMA Core Batch Migrator: page migration copies by DMA",
    license: "GPL",
    params: {
        offloading: bool {
            default: false,
            description: "Enable offloading at load time (as writing 1 to /sys/module/dcbm/offloading)",
        },
        nr_dma_chan: u32 {
            default: crate::control::DEFAULT_NR_CHAN,
            description: "DMA channels to use, 1..16",
        },
        timeout_ms: u32 {
            default: crate::control::DEFAULT_TIMEOUT_MS,
            description: "Time a batch may take before it falls back to the CPU, 1..600000 ms",
        },
        min_batch_bytes: u64 {
            default: crate::control::DEFAULT_MIN_BATCH_BYTES,
            description: "Batches smaller than this are left to the CPU, 0..1 GiB",
        },
        min_folio_bytes: u64 {
            default: crate::control::DEFAULT_MIN_FOLIO_BYTES,
            description: "Batches whose largest folio is smaller are left to the CPU, 0..1 GiB",
        },
    },
}

struct Dcbm {
    files: Option<attrs::Files>,
}

impl kernel::Module for Dcbm {
    fn init(module: &'static ThisModule) -> Result<Self> {
        control::init();
        use module_parameters as p;
        apply_param("nr_dma_chan", p::nr_dma_chan.value(), control::set_nr_chan)?;
        apply_param("timeout_ms", p::timeout_ms.value(), control::set_timeout_ms)?;
        apply_param(
            "min_batch_bytes",
            p::min_batch_bytes.value(),
            control::set_min_batch_bytes,
        )?;
        apply_param(
            "min_folio_bytes",
            p::min_folio_bytes.value(),
            control::set_min_folio_bytes,
        )?;
        let files = attrs::Files::create(module)?;
        if module_parameters::offloading.value() {
            if let Err(e) = control::set_offloading(true) {
                pr_warn!(
                    "offloading=1 at load failed ({:?}): no usable DMA memcpy channel?\n",
                    e
                );
            }
        }
        pr_info!("DMA Core Batch Migrator loaded\n");
        Ok(Self { files: Some(files) })
    }
}

/// Applies a load-time parameter with the same checks as its sysfs file.
fn apply_param<T: Copy + kernel::fmt::Display>(name: &str, v: T, set: fn(T) -> Result) -> Result {
    set(v).inspect_err(|_| pr_err!("{}={} is out of range (see modinfo dcbm)\n", name, v))
}

impl Drop for Dcbm {
    fn drop(&mut self) {
        // Remove the files first so no write can re-enable offloading,
        // then unregister (waiting for copies in flight) and release the
        // channels.
        drop(self.files.take());
        let _ = control::set_offloading(false);
        pr_info!("DMA Core Batch Migrator unloaded\n");
    }
}
