//! [`Propagator`]: which styles to extract and inject, from code or from
//! `DD_TRACE_PROPAGATION_STYLE[_EXTRACT|_INJECT]`, and the process-wide one.

use once_cell::sync::OnceCell;

use super::baggage::{self, Limits};
use super::carrier::{Extractor, Injector};
use super::incoming::{fresh, link, refine, same_trace};
use super::outgoing::Trace;
use super::style::{ExtractBehavior, ExtractedContext, PropagationStyle};
use super::{b3, datadog, w3c};
use crate::env::Env;
use crate::global::AlreadySet;
use crate::span_context::SpanContext;

/// Which styles to extract and inject, in order.
///
/// ```
/// use spanlog::propagation::{PropagationStyle, Propagator};
///
/// let w3c_only = Propagator::new()
///     .with_extract(&[PropagationStyle::TraceContext])
///     .with_inject(&[PropagationStyle::TraceContext]);
/// assert_eq!(w3c_only.extract_styles(), &[PropagationStyle::TraceContext]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Propagator {
    extract: Vec<PropagationStyle>,
    inject: Vec<PropagationStyle>,
    extract_first: bool,
    behavior: ExtractBehavior,
    baggage_limits: Limits,
    /// Incoming baggage items copied onto the local root span as `baggage.<key>`;
    /// `*` copies them all.
    baggage_tag_keys: Vec<String>,
}

const DEFAULT_STYLES: [PropagationStyle; 3] = [
    PropagationStyle::Datadog,
    PropagationStyle::TraceContext,
    PropagationStyle::Baggage,
];

/// The baggage items tagged by default, as in Datadog's tracers.
const DEFAULT_BAGGAGE_TAG_KEYS: [&str; 3] = ["user.id", "account.id", "session.id"];

impl Default for Propagator {
    fn default() -> Self {
        Propagator::new()
    }
}

impl Propagator {
    /// Datadog's, the W3C's trace context and baggage, in that order, in both
    /// directions; baggage within Datadog's limits (64 items, 8192 bytes), with
    /// `user.id`, `account.id` and `session.id` tagged on the local root span.
    pub fn new() -> Self {
        Propagator {
            extract: DEFAULT_STYLES.to_vec(),
            inject: DEFAULT_STYLES.to_vec(),
            extract_first: false,
            behavior: ExtractBehavior::Continue,
            baggage_limits: Limits::default(),
            baggage_tag_keys: DEFAULT_BAGGAGE_TAG_KEYS.map(String::from).to_vec(),
        }
    }

    /// The styles `DD_TRACE_PROPAGATION_STYLE`, `_EXTRACT` and `_INJECT` name, with
    /// `DD_TRACE_PROPAGATION_EXTRACT_FIRST`, `DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT`
    /// (`continue`, `restart`, `ignore`), `DD_TRACE_BAGGAGE_MAX_ITEMS`,
    /// `DD_TRACE_BAGGAGE_MAX_BYTES` and `DD_TRACE_BAGGAGE_TAG_KEYS` (set but empty:
    /// no tags). Unknown names print one warning on standard
    /// error each and are skipped; a variable naming nothing usable leaves the default.
    pub fn from_env() -> Self {
        Self::from_vars(&mut crate::env::process())
    }

