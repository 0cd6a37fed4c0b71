//! Process tags (`_dd.tags.process`): what the process is, as Datadog's tracers
//! describe it on the first span of each trace chunk, so that Datadog can tell
//! services apart when they share a name, or name them when they have none.
//!
//! `entrypoint.basedir` (the executable's directory), `entrypoint.name` (its file
//! name), `entrypoint.type` (`executable`), `entrypoint.workdir` (the working
//! directory), and `svc.user:true` when the service was named (`DD_SERVICE` or
//! [`Config::with_service`](crate::Config::with_service)) or `svc.auto:<service>` when
//! it was not. Sorted by key, comma-separated; values normalized as Datadog's tracers
//! do. `DD_EXPERIMENTAL_PROPAGATE_PROCESS_TAGS_ENABLED=false` leaves them out.

use std::path::Path;

use crate::config::Config;
use crate::env::Env;

/// The tags, read once when the exporter starts; `None` when turned off.
pub(crate) fn read(env: &mut Env<'_>, config: &Config, service: &str) -> Option<String> {
    if !env.get_bool("DD_EXPERIMENTAL_PROPAGATE_PROCESS_TAGS_ENABLED", true) {
        return None;
    }
    let executable = std::env::current_exe().ok();
    let file_name = |path: Option<&Path>| Some(path?.file_name()?.to_string_lossy().into_owned());
    let name = std::env::args_os()
        .next()
        .and_then(|arg0| Some(Path::new(&arg0).file_stem()?.to_string_lossy().into_owned()));
    let workdir = std::env::current_dir().ok();
    let service = match config.service_named() {
        true => ("svc.user", Some("true".to_owned())),
        false => ("svc.auto", Some(service.to_owned())),
    };
    Some(format_tags([
        (
            "entrypoint.basedir",
            file_name(executable.as_deref().and_then(Path::parent)),
        ),
        ("entrypoint.name", name),
        ("entrypoint.type", Some("executable".to_owned())),
        ("entrypoint.workdir", file_name(workdir.as_deref())),
        service,
    ]))
}

/// `key:value` pairs sorted by key and joined with commas, each value normalized; a
/// value that is missing, a root (`/`) or `bin` (which says nothing) is left out.
fn format_tags<const N: usize>(mut tags: [(&str, Option<String>); N]) -> String {
    tags.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (key, value) in tags {
        let Some(value) = value.filter(|v| !matches!(v.as_str(), "" | "/" | "\\" | "bin")) else {
            continue;
        };
        let value = normalize(&value);
        if value.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        out.push_str(&value);
    }
    out
}

/// As Datadog's Agent normalizes tag values: the first 100 characters, lower case;
/// letters, digits and `/._-` kept, anything else `_`, runs of `_` made one, and none
/// at either end.
fn normalize(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().take(100).flat_map(char::to_lowercase) {
        let c = match c {
            'a'..='z' | '0'..='9' | '/' | '.' | '_' | '-' => c,
            c if c.is_alphanumeric() => c,
            _ => '_',
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_normalized_as_the_agent_does() {
        assert_eq!(normalize("My Service!!"), "my_service");
        assert_eq!(normalize("__a//b.c-D__"), "a//b.c-d");
        assert_eq!(normalize("Éclair café"), "éclair_café");
        assert_eq!(normalize(&"x".repeat(150)).len(), 100);
    }

    #[test]
    fn sorted_and_without_the_useless() {
        let tags = format_tags([
            ("svc.auto", Some("Blog".to_owned())),
            ("entrypoint.basedir", Some("bin".to_owned())),
            ("entrypoint.name", Some("blog-server".to_owned())),
            ("entrypoint.workdir", Some("/".to_owned())),
            ("entrypoint.type", Some("executable".to_owned())),
        ]);
        assert_eq!(
            tags,
            "entrypoint.name:blog-server,entrypoint.type:executable,svc.auto:blog"
        );
    }

    #[test]
    fn the_service_says_whether_it_was_named() {
        let read = |config: &Config, vars: &[(&str, &str)]| {
            crate::env::testing::read_with(vars, |env| read(env, config, config.service())).0
        };
        let named = Config::new().with_service("blog");
        let tags = read(&named, &[]).unwrap();
        assert!(tags.contains("svc.user:true"), "{tags}");
        assert!(tags.contains("entrypoint.type:executable"), "{tags}");
        assert!(!tags.contains("svc.auto"), "{tags}");
        let auto = Config::from_vars(&mut crate::env::Env::new(|_| None, |_| {}));
        let tags = read(&auto, &[]).unwrap();
        assert!(
            tags.contains(&format!("svc.auto:{}", normalize(auto.service()))),
            "{tags}"
        );
        let off = [("DD_EXPERIMENTAL_PROPAGATE_PROCESS_TAGS_ENABLED", "false")];
        assert_eq!(read(&named, &off), None);
    }
}
