//! Message signatures as SNS makes them: an RSA key pair and a self-signed X.509
//! certificate kept in the data folder (`DATA/sns/`), PKCS#1 v1.5 signatures over SHA1
//! (`SignatureVersion` 1) or SHA256 (2) of SNS's canonical string, and the certificate
//! served at the `SigningCertURL` so that subscribers can verify what they receive.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::RsaPrivateKey;
use sha2::Digest as _;
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::der::EncodePem as _;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

/// What can go wrong making or reading the key pair.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("failed to {action} {}: {message}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("failed to make the SNS signing certificate: {0}")]
    Certificate(String),
}

/// The key that signs deliveries, and its certificate.
pub struct Signer {
    sha1: SigningKey<sha1::Sha1>,
    sha256: SigningKey<sha2::Sha256>,
    certificate_pem: String,
    certificate_file: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("certificate_file", &self.certificate_file)
            .finish_non_exhaustive()
    }
}

/// The canonical strings SNS signs, by message type: each named field that is present,
/// as `Name\nvalue\n`, in this order.
const NOTIFICATION_FIELDS: &[&str] = &[
    "Message",
    "MessageId",
    "Subject",
    "Timestamp",
    "TopicArn",
    "Type",
];
const CONFIRMATION_FIELDS: &[&str] = &[
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
];

/// The string SNS signs for a message with these fields (`lookup` gives a field's value,
/// `None` when the message has no such field).
pub fn canonical_string<'a>(
    message_type: &str,
    lookup: impl Fn(&str) -> Option<&'a str>,
) -> String {
    let fields = if message_type == "Notification" {
        NOTIFICATION_FIELDS
    } else {
        CONFIRMATION_FIELDS
    };
    let mut canonical = String::new();
    for field in fields {
        let value = if *field == "Type" {
            Some(message_type)
        } else {
            lookup(field)
        };
        if let Some(value) = value {
            canonical.push_str(field);
            canonical.push('\n');
            canonical.push_str(value);
            canonical.push('\n');
        }
    }
    canonical
}

impl Signer {
    /// Reads the key pair in `folder` (`signing-key.pem`, `signing-cert.pem`), or makes
    /// one there (the key readable only by its owner).
    pub fn load_or_generate(folder: &Path) -> Result<Signer, SigningError> {
        let key_path = folder.join("signing-key.pem");
        let certificate_path = folder.join("signing-cert.pem");
        let file_error = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |error: std::io::Error| SigningError::File {
                action,
                path,
                message: error.to_string(),
            }
        };
        if key_path.exists() && certificate_path.exists() {
            let key_pem = std::fs::read_to_string(&key_path)
                .map_err(file_error("read the SNS signing key", &key_path))?;
            let key =
                RsaPrivateKey::from_pkcs8_pem(&key_pem).map_err(|error| SigningError::File {
                    action: "read the SNS signing key",
                    path: key_path.clone(),
                    message: format!("{error}; delete it and its certificate to make new ones"),
                })?;
            let certificate_pem = std::fs::read_to_string(&certificate_path).map_err(
                file_error("read the SNS signing certificate", &certificate_path),
            )?;
            return Ok(Signer::new(key, certificate_pem));
        }
        std::fs::create_dir_all(folder).map_err(file_error("create", folder))?;
        let mut rng = rsa::rand_core::OsRng;
        let key = RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|error| SigningError::Certificate(error.to_string()))?;
        let certificate_pem = self_signed_certificate(&key)?;
        let key_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| SigningError::Certificate(error.to_string()))?;
        write_private(&key_path, key_pem.as_bytes())
            .map_err(file_error("write the SNS signing key", &key_path))?;
        std::fs::write(&certificate_path, &certificate_pem).map_err(file_error(
            "write the SNS signing certificate",
            &certificate_path,
        ))?;
        Ok(Signer::new(key, certificate_pem))
    }

    fn new(key: RsaPrivateKey, certificate_pem: String) -> Signer {
        // Named by its content, as SNS names its certificates, so a new key pair gets a
        // new URL and subscribers' caches never serve the old one for it.
        let digest = sha2::Sha256::digest(certificate_pem.as_bytes());
        let hex: String = digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Signer {
            sha1: SigningKey::new(key.clone()),
            sha256: SigningKey::new(key),
            certificate_pem,
            certificate_file: format!("SimpleNotificationService-{hex}.pem"),
        }
    }

    /// The certificate in PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The certificate's file name, the path of the `SigningCertURL` on the endpoint.
    pub fn certificate_file(&self) -> &str {
        &self.certificate_file
    }

    /// Signs `canonical` for `SignatureVersion` `version` ("1": SHA1, "2": SHA256);
    /// base64 as SNS sends it.
    pub fn sign(&self, version: &str, canonical: &str) -> String {
        let signature = if version == "2" {
            self.sha256.sign(canonical.as_bytes()).to_vec()
        } else {
            self.sha1.sign(canonical.as_bytes()).to_vec()
        };
        base64::engine::general_purpose::STANDARD.encode(signature)
    }
}

