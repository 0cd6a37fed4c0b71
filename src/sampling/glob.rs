//! Datadog's glob patterns for sampling rules: `*` is any run of characters, `?` any one
//! character, everything else itself, without regard to ASCII case.

/// A compiled glob pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Glob {
    pattern: Vec<char>,
    /// `*` alone: matches everything, even a value that is not there.
    any: bool,
}

impl Glob {
    pub(crate) fn new(pattern: &str) -> Self {
        Glob {
            any: !pattern.is_empty() && pattern.chars().all(|c| c == '*'),
            pattern: pattern.chars().collect(),
        }
    }

    pub(crate) fn matches_any(&self) -> bool {
        self.any
    }

    /// Whether `value` matches; iterative, with one backtrack point (linear in practice),
    /// and no allocation.
    pub(crate) fn matches(&self, value: &str) -> bool {
        if self.any {
            return true;
        }
        let p = &self.pattern;
        let next = |at: usize| value[at..].chars().next();
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = next(ti) {
            if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&c)) {
                pi += 1;
                ti += c.len_utf8();
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                // Let the star take one more character and try again.
                let taken = next(st).map_or(1, char::len_utf8);
                pi = sp + 1;
                ti = st + taken;
                star = Some((sp, ti));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("web.*", "web.request", true),
            ("web.*", "db.query", false),
            ("WEB.request", "web.REQUEST", true),
            ("/posts/?", "/posts/1", true),
            ("/posts/?", "/posts/12", false),
            ("GET /posts/*", "GET /posts/{id}", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("", "", true),
            ("", "x", false),
            ("**x", "abx", true),
            ("é*ü", "éabcü", true),
            ("?b", "éb", true),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(value),
                expected,
                "{pattern} ~ {value}"
            );
        }
    }
}
