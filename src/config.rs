//! Configuration: the service settings (`config/luotsi.toml`) and the county's teams
//! (`config/county.toml`), read once at start and validated so that a bad file stops the
//! service with a message naming what is wrong. Environment variables override the file.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::classify::ModelMode;
use crate::domain::deadline::DeadlinePolicy;
use crate::domain::routing::{Member, Team};
use crate::domain::{Channel, Language};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Everything the service reads at start.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub redis: RedisConfig,
    pub routing: RoutingConfig,
    pub dispatch: DispatchConfig,
    pub deadlines: DeadlinePolicy,
    pub county: County,
    /// Secret for identity pseudonyms (`privacy.pseudonym_key`). None only in development,
    /// where a random key is made on first start (`<dev dir>/pseudonym-key`, see
    /// `app::pseudonymizer`).
    pub pseudonym_key: Option<Secret>,
    /// File holding the key-encryption key that wraps the data keys sealing citizens' words,
    /// numbers and staff-written reasons at rest (`privacy.data_key_file`). None only in
    /// development, where one is made on first start (`<dev dir>/data-key`).
    pub data_key_file: Option<PathBuf>,
    /// Directory of the classifier's lexicon, rules and trained model.
    pub classifier_dir: PathBuf,
    pub classifier: ClassifierConfig,
    pub auth: AuthConfig,
    pub tls: TlsConfig,
    pub access_log: AccessLogConfig,
    pub triage: TriageConfig,
    pub limits: LimitsConfig,
    pub callback: CallbackConfig,
    pub staffing: StaffingConfig,
}

/// `[auth]`: who may call. Without `issuer`, Luotsi is its own development issuer (keys and
/// certificates under `<data dir>/dev-auth/`, tokens from `luotsi token`); with it, only the
/// county's identity provider's tokens are accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The OpenID Connect issuer URL (`iss`); keys by discovery unless `jwks_file` is set.
    pub issuer: Option<String>,
    /// The audience Luotsi's tokens must name (`aud`).
    pub audience: String,
    /// A JWKS file instead of discovery.
    pub jwks_file: Option<PathBuf>,
    /// Allowed clock difference for `exp` and `nbf`, in seconds (at most 300).
    pub clock_skew_secs: u64,
    /// Claim holding the Luotsi roles (array or space-separated string).
    pub roles_claim: String,
    /// Claim holding a supervisor's teams; the value `county_wide_team` means every team.
    pub teams_claim: String,
    pub county_wide_team: String,
    /// Claim holding the professional id a professional acts as.
    pub professional_claim: String,
    /// Claim naming the caller's organisation (for the access log).
    pub organisation_claim: String,
    /// Client certificate Common Name → roles, for systems calling with mutual TLS.
    pub clients: std::collections::BTreeMap<String, Vec<String>>,
    /// Where the development issuer keeps its CA and keys (default `<data dir>/dev-auth`).
    pub dev_dir: Option<PathBuf>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: "luotsi".into(),
            jwks_file: None,
            clock_skew_secs: 60,
            roles_claim: "roles".into(),
            teams_claim: "teams".into(),
            county_wide_team: "*".into(),
            professional_claim: "professional_id".into(),
            organisation_claim: "org".into(),
            clients: Default::default(),
            dev_dir: None,
        }
    }
}

impl AuthConfig {
    /// Development: no issuer configured.
    pub fn is_development(&self) -> bool {
        self.issuer.is_none()
    }
}

/// `[tls]`: both ports speak TLS. Without files, the development certificates are used (only
/// without an issuer).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// CA of the systems' client certificates.
    pub client_ca_file: Option<PathBuf>,
    /// Development only: plain text, allowed only when both ports listen on loopback.
    pub plaintext_on_loopback: bool,
}

/// `[access_log]`: the log of every use of a citizen's data (Act 703/2023).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogConfig {
    /// How long entries are kept in Redis, in days; never trimmed by count.
    pub retention_days: u64,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        // The law lets a citizen ask for the last two years.
        Self {
            retention_days: 2 * 366,
        }
    }
}

/// `[triage]`: the safety net beside the classifier. Every new case's classification is
/// provisional until a professional confirms it (WorkService.ConfirmTriage); a case nobody
/// has looked at within its channel's first-look time turns red on the board.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// Seconds from arrival to the first look, per channel. Plain elapsed time, not office
    /// hours: the night's contacts are overdue when the office opens.
    pub first_look_secs: ChannelSecs,
}

impl Default for TriageConfig {
    fn default() -> Self {
        Self {
            first_look_secs: ChannelSecs {
                phone: 900,
                chat: 900,
                e_service: 900,
            },
        }
    }
}

/// `[callback]`: call-back attempts (`WorkService.RecordCallAttempt`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackConfig {
    /// Attempts before a call-back is unreachable (a wrong number makes it so at once).
    pub attempts: u32,
    /// Minutes to wait after each failed attempt before the case is offered again; the last
    /// value serves for any further attempt. Fractions allowed (`0.5`).
    pub spacing_minutes: Vec<f64>,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            attempts: 3,
            spacing_minutes: vec![20.0, 60.0],
        }
    }
}

impl CallbackConfig {
    pub fn spacing(&self) -> Vec<std::time::Duration> {
        self.spacing_minutes
            .iter()
            .map(|m| std::time::Duration::from_secs_f64(60.0 * m.max(0.0)))
            .collect()
    }
}

/// `[staffing]`: the service the staffing forecast plans for (`luotsi staffing`,
/// `SupervisorService.PlanStaffing`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaffingConfig {
    /// The share of live contacts to answer within the channel's promise.
    pub service_level: f64,
    /// The phone channel's promise: a call-back within this many seconds of the request (chat's
    /// is `deadlines.chat_answer_minutes`).
    pub phone_within_secs: u64,
    /// No professional planned busier than this share of an hour (also e-service's workload).
    pub max_occupancy: f64,
    /// Weeks of the same weekday the forecast averages (at most 4: the statistics keep 31 days).
    pub weeks: u32,
}

