//! AWS's host names for functions: the CA bundle they trust (`NODE_EXTRA_CA_CERTS`,
//! `AWS_CA_BUNDLE`, `REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`) and, sandboxed, the
//! `/etc/hosts` that maps the served names to the sandbox's loopback, where the server
//! answers TLS on port 443.
//!
//! The runtime only places files and variables; which names are served and the TLS
//! listeners are the binary's (`serverful-tls`).

use std::path::{Path, PathBuf};

use serverful_sandbox::Mount;
use sha2::Digest as _;

/// The variables naming the CA bundle, each read by some runtime or SDK: Node.js
/// (`NODE_EXTRA_CA_CERTS`, added to its own roots), the AWS SDKs and CLI
/// (`AWS_CA_BUNDLE`), Python's `requests` (`REQUESTS_CA_BUNDLE`), OpenSSL, Go, Ruby and
/// Python's `ssl` (`SSL_CERT_FILE`).
pub const CA_BUNDLE_VARIABLES: [&str; 4] = [
    "NODE_EXTRA_CA_CERTS",
    "AWS_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
];

/// Where the bundle appears inside the sandbox (on the root's own tmpfs: `/etc` is the
/// host's, read-only).
pub const CA_BUNDLE_INSIDE: &str = "/var/serverful/ca-bundle.pem";

/// Where Serverful answers inside a sandbox: its own loopback.
const SERVED_ADDRESS: &str = "127.0.0.1";

/// TLS for AWS's host names, handed to functions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsHosts {
    /// The CA bundle on the host: the system's roots and Serverful's authority.
    pub ca_bundle: PathBuf,
    /// The names a sandbox's `/etc/hosts` maps to Serverful: the services of the region
    /// and the stack's APIs (`/etc/hosts` has no wildcards).
    pub names: Vec<String>,
}

impl AwsHosts {
    /// The sandbox's mounts: the bundle at [`CA_BUNDLE_INSIDE`] and the hosts file over
    /// `/etc/hosts`, written under `DATA/sandbox/hosts/` (named by its content, never
    /// changed once written, so an instance's view stays the same while it runs).
    pub(crate) fn mounts(&self, data_dir: &Path) -> Result<Vec<Mount>, String> {
        let host_file = std::fs::read_to_string("/etc/hosts")
            .unwrap_or_else(|_| "127.0.0.1 localhost\n".to_owned());
        let content = hosts_file(&self.names, &host_file);
        let digest = sha2::Sha256::digest(content.as_bytes());
        let name: String = digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let dir = data_dir.join("sandbox").join("hosts");
        let path = dir.join(name);
        if !path.exists() {
            std::fs::create_dir_all(&dir)
                .map_err(|error| format!("create {}: {error}", dir.display()))?;
            let temporary = dir.join(format!(
                ".{}.tmp{}",
                uuid::Uuid::new_v4().simple(),
                std::process::id()
            ));
            std::fs::write(&temporary, &content)
                .and_then(|()| std::fs::rename(&temporary, &path))
                .map_err(|error| format!("write {}: {error}", path.display()))?;
        }
        Ok(vec![
            Mount::read_only(&self.ca_bundle, CA_BUNDLE_INSIDE),
            Mount::read_only(path, "/etc/hosts"),
        ])
    }
}

/// The sandbox's `/etc/hosts`: the served `names` first (the first match wins), then the
/// host's own lines, so every other name resolves as on the host.
fn hosts_file(names: &[String], host_file: &str) -> String {
    let mut content =
        String::from("# Serverful: AWS host names answered by Serverful inside this sandbox\n");
    for name in names {
        content.push_str(SERVED_ADDRESS);
        content.push(' ');
        content.push_str(name);
        content.push('\n');
    }
    content.push_str("# The host's /etc/hosts\n");
    content.push_str(host_file);
    if !content.ends_with('\n') {
        content.push('\n');
    }
    content
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn served_names_come_first() {
        let names = vec![
            "dynamodb.us-east-1.amazonaws.com".to_owned(),
            "abc123defg.execute-api.us-east-1.amazonaws.com".to_owned(),
        ];
        expect![[r#"
            # Serverful: AWS host names answered by Serverful inside this sandbox
            127.0.0.1 dynamodb.us-east-1.amazonaws.com
            127.0.0.1 abc123defg.execute-api.us-east-1.amazonaws.com
            # The host's /etc/hosts
            127.0.0.1 localhost
            ::1 localhost ip6-localhost
        "#]]
        .assert_eq(&hosts_file(
            &names,
            "127.0.0.1 localhost\n::1 localhost ip6-localhost",
        ));
    }

    #[test]
    fn the_hosts_file_is_written_once_per_content() {
        let data = tempfile::tempdir().expect("temp dir");
        let bundle = data.path().join("bundle.pem");
        std::fs::write(&bundle, "pem").expect("bundle");
        let hosts = AwsHosts {
            ca_bundle: bundle.clone(),
            names: vec!["sqs.us-east-1.amazonaws.com".to_owned()],
        };
        let first = hosts.mounts(data.path()).expect("mounts");
        let again = hosts.mounts(data.path()).expect("mounts");
        assert_eq!(first, again);
        assert_eq!(first[0], Mount::read_only(&bundle, CA_BUNDLE_INSIDE));
        assert_eq!(first[1].target, Path::new("/etc/hosts"));
        let written = std::fs::read_to_string(&first[1].source).expect("hosts file");
        assert!(written.contains("127.0.0.1 sqs.us-east-1.amazonaws.com\n"));
    }
}
