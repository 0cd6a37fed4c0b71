//! Source code integration: the commit and repository a service runs from, sent on the
//! first span of each trace chunk (`_dd.git.commit.sha`, `_dd.git.repository_url`) so
//! that Datadog links traces, and the logs joined to them, to the exact source.
//!
//! Read once, when the agent exporter starts, from the first that has them:
//!
//! 1. `DD_GIT_COMMIT_SHA` and `DD_GIT_REPOSITORY_URL`;
//! 2. `DD_TAGS`' `git.commit.sha` and `git.repository_url`;
//! 3. values embedded in the binary at build time with [`embed_git_metadata!`](crate::embed_git_metadata).
//!
//! `DD_TRACE_GIT_METADATA_ENABLED=false` turns it off. Credentials in the repository's
//! URL are never sent: `https://user:token@host/org/repo` goes out as
//! `https://host/org/repo`.
//!
//! Rust binaries carry no commit of their own (Go's tracer reads one from its binary's
//! build information), so the usual way is to hand it to the build, from CI:
//!
//! ```toml
//! # .cargo/config.toml, or the environment of `cargo build` in CI
//! [env]
//! DD_GIT_REPOSITORY_URL = "https://github.com/org/repo"
//! ```
//!
//! ```sh
//! DD_GIT_COMMIT_SHA=$(git rev-parse HEAD) cargo build --release
//! ```
//!
//! ```
//! // In main, before the exporter starts: the values `cargo build` saw, if any.
//! spanlog::embed_git_metadata!();
//! ```

use once_cell::sync::OnceCell;

use crate::env::Env;

/// The commit and repository of the running code, as sent to Datadog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GitMetadata {
    pub(crate) commit_sha: Option<String>,
    pub(crate) repository_url: Option<String>,
}

impl GitMetadata {
    /// `(tag, value)` pairs for the first span of a chunk.
    #[cfg_attr(not(feature = "agent"), allow(dead_code))]
    pub(crate) fn tags(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let sha = self
            .commit_sha
            .as_deref()
            .map(|v| ("_dd.git.commit.sha", v));
        let url = (self.repository_url.as_deref()).map(|v| ("_dd.git.repository_url", v));
        sha.into_iter().chain(url)
    }

    /// What `env`, the `DD_TAGS` the configuration read (`dd_tags`) and `embedded`
    /// say, in the order of the module's page.
    pub(crate) fn read(
        env: &mut Env<'_>,
        dd_tags: &[(String, String)],
        embedded: &GitMetadata,
    ) -> GitMetadata {
        if !env.get_bool("DD_TRACE_GIT_METADATA_ENABLED", true) {
            return GitMetadata::default();
        }
        let from_tags = |key: &str| {
            (dd_tags.iter())
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let commit_sha = env
            .get("DD_GIT_COMMIT_SHA")
            .map(|v| v.trim().to_owned())
            .or_else(|| from_tags("git.commit.sha"))
            .or_else(|| embedded.commit_sha.clone());
        let repository_url = env
            .get("DD_GIT_REPOSITORY_URL")
            .map(|v| v.trim().to_owned())
            .or_else(|| from_tags("git.repository_url"))
            .or_else(|| embedded.repository_url.clone())
            .map(|url| without_credentials(&url));
        GitMetadata {
            commit_sha,
            repository_url,
        }
    }
}

/// `url` without the user name and password a URL may carry
/// (`scheme://user:password@host/...` becomes `scheme://host/...`). Addresses of other
/// forms (`git@host:org/repo`) are kept as they are.
pub(crate) fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

static EMBEDDED: OnceCell<GitMetadata> = OnceCell::new();
static METADATA: OnceCell<GitMetadata> = OnceCell::new();

/// The process's git metadata, read on first use (the agent exporter's start).
#[cfg_attr(not(feature = "agent"), allow(dead_code))]
pub(crate) fn metadata() -> &'static GitMetadata {
    METADATA.get_or_init(|| {
        let embedded = EMBEDDED.get().cloned().unwrap_or_default();
        let dd_tags = crate::config::global().tags();
        GitMetadata::read(&mut crate::env::process(), dd_tags, &embedded)
    })
}