impl Default for StaffingConfig {
    fn default() -> Self {
        Self {
            service_level: 0.8,
            phone_within_secs: 1800,
            max_occupancy: 0.85,
            weeks: 4,
        }
    }
}

/// `[classifier]`: whether the trained model takes part beside the rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// `raise_only` (default): the model may raise an emergency (marked `model_raised`, with
    /// human triage) and name a need where the rules abstained; it never lowers urgency.
    /// `off`: rules only, the model files are not read.
    pub model: ModelMode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub grpc_addr: SocketAddr,
    /// The queue board, `/metrics`, `/healthz` and `/readyz`.
    pub http_addr: SocketAddr,
    /// Browser origins allowed to call the API with gRPC-Web (CORS), e.g.
    /// `https://asiointi.example.fi`. Empty: gRPC-Web still works from the same origin or
    /// non-browser clients, but browsers on other origins are refused.
    pub cors_origins: Vec<String>,
    /// gRPC calls served at once by this instance; a call beyond it is answered
    /// RESOURCE_EXHAUSTED at once, with a retry hint, rather than queued. An open stream counts
    /// only while it is being opened; health checks never count.
    pub max_concurrent_calls: usize,
    /// gRPC server reflection (schema for grpcurl and the like); off unless switched on.
    pub reflection: bool,
    /// HTTP/2 keep-alive: a connection is pinged after this long without traffic and closed
    /// when the ping is not answered within as long again. A desktop cut off without a word
    /// (a network partition) then loses its Offers stream, and with it its offers, within
    /// twice this, rather than holding them while the instance lives.
    pub keepalive_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            grpc_addr: "127.0.0.1:50051".parse().expect("valid address"),
            http_addr: "127.0.0.1:8080".parse().expect("valid address"),
            cors_origins: Vec::new(),
            // Two cores keep a few hundred calls in flight against one Redis: enough to fill
            // the Redis pipeline, few enough that a flood is refused at the door instead of
            // each call waiting out its Redis time-out.
            max_concurrent_calls: 256,
            reflection: false,
            keepalive_secs: 10,
        }
    }
}

/// `[limits]`: what one caller may ask of an instance, so that one misbehaving client (or a
/// stolen token) cannot take the service from everyone else.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// A unary call not answered within this is ended DEADLINE_EXCEEDED (a shorter
    /// `grpc-timeout` from the client wins). Streams are not limited by it.
    pub call_timeout_ms: u64,
    /// HTTP/2 streams (calls) one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS);
    /// a client waits for a free one before it opens more.
    pub streams_per_connection: u32,
    /// Streams (Offers, WatchCase, WatchQueues) one caller identity may hold open at once
    /// across all its connections; beyond it RESOURCE_EXHAUSTED.
    pub streams_per_caller: usize,
    /// WatchCase streams on one case at once, whoever holds them; beyond it RESOURCE_EXHAUSTED.
    pub watchers_per_case: usize,
    /// Calls per caller identity (the credential's subject), for roles not named in `roles`.
    pub rate: RateLimit,
    /// Per role (`citizen-frontend`, `contact-centre`, `professional`, `supervisor`, `ops`):
    /// a system speaking for many citizens needs more than one person at a desk.
    pub roles: std::collections::BTreeMap<String, RateLimit>,
}

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let systems = RateLimit {
            per_second: 500,
            burst: 1_000,
        };
        Self {
            call_timeout_ms: 10_000,
            // hyper's own default for HTTP/2 servers.
            streams_per_connection: 200,
            streams_per_caller: 16,
            watchers_per_case: 4,
            // A person at a desk clicks a few times a second at most; a desktop's polling and
            // retries stay well below this.
            rate: RateLimit {
                per_second: 20,
                burst: 60,
            },
            roles: [("citizen-frontend", systems), ("contact-centre", systems)]
                .into_iter()
                .map(|(r, l)| (r.to_string(), l))
                .collect(),
        }
    }
}

