//! The rules header values must follow to be accepted, shared by both styles.

/// Longest header value accepted on extraction, in bytes.
pub(super) const MAX_HEADER_LEN: usize = 8192;

/// An origin as Datadog's tracers take it (`rum`, `synthetics`, `lambda`, or whatever
/// a product sends): any non-empty run of printable ASCII, blanks at either end left
/// out. `x-datadog-origin` carries it unchanged; `tracestate` carries it with
/// `,`, `;` and `~` replaced (see `w3c::encode`).
pub(super) fn readable_origin(origin: &str) -> Option<&str> {
    // Blanks at either end are not part of it: an HTTP header's value loses them.
    let origin = origin.trim_matches(' ');
    let ok = !origin.is_empty() && origin.bytes().all(|b| (0x20..0x7f).contains(&b));
    ok.then_some(origin)
}

/// `value` without white space at either end, as `str::trim` leaves it; a value that
/// starts and ends with a visible ASCII character (every valid one) is returned as it
/// is, without looking for Unicode white space.
#[inline]
pub(super) fn trim(value: &str) -> &str {
    match (value.as_bytes().first(), value.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        _ => value.trim(),
    }
}

/// A 64-bit id as exactly 16 lower-case hex digits (`_dd.p.tid`, tracestate `p:`).
pub(super) fn parse_hex16(value: &str) -> Option<u64> {
    if value.len() != 16 {
        return None;
    }
    parse_lower_hex(value).map(|v| v as u64)
}

/// Up to 32 lower-case hex digits as a number, in one pass; `None` for anything else
/// (an empty string, upper case, a sign, more digits).
pub(super) fn parse_lower_hex(value: &str) -> Option<u128> {
    let bytes = value.as_bytes();
    match bytes.len() {
        0 => None,
        1..=16 => hex_u64(bytes).map(u128::from),
        17..=32 => {
            let (high, low) = bytes.split_at(bytes.len() - 16);
            Some((u128::from(hex_u64(high)?) << 64) | u128::from(hex_u64(low)?))
        }
        _ => None,
    }
}

/// Up to 16 lower-case hex digits: eight at a time when there are 16 (the ids in
/// `traceparent`), else a table lookup per digit.
#[inline]
fn hex_u64(bytes: &[u8]) -> Option<u64> {
    match bytes.first_chunk::<16>() {
        Some(digits) if bytes.len() == 16 => hex16(digits),
        _ => hex_digits(bytes),
    }
}

/// Exactly 16 lower-case hex digits (a 64-bit id, half a trace id), eight at a time.
#[inline]
pub(super) fn hex16(digits: &[u8; 16]) -> Option<u64> {
    let (high, low) = digits.split_at(8);
    let (high, low) = (high.first_chunk::<8>()?, low.first_chunk::<8>()?);
    Some(u64::from(hex8(*high)?) << 32 | u64::from(hex8(*low)?))
}

/// Exactly two lower-case hex digits (a `traceparent` version or flags).
#[inline]
pub(super) fn hex2(digits: [u8; 2]) -> Option<u8> {
    hex_digits(&digits).map(|value| value as u8)
}

