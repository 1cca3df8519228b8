//! Who may do what, tried with real credentials: tokens from the development issuer and from a
//! real OpenID Connect provider (`oidc-provider` under Node), client certificates over TLS, the
//! whole role × RPC table, identity taken from the credential, case access tokens, and the
//! access log.

use std::time::Duration;

use luotsi::auth::{PERMISSIONS, Role};
use luotsi::client::authorized;
use luotsi::pb;
use luotsi::pb::access_log_service_client::AccessLogServiceClient;
use luotsi::pb::contact_service_client::ContactServiceClient;
use luotsi::pb::supervisor_service_client::SupervisorServiceClient;
use luotsi::pb::work_service_client::WorkServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::county::TestCounty;
use crate::harness::{self, supervisor_token, token};
use crate::support::{cough, dental};

const CARE: i32 = pb::PurposeOfUse::CareRelationship as i32;
const SUPERVISION: i32 = pb::PurposeOfUse::Supervision as i32;

/// Calls the RPC at `path` with an empty request and `token`: the status, or OK.
async fn call(channel: &Channel, path: &str, token: &str) -> Code {
    let c = || ContactServiceClient::new(channel.clone());
    let w = || WorkServiceClient::new(channel.clone());
    let s = || SupervisorServiceClient::new(channel.clone());
    let code = |r: Result<(), tonic::Status>| r.map_or_else(|e| e.code(), |_| Code::Ok);
    let rpc = path.rsplit('/').next().unwrap();
    code(match rpc {
        "SubmitContact" => c()
            .submit_contact(authorized(Default::default(), token))
            .await
            .map(drop),
        "Classify" => c()
            .classify(authorized(Default::default(), token))
            .await
            .map(drop),
        "GetCase" => c()
            .get_case(authorized(Default::default(), token))
            .await
            .map(drop),
        "WatchCase" => c()
            .watch_case(authorized(Default::default(), token))
            .await
            .map(drop),
        "CancelContact" => c()
            .cancel_contact(authorized(Default::default(), token))
            .await
            .map(drop),
        "AcceptCallback" => c()
            .accept_callback(authorized(Default::default(), token))
            .await
            .map(drop),
        "SetPresence" => w()
            .set_presence(authorized(Default::default(), token))
            .await
            .map(drop),
        "Offers" => w()
            .offers(authorized(Default::default(), token))
            .await
            .map(drop),
        "AcceptOffer" => w()
            .accept_offer(authorized(Default::default(), token))
            .await
            .map(drop),
        "DeclineOffer" => w()
            .decline_offer(authorized(Default::default(), token))
            .await
            .map(drop),
        "CompleteCase" => w()
            .complete_case(authorized(Default::default(), token))
            .await
            .map(drop),
        "TransferCase" => w()
            .transfer_case(authorized(Default::default(), token))
            .await
            .map(drop),
        "RequestConsultation" => w()
            .request_consultation(authorized(Default::default(), token))
            .await
            .map(drop),
        "ListUnconfirmed" => w()
            .list_unconfirmed(authorized(Default::default(), token))
            .await
            .map(drop),
        "ConfirmTriage" => w()
            .confirm_triage(authorized(Default::default(), token))
            .await
            .map(drop),
        "RecordCallAttempt" => w()
            .record_call_attempt(authorized(Default::default(), token))
            .await
            .map(drop),
        "GetMonthlyReport" => s()
            .get_monthly_report(authorized(Default::default(), token))
            .await
            .map(drop),
        "PlanStaffing" => s()
            .plan_staffing(authorized(Default::default(), token))
            .await
            .map(drop),
        "ListUnreachable" => s()
            .list_unreachable(authorized(Default::default(), token))
            .await
            .map(drop),
        "ListQueues" => s()
            .list_queues(authorized(Default::default(), token))
            .await
            .map(drop),
        "WatchQueues" => s()
            .watch_queues(authorized(Default::default(), token))
            .await
            .map(drop),
        "ListQueuedCases" => s()
            .list_queued_cases(authorized(Default::default(), token))
            .await
            .map(drop),
        "MoveCase" => s()
            .move_case(authorized(Default::default(), token))
            .await
            .map(drop),
        "SetUrgency" => s()
            .set_urgency(authorized(Default::default(), token))
            .await
            .map(drop),
        "ReleaseOffer" => s()
            .release_offer(authorized(Default::default(), token))
            .await
            .map(drop),
        "ListDisconnectedHolders" => s()
            .list_disconnected_holders(authorized(Default::default(), token))
            .await
            .map(drop),
        "GetStats" => s()
            .get_stats(authorized(Default::default(), token))
            .await
            .map(drop),
        "ReadAccessLog" => AccessLogServiceClient::new(channel.clone())
            .read_access_log(authorized(Default::default(), token))
            .await
            .map(drop),
        other => panic!("{other}: add it to this test's table of calls"),
    })
}

