//! The rules header values must follow to be accepted, shared by both styles.

/// Longest header value accepted on extraction, in bytes.
pub(super) const MAX_HEADER_LEN: usize = 8192;

/// Origins are short words (`rum`, `synthetics`, `lambda`): 1 to 64 printable ASCII
/// characters without `,`, `;` or `~` and without blanks at either end, so that they
/// travel unchanged in both styles.
pub(super) fn valid_origin(origin: &str) -> Option<&str> {
    let ok = !origin.is_empty()
        && origin.len() <= 64
        && origin.trim() == origin
        && origin
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !b",;~".contains(&b));
    ok.then_some(origin)
}

/// A 64-bit id as exactly 16 lower-case hex digits (`_dd.p.tid`, tracestate `p:`).
pub(super) fn parse_hex16(value: &str) -> Option<u64> {
    if value.len() != 16 || !is_lower_hex(value) {
        return None;
    }
    u64::from_str_radix(value, 16).ok()
}

pub(super) fn is_lower_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An unsigned decimal `u64`: digits only, no sign, no blanks inside.
pub(super) fn parse_decimal(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}
