//! Access tokens: JWTs from the county's OpenID Connect provider, verified against its keys.
//!
//! The keys come from the issuer's discovery document (`/.well-known/openid-configuration` →
//! `jwks_uri`), from a JWKS file, or, in development, from Luotsi's own signing key. They are
//! cached; a token signed with a key not in the cache makes one refresh (at most every
//! [`REFRESH_AT_MOST_EVERY`], so forged key ids cannot flood the provider). Issuer, audience,
//! expiry and not-before are checked with a bounded clock skew. A verified token is remembered
//! (by its hash, until it expires) so the signature is checked once per token, not per call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{AuthError, Credential, Role, Teams};

/// How often an unknown key id may trigger a refresh of the issuer's keys.
pub const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(10);
/// Cached keys are refreshed after this long even when every key id is known.
const KEYS_FRESH_FOR: Duration = Duration::from_secs(3600);
/// Verified tokens remembered at most.
const REMEMBERED_TOKENS: usize = 10_000;

/// Where the issuer's signing keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// OpenID Connect discovery from the issuer URL.
    Discovery,
    /// A JWKS document on disk (re-read like a fetched one).
    File(PathBuf),
    /// Fixed keys: the development issuer's own.
    Fixed(Vec<(Option<String>, Algorithm, DecodingKey)>),
}

/// Names of the claims Luotsi reads.
#[derive(Debug, Clone)]
pub struct ClaimNames {
    pub roles: String,
    pub teams: String,
    pub professional: String,
    pub organisation: String,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: String,
    pub audience: String,
    pub keys: KeySource,
    pub clock_skew: Duration,
    pub claims: ClaimNames,
    /// The team claim's value meaning every team.
    pub county_wide: String,
}

/// What a verified token says about its holder.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub roles: Vec<Role>,
    pub organisation: String,
    pub professional: Option<String>,
    pub teams: Teams,
    pub credential: Credential,
    /// Unix seconds.
    expires: u64,
}

struct Keys {
    by_kid: HashMap<String, (Algorithm, DecodingKey)>,
    /// Keys without a kid (used only when the token names none).
    anonymous: Vec<(Algorithm, DecodingKey)>,
    fetched: Option<Instant>,
    last_attempt: Option<Instant>,
}

