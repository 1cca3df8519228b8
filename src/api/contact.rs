//! ContactService: what e-service front ends and contact-centre integrations call.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::{AppState, duration, invalid, now_ms, parse_id, store_status, timestamp, urgency_pb};
use crate::classify::{Classification, Input};
use crate::domain::deadline::DeadlineFacts;
use crate::domain::routing::{self, RoutingRequest};
use crate::domain::{Channel, Language, Need, Urgency, hetu};
use crate::pb::{self, contact_service_server::ContactService};
use crate::store::{NewCase, Submitted};

pub struct ContactApi {
    pub state: AppState,
}

/// A contact that passed validation: only what routing needs, with the identity reduced to a
/// pseudonym and the age.
struct Checked<'a> {
    channel: Channel,
    text: &'a str,
    form_category: Option<Need>,
    phone_menu: Option<Need>,
    language: Option<Language>,
    municipality: Option<&'a str>,
    age: Option<u32>,
    citizen_key: String,
    own_professional: Option<String>,
    own_team: Option<String>,
    callback: Option<String>,
}

fn hint(field: &str, v: &str) -> Result<Option<Need>, Status> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| invalid(field, format!("unknown need code `{v}`")))
}

impl ContactApi {
    fn check<'a>(
        &'a self,
        channel: i32,
        text: &'a str,
        hints: Option<&pb::Hints>,
        citizen: Option<&'a pb::Citizen>,
    ) -> Result<Checked<'a>, Status> {
        let cfg = &self.state.config;
        let channel = super::channel_from_pb(channel).ok_or_else(|| {
            invalid(
                "channel",
                "must be CHANNEL_PHONE, CHANNEL_CHAT or CHANNEL_E_SERVICE",
            )
        })?;
        if text.chars().count() > cfg.routing.max_text_chars {
            return Err(invalid(
                "text",
                format!("longer than {} characters", cfg.routing.max_text_chars),
            ));
        }
        let hints = hints.cloned().unwrap_or_default();
        let form_category = hint("hints.form_category", &hints.form_category)?;
        let phone_menu = hint("hints.phone_menu", &hints.phone_menu)?;
        if text.trim().is_empty() && form_category.is_none() && phone_menu.is_none() {
            return Err(invalid(
                "text",
                "empty; give the citizen's words or a hint (hints.form_category, hints.phone_menu)",
            ));
        }
        let default = pb::Citizen::default();
        let citizen = citizen.unwrap_or(&default);
        let language = match citizen.language.trim() {
            "" => None,
            l => Some(l.parse::<Language>().map_err(|_| {
                invalid(
                    "citizen.language",
                    "must be one of fi, sv, se, smn, sms, en",
                )
            })?),
        };
        let municipality = match citizen.municipality.trim() {
            "" => None,
            m => Some(cfg.county.municipality(m).ok_or_else(|| {
                invalid(
                    "citizen.municipality",
                    format!("not a municipality of {}", cfg.county.name),
                )
            })?),
        };
        let mut age = citizen.age;
        let mut citizen_key = String::new();
        if !citizen.identity_code.trim().is_empty() {
            let valid = hetu::validate(&citizen.identity_code)
                .map_err(|e| invalid("citizen.identity_code", e))?;
            age = Some(hetu::age_on(
                valid.birth_date,
                crate::clock::now().date_naive(),
            ));
            citizen_key = self.state.pseudonyms.identity_code(&citizen.identity_code);
        }
        if age.is_some_and(|a| a > 130) {
            return Err(invalid("citizen.age", "must be at most 130"));
        }
        let callback = match citizen.callback_number.trim() {
            "" => None,
            raw => Some(
                crate::identity::normalise_phone(raw)
                    .map_err(|e| invalid("citizen.callback_number", e))?,
            ),
        };
        if citizen_key.is_empty()
            && let Some(number) = &callback
        {
            citizen_key = self.state.pseudonyms.phone(number);
        }
        let own_professional = match citizen.own_professional_id.trim() {
            "" => None,
            p => Some(
                cfg.county
                    .member(p)
                    .map(|(_, m)| m.id.clone())
                    .ok_or_else(|| {
                        invalid(
                            "citizen.own_professional_id",
                            format!("no professional `{p}`"),
                        )
                    })?,
            ),
        };
        let own_team = match citizen.own_team_id.trim() {
            "" => None,
            t => Some(
                cfg.county
                    .team(t)
                    .map(|t| t.id.clone())
                    .ok_or_else(|| invalid("citizen.own_team_id", format!("no team `{t}`")))?,
            ),
        };
        Ok(Checked {
            own_professional,
            own_team,
            channel,
            text,
            form_category,
            phone_menu,
            language,
            municipality,
            age,
            citizen_key,
            callback,
        })
    }

    fn classify(&self, c: &Checked<'_>) -> Classification {
        self.state.classifier.get().classify(&Input {
            text: c.text,
            channel: Some(c.channel),
            form_category: c.form_category,
            phone_menu: c.phone_menu,
            language: c.language,
            age: c.age,
            municipality: c.municipality,
        })
    }

    /// The answer for a contact whose case already exists (retry or join).
    async fn existing_answer(
        &self,
        contact_id: String,
        case_id: String,
        joined: bool,
    ) -> Result<pb::SubmitContactResponse, Status> {
        let store = &self.state.store;
        let rec = store.load_case(&case_id).await.map_err(store_status)?;
        let (_, class, was_joined) = store.contact(&contact_id).await.map_err(store_status)?;
        let classification: Option<pb::Classification> =
            prost::Message::decode(class.as_slice()).ok();
        let case = self.state.case_pb(&case_id, &rec, false)?;
        let urgency = classification
            .as_ref()
            .map(|c| c.urgency)
            .unwrap_or(case.urgency);
        let emergency = urgency == pb::Urgency::Emergency as i32;
        let lang = rec.str("lang").parse().unwrap_or(Language::Finnish);
        let joined = joined || was_joined;
        Ok(pb::SubmitContactResponse {
            contact_id,
            case_id,
            joined_existing_case: joined,
            classification,
            team_id: case.team_id,
            queue: case.queue,
            deadline: case.deadline,
            status: case.status,
            estimated_wait: case.estimated_wait,
            citizen_message: citizen_message(
                lang,
                emergency,
                joined,
                case.estimated_wait.as_ref(),
                None,
            ),
            call_emergency_number: emergency,
            callback_window_start: case.callback_window_start,
            callback_window_end: case.callback_window_end,
        })
    }
}