/// Records the commit and repository embedded at build time; what
/// [`embed_git_metadata!`](crate::embed_git_metadata) expands to. Run-time variables
/// win over them. Returns `false` (and changes nothing) when values were embedded
/// already or the metadata was already read.
#[doc(hidden)]
pub fn embed(commit_sha: Option<&str>, repository_url: Option<&str>) -> bool {
    let text = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from);
    METADATA.get().is_none()
        && EMBEDDED
            .set(GitMetadata {
                commit_sha: text(commit_sha),
                repository_url: text(repository_url),
            })
            .is_ok()
}

/// Embeds the `DD_GIT_COMMIT_SHA` and `DD_GIT_REPOSITORY_URL` that `cargo build` saw in
/// the calling crate (read with `option_env!` at compile time), for Datadog's source
/// code integration; variables set at run time win. Call it in `main` before the agent
/// exporter starts. See the [`git` module](crate::git).
///
/// ```
/// spanlog::embed_git_metadata!();
/// ```
#[macro_export]
macro_rules! embed_git_metadata {
    () => {
        $crate::git::embed(
            ::core::option_env!("DD_GIT_COMMIT_SHA"),
            ::core::option_env!("DD_GIT_REPOSITORY_URL"),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    fn read(vars: &[(&str, &str)], embedded: &GitMetadata) -> GitMetadata {
        let lookup = |name: &str| {
            (vars.iter())
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).into())
        };
        let mut env = Env::new(lookup, |warning| panic!("{warning}"));
        // `DD_TAGS` as the configuration reads it.
        let config = crate::config::Config::from_vars(&mut env);
        GitMetadata::read(&mut env, config.tags(), embedded)
    }

    #[test]
    fn credentials_never_leave() {
        let cases = [
            (
                "https://user:secret@example.com/org/repo",
                "https://example.com/org/repo",
            ),
            (
                "https://token@example.com/org/repo.git",
                "https://example.com/org/repo.git",
            ),
            (
                "https://example.com/org/repo",
                "https://example.com/org/repo",
            ),
            (
                "ssh://git@example.com:22/org/repo",
                "ssh://example.com:22/org/repo",
            ),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("https://example.com/a@b", "https://example.com/a@b"),
        ];
        for (url, expected) in cases {
            assert_eq!(without_credentials(url), expected, "{url}");
        }
    }

    #[test]
    fn variables_then_dd_tags_then_embedded() {
        let embedded = GitMetadata {
            commit_sha: Some("e1".into()),
            repository_url: Some("https://build@example.com/embedded".into()),
        };
        let url = "https://user:secret@example.com/org/repo";
        let git = read(
            &[
                ("DD_GIT_COMMIT_SHA", "abc123"),
                ("DD_GIT_REPOSITORY_URL", url),
            ],
            &embedded,
        );
        assert_eq!(
            git.tags().collect::<Vec<_>>(),
            [
                ("_dd.git.commit.sha", "abc123"),
                ("_dd.git.repository_url", "https://example.com/org/repo")
            ]
        );
        let tags = "team:web,git.commit.sha:def456 git.repository_url:https://example.com/t";
        let git = read(&[("DD_TAGS", tags)], &embedded);
        assert_eq!(git.commit_sha.as_deref(), Some("def456"));
        assert_eq!(git.repository_url.as_deref(), Some("https://example.com/t"));
        let git = read(&[], &embedded);
        assert_eq!(git.commit_sha.as_deref(), Some("e1"));
        assert_eq!(
            git.repository_url.as_deref(),
            Some("https://example.com/embedded")
        );
        let off = [
            ("DD_TRACE_GIT_METADATA_ENABLED", "false"),
            ("DD_GIT_COMMIT_SHA", "abc123"),
        ];
        assert_eq!(read(&off, &embedded), GitMetadata::default());
    }
}