impl LimitsConfig {
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }

    /// The rate for calls made in `role`.
    pub fn rate_for(&self, role: crate::auth::Role) -> RateLimit {
        self.roles.get(role.name()).copied().unwrap_or(self.rate)
    }

    fn validate(&self) -> Result<(), String> {
        if self.call_timeout_ms == 0 {
            return Err("limits.call_timeout_ms must be at least 1".into());
        }
        if self.streams_per_connection == 0
            || self.streams_per_caller == 0
            || self.watchers_per_case == 0
        {
            return Err("limits.streams_per_connection, limits.streams_per_caller and limits.watchers_per_case must be at least 1".into());
        }
        for (name, rate) in std::iter::once(("rate".to_string(), &self.rate))
            .chain(self.roles.iter().map(|(r, l)| (format!("roles.{r}"), l)))
        {
            if rate.per_second == 0 || rate.burst == 0 {
                return Err(format!(
                    "limits.{name}: per_second and burst must be at least 1"
                ));
            }
        }
        for role in self.roles.keys() {
            if crate::auth::Role::parse(role).is_none() {
                return Err(format!(
                    "limits.roles.{role}: no such role (citizen-frontend, contact-centre, professional, supervisor, ops)"
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// External Redis (`redis://`, `rediss://` for TLS, `redis+unix://`). When absent, Luotsi
    /// runs its own `redis-server` (the embedded default). A secret: it may carry a password.
    pub url: Option<Secret>,
    /// A Redis Cluster instead: some of its nodes (`redis://` or `rediss://`, one user and
    /// password for all), from which the rest are found. Secrets, like `url`.
    pub cluster: Vec<Secret>,
    /// Replicas that must have each state change before it is answered (`WAIT`); 0: the
    /// primary's answer is enough. Needs an external Redis or cluster with replicas.
    pub wait_replicas: u32,
    /// How long a state change waits for `wait_replicas`; past it the call fails UNAVAILABLE
    /// and the caller's retry (same idempotency key) gets the first answer.
    pub wait_timeout_ms: u64,
    /// CA certificate (PEM) that signed an external Redis's TLS certificate (`rediss://`);
    /// without it, the system's trusted roots.
    pub ca_file: Option<PathBuf>,
    /// Where the embedded Redis keeps its append-only file.
    pub data_dir: Option<PathBuf>,
    /// How long a Redis command may take before the call fails UNAVAILABLE.
    pub response_timeout_ms: u64,
    /// How long connecting (or reconnecting) to Redis may take.
    pub connection_timeout_ms: u64,
    /// When the embedded Redis writes its append-only file to disk.
    pub appendfsync: Appendfsync,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            cluster: Vec::new(),
            wait_replicas: 0,
            wait_timeout_ms: 1_000,
            ca_file: None,
            data_dir: None,
            response_timeout_ms: 2_000,
            connection_timeout_ms: 1_000,
            appendfsync: Appendfsync::EverySec,
        }
    }
}

impl RedisConfig {
    /// How to reach an external Redis beyond its URL.
    pub fn connect_options(&self) -> crate::store::ConnectOptions {
        crate::store::ConnectOptions {
            timeouts: self.timeouts(),
            ca_file: self.ca_file.clone(),
        }
    }

    /// What a state change waits for before it is answered.
    pub fn durability(&self) -> crate::store::Durability {
        crate::store::Durability {
            replicas: self.wait_replicas,
            timeout: Duration::from_millis(self.wait_timeout_ms),
        }
    }

    /// The cluster's seed URLs, when Luotsi runs on a Redis Cluster.
    pub fn cluster_seeds(&self) -> Option<Vec<String>> {
        (!self.cluster.is_empty()).then(|| {
            self.cluster
                .iter()
                .map(|s| s.expose().to_string())
                .collect()
        })
    }

    /// The Redis settings hang together: one of `url` and `cluster`, cluster nodes by URL, and
    /// replicas to wait for only where there can be some.
    fn validate(&self) -> Result<(), String> {
        if self.url.is_some() && !self.cluster.is_empty() {
            return Err(
                "redis.url and redis.cluster: set one (redis.cluster for a Redis Cluster)".into(),
            );
        }
        for (i, seed) in self.cluster.iter().enumerate() {
            let url = seed.expose();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(format!(
                    "redis.cluster[{i}]: `{}` is not a redis:// or rediss:// URL of a cluster node",
                    crate::store::connect::redacted(url)
                ));
            }
        }
        if self.wait_replicas > 0 {
            if self.url.is_none() && self.cluster.is_empty() {
                return Err(
                    "redis.wait_replicas: the embedded Redis has no replicas; set \
                            redis.url or redis.cluster, or leave wait_replicas at 0"
                        .into(),
                );
            }
            if self.wait_timeout_ms == 0 {
                return Err(
                    "redis.wait_timeout_ms must be at least 1 when redis.wait_replicas is set"
                        .into(),
                );
            }
        }
        Ok(())
    }

    pub fn timeouts(&self) -> RedisTimeouts {
        RedisTimeouts {
            response: Duration::from_millis(self.response_timeout_ms),
            connection: Duration::from_millis(self.connection_timeout_ms),
        }
    }
}

/// How long Luotsi waits for Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisTimeouts {
    /// For the answer to one command.
    pub response: Duration,
    /// For a connection to be made.
    pub connection: Duration,
}

impl Default for RedisTimeouts {
    fn default() -> Self {
        RedisConfig::default().timeouts()
    }
}

/// When the embedded Redis makes its append-only file durable: what a power failure can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Appendfsync {
    /// Once a second: up to the last second of acknowledged changes can be lost on a power
    /// failure or kernel crash (not on a crash of Redis or Luotsi alone).
    #[serde(rename = "everysec")]
    EverySec,
    /// Before every answer: nothing acknowledged is lost, at the price of one disk sync per
    /// write.
    #[serde(rename = "always")]
    Always,
}

impl Appendfsync {
    /// The value of redis-server's `appendfsync` option.
    pub fn as_redis_option(self) -> &'static str {
        match self {
            Appendfsync::EverySec => "everysec",
            Appendfsync::Always => "always",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// How long a professional has to accept an offer before it returns to the queue.
    pub offer_timeout_secs: u64,
    /// Average handling time per channel, for estimated waits.
    pub average_handling_secs: ChannelSecs,
    /// How long a case's record is kept after it closes (for statistics and re-contact links).
    pub closed_case_retention_days: u64,
    /// How long an idempotency key remembers its answer.
    pub idempotency_ttl_secs: u64,
    /// Longest free text accepted, in characters.
    pub max_text_chars: usize,
    /// How long a case waits for a professional who speaks the citizen's language before anyone
    /// may take it (with an interpreter). Emergencies never wait for language.
    pub language_wait_secs: u64,
    /// How long a case waits for the citizen's own professional (named on the contact, or
    /// holding the citizen's open case) before colleagues may take it.
    pub continuity_wait_secs: u64,
    /// Overflow: after each of these waits (seconds, counted one after the other) a case nobody
    /// has taken moves on — first to another team serving the citizen's municipality, then to
    /// any team with the professions. Empty: no overflow.
    pub overflow_after_secs: Vec<u64>,
    /// Municipalities of the Sámi homeland: there a Sámi speaker goes first to Sámi-speaking
    /// staff (Sámi Language Act 1086/2003); elsewhere Sámi speakers are served in Finnish.
    pub sami_homeland: Vec<String>,
    /// May a professional on a call still be offered e-service messages (a separate capacity)?
    pub e_service_during_call: bool,
    /// A waiting case older than this many days is shown to supervisors as stale (board,
    /// `luotsi_queue_stale`, `ListQueues`); nothing is ever deleted for its age.
    pub stale_case_days: u64,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            offer_timeout_secs: 30,
            average_handling_secs: ChannelSecs {
                phone: 420,
                chat: 600,
                e_service: 300,
            },
            closed_case_retention_days: 30,
            idempotency_ttl_secs: 86_400,
            max_text_chars: 8_000,
            language_wait_secs: 300,
            continuity_wait_secs: 600,
            overflow_after_secs: vec![900, 1800],
            sami_homeland: ["Enontekiö", "Inari", "Utsjoki", "Sodankylä"]
                .map(String::from)
                .to_vec(),
            e_service_during_call: true,
            stale_case_days: 14,
        }
    }
}

