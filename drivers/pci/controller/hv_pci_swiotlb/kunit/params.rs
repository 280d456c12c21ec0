// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the module and boot parameter parsing.

use super::*;

#[kunit_tests(hv_pci_swiotlb_params)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn size(s: &str) -> (SizeChoice, Option<SizeNote>) {
        choose_size(SizeParam::Given(s.as_bytes()))
    }

    #[test]
    fn size_defaults_and_rounding() {
        assert_eq!(
            choose_size(SizeParam::Absent),
            (SizeChoice::Reserve(64 * MIB), None)
        );
        assert_eq!(size("64M"), (SizeChoice::Reserve(64 * MIB), None));
        assert_eq!(size("0x4000000"), (SizeChoice::Reserve(64 * MIB), None));
        assert_eq!(
            size("3M"),
            (
                SizeChoice::Reserve(4 * MIB),
                Some(SizeNote::RoundedUp {
                    from: 3 << 20,
                    to: 4 * MIB
                })
            )
        );
        assert_eq!(
            size("1"),
            (
                SizeChoice::Reserve(2 * MIB),
                Some(SizeNote::RoundedUp {
                    from: 1,
                    to: 2 * MIB
                })
            )
        );
        assert_eq!(size("1G"), (SizeChoice::Reserve(1024 * MIB), None));
    }

    #[test]
    fn size_bad_values_disable() {
        assert_eq!(size("0"), (SizeChoice::Disabled, Some(SizeNote::Zero)));
        for bad in ["", "-1", "garbage", "64M,", "64M,force", "M"] {
            assert_eq!(size(bad).0, SizeChoice::Disabled);
            assert!(matches!(size(bad).1, Some(SizeNote::Invalid(_))));
        }
        assert_eq!(
            size("99999999999999999999").1,
            Some(SizeNote::Invalid(SizeError::Overflow))
        );
        assert_eq!(
            size("4G"),
            (SizeChoice::Disabled, Some(SizeNote::TooLarge(4 << 30)))
        );
        assert_eq!(size("1T").0, SizeChoice::Disabled);
        assert_eq!(size("1025M").0, SizeChoice::Disabled);
    }

    #[test]
    fn size_cut_off_disables() {
        // Of hv_pci_swiotlb=0x00000000000000000000004000000K (64 GiB: too large) the shim keeps
        // the first 31 characters, which alone read as 64 MiB.
        let start = b"0x00000000000000000000004000000";
        assert_eq!(start.len(), 31);
        assert_eq!(
            choose_size(SizeParam::Given(start)).0,
            SizeChoice::Reserve(64 * MIB)
        );
        assert_eq!(
            choose_size(SizeParam::TooLong(start)),
            (SizeChoice::Disabled, Some(SizeNote::TooLong(31)))
        );
    }

    #[test]
    fn layout_and_devices() {
        assert_eq!(choose_layout(None), (Layout::PerDevice, true));
        assert_eq!(choose_layout(Some(b"shared")), (Layout::Shared, true));
        assert_eq!(
            choose_layout(Some(b"per-device")),
            (Layout::PerDevice, true)
        );
        assert_eq!(choose_layout(Some(b"Shared")), (Layout::PerDevice, false));
        assert_eq!(choose_layout(Some(b"")), (Layout::PerDevice, false));
        assert_eq!(choose_max_devices(4), (4, true));
        assert_eq!(choose_max_devices(64), (64, true));
        assert_eq!(choose_max_devices(0), (DEFAULT_MAX_DEVICES, false));
        assert_eq!(choose_max_devices(65), (DEFAULT_MAX_DEVICES, false));
    }
}