pub fn classification_pb(c: &Classification) -> pb::Classification {
    let score = |n: &crate::classify::NeedScore| pb::NeedScore {
        need: n.need.code().to_string(),
        confidence: n.confidence,
    };
    pb::Classification {
        needs: c.needs.iter().map(score).collect(),
        urgency: urgency_pb(c.urgency) as i32,
        red_flags: c.red_flags.clone(),
        language: c.language.code().to_string(),
        evidence: c
            .evidence
            .iter()
            .map(|e| pb::Evidence {
                kind: e.kind.code().to_string(),
                detail: e.detail.clone(),
                supports: e.supports.clone(),
            })
            .collect(),
        needs_triage: c.needs_triage,
        suggestions: c.suggestions.iter().map(score).collect(),
        model_raised: c.model_raised,
    }
}

/// What to tell the citizen, in Finnish, Swedish or English (Sámi speakers get Finnish here;
/// the professional sees the language on the case).
fn citizen_message(
    lang: Language,
    emergency: bool,
    joined: bool,
    wait: Option<&prost_types::Duration>,
    window: Option<(i64, i64)>,
) -> String {
    if let (false, false, Some((start, end))) = (emergency, joined, window) {
        let hm = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.with_timezone(&crate::domain::deadline::TZ))
                .map(|t| (t.format("%H.%M").to_string(), t.format("%H:%M").to_string()))
                .unwrap_or_default()
        };
        let ((s_fi, s), (e_fi, e)) = (hm(start), hm(end));
        return match lang {
            Language::Swedish => {
                format!("Din kontakt har tagits emot. Vi ringer dig upp cirka kl. {s}–{e}.")
            }
            Language::English => {
                format!("Your contact has been received. We will call you back at about {s}–{e}.")
            }
            _ => format!(
                "Yhteydenottosi on vastaanotettu. Soitamme sinulle arviolta klo {s_fi}–{e_fi}."
            ),
        };
    }
    let minutes = wait.map(|d| (d.seconds as u64).div_ceil(60).max(1));
    let (emerg, join, queued, taken) = match lang {
        Language::Swedish => (
            "Ring nödnumret 112 genast.",
            "Din kontakt har lagts till ditt tidigare ärende; du behöver inte köa på nytt.",
            "Din kontakt har tagits emot. Uppskattad väntetid cirka {} min.",
            "Din kontakt har tagits emot och behandlas.",
        ),
        Language::English => (
            "Call the emergency number 112 now.",
            "Your contact was added to your earlier case; you do not need to queue again.",
            "Your contact has been received. Estimated wait about {} min.",
            "Your contact has been received and is being handled.",
        ),
        _ => (
            "Soita heti hätänumeroon 112.",
            "Yhteydenottosi liitettiin aiempaan asiaasi, eikä sinun tarvitse jonottaa uudelleen.",
            "Yhteydenottosi on vastaanotettu. Arvioitu odotusaika noin {} min.",
            "Yhteydenottosi on vastaanotettu ja sitä käsitellään.",
        ),
    };
    if emergency {
        return emerg.to_string();
    }
    if joined {
        return join.to_string();
    }
    match minutes {
        Some(m) => queued.replace("{}", &m.to_string()),
        None => taken.to_string(),
    }
}