#[tokio::test]
async fn every_role_may_call_what_the_table_allows_and_nothing_else() {
    let county = TestCounty::start().await;
    let channel = county.channel().await;
    for role in Role::ALL {
        let token = match role {
            Role::Supervisor => supervisor_token("matrix", &["*"]),
            r => token(r, "matrix"),
        };
        for (path, allowed) in PERMISSIONS {
            let code = call(&channel, path, &token).await;
            if allowed.contains(&role) {
                assert!(
                    !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
                    "{role} may call {path}, got {code:?}"
                );
            } else {
                assert_eq!(code, Code::PermissionDenied, "{role} may not call {path}");
            }
        }
    }
    // Without any credential nothing is answered, not even a dry-run classification; the
    // health check is.
    for (path, _) in PERMISSIONS {
        let code = call(&channel, path, "").await;
        assert_eq!(code, Code::Unauthenticated, "{path} without a credential");
    }
    assert_eq!(county.health("").await, 1, "SERVING without a credential");
    let (_, metrics) = county.http_get_anonymous("/metrics").await;
    assert!(
        metrics.contains("luotsi_calls_unauthorized_total{reason=\"permission\"}"),
        "refusals are counted: {metrics}"
    );
}

/// A token signed by the tests' development key, with claims changed by `edit` and the key id
/// `kid`; `key` replaces the signing key (PKCS#8 PEM).
fn crafted(edit: impl FnOnce(&mut serde_json::Value), kid: &str, key: Option<String>) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let mut claims = serde_json::json!({
        "iss": luotsi::auth::dev::ISSUER, "sub": "crafted", "aud": "luotsi",
        "iat": now, "nbf": now, "exp": now + 600, "roles": ["ops"],
    });
    edit(&mut claims);
    let pem = key
        .unwrap_or_else(|| std::fs::read_to_string(harness::dev().path("token-key.pem")).unwrap());
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_bad_token_is_refused_saying_why_and_never_echoed() {
    let county = TestCounty::start().await;
    let channel = county.channel().await;
    let kid = "luotsi-development-1";
    let other_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let cases = [
        (
            crafted(
                |c| c["exp"] = (c["exp"].as_i64().unwrap() - 7200).into(),
                kid,
                None,
            ),
            "expired",
        ),
        (
            crafted(
                |c| c["nbf"] = (c["nbf"].as_i64().unwrap() + 3600).into(),
                kid,
                None,
            ),
            "not yet valid",
        ),
        (
            crafted(|c| c["aud"] = "someone-else".into(), kid, None),
            "audience",
        ),
        (
            crafted(|c| c["iss"] = "https://evil.example".into(), kid, None),
            "issuer",
        ),
        (crafted(|_| {}, kid, Some(other_key.clone())), "signature"),
        (crafted(|_| {}, "no-such-key", None), "unknown key"),
        ("not.a.token".to_string(), "malformed"),
    ];
    for (bad, why) in &cases {
        let code = call(&channel, "/luotsi.v1.SupervisorService/GetStats", bad).await;
        assert_eq!(code, Code::Unauthenticated, "{why}");
        let err = ContactServiceClient::new(channel.clone())
            .classify(authorized(pb::ClassifyRequest::default(), bad))
            .await
            .unwrap_err();
        assert!(err.message().contains(why), "{why}: {}", err.message());
        assert!(
            !err.message().contains(bad.as_str()),
            "the token is not echoed"
        );
    }
    // A header that is not `Bearer …`.
    let mut req = tonic::Request::new(pb::ClassifyRequest::default());
    req.metadata_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    let err = ContactServiceClient::new(channel.clone())
        .classify(req)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("Bearer"), "{}", err.message());
    // A token without a Luotsi role is recognised but may do nothing.
    let roleless = crafted(|c| c["roles"] = serde_json::json!(["visitor"]), kid, None);
    let err = ContactServiceClient::new(channel)
        .classify(authorized(pb::ClassifyRequest::default(), &roleless))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn people_act_only_as_themselves_and_supervisors_only_on_their_teams() {
    let county = TestCounty::start().await;
    let channel = county.channel().await;
    county.go_online("suu-hh-1").await;
    let case = county.submit(dental(pb::Channel::EService, "self-1")).await;
    county.next_offer("suu-hh-1").await;

    // Nurse B (suu-hh-2) tries to accept nurse A's offer, and to go online as A.
    let b = token(Role::Professional, "suu-hh-2");
    let err = WorkServiceClient::new(channel.clone())
        .accept_offer(authorized(
            pb::AcceptOfferRequest {
                professional_id: "suu-hh-1".into(),
                case_id: case.case_id.clone(),
                purpose: CARE,
            },
            &b,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = WorkServiceClient::new(channel.clone())
        .offers(authorized(
            pb::OffersRequest {
                professional_id: "suu-hh-1".into(),
            },
            &b,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // B may not read A's case either; A may, with the words once they hold it.
    let read = |who: &str, purpose: i32| {
        let (channel, id, t) = (
            channel.clone(),
            case.case_id.clone(),
            token(Role::Professional, who),
        );
        async move {
            ContactServiceClient::new(channel)
                .get_case(authorized(
                    pb::GetCaseRequest {
                        case_id: id,
                        purpose,
                        ..Default::default()
                    },
                    &t,
                ))
                .await
        }
    };
    assert_eq!(
        read("suu-hh-2", CARE).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    county.accept("suu-hh-1", &case).await;
    let mine = read("suu-hh-1", CARE)
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(!mine.citizen_text.is_empty(), "the holder reads the words");
    let err = read("suu-hh-1", 0).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("purpose:"), "{}", err.message());

    // A supervisor of the Joensuu team acts on an oral-health case: refused.
    let joensuu = supervisor_token("sv-joensuu", &["joensuu-keskus"]);
    let err = SupervisorServiceClient::new(channel.clone())
        .release_offer(authorized(
            pb::ReleaseOfferRequest {
                case_id: case.case_id.clone(),
                reason: "test".into(),
                purpose: SUPERVISION,
                ..Default::default()
            },
            &joensuu,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = SupervisorServiceClient::new(channel.clone())
        .list_queued_cases(authorized(
            pb::ListQueuedCasesRequest {
                team_id: "suunterveys".into(),
                purpose: SUPERVISION,
                ..Default::default()
            },
            &joensuu,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Their own team works, and with no team named their one team is meant.
    let own = SupervisorServiceClient::new(channel.clone())
        .list_queues(authorized(pb::ListQueuesRequest::default(), &joensuu))
        .await
        .unwrap()
        .into_inner();
    assert!(own.queues.iter().all(|q| q.team_id == "joensuu-keskus"));
    assert!(!own.queues.is_empty());
    // A supervisor naming someone else in `supervisor_id` is refused.
    let err = SupervisorServiceClient::new(channel)
        .set_urgency(authorized(
            pb::SetUrgencyRequest {
                case_id: case.case_id.clone(),
                urgency: pb::Urgency::Urgent as i32,
                supervisor_id: "someone-else".into(),
                reason: "test".into(),
                purpose: SUPERVISION,
            },
            &supervisor_token("sv-anna", &["*"]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_front_end_follows_a_case_only_with_its_access_token() {
    let county = TestCounty::start().await;
    let channel = county.channel().await;
    let answer = county
        .submit(dental(pb::Channel::EService, "token-1"))
        .await;
    assert!(answer.case_access_token.len() >= 43, "≥ 128 bits, URL-safe");
    let frontend = token(Role::CitizenFrontend, "e-service");
    let get = |t: &str| {
        let (channel, id, t, f) = (
            channel.clone(),
            answer.case_id.clone(),
            t.to_string(),
            frontend.clone(),
        );
        async move {
            ContactServiceClient::new(channel)
                .get_case(authorized(
                    pb::GetCaseRequest {
                        case_id: id,
                        case_access_token: t,
                        ..Default::default()
                    },
                    &f,
                ))
                .await
        }
    };
    let seen = get(&answer.case_access_token)
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(seen.case_id, answer.case_id);
    assert!(
        seen.routing_reasons.is_empty(),
        "no routing reasons for the citizen"
    );
    assert!(seen.professional_id.is_empty());
    // A wrong or missing token looks like a case that does not exist.
    let wrong = get("guess").await.unwrap_err();
    assert_eq!(wrong.code(), Code::NotFound);
    let missing = ContactServiceClient::new(channel.clone())
        .get_case(authorized(
            pb::GetCaseRequest {
                case_id: "01234567-89ab-7def-8123-456789abcdef".into(),
                case_access_token: "guess".into(),
                ..Default::default()
            },
            &frontend,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        wrong.message().replace(&answer.case_id, "ID"),
        missing
            .message()
            .replace("01234567-89ab-7def-8123-456789abcdef", "ID")
    );
    assert_eq!(get("").await.unwrap_err().code(), Code::NotFound);
    // Only the hash is stored.
    let stored = county.stored();
    assert!(
        !stored
            .iter()
            .any(|(_, v)| String::from_utf8_lossy(v).contains(&answer.case_access_token)),
        "the token is not stored in clear"
    );
    // Withdrawing needs the token too.
    let err = ContactServiceClient::new(channel.clone())
        .cancel_contact(authorized(
            pb::CancelContactRequest {
                contact_id: answer.contact_id.clone(),
                case_access_token: "guess".into(),
            },
            &frontend,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        county.case(&answer).await.status,
        pb::CaseStatus::Queued as i32
    );

    // Another front end sending the same idempotency key makes its own case.
    let other = token(Role::ContactCentre, "contact-centre");
    let theirs = ContactServiceClient::new(channel.clone())
        .submit_contact(authorized(dental(pb::Channel::EService, "token-1"), &other))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.contact_id, answer.contact_id, "a separate contact");
    // The same caller retrying gets its first answer (and a token that works).
    let again = county
        .submit(dental(pb::Channel::EService, "token-1"))
        .await;
    assert_eq!(again.contact_id, answer.contact_id);
    assert!(get(&again.case_access_token).await.is_ok());
}

#[tokio::test]
async fn every_use_of_a_citizens_data_is_in_the_access_log_and_a_refusal_is_not() {
    let county = TestCounty::start().await;
    let mut citizen = dental(pb::Channel::EService, "log-1");
    citizen.citizen.as_mut().unwrap().identity_code = "131052-308T".into();
    county.go_online("suu-hh-1").await;
    let case = county.submit(citizen).await;
    county.next_offer("suu-hh-1").await;
    county.accept("suu-hh-1", &case).await;
    county.accept("suu-hh-1", &case).await; // a repeated accept discloses again
    county.case(&case).await; // the duty supervisor reads it
    county.go_online("suu-hh-2").await;
    county
        .consult_profession("suu-hh-1", &case, "dental_nurse")
        .await;
    county.accept("suu-hh-2", &case).await; // the colleague answers the consultation
    county
        .transfer("suu-hh-1", &case, "suu-hh-2", "lunch")
        .await;
    county.next_offer("suu-hh-2").await;
    county.accept("suu-hh-2", &case).await;
    county.complete("suu-hh-2", &case).await;
    // A cough in Joensuu, where nobody is online: it waits in the queue.
    let queued = county.submit(cough(pb::Channel::EService, "log-2")).await;
    county.queued_cases("joensuu-keskus", "", 0).await;
    let anna = county.supervisor("sv-anna");
    anna.set_urgency(&queued, pb::Urgency::Urgent, "worse")
        .await;
    anna.move_case(&queued, "", "chat", "chat now").await;
    county
        .confirm_triage(
            "jns-sh-1",
            &queued,
            &[],
            pb::Urgency::Unspecified,
            pb::TriageReason::Unspecified,
        )
        .await;
    county.cancel_contact(&queued.contact_id).await;

    let log = county.access_log().await;
    let actions: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.subject.as_str(), e.case_id.as_str()))
        .collect();
    let has = |action: &str, who: &str, case: &str| {
        assert!(
            actions.contains(&(action, who, case)),
            "{action} by {who} on {case} in {actions:?}"
        )
    };
    let c = case.case_id.as_str();
    let q = queued.case_id.as_str();
    has("accept", "suu-hh-1", c);
    has("accept_again", "suu-hh-1", c);
    has("read", "duty-supervisor", c);
    has("consult", "suu-hh-1", c);
    has("consult_accept", "suu-hh-2", c);
    has("transfer", "suu-hh-1", c);
    has("accept", "suu-hh-2", c);
    has("complete", "suu-hh-2", c);
    has("list_queued", "duty-supervisor", q);
    has("urgency", "sv-anna", q);
    has("move", "sv-anna", q);
    has("triage_confirm", "jns-sh-1", q);
    has("cancel", "e-service", q);
    let accept = log.iter().find(|e| e.action == "accept").unwrap();
    assert_eq!(accept.role, "professional");
    assert_eq!(accept.organisation, "luotsi-development");
    assert_eq!(accept.purpose, CARE);
    assert!(
        accept.citizen.starts_with('h'),
        "the citizen's pseudonym: {accept:?}"
    );
    assert!(
        !accept.citizen.contains("131052"),
        "never the identity code"
    );
    assert!(accept.source.starts_with("127.0.0.1:"), "{accept:?}");
    assert!(accept.at.is_some());
    // Reading the log was logged (the first read is in the second).
    let second = county.access_log().await;
    assert!(
        second
            .iter()
            .any(|e| e.action == "read_access_log" && e.subject == "auditor")
    );

    // A refused call writes nothing to the log.
    let before = county.access_log().await.len();
    let err = county.try_accept("suu-hh-1", &queued).await.unwrap_err();
    assert_ne!(err.code(), Code::Ok);
    let channel = county.channel().await;
    let b = token(Role::Professional, "suu-hh-2");
    WorkServiceClient::new(channel)
        .complete_case(authorized(
            pb::CompleteCaseRequest {
                professional_id: "suu-hh-1".into(),
                case_id: c.into(),
                outcome: pb::Outcome::ResolvedAtFirstContact as i32,
                purpose: CARE,
            },
            &b,
        ))
        .await
        .unwrap_err();
    let after = county.access_log().await;
    // Only the log reads themselves were added (one per read).
    assert_eq!(after.len(), before + 1, "{:?}", &after[before..]);
    assert_eq!(after.last().unwrap().action, "read_access_log");

    // The citizen's own log, by identity code.
    let t = token(Role::Ops, "auditor");
    let theirs = AccessLogServiceClient::new(county.channel().await)
        .read_access_log(authorized(
            pb::ReadAccessLogRequest {
                from: Some(prost_types::Timestamp::default()),
                citizen_identity_code: "131052-308T".into(),
                purpose: pb::PurposeOfUse::CitizenRequest as i32,
                ..Default::default()
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(!theirs.is_empty());
    assert!(
        theirs.iter().all(|e| e.case_id == c),
        "only this citizen's case"
    );
}

#[tokio::test]
async fn the_board_needs_a_supervisor_or_ops_and_reflection_is_off_by_default() {
    // The example (development) configuration switches reflection on; the default is off.
    assert!(!luotsi::config::ServerConfig::default().reflection);
    let county = TestCounty::start_with(|c| c.server.reflection = false).await;
    assert_eq!(county.http_get_anonymous("/api/board").await.0, 401);
    assert_eq!(county.http_get_anonymous("/healthz").await.0, 200);
    assert_eq!(county.http_get_anonymous("/metrics").await.0, 200);
    assert_eq!(
        county.http_get_anonymous("/").await.0,
        200,
        "the page, without figures"
    );
    let (status, _) = harness::http_get(
        county.http_addr(),
        "/api/board",
        Some(&token(Role::Professional, "suu-hh-1")),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = harness::http_get(
        county.http_addr(),
        "/api/board",
        Some(&token(Role::Ops, "ops")),
    )
    .await;
    assert_eq!(status, 200);
    // Server reflection is off unless configured.
    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
            county.channel().await,
        );
    let req = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    let r = reflection
        .server_reflection_info(tokio_stream::iter([req]))
        .await;
    assert_eq!(r.unwrap_err().code(), Code::Unimplemented);
}

/// TLS on both ports with the development CA; systems by client certificate.
#[tokio::test]
async fn tls_and_client_certificates_identify_systems() {
    let county = TestCounty::start_with(|c| {
        c.tls.plaintext_on_loopback = false;
        c.auth.clients.insert(
            "asiointi.example.fi".into(),
            vec!["citizen-frontend".into()],
        );
    })
    .await;
    let dev = harness::dev();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, pem).unwrap();
        p
    };
    let (cert, key) = dev.client_certificate("asiointi.example.fi").unwrap();
    let (cert, key) = (write("c.pem", &cert), write("k.pem", &key));
    let (stranger, stranger_key) = dev.client_certificate("unknown-system").unwrap();
    let (stranger, stranger_key) = (write("s.pem", &stranger), write("sk.pem", &stranger_key));
    let addr = format!("https://{}", county.grpc_addr());
    let ca = dev.ca_file();
    let connect = |client_cert| {
        let (addr, ca) = (addr.clone(), ca.clone());
        async move {
            luotsi::client::connect(&luotsi::client::Target {
                addr: &addr,
                ca: Some(&ca),
                client_cert,
            })
            .await
        }
    };
    // The system's certificate alone is its credential.
    let system = connect(Some((cert.as_path(), key.as_path())))
        .await
        .unwrap();
    let answer = ContactServiceClient::new(system)
        .submit_contact(dental(pb::Channel::EService, "mtls-1"))
        .await
        .expect("submitted with a client certificate")
        .into_inner();
    assert!(!answer.case_access_token.is_empty());
    // A certificate mapped to no role, or none and no token: refused.
    let unknown = connect(Some((stranger.as_path(), stranger_key.as_path())))
        .await
        .unwrap();
    let err = ContactServiceClient::new(unknown)
        .submit_contact(dental(pb::Channel::EService, "mtls-2"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(
        err.message().contains("unknown-system"),
        "{}",
        err.message()
    );
    let bare = connect(None).await.unwrap();
    let err = ContactServiceClient::new(bare.clone())
        .submit_contact(dental(pb::Channel::EService, "mtls-3"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // A person's token over TLS works without a certificate.
    let ok = SupervisorServiceClient::new(bare)
        .list_queues(authorized(
            pb::ListQueuesRequest::default(),
            &token(Role::Ops, "ops"),
        ))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    // Plain text to a TLS port gets nowhere.
    let plain = luotsi::client::connect(&luotsi::client::Target {
        addr: &format!("http://{}", county.grpc_addr()),
        ..Default::default()
    })
    .await;
    if let Ok(ch) = plain {
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            ContactServiceClient::new(ch).classify(authorized(
                pb::ClassifyRequest::default(),
                &token(Role::CitizenFrontend, "x"),
            )),
        )
        .await;
        assert!(!matches!(r, Ok(Ok(_))), "plain text answered: {r:?}");
    }
    // The HTTP port speaks TLS too.
    let (status, body) = https_get(county.http_addr(), "/healthz", &ca).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut plain = tokio::net::TcpStream::connect(county.http_addr())
            .await
            .unwrap();
        plain
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut raw)).await;
        assert!(
            !String::from_utf8_lossy(&raw).contains(" 200 "),
            "no plain HTTP on a TLS port"
        );
    }
}

/// An HTTP/1.1 GET over TLS, trusting `ca`: status and body.
async fn https_get(addr: std::net::SocketAddr, path: &str, ca: &std::path::Path) -> (u16, String) {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    luotsi::tls::install_crypto();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("a TLS handshake with the development CA");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Tokens from a real OpenID Connect provider, verified by discovery.
#[tokio::test]
async fn tokens_from_a_real_openid_connect_provider_are_verified_by_discovery() {
    crate::web::node_modules();
    let provider = crate::oidc::Provider::start(&[
        (
            "nurse-app",
            serde_json::json!({"roles": ["professional"], "professional_id": "suu-hh-1", "org": "siun-sote"}),
        ),
        (
            "supervisor-app",
            serde_json::json!({"roles": "supervisor", "teams": ["suunterveys"]}),
        ),
        (
            "frontend-app",
            serde_json::json!({"roles": ["citizen-frontend"]}),
        ),
        ("nobody-app", serde_json::json!({"roles": ["visitor"]})),
    ]);
    let issuer = provider.issuer.clone();
    let key_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        key_dir.path().join("data.key"),
        "fedcba9876543210".repeat(4),
    )
    .unwrap();
    let county = TestCounty::start_with(|c| {
        c.auth.issuer = Some(issuer);
        c.auth.audience = "urn:luotsi:api".into();
        // Production needs keys of its own.
        c.pseudonym_key = Some(luotsi::secret::Secret::new("0123456789abcdef".repeat(4)));
        c.data_key_file = Some(key_dir.path().join("data.key"));
    })
    .await;
    let channel = county.channel().await;
    let nurse = provider.token("nurse-app").await;
    let frontend = provider.token("frontend-app").await;
    let supervisor = provider.token("supervisor-app").await;

    let answer = ContactServiceClient::new(channel.clone())
        .submit_contact(authorized(
            dental(pb::Channel::EService, "oidc-1"),
            &frontend,
        ))
        .await
        .expect("the provider's front-end token works")
        .into_inner();
    let mut work = WorkServiceClient::new(channel.clone());
    work.set_presence(authorized(
        pb::SetPresenceRequest {
            professional_id: "suu-hh-1".into(),
            presence: pb::Presence::Available as i32,
            capacities: vec![],
        },
        &nurse,
    ))
    .await
    .expect("the nurse's token names suu-hh-1");
    let err = work
        .set_presence(authorized(
            pb::SetPresenceRequest {
                professional_id: "suu-hh-2".into(),
                presence: pb::Presence::Available as i32,
                capacities: vec![],
            },
            &nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let queued = SupervisorServiceClient::new(channel.clone())
        .list_queued_cases(authorized(
            pb::ListQueuedCasesRequest {
                team_id: "suunterveys".into(),
                purpose: SUPERVISION,
                ..Default::default()
            },
            &supervisor,
        ))
        .await
        .expect("the supervisor of the team")
        .into_inner();
    assert!(
        queued.cases.iter().any(|c| c.case_id == answer.case_id),
        "{queued:?}"
    );
    let err = SupervisorServiceClient::new(channel.clone())
        .list_queued_cases(authorized(
            pb::ListQueuedCasesRequest {
                team_id: "etela".into(),
                purpose: SUPERVISION,
                ..Default::default()
            },
            &supervisor,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let nobody = provider.token("nobody-app").await;
    let err = ContactServiceClient::new(channel.clone())
        .classify(authorized(pb::ClassifyRequest::default(), &nobody))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // A key id the provider does not publish: the keys are fetched again, then refused.
    let unknown = {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let now = jsonwebtoken::get_current_timestamp();
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("rotated-away".into());
        let claims = serde_json::json!({"iss": provider.issuer, "aud": "urn:luotsi:api",
            "sub": "x", "exp": now + 600, "roles": ["ops"]});
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ec_pem(key.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let err = ContactServiceClient::new(channel.clone())
        .classify(authorized(pb::ClassifyRequest::default(), &unknown))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("unknown key"), "{}", err.message());
    // The development issuer's tokens mean nothing once a real issuer is configured.
    let dev = token(Role::Ops, "ops");
    let err = ContactServiceClient::new(channel)
        .classify(authorized(pb::ClassifyRequest::default(), &dev))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
}
