//! ContactService: what e-service front ends and contact-centre integrations call.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::convert::timestamp;
use super::messages::{Standing, Window, citizen_message};
use super::{
    AppState, CaseView, access_entry, id_field, invalid, now_ms, parse_id, quote, refusal_status,
    store_status,
};
use crate::auth::{Caller, case_token};
use crate::classify::{Classification, Input};
use crate::domain::intake::{self, Assessment, CasePlan, ContactFacts, IntakePolicy, OpenCase};
use crate::domain::{Channel, Language, Need, Purpose, Urgency, hetu};
use crate::pb::{self, contact_service_server::ContactService};
use crate::store::{NewCase, Submission, Submitted};

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
    /// These three as the county in use names them (owned: a reload may replace the county
    /// while the call runs).
    municipality: Option<String>,
    age: Option<u32>,
    /// Pseudonym of the identity code, else of the call-back number.
    citizen_key: Option<String>,
    own_professional: Option<String>,
    own_team: Option<String>,
    callback: Option<String>,
    /// The call-back time the citizen chose (ms; the end `i64::MAX` when not given).
    callback_window: Option<(i64, i64)>,
}

impl Checked<'_> {
    fn input(&self) -> Input<'_> {
        Input {
            text: self.text,
            channel: Some(self.channel),
            form_category: self.form_category,
            phone_menu: self.phone_menu,
            language: self.language,
            age: self.age,
            municipality: self.municipality.as_deref(),
        }
    }

    fn facts(&self) -> ContactFacts<'_> {
        ContactFacts {
            channel: self.channel,
            municipality: self.municipality.as_deref(),
            language: self.language,
            age: self.age,
            own_professional: self.own_professional.as_deref(),
            own_team: self.own_team.as_deref(),
            form_category: self.form_category,
            phone_menu: self.phone_menu,
            callback_window: self.callback_window,
        }
    }
}

/// The call-back window a contact asks for, checked: phone and e-service only, an end in the
/// future after its start. Whether it ends by the deadline the plan decides.
fn chosen_window(
    w: Option<&pb::CallbackWindow>,
    channel: Channel,
) -> Result<Option<(i64, i64)>, Status> {
    let Some(w) = w else { return Ok(None) };
    if channel == Channel::Chat {
        return Err(invalid(
            "callback_window",
            "a chosen call-back time is for phone and e-service contacts, not chat",
        ));
    }
    let ms = |field: &str, t: &Option<prost_types::Timestamp>| -> Result<Option<i64>, Status> {
        let Some(t) = t else { return Ok(None) };
        if !(0..1_000_000_000).contains(&t.nanos) || !(0..=253_402_300_799).contains(&t.seconds) {
            return Err(invalid(field, "not a valid time"));
        }
        Ok(Some(t.seconds * 1000 + i64::from(t.nanos) / 1_000_000))
    };
    let now = crate::clock::now_ms();
    let from = ms("callback_window.not_before", &w.not_before)?.unwrap_or(now);
    let to = ms("callback_window.not_after", &w.not_after)?;
    if let Some(to) = to {
        if to <= now {
            return Err(invalid(
                "callback_window.not_after",
                "must be in the future",
            ));
        }
        if to <= from {
            return Err(invalid(
                "callback_window.not_after",
                "must be after callback_window.not_before",
            ));
        }
    }
    Ok(Some((from.max(now), to.unwrap_or(i64::MAX))))
}

fn hint(field: &str, v: &str) -> Result<Option<Need>, Status> {
    let v = id_field(field, v)?;
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| invalid(field, format!("unknown need code `{}`", quote(v))))
}