impl RoutingConfig {
    pub fn offer_timeout(&self) -> Duration {
        Duration::from_secs(self.offer_timeout_secs)
    }
}

/// `[dispatch]`: how an instance keeps its professionals' presence alive in Redis.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchConfig {
    /// How long a professional stays online for routing after the instance holding their
    /// Offers stream last renewed their lease (it renews about every second). When it lapses
    /// (the instance died or lost Redis), their offers go to colleagues and the cases they hold
    /// are shown to supervisors as "holder disconnected".
    pub presence_lease_ms: u64,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            presence_lease_ms: 5_000,
        }
    }
}

impl DispatchConfig {
    pub fn presence_lease(&self) -> Duration {
        Duration::from_millis(self.presence_lease_ms)
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSecs {
    pub phone: u64,
    pub chat: u64,
    pub e_service: u64,
}

impl ChannelSecs {
    pub fn get(&self, ch: Channel) -> u64 {
        match ch {
            Channel::Phone => self.phone,
            Channel::Chat => self.chat,
            Channel::EService => self.e_service,
        }
    }
}

/// The county: its municipalities and teams.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct County {
    /// Short id; also the Redis hash tag of every key of this county.
    pub id: String,
    pub name: String,
    pub municipalities: Vec<String>,
    #[serde(rename = "team")]
    pub teams: Vec<Team>,
}

impl County {
    pub fn municipality(&self, name: &str) -> Option<&str> {
        self.municipalities
            .iter()
            .find(|m| m.eq_ignore_ascii_case(name.trim()))
            .map(String::as_str)
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    /// The professional and their team.
    pub fn member(&self, id: &str) -> Option<(&Team, &Member)> {
        self.teams
            .iter()
            .find_map(|t| t.members.iter().find(|m| m.id == id).map(|m| (t, m)))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return bad(format!(
                "county.id `{}` must be letters, digits and dashes",
                self.id
            ));
        }
        let mut team_ids = HashSet::new();
        let mut member_ids = HashSet::new();
        for t in &self.teams {
            if !team_ids.insert(&t.id) {
                return bad(format!("team `{}` is defined twice", t.id));
            }
            if t.id.contains([':', '{', '}', '|']) {
                return bad(format!("team id `{}` may not contain : {{ }} |", t.id));
            }
            if t.municipalities.is_empty() && !t.county_wide {
                return bad(format!(
                    "team `{}` serves no municipality and is not county_wide",
                    t.id
                ));
            }
            for m in &t.municipalities {
                if self.municipality(m).is_none() {
                    return bad(format!(
                        "team `{}`: municipality `{m}` is not in county.municipalities",
                        t.id
                    ));
                }
            }
            for m in &t.members {
                if !member_ids.insert(&m.id) {
                    return bad(format!("professional `{}` is in two teams", m.id));
                }
                if m.id.contains([':', '{', '}', '|']) {
                    return bad(format!(
                        "professional id `{}` may not contain : {{ }} |",
                        m.id
                    ));
                }
                if m.languages.is_empty() {
                    return bad(format!("professional `{}` speaks no language", m.id));
                }
            }
        }
        if self.teams.is_empty() {
            return bad("county has no teams".into());
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountyFile {
    county: County,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    redis: RedisConfig,
    #[serde(default)]
    routing: RoutingConfig,
    #[serde(default)]
    dispatch: DispatchConfig,
    #[serde(default)]
    deadlines: DeadlinePolicy,
    /// Relative to the service file.
    county_file: PathBuf,
    #[serde(default)]
    classifier_dir: Option<PathBuf>,
    #[serde(default)]
    classifier: ClassifierConfig,
    #[serde(default)]
    privacy: Privacy,
    #[serde(default)]
    auth: AuthConfig,
    #[serde(default)]
    tls: TlsConfig,
    #[serde(default)]
    access_log: AccessLogConfig,
    #[serde(default)]
    triage: TriageConfig,
    #[serde(default)]
    limits: LimitsConfig,
    #[serde(default)]
    callback: CallbackConfig,
    #[serde(default)]
    staffing: StaffingConfig,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Privacy {
    pseudonym_key: Option<Secret>,
    data_key_file: Option<PathBuf>,
}

/// The key earlier versions used when none was configured. It is published, so pseudonyms made
/// with it can be reversed by trying every identity code: it is refused.
pub const DEVELOPMENT_PSEUDONYM_KEY: &str = "luotsi-development-key-do-not-use-in-production";

/// A configured pseudonym key has at least this many characters (`openssl rand -hex 32`).
pub const MIN_PSEUDONYM_KEY_CHARS: usize = 32;

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Environment variables that name a setting: `LUOTSI_<SECTION>__<KEY>` (nested tables go one
/// `__` deeper, e.g. `LUOTSI_LIMITS__RATE__PER_SECOND`), and these short names kept from
/// earlier versions. A short name marked `true` takes a comma-separated list.
pub const ENV_ALIASES: &[(&str, &str, bool)] = &[
    ("LUOTSI_REDIS_URL", "redis.url", false),
    ("LUOTSI_REDIS_CLUSTER", "redis.cluster", true),
    ("LUOTSI_DATA_DIR", "redis.data_dir", false),
    ("LUOTSI_GRPC_ADDR", "server.grpc_addr", false),
    ("LUOTSI_HTTP_ADDR", "server.http_addr", false),
    ("LUOTSI_CORS_ORIGINS", "server.cors_origins", true),
    ("LUOTSI_PSEUDONYM_KEY", "privacy.pseudonym_key", false),
    ("LUOTSI_AUTH_ISSUER", "auth.issuer", false),
    ("LUOTSI_COUNTY_FILE", "county_file", false),
    ("LUOTSI_CLASSIFIER_DIR", "classifier_dir", false),
];

/// The environment variable for a setting's dotted path (`server.grpc_addr` →
/// `LUOTSI_SERVER__GRPC_ADDR`).
pub fn env_name(path: &str) -> String {
    format!("LUOTSI_{}", path.replace('.', "__").to_uppercase())
}

/// Lays environment overrides over the service file's table, one mechanism for every setting:
/// the value is read as a TOML value (a number, `true`, `[\"a\", \"b\"]`, `{ per_second = 5 }`),
/// and as a plain string when it is not one. Returns the variables applied, for error messages.
fn apply_env(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<String> {
    let mut applied = Vec::new();
    let mut overrides: Vec<(String, String, toml::Value)> = Vec::new();
    for (name, raw) in vars {
        if raw.is_empty() {
            continue;
        }
        if let Some((_, path, list)) = ENV_ALIASES.iter().find(|(n, ..)| *n == name) {
            let value = if *list {
                toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| toml::Value::String(v.to_string()))
                        .collect(),
                )
            } else {
                toml::Value::String(raw)
            };
            // A short name first, so that the long name for the same setting wins.
            overrides.insert(0, (name, path.to_string(), value));
        } else if let Some(rest) = name.strip_prefix("LUOTSI_")
            && rest.contains("__")
        {
            let path = rest.to_lowercase().replace("__", ".");
            let value = format!("v = {raw}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(raw));
            overrides.push((name, path, value));
        }
    }
    for (name, path, value) in overrides {
        let mut keys: Vec<&str> = path.split('.').collect();
        let last = keys.pop().unwrap_or_default();
        let mut at = &mut *table;
        for key in keys {
            let entry = at
                .entry(key.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            at = entry.as_table_mut().expect("made a table");
        }
        at.insert(last.to_string(), value);
        applied.push(name);
    }
    applied
}

impl Config {
    /// Reads the service file and the county file it names, with the environment's overrides
    /// (`LUOTSI_<SECTION>__<KEY>` for every setting, see [`apply_env`]).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// The settings that differ between `self` and `other` and take effect only when the
    /// service starts: a reload that would change any of them is refused. What a reload may
    /// change: the county (teams, members, municipalities), `routing`, `deadlines`, `triage`.
    pub fn restart_only_changes(&self, other: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        macro_rules! compare {
            ($($section:ident => $name:literal),* $(,)?) => {$(
                if format!("{:?}", self.$section) != format!("{:?}", other.$section) {
                    changed.push($name);
                }
            )*};
        }
        compare!(
            server => "server",
            redis => "redis",
            dispatch => "dispatch",
            classifier_dir => "classifier_dir",
            classifier => "classifier",
            auth => "auth",
            tls => "tls",
            access_log => "access_log",
            limits => "limits",
        );
        // Secrets print as a placeholder: compared by value.
        let secret = |k: &Option<Secret>| k.as_ref().map(|k| k.expose().to_string());
        if secret(&self.pseudonym_key) != secret(&other.pseudonym_key) {
            changed.push("privacy.pseudonym_key");
        }
        if self.data_key_file != other.data_key_file {
            changed.push("privacy.data_key_file");
        }
        if self.redis.url.as_ref().map(|u| u.expose().to_string())
            != other.redis.url.as_ref().map(|u| u.expose().to_string())
        {
            changed.push("redis.url");
        }
        if self.county.id != other.county.id {
            changed.push("county.id");
        }
        changed
    }

    /// [`Config::load`] with the environment given.
    pub fn load_with_env(
        path: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = read_toml(path)?;
        let applied = apply_env(&mut table, vars);
        let file: ServiceFile = toml::Value::Table(table).try_into().map_err(|e| {
            let from_env = if applied.is_empty() {
                String::new()
            } else {
                format!(" (with the environment's {})", applied.join(", "))
            };
            ConfigError::Parse {
                path: format!("{}{from_env}", path.display()),
                message: e.to_string().trim().to_string(),
            }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let county = read_toml::<CountyFile>(&base.join(&file.county_file))?.county;
        county.validate()?;
        let cfg = Config {
            server: file.server,
            redis: file.redis,
            routing: file.routing,
            dispatch: file.dispatch,
            deadlines: file.deadlines,
            county,
            pseudonym_key: file.privacy.pseudonym_key,
            data_key_file: file.privacy.data_key_file,
            classifier_dir: base.join(file.classifier_dir.unwrap_or_else(|| "classifier".into())),
            classifier: file.classifier,
            auth: file.auth,
            tls: file.tls,
            access_log: file.access_log,
            triage: file.triage,
            limits: file.limits,
            callback: file.callback,
            staffing: file.staffing,
        };
        let st = &cfg.staffing;
        let in_range = (st.service_level > 0.0 && st.service_level < 1.0)
            && (st.max_occupancy > 0.0 && st.max_occupancy <= 1.0)
            && (1..=4).contains(&st.weeks);
        if !in_range {
            return Err(ConfigError::Invalid(
                "staffing: service_level between 0 and 1, max_occupancy above 0 and at most 1, weeks 1 to 4"
                    .into(),
            ));
        }
        if cfg.callback.attempts == 0 {
            return Err(ConfigError::Invalid(
                "callback.attempts must be at least 1".into(),
            ));
        }
        if cfg
            .callback
            .spacing_minutes
            .iter()
            .any(|m| !m.is_finite() || *m < 0.0)
        {
            return Err(ConfigError::Invalid(
                "callback.spacing_minutes: minutes, none negative".into(),
            ));
        }
        if cfg.callback.attempts > 1 && cfg.callback.spacing_minutes.is_empty() {
            return Err(ConfigError::Invalid(
                "callback.spacing_minutes must name the wait after a failed attempt".into(),
            ));
        }
        for o in &cfg.server.cors_origins {
            if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "server.cors_origins: `{o}` is not an origin (https://host[:port]) or `*`"
                )));
            }
        }
        if cfg.server.max_concurrent_calls == 0 {
            return Err(ConfigError::Invalid(
                "server.max_concurrent_calls must be at least 1".into(),
            ));
        }
        if cfg.server.keepalive_secs == 0 {
            return Err(ConfigError::Invalid(
                "server.keepalive_secs must be at least 1".into(),
            ));
        }
        cfg.redis.validate().map_err(ConfigError::Invalid)?;
        if cfg.redis.response_timeout_ms == 0 || cfg.redis.connection_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "redis.response_timeout_ms and redis.connection_timeout_ms must be at least 1"
                    .into(),
            ));
        }
        if cfg.routing.offer_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "routing.offer_timeout_secs must be at least 1".into(),
            ));
        }
        // Renewed about every second: a shorter lease would lapse on one slow round trip.
        if cfg.dispatch.presence_lease_ms < 1_000 {
            return Err(ConfigError::Invalid(
                "dispatch.presence_lease_ms must be at least 1000".into(),
            ));
        }
        let look = cfg.triage.first_look_secs;
        if [look.phone, look.chat, look.e_service].contains(&0) {
            return Err(ConfigError::Invalid(
                "triage.first_look_secs must be at least 1 for every channel".into(),
            ));
        }
        cfg.deadlines.validate().map_err(ConfigError::Invalid)?;
        cfg.limits.validate().map_err(ConfigError::Invalid)?;
        cfg.validate_security()?;
        Ok(cfg)
    }

    /// The security settings hang together: production needs its own certificates; plain text
    /// only on loopback; every client mapping names a role.
    pub fn validate_security(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let a = &self.auth;
        if a.clock_skew_secs > 300 {
            return bad("auth.clock_skew_secs may be at most 300".into());
        }
        if a.audience.is_empty() {
            return bad("auth.audience must not be empty".into());
        }
        if let Some(issuer) = &a.issuer {
            let local =
                issuer.starts_with("http://127.0.0.1") || issuer.starts_with("http://localhost");
            if !issuer.starts_with("https://") && !local {
                return bad(format!(
                    "auth.issuer `{issuer}` must be an https:// URL (http only on loopback)"
                ));
            }
            if issuer == crate::auth::dev::ISSUER {
                return bad("auth.issuer may not be the development issuer".into());
            }
        }
        for (name, roles) in &a.clients {
            for r in roles {
                if crate::auth::Role::parse(r).is_none() {
                    return bad(format!(
                        "auth.clients.{name}: `{r}` is no role (citizen-frontend, contact-centre, professional, supervisor, ops)"
                    ));
                }
            }
        }
        let t = &self.tls;
        if t.cert_file.is_some() != t.key_file.is_some() {
            return bad("tls.cert_file and tls.key_file go together".into());
        }
        if t.plaintext_on_loopback {
            for (what, addr) in [
                ("server.grpc_addr", self.server.grpc_addr),
                ("server.http_addr", self.server.http_addr),
            ] {
                if !addr.ip().is_loopback() {
                    return bad(format!(
                        "tls.plaintext_on_loopback: {what} {addr} is not a loopback address"
                    ));
                }
            }
        } else if !a.is_development() && t.cert_file.is_none() {
            return bad("with auth.issuer set, tls.cert_file and tls.key_file are required".into());
        }
        if self.access_log.retention_days == 0 {
            return bad("access_log.retention_days must be at least 1".into());
        }
        if self.data_key_file.is_none() && !self.auth.is_development() {
            return bad(
                "privacy.data_key_file is required with auth.issuer set: a file of its own \
                 holding the key that wraps the data keys (`openssl rand -hex 32 > data.key; \
                 chmod 600 data.key`); only development makes a key of its own"
                    .into(),
            );
        }
        self.validate_pseudonym_key()
    }

    /// A configured key is long and not the published one; only development may go without
    /// (it then gets a random key of its own).
    pub fn validate_pseudonym_key(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        match &self.pseudonym_key {
            Some(k) if k.expose() == DEVELOPMENT_PSEUDONYM_KEY => bad(
                "privacy.pseudonym_key (LUOTSI_PSEUDONYM_KEY) is the published development key: \
                 anyone can reverse its pseudonyms. Set a random one (`openssl rand -hex 32`)",
            ),
            Some(k) if k.expose().chars().count() < MIN_PSEUDONYM_KEY_CHARS => bad(
                "privacy.pseudonym_key (LUOTSI_PSEUDONYM_KEY) must have at least 32 characters \
                 (`openssl rand -hex 32`)",
            ),
            None if !self.auth.is_development() => bad(
                "privacy.pseudonym_key (LUOTSI_PSEUDONYM_KEY) is required with auth.issuer set \
                 (`openssl rand -hex 32`); only development makes a key of its own",
            ),
            _ => Ok(()),
        }
    }

    /// Languages any professional of the county speaks.
    pub fn languages(&self) -> HashSet<Language> {
        self.county
            .teams
            .iter()
            .flat_map(|t| t.members.iter().flat_map(|m| m.languages.iter().copied()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every section has its defaults: a service file naming only the county loads.
    #[test]
    fn a_service_file_with_only_the_county_loads_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let file = dir.path().join("luotsi.toml");
        std::fs::write(
            &file,
            format!(
                "county_file = {:?}\nclassifier_dir = {:?}\n",
                root.join("county.toml"),
                root.join("classifier")
            ),
        )
        .unwrap();
        let c = Config::load(&file).expect("loads");
        assert!(c.auth.is_development());
        assert!(!c.tls.plaintext_on_loopback, "TLS unless asked otherwise");
        assert!(!c.server.reflection);
        assert_eq!(c.access_log.retention_days, 732);
    }

    #[test]
    fn plain_text_only_on_loopback_and_production_needs_its_certificate() {
        let mut c = Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/luotsi.toml"))
            .expect("the example loads");
        c.tls.plaintext_on_loopback = true;
        assert!(c.validate_security().is_ok());
        c.server.grpc_addr = "0.0.0.0:50051".parse().unwrap();
        let err = c.validate_security().unwrap_err().to_string();
        assert!(err.contains("server.grpc_addr"), "{err}");
        c.tls.plaintext_on_loopback = false;
        c.auth.issuer = Some("https://idp.example.fi".into());
        let err = c.validate_security().unwrap_err().to_string();
        assert!(err.contains("tls.cert_file"), "{err}");
        c.auth.issuer = Some("http://idp.example.fi".into());
        let err = c.validate_security().unwrap_err().to_string();
        assert!(err.contains("https://"), "{err}");
    }

    fn load_with(extra: &str) -> Result<Config, ConfigError> {
        load_with_env(extra, &[])
    }

    /// A service file with `extra` after the example county, loaded with `vars` as the whole
    /// environment.
    fn load_with_env(extra: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let file = dir.path().join("luotsi.toml");
        std::fs::write(
            &file,
            format!(
                "county_file = {:?}\nclassifier_dir = {:?}\n{extra}",
                root.join("county.toml"),
                root.join("classifier")
            ),
        )
        .unwrap();
        Config::load_with_env(
            &file,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    /// Every setting the service file takes, as `section.key` (or `key` at the top), read from
    /// the program itself: the deserializer names the fields it expects when it meets one it
    /// does not know.
    fn settings() -> Vec<String> {
        const SECTIONS: [&str; 14] = [
            "server",
            "redis",
            "routing",
            "dispatch",
            "deadlines",
            "classifier",
            "privacy",
            "auth",
            "tls",
            "access_log",
            "triage",
            "limits",
            "callback",
            "staffing",
        ];
        let expected = |err: ConfigError| -> Vec<String> {
            let text = err.to_string();
            let list = text
                .split("expected one of ")
                .nth(1)
                .or_else(|| text.split("expected ").nth(1))
                .unwrap_or_else(|| panic!("no field list in: {text}"));
            // serde: "one of `a`, `b`, `c`", or for two "`a` or `b`".
            let list = list
                .lines()
                .next()
                .unwrap_or_default()
                .replace("` or `", "`, `");
            list.split(',')
                .map(|f| f.trim().trim_matches('`').to_string())
                .filter(|f| !f.is_empty())
                .collect()
        };
        let mut all = Vec::new();
        for field in expected(load_with("not_a_setting = 1\n").expect_err("unknown")) {
            if SECTIONS.contains(&field.as_str()) {
                let fields = expected(
                    load_with(&format!("[{field}]\nnot_a_setting = 1\n")).expect_err("unknown"),
                );
                all.extend(fields.into_iter().map(|f| format!("{field}.{f}")));
            } else {
                all.push(field);
            }
        }
        all.sort();
        all
    }

    /// The README's configuration reference: (setting, default cell) per row.
    fn reference() -> Vec<(String, String)> {
        let readme = include_str!("../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has a Configuration section");
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
                (
                    cells[0].trim().trim_matches('`').to_string(),
                    cells[1].trim().to_string(),
                )
            })
            .collect()
    }

    /// The part of the configuration a setting lands in, printed.
    fn printed(c: &Config, setting: &str) -> String {
        match setting.split('.').next().unwrap_or_default() {
            "server" => format!("{:?}", c.server),
            "redis" => format!("{:?}", c.redis),
            "routing" => format!("{:?}", c.routing),
            "dispatch" => format!("{:?}", c.dispatch),
            "deadlines" => format!("{:?}", c.deadlines),
            "classifier" => format!("{:?}", c.classifier),
            "privacy" => format!("{:?} {:?}", c.pseudonym_key, c.data_key_file),
            "auth" => format!("{:?}", c.auth),
            "tls" => format!("{:?}", c.tls),
            "access_log" => format!("{:?}", c.access_log),
            "triage" => format!("{:?}", c.triage),
            "limits" => format!("{:?}", c.limits),
            "callback" => format!("{:?}", c.callback),
            "staffing" => format!("{:?}", c.staffing),
            "classifier_dir" => format!("{:?}", c.classifier_dir),
            other => panic!("no section {other}"),
        }
    }

    #[test]
    fn the_reference_in_readme_is_every_setting_with_its_default() {
        let reference = reference();
        let mut listed: Vec<String> = reference.iter().map(|(k, _)| k.clone()).collect();
        listed.sort();
        assert_eq!(
            listed,
            settings(),
            "README's configuration reference and the settings the program takes differ"
        );
        let defaults = load_with("").expect("loads");
        let mut checked = 0;
        for (setting, default) in &reference {
            // A default written as one code span is a value; anything else is words.
            let Some(value) = default
                .strip_prefix('`')
                .and_then(|d| d.strip_suffix('`'))
                .filter(|d| !d.contains('`'))
            else {
                continue;
            };
            let name = env_name(setting);
            let set = load_with_env("", &[(&name, value)])
                .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
            assert_eq!(
                printed(&set, setting),
                printed(&defaults, setting),
                "README says {setting} defaults to {value}"
            );
            checked += 1;
        }
        assert!(checked >= 40, "only {checked} defaults checked");
    }

    #[test]
    fn every_setting_comes_from_the_environment_by_one_rule() {
        let c = load_with_env(
            "[server]\nkeepalive_secs = 30\n",
            &[
                ("LUOTSI_SERVER__KEEPALIVE_SECS", "45"),
                ("LUOTSI_LIMITS__RATE", "{ per_second = 7, burst = 9 }"),
                ("LUOTSI_ROUTING__OVERFLOW_AFTER_SECS", "[60]"),
                ("LUOTSI_REDIS__APPENDFSYNC", "always"),
                ("LUOTSI_DEADLINES__SERVICE_NEED_ASSESSMENT__FROM_AGE", "70"),
                (
                    "LUOTSI_CORS_ORIGINS",
                    "https://a.example.fi, https://b.example.fi",
                ),
                ("LUOTSI_GRPC_ADDR", "127.0.0.1:1"),
                ("LUOTSI_SERVER__GRPC_ADDR", "127.0.0.1:2"),
                ("LUOTSI_TOKEN", "not a setting: no double underscore"),
            ],
        )
        .expect("loads");
        assert_eq!(
            c.server.keepalive_secs, 45,
            "the environment wins over the file"
        );
        assert_eq!(
            c.limits.rate,
            RateLimit {
                per_second: 7,
                burst: 9
            }
        );
        assert_eq!(c.routing.overflow_after_secs, vec![60]);
        assert_eq!(c.redis.appendfsync, Appendfsync::Always);
        assert_eq!(c.deadlines.service_need_assessment.from_age, 70);
        assert_eq!(
            c.deadlines.service_need_assessment.period,
            crate::domain::calendar::Period::WorkingDays(7),
            "the rest of the table stays"
        );
        assert_eq!(
            c.server.cors_origins,
            vec!["https://a.example.fi", "https://b.example.fi"]
        );
        assert_eq!(
            c.server.grpc_addr.port(),
            2,
            "the long name wins over the short"
        );

        let bad =
            load_with_env("", &[("LUOTSI_SERVER__KEEPALIVE_SECS", "soon")]).expect_err("refused");
        let text = bad.to_string();
        assert!(text.contains("LUOTSI_SERVER__KEEPALIVE_SECS"), "{text}");
        assert!(text.contains("keepalive_secs"), "{text}");
        let unknown = load_with_env("", &[("LUOTSI_SERVER__KEEPALIVE", "5")]).expect_err("refused");
        assert!(
            unknown.to_string().contains("unknown field `keepalive`"),
            "{unknown}"
        );
    }

    /// The configuration is printed in logs and panics: no key, no Redis password in it.
    #[test]
    fn the_debug_form_of_the_configuration_holds_no_secret() {
        let key = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let c = load_with(&format!(
            "[redis]\nurl = \"redis://luotsi:s3cret-pass@redis.example:6379\"\n\
             [privacy]\npseudonym_key = \"{key}\"\n"
        ))
        .expect("loads");
        assert_eq!(c.pseudonym_key.as_ref().map(|k| k.expose()), Some(key));
        let printed = format!("{c:?}");
        assert!(!printed.contains(key), "{printed}");
        assert!(!printed.contains(&key[..12]), "{printed}");
        assert!(!printed.contains("s3cret-pass"), "{printed}");
        assert!(
            printed.contains("pseudonym_key: Some(<redacted>)"),
            "{printed}"
        );
    }

    #[test]
    fn the_published_key_a_short_key_and_production_without_a_key_are_refused() {
        let published = load_with(&format!(
            "[privacy]\npseudonym_key = \"{DEVELOPMENT_PSEUDONYM_KEY}\"\n"
        ))
        .expect_err("refused");
        assert!(published.to_string().contains("published"), "{published}");
        let short = load_with("[privacy]\npseudonym_key = \"short\"\n").expect_err("refused");
        assert!(short.to_string().contains("at least 32"), "{short}");
        let production = load_with(
            "[auth]\nissuer = \"https://id.example.fi\"\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
        )
        .expect_err("refused");
        assert!(
            production.to_string().contains("required with auth.issuer"),
            "{production}"
        );
        // Development goes without: it makes its own key at start.
        assert!(load_with("").expect("loads").pseudonym_key.is_none());
        // A pseudonym key is not enough: the data key file is asked for by name.
        let no_data_key = load_with(&format!(
            "[auth]\nissuer = \"https://id.example.fi\"\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n[privacy]\npseudonym_key = \"{}\"\n",
            "k".repeat(40)
        ))
        .expect_err("refused");
        assert!(
            no_data_key
                .to_string()
                .contains("privacy.data_key_file is required"),
            "{no_data_key}"
        );
        assert!(load_with("").expect("loads").data_key_file.is_none());
    }

    #[test]
    fn a_cluster_is_named_by_its_nodes_urls_and_waiting_for_replicas_needs_some() {
        let c = load_with(
            "[redis]\ncluster = [\"redis://luotsi:s3cret@10.0.0.1:7000\", \"redis://luotsi:s3cret@10.0.0.2:7000\"]\nwait_replicas = 1\nwait_timeout_ms = 500\n",
        )
        .expect("loads");
        assert_eq!(c.redis.cluster_seeds().map(|s| s.len()), Some(2));
        assert_eq!(c.redis.durability().replicas, 1);
        assert!(!format!("{c:?}").contains("s3cret"), "seeds are secrets");
        for (extra, names) in [
            (
                "[redis]\nurl = \"redis://127.0.0.1:6379\"\ncluster = [\"redis://127.0.0.1:7000\"]\n",
                "redis.url and redis.cluster",
            ),
            (
                "[redis]\ncluster = [\"10.0.0.1:7000\"]\n",
                "redis.cluster[0]",
            ),
            ("[redis]\nwait_replicas = 1\n", "redis.wait_replicas"),
            (
                "[redis]\ncluster = [\"redis://127.0.0.1:7000\"]\nwait_replicas = 1\nwait_timeout_ms = 0\n",
                "redis.wait_timeout_ms",
            ),
        ] {
            let e = load_with(extra).expect_err(extra).to_string();
            assert!(e.contains(names), "{e}");
        }
    }
}
