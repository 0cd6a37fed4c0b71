//! The correlation fields as `log::kv` pairs: strings, unquoted, unescaped.

use log::kv::{Error, Key, Source, Value, VisitSource};

use super::prefix::Prefix;
use crate::ids_text::IdsText;

/// spanlog's pairs: service, env and version when set, then the ids inside a span.
pub(crate) struct Pairs<'a> {
    pub(crate) prefix: &'a Prefix,
    pub(crate) ids: Option<&'a IdsText>,
    /// `error.kind`, `error.message` and `error.stack`, for a record with an error.
    pub(crate) error: Option<&'a super::error::ErrorFields>,
}

impl Pairs<'_> {
    fn each<'s>(
        &'s self,
        mut f: impl FnMut(&'static str, &'s str) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for (key, value) in self.prefix.values() {
            if !value.is_empty() {
                f(key, value)?;
            }
        }
        if let Some(ids) = self.ids {
            f("dd.trace_id", ids.trace())?;
            f("dd.span_id", ids.span())?;
            f("dd.parent_id", ids.parent())?;
        }
        for (key, value) in self.error.iter().flat_map(|error| error.pairs()) {
            f(key, value)?;
        }
        Ok(())
    }
}

/// A record's own pairs followed by spanlog's. When the record already carries a key
/// spanlog would add, the record's pair wins and spanlog's is left out, so no key
/// appears twice.
pub(crate) struct WithPairs<'a> {
    pub(crate) record: &'a dyn Source,
    pub(crate) ours: Pairs<'a>,
}

impl Source for WithPairs<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), Error> {
        self.record.visit(visitor)?;
        self.ours.each(|key, value| {
            let key = Key::from_str(key);
            if self.record.get(key.clone()).is_some() {
                return Ok(());
            }
            visitor.visit_pair(key, Value::from(value))
        })
    }
}