    pub(crate) fn from_vars(env: &mut Env<'_>) -> Self {
        const BOTH: &str = "DD_TRACE_PROPAGATION_STYLE";
        // The variable for both directions is read, and warned about, once, and only
        // when a direction has no variable of its own.
        let mut both: Option<Vec<PropagationStyle>> = None;
        let mut styles = [
            "DD_TRACE_PROPAGATION_STYLE_EXTRACT",
            "DD_TRACE_PROPAGATION_STYLE_INJECT",
        ]
        .map(|specific| match env.get(specific) {
            Some(value) => parse_styles(specific, &value, env),
            None => both
                .get_or_insert_with(|| match env.get(BOTH) {
                    Some(value) => parse_styles(BOTH, &value, env),
                    None => DEFAULT_STYLES.to_vec(),
                })
                .clone(),
        });
        const BEHAVIOR: &str = "DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT";
        let behavior = match env.get(BEHAVIOR) {
            None => ExtractBehavior::Continue,
            Some(value) => match value.trim().to_ascii_lowercase().as_str() {
                "continue" => ExtractBehavior::Continue,
                "restart" => ExtractBehavior::Restart,
                "ignore" => ExtractBehavior::Ignore,
                _ => {
                    env.warn(format!(
                        "spanlog: ignoring {BEHAVIOR}={value:?}: expected continue, restart or ignore"
                    ));
                    ExtractBehavior::Continue
                }
            },
        };
        let defaults = Limits::default();
        let baggage_limits = Limits {
            items: env.get_count("DD_TRACE_BAGGAGE_MAX_ITEMS", defaults.items),
            bytes: env.get_count("DD_TRACE_BAGGAGE_MAX_BYTES", defaults.bytes),
        };
        // Set but empty means no tags at all.
        let baggage_tag_keys = match env.get_even_empty("DD_TRACE_BAGGAGE_TAG_KEYS") {
            Some(keys) => tag_keys(keys.split(',')),
            None => DEFAULT_BAGGAGE_TAG_KEYS.map(String::from).to_vec(),
        };
        Propagator {
            inject: std::mem::take(&mut styles[1]),
            extract: std::mem::take(&mut styles[0]),
            extract_first: env.get_bool("DD_TRACE_PROPAGATION_EXTRACT_FIRST", false),
            behavior,
            baggage_limits,
            baggage_tag_keys,
        }
    }

    /// Sets the extraction styles, in order of preference.
    #[must_use]
    pub fn with_extract(mut self, styles: &[PropagationStyle]) -> Self {
        self.extract = styles.to_vec();
        self
    }

    /// Sets the injection styles.
    #[must_use]
    pub fn with_inject(mut self, styles: &[PropagationStyle]) -> Self {
        self.inject = styles.to_vec();
        self
    }

    /// Takes the first valid context and looks no further (`true`), or, the default,
    /// reads every extraction style: a W3C context of the same trace then refines the
    /// first one, and contexts of other traces are linked from the local root span
    /// (`reason=terminated_context`).
    #[must_use]
    pub fn with_extract_first(mut self, first: bool) -> Self {
        self.extract_first = first;
        self
    }

    /// What to do with a valid incoming context: continue it (the default), restart
    /// (a new trace linked to it), or ignore it.
    #[must_use]
    pub fn with_extract_behavior(mut self, behavior: ExtractBehavior) -> Self {
        self.behavior = behavior;
        self
    }

    /// The most baggage items read from, and written to, one `baggage` header
    /// (`DD_TRACE_BAGGAGE_MAX_ITEMS`, 64 by default), and the most bytes
    /// (`DD_TRACE_BAGGAGE_MAX_BYTES`, 8192). Items past either limit are dropped
    /// whole, never cut.
    #[must_use]
    pub fn with_baggage_limits(mut self, max_items: usize, max_bytes: usize) -> Self {
        self.baggage_limits = Limits {
            items: max_items,
            bytes: max_bytes,
        };
        self
    }

