//! Secrets are a type that never prints: the pseudonym key, the Redis URL (it may carry a
//! password), the embedded Redis's password. `Debug` and `Display` show `<redacted>`; the value
//! is read only through [`Secret::expose`], so every use of it is a line to review.

use std::path::Path;

use serde::Deserialize;

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself. Never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret kept in a file of its own in `dir`, or makes one of 256 random bits
    /// (hex) there, with mode 0600, on first use. The file is created exclusively, so two
    /// processes starting at once cannot each write their own.
    pub fn in_file(dir: &Path, name: &str) -> std::io::Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(name);
        // Written whole under a private name, then linked into place: the link succeeds only
        // when no secret is there yet, and a reader never sees a half-written one.
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        let value = hex::encode(bytes);
        let staging = dir.join(format!(".{name}.{}", &value[..16]));
        {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&staging)?;
            file.write_all(value.as_bytes())?;
            file.sync_all()?;
        }
        let linked = std::fs::hard_link(&staging, &path);
        let _ = std::fs::remove_file(&staging);
        match linked {
            Ok(()) => Ok(Self(value)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let value = std::fs::read_to_string(&path)?.trim().to_string();
                if value.is_empty() {
                    return Err(std::io::Error::other(format!(
                        "{} is empty: remove it to have a new secret made",
                        path.display()
                    )));
                }
                Ok(Self(value))
            }
            Err(e) => Err(e),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("hunter2-and-more");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "hunter2-and-more");
    }

    #[test]
    fn a_secret_in_a_file_is_made_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = Secret::in_file(dir.path(), "k").unwrap();
        let again = Secret::in_file(dir.path(), "k").unwrap();
        assert_eq!(first.expose(), again.expose());
        assert_eq!(first.expose().len(), 64);
        let mode = std::fs::metadata(dir.path().join("k"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_ne!(
            first.expose(),
            Secret::in_file(dir.path(), "other").unwrap().expose()
        );
    }
}
