//! `DD_TRACE_ENABLED=false`: the agent exporter installs nothing and starts no thread;
//! spans keep their ids and log lines their fields. Its own binary: it would install
//! the global exporter.

mod common;

use common::Capture;

fn main() {
    let agent = spanlog::agent::try_init(spanlog::agent::AgentConfig::new().with_enabled(false))
        .expect("nothing installed yet");
    let stats = agent.stats();
    assert!(!stats.running, "{stats:?}");
    assert!(agent.flush(std::time::Duration::from_secs(1)));
    assert!(agent.shutdown(std::time::Duration::from_secs(1)));

    // No exporter is installed: another one still can be.
    let collect = common::Collect::default();
    let logger = spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .wrap(Capture::new());
    {
        let span = spanlog::start_span("web.request").entered();
        log::info!(logger: &logger, "my log message");
        assert!(
            logger.inner().lines()[0].contains(&format!("dd.span_id=\"{}\"", span.span_id())),
            "{:?}",
            logger.inner().lines()
        );
    }
    spanlog::export::try_init(collect.clone()).expect("the disabled agent installed nothing");
    println!("1 passed, 0 failed");
}
