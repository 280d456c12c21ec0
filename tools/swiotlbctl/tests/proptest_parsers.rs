// SPDX-License-Identifier: GPL-2.0
//! Property tests over the parsers: valid values round-trip through the
//! kernel's formats, only the canonical spelling is accepted, and no input
//! makes a parser panic.

use proptest::prelude::*;

use swiotlbctl::debugfs::{
    check_devices, parse_device_line, parse_devices, parse_layout, Device, Layout, DEVICE_COLUMNS,
};
use swiotlbctl::sysfs::{
    parse_base, parse_dec_token, parse_hex_token, parse_size, ParseError, PoolRange, LIMIT_4G,
};

fn pci_address() -> impl Strategy<Value = String> {
    (0u32..=0xffff_ffff, 0u8..=0xff, 0u8..32, 0u8..8)
        .prop_map(|(domain, bus, dev, func)| format!("{domain:04x}:{bus:02x}:{dev:02x}.{func}"))
}

fn device() -> impl Strategy<Value = Device> {
    (
        pci_address(),
        proptest::option::of("[a-z][a-z0-9_-]{0,15}"),
        any::<u64>(),
        1u64..,
        any::<[u64; 5]>(),
    )
        .prop_map(
            |(device, driver, base, size, [slots, used, hiwater, mappings, failures])| Device {
                device,
                driver,
                base,
                size,
                slots,
                used,
                hiwater,
                mappings,
                failures,
            },
        )
}

proptest! {
    #[test]
    fn base_round_trips(v in any::<u64>()) {
        prop_assert_eq!(parse_base(format!("0x{v:x}\n").as_bytes()), Ok(v));
        prop_assert_eq!(parse_base(format!("0x{v:x}").as_bytes()), Ok(v));
        prop_assert_eq!(parse_hex_token(&format!("{v:#x}")), Ok(v));
    }

    #[test]
    fn size_round_trips(v in 1u64..) {
        prop_assert_eq!(parse_size(format!("{v}\n").as_bytes()), Ok(v));
        prop_assert_eq!(parse_size(v.to_string().as_bytes()), Ok(v));
        prop_assert_eq!(parse_dec_token(&v.to_string()), Ok(v));
    }

    #[test]
    fn non_canonical_spellings_are_rejected(v in any::<u64>()) {
        let upper_prefix = format!("0X{v:x}\n");
        let padded = format!("0x0{v:x}\n");
        prop_assert_eq!(parse_base(upper_prefix.as_bytes()), Err(ParseError::UppercasePrefix));
        prop_assert_eq!(parse_base(padded.as_bytes()), Err(ParseError::LeadingZero));
        let bad_bases = [
            format!("{v:x}\n"),
            format!("0x{v:x} \n"),
            format!("0x{v:x}\n\n"),
            format!("0x{v:x}\r\n"),
            format!(" 0x{v:x}\n"),
        ];
        for bad in &bad_bases {
            prop_assert!(parse_base(bad.as_bytes()).is_err(), "accepted {:?}", bad);
        }
        let bad_sizes = [
            format!("0{v}\n"),
            format!("{v}\r\n"),
            format!("+{v}\n"),
            format!("{v} \n"),
            format!("{v:#x}\n"),
        ];
        for bad in &bad_sizes {
            prop_assert!(parse_size(bad.as_bytes()).is_err(), "accepted {:?}", bad);
        }
    }

    #[test]
    fn only_canonical_base_is_accepted(content in proptest::collection::vec(any::<u8>(), 0..24)) {
        if let Ok(v) = parse_base(&content) {
            let bare = format!("{v:#x}");
            let with_newline = format!("{bare}\n");
            let canonical = content == bare.as_bytes() || content == with_newline.as_bytes();
            prop_assert!(canonical, "accepted {:?}", content);
        }
    }

    #[test]
    fn only_canonical_hex_text_is_accepted(content in "(0[xX])?[0-9a-fA-F]{0,18}\n?\n?") {
        if let Ok(v) = parse_base(content.as_bytes()) {
            let bare = format!("{v:#x}");
            let with_newline = format!("{bare}\n");
            let canonical = content == bare || content == with_newline;
            prop_assert!(canonical, "accepted {:?}", content);
        }
    }

    #[test]
    fn only_canonical_size_is_accepted(content in "[0-9x+\\- \n]{0,24}") {
        if let Ok(v) = parse_size(content.as_bytes()) {
            prop_assert!(v > 0);
            let bare = v.to_string();
            let with_newline = format!("{v}\n");
            let canonical = content == bare || content == with_newline;
            prop_assert!(canonical, "accepted {:?}", content);
        }
    }

    #[test]
    fn parsers_never_panic(content in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_base(&content);
        let _ = parse_size(&content);
        let _ = parse_layout(&content);
        let text = String::from_utf8_lossy(&content);
        let _ = parse_device_line(&text);
        let (entries, _) = parse_devices(&text);
        let _ = check_devices(&entries, Some(Layout::PerDevice), Some(&PoolRange { base: 0, size: 1 }));
    }

    #[test]
    fn text_parsers_never_panic(text in "\\PC*") {
        let _ = parse_hex_token(&text);
        let _ = parse_dec_token(&text);
        let _ = parse_device_line(&text);
        let _ = parse_devices(&text);
    }

    #[test]
    fn device_lines_round_trip(d in device()) {
        prop_assert_eq!(parse_device_line(&d.to_line()), Ok(d));
    }

    #[test]
    fn eight_column_lines_are_rejected(d in device()) {
        // The format before the `failures` column: drop the last column.
        let line = d.to_line();
        let (old, _) = line.rsplit_once(' ').unwrap();
        let err = parse_device_line(old).unwrap_err();
        prop_assert!(err.starts_with("expected 9 columns"), "{}", err);
        prop_assert!(err.contains("found 8"), "{}", err);
    }

    #[test]
    fn devices_files_round_trip(devices in proptest::collection::vec(device(), 0..8)) {
        let mut text = format!("# {}\n", DEVICE_COLUMNS.join(" "));
        for d in &devices {
            text.push_str(&d.to_line());
            text.push('\n');
        }
        let (entries, issues) = parse_devices(&text);
        prop_assert!(issues.is_empty(), "{:?}", issues);
        let parsed: Vec<Device> = entries.into_iter().map(|e| e.device).collect();
        prop_assert_eq!(parsed, devices);
    }

    #[test]
    fn layout_round_trips(layout in prop_oneof![Just(Layout::PerDevice), Just(Layout::Shared)]) {
        prop_assert_eq!(parse_layout(format!("{layout}\n").as_bytes()), Ok(layout));
    }

    #[test]
    fn range_check_matches_arithmetic(base in any::<u64>(), size in 1u64..) {
        let range = PoolRange { base, size };
        let fits = u128::from(base) + u128::from(size) <= u128::from(LIMIT_4G);
        prop_assert_eq!(range.check().is_ok(), fits);
    }

    #[test]
    fn small_ranges_check(base in 0u64..=LIMIT_4G, size in 1u64..=LIMIT_4G) {
        let range = PoolRange { base, size };
        prop_assert_eq!(range.check().is_ok(), base + size <= LIMIT_4G);
        if range.check().is_ok() {
            let option = range.device_option();
            let rest = option.strip_prefix("swiotlb=").unwrap();
            let (b, s) = rest.split_once(',').unwrap();
            prop_assert_eq!(parse_hex_token(b), Ok(base));
            prop_assert_eq!(parse_dec_token(s), Ok(size));
        }
    }
}
