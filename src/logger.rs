//! `CorrelatingLogger`: wraps any `log::Log` and adds the current span's fields to every
//! record.

use std::borrow::Cow;
use std::fmt;

use log::{LevelFilter, Log, Metadata, Record, RecordBuilder, SetLoggerError};

use crate::active;
use crate::config::{self, Config};
use crate::correlation::error::ErrorFields;
use crate::correlation::{FieldStyle, LineText, Prefix, WithFields};
use crate::current_span;
use crate::ids_text::IdsText;

/// What the logger adds to each record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogFields {
    /// One space and the correlation text after the message (the default).
    #[default]
    Text,
    /// The fields as string key-values on the record (`dd.trace_id`, `dd.span_id`,
    /// `dd.parent_id`, and `dd.service`, `dd.env`, `dd.version` when set), message
    /// untouched. For structured loggers. Needs the `kv` feature.
    #[cfg(feature = "kv")]
    KeyValues,
    /// Both the text and the key-values. Needs the `kv` feature.
    #[cfg(feature = "kv")]
    TextAndKeyValues,
}

/// Options for a [`CorrelatingLogger`].
///
/// # Examples
///
/// Wrap any logger and install it, with an explicit level:
///
/// ```no_run
/// # struct MyLogger;
/// # impl log::Log for MyLogger {
/// #     fn enabled(&self, _: &log::Metadata) -> bool { true }
/// #     fn log(&self, _: &log::Record) {}
/// #     fn flush(&self) {}
/// # }
/// use log::LevelFilter;
///
/// spanlog::LoggerBuilder::new()
///     .style(spanlog::FieldStyle::Python)
///     .wrap(MyLogger)
///     .max_level(LevelFilter::Info)
///     .try_init()
///     .expect("no other logger installed");
/// ```
#[must_use = "a builder does nothing until `wrap`"]
#[derive(Clone, Debug, Default)]
pub struct LoggerBuilder {
    config: Option<Config>,
    style: FieldStyle,
    fields: LogFields,
    /// `mark_error_spans(false)` was called.
    errors_unmarked: bool,
}

impl LoggerBuilder {
    /// Default options: Go-style text, the global configuration.
    pub fn new() -> Self {
        LoggerBuilder::default()
    }

    /// The text layout (Go by default).
    pub fn style(mut self, style: FieldStyle) -> Self {
        self.style = style;
        self
    }

    /// Text, key-values, or both.
    pub fn fields(mut self, fields: LogFields) -> Self {
        self.fields = fields;
        self
    }

    /// Whether an ERROR line marks the current span as failed, with the line's message
    /// as `error.message` (on by default), so that the error line, the error span and
    /// the trace Datadog keeps for it link up. That is what tracing-opentelemetry does
    /// by default with error events; turn it off when ERROR lines report failures
    /// that are not the request's own (a retried call, say). Lines below ERROR are
    /// never looked at; an ERROR line allocates once, for the message.
    pub fn mark_error_spans(mut self, on: bool) -> Self {
        self.errors_unmarked = !on;
        self
    }

    /// Uses this configuration instead of the global one, for this logger only (tests,
    /// or a second logger). [`Span::log`](crate::Span::log) and exporters keep using the
    /// global configuration; set that with [`Config::set_global`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Wraps `inner`. The result's max level for [`CorrelatingLogger::try_init`] is
    /// `Trace` until set with [`CorrelatingLogger::max_level`]; `inner` still filters.
    pub fn wrap<L: Log>(self, inner: L) -> CorrelatingLogger<L> {
        let (config, prefix) = match self.config {
            Some(config) => {
                let prefix = Prefix::new(&config);
                (Cow::Owned(config), Cow::Owned(prefix))
            }
            None => (
                Cow::Borrowed(config::global()),
                Cow::Borrowed(Prefix::global()),
            ),
        };
        // Key-values outside a span are service, env and version when set, whatever the
        // style: what Go-style text would print. Text that adds nothing (Go style, none
        // of the three set) implies no key-values either.
        let adds_outside_spans = |style| !LineText::new(&*prefix, None, style).is_empty();
        let passthrough_outside_spans = match self.fields {
            LogFields::Text => !adds_outside_spans(self.style),
            #[cfg(feature = "kv")]
            LogFields::KeyValues => !adds_outside_spans(FieldStyle::Go),
            #[cfg(feature = "kv")]
            LogFields::TextAndKeyValues => !adds_outside_spans(self.style),
        };
        CorrelatingLogger {
            inner,
            mark_errors: !self.errors_unmarked,
            passthrough_outside_spans,
            injection_off: !config.logs_injection(),
            config,
            prefix,
            style: self.style,
            fields: self.fields,
            max_level: LevelFilter::Trace,
        }
    }

