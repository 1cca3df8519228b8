//! The development issuer: what `cargo run --release` needs to be secure by default without a
//! county's identity provider. On first start it creates, under `<data dir>/dev-auth/` (files
//! 0600): a CA, a server certificate for localhost signed by it, and a token-signing key.
//! `luotsi token` mints access tokens with that key. Unless a pseudonym key is configured, it
//! also holds the development pseudonym key (`pseudonym-key`, random, made on first start). None of it is accepted once an issuer is
//! configured: tokens must then carry the configured issuer and verify with its keys.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::json;

use super::Role;
use super::jwt::KeySource;

/// The development issuer's name (`iss` of its tokens).
pub const ISSUER: &str = "luotsi-development";
/// The key id of the development signing key.
const KID: &str = "luotsi-development-1";

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("development certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("development signing key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
}

/// The development CA, server certificate and signing key, on disk.
#[derive(Debug, Clone)]
pub struct DevAuthority {
    dir: PathBuf,
}

/// What a development token says.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub subject: String,
    pub roles: Vec<Role>,
    pub professional: Option<String>,
    pub teams: Vec<String>,
    pub organisation: String,
    pub audience: String,
    pub valid_for: Duration,
}

impl TokenRequest {
    /// A token for one role, named after `who` (a professional's id for `professional`).
    pub fn new(role: Role, who: &str, audience: &str) -> Self {
        Self {
            subject: who.to_string(),
            roles: vec![role],
            professional: (role == Role::Professional).then(|| who.to_string()),
            teams: Vec::new(),
            organisation: "luotsi-development".into(),
            audience: audience.to_string(),
            valid_for: Duration::from_secs(8 * 3600),
        }
    }
}

impl DevAuthority {
    /// Opens the development material in `dir`, creating what is missing.
    pub fn open(dir: &Path) -> Result<Self, DevError> {
        let this = Self {
            dir: dir.to_path_buf(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| io(dir, e))?;
        }
        if !this.path("ca.pem").exists() || !this.path("ca-key.pem").exists() {
            let key = KeyPair::generate()?;
            let cert = ca_params().self_signed(&key)?;
            this.write("ca-key.pem", &key.serialize_pem())?;
            this.write("ca.pem", &cert.pem())?;
            // A new CA invalidates the old server certificate.
            let _ = std::fs::remove_file(this.path("server.pem"));
        }
        if !this.path("server.pem").exists() || !this.path("server-key.pem").exists() {
            let (cert, key) = this.issue(
                vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
                "localhost",
                ExtendedKeyUsagePurpose::ServerAuth,
            )?;
            this.write("server-key.pem", &key)?;
            this.write("server.pem", &cert)?;
        }
        if !this.path("token-key.pem").exists() {
            let key = KeyPair::generate()?;
            this.write("token-key.pem", &key.serialize_pem())?;
        }
        Ok(this)
    }

    /// Issues a new server certificate and key in place (the service re-reads them on
    /// SIGHUP).
    pub fn renew_server_certificate(&self) -> Result<(), DevError> {
        let (cert, key) = self.issue(
            vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        self.write("server-key.pem", &key)?;
        self.write("server.pem", &cert)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The development pseudonym key: random, made on first use, 0600. It never leaves this
    /// directory, so pseudonyms made with it cannot be reversed by whoever read the source.
    pub fn pseudonym_key(&self) -> Result<crate::secret::Secret, DevError> {
        crate::secret::Secret::in_file(&self.dir, "pseudonym-key")
            .map_err(|e| io(&self.path("pseudonym-key"), e))
    }

    /// The development key-encryption key for data at rest: random, made on first use, 0600.
    pub fn data_key(&self) -> Result<crate::secret::Secret, DevError> {
        crate::secret::Secret::in_file(&self.dir, "data-key")
            .map_err(|e| io(&self.path("data-key"), e))
    }

    /// The CA certificate clients trust (`ca.pem`).
    pub fn ca_file(&self) -> PathBuf {
        self.path("ca.pem")
    }

    pub fn server_cert_file(&self) -> PathBuf {
        self.path("server.pem")
    }

    pub fn server_key_file(&self) -> PathBuf {
        self.path("server-key.pem")
    }

    /// A client certificate for a system, signed by the development CA: `(cert PEM, key PEM)`.
    pub fn client_certificate(&self, common_name: &str) -> Result<(String, String), DevError> {
        self.issue(Vec::new(), common_name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(
        &self,
        names: Vec<String>,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<(String, String), DevError> {
        let ca_key = KeyPair::from_pem(&self.read("ca-key.pem")?)?;
        let issuer = Issuer::from_ca_cert_pem(&self.read("ca.pem")?, ca_key)?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// The keys that verify development tokens.
    pub fn verifying_keys(&self) -> Result<KeySource, DevError> {
        let key = KeyPair::from_pem(&self.read("token-key.pem")?)?;
        let public = DecodingKey::from_ec_pem(key.public_key_pem().as_bytes())?;
        Ok(KeySource::Fixed(vec![(
            Some(KID.to_string()),
            Algorithm::ES256,
            public,
        )]))
    }

    /// An access token signed with the development key.
    pub fn token(&self, req: &TokenRequest) -> Result<String, DevError> {
        let key = EncodingKey::from_ec_pem(self.read("token-key.pem")?.as_bytes())?;
        // Tokens live in real time, whatever clock routing runs on.
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let mut claims = json!({
            "iss": ISSUER,
            "sub": req.subject,
            "aud": req.audience,
            "iat": now,
            "nbf": now,
            "exp": now + req.valid_for.as_secs() as i64,
            "roles": req.roles.iter().map(|r| r.name()).collect::<Vec<_>>(),
            "org": req.organisation,
        });
        if let Some(p) = &req.professional {
            claims["professional_id"] = json!(p);
        }
        if !req.teams.is_empty() {
            claims["teams"] = json!(req.teams);
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.to_string());
        Ok(jsonwebtoken::encode(&header, &claims, &key)?)
    }

    fn read(&self, name: &str) -> Result<String, DevError> {
        let path = self.path(name);
        std::fs::read_to_string(&path).map_err(|e| io(&path, e))
    }

    fn write(&self, name: &str, contents: &str) -> Result<(), DevError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        f.write_all(contents.as_bytes()).map_err(|e| io(&path, e))
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Luotsi development CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn io(path: &Path, source: std::io::Error) -> DevError {
    DevError::Io {
        path: path.display().to_string(),
        source,
    }
}