/// Eight lower-case hex digits, all in one 64-bit word: each byte is checked to be
/// `0-9` or `a-f` and turned into its nibble together, then the nibbles are packed.
#[inline]
fn hex8(digits: [u8; 8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let v = u64::from_be_bytes(digits);
    if v & HIGH != 0 {
        return None;
    }
    // For bytes below 0x80, `v + (0x80 - k) * ONES` sets a byte's high bit exactly when
    // that byte is at least `k`, without carrying into the next byte.
    let at_least = |k: u8| v.wrapping_add(u64::from(0x80 - k) * ONES) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if digit | letter != HIGH {
        return None;
    }
    // '0'-'9' are 0x30-0x39 and 'a'-'f' 0x61-0x66: the low nibble, plus 9 for letters
    // (whose bit 6 is set).
    let nibbles = (v & (0x0f * ONES)) + ((v >> 6) & ONES) * 9;
    // Pack: two nibbles per byte, two bytes per 16 bits, then four bytes.
    let bytes = (nibbles | nibbles >> 4) & 0x00ff_00ff_00ff_00ff;
    let pairs = (bytes | bytes >> 8) & 0x0000_ffff_0000_ffff;
    Some((pairs | pairs >> 16) as u32)
}

/// Up to 16 lower-case hex digits, a table lookup per digit.
fn hex_digits(bytes: &[u8]) -> Option<u64> {
    const INVALID: u8 = 0xff;
    const TABLE: [u8; 256] = {
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    let mut out = 0u64;
    let mut invalid = 0u8;
    for &b in bytes {
        let digit = TABLE[usize::from(b)];
        invalid |= digit & 0x80;
        out = (out << 4) | u64::from(digit & 0x0f);
    }
    (invalid == 0).then_some(out)
}

/// An unsigned decimal `u64`: digits only, no sign, no blanks inside.
pub(super) fn parse_decimal(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Datadog's limit on `x-datadog-tags`, in bytes.
pub(super) const MAX_TAGS_LEN: usize = 512;

/// Tags that are never taken from upstream.
const REJECTED_TAGS: [&str; 1] = ["_dd.p.upstream_services"];

/// A propagated tag key spanlog accepts and sends: `_dd.p.` and at least one more
/// printable ASCII character, none of them a space, `,` or `=` (what `x-datadog-tags`
/// can carry), nor `;`, `:` or `~` (what `tracestate` cannot carry unchanged).
pub(super) fn valid_tag_key(key: &str) -> bool {
    key.len() > "_dd.p.".len()
        && key.starts_with("_dd.p.")
        && key
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !b",=;:~".contains(&b))
        && !REJECTED_TAGS.contains(&key)
}

/// A propagated tag value spanlog accepts and sends: at least one printable ASCII
/// character, spaces allowed inside but not at either end, none of them `,` (what
/// `x-datadog-tags` can carry), `;` or `~` (what `tracestate` cannot carry unchanged).
pub(super) fn valid_tag_value(value: &str) -> bool {
    !value.is_empty()
        && value.trim_matches(' ') == value
        && value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !b",;~".contains(&b))
}

/// Whether a tag may travel in both header styles unchanged.
pub(super) fn valid_tag(key: &str, value: &str) -> bool {
    valid_tag_key(key) && valid_tag_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_digits_at_a_time_agree_with_one_at_a_time() {
        let mut state = 7u64;
        let mut next = move || {
            // xorshift64: any spread of bytes will do here.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"0123456789abcdefABCDEFgG/:`@ -\x7f\x80\xff";
        for round in 0..200_000u32 {
            let mut digits = [0u8; 8];
            for (i, d) in digits.iter_mut().enumerate() {
                let r = next();
                // Mostly valid digits, sometimes one byte from around the valid ranges.
                *d = if round % 4 == 0 && i == (r >> 32) as usize % 8 {
                    alphabet[(r % alphabet.len() as u64) as usize]
                } else {
                    b"0123456789abcdef"[(r % 16) as usize]
                };
            }
            assert_eq!(
                hex8(digits).map(u64::from),
                hex_digits(&digits),
                "{digits:?}"
            );
        }
        for edge in [*b"00000000", *b"ffffffff", *b"0123abcd", *b"89abcdef"] {
            let text = std::str::from_utf8(&edge).unwrap();
            assert_eq!(hex8(edge), u32::from_str_radix(text, 16).ok());
        }
        for byte in 0..=255u8 {
            let mut digits = *b"12345678";
            digits[3] = byte;
            let valid = byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
            assert_eq!(hex8(digits).is_some(), valid, "{byte:#x}");
        }
    }

    #[test]
    fn fixed_width_hex_agrees_with_the_standard_parser() {
        for byte in 0..=255u8 {
            for digits in [[byte, b'0'], [b'a', byte]] {
                let text = String::from_utf8_lossy(&digits).into_owned();
                let lower = text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                let expected = u8::from_str_radix(&text, 16).ok().filter(|_| lower);
                assert_eq!(hex2(digits), expected, "{digits:?}");
            }
        }
        assert_eq!(hex16(b"92de221fbdd042ee"), Some(0x92de_221f_bdd0_42ee));
        assert_eq!(hex16(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(hex16(b"92de221fbdd042eE"), None);
        assert_eq!(hex16(b"92de221f-dd042ee"), None);
    }

    #[test]
    fn trim_leaves_what_str_trim_leaves() {
        for value in [
            "",
            " ",
            "a",
            " a\t",
            "\u{a0}a",
            "a\u{2003}",
            "00-x-01",
            "\ta b ",
        ] {
            assert_eq!(trim(value), value.trim(), "{value:?}");
        }
    }

    #[test]
    fn lower_hex_in_one_pass() {
        assert_eq!(parse_lower_hex("0"), Some(0));
        assert_eq!(parse_lower_hex("ff"), Some(255));
        assert_eq!(
            parse_lower_hex("6b04d2e800000000e6a5cefc6c3cef4e"),
            Some(0x6b04d2e800000000e6a5cefc6c3cef4e)
        );
        assert_eq!(parse_lower_hex(&"f".repeat(32)), Some(u128::MAX));
        for bad in ["", "FF", "+1", "g", " 1", &"0".repeat(33)] {
            assert_eq!(parse_lower_hex(bad), None, "{bad:?}");
        }
        assert_eq!(parse_hex16("00000000000000ff"), Some(255));
        assert_eq!(parse_hex16("ff"), None);
    }

    #[test]
    fn tags_that_may_travel() {
        assert!(valid_tag("_dd.p.dm", "-4"));
        assert!(valid_tag("_dd.p.usr.id", "baz64"));
        assert!(valid_tag("_dd.p.a", "b c=d"));
        for (key, value) in [
            ("_dd.p.usr", ""),
            ("_dd.p.a b", "c"),
            ("_dd.p.a;b", "c"),
            ("_dd.p.a:b", "c"),
            ("_dd.p.a=", "c"),
            ("_dd.p.", "c"),
            ("other", "c"),
            ("_dd.p.a", "b,c"),
            ("_dd.p.a", "b;c"),
            ("_dd.p.a", "b~c"),
            ("_dd.p.a", " b"),
            ("_dd.p.a", "b "),
            ("_dd.p.a", "é"),
            ("_dd.p.a", "\u{7f}"),
            ("_dd.p.upstream_services", "x"),
        ] {
            assert!(!valid_tag(key, value), "{key:?}={value:?}");
        }
    }
}