type CaseStream = Pin<Box<dyn Stream<Item = Result<pb::CaseUpdate, Status>> + Send>>;

#[tonic::async_trait]
impl ContactService for ContactApi {
    #[tracing::instrument(name = "SubmitContact", skip_all, fields(contact_id, case_id, channel))]
    async fn submit_contact(
        &self,
        request: Request<pb::SubmitContactRequest>,
    ) -> Result<Response<pb::SubmitContactResponse>, Status> {
        let req = request.into_inner();
        let key = req.idempotency_key.trim();
        if key.is_empty() || key.len() > 128 {
            return Err(invalid(
                "idempotency_key",
                "required, at most 128 characters",
            ));
        }
        let c = self.check(
            req.channel,
            &req.text,
            req.hints.as_ref(),
            req.citizen.as_ref(),
        )?;
        let span = tracing::Span::current();
        span.record("channel", c.channel.code());
        let class = self.classify(&c);
        let needs = class.need_codes();
        let cfg = &self.state.config;
        let (language, language_reason) = routing::service_language(
            c.language.unwrap_or(class.language),
            c.municipality,
            &cfg.routing.sami_homeland,
        );
        let mut decision = routing::route(
            &cfg.county.teams,
            &RoutingRequest {
                needs: &needs,
                urgency: class.urgency,
                channel: c.channel,
                language,
                municipality: c.municipality,
            },
        )
        .ok_or_else(|| Status::failed_precondition("no team of the county can take this need"))?;
        let now = crate::clock::now();
        // Continuity: the own team named on the contact, else the team of the citizen's open
        // case; the own professional named, else the one holding that case.
        let open = if c.citizen_key.is_empty() || c.own_team.is_some() {
            None
        } else {
            self.state
                .store
                .open_case_of(&c.citizen_key)
                .await
                .map_err(store_status)?
        };
        let own_team = match (&c.own_team, &open) {
            (Some(t), _) => Some((t.as_str(), "the citizen's own team")),
            (None, Some((t, _))) => Some((t.as_str(), "the team of the citizen's open case")),
            _ => None,
        };
        let own_pro = routing::apply_continuity(
            &cfg.county.teams,
            &mut decision,
            own_team,
            c.own_professional
                .as_deref()
                .or(open.as_ref().map(|(_, p)| p.as_str())),
        );
        decision.reasons.extend(language_reason);
        let own_until = match &own_pro {
            Some(p) => {
                decision.reasons.push(format!(
                    "continuity: offered first to own professional {p} for up to {} min",
                    cfg.routing.continuity_wait_secs / 60
                ));
                now.timestamp_millis() + 1000 * cfg.routing.continuity_wait_secs as i64
            }
            None => 0,
        };
        let overflow = routing::overflow_plan(
            &cfg.county.teams,
            &decision,
            c.municipality,
            &cfg.routing.overflow_after_secs,
            now.timestamp_millis(),
        );
        let facts = DeadlineFacts {
            needs: &needs,
            urgency: class.urgency,
            channel: c.channel,
            now,
            age: c.age,
        };
        let deadline = cfg.deadlines.deadline(&facts);
        let statutory = cfg.deadlines.statutory(&facts);
        let contact_id = uuid::Uuid::now_v7().hyphenated().to_string();
        let case_id = uuid::Uuid::now_v7().hyphenated().to_string();
        let class_pb = classification_pb(&class);
        let class_bytes = prost::Message::encode_to_vec(&class_pb);
        let deadline_ms = deadline.at.timestamp_millis();
        let score = routing::priority_score(class.urgency, deadline_ms);
        let now_ms = now.timestamp_millis();
        let need_csv = needs.iter().map(|n| n.code()).collect::<Vec<_>>().join(",");
        let profs = format!(
            ",{},",
            decision
                .professions
                .iter()
                .map(|p| p.code())
                .collect::<Vec<_>>()
                .join(",")
        );
        let b = |s: &str| s.as_bytes().to_vec();
        // Queued cases wait in a sub-queue per primary need, so that a professional's pull reads
        // only the heads of the sub-queues their profession serves.
        let sub_queue = if decision.queue == routing::ALERT_QUEUE {
            "any".to_string()
        } else {
            decision.need.code().to_string()
        };
        let mut fields: Vec<(&'static str, Vec<u8>)> = vec![
            ("status", b("queued")),
            ("channel", b(c.channel.code())),
            ("needs", b(&need_csv)),
            ("urgency", b(class.urgency.code())),
            ("urank", b(&class.urgency.rank().to_string())),
            ("lang", b(language.code())),
            ("team", b(&decision.team_id)),
            ("queue", b(&decision.queue)),
            ("sub", b(&sub_queue)),
            ("profs", b(&profs)),
            ("score", b(&score.to_string())),
            ("deadline", b(&deadline_ms.to_string())),
            ("created", b(&now_ms.to_string())),
            (
                "lang_until",
                b(&(now_ms + 1000 * cfg.routing.language_wait_secs as i64).to_string()),
            ),
            ("citizen", b(&c.citizen_key)),
            ("declined", b(",")),
            ("active", b("1")),
            ("rule", b(deadline.rule)),
            (
                "stat_deadline",
                b(&statutory
                    .as_ref()
                    .map(|d| d.at.timestamp_millis().to_string())
                    .unwrap_or_default()),
            ),
            ("stat_rule", b(statutory.as_ref().map_or("", |d| d.rule))),
            ("own_pro", b(own_pro.as_deref().unwrap_or(""))),
            ("own_until", b(&own_until.to_string())),
            (
                "ovf_teams",
                b(&overflow
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(",")),
            ),
            (
                "ovf_at",
                b(&overflow
                    .iter()
                    .map(|(_, at)| at.to_string())
                    .collect::<Vec<_>>()
                    .join(",")),
            ),
            ("reasons", b(&decision.reasons.join("\n"))),
            ("class", class_bytes.clone()),
            ("text", b(c.text)),
        ];
        if let Some(number) = &c.callback {
            fields.push(("callback", b(number)));
        }
        let new = NewCase {
            contact_id: contact_id.clone(),
            case_id: case_id.clone(),
            idempotency_key: key.to_string(),
            idempotency_ttl_secs: cfg.routing.idempotency_ttl_secs,
            citizen: c.citizen_key.clone(),
            urgency_rank: class.urgency.rank(),
            classification: class_bytes,
            needs: needs.iter().map(|n| n.code().to_string()).collect(),
            fields,
        };
        let outcome = self.state.store.submit(&new).await.map_err(store_status)?;
        self.state
            .metrics
            .contacts
            .get_or_create(&crate::metrics::ContactLabels {
                channel: c.channel.code().to_string(),
                need: decision.need.code().to_string(),
                result: match outcome {
                    Submitted::New { .. } => "new",
                    Submitted::Joined { .. } => "joined",
                    Submitted::Duplicate { .. } => "duplicate",
                }
                .to_string(),
            })
            .inc();
        let answer = match outcome {
            Submitted::New {
                position,
                available,
            } => {
                let emergency = class.urgency == Urgency::Emergency;
                // Offered at once: no wait. Queued: estimated from its place and the staff.
                let (status, wait) = match position {
                    None => (pb::CaseStatus::Offered, Duration::ZERO),
                    Some(p) => (
                        pb::CaseStatus::Queued,
                        routing::estimate_wait(
                            p,
                            available,
                            Duration::from_secs(cfg.routing.average_handling_secs.get(c.channel)),
                            emergency,
                        ),
                    ),
                };
                let window = (status == pb::CaseStatus::Queued && c.channel == Channel::Phone)
                    .then(|| routing::callback_window(now_ms, wait, deadline_ms));
                let wait = Some(duration(wait));
                pb::SubmitContactResponse {
                    callback_window_start: window.map(|w| timestamp(w.0)),
                    callback_window_end: window.map(|w| timestamp(w.1)),
                    contact_id,
                    case_id,
                    joined_existing_case: false,
                    citizen_message: citizen_message(
                        language,
                        emergency,
                        false,
                        wait.as_ref(),
                        window,
                    ),
                    classification: Some(class_pb),
                    team_id: decision.team_id,
                    queue: decision.queue,
                    deadline: Some(timestamp(deadline_ms)),
                    status: status as i32,
                    estimated_wait: wait,
                    call_emergency_number: emergency,
                }
            }
            Submitted::Joined {
                contact_id,
                case_id,
            } => self.existing_answer(contact_id, case_id, true).await?,
            Submitted::Duplicate {
                contact_id,
                case_id,
            } => self.existing_answer(contact_id, case_id, false).await?,
        };
        span.record("contact_id", answer.contact_id.as_str());
        span.record("case_id", answer.case_id.as_str());
        tracing::info!(
            team = %answer.team_id,
            queue = %answer.queue,
            urgency = class.urgency.code(),
            joined = answer.joined_existing_case,
            "contact submitted"
        );
        Ok(Response::new(answer))
    }

