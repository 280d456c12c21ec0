// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the slice planner.

use super::*;
use kernel::prelude::*;

#[kunit_tests(hv_pci_swiotlb_slices)]
mod tests {
    use super::*;
    use kernel::dma::swiotlb::SEGMENT_SIZE;

    const MIB: usize = 1 << 20;

    #[test]
    fn per_device_split() {
        let p = SlicePlan::new(64 * MIB, Layout::PerDevice, 4).unwrap();
        assert_eq!(
            p,
            SlicePlan {
                count: 4,
                size: 16 * MIB
            }
        );
        assert_eq!(p.offset(3), 48 * MIB);
        // Uneven sizes lose less than 2 MiB per slice, never overlap or overflow.
        let p = SlicePlan::new(10 * MIB, Layout::PerDevice, 3).unwrap();
        assert_eq!(p.count, 3);
        assert_eq!(p.size, 2 * MIB);
        assert!(p.offset(p.count) <= 10 * MIB);
        let p = SlicePlan::new(64 * MIB, Layout::PerDevice, 3).unwrap();
        assert_eq!(p.size, 20 * MIB);
        assert_eq!(p.size % (8 * SEGMENT_SIZE), 0);
    }

    #[test]
    fn small_reservations_make_fewer_slices() {
        let p = SlicePlan::new(4 * MIB, Layout::PerDevice, 8).unwrap();
        assert_eq!(
            p,
            SlicePlan {
                count: 2,
                size: 2 * MIB
            }
        );
        let p = SlicePlan::new(2 * MIB, Layout::PerDevice, 4).unwrap();
        assert_eq!(
            p,
            SlicePlan {
                count: 1,
                size: 2 * MIB
            }
        );
        assert_eq!(SlicePlan::new(MIB, Layout::PerDevice, 4), None);
        assert_eq!(SlicePlan::new(0, Layout::Shared, 4), None);
    }

    #[test]
    fn shared_is_one_pool() {
        let p = SlicePlan::new(64 * MIB, Layout::Shared, 4).unwrap();
        assert_eq!(
            p,
            SlicePlan {
                count: 1,
                size: 64 * MIB
            }
        );
    }

    #[test]
    fn picking_prefers_free_then_least_shared() {
        assert_eq!(pick_slice([1, 0, 0]), Some(1));
        assert_eq!(pick_slice([1, 1, 1]), Some(0));
        assert_eq!(pick_slice([2, 1, 2]), Some(1));
        assert_eq!(pick_slice([]), None);
    }
}
