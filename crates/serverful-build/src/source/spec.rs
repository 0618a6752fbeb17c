//! Reading what the user typed as a deploy source into a [`SourceSpec`], by the rules the
//! module doc of `source` lists.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::SourceError;

/// Where an app's source comes from, as the user named it. Local paths are absolute.
/// [`SourceSpec::parse`] reads one; `Display` writes it back in a form that parses to
/// the same spec, so it can travel as a string (a command line, a JSON field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A folder on this machine, deployed as it is on disk (uncommitted edits included).
    Folder {
        /// The app's folder.
        dir: PathBuf,
        /// The template file the user named, inside `dir`; `None` for the folder's own
        /// `template.yaml` (or `template.yml`).
        template: Option<PathBuf>,
    },
    /// A `.zip` file on this machine.
    Zip { path: PathBuf },
    /// A git repository, by URL or (for a repository on this machine) by absolute path,
    /// and the branch, tag or commit to check out (the default branch when `None`).
    Git {
        url: String,
        reference: Option<String>,
    },
}

/// The URL schemes taken as git URLs, for the message that refuses another.
const GIT_SCHEMES: &str = "https://, http://, ssh://, git:// or file://";

impl SourceSpec {
    /// Reads a source as the user typed it; relative paths are taken from the current
    /// folder. Local paths are looked at (to tell a folder from a file, and whether a
    /// `#REF` follows a git repository); URLs are only checked for form, never contacted.
    pub fn parse(input: &str) -> Result<SourceSpec, SourceError> {
        let invalid = |reason: String| SourceError::Invalid {
            input: input.to_owned(),
            reason,
        };
        if input.trim().is_empty() {
            return Err(SourceError::Empty);
        }
        if input.chars().any(char::is_control) {
            return Err(invalid("it contains a control character".to_owned()));
        }
        // Anything starting with `-` would reach git as an option (`--upload-pack=...`),
        // which is how a source could run a command; a local name can be written `./-x`.
        if input.starts_with('-') {
            return Err(invalid(
                "it starts with `-`; write a local path that does as ./-name".to_owned(),
            ));
        }
        if let Some(scheme) = url_scheme(input) {
            return parse_url(input, &scheme.to_ascii_lowercase()).map_err(invalid);
        }
        if is_remote_helper(input) {
            return Err(invalid(format!(
                "git remote helpers (`{}`) are not accepted, because they can run commands; give an {GIT_SCHEMES} URL",
                &input[..input.find("::").map_or(0, |at| at + 2)]
            )));
        }
        if is_scp_like(input) {
            let (url, reference) = split_reference(input).map_err(invalid)?;
            let host = url.split_once('@').map_or(url, |(_, host)| host);
            if host.starts_with('-') {
                return Err(invalid("its host starts with `-`".to_owned()));
            }
            return Ok(SourceSpec::Git {
                url: url.to_owned(),
                reference,
            });
        }
        parse_local(input)
    }

    /// Whether the source is read from this machine's files: a folder, a zip, or a git
    /// repository by path or `file://` URL. A server taking sources from clients that
    /// should reach only remote repositories (or upload zips it saves itself) refuses
    /// these.
    pub fn is_local(&self) -> bool {
        match self {
            SourceSpec::Folder { .. } | SourceSpec::Zip { .. } => true,
            SourceSpec::Git { url, .. } => {
                url.starts_with('/')
                    || url_scheme(url).is_some_and(|scheme| scheme.eq_ignore_ascii_case("file"))
            }
        }
    }
}

impl FromStr for SourceSpec {
    type Err = SourceError;

    fn from_str(input: &str) -> Result<SourceSpec, SourceError> {
        SourceSpec::parse(input)
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Folder {
                template: Some(template),
                ..
            } => write!(f, "{}", template.display()),
            SourceSpec::Folder {
                dir,
                template: None,
            } => write!(f, "{}", dir.display()),
            SourceSpec::Zip { path } => write!(f, "{}", path.display()),
            SourceSpec::Git {
                url,
                reference: Some(reference),
            } => write!(f, "{url}#{reference}"),
            SourceSpec::Git {
                url,
                reference: None,
            } => write!(f, "{url}"),
        }
    }
}

