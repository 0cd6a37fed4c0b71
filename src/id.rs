//! Trace and span identifiers, generated the way Datadog's tracers do.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::rng;

/// A 128-bit trace identifier.
///
/// Datadog lays a generated 128-bit trace id out as
/// `<unix seconds: 32 bits><zeros: 32 bits><random: 64 bits>`; with 128-bit generation
/// off, the upper 64 bits are zero. Older Datadog components only know the lower 64 bits
/// ([`TraceId::low`]), which is why log lines and propagation headers treat the halves
/// separately.
///
/// `Display` and `LowerHex` print the 32-digit, zero-padded, lower-case hex form.
///
/// # Examples
///
/// ```
/// use spanlog::TraceId;
///
/// let id = TraceId::from_u128(0x6b04d2e8_00000000_e6a5cefc6c3cef4e);
/// assert_eq!(id.high(), 0x6b04d2e8_00000000);
/// assert_eq!(id.low(), 16619917583423696718);
/// assert_eq!(id.to_string(), "6b04d2e800000000e6a5cefc6c3cef4e");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId {
    // Two halves rather than a `u128`: 8-byte alignment keeps every context that holds
    // a trace id 8 bytes smaller. Field order makes the derived order the `u128`'s.
    high: u64,
    low: u64,
}

impl TraceId {
    /// The invalid, all-zero trace id.
    pub const ZERO: TraceId = TraceId::from_parts(0, 0);

    /// A trace id from its 128-bit value.
    pub const fn from_u128(value: u128) -> Self {
        TraceId::from_parts((value >> 64) as u64, value as u64)
    }

    /// A trace id from its upper and lower 64 bits.
    pub const fn from_parts(high: u64, low: u64) -> Self {
        TraceId { high, low }
    }

    /// The 128-bit value.
    pub const fn to_u128(self) -> u128 {
        ((self.high as u128) << 64) | self.low as u128
    }

    /// The upper 64 bits (Datadog's `_dd.p.tid`).
    pub const fn high(self) -> u64 {
        self.high
    }

    /// The lower 64 bits: what `x-datadog-trace-id` and the agent's `trace_id` carry.
    pub const fn low(self) -> u64 {
        self.low
    }

    /// Whether this is the invalid all-zero id.
    pub const fn is_zero(self) -> bool {
        self.high == 0 && self.low == 0
    }

    /// The id as Datadog's log lines write it: 32 hex digits when `log_128_bit` is on and
    /// the upper half is non-zero, else the lower 64 bits in decimal. Pass
    /// [`Config::trace_id_128_logging`](crate::Config::trace_id_128_logging) to get what
    /// spanlog's own lines show, for a response header, say. (`Display` always prints 32
    /// hex digits.)
    ///
    /// ```
    /// use spanlog::TraceId;
    ///
    /// let id = TraceId::from_u128(0x6b04d2e8_00000000_e6a5cefc6c3cef4e);
    /// assert_eq!(id.for_logs(true).to_string(), "6b04d2e800000000e6a5cefc6c3cef4e");
    /// assert_eq!(id.for_logs(false).to_string(), "16619917583423696718");
    /// let narrow = TraceId::from_parts(0, 42);
    /// assert_eq!(narrow.for_logs(true).to_string(), "42");
    /// ```
    pub fn for_logs(self, log_128_bit: bool) -> LogTraceId {
        LogTraceId {
            id: self,
            hex: self.logged_as_hex(log_128_bit),
        }
    }

    /// Whether log lines write this id as 32 hex digits (else: decimal lower half).
    #[inline]
    pub(crate) const fn logged_as_hex(self, log_128_bit: bool) -> bool {
        log_128_bit && self.high != 0
    }

    /// A new random trace id: with `wide`, Datadog's 128-bit layout (the current unix time
    /// in seconds in the top 32 bits); otherwise the upper 64 bits are zero. The lower
    /// 64 bits are random and never zero.
    pub fn random_with(wide: bool) -> Self {
        let high = if wide { unix_seconds_high() } else { 0 };
        TraceId::from_parts(high, rng::random_nonzero_u64())
    }

    /// The ids of a new root span: a trace id as [`TraceId::random_with`] makes it, and
    /// a span id, drawn together. `now`: the fast clock read as the span starts, if it
    /// was (an exporter is installed); the seconds are then taken from it.
    #[inline]
    pub(crate) fn random_root(wide: bool, now: crate::clock::Stamp) -> (TraceId, SpanId) {
        let (low, span) = rng::two_random_nonzero_u64();
        let high = match (wide, crate::clock::unix_seconds(now)) {
            (false, _) => 0,
            (true, Some(seconds)) => seconds_high(seconds),
            (true, None) => unix_seconds_high(),
        };
        (TraceId::from_parts(high, low), SpanId(span))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.to_u128())
    }
}