    /// The incoming baggage items copied onto the local root span as `baggage.<key>`
    /// tags (`DD_TRACE_BAGGAGE_TAG_KEYS`, comma-separated): `*` copies them all, none
    /// copies none. By default `user.id`, `account.id` and `session.id`.
    ///
    /// ```
    /// use spanlog::propagation::Propagator;
    ///
    /// let propagator = Propagator::new().with_baggage_tag_keys(["tenant", " region "]);
    /// assert_eq!(propagator.baggage_tag_keys(), ["tenant", "region"]);
    /// ```
    #[must_use]
    pub fn with_baggage_tag_keys<K: AsRef<str>>(
        mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Self {
        self.baggage_tag_keys = tag_keys(keys);
        self
    }

    /// The baggage items tagged on the local root span.
    pub fn baggage_tag_keys(&self) -> &[String] {
        &self.baggage_tag_keys
    }

    /// What extraction does with a valid incoming context.
    pub fn extract_behavior(&self) -> ExtractBehavior {
        self.behavior
    }

    /// The extraction styles, in order.
    pub fn extract_styles(&self) -> &[PropagationStyle] {
        &self.extract
    }

    /// The injection styles.
    pub fn inject_styles(&self) -> &[PropagationStyle] {
        &self.inject
    }

    /// The context in `carrier`: the first style, in order, whose headers are valid,
    /// refined and linked as [`with_extract_first`](Self::with_extract_first) says, and
    /// continued, restarted or ignored as
    /// [`with_extract_behavior`](Self::with_extract_behavior) says.
    pub fn extract<E: Extractor + ?Sized>(&self, carrier: &E) -> Option<ExtractedContext> {
        // One copy of the extraction code for every carrier, through `dyn`.
        self.extract_from::<dyn Extractor>(&Dyn(carrier))
    }

    /// [`extract`](Self::extract) from a server's header index, compiled for it: its
    /// look-ups of known names are direct, not through `dyn`.
    #[cfg(feature = "tower")]
    pub(crate) fn extract_index(
        &self,
        headers: &super::HeaderIndex<'_>,
    ) -> Option<ExtractedContext> {
        self.extract_from(headers)
    }

    fn extract_from<E: Extractor + ?Sized>(&self, carrier: &E) -> Option<ExtractedContext> {
        if self.behavior == ExtractBehavior::Ignore {
            return None;
        }
        let baggage = match self.extract.contains(&PropagationStyle::Baggage) {
            true => baggage::extract(carrier, self.baggage_limits),
            false => Vec::new(),
        };
        let (style, mut context) = match self.extract_trace(carrier) {
            Some(found) => found,
            // Baggage alone: a new trace that keeps it.
            None if !baggage.is_empty() => (PropagationStyle::Baggage, fresh(Vec::new())),
            None => return None,
        };
        if self.behavior == ExtractBehavior::Restart && style != PropagationStyle::Baggage {
            context = fresh(vec![link(
                style,
                &context,
                carrier,
                "propagation_behavior_extract",
            )]);
        }
        if !baggage.is_empty() {
            let tags = self.baggage_tags(&baggage);
            let meta = context.trace.get_or_insert_with(Default::default);
            let meta = std::sync::Arc::make_mut(meta);
            meta.baggage = baggage;
            meta.baggage_tags = tags;
        }
        Some(ExtractedContext { context, style })
    }

    /// The trace context in `carrier`: the first style, in order, whose headers are
    /// valid, refined and linked as [`with_extract_first`](Self::with_extract_first)
    /// says.
    fn extract_trace<E: Extractor + ?Sized>(
        &self,
        carrier: &E,
    ) -> Option<(PropagationStyle, SpanContext)> {
        let mut found = self
            .extract
            .iter()
            .filter_map(|&style| Some((style, extract_style(style, carrier)?)));
        let (style, mut context) = found.next()?;
        if !self.extract_first {
            let mut links = Vec::new();
            for (other, candidate) in found {
                if !same_trace(&context, &candidate) {
                    links.push(link(other, &candidate, carrier, "terminated_context"));
                } else if other == PropagationStyle::TraceContext {
                    refine(&mut context, &candidate);
                }
            }
            if !links.is_empty() {
                let meta = context.trace.get_or_insert_with(Default::default);
                std::sync::Arc::make_mut(meta).links = links;
            }
        }
        Some((style, context))
    }

    /// The `baggage.<key>` tags for the local root span.
    fn baggage_tags(&self, items: &[(String, String)]) -> Vec<(String, String)> {
        let all = self.baggage_tag_keys.iter().any(|k| k == "*");
        items
            .iter()
            .filter(|(key, _)| all || self.baggage_tag_keys.contains(key))
            .map(|(key, value)| (format!("baggage.{key}"), value.clone()))
            .collect()
    }

    /// Writes `context` into `carrier` in every injection style, baggage last. No
    /// trace headers are written for a zero trace id or span id (baggage still is).
    pub fn inject<I: Injector + ?Sized>(&self, context: &SpanContext, carrier: &mut I) {
        let carrier = &mut DynMut(carrier);
        if !(context.trace_id.is_zero() || context.span_id.is_zero()) {
            let trace = Trace::new(context);
            for style in &self.inject {
                match style {
                    PropagationStyle::Datadog => datadog::inject(&trace, carrier),
                    PropagationStyle::TraceContext => w3c::inject(&trace, carrier),
                    PropagationStyle::B3Multi => b3::inject_multi(&trace, carrier),
                    PropagationStyle::B3Single => b3::inject_single(&trace, carrier),
                    PropagationStyle::Baggage => {}
                }
            }
        }
        let items = context.baggage_slice();
        if !items.is_empty() && self.inject.contains(&PropagationStyle::Baggage) {
            baggage::inject(items, carrier, self.baggage_limits);
        }
    }

    /// Makes this the propagator that [`extract`](super::extract) and [`inject`](super::inject) use.
    ///
    /// # Errors
    ///
    /// Fails, handing the propagator back, when the global one was already set or used.
    pub fn set_global(self) -> Result<(), AlreadySet<Propagator>> {
        GLOBAL
            .set(self)
            .map_err(|propagator| AlreadySet::new("propagator", propagator))
    }

    /// The process-wide propagator: the one given to [`Propagator::set_global`], or
    /// else [`Propagator::from_env`], read on first use.
    pub fn global() -> &'static Propagator {
        GLOBAL.get_or_init(Propagator::from_env)
    }
}