/// The scheme of `scheme://...` (RFC 3986's characters), if the input has one.
fn url_scheme(input: &str) -> Option<&str> {
    let (scheme, _) = input.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// `<transport>::<address>`: git runs the program `git-remote-<transport>`, and `ext::`
/// runs any command, so none is taken.
fn is_remote_helper(input: &str) -> bool {
    input.split_once("::").is_some_and(|(transport, _)| {
        !transport.is_empty()
            && transport
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'))
    })
}

/// Git's own rule for `[user@]host:path` (scp-like ssh): a colon before any slash, with
/// something on both sides. A bracketed IPv6 host (`[::1]:repo`) counts too.
fn is_scp_like(input: &str) -> bool {
    let rest = input.split_once('@').map_or(
        input,
        |(user, rest)| {
            if user.contains('/') {
                input
            } else {
                rest
            }
        },
    );
    let (host, path) = if let Some(bracketed) = rest.strip_prefix('[') {
        match bracketed.split_once("]:") {
            Some((host, path)) => (host, path),
            None => return false,
        }
    } else {
        match rest.split_once(':') {
            Some((host, path)) => (host, path),
            None => return false,
        }
    };
    !host.is_empty() && !host.contains('/') && !path.is_empty()
}

/// Splits `url#REF` at its first `#` and checks REF.
fn split_reference(input: &str) -> Result<(&str, Option<String>), String> {
    match input.split_once('#') {
        None => Ok((input, None)),
        Some((url, reference)) => {
            check_reference(reference)?;
            Ok((url, Some(reference.to_owned())))
        }
    }
}

/// Refuses what is never a branch, tag or commit name (git's `check-ref-format` rules,
/// and no leading `-`, which git would read as an option).
fn check_reference(reference: &str) -> Result<(), String> {
    if reference.is_empty() {
        return Err(
            "nothing follows `#`; write #BRANCH, #TAG or #COMMIT, or leave out the `#`".to_owned(),
        );
    }
    let bad = reference.starts_with(['-', '/', '.'])
        || reference.ends_with(['/', '.'])
        || reference.ends_with(".lock")
        || reference.contains("..")
        || reference.contains("@{")
        || reference.contains("//")
        || reference
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    if bad {
        return Err(format!(
            "#{reference} is not a possible branch, tag or commit name"
        ));
    }
    Ok(())
}

fn parse_url(input: &str, scheme: &str) -> Result<SourceSpec, String> {
    if !matches!(
        scheme,
        "https" | "http" | "ssh" | "git" | "file" | "git+ssh" | "ssh+git"
    ) {
        return Err(format!(
            "{scheme}:// is not a git URL scheme Serverful fetches from; give an {GIT_SCHEMES} URL, a folder or a .zip file"
        ));
    }
    let (url, reference) = split_reference(input)?;
    let rest = &url[scheme.len() + 3..];
    if rest.is_empty() {
        return Err("the URL names no repository".to_owned());
    }
    if scheme != "file" {
        let authority = rest.split('/').next().unwrap_or_default();
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        if host.is_empty() {
            return Err("the URL names no host".to_owned());
        }
        if host.starts_with('-') {
            return Err("its host starts with `-`".to_owned());
        }
    }
    if matches!(scheme, "https" | "http")
        && Path::new(rest)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("zip"))
    {
        return Err(
            "it names a .zip to download, and only git repositories are fetched from URLs; download the zip and deploy the file"
                .to_owned(),
        );
    }
    Ok(SourceSpec::Git {
        url: url.to_owned(),
        reference,
    })
}

