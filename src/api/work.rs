//! WorkService: the professionals' desktops — presence, the offers stream, accept, decline,
//! complete.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::convert::{FromPb, unconfirmed_pb, wire};
use super::{
    AppState, CaseView, access_entry, id_field, invalid, parse_id, purpose, quote, refusal_status,
    required, store_status,
};
use crate::auth::Caller;
use crate::domain::routing::{Member, Team};
use crate::domain::steering::available_colleague;
use crate::domain::triage::{self, RetriageContext, TriageReason, UrgencyDirection};
use crate::domain::{Channel, Need, Outcome, Presence, Profession, Purpose, Urgency};
use crate::pb::{self, work_service_server::WorkService};
use crate::store::{Accepted, CHANNEL_ORDER, Confirmation, PresenceChange, ProState};

pub struct WorkApi {
    pub state: AppState,
}

impl WorkApi {
    /// A member of the same team, by id, for hand-over and consultation.
    fn colleague<'t>(&self, team: &'t Team, id: &str, field: &str) -> Result<&'t Member, Status> {
        let id = id_field(field, id)?;
        if id.is_empty() {
            return Err(invalid(field, "required"));
        }
        team.members.iter().find(|m| m.id == id).ok_or_else(|| {
            invalid(
                field,
                format!("`{}` is not a member of team {}", quote(id), team.id),
            )
        })
    }

    /// The professional the caller acts as: the id in the request must be the one their token
    /// names.
    fn professional(&self, caller: &Caller, id: &str) -> Result<Acting, Status> {
        let id = id_field("professional_id", id)?;
        if id.is_empty() {
            return Err(invalid("professional_id", "required"));
        }
        caller.acting_as(id)?;
        let config = self.state.config();
        let found = config
            .county
            .teams
            .iter()
            .enumerate()
            .find_map(|(t, team)| team.members.iter().position(|m| m.id == id).map(|m| (t, m)));
        match found {
            Some((team, member)) => Ok(Acting {
                config,
                team,
                member,
            }),
            None => Err(Status::not_found(format!(
                "professional_id: `{}` is not a member of any team",
                quote(id)
            ))),
        }
    }
}

/// The professional a call acts as, in the county configuration in use when the call came
/// (kept whole for the call, whatever a reload does meanwhile).
struct Acting {
    config: std::sync::Arc<crate::config::Config>,
    team: usize,
    member: usize,
}

impl Acting {
    fn pair(&self) -> (&Team, &Member) {
        let team = &self.config.county.teams[self.team];
        (team, &team.members[self.member])
    }
}

fn state_pb(pro: &str, team: &Team, m: &Member, s: &ProState) -> pb::ProfessionalState {
    let per_channel = |f: &dyn Fn(Channel) -> u32| {
        CHANNEL_ORDER
            .iter()
            .map(|c| pb::ChannelCapacity {
                channel: wire::<_, pb::Channel>(*c),
                capacity: f(*c),
            })
            .collect()
    };
    pb::ProfessionalState {
        professional_id: pro.to_string(),
        team_id: team.id.clone(),
        profession: m.profession.code().to_string(),
        presence: wire::<_, pb::Presence>(s.presence),
        capacities: per_channel(&|c| s.capacity_of(c)),
        load: per_channel(&|c| s.load_of(c)),
    }
}

type OfferStream = Pin<Box<dyn Stream<Item = Result<pb::OffersResponse, Status>> + Send>>;