    /// Wraps an `env_logger` logger, taking the max level from its own filter.
    ///
    /// ```no_run
    /// let inner = env_logger::Builder::from_default_env().build();
    /// spanlog::LoggerBuilder::new().wrap_env_logger(inner).init();
    /// ```
    #[cfg(feature = "env_logger")]
    pub fn wrap_env_logger(
        self,
        inner: env_logger::Logger,
    ) -> CorrelatingLogger<env_logger::Logger> {
        let level = inner.filter();
        self.wrap(inner).max_level(level)
    }
}

/// A `log::Log` that adds the current span's correlation fields to each record and hands
/// it to an inner logger.
///
/// `enabled` and `flush` forward to the inner logger. `log` reads the span that is
/// current on the calling thread, appends one space and the correlation text to the
/// message (or adds key-values, see [`LogFields`]) and forwards the record. It allocates
/// nothing, holds no lock or borrow while the inner logger runs (so an inner logger that
/// logs is fine), and never panics: where the thread's span stack cannot be read (a
/// thread-local destructor, say) the record goes through without ids.
///
/// With log injection off ([`Config::with_logs_injection`], `DD_LOGS_INJECTION=false`),
/// records pass through untouched.
pub struct CorrelatingLogger<L> {
    inner: L,
    config: Cow<'static, Config>,
    /// The configuration's share of each line, laid out once.
    prefix: Cow<'static, Prefix>,
    /// Outside any span there is nothing to add (no service/env/version, and Go style
    /// when text is added): records then go to the inner logger as they are.
    passthrough_outside_spans: bool,
    /// ERROR lines mark the current span as failed.
    mark_errors: bool,
    /// Log injection is off: records pass through untouched (the configuration's
    /// switch, read once).
    injection_off: bool,
    style: FieldStyle,
    fields: LogFields,
    max_level: LevelFilter,
}

impl<L> CorrelatingLogger<L> {
    /// Sets the level given to `log::set_max_level` by [`try_init`](Self::try_init).
    /// Records above it are discarded by the `log` macros before reaching any logger.
    #[must_use]
    pub fn max_level(mut self, level: LevelFilter) -> Self {
        self.max_level = level;
        self
    }

    /// The wrapped logger.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// The configuration this logger formats with.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl<L: Log + 'static> CorrelatingLogger<L> {
    /// Installs this logger as the global logger, then sets the max level.
    ///
    /// # Errors
    ///
    /// Fails when a global logger is already installed; the max level is left alone.
    pub fn try_init(self) -> Result<(), SetLoggerError> {
        let level = self.max_level;
        crate::settings::read_all();
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(level);
        Ok(())
    }

    /// Installs this logger as the global logger, then sets the max level.
    ///
    /// # Panics
    ///
    /// When a global logger is already installed.
    pub fn init(self) {
        self.try_init()
            .expect("spanlog: a global logger was already installed");
    }
}

/// Marks the current span as failed, with the line's message as `error.message`: the
/// one allocation of an ERROR line; lines below ERROR never get here.
#[cold]
fn mark_error(record: &Record<'_>) {
    current_span::with_current_span(|span| {
        span.set_error(true);
        span.set_tag("error.message", record.args().to_string());
    });
}

impl<L: Log> Log for CorrelatingLogger<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if record.level() == log::Level::Error {
            return self.error_record(record);
        }
        if self.injection_off || (self.passthrough_outside_spans && active::is_idle()) {
            return self.inner.log(record);
        }
        self.log_with_fields(record, None);
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