/// A local path: a folder, a template file, a zip, or a git repository (with `#REF`, or
/// named `*.git`).
fn parse_local(input: &str) -> Result<SourceSpec, SourceError> {
    let path = crate::absolute(Path::new(input));
    if path.exists() {
        return classify_existing(path);
    }
    let Some((repository, reference)) = input.rsplit_once('#') else {
        return Err(SourceError::NotFound { path });
    };
    let repository_path = crate::absolute(Path::new(repository));
    if !repository_path.exists() {
        return Err(SourceError::NotFound {
            path: repository_path,
        });
    }
    check_reference(reference).map_err(|reason| SourceError::Invalid {
        input: input.to_owned(),
        reason,
    })?;
    if !is_git_repository(&repository_path) {
        return Err(SourceError::NotARepository {
            path: repository_path,
            reference: reference.to_owned(),
        });
    }
    Ok(SourceSpec::Git {
        url: path_string(&repository_path, input)?,
        reference: Some(reference.to_owned()),
    })
}

fn classify_existing(path: PathBuf) -> Result<SourceSpec, SourceError> {
    if path.is_dir() {
        let named_git = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(".git"));
        if named_git && is_git_repository(&path) {
            let url = path_string(&path, &path.to_string_lossy())?;
            return Ok(SourceSpec::Git {
                url,
                reference: None,
            });
        }
        return Ok(SourceSpec::Folder {
            dir: path,
            template: None,
        });
    }
    let is_zip = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("zip"));
    if is_zip {
        return Ok(SourceSpec::Zip { path });
    }
    if path.is_file() {
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        return Ok(SourceSpec::Folder {
            dir,
            template: Some(path),
        });
    }
    Err(SourceError::Invalid {
        input: path.display().to_string(),
        reason: "it is neither a folder nor a file".to_owned(),
    })
}

/// A repository's path as the string git gets; git takes paths as text, so a name that
/// is not UTF-8 cannot be passed on faithfully.
fn path_string(path: &Path, input: &str) -> Result<String, SourceError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| SourceError::Invalid {
            input: input.to_owned(),
            reason: "a git repository's path must be valid UTF-8".to_owned(),
        })
}

