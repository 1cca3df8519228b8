//! Who is calling, and what they may do.
//!
//! Every gRPC call is authenticated before it reaches a handler ([`layer`]): a person by an
//! OpenID Connect access token (`authorization: Bearer …`, verified in [`jwt`]), a system by its
//! TLS client certificate (the certificate's Common Name mapped to a role in the configuration).
//! The caller's roles are checked against the one permission table ([`permissions`]), and the
//! handler receives a [`Caller`] in the request's extensions: identity comes from the
//! credential, never from the request.
//!
//! Without a configured issuer Luotsi runs as its own development issuer ([`dev`]): a CA, a
//! server certificate and a token-signing key under the data directory, and `luotsi token`
//! to mint tokens for trying it out. With an issuer configured nothing of that is accepted.

pub mod dev;
pub mod jwt;
pub mod layer;
pub mod permissions;

use std::fmt;
use std::net::SocketAddr;

use tonic::Status;

pub use layer::AuthLayer;
pub use permissions::PERMISSIONS;

/// What a caller is to Luotsi. Names as in tokens, certificates and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A citizen e-service back end: submits contacts, follows its own cases with their access
    /// tokens.
    CitizenFrontend,
    /// Contact-centre software handing over calls and chats.
    ContactCentre,
    /// A nurse, doctor, social worker…: takes offers and works their cases.
    Professional,
    /// A duty supervisor: queues, moves and urgency for their teams.
    Supervisor,
    /// Operations: the access log, the board, no citizen data.
    Ops,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::CitizenFrontend,
        Role::ContactCentre,
        Role::Professional,
        Role::Supervisor,
        Role::Ops,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::CitizenFrontend => "citizen-frontend",
            Role::ContactCentre => "contact-centre",
            Role::Professional => "professional",
            Role::Supervisor => "supervisor",
            Role::Ops => "ops",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s.trim())
    }

    /// A system speaking for citizens (needs the case's access token to read a case).
    pub fn is_front_end(self) -> bool {
        matches!(self, Role::CitizenFrontend | Role::ContactCentre)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The teams a supervisor may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Teams {
    /// County-wide.
    All,
    /// These teams only (possibly none).
    Only(Vec<String>),
}

impl Teams {
    pub fn includes(&self, team: &str) -> bool {
        match self {
            Teams::All => true,
            Teams::Only(t) => t.iter().any(|x| x == team),
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token from the configured issuer (or the development issuer).
    Token,
    /// A TLS client certificate from the configured CA.
    Certificate,
}

/// An authenticated caller, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's `sub`, or the certificate's Common Name.
    pub subject: String,
    /// Every role the credential carries.
    pub roles: Vec<Role>,
    /// The role this call was allowed under (the first of the caller's roles the permission
    /// table allows for the RPC).
    pub role: Role,
    /// The caller's organisation, when the credential names one (for the access log).
    pub organisation: String,
    /// The professional the token maps to, for WorkService calls.
    pub professional: Option<String>,
    /// The teams a supervisor may act on.
    pub teams: Teams,
    pub credential: Credential,
    /// Where the call came from.
    pub source: Option<SocketAddr>,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The caller of a request that passed the authentication layer.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Status::unauthenticated("no authenticated caller"))
    }

    /// A professional acting as themselves: the id in the request must be the token's.
    pub fn acting_as(&self, professional_id: &str) -> Result<(), Status> {
        match &self.professional {
            Some(p) if p == professional_id => Ok(()),
            Some(_) => Err(Status::permission_denied(
                "professional_id: you may act only as the professional your token names",
            )),
            None => Err(Status::permission_denied(
                "your token names no professional",
            )),
        }
    }

    /// A supervisor acting on a team.
    pub fn may_supervise(&self, team: &str) -> Result<(), Status> {
        if self.teams.includes(team) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "team `{team}` is not one of yours"
            )))
        }
    }

    /// A short, stable scope for the caller's idempotency keys: two callers sending the same
    /// key never see each other's answers.
    pub fn idempotency_scope(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.subject.as_bytes());
        hex::encode(&h.finalize()[..8])
    }
}

/// Why a credential was refused. The messages name the reason and never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no credential: send `authorization: Bearer <access token>` or a TLS client certificate"
    )]
    Missing,
    #[error("malformed authorization header: expected `Bearer <access token>`")]
    MalformedHeader,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token expired")]
    Expired,
    #[error("token not yet valid (nbf)")]
    NotYetValid,
    #[error("token has the wrong issuer")]
    WrongIssuer,
    #[error("token has the wrong audience")]
    WrongAudience,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token signed with an unknown key (kid)")]
    UnknownKey,
    #[error("token algorithm not accepted")]
    Algorithm,
    #[error("the issuer's keys cannot be fetched: {0}")]
    KeysUnavailable(String),
    #[error("client certificate `{0}` is mapped to no role")]
    UnknownClient(String),
    #[error("malformed client certificate")]
    MalformedCertificate,
    #[error("the credential carries no Luotsi role (claim `{0}`)")]
    NoRole(String),
}