fn self_signed_certificate(key: &RsaPrivateKey) -> Result<String, SigningError> {
    let failed = |error: &dyn std::fmt::Display| SigningError::Certificate(error.to_string());
    let subject =
        Name::from_str("CN=sns.amazonaws.com,O=Serverful").map_err(|error| failed(&error))?;
    let validity = Validity::from_now(Duration::from_secs(20 * 365 * 24 * 60 * 60))
        .map_err(|error| failed(&error))?;
    let public_key =
        SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(|error| failed(&error))?;
    let signer = SigningKey::<sha2::Sha256>::new(key.clone());
    let serial = SerialNumber::from(
        u32::from_be_bytes(
            uuid::Uuid::new_v4().as_bytes()[..4]
                .try_into()
                .expect("four bytes of sixteen"),
        ) >> 1,
    );
    let builder = CertificateBuilder::new(
        Profile::Root,
        serial,
        validity,
        subject,
        public_key,
        &signer,
    )
    .map_err(|error| failed(&error))?;
    let certificate = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|error| failed(&error))?;
    certificate
        .to_pem(LineEnding::LF)
        .map_err(|error| failed(&error))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier as _;
    use x509_cert::der::DecodePem as _;

    #[test]
    fn signatures_verify_with_the_served_certificate() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let signer = Signer::load_or_generate(folder.path()).expect("key pair");
        let again = Signer::load_or_generate(folder.path()).expect("same key pair");
        assert_eq!(signer.certificate_pem(), again.certificate_pem());
        assert!(signer
            .certificate_file()
            .starts_with("SimpleNotificationService-"));

        let certificate =
            x509_cert::Certificate::from_pem(signer.certificate_pem()).expect("PEM certificate");
        use rsa::pkcs8::DecodePublicKey as _;
        use x509_cert::der::Encode as _;
        let spki_der = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .expect("DER public key");
        let public_key = rsa::RsaPublicKey::from_public_key_der(&spki_der).expect("RSA public key");
        let canonical = canonical_string("Notification", |field| match field {
            "Message" => Some("hello"),
            "MessageId" => Some("id"),
            "Timestamp" => Some("2026-01-01T00:00:00.000Z"),
            "TopicArn" => Some("arn:aws:sns:us-east-1:123456789012:t"),
            _ => None,
        });
        assert_eq!(
            canonical,
            "Message\nhello\nMessageId\nid\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\nNotification\n"
        );
        for version in ["1", "2"] {
            let encoded = again.sign(version, &canonical);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .expect("base64");
            let signature = Signature::try_from(bytes.as_slice()).expect("signature");
            let verified = if version == "1" {
                VerifyingKey::<sha1::Sha1>::new(public_key.clone())
                    .verify(canonical.as_bytes(), &signature)
            } else {
                VerifyingKey::<sha2::Sha256>::new(public_key.clone())
                    .verify(canonical.as_bytes(), &signature)
            };
            verified.expect("the signature verifies");
        }
    }
}
