// SPDX-License-Identifier: GPL-2.0

//! What a write to one of dcbm's files may hold.

use kernel::prelude::*;
use kernel::str::parse_int::ParseInt;
use kernel::str::BStr;

/// A number as sysfs writes it: the kernel's integer syntax (a base
/// prefix), at most one trailing newline, nothing else.
pub(crate) fn number<T: ParseInt>(buf: &CStr) -> Result<T> {
    let b = buf.to_bytes();
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    T::from_str(BStr::from_bytes(b))
}
