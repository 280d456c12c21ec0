// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the size parser.

use super::*;

#[kunit_tests(hv_pci_swiotlb_size)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn plain_and_suffixed() {
        assert_eq!(parse_size(b"0"), Ok(0));
        assert_eq!(parse_size(b"4096"), Ok(4096));
        assert_eq!(parse_size(b"64M"), Ok(64 * MIB));
        assert_eq!(parse_size(b"64m"), Ok(64 * MIB));
        assert_eq!(parse_size(b"512k"), Ok(512 << 10));
        assert_eq!(parse_size(b"1G"), Ok(1 << 30));
        assert_eq!(parse_size(b"1T"), Ok(1 << 40));
        assert_eq!(parse_size(b"15E"), Ok(15 << 60));
    }

    #[test]
    fn radix_like_memparse() {
        assert_eq!(parse_size(b"0x4000000"), Ok(64 * MIB));
        assert_eq!(parse_size(b"0X10M"), Ok(16 * MIB));
        assert_eq!(parse_size(b"010"), Ok(8));
        assert_eq!(parse_size(b"0xffffffffffffffff"), Ok(u64::MAX));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_size(b""), Err(SizeError::NotANumber));
        assert_eq!(parse_size(b"M"), Err(SizeError::NotANumber));
        assert_eq!(parse_size(b"-1"), Err(SizeError::NotANumber));
        assert_eq!(parse_size(b"0x"), Err(SizeError::NotANumber));
        assert_eq!(parse_size(b"garbage"), Err(SizeError::NotANumber));
        assert_eq!(parse_size(b"64M,"), Err(SizeError::TrailingGarbage));
        assert_eq!(parse_size(b"64M,force"), Err(SizeError::TrailingGarbage));
        assert_eq!(parse_size(b"64MB"), Err(SizeError::TrailingGarbage));
        assert_eq!(parse_size(b"64 "), Err(SizeError::TrailingGarbage));
        assert_eq!(parse_size(b"09"), Err(SizeError::TrailingGarbage));
    }

    #[test]
    fn rejects_overflow() {
        assert_eq!(
            parse_size(b"18446744073709551616"),
            Err(SizeError::Overflow)
        );
        assert_eq!(parse_size(b"0x10000000000000000"), Err(SizeError::Overflow));
        assert_eq!(parse_size(b"16E"), Err(SizeError::Overflow));
        assert_eq!(parse_size(b"17179869184G"), Err(SizeError::Overflow));
    }
}
