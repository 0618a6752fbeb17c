//! The admin token: `SERVERFUL_ADMIN_TOKEN` when set, else one generated once into the
//! data folder (`admin-token`, mode 0600) and printed once, when it is made.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where the token came from, for the start-up output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    /// Read from this file, made earlier.
    DataDir(PathBuf),
    /// Made now into this file: print it once.
    Generated(PathBuf),
}

/// The admin token and where it came from. `environment` is the value of
/// `SERVERFUL_ADMIN_TOKEN`, if set.
pub fn load_or_generate_token(
    data_dir: &Path,
    environment: Option<String>,
) -> std::io::Result<(String, TokenSource)> {
    if let Some(token) = environment.filter(|token| !token.trim().is_empty()) {
        return Ok((token.trim().to_owned(), TokenSource::Environment));
    }
    let path = data_dir.join("admin-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_owned();
        if !token.is_empty() {
            return Ok((token, TokenSource::DataDir(path)));
        }
    }
    let token = format!(
        "sft_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?
    };
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok((token, TokenSource::Generated(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_private_and_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let (token, source) = load_or_generate_token(dir.path(), None).expect("token");
        assert!(token.starts_with("sft_") && token.len() > 60, "{token}");
        let path = dir.path().join("admin-token");
        assert_eq!(source, TokenSource::Generated(path.clone()));
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let (again, source) = load_or_generate_token(dir.path(), None).expect("token");
        assert_eq!(again, token);
        assert_eq!(source, TokenSource::DataDir(path));
        let (from_env, source) =
            load_or_generate_token(dir.path(), Some("mine".to_owned())).expect("token");
        assert_eq!(
            (from_env.as_str(), source),
            ("mine", TokenSource::Environment)
        );
    }
}
