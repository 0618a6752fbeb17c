//! Facts about AWS Lambda itself that several crates share, as data: every runtime
//! identifier Lambda has had, with its language, language version and whether AWS still
//! runs it.
//!
//! The template keeps `Runtime` as the text it was given; the binary checks it here before
//! anything is built, the build crate picks `sam build`'s default build for its language,
//! and the runtime crate picks the interpreter. No IO.
//!
//! `layers`: the public layers AWS publishes that Serverful recognises by ARN (the Lambda
//! Web Adapter, Powertools for AWS Lambda).

mod layers;

use std::fmt;

pub use layers::{powertools_typescript_packages, public_layer, LayerArn, PublicLayer};

/// The language a runtime runs, which decides its bootstrap and its build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    NodeJs,
    Python,
    Ruby,
    Java,
    DotNet,
    /// `go1.x`: the code's own executable, named by the handler or `bootstrap`.
    Go,
    /// `provided*`: the code's own `bootstrap`.
    OsOnly,
}

impl Language {
    /// The language's name as users write it: `Node.js`, `Python`.
    pub fn name(self) -> &'static str {
        match self {
            Language::NodeJs => "Node.js",
            Language::Python => "Python",
            Language::Ruby => "Ruby",
            Language::Java => "Java",
            Language::DotNet => ".NET",
            Language::Go => "Go",
            Language::OsOnly => "an OS-only runtime",
        }
    }
}

/// A language version as a runtime names it: Node.js 20 is `20.0`, Python 3.12 is `3.12`,
/// Java 21 is `21.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32) -> Version {
        Version { major, minor }
    }

    /// Parses the leading `major[.minor]` of a version string such as `20.20.2`, `3.11.7`,
    /// `17.0.15` or `1.8.0_412` (Java 8 says `1.8`, which is Java 8).
    pub fn parse_leading(text: &str) -> Option<Version> {
        let mut parts = text.trim().split(|c: char| !c.is_ascii_digit());
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next().and_then(|part| part.parse().ok()).unwrap_or(0);
        if major == 1 && minor >= 5 {
            // Java's old numbering: 1.8.0 is Java 8.
            return Some(Version::new(minor, 0));
        }
        Some(Version::new(major, minor))
    }

    /// How far apart two versions are, for choosing the nearest interpreter: a major
    /// version counts more than any number of minor ones.
    pub fn distance(self, other: Version) -> u64 {
        let major = u64::from(self.major.abs_diff(other.major));
        let minor = u64::from(self.minor.abs_diff(other.minor));
        major * 1_000 + minor
    }
}

/// Whether AWS Lambda still runs a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Supported,
    /// Deprecated by AWS: no new functions, no security updates.
    Deprecated,
}

/// One Lambda runtime identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    /// `nodejs20.x`, `python3.12`, `java8.al2`, `provided.al2023`.
    pub id: &'static str,
    pub language: Language,
    /// The language version it provides (for `go1.x` and `provided*`, meaningless: `1.0`).
    pub version: Version,
    pub status: Status,
}

impl Runtime {
    pub fn is_deprecated(&self) -> bool {
        self.status == Status::Deprecated
    }

