//! The local certificate authority of a data folder and the certificates it issues.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::TlsError;

/// The authority's folder inside the data folder.
pub const TLS_DIR: &str = "tls";
/// The authority's certificate (PEM), in [`TLS_DIR`].
pub const CA_FILE: &str = "ca.pem";
/// The authority's private key (PEM, mode 0600), in [`TLS_DIR`].
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// What functions trust: the system's roots and the authority (PEM), in [`TLS_DIR`].
const BUNDLE_FILE: &str = "ca-bundle.pem";

const CA_COMMON_NAME: &str = "Serverful local certificate authority";
const ORGANIZATION: &str = "Serverful";

/// A data folder's certificate authority: made on first use, kept across restarts so that
/// what trusts it keeps trusting it.
pub struct Authority {
    dir: PathBuf,
    key: KeyPair,
    /// The authority as rcgen signs with it: the stored certificate's name and key (a
    /// certificate carries only those of its issuer's), made again from the stored key.
    issuer: rcgen::Certificate,
    ca_pem: String,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// The authority of `data_dir` (`DATA/tls/`), made and written the first time.
    pub fn load_or_create(data_dir: &Path) -> Result<Authority, TlsError> {
        let dir = data_dir.join(TLS_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| TlsError::File {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let key_path = dir.join(CA_KEY_FILE);
        let ca_path = dir.join(CA_FILE);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(pem) => KeyPair::from_pem(&pem).map_err(|error| TlsError::BadKey {
                path: key_path.clone(),
                dir: dir.clone(),
                reason: error.to_string(),
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate()?;
                write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
                // A certificate of an older key would no longer match.
                let _ = std::fs::remove_file(&ca_path);
                key
            }
            Err(source) => {
                return Err(TlsError::File {
                    action: "read",
                    path: key_path,
                    source,
                })
            }
        };
        let issuer = ca_params().self_signed(&key)?;
        let ca_pem = match std::fs::read_to_string(&ca_path) {
            Ok(pem) => pem,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let pem = issuer.pem();
                write_file(&ca_path, pem.as_bytes(), 0o644)?;
                pem
            }
            Err(source) => {
                return Err(TlsError::File {
                    action: "read",
                    path: ca_path,
                    source,
                })
            }
        };
        Ok(Authority {
            dir,
            key,
            issuer,
            ca_pem,
        })
    }

    /// The authority's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the authority's certificate is (`DATA/tls/ca.pem`).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join(CA_FILE)
    }

    /// A new leaf certificate for `names` (host names, `*.` wildcards, IP addresses) and
    /// its key, both DER.
    pub fn issue(
        &self,
        names: &[String],
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
        let mut params = CertificateParams::new(names.to_vec())?;
        let mut name = DistinguishedName::new();
        name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        name.push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name = name;
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        // Made again at every start, so a long validity costs nothing.
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        let leaf_key = KeyPair::generate()?;
        let leaf = params.signed_by(&leaf_key, &self.issuer, &self.key)?;
        Ok((
            leaf.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        ))
    }

    /// A rustls server configuration presenting a new certificate for `names`, on ring,
    /// speaking HTTP/1.1.
    pub fn server_config(&self, names: &[String]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let (certificate, key) = self.issue(names)?;
        let mut config = rustls::ServerConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Writes (again) the bundle functions trust, `DATA/tls/ca-bundle.pem`: the system's
    /// roots (as `rustls-native-certs` finds them, `SSL_CERT_FILE` honoured), then the
    /// authority. Roots that cannot be read are left out with a warning.
    pub fn write_bundle(&self) -> Result<PathBuf, TlsError> {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!("failed to read some of the system's trusted certificates: {error}");
        }
        let roots: Vec<pem::Pem> = found
            .certs
            .iter()
            .map(|certificate| pem::Pem::new("CERTIFICATE", certificate.as_ref().to_vec()))
            .collect();
        let mut bundle = pem::encode_many_config(
            &roots,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        );
        bundle.push_str(&self.ca_pem);
        let path = self.dir.join(BUNDLE_FILE);
        write_file(&path, bundle.as_bytes(), 0o644)?;
        Ok(path)
    }
}

/// rustls on ring, the provider the whole workspace uses (SNS's HTTPS deliveries too): it
/// builds with nothing but the compiler. rustls 0.23.48 deprecates it for lacking
/// post-quantum key exchange, which loopback TLS to the functions does not need.
#[expect(deprecated, reason = "ring is the workspace's provider; see above")]
pub(crate) fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The authority's certificate: the same name and key every time, so the one made from
/// the stored key signs what the stored certificate verifies.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_COMMON_NAME);
    name.push(DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2050, 1, 1);
    params
}

