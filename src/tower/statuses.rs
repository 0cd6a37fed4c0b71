//! Sets of HTTP status codes, as Datadog's `DD_TRACE_HTTP_*_ERROR_STATUSES` write them.

use std::fmt;

use crate::InvalidValue;

/// A set of HTTP status codes, e.g. `500-599` or `403,418,429-451`: the codes that mark
/// a span as an error.
///
/// ```
/// use spanlog::tower::StatusCodes;
///
/// let codes = StatusCodes::parse("403, 429-451,503").unwrap();
/// assert!(codes.contains(430) && codes.contains(503));
/// assert!(!codes.contains(500));
/// assert!(StatusCodes::parse("5xx").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StatusCodes {
    /// One bit per code from 100 to 611 (codes above 599 are never set): copied into
    /// each request's future instead of shared behind a reference count.
    bits: [u64; 8],
}

const FIRST: u16 = 100;

impl StatusCodes {
    /// 500–599: the server errors, Datadog's default for server spans.
    pub fn server_errors() -> Self {
        StatusCodes::none().with_range(500, 599)
    }

    /// 400–499: the client errors, Datadog's default for client spans.
    pub fn client_errors() -> Self {
        StatusCodes::none().with_range(400, 499)
    }

    /// No code at all: no span is marked as an error for its status.
    pub fn none() -> Self {
        StatusCodes { bits: [0; 8] }
    }

    /// Adds `low..=high`, both between 100 and 599.
    fn with_range(mut self, low: u16, high: u16) -> Self {
        for code in low..=high {
            let bit = usize::from(code - FIRST);
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
        self
    }

    /// The codes in the set, as inclusive ranges in order.
    fn ranges(&self) -> Vec<(u16, u16)> {
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for code in (100..600).filter(|&c| self.contains(c)) {
            match ranges.last_mut() {
                Some((_, high)) if *high + 1 == code => *high = code,
                _ => ranges.push((code, code)),
            }
        }
        ranges
    }

    /// Parses comma-separated codes and inclusive ranges (`500-599`), each between 100
    /// and 599; blanks around items are ignored.
    ///
    /// # Errors
    ///
    /// When an item is not a code or a range of codes, or nothing is given.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let invalid = |reason: &'static str| InvalidValue::new("status codes", text, reason);
        let code = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| invalid("expected codes from 100 to 599, or ranges like 500-599"))
        };
        let mut codes = StatusCodes::none();
        let mut any = false;
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let range = match item.split_once('-') {
                Some((low, high)) => (code(low)?, code(high)?),
                None => {
                    let c = code(item)?;
                    (c, c)
                }
            };
            if range.0 > range.1 {
                return Err(invalid("a range must go from low to high"));
            }
            codes = codes.with_range(range.0, range.1);
            any = true;
        }
        if !any {
            return Err(invalid("no status code given"));
        }
        Ok(codes)
    }

    /// Whether `code` is in the set.
    #[inline]
    pub fn contains(&self, code: u16) -> bool {
        let Some(bit) = code.checked_sub(FIRST).map(usize::from) else {
            return false;
        };
        self.bits
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }
}

/// The ranges, as they would be written: `StatusCodes("429, 500-599")`.
impl fmt::Debug for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self
            .ranges()
            .into_iter()
            .map(|(low, high)| match low == high {
                true => low.to_string(),
                false => format!("{low}-{high}"),
            })
            .collect();
        write!(f, "StatusCodes({:?})", ranges.join(","))
    }
}

/// Why a list of status codes could not be read.
#[deprecated(
    since = "0.2.0",
    note = "every invalid value is a `spanlog::InvalidValue`"
)]
pub type InvalidStatusCodes = crate::InvalidValue;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_ranges() {
        let codes = StatusCodes::parse("403,418,429-451,503").unwrap();
        for (code, expected) in [
            (403, true),
            (404, false),
            (429, true),
            (451, true),
            (452, false),
            (503, true),
        ] {
            assert_eq!(codes.contains(code), expected, "{code}");
        }
        assert!(StatusCodes::server_errors().contains(500));
        assert!(!StatusCodes::server_errors().contains(499));
        assert!(StatusCodes::client_errors().contains(404));
        assert!(!StatusCodes::none().contains(500));
        for outside in [0, 99, 600, 611, 612, u16::MAX] {
            assert!(
                !StatusCodes::parse("100-599").unwrap().contains(outside),
                "{outside}"
            );
        }
        assert!(StatusCodes::parse("100").unwrap().contains(100));
        assert_eq!(
            format!("{:?}", StatusCodes::parse("503, 429,500-502 ,100").unwrap()),
            r#"StatusCodes("100,429,500-503")"#
        );
    }

    #[test]
    fn bad_input_is_an_error_that_says_why() {
        for bad in [
            "",
            " , ",
            "5xx",
            "600",
            "99",
            "510-500",
            "500-",
            "-500",
            "500-599-600",
        ] {
            let err = StatusCodes::parse(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid status codes"),
                "{bad}: {err}"
            );
        }
    }
}