impl AuthError {
    pub fn status(&self) -> Status {
        match self {
            AuthError::KeysUnavailable(_) => Status::unavailable(self.to_string()),
            AuthError::NoRole(_) => Status::permission_denied(self.to_string()),
            _ => Status::unauthenticated(self.to_string()),
        }
    }

    /// A short label for the refused-calls metric.
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::MalformedHeader | AuthError::Malformed(_) => "malformed",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::WrongIssuer => "issuer",
            AuthError::WrongAudience => "audience",
            AuthError::BadSignature => "signature",
            AuthError::UnknownKey => "unknown_key",
            AuthError::Algorithm => "algorithm",
            AuthError::KeysUnavailable(_) => "keys_unavailable",
            AuthError::UnknownClient(_) | AuthError::MalformedCertificate => "certificate",
            AuthError::NoRole(_) => "no_role",
        }
    }
}

/// Why the security settings cannot be put to use.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Dev(#[from] dev::DevError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("{0}")]
    Config(String),
}

/// What the configuration makes of authentication and TLS: the authenticator, and the server's
/// TLS unless plain text on loopback was asked for.
pub fn setup(
    config: &crate::config::Config,
) -> Result<(layer::Authenticator, Option<crate::tls::ServerTls>), SetupError> {
    use std::time::Duration;
    let a = &config.auth;
    let claims = jwt::ClaimNames {
        roles: a.roles_claim.clone(),
        teams: a.teams_claim.clone(),
        professional: a.professional_claim.clone(),
        organisation: a.organisation_claim.clone(),
    };
    let dev = if a.is_development() {
        Some(dev::DevAuthority::open(&dev_dir(config))?)
    } else {
        None
    };
    let (issuer, keys) = match (&a.issuer, &dev) {
        (Some(issuer), _) => (
            issuer.clone(),
            match &a.jwks_file {
                Some(f) => jwt::KeySource::File(f.clone()),
                None => jwt::KeySource::Discovery,
            },
        ),
        (None, Some(dev)) => (dev::ISSUER.to_string(), dev.verifying_keys()?),
        (None, None) => unreachable!("development has its authority"),
    };
    let verifier = jwt::Verifier::new(jwt::Settings {
        issuer,
        audience: a.audience.clone(),
        keys,
        clock_skew: Duration::from_secs(a.clock_skew_secs),
        claims,
        county_wide: a.county_wide_team.clone(),
    });
    let clients = a
        .clients
        .iter()
        .map(|(cn, roles)| {
            (
                cn.clone(),
                roles.iter().filter_map(|r| Role::parse(r)).collect(),
            )
        })
        .collect();
    let t = &config.tls;
    let tls = if t.plaintext_on_loopback {
        tracing::warn!("plain text on loopback (tls.plaintext_on_loopback): development only");
        None
    } else {
        let files = match (&t.cert_file, &t.key_file, &dev) {
            (Some(cert), Some(key), _) => crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: t.client_ca_file.clone(),
            },
            (_, _, Some(dev)) => crate::tls::TlsFiles {
                cert: dev.server_cert_file(),
                key: dev.server_key_file(),
                client_ca: Some(t.client_ca_file.clone().unwrap_or_else(|| dev.ca_file())),
            },
            _ => unreachable!("validated: production has its certificate"),
        };
        Some(crate::tls::ServerTls::load(files)?)
    };
    if let Some(dev) = &dev {
        tracing::warn!(
            dir = %dev.dir().display(),
            "development issuer: tokens from `luotsi token`, CA in ca.pem; set auth.issuer in production"
        );
    }
    Ok((layer::Authenticator::new(verifier, clients), tls))
}

/// Where the development issuer keeps its material.
pub fn dev_dir(config: &crate::config::Config) -> std::path::PathBuf {
    config.auth.dev_dir.clone().unwrap_or_else(|| {
        config
            .redis
            .data_dir
            .clone()
            .unwrap_or_else(|| "data".into())
            .join("dev-auth")
    })
}

/// Case access tokens: what a front end holds to follow one case. Random, 256 bits, shown once;
/// only the SHA-256 is stored.
pub mod case_token {
    use base64::Engine;
    use sha2::{Digest, Sha256};

    pub fn new() -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random source");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What is stored and compared.
    pub fn hash(token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }
}