static GLOBAL: OnceCell<Propagator> = OnceCell::new();

/// The process-wide propagator.
#[deprecated(since = "0.2.0", note = "use `Propagator::global()`")]
pub fn global() -> &'static Propagator {
    Propagator::global()
}

/// Tag keys as configured: trimmed, blanks left out.
fn tag_keys<K: AsRef<str>>(keys: impl IntoIterator<Item = K>) -> Vec<String> {
    keys.into_iter()
        .map(|k| k.as_ref().trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect()
}

fn extract_style<E: Extractor + ?Sized>(
    style: PropagationStyle,
    carrier: &E,
) -> Option<SpanContext> {
    match style {
        PropagationStyle::Datadog => datadog::extract(carrier),
        PropagationStyle::TraceContext => w3c::extract(carrier),
        PropagationStyle::B3Multi => b3::extract_multi(carrier),
        PropagationStyle::B3Single => b3::extract_single(carrier),
        PropagationStyle::Baggage => None,
    }
}

fn parse_styles(name: &str, value: &str, env: &mut Env<'_>) -> Vec<PropagationStyle> {
    let mut styles = Vec::new();
    let mut none = false;
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let style = match word.to_ascii_lowercase().as_str() {
            "datadog" => PropagationStyle::Datadog,
            "tracecontext" => PropagationStyle::TraceContext,
            "b3multi" => PropagationStyle::B3Multi,
            "b3" | "b3 single header" => PropagationStyle::B3Single,
            "baggage" => PropagationStyle::Baggage,
            "none" => {
                none = true;
                continue;
            }
            _ => {
                env.warn(format!(
                    "spanlog: ignoring {word:?} in {name}={value:?}: spanlog knows datadog, tracecontext, b3multi, b3 (or b3 single header), baggage and none"
                ));
                continue;
            }
        };
        // A style named twice counts once, where it first appears.
        if !styles.contains(&style) {
            styles.push(style);
        }
    }
    if styles.is_empty() && !none {
        return DEFAULT_STYLES.to_vec();
    }
    styles
}

/// Sized wrappers so the style modules can take `&dyn Extractor` / `&mut dyn Injector`
/// from unsized carriers too.
struct Dyn<'a, E: ?Sized>(&'a E);

impl<E: Extractor + ?Sized> Extractor for Dyn<'_, E> {
    fn get(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.0.get(name)
    }

    fn get_bytes(&self, name: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        self.0.get_bytes(name)
    }
}