    /// The language version as users write it: `Node.js 20`, `Python 3.12`, `Java 21`,
    /// `Ruby 3.3`, `Node.js 8.10`.
    pub fn describe(&self) -> String {
        match self.language {
            Language::NodeJs | Language::Java if self.version.minor == 0 => {
                format!("{} {}", self.language.name(), self.version.major)
            }
            Language::Go | Language::OsOnly => self.language.name().to_owned(),
            _ => format!(
                "{} {}.{}",
                self.language.name(),
                self.version.major,
                self.version.minor
            ),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

const fn runtime(
    id: &'static str,
    language: Language,
    major: u32,
    minor: u32,
    status: Status,
) -> Runtime {
    Runtime {
        id,
        language,
        version: Version::new(major, minor),
        status,
    }
}

use Language::{DotNet, Go, Java, NodeJs, OsOnly, Python, Ruby};
use Status::{Deprecated, Supported};

/// Every runtime identifier Lambda has had, oldest first within each language. Deprecated
/// ones are those AWS has stopped supporting by the end of 2026 (the runtime support
/// policy's table).
pub const RUNTIMES: &[Runtime] = &[
    runtime("nodejs", NodeJs, 0, 10, Deprecated),
    runtime("nodejs4.3", NodeJs, 4, 3, Deprecated),
    runtime("nodejs4.3-edge", NodeJs, 4, 3, Deprecated),
    runtime("nodejs6.10", NodeJs, 6, 10, Deprecated),
    runtime("nodejs8.10", NodeJs, 8, 10, Deprecated),
    runtime("nodejs10.x", NodeJs, 10, 0, Deprecated),
    runtime("nodejs12.x", NodeJs, 12, 0, Deprecated),
    runtime("nodejs14.x", NodeJs, 14, 0, Deprecated),
    runtime("nodejs16.x", NodeJs, 16, 0, Deprecated),
    runtime("nodejs18.x", NodeJs, 18, 0, Deprecated),
    runtime("nodejs20.x", NodeJs, 20, 0, Supported),
    runtime("nodejs22.x", NodeJs, 22, 0, Supported),
    runtime("nodejs24.x", NodeJs, 24, 0, Supported),
    runtime("python2.7", Python, 2, 7, Deprecated),
    runtime("python3.6", Python, 3, 6, Deprecated),
    runtime("python3.7", Python, 3, 7, Deprecated),
    runtime("python3.8", Python, 3, 8, Deprecated),
    runtime("python3.9", Python, 3, 9, Deprecated),
    runtime("python3.10", Python, 3, 10, Supported),
    runtime("python3.11", Python, 3, 11, Supported),
    runtime("python3.12", Python, 3, 12, Supported),
    runtime("python3.13", Python, 3, 13, Supported),
    runtime("python3.14", Python, 3, 14, Supported),
    runtime("ruby2.5", Ruby, 2, 5, Deprecated),
    runtime("ruby2.7", Ruby, 2, 7, Deprecated),
    runtime("ruby3.2", Ruby, 3, 2, Deprecated),
    runtime("ruby3.3", Ruby, 3, 3, Supported),
    runtime("ruby3.4", Ruby, 3, 4, Supported),
    runtime("java8", Java, 8, 0, Deprecated),
    runtime("java8.al2", Java, 8, 0, Supported),
    runtime("java11", Java, 11, 0, Supported),
    runtime("java17", Java, 17, 0, Supported),
    runtime("java21", Java, 21, 0, Supported),
    runtime("java25", Java, 25, 0, Supported),
    runtime("dotnetcore1.0", DotNet, 1, 0, Deprecated),
    runtime("dotnetcore2.0", DotNet, 2, 0, Deprecated),
    runtime("dotnetcore2.1", DotNet, 2, 1, Deprecated),
    runtime("dotnetcore3.1", DotNet, 3, 1, Deprecated),
    runtime("dotnet5.0", DotNet, 5, 0, Deprecated),
    runtime("dotnet6", DotNet, 6, 0, Deprecated),
    runtime("dotnet7", DotNet, 7, 0, Deprecated),
    runtime("dotnet8", DotNet, 8, 0, Supported),
    runtime("dotnet10", DotNet, 10, 0, Supported),
    runtime("go1.x", Go, 1, 0, Deprecated),
    runtime("provided", OsOnly, 1, 0, Deprecated),
    runtime("provided.al2", OsOnly, 1, 0, Supported),
    runtime("provided.al2023", OsOnly, 1, 0, Supported),
];

/// The runtime with this identifier, exactly as Lambda spells it.
pub fn lookup(id: &str) -> Option<&'static Runtime> {
    RUNTIMES.iter().find(|runtime| runtime.id == id)
}

/// Why an identifier is not a runtime, with the closest one Lambda has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRuntime {
    pub given: String,
    /// The nearest identifier by spelling, when one is close enough to be a likely typo,
    /// or the newest runtime of the language the name starts with.
    pub suggestion: Option<&'static str>,
}

impl fmt::Display for UnknownRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a Lambda runtime", self.given)?;
        match self.suggestion {
            Some(suggestion) => write!(f, "; did you mean {suggestion}?"),
            None => write!(
                f,
                "; use one of {}",
                supported()
                    .map(|runtime| runtime.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::error::Error for UnknownRuntime {}

/// The runtime `id` names, or why it names none.
pub fn parse(id: &str) -> Result<&'static Runtime, UnknownRuntime> {
    lookup(id).ok_or_else(|| UnknownRuntime {
        given: id.to_owned(),
        suggestion: suggest(id),
    })
}

/// The runtimes AWS still supports, oldest first within each language.
pub fn supported() -> impl Iterator<Item = &'static Runtime> {
    RUNTIMES
        .iter()
        .filter(|runtime| runtime.status == Status::Supported)
}

fn suggest(given: &str) -> Option<&'static str> {
    let lowered = given.trim().to_ascii_lowercase();
    if let Some(runtime) = lookup(&lowered) {
        return Some(runtime.id);
    }
    // Newest first, so that among equally close names the newest wins.
    let (best, distance) = RUNTIMES
        .iter()
        .rev()
        .map(|runtime| (runtime.id, strsim::levenshtein(&lowered, runtime.id)))
        .min_by_key(|(_, distance)| *distance)?;
    if distance <= 2 {
        return Some(best);
    }
    // `python3.15`, `node24`: the newest runtime of the language the name starts with.
    let language = [
        ("node", NodeJs),
        ("python", Python),
        ("ruby", Ruby),
        ("java", Java),
        ("dotnet", DotNet),
        ("go", Go),
        ("provided", OsOnly),
    ]
    .into_iter()
    .find(|(prefix, _)| lowered.starts_with(prefix))
    .map(|(_, language)| language)?;
    supported()
        .filter(|runtime| runtime.language == language)
        .last()
        .or_else(|| {
            RUNTIMES
                .iter()
                .rfind(|runtime| runtime.language == language)
        })
        .map(|runtime| runtime.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identifier_is_unique_and_found() {
        for (idx, runtime) in RUNTIMES.iter().enumerate() {
            assert_eq!(lookup(runtime.id), Some(runtime));
            assert!(
                RUNTIMES[idx + 1..]
                    .iter()
                    .all(|other| other.id != runtime.id),
                "{} twice",
                runtime.id
            );
        }
    }

    #[test]
    fn the_identifiers_the_issue_names() {
        for id in [
            "nodejs24.x",
            "python3.14",
            "nodejs12.x",
            "nodejs8.10",
            "nodejs4.3",
            "ruby3.2",
            "ruby3.4",
            "java11",
            "java25",
            "java8",
            "dotnet8",
        ] {
            assert!(lookup(id).is_some(), "{id}");
        }
        let deprecated: Vec<&str> = RUNTIMES
            .iter()
            .filter(|runtime| runtime.is_deprecated())
            .map(|runtime| runtime.id)
            .collect();
        for id in [
            "nodejs4.3",
            "nodejs16.x",
            "python2.7",
            "python3.6",
            "python3.8",
            "ruby2.5",
            "ruby2.7",
            "java8",
        ] {
            assert!(deprecated.contains(&id), "{id}");
        }
        assert!(!lookup("nodejs24.x").expect("known").is_deprecated());
    }

    #[test]
    fn versions_and_descriptions() {
        let node = lookup("nodejs8.10").expect("known");
        assert_eq!(node.version, Version::new(8, 10));
        assert_eq!(node.describe(), "Node.js 8.10");
        assert_eq!(
            lookup("nodejs24.x").expect("known").describe(),
            "Node.js 24"
        );
        assert_eq!(
            lookup("python3.14").expect("known").describe(),
            "Python 3.14"
        );
        assert_eq!(lookup("java21").expect("known").describe(), "Java 21");
        assert_eq!(lookup("java8.al2").expect("known").describe(), "Java 8");
        assert_eq!(lookup("ruby3.3").expect("known").describe(), "Ruby 3.3");
    }

    #[test]
    fn parse_leading_versions() {
        assert_eq!(
            Version::parse_leading("20.20.2"),
            Some(Version::new(20, 20))
        );
        assert_eq!(Version::parse_leading("3.11.7"), Some(Version::new(3, 11)));
        assert_eq!(Version::parse_leading("17.0.15"), Some(Version::new(17, 0)));
        assert_eq!(Version::parse_leading("25"), Some(Version::new(25, 0)));
        assert_eq!(
            Version::parse_leading("1.8.0_412"),
            Some(Version::new(8, 0))
        );
        assert_eq!(Version::parse_leading("v20"), None);
    }

    #[test]
    fn nearest_versions_prefer_the_same_major() {
        let wanted = Version::new(3, 14);
        assert!(wanted.distance(Version::new(3, 11)) < wanted.distance(Version::new(2, 14)));
        assert_eq!(Version::new(20, 0).distance(Version::new(22, 0)), 2_000);
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let message = |id: &str| parse(id).expect_err("unknown").to_string();
        assert_eq!(
            message("python3.15"),
            "python3.15 is not a Lambda runtime; did you mean python3.14?"
        );
        assert_eq!(
            message("nodejs26.x"),
            "nodejs26.x is not a Lambda runtime; did you mean nodejs24.x?"
        );
        assert_eq!(
            message("Python3.12"),
            "Python3.12 is not a Lambda runtime; did you mean python3.12?"
        );
        assert_eq!(
            message("node-latest"),
            "node-latest is not a Lambda runtime; did you mean nodejs24.x?"
        );
        assert!(message("cobol85")
            .starts_with("cobol85 is not a Lambda runtime; use one of nodejs20.x,"));
    }
}