impl fmt::LowerHex for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.to_u128(), f)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({:032x})", self.to_u128())
    }
}

/// A [`TraceId`] displayed as log lines write it; made by [`TraceId::for_logs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogTraceId {
    id: TraceId,
    hex: bool,
}

impl fmt::Display for LogTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hex {
            true => fmt::Display::fmt(&self.id, f),
            false => fmt::Display::fmt(&self.id.low, f),
        }
    }
}

impl From<u128> for TraceId {
    fn from(value: u128) -> Self {
        TraceId::from_u128(value)
    }
}

/// A 64-bit span identifier. Generated ids are random and never zero; zero stands for
/// "no parent".
///
/// `Display` prints the unsigned decimal form Datadog uses in logs and headers.
///
/// # Examples
///
/// ```
/// use spanlog::SpanId;
///
/// let id = SpanId::random();
/// assert!(!id.is_zero());
/// assert_eq!(SpanId::from_u64(10582933694091117294).to_string(), "10582933694091117294");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(u64);

impl SpanId {
    /// The zero span id: a root span's parent.
    pub const ZERO: SpanId = SpanId(0);

    /// A span id from its value.
    pub const fn from_u64(value: u64) -> Self {
        SpanId(value)
    }

    /// The 64-bit value.
    pub const fn to_u64(self) -> u64 {
        self.0
    }

    /// Whether this is the zero id.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// A new random, non-zero span id.
    #[inline]
    pub fn random() -> Self {
        SpanId(rng::random_nonzero_u64())
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::LowerHex for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", self.0)
    }
}

impl From<u64> for SpanId {
    fn from(value: u64) -> Self {
        SpanId(value)
    }
}

/// The upper 64 bits of a generated 128-bit trace id: unix seconds, then 32 zero bits.
fn unix_seconds_high() -> u64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    seconds_high(secs)
}

/// `seconds` as the upper 64 bits of a generated 128-bit trace id.
fn seconds_high(seconds: u64) -> u64 {
    // Datadog stores the seconds as a u32; that holds until 2106.
    (seconds as u32 as u64) << 32
}

/// Hashes span or trace ids, which are uniformly random, as themselves: for maps keyed
/// by id.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in, byte by byte.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64 ^ (value >> 64) as u64;
    }
}

/// Hashes keys that are not random already (small consecutive numbers, such as
/// `tracing` span ids, or pairs of ids): one rotate, xor and multiply per word.
#[cfg(any(feature = "agent", feature = "tracing"))]
#[derive(Default)]
pub(crate) struct SpreadHasher(u64);

#[cfg(any(feature = "agent", feature = "tracing"))]
impl std::hash::Hasher for SpreadHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_halves() {
        let id = TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e);
        assert_eq!(id.high(), 0x6b04d2e800000000);
        assert_eq!(id.low(), 16619917583423696718);
        assert_eq!(TraceId::from_parts(id.high(), id.low()), id);
        assert_eq!(format!("{id}"), "6b04d2e800000000e6a5cefc6c3cef4e");
        assert_eq!(
            format!("{:032x}", TraceId::from_u128(1)),
            "00000000000000000000000000000001"
        );
    }

    #[test]
    fn trace_ids_order_and_round_trip_as_u128() {
        let values = [0, 1, u64::MAX as u128, 1 << 64, (1 << 64) + 1, u128::MAX];
        for a in values {
            assert_eq!(TraceId::from_u128(a).to_u128(), a);
            assert_eq!(TraceId::from(a).is_zero(), a == 0);
            for b in values {
                let (x, y) = (TraceId::from_u128(a), TraceId::from_u128(b));
                assert_eq!(x.cmp(&y), a.cmp(&b), "{a:x} vs {b:x}");
            }
        }
    }

    #[test]
    fn wide_trace_ids_carry_the_time_in_the_top_32_bits() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let id = TraceId::random_with(true);
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let secs = id.high() >> 32;
        assert!(
            secs >= before && secs <= after,
            "{secs} not in {before}..={after}"
        );
        assert_eq!(id.high() & 0xffff_ffff, 0, "bits 64..96 must be zero");
        assert_ne!(id.low(), 0);
    }

    #[test]
    fn narrow_trace_ids_have_no_upper_bits() {
        for _ in 0..100 {
            let id = TraceId::random_with(false);
            assert_eq!(id.high(), 0);
            assert_ne!(id.low(), 0);
        }
    }
}