#[tonic::async_trait]
impl WorkService for WorkApi {
    #[tracing::instrument(name = "SetPresence", skip_all, fields(professional = %request.get_ref().professional_id))]
    async fn set_presence(
        &self,
        request: Request<pb::SetPresenceRequest>,
    ) -> Result<Response<pb::SetPresenceResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let acting = self.professional(&caller, &req.professional_id)?;
        let (team, member) = acting.pair();
        let presence: Presence = required(
            "presence",
            req.presence,
            "AVAILABLE, BUSY, ON_BREAK or OFFLINE",
        )?;
        // Configured capacity unless the request overrides a channel.
        let mut capacity = member.capacity;
        for (i, c) in req.capacities.iter().enumerate() {
            let ch = Channel::from_pb(c.channel)
                .ok_or_else(|| invalid(&format!("capacities[{i}].channel"), "must be a channel"))?;
            if c.capacity > 50 {
                return Err(invalid(&format!("capacities[{i}].capacity"), "at most 50"));
            }
            capacity.set(ch, c.capacity);
        }
        let change = PresenceChange {
            presence: Some(presence),
            capacity: CHANNEL_ORDER.map(|c| Some(capacity.get(c))),
            connection: None,
        };
        let s = self
            .state
            .store
            .set_presence(member, &team.id, &change)
            .await
            .map_err(store_status)?;
        tracing::info!(presence = presence.code(), "presence set");
        Ok(Response::new(pb::SetPresenceResponse {
            state: Some(state_pb(&member.id, team, member, &s)),
        }))
    }

    type OffersStream = OfferStream;

    #[tracing::instrument(name = "Offers", skip_all, fields(professional = %request.get_ref().professional_id))]
    async fn offers(
        &self,
        request: Request<pb::OffersRequest>,
    ) -> Result<Response<Self::OffersStream>, Status> {
        let caller = Caller::of(&request)?;
        let acting = self.professional(caller, &request.get_ref().professional_id)?;
        let (team, member) = acting.pair();
        let permit = self.state.streams.open_for(&caller.subject)?;
        let offers = self
            .state
            .dispatcher
            .connect(member, &team.id)
            .await
            .map_err(store_status)?;
        tracing::info!("offers stream opened");
        // When tonic drops the stream (the client went away), the professional is disconnected
        // and their pending offers are requeued. A newer stream of theirs ends this one.
        let stream = offers.map(move |r| match r {
            Ok(r) => Ok(pb::OffersResponse {
                offer: Some(pb::Offer::from(r)),
            }),
            Err(ended) => {
                // The place is the stream's while it lives.
                let _held = &permit;
                Err(match ended {
                    crate::dispatch::Replaced::ByNewer => Status::aborted(ended.to_string()),
                    crate::dispatch::Replaced::Removed => {
                        Status::permission_denied(ended.to_string())
                    }
                })
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(name = "AcceptOffer", skip_all, fields(case_id = %request.get_ref().case_id, professional = %request.get_ref().professional_id))]
    async fn accept_offer(
        &self,
        request: Request<pb::AcceptOfferRequest>,
    ) -> Result<Response<pb::AcceptOfferResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let acting = self.professional(&caller, &req.professional_id)?;
        let (_, member) = acting.pair();
        let id = parse_id("case_id", &req.case_id)?;
        let access = access_entry(&caller, "accept", purpose(req.purpose)?);
        let (accepted, rec) = self
            .state
            .store
            .accept(&id, &member.id, &access)
            .await
            .map_err(store_status)?;
        if let Accepted::Taken { late } = accepted {
            self.state.metrics.offer("accepted");
            if late {
                self.state.metrics.deadline_misses.inc();
            }
        }
        tracing::info!(?accepted, "offer accepted");
        let case = self.state.case_pb(&rec, CaseView::Holder);
        Ok(Response::new(pb::AcceptOfferResponse { case: Some(case) }))
    }

    #[tracing::instrument(name = "DeclineOffer", skip_all, fields(case_id = %request.get_ref().case_id, professional = %request.get_ref().professional_id))]
    async fn decline_offer(
        &self,
        request: Request<pb::DeclineOfferRequest>,
    ) -> Result<Response<pb::DeclineOfferResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let acting = self.professional(&caller, &req.professional_id)?;
        let (_, member) = acting.pair();
        let id = parse_id("case_id", &req.case_id)?;
        // Optional, and not kept: but no more than any other reason.
        if !req.reason.trim().is_empty() {
            super::one_line("reason", &req.reason)?;
        }
        if !self
            .state
            .store
            .requeue(&id, &member.id, "declined")
            .await
            .map_err(store_status)?
        {
            return Err(Status::failed_precondition(
                "the case is not offered to this professional",
            ));
        }
        self.state.metrics.offer("declined");
        tracing::info!("offer declined");
        Ok(Response::new(pb::DeclineOfferResponse {}))
    }

    #[tracing::instrument(name = "CompleteCase", skip_all, fields(case_id = %request.get_ref().case_id, professional = %request.get_ref().professional_id))]
    async fn complete_case(
        &self,
        request: Request<pb::CompleteCaseRequest>,
    ) -> Result<Response<pb::CompleteCaseResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let acting = self.professional(&caller, &req.professional_id)?;
        let (_, member) = acting.pair();
        let id = parse_id("case_id", &req.case_id)?;
        let access = access_entry(&caller, "complete", purpose(req.purpose)?);
        let outcome: Outcome = required(
            "outcome",
            req.outcome,
            "RESOLVED_AT_FIRST_CONTACT, FOLLOW_UP_BOOKED, REFERRED_ON or CITIZEN_NOT_REACHED",
        )?;
        let retention = self.state.config().routing.closed_case_retention_days * 86_400;
        let rec = self
            .state
            .store
            .complete(&id, &member.id, outcome, retention, &access)
            .await
            .map_err(store_status)?;
        self.state
            .metrics
            .completed
            .get_or_create(&crate::metrics::OutcomeLabels {
                outcome: outcome.code().to_string(),
            })
            .inc();
        tracing::info!(outcome = outcome.code(), "case completed");
        let case = self.state.case_pb(&rec, CaseView::Routing);
        Ok(Response::new(pb::CompleteCaseResponse { case: Some(case) }))
    }

    #[tracing::instrument(name = "RecordCallAttempt", skip_all, fields(case_id = %request.get_ref().case_id, professional = %request.get_ref().professional_id))]
    async fn record_call_attempt(
        &self,
        request: Request<pb::RecordCallAttemptRequest>,
    ) -> Result<Response<pb::RecordCallAttemptResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let acting = self.professional(&caller, &req.professional_id)?;
        let (_, member) = acting.pair();
        let id = parse_id("case_id", &req.case_id)?;
        let outcome: crate::domain::CallOutcome = required(
            "outcome",
            req.outcome,
            "ANSWERED, NO_ANSWER, BUSY or WRONG_NUMBER",
        )?;
        let access = access_entry(&caller, "call_attempt", purpose(req.purpose)?);
        let config = self.state.config();
        let done = self
            .state
            .store
            .record_call_attempt(
                &id,
                &member.id,
                outcome,
                config.callback.attempts,
                &config.callback.spacing(),
                &access,
            )
            .await
            .map_err(store_status)?;
        let metrics = &self.state.metrics;
        metrics
            .call_attempts
            .get_or_create(&crate::metrics::OutcomeLabels {
                outcome: outcome.code().to_string(),
            })
            .inc();
        use crate::store::CallAttempted;
        let answer = match done {
            CallAttempted::Answered { failed } => pb::RecordCallAttemptResponse {
                failed_attempts: failed,
                ..Default::default()
            },
            CallAttempted::Retry { failed, next_at_ms } => pb::RecordCallAttemptResponse {
                failed_attempts: failed,
                next_attempt_at: Some(crate::api::convert::timestamp(next_at_ms)),
                unreachable: false,
            },
            CallAttempted::Unreachable { failed } => {
                metrics.cases_unreachable.inc();
                pb::RecordCallAttemptResponse {
                    failed_attempts: failed,
                    next_attempt_at: None,
                    unreachable: true,
                }
            }
        };
        tracing::info!(
            outcome = outcome.code(),
            failed = answer.failed_attempts,
            unreachable = answer.unreachable,
            "call attempt recorded"
        );
        Ok(Response::new(answer))
    }

    #[tracing::instrument(name = "TransferCase", skip_all, fields(case_id = %request.get_ref().case_id, professional = %request.get_ref().professional_id))]
    async fn transfer_case(
        &self,
        request: Request<pb::TransferCaseRequest>,
    ) -> Result<Response<pb::TransferCaseResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let acting = self.professional(&caller, &req.professional_id)?;
        let (team, member) = acting.pair();
        let id = parse_id("case_id", &req.case_id)?;
        let access = access_entry(&caller, "transfer", purpose(req.purpose)?);
        let to = self.colleague(team, &req.to_professional_id, "to_professional_id")?;
        let reason = super::one_line("reason", &req.reason)?;
        self.state
            .store
            .transfer(&id, &member.id, to, reason, &access)
            .await
            .map_err(store_status)?;
        tracing::info!(to = %to.id, "case handed over");
        let case = self.state.case(&id, CaseView::Routing).await?;
        Ok(Response::new(pb::TransferCaseResponse { case: Some(case) }))
    }

    #[tracing::instrument(name = "RequestConsultation", skip_all, fields(case_id = %request.get_ref().case_id, professional = %request.get_ref().professional_id))]
    async fn request_consultation(
        &self,
        request: Request<pb::RequestConsultationRequest>,
    ) -> Result<Response<pb::RequestConsultationResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let acting = self.professional(&caller, &req.professional_id)?;
        let (team, member) = acting.pair();
        let id = parse_id("case_id", &req.case_id)?;
        let access = access_entry(&caller, "consult_request", purpose(req.purpose)?);
        let colleague = if !id_field("colleague_id", &req.colleague_id)?.is_empty() {
            self.colleague(team, &req.colleague_id, "colleague_id")?
                .clone()
        } else {
            let prof: Profession =
                id_field("profession", &req.profession)?
                    .parse()
                    .map_err(|_| {
                        invalid(
                            "profession",
                            "give colleague_id, or a profession code such as `doctor`",
                        )
                    })?;
            let online = self
                .state
                .store
                .available_of(&team.id, prof.code())
                .await
                .map_err(store_status)?;
            available_colleague(team, &member.id, prof, &online)
                .map_err(refusal_status)?
                .clone()
        };
        if colleague.id == member.id {
            return Err(invalid("colleague_id", "a colleague, not yourself"));
        }
        self.state
            .store
            .consult(&id, &member.id, &colleague, &access)
            .await
            .map_err(store_status)?;
        tracing::info!(colleague = %colleague.id, "consultation requested");
        let case = self.state.case(&id, CaseView::Holder).await?;
        Ok(Response::new(pb::RequestConsultationResponse {
            case: Some(case),
        }))
    }

    #[tracing::instrument(name = "ListUnconfirmed", skip_all, fields(team = %request.get_ref().team_id))]
    async fn list_unconfirmed(
        &self,
        request: Request<pb::ListUnconfirmedRequest>,
    ) -> Result<Response<pb::ListUnconfirmedResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let team = id_field("team_id", &req.team_id)?;
        if team.is_empty() {
            return Err(invalid("team_id", "required"));
        }
        if self.state.config().county.team(team).is_none() {
            return Err(invalid("team_id", format!("no team `{}`", quote(team))));
        }
        // The team's own professionals look first at the team's contacts.
        let me = caller.professional.as_deref().unwrap_or("");
        if self
            .state
            .config()
            .county
            .member(me)
            .map(|(t, _)| t.id.as_str())
            != Some(team)
        {
            return Err(Status::permission_denied(format!(
                "team `{team}` is not your team"
            )));
        }
        let page_size = match req.page_size {
            0 => 50,
            n if n <= 500 => n as usize,
            _ => return Err(invalid("page_size", "at most 500")),
        };
        let (rows, total) = self
            .state
            .store
            .unconfirmed(team, req.page as usize, page_size)
            .await
            .map_err(store_status)?;
        let ids: Vec<&str> = rows.iter().map(|r| r.case_id.as_str()).collect();
        self.state
            .store
            .log_reads(
                &ids,
                &access_entry(&caller, "list_unconfirmed", Purpose::CareRelationship),
            )
            .await
            .map_err(store_status)?;
        let now = super::now_ms();
        Ok(Response::new(pb::ListUnconfirmedResponse {
            cases: rows.into_iter().map(|r| unconfirmed_pb(r, now)).collect(),
            total: total as u32,
        }))
    }

    #[tracing::instrument(name = "ConfirmTriage", skip_all, fields(case_id = %request.get_ref().case_id, professional = %request.get_ref().professional_id))]
    async fn confirm_triage(
        &self,
        request: Request<pb::ConfirmTriageRequest>,
    ) -> Result<Response<pb::ConfirmTriageResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let req = request.into_inner();
        let acting = self.professional(&caller, &req.professional_id)?;
        let (my_team, member) = acting.pair();
        let id = parse_id("case_id", &req.case_id)?;
        let needs = req
            .needs
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.trim().parse::<Need>().map_err(|_| {
                    invalid(
                        &format!("needs[{i}]"),
                        "must be a need code such as `acute_symptoms`",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(i) = (1..needs.len()).find(|&i| needs[..i].contains(&needs[i])) {
            return Err(invalid(&format!("needs[{i}]"), "named twice"));
        }
        let urgency = match req.urgency {
            0 => None,
            v => Some(Urgency::from_pb(v).ok_or_else(|| {
                invalid(
                    "urgency",
                    "must be EMERGENCY, URGENT, SOON or ROUTINE, or UNSPECIFIED to keep it",
                )
            })?),
        };
        let reason = match req.reason {
            0 => None,
            v => Some(
                TriageReason::from_pb(v)
                    .ok_or_else(|| invalid("reason", "must be a TriageReason"))?,
            ),
        };
        let rec = self
            .state
            .store
            .load_case(&id)
            .await
            .map_err(store_status)?;
        if my_team.id != rec.team {
            return Err(Status::permission_denied(
                "a professional confirms the triage of their own team's cases",
            ));
        }
        let config = self.state.config();
        let county = &config.county;
        let team = county.team(&rec.team).ok_or_else(|| {
            Status::failed_precondition("the case's team is no longer configured")
        })?;
        let ctx = RetriageContext {
            team,
            teams: &county.teams,
            language: rec.language,
            deadlines: &config.deadlines,
        };
        let retriage = triage::retriage(
            &rec.steering_facts(),
            &needs,
            urgency,
            &ctx,
            super::now_ms(),
        )
        .map_err(refusal_status)?;
        let changed = retriage.needs_changed || retriage.direction != UrgencyDirection::Kept;
        triage::reason_needed(changed, reason).map_err(|e| invalid("reason", e))?;
        self.state
            .store
            .confirm_triage(&Confirmation {
                seen: &rec,
                by: &member.id,
                reason,
                retriage: &retriage,
                access: &access_entry(&caller, "triage", Purpose::CareRelationship),
            })
            .await
            .map_err(store_status)?;
        self.state
            .metrics
            .triage(retriage.direction, retriage.needs_changed);
        self.state.board.poke();
        tracing::info!(
            urgency_change = retriage.direction.code(),
            needs_changed = retriage.needs_changed,
            "triage confirmed"
        );
        let case = self.state.case(&id, CaseView::Routing).await?;
        Ok(Response::new(pb::ConfirmTriageResponse {
            case: Some(case),
            urgency_change: retriage.direction.code().to_string(),
            needs_changed: retriage.needs_changed,
        }))
    }
}