/// Writes `bytes` to `path` with `mode` through a temporary file renamed into place, so a
/// reader never sees half a file and a key is never readable by others, even briefly.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let failed = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::File {
            action,
            path,
            source,
        }
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(failed("create", &temporary))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(failed("write", &temporary))?;
    std::fs::rename(&temporary, path).map_err(failed("rename into place", path))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::{ServerName, UnixTime};

    use super::*;
    use crate::served_names;

    /// Whether a client trusting only `ca_pem` accepts `certificate` for `name`.
    fn verifies(ca_pem: &str, certificate: &CertificateDer<'static>, name: &str) -> bool {
        let mut roots = rustls::RootCertStore::empty();
        let ca = pem::parse(ca_pem).expect("the authority is PEM");
        roots
            .add(CertificateDer::from(ca.contents().to_vec()))
            .expect("a usable root");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            crate::authority::ring_provider(),
        )
        .build()
        .expect("a verifier");
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000));
        verifier
            .verify_server_cert(
                certificate,
                &[],
                &ServerName::try_from(name.to_owned()).expect("a server name"),
                &[],
                now,
            )
            .is_ok()
    }

    #[test]
    fn the_authority_is_made_once_and_kept() {
        let data = tempfile::tempdir().expect("temp dir");
        let first = Authority::load_or_create(data.path()).expect("make the authority");
        let key_path = data.path().join(TLS_DIR).join(CA_KEY_FILE);
        let mode = std::fs::metadata(&key_path)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private");
        let ca = std::fs::read_to_string(first.ca_path()).expect("ca.pem");
        assert_eq!(ca, first.ca_pem());
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));

        let again = Authority::load_or_create(data.path()).expect("load the authority");
        assert_eq!(
            again.ca_pem(),
            first.ca_pem(),
            "the same authority on restart"
        );
        // A certificate the reloaded authority issues verifies against the stored one.
        let (leaf, _) = again
            .issue(&served_names("us-east-1", "localhost"))
            .expect("issue");
        assert!(verifies(
            first.ca_pem(),
            &leaf,
            "dynamodb.us-east-1.amazonaws.com"
        ));
    }

    #[test]
    fn the_leaf_covers_the_served_names_only() {
        let data = tempfile::tempdir().expect("temp dir");
        let authority = Authority::load_or_create(data.path()).expect("make the authority");
        let (leaf, _) = authority
            .issue(&served_names("eu-west-1", "example.com"))
            .expect("issue");
        let ca = authority.ca_pem();
        for name in [
            "dynamodb.eu-west-1.amazonaws.com",
            "streams.dynamodb.eu-west-1.amazonaws.com",
            "sqs.eu-west-1.amazonaws.com",
            "sns.eu-west-1.amazonaws.com",
            "events.eu-west-1.amazonaws.com",
            "lambda.eu-west-1.amazonaws.com",
            "abc123defg.execute-api.eu-west-1.amazonaws.com",
            "abc123defg.execute-api.example.com",
            "s3.eu-west-1.amazonaws.com",
            "my-bucket.s3.eu-west-1.amazonaws.com",
            "s3.amazonaws.com",
            "my-bucket.s3.amazonaws.com",
            "localhost",
            "127.0.0.1",
        ] {
            assert!(verifies(ca, &leaf, name), "{name} is covered");
        }
        for name in [
            "dynamodb.us-east-1.amazonaws.com",
            "example.com",
            "www.google.com",
            "sqs.amazonaws.com",
        ] {
            assert!(!verifies(ca, &leaf, name), "{name} is not covered");
        }
        // Another data folder's authority is another authority.
        let other = tempfile::tempdir().expect("temp dir");
        let stranger = Authority::load_or_create(other.path()).expect("make another");
        assert!(!verifies(
            stranger.ca_pem(),
            &leaf,
            "dynamodb.eu-west-1.amazonaws.com"
        ));
    }

    #[test]
    fn a_changed_key_gets_a_new_certificate_and_a_bad_one_says_how_to_recover() {
        let data = tempfile::tempdir().expect("temp dir");
        let first = Authority::load_or_create(data.path()).expect("make the authority");
        let key_path = data.path().join(TLS_DIR).join(CA_KEY_FILE);
        std::fs::remove_file(&key_path).expect("remove the key");
        let second = Authority::load_or_create(data.path()).expect("make a new one");
        assert_ne!(first.ca_pem(), second.ca_pem());

        std::fs::write(&key_path, "not a key").expect("spoil the key");
        let error = Authority::load_or_create(data.path()).expect_err("a bad key");
        assert!(error.to_string().contains("hint: delete"), "{error}");
    }

    #[test]
    fn the_bundle_holds_the_authority_after_the_system_roots() {
        let data = tempfile::tempdir().expect("temp dir");
        let authority = Authority::load_or_create(data.path()).expect("make the authority");
        let path = authority.write_bundle().expect("write the bundle");
        let bundle = std::fs::read_to_string(&path).expect("read the bundle");
        assert!(bundle.ends_with(authority.ca_pem()));
        let n_certificates = pem::parse_many(&bundle).expect("PEM").len();
        let n_roots = rustls_native_certs::load_native_certs().certs.len();
        assert_eq!(n_certificates, n_roots + 1);
        let mode = std::fs::metadata(&path)
            .expect("bundle")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "functions read it as another user");
    }
}