impl<L: Log> CorrelatingLogger<L> {
    /// An ERROR record (what Datadog's Error Tracking looks at): one that carries an
    /// error as a key-value gets its `error.kind`, `error.message` and `error.stack`,
    /// inside a span or not, and the current span is marked as failed with the error's
    /// details (else with the line's message), unless turned off. Out of line: most
    /// lines are not errors.
    #[cold]
    #[inline(never)]
    fn error_record(&self, record: &Record<'_>) {
        #[cfg(feature = "kv")]
        let error = crate::correlation::error::in_record(record);
        #[cfg(not(feature = "kv"))]
        let error: Option<ErrorFields> = None;
        let pass = self.passthrough_outside_spans && error.is_none() && active::is_idle();
        if self.injection_off || pass {
            self.inner.log(record);
        } else {
            self.log_with_fields(record, error.as_ref());
        }
        if self.mark_errors {
            match error {
                Some(error) => error.mark_current_span(),
                None => mark_error(record),
            }
        }
    }

    /// A line with fields to add (and, for a record that carries an error, its error
    /// fields). Out of line: the common case outside spans (records passed through as
    /// they are) then needs no stack frame of its own.
    #[inline(never)]
    fn log_with_fields(&self, record: &Record<'_>, error: Option<&ErrorFields>) {
        let config = &*self.config;
        // A copy of the span's cached id text, made only inside a span; the thread's
        // stack is no longer borrowed when the inner logger runs.
        let mut ids = IdsText::empty();
        let in_span = active::copy_ids_text(config.trace_id_128_logging(), &mut ids);
        let fields = LineText::spaced(&*self.prefix, in_span.then_some(&ids), self.style);
        match error {
            None => self.emit(record, record.args(), fields, None),
            // The message, with the error's kind and message after it for text output.
            Some(error) => self.emit(
                record,
                &format_args!("{}{}", record.args(), error.text()),
                fields,
                Some(error),
            ),
        }
    }

    /// Hands `record` to the inner logger with `message` and the fields.
    #[inline(always)]
    fn emit(
        &self,
        record: &Record<'_>,
        message: &fmt::Arguments<'_>,
        fields: LineText<'_, Prefix>,
        error: Option<&ErrorFields>,
    ) {
        match self.fields {
            LogFields::Text if fields.is_empty() && error.is_none() => self.inner.log(record),
            LogFields::Text => {
                let line = WithFields { message, fields };
                self.inner
                    .log(&builder(record).args(format_args!("{line}")).build())
            }
            #[cfg(feature = "kv")]
            LogFields::KeyValues => {
                let pairs = kv_pairs(record, &fields, error);
                self.inner
                    .log(&record.to_builder().key_values(&pairs).build())
            }
            #[cfg(feature = "kv")]
            LogFields::TextAndKeyValues => {
                let pairs = kv_pairs(record, &fields, error);
                let mut builder = record.to_builder();
                builder.key_values(&pairs);
                if fields.is_empty() && error.is_none() {
                    self.inner.log(&builder.build())
                } else {
                    let line = WithFields { message, fields };
                    self.inner
                        .log(&builder.args(format_args!("{line}")).build())
                }
            }
        }
    }
}

/// The record's key-values followed by spanlog's.
#[cfg(feature = "kv")]
fn kv_pairs<'a>(
    record: &'a Record<'a>,
    fields: &LineText<'a, Prefix>,
    error: Option<&'a ErrorFields>,
) -> crate::correlation::kv::WithPairs<'a> {
    crate::correlation::kv::WithPairs {
        record: record.key_values(),
        ours: crate::correlation::kv::Pairs {
            prefix: fields.prefix(),
            ids: fields.ids(),
            error,
        },
    }
}

/// A builder for a copy of `record` (metadata, location and, with `kv`, key-values).
fn builder<'a>(record: &'a Record<'a>) -> RecordBuilder<'a> {
    #[cfg(feature = "kv")]
    {
        record.to_builder()
    }
    #[cfg(not(feature = "kv"))]
    {
        let mut builder = Record::builder();
        builder
            .metadata(record.metadata().clone())
            .line(record.line());
        match record.module_path_static() {
            Some(path) => builder.module_path_static(Some(path)),
            None => builder.module_path(record.module_path()),
        };
        match record.file_static() {
            Some(file) => builder.file_static(Some(file)),
            None => builder.file(record.file()),
        };
        builder
    }
}

impl<L: fmt::Debug> fmt::Debug for CorrelatingLogger<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorrelatingLogger")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("style", &self.style)
            .field("fields", &self.fields)
            .field("max_level", &self.max_level)
            .finish()
    }
}