struct DynMut<'a, I: ?Sized>(&'a mut I);

impl<I: Injector + ?Sized> Injector for DynMut<'_, I> {
    fn set(&mut self, name: &'static str, value: String) {
        self.0.set(name, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::read_with;
    use crate::id::SpanId;

    #[test]
    fn baggage_settings_from_the_environment() {
        let read = |vars: &[(&str, &str)]| read_with(vars, Propagator::from_vars);
        let (p, w) = read(&[]);
        assert!(w.is_empty());
        assert_eq!(p.baggage_limits, Limits::default());
        assert_eq!(p.baggage_tag_keys(), DEFAULT_BAGGAGE_TAG_KEYS);
        assert!(p.extract_styles().contains(&PropagationStyle::Baggage));
        let (p, w) = read(&[
            ("DD_TRACE_BAGGAGE_MAX_ITEMS", "3"),
            ("DD_TRACE_BAGGAGE_MAX_BYTES", " 100 "),
            ("DD_TRACE_BAGGAGE_TAG_KEYS", "tenant, ,region,"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            p.baggage_limits,
            Limits {
                items: 3,
                bytes: 100
            }
        );
        assert_eq!(p.baggage_tag_keys(), ["tenant", "region"]);
        let (p, w) = read(&[
            ("DD_TRACE_BAGGAGE_MAX_ITEMS", "many"),
            ("DD_TRACE_BAGGAGE_TAG_KEYS", " "),
        ]);
        assert_eq!(p.baggage_limits, Limits::default());
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("DD_TRACE_BAGGAGE_MAX_ITEMS") && w[0].contains("many"));
        assert!(p.baggage_tag_keys().is_empty(), "set but blank: no tags");
        let (p, _) = read(&[("DD_TRACE_PROPAGATION_STYLE", "baggage")]);
        assert_eq!(p.inject_styles(), [PropagationStyle::Baggage]);
    }

    #[test]
    fn styles_from_the_environment() {
        let read = |vars: &[(&str, &str)]| read_with(vars, Propagator::from_vars);
        let (p, w) = read(&[]);
        assert_eq!(p, Propagator::new());
        assert!(w.is_empty());
        let (p, _) = read(&[("DD_TRACE_PROPAGATION_STYLE", "tracecontext")]);
        assert_eq!(p.extract_styles(), [PropagationStyle::TraceContext]);
        assert_eq!(p.inject_styles(), [PropagationStyle::TraceContext]);
        let (p, _) = read(&[
            ("DD_TRACE_PROPAGATION_STYLE", "tracecontext"),
            ("DD_TRACE_PROPAGATION_STYLE_INJECT", "Datadog, TraceContext"),
        ]);
        assert_eq!(p.extract_styles(), [PropagationStyle::TraceContext]);
        assert_eq!(
            p.inject_styles(),
            [PropagationStyle::Datadog, PropagationStyle::TraceContext]
        );
        let (p, _) = read(&[("DD_TRACE_PROPAGATION_STYLE_EXTRACT", "none")]);
        assert!(p.extract_styles().is_empty());
        let headers = std::collections::HashMap::from([
            ("x-datadog-trace-id".to_owned(), "1".to_owned()),
            ("x-datadog-parent-id".to_owned(), "2".to_owned()),
        ]);
        assert!(Propagator::new().extract(&headers).is_some());
        assert!(p.extract(&headers).is_none());
        let (p, w) = read(&[("DD_TRACE_PROPAGATION_STYLE", "zipkin,tracecontext")]);
        assert_eq!(p.extract_styles(), [PropagationStyle::TraceContext]);
        assert_eq!(w.len(), 1, "one warning, not one per direction: {w:?}");
        assert!(w[0].contains("zipkin") && w[0].contains("DD_TRACE_PROPAGATION_STYLE"));
        let (p, w) = read(&[("DD_TRACE_PROPAGATION_STYLE", "B3multi, b3 single header,b3")]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            p.extract_styles(),
            [PropagationStyle::B3Multi, PropagationStyle::B3Single]
        );
        let (p, w) = read(&[("DD_TRACE_PROPAGATION_STYLE", "bogus")]);
        assert_eq!(p, Propagator::new(), "nothing usable: the default");
        assert_eq!(w.len(), 1, "{w:?}");
        // Both directions with variables of their own: the shared one is not read.
        let (_, w) = read(&[
            ("DD_TRACE_PROPAGATION_STYLE", "bogus"),
            ("DD_TRACE_PROPAGATION_STYLE_EXTRACT", "datadog"),
            ("DD_TRACE_PROPAGATION_STYLE_INJECT", "datadog"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        let (p, w) = read(&[
            ("DD_TRACE_PROPAGATION_EXTRACT_FIRST", "true"),
            ("DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT", "Restart"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            p,
            Propagator::new()
                .with_extract_first(true)
                .with_extract_behavior(ExtractBehavior::Restart)
        );
        let (p, w) = read(&[("DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT", "ignore")]);
        assert_eq!(p.extract_behavior(), ExtractBehavior::Ignore);
        assert!(w.is_empty(), "{w:?}");
        let (p, w) = read(&[("DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT", "drop")]);
        assert_eq!(p.extract_behavior(), ExtractBehavior::Continue);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT"),
            "{w:?}"
        );
    }

    fn extract(pairs: &[(&str, &str)]) -> SpanContext {
        let headers: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Propagator::new()
            .extract(&headers)
            .expect("a context")
            .context
    }

    fn meta(context: &SpanContext) -> &crate::span_context::TraceMeta {
        context.trace.as_deref().expect("trace data")
    }

    fn inject_all(context: &SpanContext) -> std::collections::HashMap<String, String> {
        let mut out = std::collections::HashMap::new();
        Propagator::new().inject(context, &mut out);
        out
    }

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn tracestate_tags_that_cannot_travel_are_dropped_and_noted() {
        for state in ["dd=s:1;t.usr:", "dd=s:1;t.a b:c"] {
            let context = extract(&[("traceparent", TP), ("tracestate", state)]);
            assert!(meta(&context).tags.is_empty(), "{state}");
            assert_eq!(
                meta(&context).propagation_error.as_deref(),
                Some("decoding_error")
            );
            let out = inject_all(&context);
            assert_eq!(
                out["x-datadog-tags"], "_dd.p.tid=0af7651916cd43dd",
                "{state}"
            );
            assert_eq!(
                out["tracestate"], "dd=p:b7ad6b7169203331;s:1;t.tid:0af7651916cd43dd",
                "{state}"
            );
        }
        let context = extract(&[("traceparent", TP), ("tracestate", "dd=s:1;t.usr.id:a~b")]);
        assert_eq!(
            meta(&context).tags,
            [("_dd.p.usr.id".to_owned(), "a=b".to_owned())]
        );
        assert_eq!(meta(&context).propagation_error, None);
    }

    #[test]
    fn datadog_tags_that_cannot_travel_in_tracestate_are_dropped() {
        let context = extract(&[
            ("x-datadog-trace-id", "1"),
            ("x-datadog-parent-id", "2"),
            ("x-datadog-tags", "_dd.p.a;b=c,_dd.p.ok=yes"),
        ]);
        assert_eq!(
            meta(&context).tags,
            [("_dd.p.ok".to_owned(), "yes".to_owned())]
        );
        let out = inject_all(&context);
        assert_eq!(out["x-datadog-tags"], "_dd.p.dm=-0,_dd.p.ok=yes");
        let mut back = std::collections::HashMap::new();
        back.insert("traceparent".to_owned(), out["traceparent"].clone());
        back.insert("tracestate".to_owned(), out["tracestate"].clone());
        let again = Propagator::new()
            .extract(&back)
            .expect("our own tracestate is valid");
        let tags = &meta(&again.context).tags;
        assert_eq!(
            tags,
            &[
                ("_dd.p.dm".to_owned(), "-0".to_owned()),
                ("_dd.p.ok".to_owned(), "yes".to_owned())
            ]
        );
    }

    #[test]
    fn unreadable_datadog_tags_are_noted() {
        let big = format!("_dd.p.big={}", "x".repeat(600));
        for (tags, error) in [
            (big.as_str(), "extract_max_size"),
            ("_dd.p.a b=c", "decoding_error"),
        ] {
            let context = extract(&[
                ("x-datadog-trace-id", "1"),
                ("x-datadog-parent-id", "2"),
                ("x-datadog-tags", tags),
            ]);
            assert_eq!(meta(&context).propagation_error.as_deref(), Some(error));
            assert!(meta(&context).tags.is_empty());
        }
    }

    /// A proxy that updated only `traceparent`: its parent wins, and the Datadog
    /// parent is kept (from tracestate's `p:` when present).
    #[test]
    fn the_w3c_parent_wins_over_a_stale_datadog_one() {
        let datadog = [
            ("x-datadog-trace-id", "9532127138774266268"),
            ("x-datadog-parent-id", "1"),
            ("x-datadog-tags", "_dd.p.tid=0af7651916cd43dd"),
        ];
        let with = |state: Option<&str>| {
            let mut pairs = datadog.to_vec();
            pairs.push(("traceparent", TP));
            if let Some(state) = state {
                pairs.push(("tracestate", state));
            }
            extract(&pairs)
        };
        let context = with(None);
        assert_eq!(context.span_id, SpanId::from_u64(0xb7ad6b7169203331));
        assert_eq!(
            meta(&context).last_parent_id.as_deref(),
            Some("0000000000000001")
        );
        let context = with(Some("dd=s:1;p:00000000000000aa"));
        assert_eq!(context.span_id, SpanId::from_u64(0xb7ad6b7169203331));
        assert_eq!(
            meta(&context).last_parent_id.as_deref(),
            Some("00000000000000aa")
        );
        // The same parent in both: nothing to reconcile.
        let same = extract(&[
            ("x-datadog-trace-id", "9532127138774266268"),
            ("x-datadog-parent-id", "13235353014750950193"),
            ("traceparent", TP),
        ]);
        assert_eq!(same.span_id, SpanId::from_u64(0xb7ad6b7169203331));
        // Nothing beyond the ids and the decision: no trace data at all.
        assert_eq!(same.trace, None);
        assert_eq!(
            same.upstream_priority(),
            None,
            "no x-datadog-sampling-priority"
        );
    }

    /// `p:` names the last Datadog span upstream; Datadog's tracers copy it to
    /// `_dd.parent_id` as it came, hex or not, and continue the trace.
    #[test]
    fn tracestate_p_is_kept_as_it_came() {
        for (p, kept) in [("0123456789abcdef", "0123456789abcdef"), ("XX!X", "XX!X")] {
            let state = format!("key1=value1,dd=s:2;t.dm:-4;p:{p}");
            let context = extract(&[("traceparent", TP), ("tracestate", &state)]);
            assert_eq!(context.span_id, SpanId::from_u64(0xb7ad6b7169203331));
            assert_eq!(meta(&context).last_parent_id.as_deref(), Some(kept));
            assert_eq!(context.sampling_priority(), 2);
            assert_eq!(meta(&context).foreign_tracestate, ["key1=value1"]);
        }
    }

    /// A malformed `_dd.p.tid` is dropped and noted as Datadog's tracers note it.
    #[test]
    fn a_malformed_tid_is_noted() {
        let context = extract(&[
            ("x-datadog-trace-id", "1"),
            ("x-datadog-parent-id", "2"),
            ("x-datadog-tags", "_dd.p.tid=1234567890abcdeX,_dd.p.dm=-4"),
        ]);
        assert_eq!(context.trace_id.high(), 0);
        assert_eq!(
            meta(&context).propagation_error.as_deref(),
            Some("malformed_tid 1234567890abcdeX")
        );
        assert_eq!(
            meta(&context).tags,
            [("_dd.p.dm".to_owned(), "-4".to_owned())]
        );
    }
}
