// SPDX-License-Identifier: GPL-2.0

//! What each dmaengine provider really does where the dmaengine API does
//! not say, read from the providers' sources (Linux 7.3), keyed by the
//! name of the provider's driver (`dev_driver_string()` of the DMA
//! device). The rest is read from the API itself: whether the provider
//! has the terminate and synchronize hooks (channels.rs), whether it
//! reports a residue (`residue_granularity`), its copy alignment.
//!
//! | driver | terminate stops the copy, no callback after synchronize | an error reaches the client | a descriptor without an interrupt is called back |
//! | --- | --- | --- | --- |
//! | swdma (the test bed; `driver=NAME` makes it pose as another) | yes | yes | yes: at the next interrupt, or when a status is read |
//! | idxd | no: software only, no hardware command; it also drops the work queue's interrupt handle; synchronize drains the hardware but not the completion thread | yes | no: only descriptors asking for a completion interrupt are tracked (`idxd_submit_desc`) |
//! | ioatdma | (no terminate hook) | yes | yes: its cleanup calls back every completed descriptor, at an interrupt, on its timer, or from `device_tx_status` |
//! | ptdma | no: it only clears the interrupt status, the command in the queue runs on, and its descriptor is freed | no: completions pass a NULL result, which dmaengine turns into success | no: the queue's interrupt is turned off for such a command, and the next one starts only from the interrupt handler |
//! | ae4dma | no (as ptdma; its terminate writes an undefined register) | no (as ptdma) | no (as ptdma) |
//! | any other | not trusted | trusted | not trusted |
//!
//! A channel whose terminate is not trusted is never aborted: a timed-out
//! batch waits for its descriptors to complete (the lifetime rule,
//! inflight.rs), and a no-wait call declines such a channel before
//! submitting. A provider whose errors do not reach the client has its
//! batches verified by default (verify.rs, `verify=auto`). A provider
//! that calls back descriptors submitted without `DMA_PREP_INTERRUPT` is
//! asked for an interrupt only where a batch waits (inflight.rs); any
//! other gets one per descriptor, so each still reports its own status.

/// What dcbm may rely on of a provider.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Behaviour {
    /// `dmaengine_terminate_async()` then `dmaengine_synchronize()`
    /// leaves no copy running and no callback to come.
    pub(crate) abort_stops: bool,
    /// A failed copy completes with an error result.
    pub(crate) reports_errors: bool,
    /// A descriptor prepared without `DMA_PREP_INTERRUPT` is still called
    /// back with its own result: at the interrupt of a later one, or when
    /// the channel's status is read.
    pub(crate) late_callbacks: bool,
}

const TRUSTED: Behaviour = Behaviour {
    abort_stops: true,
    reports_errors: true,
    late_callbacks: true,
};
const NO_ABORT: Behaviour = Behaviour {
    abort_stops: false,
    reports_errors: true,
    late_callbacks: false,
};
const NO_ABORT_LATE_CALLBACKS: Behaviour = Behaviour {
    late_callbacks: true,
    ..NO_ABORT
};
const NO_ABORT_NO_ERRORS: Behaviour = Behaviour {
    abort_stops: false,
    reports_errors: false,
    late_callbacks: false,
};

static KNOWN: [(&[u8], Behaviour); 5] = [
    (b"swdma", TRUSTED),
    (b"idxd", NO_ABORT),
    (b"ioatdma", NO_ABORT_LATE_CALLBACKS),
    (b"ptdma", NO_ABORT_NO_ERRORS),
    (b"ae4dma", NO_ABORT_NO_ERRORS),
];

/// The behaviour of the provider whose driver is named `driver`; an
/// unknown one gets the safe reading (its abort is not trusted, and each
/// descriptor asks for an interrupt).
pub(crate) fn lookup(driver: &[u8]) -> Behaviour {
    KNOWN
        .iter()
        .find(|(name, _)| *name == driver)
        .map_or(NO_ABORT, |(_, b)| *b)
}

#[cfg(dcbm_kunit)]
#[kernel::macros::kunit_tests(dcbm_providers)]
mod tests {
    use super::*;

    #[test]
    fn only_the_test_engine_is_trusted_to_abort() {
        assert_eq!(lookup(b"swdma"), TRUSTED);
        for d in [
            &b"idxd"[..],
            b"ioatdma",
            b"ptdma",
            b"ae4dma",
            b"some-new-engine",
            b"",
        ] {
            assert!(!lookup(d).abort_stops);
        }
    }

    #[test]
    fn the_amd_engines_do_not_report_errors() {
        assert!(!lookup(b"ptdma").reports_errors);
        assert!(!lookup(b"ae4dma").reports_errors);
        assert!(lookup(b"idxd").reports_errors);
        // (a driver name is matched whole)
        assert!(lookup(b"ptdma2").reports_errors);
    }

    #[test]
    fn interrupts_are_spared_only_where_callbacks_still_come() {
        assert!(lookup(b"swdma").late_callbacks);
        assert!(lookup(b"ioatdma").late_callbacks);
        for d in [&b"idxd"[..], b"ptdma", b"ae4dma", b"some-new-engine", b""] {
            assert!(!lookup(d).late_callbacks);
        }
    }
}
