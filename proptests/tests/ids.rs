//! Trace ids behave as the 128-bit numbers they hold.

use proptest::prelude::*;
use spanlog::TraceId;

proptest! {
    #[test]
    fn trace_ids_are_their_u128(a: u128, b: u128) {
        let (x, y) = (TraceId::from_u128(a), TraceId::from_u128(b));
        prop_assert_eq!(x.to_u128(), a);
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        prop_assert_eq!(x == y, a == b);
        prop_assert_eq!(format!("{x}"), format!("{a:032x}"));
        prop_assert_eq!(TraceId::from_parts(x.high(), x.low()), x);
        let low = a as u64;
        let expected = if x.high() != 0 { format!("{a:032x}") } else { low.to_string() };
        prop_assert_eq!(x.for_logs(true).to_string(), expected);
        prop_assert_eq!(x.for_logs(false).to_string(), low.to_string());
    }
}
