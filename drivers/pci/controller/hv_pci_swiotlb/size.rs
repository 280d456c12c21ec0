// SPDX-License-Identifier: GPL-2.0

//! Parsing of the pool size given as `hv_pci_swiotlb=<size>`.
//!
//! The syntax is the kernel's `memparse()`: a number in C notation (decimal, `0x` hex or `0`
//! octal) with an optional binary suffix `K`, `M`, `G`, `T`, `P` or `E`. Unlike `memparse()`,
//! anything after the number and suffix is an error instead of being silently ignored, and so
//! is an overflow: a mistyped size must fall back to the default, not become a surprising one.

use kernel::prelude::*;

/// Why a size string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeError {
    /// The string is empty or does not start with a digit.
    NotANumber,
    /// Characters follow the number and its suffix.
    TrailingGarbage,
    /// The value does not fit in 64 bits.
    Overflow,
}

/// Parses `s` with `memparse()` syntax; see the module documentation.
pub(crate) fn parse_size(s: &[u8]) -> Result<u64, SizeError> {
    let (radix, digits) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (16, rest),
        // The leading 0 is an octal digit itself, so "09" is 0 followed by garbage.
        [b'0', rest @ ..] if !rest.is_empty() => (8, s),
        _ => (10, s),
    };

    let mut value: u64 = 0;
    let mut len = 0;
    for &c in digits {
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(SizeError::Overflow)?;
        len += 1;
    }
    // "0x" alone is not a number; a lone "0" was taken as decimal above.
    if len == 0 {
        return Err(SizeError::NotANumber);
    }

    let rest = &digits[len..];
    let (shift, rest) = match rest.split_first() {
        Some((c, tail)) => match c.to_ascii_uppercase() {
            b'K' => (10, tail),
            b'M' => (20, tail),
            b'G' => (30, tail),
            b'T' => (40, tail),
            b'P' => (50, tail),
            b'E' => (60, tail),
            _ => (0, rest),
        },
        None => (0, rest),
    };
    if !rest.is_empty() {
        return Err(SizeError::TrailingGarbage);
    }
    if shift > 0 && value.leading_zeros() < shift {
        return Err(SizeError::Overflow);
    }
    Ok(value << shift)
}

#[cfg(hvps_kunit)]
#[path = "kunit/size.rs"]
mod kunit;