    #[tracing::instrument(name = "Classify", skip_all)]
    async fn classify(
        &self,
        request: Request<pb::ClassifyRequest>,
    ) -> Result<Response<pb::Classification>, Status> {
        let req = request.into_inner();
        let c = self.check(
            req.channel,
            &req.text,
            req.hints.as_ref(),
            req.citizen.as_ref(),
        )?;
        Ok(Response::new(classification_pb(&self.classify(&c))))
    }

    #[tracing::instrument(name = "GetCase", skip_all, fields(case_id = %request.get_ref().case_id))]
    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let id = parse_id("case_id", &request.get_ref().case_id)?;
        Ok(Response::new(self.state.case(&id, false).await?))
    }

    type WatchCaseStream = CaseStream;

    #[tracing::instrument(name = "WatchCase", skip_all, fields(case_id = %request.get_ref().case_id))]
    async fn watch_case(
        &self,
        request: Request<pb::WatchCaseRequest>,
    ) -> Result<Response<Self::WatchCaseStream>, Status> {
        let id = parse_id("case_id", &request.get_ref().case_id)?;
        let state = self.state.clone();
        let dispatcher = self.state.dispatcher.clone();
        let store = self.state.store.clone();
        // Subscribe before the first read so that no change between the two is missed.
        let mut changes = dispatcher.watch(&id);
        let first = match store.load_case(&id).await {
            Ok(rec) => rec,
            Err(e) => {
                drop(changes);
                dispatcher.unwatch(&id);
                return Err(store_status(e));
            }
        };
        let case_id = id.clone();
        let update = move |rec: &crate::store::CaseRecord| -> Result<pb::CaseUpdate, Status> {
            let case = state.case_pb(&case_id, rec, false)?;
            Ok(pb::CaseUpdate {
                case_id: case.case_id,
                status: case.status,
                estimated_wait: case.estimated_wait,
                professional_id: case.professional_id,
                outcome: case.outcome,
                at: Some(timestamp(now_ms())),
                callback_offered: case.callback_offered,
                channel: case.channel,
                callback_window_start: case.callback_window_start,
                callback_window_end: case.callback_window_end,
            })
        };
        let stream = async_stream(move |tx| {
            async move {
                let mut last = update(&first)?;
                let closed = |u: &pb::CaseUpdate| {
                    u.status == pb::CaseStatus::Completed as i32
                        || u.status == pb::CaseStatus::Cancelled as i32
                };
                let done = closed(&last);
                if tx.send(Ok(last.clone())).await.is_err() || done {
                    return Ok(());
                }
                loop {
                    // A change, or a refresh of the estimated wait as the queue moves.
                    tokio::select! {
                        _ = tx.closed() => break,
                        _ = tokio::time::timeout(Duration::from_secs(15), changes.recv()) => {}
                    }
                    let rec = store.load_case(&id).await.map_err(store_status)?;
                    let next = update(&rec)?;
                    let changed = (
                        next.status,
                        &next.professional_id,
                        next.outcome,
                        &next.estimated_wait,
                        next.callback_offered,
                        next.channel,
                    ) != (
                        last.status,
                        &last.professional_id,
                        last.outcome,
                        &last.estimated_wait,
                        last.callback_offered,
                        last.channel,
                    );
                    if changed {
                        if tx.send(Ok(next.clone())).await.is_err() {
                            break;
                        }
                        if closed(&next) {
                            break;
                        }
                        last = next;
                    }
                }
                drop(changes);
                dispatcher.unwatch(&id);
                Ok(())
            }
            .in_current_span()
        });
        Ok(Response::new(stream))
    }

    #[tracing::instrument(name = "AcceptCallback", skip_all, fields(case_id = %request.get_ref().case_id))]
    async fn accept_callback(
        &self,
        request: Request<pb::AcceptCallbackRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let req = request.into_inner();
        let id = parse_id("case_id", &req.case_id)?;
        let number = crate::identity::normalise_phone(req.callback_number.trim())
            .map_err(|e| invalid("callback_number", e))?;
        self.state
            .store
            .accept_callback(&id, &number)
            .await
            .map_err(store_status)?;
        tracing::info!("chat turned into a call-back");
        Ok(Response::new(self.state.case(&id, false).await?))
    }

    #[tracing::instrument(name = "CancelContact", skip_all, fields(contact_id = %request.get_ref().contact_id))]
    async fn cancel_contact(
        &self,
        request: Request<pb::CancelContactRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let contact = parse_id("contact_id", &request.get_ref().contact_id)?;
        let retention = self.state.config.routing.closed_case_retention_days * 86_400;
        let case_id = self
            .state
            .store
            .cancel(&contact, retention)
            .await
            .map_err(store_status)?;
        let case = self.state.case(&case_id, false).await?;
        tracing::info!(case_id = %case_id, status = case.status().as_str_name(), "contact withdrawn");
        Ok(Response::new(case))
    }
}

/// Runs `body` as a task feeding a bounded channel and returns the channel as a stream; an
/// error from the body ends the stream with that status.
pub fn async_stream<T, F, Fut>(body: F) -> Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = Result<(), Status>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let fut = body(tx.clone());
    tokio::spawn(async move {
        if let Err(status) = fut.await {
            let _ = tx.send(Err(status)).await;
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
