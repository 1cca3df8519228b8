//! `luotsi token`, `luotsi access-log`, `luotsi permissions`, and how the command-line clients
//! reach a running Luotsi (TLS with the development CA, a token).

use std::path::PathBuf;
use std::time::Duration;

use luotsi::auth::dev::{DevAuthority, TokenRequest};
use luotsi::auth::{Role, dev_dir};
use luotsi::client::{Target, authorized, connect};
use luotsi::config::Config;
use luotsi::pb;
use tonic::transport::Channel;

type Error = Box<dyn std::error::Error>;

/// Where and as whom a command-line client calls.
#[derive(clap::Args, Clone)]
pub struct ClientArgs {
    /// Luotsi's gRPC address; default: the configured `server.grpc_addr`.
    #[arg(long)]
    pub addr: Option<String>,
    /// The CA of the server's certificate; default: the development CA.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// An access token; default (development only): one minted for the command.
    #[arg(long, env = "LUOTSI_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ClientArgs {
    /// A channel to the service and the token to call it with as `role`.
    pub async fn open(
        &self,
        config: &Config,
        role: Role,
        who: &str,
    ) -> Result<(Channel, String), Error> {
        let plain = config.tls.plaintext_on_loopback;
        let addr = self
            .addr
            .clone()
            .unwrap_or_else(|| config.server.grpc_addr.to_string());
        let addr = if addr.starts_with("http") {
            addr
        } else if plain {
            format!("http://{addr}")
        } else {
            format!("https://{addr}")
        };
        let dev_ca = dev_dir(config).join("ca.pem");
        let ca = self
            .ca
            .clone()
            .or_else(|| (config.auth.is_development() && !plain).then_some(dev_ca));
        let channel = connect(&Target {
            addr: &addr,
            ca: ca.as_deref(),
            client_cert: None,
        })
        .await?;
        let token = match &self.token {
            Some(t) => t.clone(),
            None => dev_token(config, role, who, &[], Duration::from_secs(600))?,
        };
        Ok((channel, token))
    }
}

fn dev_token(
    config: &Config,
    role: Role,
    who: &str,
    teams: &[String],
    ttl: Duration,
) -> Result<String, Error> {
    if !config.auth.is_development() {
        return Err(format!(
            "the service trusts the issuer {}: get a token from it (--token or LUOTSI_TOKEN)",
            config.auth.issuer.as_deref().unwrap_or("")
        )
        .into());
    }
    let dev = DevAuthority::open(&dev_dir(config))?;
    let mut req = TokenRequest::new(role, who, &config.auth.audience);
    req.teams = if teams.is_empty() && role == Role::Supervisor {
        vec![config.auth.county_wide_team.clone()]
    } else {
        teams.to_vec()
    };
    req.valid_for = ttl;
    Ok(dev.token(&req)?)
}

#[derive(clap::Args)]
pub struct TokenArgs {
    /// citizen-frontend, contact-centre, professional, supervisor or ops.
    #[arg(long)]
    role: String,
    /// Who: the professional's id for `professional` (e.g. suu-hh-1), else a subject name.
    #[arg(long = "as")]
    who: String,
    /// A supervisor's teams (repeat); default county-wide.
    #[arg(long = "team")]
    teams: Vec<String>,
    /// Hours the token is valid.
    #[arg(long, default_value_t = 8)]
    hours: u64,
}

/// `luotsi token`: prints a development token (never accepted once an issuer is configured).
pub fn token(config: &Config, args: &TokenArgs) -> Result<(), Error> {
    let role = Role::parse(&args.role).ok_or_else(|| {
        format!(
            "--role `{}`: one of citizen-frontend, contact-centre, professional, supervisor, ops",
            args.role
        )
    })?;
    let token = dev_token(
        config,
        role,
        &args.who,
        &args.teams,
        Duration::from_secs(args.hours * 3600),
    )?;
    println!("{token}");
    Ok(())
}

/// `luotsi permissions`: the permission table as Markdown.
pub fn permissions() -> Result<(), Error> {
    print!("{}", luotsi::auth::permissions::markdown());
    Ok(())
}

#[derive(clap::Args)]
pub struct AccessLogArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Only this citizen (identity code; turned into the pseudonym by the service).
    #[arg(long)]
    citizen: Option<String>,
    /// Only this case.
    #[arg(long)]
    case: Option<String>,
    /// From this day (YYYY-MM-DD, Helsinki) or instant (RFC 3339).
    #[arg(long)]
    from: String,
    /// To this day (inclusive) or instant; default now.
    #[arg(long)]
    to: Option<String>,
    /// Why the log is read: citizen_request (default), quality_assurance or supervision.
    #[arg(long, default_value = "citizen_request")]
    purpose: String,
}

/// `luotsi access-log`: the access log as JSON lines, for a citizen's log request or the
/// county's log system. Reads through the service (as `ops`), so the read is logged too.
pub async fn access_log(config: Config, args: AccessLogArgs) -> Result<(), Error> {
    let purpose = match args.purpose.as_str() {
        "citizen_request" => pb::PurposeOfUse::CitizenRequest,
        "quality_assurance" => pb::PurposeOfUse::QualityAssurance,
        "supervision" => pb::PurposeOfUse::Supervision,
        other => {
            return Err(format!(
                "--purpose `{other}`: citizen_request, quality_assurance or supervision"
            )
            .into());
        }
    };
    let from = instant(&args.from, false)?;
    let to = args.to.as_deref().map(|t| instant(t, true)).transpose()?;
    let (channel, token) = args
        .client
        .open(&config, Role::Ops, "luotsi-access-log")
        .await?;
    let mut client = pb::access_log_service_client::AccessLogServiceClient::new(channel);
    let mut page_token = String::new();
    loop {
        let answer = client
            .read_access_log(authorized(
                pb::ReadAccessLogRequest {
                    from: Some(from),
                    to,
                    citizen_identity_code: args.citizen.clone().unwrap_or_default(),
                    case_id: args.case.clone().unwrap_or_default(),
                    limit: 10_000,
                    page_token: page_token.clone(),
                    purpose: purpose as i32,
                },
                &token,
            ))
            .await?
            .into_inner();
        for e in &answer.entries {
            let at =
                e.at.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
            let line = serde_json::json!({
                "at": at,
                "subject": e.subject,
                "role": e.role,
                "organisation": e.organisation,
                "action": e.action,
                "case_id": e.case_id,
                "citizen": e.citizen,
                "purpose": pb::PurposeOfUse::try_from(e.purpose)
                    .map(|p| p.as_str_name().trim_start_matches("PURPOSE_OF_USE_").to_ascii_lowercase())
                    .unwrap_or_default(),
                "source": e.source,
            });
            println!("{line}");
        }
        if answer.next_page_token.is_empty() {
            return Ok(());
        }
        page_token = answer.next_page_token;
    }
}

/// A day (its start, or with `end` the start of the next day, Helsinki) or an RFC 3339 instant.
fn instant(s: &str, end: bool) -> Result<prost_types::Timestamp, Error> {
    let ms = if let Ok(day) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let day = if end {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        luotsi::domain::calendar::local_time(day, chrono::NaiveTime::MIN).timestamp_millis()
    } else {
        chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|e| format!("`{s}`: a day (YYYY-MM-DD) or an RFC 3339 instant: {e}"))?
            .timestamp_millis()
    };
    Ok(prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    })
}