impl ContactApi {
    fn check<'a>(
        &'a self,
        channel: i32,
        text: &'a str,
        hints: Option<&pb::Hints>,
        citizen: Option<&'a pb::Citizen>,
    ) -> Result<Checked<'a>, Status> {
        let cfg = self.state.config();
        let channel = super::required(
            "channel",
            channel,
            "CHANNEL_PHONE, CHANNEL_CHAT or CHANNEL_E_SERVICE",
        )?;
        if text.chars().nth(cfg.routing.max_text_chars).is_some() {
            return Err(invalid(
                "text",
                format!("longer than {} characters", cfg.routing.max_text_chars),
            ));
        }
        // Line breaks and tabs are the citizen's; other control characters (NUL, escapes) are
        // no one's words and break what reads the text later.
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(invalid(
                "text",
                "must not contain control characters other than line breaks and tabs",
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
        let nobody = pb::Citizen::default();
        let citizen = citizen.unwrap_or(&nobody);
        let language = match id_field("citizen.language", &citizen.language)? {
            "" => None,
            l => Some(l.parse::<Language>().map_err(|_| {
                invalid(
                    "citizen.language",
                    "must be one of fi, sv, se, smn, sms, en",
                )
            })?),
        };
        let municipality = match id_field("citizen.municipality", &citizen.municipality)? {
            "" => None,
            m => Some(
                cfg.county
                    .municipality(m)
                    .ok_or_else(|| {
                        invalid(
                            "citizen.municipality",
                            format!("not a municipality of {}", cfg.county.name),
                        )
                    })?
                    .to_string(),
            ),
        };
        let mut age = citizen.age;
        let mut citizen_key = None;
        if !citizen.identity_code.trim().is_empty() {
            let valid = hetu::validate(&citizen.identity_code)
                .map_err(|e| invalid("citizen.identity_code", e))?;
            // The age on the contact's Helsinki date: it decides which statutory limits apply.
            let today = crate::domain::calendar::local_date(crate::clock::now());
            age =
                Some(hetu::age_of(&valid, today).map_err(|e| invalid("citizen.identity_code", e))?);
            citizen_key = Some(self.state.pseudonyms.identity_code(&citizen.identity_code));
        }
        if age.is_some_and(|a| a > 130) {
            return Err(invalid("citizen.age", "must be at most 130"));
        }
        let callback = match id_field("citizen.callback_number", &citizen.callback_number)? {
            "" => None,
            raw => Some(
                crate::identity::normalise_phone(raw)
                    .map_err(|e| invalid("citizen.callback_number", e))?,
            ),
        };
        if citizen_key.is_none() {
            citizen_key = callback.as_deref().map(|n| self.state.pseudonyms.phone(n));
        }
        let own_professional =
            match id_field("citizen.own_professional_id", &citizen.own_professional_id)? {
                "" => None,
                p => Some(
                    cfg.county
                        .member(p)
                        .map(|(_, m)| m.id.clone())
                        .ok_or_else(|| {
                            invalid(
                                "citizen.own_professional_id",
                                format!("no professional `{}`", quote(p)),
                            )
                        })?,
                ),
            };
        let own_team = match id_field("citizen.own_team_id", &citizen.own_team_id)? {
            "" => None,
            t => Some(cfg.county.team(t).map(|t| t.id.clone()).ok_or_else(|| {
                invalid("citizen.own_team_id", format!("no team `{}`", quote(t)))
            })?),
        };
        Ok(Checked {
            callback_window: None,
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
        self.state.classifier.get().classify(&c.input())
    }

    /// Plans the case with `open` as the citizen's open case (continuity).
    fn plan(
        &self,
        c: &Checked<'_>,
        class: &Classification,
        open: Option<&OpenCase>,
    ) -> Result<CasePlan, Status> {
        let cfg = self.state.config();
        let policy = IntakePolicy {
            teams: &cfg.county.teams,
            deadlines: &cfg.deadlines,
            language_wait_secs: cfg.routing.language_wait_secs,
            continuity_wait_secs: cfg.routing.continuity_wait_secs,
            overflow_after_secs: &cfg.routing.overflow_after_secs,
            sami_homeland: &cfg.routing.sami_homeland,
        };
        let needs = class.need_codes();
        let assessment = Assessment {
            needs: &needs,
            urgency: class.urgency,
            language: class.language,
        };
        intake::plan(&c.facts(), &assessment, open, &policy, crate::clock::now())
            .map_err(refusal_status)
    }

    /// The answer for a new case: offered at once, or queued at its place.
    fn new_answer(
        &self,
        plan: &CasePlan,
        ids: &Ids,
        class: pb::Classification,
        position: Option<u64>,
        available: u64,
    ) -> pb::SubmitContactResponse {
        let emergency = plan.urgency == Urgency::Emergency;
        let deadline_ms = plan.deadline.at.timestamp_millis();
        let (status, wait) = match position {
            None => (pb::CaseStatus::Offered, Duration::ZERO),
            Some(p) => (
                pb::CaseStatus::Queued,
                crate::domain::routing::estimate_wait(
                    p,
                    available,
                    Duration::from_secs(
                        self.state
                            .config()
                            .routing
                            .average_handling_secs
                            .get(plan.channel),
                    ),
                    emergency,
                ),
            ),
        };
        let now = now_ms();
        // The window the citizen chose, else (a call-back) the estimate in office hours.
        let chosen = plan.window.filter(|_| status == pb::CaseStatus::Queued);
        let wait = match chosen {
            Some((from, _)) => wait.max(Duration::from_millis((from - now).max(0) as u64)),
            None => wait,
        };
        let window = chosen.or_else(|| {
            (status == pb::CaseStatus::Queued && plan.channel == Channel::Phone)
                .then(|| self.state.callback_window(now, wait, deadline_ms))
        });
        let promise = window.map(|(start, end)| Window {
            start,
            end,
            now,
            // The call waits for office hours: an urgent case is told where to turn meanwhile.
            urgent_after_hours: chosen.is_none()
                && plan.urgency == Urgency::Urgent
                && start > now + wait.as_millis() as i64 + 60_000,
            chosen: chosen.is_some(),
        });
        pb::SubmitContactResponse {
            callback_window_start: window.map(|w| timestamp(w.0)),
            callback_window_end: window.map(|w| timestamp(w.1)),
            contact_id: ids.contact_id.clone(),
            case_id: ids.case_id.clone(),
            joined_existing_case: false,
            citizen_message: citizen_message(
                plan.language,
                standing(emergency, false, promise, Some(wait)),
            ),
            classification: Some(class),
            team_id: plan.team.clone(),
            queue: plan.queue.clone(),
            deadline: Some(timestamp(deadline_ms)),
            status: status as i32,
            estimated_wait: Some(super::convert::duration(wait)),
            call_emergency_number: emergency,
            case_access_token: String::new(),
        }
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
        let case = self.state.case_pb(&rec, CaseView::Routing);
        let urgency = classification
            .as_ref()
            .map(|c| c.urgency)
            .unwrap_or(case.urgency);
        let emergency = urgency == pb::Urgency::Emergency as i32;
        let joined = joined || was_joined;
        let wait = self.state.estimated_wait(&rec);
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
            citizen_message: citizen_message(rec.language, standing(emergency, joined, None, wait)),
            call_emergency_number: emergency,
            callback_window_start: case.callback_window_start,
            callback_window_end: case.callback_window_end,
            case_access_token: String::new(),
        })
    }
}