pub struct Verifier {
    settings: Settings,
    keys: tokio::sync::RwLock<Keys>,
    remembered: Mutex<HashMap<[u8; 32], Identity>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(settings: Settings) -> Self {
        crate::tls::install_crypto();
        let mut keys = Keys {
            by_kid: HashMap::new(),
            anonymous: Vec::new(),
            fetched: None,
            last_attempt: None,
        };
        if let KeySource::Fixed(fixed) = &settings.keys {
            for (kid, alg, key) in fixed {
                match kid {
                    Some(k) => {
                        keys.by_kid.insert(k.clone(), (*alg, key.clone()));
                    }
                    None => keys.anonymous.push((*alg, key.clone())),
                }
            }
            keys.fetched = Some(Instant::now());
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        Self {
            settings,
            keys: tokio::sync::RwLock::new(keys),
            remembered: Mutex::default(),
            http,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Verifies a bearer token and reads its holder.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Real time (as the JWT library checks it), whatever clock routing runs on.
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(id) = self.remembered.lock().unwrap().get(&digest)
            && id.expires + self.settings.clock_skew.as_secs() > now
        {
            return Ok(id.clone());
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::Malformed(short(&e.to_string())))?;
        let (alg, key) = self.key_for(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(alg);
        validation.leeway = self.settings.clock_skew.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
                ErrorKind::MissingRequiredClaim(c) => {
                    AuthError::Malformed(format!("claim `{c}` missing"))
                }
                _ => AuthError::Malformed(short(&e.to_string())),
            })?;
        let identity = self.identity(&data.claims)?;
        let mut remembered = self.remembered.lock().unwrap();
        if remembered.len() >= REMEMBERED_TOKENS {
            remembered.retain(|_, id| id.expires > now);
            if remembered.len() >= REMEMBERED_TOKENS {
                remembered.clear();
            }
        }
        remembered.insert(digest, identity.clone());
        Ok(identity)
    }

    fn identity(&self, claims: &serde_json::Map<String, Value>) -> Result<Identity, AuthError> {
        let c = &self.settings.claims;
        let words = |name: &str| -> Vec<String> {
            match claims.get(name) {
                Some(Value::String(s)) => s
                    .split([' ', ','])
                    .filter(|w| !w.is_empty())
                    .map(String::from)
                    .collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(String::from);
        let roles: Vec<Role> = words(&c.roles)
            .iter()
            .filter_map(|r| Role::parse(r))
            .collect();
        if roles.is_empty() {
            return Err(AuthError::NoRole(c.roles.clone()));
        }
        let teams = words(&c.teams);
        let teams = if teams.contains(&self.settings.county_wide) {
            Teams::All
        } else {
            Teams::Only(teams)
        };
        Ok(Identity {
            subject: text("sub").unwrap_or_default(),
            roles,
            organisation: text(&c.organisation).unwrap_or_default(),
            professional: text(&c.professional),
            teams,
            credential: Credential::Token,
            expires: claims.get("exp").and_then(Value::as_u64).unwrap_or(0),
        })
    }

    /// The key a token names; refreshes the cache once when the key id is unknown.
    async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<(Algorithm, DecodingKey), AuthError> {
        let stale = {
            let keys = self.keys.read().await;
            if let Some(found) = find(&keys, kid, alg)?
                && (keys.fetched.is_some_and(|t| t.elapsed() < KEYS_FRESH_FOR)
                    || matches!(self.settings.keys, KeySource::Fixed(_)))
            {
                return Ok(found);
            }
            keys.fetched.is_none_or(|t| t.elapsed() >= KEYS_FRESH_FOR)
        };
        if matches!(self.settings.keys, KeySource::Fixed(_)) {
            return Err(AuthError::UnknownKey);
        }
        {
            let mut keys = self.keys.write().await;
            let may_refresh = stale
                || keys
                    .last_attempt
                    .is_none_or(|t| t.elapsed() >= REFRESH_AT_MOST_EVERY);
            if may_refresh {
                keys.last_attempt = Some(Instant::now());
                match self.fetch().await {
                    Ok(set) => {
                        load(&mut keys, &set);
                        keys.fetched = Some(Instant::now());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot refresh the issuer's keys");
                        if keys.by_kid.is_empty() && keys.anonymous.is_empty() {
                            return Err(AuthError::KeysUnavailable(e));
                        }
                    }
                }
            }
            find(&keys, kid, alg)?.ok_or(AuthError::UnknownKey)
        }
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let body = match &self.settings.keys {
            KeySource::File(path) => {
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            KeySource::Discovery => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let doc: Value = serde_json::from_str(&self.get(&url).await?)
                    .map_err(|e| format!("discovery document: {e}"))?;
                if doc.get("issuer").and_then(Value::as_str) != Some(&self.settings.issuer) {
                    return Err("the discovery document names another issuer".into());
                }
                let jwks_uri = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("the discovery document has no jwks_uri")?
                    .to_string();
                self.get(&jwks_uri).await?
            }
            KeySource::Fixed(_) => return Err("fixed keys".into()),
        };
        serde_json::from_str(&body).map_err(|e| format!("JWKS: {e}"))
    }

    async fn get(&self, url: &str) -> Result<String, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        response.text().await.map_err(|e| format!("{url}: {e}"))
    }
}

fn load(keys: &mut Keys, set: &JwkSet) {
    keys.by_kid.clear();
    keys.anonymous.clear();
    for jwk in &set.keys {
        // Signing keys only; an encryption key or one of an unknown type is skipped.
        if matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok())
            .unwrap_or(match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                _ => Algorithm::RS256,
            });
        match &jwk.common.key_id {
            Some(kid) => {
                keys.by_kid.insert(kid.clone(), (alg, key));
            }
            None => keys.anonymous.push((alg, key)),
        }
    }
}

fn find(
    keys: &Keys,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<Option<(Algorithm, DecodingKey)>, AuthError> {
    if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        // A shared-secret token could be signed by anyone holding the "public" key.
        return Err(AuthError::Algorithm);
    }
    let found = match kid {
        Some(k) => keys.by_kid.get(k).cloned(),
        None => keys
            .anonymous
            .iter()
            .chain(keys.by_kid.values())
            .find(|(a, _)| *a == alg)
            .cloned(),
    };
    match found {
        Some((a, _)) if a != alg => Err(AuthError::Algorithm),
        other => Ok(other),
    }
}

/// Error text from the JWT library, cut short; it never contains the token itself.
fn short(s: &str) -> String {
    s.chars().take(80).collect()
}