/// A working tree (`.git` folder, or the `.git` file of a linked worktree) or a bare
/// repository (`HEAD` and `objects/`).
pub(super) fn is_git_repository(path: &Path) -> bool {
    path.join(".git").exists() || (path.join("HEAD").is_file() && path.join("objects").is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn git(url: &str, reference: Option<&str>) -> SourceSpec {
        SourceSpec::Git {
            url: url.to_owned(),
            reference: reference.map(str::to_owned),
        }
    }

    fn parse(input: &str) -> SourceSpec {
        match SourceSpec::parse(input) {
            Ok(spec) => spec,
            Err(error) => panic!("{input}: {error}"),
        }
    }

    fn refusal(input: &str) -> String {
        match SourceSpec::parse(input) {
            Ok(spec) => panic!("{input} was taken as {spec:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn urls_and_scp_addresses_are_git_sources() {
        for (input, url, reference) in [
            (
                "https://github.com/o/app.git",
                "https://github.com/o/app.git",
                None,
            ),
            (
                "https://github.com/o/app#v1.2",
                "https://github.com/o/app",
                Some("v1.2"),
            ),
            (
                "http://host:8080/app.git#main",
                "http://host:8080/app.git",
                Some("main"),
            ),
            (
                "git://127.0.0.1:9418/app#feature/x",
                "git://127.0.0.1:9418/app",
                Some("feature/x"),
            ),
            ("ssh://git@host/o/app.git", "ssh://git@host/o/app.git", None),
            ("git+ssh://host/app", "git+ssh://host/app", None),
            (
                "file:///srv/app.git#0123abcd",
                "file:///srv/app.git",
                Some("0123abcd"),
            ),
            ("git@github.com:o/app.git", "git@github.com:o/app.git", None),
            (
                "git@github.com:o/app.git#main",
                "git@github.com:o/app.git",
                Some("main"),
            ),
            ("host:app", "host:app", None),
            ("git@[::1]:app", "git@[::1]:app", None),
        ] {
            assert_eq!(parse(input), git(url, reference), "{input}");
            assert_eq!(parse(input).to_string(), input, "round trip");
            assert_eq!(
                parse(input).is_local(),
                input.starts_with("file:"),
                "{input}"
            );
        }
    }

    #[test]
    fn what_could_run_a_command_or_cannot_be_a_source_is_refused() {
        for (input, reason) in [
            ("", "no source given"),
            ("  ", "no source given"),
            ("--upload-pack=touch /tmp/x", "starts with `-`"),
            ("-app", "starts with `-`"),
            ("ssh://-oProxyCommand=x/app", "host starts with `-`"),
            ("git@-oProxyCommand=x:app", "host starts with `-`"),
            ("ext::sh -c touch% /tmp/pwned", "remote helpers (`ext::`)"),
            ("fd::17", "remote helpers"),
            ("ftp://host/app", "ftp:// is not a git URL scheme"),
            ("https://host/app.zip", "download the zip"),
            ("https://host/app#", "nothing follows `#`"),
            ("https://host/app#-b", "not a possible branch"),
            ("https://host/app#a..b", "not a possible branch"),
            ("https://host/app#a b", "not a possible branch"),
            ("https://host/app\n", "control character"),
            ("https://", "names no repository"),
            ("https:///app", "names no host"),
        ] {
            let message = refusal(input);
            assert!(message.contains(reason), "{input:?}: {message}");
        }
    }

    #[test]
    fn local_paths_are_folders_templates_zips_or_repositories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("app")).expect("mkdir");
        fs::write(root.join("app/prod.yaml"), "").expect("write");
        fs::write(root.join("app.ZIP"), "").expect("write");
        fs::create_dir_all(root.join("repo/.git")).expect("mkdir");
        fs::create_dir_all(root.join("bare.git/objects")).expect("mkdir");
        fs::write(root.join("bare.git/HEAD"), "ref: refs/heads/main\n").expect("write");
        fs::create_dir_all(root.join("odd#name")).expect("mkdir");
        let at = |relative: &str| root.join(relative).to_string_lossy().into_owned();

        assert_eq!(
            parse(&at("app")),
            SourceSpec::Folder {
                dir: root.join("app"),
                template: None
            }
        );
        assert_eq!(
            parse(&at("app/prod.yaml")),
            SourceSpec::Folder {
                dir: root.join("app"),
                template: Some(root.join("app/prod.yaml"))
            }
        );
        assert_eq!(
            parse(&at("app.ZIP")),
            SourceSpec::Zip {
                path: root.join("app.ZIP")
            }
        );
        // A working tree without `#REF` is deployed as it is on disk.
        assert_eq!(
            parse(&at("repo")),
            SourceSpec::Folder {
                dir: root.join("repo"),
                template: None
            }
        );
        assert_eq!(parse(&at("repo#main")), git(&at("repo"), Some("main")));
        assert_eq!(parse(&at("bare.git")), git(&at("bare.git"), None));
        assert_eq!(parse(&at("bare.git#v1")), git(&at("bare.git"), Some("v1")));
        // An existing name wins over the `#REF` reading.
        assert_eq!(
            parse(&at("odd#name")),
            SourceSpec::Folder {
                dir: root.join("odd#name"),
                template: None
            }
        );
        for input in ["app", "app/prod.yaml", "app.ZIP", "repo#main", "bare.git"] {
            let spec = parse(&at(input));
            assert_eq!(parse(&spec.to_string()), spec, "{input} round trip");
            assert!(spec.is_local(), "{input}");
        }

        let message = refusal(&at("missing"));
        assert_eq!(
            message,
            format!(
                "{} does not exist; name a folder holding template.yaml, a template file, a .zip file or a git URL",
                at("missing")
            )
        );
        let message = refusal(&at("app#main"));
        assert!(
            message.starts_with(&format!("{} is not a git repository", at("app"))),
            "{message}"
        );
        let message = refusal(&at("missing#main"));
        assert!(
            message.starts_with(&format!("{} does not exist", at("missing"))),
            "{message}"
        );
        let message = refusal(&at("repo#"));
        assert!(message.contains("nothing follows `#`"), "{message}");
    }
}