/// The ids a new contact and its case are given before they are written.
struct Ids {
    contact_id: String,
    case_id: String,
}

/// What the citizen's message is about, most important first.
fn standing(
    emergency: bool,
    joined: bool,
    window: Option<Window>,
    wait: Option<Duration>,
) -> Standing {
    match (emergency, joined, window, wait) {
        (true, ..) => Standing::Emergency,
        (_, true, ..) => Standing::Joined,
        (_, _, Some(w), _) => Standing::CallbackWindow(w),
        (_, _, None, Some(w)) => Standing::Waiting(w),
        (_, _, None, None) => Standing::Taken,
    }
}

type CaseStream = Pin<Box<dyn Stream<Item = Result<pb::WatchCaseResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ContactService for ContactApi {
    #[tracing::instrument(name = "SubmitContact", skip_all, fields(contact_id, case_id, channel))]
    async fn submit_contact(
        &self,
        request: Request<pb::SubmitContactRequest>,
    ) -> Result<Response<pb::SubmitContactResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let key = id_field("idempotency_key", &req.idempotency_key)?;
        if key.is_empty() {
            return Err(invalid(
                "idempotency_key",
                "required, at most 128 characters",
            ));
        }
        // Keys are the caller's own: another caller's same key is another contact.
        let key = format!("{}/{key}", caller.idempotency_scope());
        let token = case_token::new();
        let token_hash = case_token::hash(&token);
        let mut c = self.check(
            req.channel,
            &req.text,
            req.hints.as_ref(),
            req.citizen.as_ref(),
        )?;
        c.callback_window = chosen_window(req.callback_window.as_ref(), c.channel)?;
        if c.channel == Channel::Phone && c.callback.is_none() {
            return Err(invalid(
                "citizen.callback_number",
                "required for a phone contact: the number to call back",
            ));
        }
        tracing::Span::current().record("channel", c.channel.code());
        let class = self.classify(&c);
        let class_pb = pb::Classification::from(&class);
        let ids = Ids {
            contact_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            case_id: uuid::Uuid::now_v7().hyphenated().to_string(),
        };
        // The citizen's open case decides continuity unless the contact names its own team.
        // The plan assumes there is none; the submit script checks that in the same step and
        // answers the open case when there is one, and the contact is planned again with it.
        let consult_open_case = c.citizen_key.is_some() && c.own_team.is_none();
        let mut open: Option<OpenCase> = None;
        let mut tries = 0;
        let (plan, outcome) = loop {
            let plan = self.plan(&c, &class, open.as_ref())?;
            let new = NewCase {
                plan: &plan,
                contact_id: ids.contact_id.clone(),
                case_id: ids.case_id.clone(),
                idempotency_key: &key,
                idempotency_ttl_secs: self.state.config().routing.idempotency_ttl_secs,
                citizen: c.citizen_key.as_deref(),
                classification: prost::Message::encode_to_vec(&class_pb),
                text: c.text,
                callback_number: c.callback.as_deref(),
                access_hash: &token_hash,
                first_look_due_ms: crate::domain::triage::first_look_due(
                    plan.created_ms,
                    self.state.config().triage.first_look_secs.get(c.channel),
                ),
                open_case: consult_open_case.then(|| open.clone()),
            };
            match self.state.store.submit(&new).await.map_err(store_status)? {
                Submission::Done(outcome) => break (plan, outcome),
                // The citizen's cases changing under each attempt: a retry later will do.
                Submission::Replan(_) if tries == 3 => {
                    return Err(Status::unavailable(
                        "the citizen's open cases kept changing; try again",
                    ));
                }
                Submission::Replan(actual) => {
                    tries += 1;
                    open = actual;
                }
            }
        };
        self.state
            .metrics
            .contact(c.channel, plan.routed_need, &outcome);
        let mut answer = match outcome {
            Submitted::New {
                position,
                available,
            } => self.new_answer(&plan, &ids, class_pb, position, available),
            Submitted::Joined {
                contact_id,
                case_id,
            } => self.existing_answer(contact_id, case_id, true).await?,
            Submitted::Duplicate {
                contact_id,
                case_id,
            } => self.existing_answer(contact_id, case_id, false).await?,
        };
        answer.case_access_token = token;
        let span = tracing::Span::current();
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
    ) -> Result<Response<pb::ClassifyResponse>, Status> {
        let req = request.into_inner();
        let c = self.check(
            req.channel,
            &req.text,
            req.hints.as_ref(),
            req.citizen.as_ref(),
        )?;
        Ok(Response::new(pb::ClassifyResponse {
            classification: Some(pb::Classification::from(&self.classify(&c))),
        }))
    }

    #[tracing::instrument(name = "GetCase", skip_all, fields(case_id = %request.get_ref().case_id))]
    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.get_ref();
        let id = parse_id("case_id", &req.case_id)?;
        let (rec, view) = self
            .state
            .case_for(caller, &id, &req.case_access_token, req.purpose, "read")
            .await?;
        let case = self.state.case_pb(&rec, view);
        Ok(Response::new(pb::GetCaseResponse { case: Some(case) }))
    }

    type WatchCaseStream = CaseStream;

    #[tracing::instrument(name = "WatchCase", skip_all, fields(case_id = %request.get_ref().case_id))]
    async fn watch_case(
        &self,
        request: Request<pb::WatchCaseRequest>,
    ) -> Result<Response<Self::WatchCaseStream>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.get_ref();
        let id = parse_id("case_id", &req.case_id)?;
        // Both places travel with the stream and are given back when it goes.
        let permits = (
            self.state.streams.open_for(&caller.subject)?,
            self.state.streams.watch_case(&id)?,
        );
        let state = self.state.clone();
        let dispatcher = self.state.dispatcher.clone();
        let store = self.state.store.clone();
        // Subscribe before the first read so that no change between the two is missed.
        let mut changes = dispatcher.watch(&id);
        let first = match self
            .state
            .case_for(caller, &id, &req.case_access_token, req.purpose, "watch")
            .await
        {
            Ok(rec) => rec,
            Err(e) => {
                drop(changes);
                dispatcher.unwatch(&id);
                return Err(e);
            }
        };
        let (first, view) = first;
        // The watcher keeps the view of the first read (a holder's words are not streamed).
        let view = if view == CaseView::Holder {
            CaseView::Routing
        } else {
            view
        };
        let case_id = id.clone();
        let update = move |rec: &crate::store::CaseRecord| -> Result<pb::CaseUpdate, Status> {
            let case = state.case_pb(rec, view);
            debug_assert_eq!(case.case_id, case_id);
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
                let _permits = permits;
                let mut last = update(&first)?;
                let closed = |u: &pb::CaseUpdate| {
                    u.status == pb::CaseStatus::Completed as i32
                        || u.status == pb::CaseStatus::Cancelled as i32
                };
                let done = closed(&last);
                let send = |u: &pb::CaseUpdate| {
                    tx.send(Ok(pb::WatchCaseResponse {
                        update: Some(u.clone()),
                    }))
                };
                if send(&last).await.is_err() || done {
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
                        if send(&next).await.is_err() {
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
    ) -> Result<Response<pb::AcceptCallbackResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let id = parse_id("case_id", &req.case_id)?;
        let number =
            crate::identity::normalise_phone(id_field("callback_number", &req.callback_number)?)
                .map_err(|e| invalid("callback_number", e))?;
        self.state
            .case_for(&caller, &id, &req.case_access_token, 0, "callback")
            .await?;
        self.state
            .store
            .accept_callback(&id, &number)
            .await
            .map_err(store_status)?;
        tracing::info!("chat turned into a call-back");
        let case = self.state.case(&id, CaseView::Citizen).await?;
        Ok(Response::new(pb::AcceptCallbackResponse {
            case: Some(case),
        }))
    }

    #[tracing::instrument(name = "CancelContact", skip_all, fields(contact_id = %request.get_ref().contact_id))]
    async fn cancel_contact(
        &self,
        request: Request<pb::CancelContactRequest>,
    ) -> Result<Response<pb::CancelContactResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.get_ref();
        let contact = parse_id("contact_id", &req.contact_id)?;
        let token = id_field("case_access_token", &req.case_access_token)?;
        let retention = self.state.config().routing.closed_case_retention_days * 86_400;
        let access = access_entry(caller, "cancel", Purpose::OwnContact);
        let case_id = self
            .state
            .store
            .cancel(&contact, &case_token::hash(token), retention, &access)
            .await
            .map_err(store_status)?;
        let case = self.state.case(&case_id, CaseView::Citizen).await?;
        tracing::info!(case_id = %case_id, status = case.status().as_str_name(), "contact withdrawn");
        Ok(Response::new(pb::CancelContactResponse {
            case: Some(case),
        }))
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
