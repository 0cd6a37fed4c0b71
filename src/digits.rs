//! Ids as hex text, eight digits at a time, with a few shifts and masks instead of a
//! table look-up per digit (SWAR: SIMD within a register). The tests compare it with
//! `format!`.
//!
//! (Decimal digits the same way, and this for the log lines' ids, were tried twice:
//! where the digits must become a `&str` without `unsafe`, checking them as UTF-8 cost
//! more than the look-ups saved, even once for a span's whole id text: `str::from_utf8`
//! spends about three instructions a byte on a hundred bytes, and the first line in a
//! new span went from 2,130 to 2,414 instructions. The log path keeps `itoa` and its
//! table.)

/// `value`'s 16 lower-case hex digits, most significant first.
#[inline]
pub(crate) fn hex16(value: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&hex8((value >> 32) as u32));
    out[8..].copy_from_slice(&hex8(value as u32));
    out
}

/// `value`'s 8 lower-case hex digits, most significant first.
#[inline]
fn hex8(value: u32) -> [u8; 8] {
    // One nibble per byte, the least significant in the lowest byte.
    let mut x = u64::from(value);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    // Nibbles of 10 and more get 'a' - '0' - 10 = 39 more than '0' + nibble.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + letters * 39).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Vec<u64> {
        let mut values = vec![0, 1, 9, 10, 99, 100, u64::MAX, u64::MAX - 1, 1 << 63];
        for digits in 1..=19u32 {
            let p = 10u64.pow(digits);
            values.extend([p - 1, p, p + 1]);
        }
        // A fixed sequence spread over every width (xorshift).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x >> (x % 64));
        }
        values
    }

    #[test]
    fn hex_matches_format() {
        for v in values() {
            assert_eq!(hex16(v), *format!("{v:016x}").as_bytes(), "{v:x}");
        }
    }
}
