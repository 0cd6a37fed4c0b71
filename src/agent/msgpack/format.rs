//! The two payload formats: v0.4 writes each span as a map of named fields, v0.5 as
//! an array in a fixed order with its strings in a table.

use super::strings::StringTable;
use super::writer::{Sink, VecWriter, Writer};

/// How a payload lays out a span and writes its strings.
pub(super) trait Format {
    /// Whether a span's links are a field of their own (`span_links`); else they go in
    /// its meta, as `_dd.span_links`, as Datadog's tracers send them then.
    const NATIVE_LINKS: bool;
    /// A span's header: 12 fields, or `fields`.
    fn span(&mut self, out: &mut VecWriter<'_>, fields: usize);
    /// A field's name, pre-encoded.
    fn key<S: Sink>(&mut self, out: &mut Writer<S>, encoded: &'static [u8]);
    /// A string value, or a map's key, that stays where it is, unchanged, while the
    /// payload is written: borrowed from the batch, the exporter, or the program.
    fn str(&mut self, out: &mut VecWriter<'_>, s: &str);
    /// A string made for this call (its memory may hold another string next time).
    fn str_copy(&mut self, out: &mut VecWriter<'_>, s: &str) {
        self.str(out, s);
    }
}

/// v0.4: a span is a map; field names and strings are written where they are used.
pub(super) struct V04;

impl Format for V04 {
    const NATIVE_LINKS: bool = true;

    #[inline(always)]
    fn span(&mut self, out: &mut VecWriter<'_>, fields: usize) {
        out.map_len(fields);
    }

    #[inline(always)]
    fn key<S: Sink>(&mut self, out: &mut Writer<S>, encoded: &'static [u8]) {
        out.bytes(encoded);
    }

    #[inline(always)]
    fn str(&mut self, out: &mut VecWriter<'_>, s: &str) {
        out.str(s);
    }
}

/// v0.5: a span is an array whose positions name the fields; a string is its place in
/// the payload's table.
pub(super) struct V05<'t>(pub(super) &'t mut StringTable);

impl Format for V05<'_> {
    const NATIVE_LINKS: bool = false;

    #[inline(always)]
    fn span(&mut self, out: &mut VecWriter<'_>, _: usize) {
        out.array_len(12);
    }

    #[inline(always)]
    fn key<S: Sink>(&mut self, _: &mut Writer<S>, _: &'static [u8]) {}

    #[inline(always)]
    fn str(&mut self, out: &mut VecWriter<'_>, s: &str) {
        out.uint(u64::from(self.0.index_stable(s)));
    }

    fn str_copy(&mut self, out: &mut VecWriter<'_>, s: &str) {
        out.uint(u64::from(self.0.index(s)));
    }
}
