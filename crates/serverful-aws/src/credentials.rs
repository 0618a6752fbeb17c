//! The endpoint's key pair: from `SERVERFUL_ACCESS_KEY_ID`/`SERVERFUL_SECRET_ACCESS_KEY`,
//! else generated once into `DATA_DIR/aws-keys.json` (mode 0600) and reused.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// Environment variable holding the access key ID.
pub const ACCESS_KEY_ID_ENV: &str = "SERVERFUL_ACCESS_KEY_ID";
/// Environment variable holding the secret access key.
pub const SECRET_ACCESS_KEY_ENV: &str = "SERVERFUL_SECRET_ACCESS_KEY";
/// The file, inside the data directory, that keeps a generated pair.
pub const KEYS_FILE_NAME: &str = "aws-keys.json";

/// An AWS-style key pair. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The public half, e.g. `AKSF...`.
    pub access_key_id: String,
    /// The secret half.
    pub secret_access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Where the key pair came from; the binary prints a generated pair at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Both `SERVERFUL_*` variables were set.
    Environment,
    /// Read from the keys file a previous start generated.
    DataDir(PathBuf),
    /// Generated now and written to this file.
    Generated(PathBuf),
}

/// Why no key pair could be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Only one of the two variables is set.
    #[error("{set} is set but {unset} is not; set both or neither")]
    PartialEnvironment {
        /// The variable that is set.
        set: &'static str,
        /// The variable that is missing.
        unset: &'static str,
    },
    /// A variable is set to an empty string.
    #[error("{0} is empty")]
    EmptyEnvironment(&'static str),
    /// The data directory could not be created.
    #[error("create data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The keys file exists but could not be read.
    #[error("read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The keys file is not the JSON this crate writes.
    #[error("{path} is not a valid keys file (delete it to generate a new pair): {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The keys file could not be written.
    #[error("write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The key pair from the environment, else from `data_dir/aws-keys.json`, else a new pair
/// written there with mode 0600.
pub fn load_or_generate_credentials(
    data_dir: &Path,
) -> Result<(Credentials, KeySource), CredentialsError> {
    let access_key_id = std::env::var(ACCESS_KEY_ID_ENV).ok();
    let secret_access_key = std::env::var(SECRET_ACCESS_KEY_ENV).ok();
    resolve_credentials(data_dir, access_key_id, secret_access_key)
}

/// [`load_or_generate_credentials`] with the environment's values passed in.
pub fn resolve_credentials(
    data_dir: &Path,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
) -> Result<(Credentials, KeySource), CredentialsError> {
    match (access_key_id, secret_access_key) {
        (Some(access_key_id), Some(secret_access_key)) => {
            if access_key_id.is_empty() {
                return Err(CredentialsError::EmptyEnvironment(ACCESS_KEY_ID_ENV));
            }
            if secret_access_key.is_empty() {
                return Err(CredentialsError::EmptyEnvironment(SECRET_ACCESS_KEY_ENV));
            }
            Ok((
                Credentials {
                    access_key_id,
                    secret_access_key,
                },
                KeySource::Environment,
            ))
        }
        (Some(_), None) => Err(CredentialsError::PartialEnvironment {
            set: ACCESS_KEY_ID_ENV,
            unset: SECRET_ACCESS_KEY_ENV,
        }),
        (None, Some(_)) => Err(CredentialsError::PartialEnvironment {
            set: SECRET_ACCESS_KEY_ENV,
            unset: ACCESS_KEY_ID_ENV,
        }),
        (None, None) => load_or_generate_file(data_dir),
    }
}

fn load_or_generate_file(data_dir: &Path) -> Result<(Credentials, KeySource), CredentialsError> {
    let path = data_dir.join(KEYS_FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let credentials: Credentials =
                serde_json::from_slice(&bytes).map_err(|source| CredentialsError::Parse {
                    path: path.clone(),
                    source,
                })?;
            return Ok((credentials, KeySource::DataDir(path)));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(CredentialsError::Read { path, source }),
    }
    std::fs::create_dir_all(data_dir).map_err(|source| CredentialsError::CreateDir {
        path: data_dir.to_owned(),
        source,
    })?;
    let credentials = generate_credentials();
    let mut json = serde_json::to_vec_pretty(&credentials).expect("two strings serialize");
    json.push(b'\n');
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(&json)
                .and_then(|()| file.sync_all())
                .map_err(|source| CredentialsError::Write {
                    path: path.clone(),
                    source,
                })?;
            Ok((credentials, KeySource::Generated(path)))
        }
        // Another process generated the pair between our read and our create: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            load_or_generate_file(data_dir)
        }
        Err(source) => Err(CredentialsError::Write { path, source }),
    }
}

/// A fresh pair: `AKSF` + 16 base32 characters, and a 40-character secret, both from
/// the operating system's random generator (through UUID v4).
pub fn generate_credentials() -> Credentials {
    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let id_bytes = uuid::Uuid::new_v4().into_bytes();
    let mut access_key_id = String::from("AKSF");
    for byte in id_bytes.iter().take(16) {
        access_key_id.push(char::from(BASE32[usize::from(byte & 0x1f)]));
    }
    let mut secret_bytes = Vec::with_capacity(32);
    secret_bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    secret_bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    secret_bytes.truncate(30);
    let secret_access_key = base64::engine::general_purpose::STANDARD.encode(&secret_bytes);
    Credentials {
        access_key_id,
        secret_access_key,
    }
}

/// A fresh session token for temporary keys: 48 random bytes, base64 (longer than a key,
/// as STS's are; SDKs send it as `X-Amz-Security-Token`).
pub fn generate_session_token() -> String {
    let mut bytes = Vec::with_capacity(48);
    for _ in 0..3 {
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let (first, source) = resolve_credentials(&data, None, None).expect("generate");
        assert_eq!(source, KeySource::Generated(data.join(KEYS_FILE_NAME)));
        assert_eq!(first.access_key_id.len(), 20);
        assert_eq!(first.secret_access_key.len(), 40);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(data.join(KEYS_FILE_NAME))
                .expect("keys file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, source) = resolve_credentials(&data, None, None).expect("reuse");
        assert_eq!(source, KeySource::DataDir(data.join(KEYS_FILE_NAME)));
        assert_eq!(first, second);
    }

    #[test]
    fn environment_wins_and_must_be_complete() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (credentials, source) =
            resolve_credentials(dir.path(), Some("AK".into()), Some("SK".into())).expect("env");
        assert_eq!(source, KeySource::Environment);
        assert_eq!(credentials.secret_access_key, "SK");
        assert!(!dir.path().join(KEYS_FILE_NAME).exists());
        let error = resolve_credentials(dir.path(), Some("AK".into()), None).expect_err("partial");
        assert_eq!(
            error.to_string(),
            "SERVERFUL_ACCESS_KEY_ID is set but SERVERFUL_SECRET_ACCESS_KEY is not; set both or neither"
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let credentials = generate_credentials();
        let debug = format!("{credentials:?}");
        assert!(!debug.contains(&credentials.secret_access_key));
        assert_ne!(generate_credentials(), credentials);
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_new_pair() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(KEYS_FILE_NAME), "{").expect("write");
        let error = resolve_credentials(dir.path(), None, None).expect_err("corrupt");
        assert!(matches!(error, CredentialsError::Parse { .. }));
    }
}
