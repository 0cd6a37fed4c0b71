//! JSON logs for Datadog: structured-logger wrapped by spanlog in key-value mode prints
//! the `dd.*` fields as root-level strings. No global logger: records go through a
//! logger value writing into a buffer.
#![cfg(feature = "json")]

mod common;

use common::Pipe;
use log::info;
use serde_json::{Map, Value};
use spanlog::{Config, LogFields, LoggerBuilder, start_span};

fn objects(pipe: &Pipe) -> Vec<Map<String, Value>> {
    pipe.text()
        .lines()
        .map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(object)) => object,
            other => panic!("not a JSON object: {line}: {other:?}"),
        })
        .collect()
}

fn json_logger(config: Config) -> (impl log::Log, Pipe) {
    log::set_max_level(log::LevelFilter::Trace);
    let pipe = Pipe::default();
    let inner = structured_logger::Builder::with_level("trace")
        .with_default_writer(structured_logger::json::new_writer(pipe.clone()))
        .build();
    (
        LoggerBuilder::new()
            .config(config)
            .fields(LogFields::KeyValues)
            .wrap(inner),
        pipe,
    )
}

fn string<'a>(object: &'a Map<String, Value>, key: &str) -> &'a str {
    match object.get(key) {
        Some(Value::String(s)) => s,
        other => panic!("{key} is not a root-level string in {object:?}: {other:?}"),
    }
}

#[test]
fn dd_fields_are_root_level_strings_matching_the_text_form() {
    let config = Config::new()
        .with_service("blog")
        .with_env("prod")
        .with_version("1.2.3");
    let (logger, pipe) = json_logger(config.clone());
    let request = start_span("web.request").entered();
    info!(logger: &logger, "my log message");
    let query = start_span("db.query").entered();
    info!(logger: &logger, "querying posts");

    let objects = objects(&pipe);
    assert_eq!(objects.len(), 2);
    for (object, span, message) in [
        (&objects[0], &*request, "my log message"),
        (&objects[1], &*query, "querying posts"),
    ] {
        assert_eq!(string(object, "message"), message);
        assert_eq!(string(object, "dd.service"), "blog");
        assert_eq!(string(object, "dd.env"), "prod");
        assert_eq!(string(object, "dd.version"), "1.2.3");
        // The text form of SPEC §1, without the quotes.
        let text = span.log().to_string();
        for key in ["dd.trace_id", "dd.span_id", "dd.parent_id"] {
            let quoted = format!("{key}=\"{}\"", string(object, key));
            assert!(text.contains(&quoted), "{quoted} not in {text}");
        }
        assert_eq!(string(object, "dd.span_id"), span.span_id().to_string());
    }
    assert_eq!(
        string(&objects[0], "dd.trace_id"),
        format!("{:032x}", request.trace_id())
    );
    assert_eq!(string(&objects[0], "dd.parent_id"), "0");
    assert_eq!(
        string(&objects[1], "dd.parent_id"),
        string(&objects[0], "dd.span_id"),
        "the child's parent is its parent's span"
    );
}

#[test]
fn unset_service_env_version_are_left_out() {
    let (logger, pipe) = json_logger(Config::new());
    let _span = start_span("x").entered();
    info!(logger: &logger, "m");
    let object = &objects(&pipe)[0];
    assert!(!object.contains_key("dd.service") && !object.contains_key("dd.env"));
    assert!(object.contains_key("dd.trace_id"));
}

#[test]
fn a_record_keeps_its_own_key_values() {
    let (logger, pipe) = json_logger(Config::new().with_service("blog"));
    let _span = start_span("x").entered();
    info!(logger: &logger, user = "ana", attempts = 3; "signed in");
    let object = &objects(&pipe)[0];
    assert_eq!(string(object, "user"), "ana");
    assert_eq!(object.get("attempts"), Some(&Value::from(3)));
    assert_eq!(string(object, "dd.service"), "blog");
}

#[test]
fn a_colliding_record_key_wins_and_appears_once() {
    let (logger, pipe) = json_logger(Config::new().with_service("blog"));
    let _span = start_span("x").entered();
    info!(logger: &logger, "dd.trace_id" = "from-the-record", "dd.service" = "other"; "m");
    let raw = pipe.text();
    assert_eq!(raw.matches("\"dd.trace_id\"").count(), 1, "{raw}");
    assert_eq!(raw.matches("\"dd.service\"").count(), 1, "{raw}");
    let object = &objects(&pipe)[0];
    assert_eq!(string(object, "dd.trace_id"), "from-the-record");
    assert_eq!(string(object, "dd.service"), "other");
    assert!(
        object.contains_key("dd.span_id"),
        "the others are still added"
    );
}

#[test]
fn outside_a_span_only_the_service_tags() {
    let (logger, pipe) = json_logger(Config::new().with_service("blog"));
    info!(logger: &logger, "starting");
    let object = &objects(&pipe)[0];
    assert_eq!(string(object, "dd.service"), "blog");
    assert!(!object.contains_key("dd.trace_id"));
}
