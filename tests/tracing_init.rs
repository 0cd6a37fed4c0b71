//! Under `spanlog::tracing::init()`, `log` records are bridged into `tracing` and never
//! reach the `log` wrapper: an ERROR `log` line must still mark its span as failed, as
//! under `spanlog::init()`, whether the span is a spanlog span or a `tracing` span. Its
//! own binary: it installs the global subscriber, logger and exporter.

mod common;

use common::Collect;

fn main() {
    let collect = Collect::default();
    spanlog::export::try_init(collect.clone()).unwrap();
    spanlog::tracing::try_init().expect("the first subscriber");

    {
        let _span = spanlog::start_span("spanlog.span").entered();
        log::info!("fine");
        log::error!("the database is down");
    }
    tracing::info_span!("tracing.span").in_scope(|| log::error!("bridged"));
    {
        let _span = spanlog::start_span("info.only").entered();
        log::warn!("slow");
    }

    let tag = |name: &str| {
        let span = collect.named(name);
        let message = span
            .meta
            .iter()
            .find(|(k, _)| k == "error.message")
            .map(|(_, v)| v.to_string());
        (span.error, message)
    };
    assert_eq!(
        tag("spanlog.span"),
        (true, Some("the database is down".to_owned()))
    );
    assert_eq!(tag("tracing.span"), (true, Some("bridged".to_owned())));
    assert_eq!(tag("info.only"), (false, None));
    eprintln!("tracing_init: ok");
}
