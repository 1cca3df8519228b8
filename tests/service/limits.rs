//! Abuse limits: a deadline on every unary call, caps on open streams, a rate per caller, and
//! malformed messages refused as the caller's mistake. Each refusal leaves other callers
//! served.

use std::time::Duration;

use bytes::{Buf, BufMut};
use luotsi::auth::Role;
use luotsi::client::authorized;
use luotsi::config::RateLimit;
use luotsi::pb;
use luotsi::pb::contact_service_client::ContactServiceClient;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Code, Status};

use crate::county::{TestCounty, WAIT};
use crate::harness;
use crate::support::*;

#[tokio::test]
async fn a_unary_call_stuck_on_a_frozen_redis_ends_at_its_deadline_and_streams_are_not_cut() {
    let county = TestCounty::start_with(|c| c.limits.call_timeout_ms = 400).await;
    let case = county.submit(dental(pb::Channel::Chat, "before")).await;
    let mut watch = county.watch(&case).await;
    watch.message().await.expect("the first update");

    county.freeze_redis();
    let err = county
        .try_submit(dental(pb::Channel::Chat, "frozen"))
        .await
        .expect_err("no answer from a frozen Redis");
    county.thaw_redis();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(
        err.message().contains("limits.call_timeout_ms"),
        "{}",
        err.message()
    );

    // The watch opened before has lived through several deadlines, and still tells of a change.
    county.go_online("suu-hh-1").await;
    let offer = county.next_offer("suu-hh-1").await;
    county.accept("suu-hh-1", &offer).await;
    let update = tokio::time::timeout(WAIT, async {
        loop {
            let u = watch
                .message()
                .await
                .expect("the stream is open")
                .expect("an update");
            if u.status == pb::CaseStatus::InProgress as i32 {
                return u;
            }
        }
    })
    .await
    .expect("the accepted case is streamed");
    assert_eq!(update.professional_id, "suu-hh-1");
}

#[tokio::test]
async fn a_caller_over_its_rate_is_refused_with_a_retry_hint_and_others_are_served() {
    let county = TestCounty::start_with(|c| {
        c.limits.rate = RateLimit {
            per_second: 1,
            burst: 2,
        }
    })
    .await;
    let mut refused = None;
    for _ in 0..10 {
        if let Err(e) = county
            .try_set_presence("suu-hh-1", pb::Presence::Available)
            .await
        {
            refused = Some(e);
            break;
        }
    }
    let err = refused.expect("ten calls at once are over one a second with a burst of two");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("limits.rate"), "{}", err.message());
    let hint: u64 = err
        .metadata()
        .get("retry-after-ms")
        .expect("a retry hint")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(hint > 0);
    assert!(
        tonic_types::StatusExt::get_details_retry_info(&err).is_some(),
        "google.rpc.RetryInfo"
    );

    // Another professional, and the front end (its own role's rate), are not slowed down.
    county
        .try_set_presence("suu-hl-1", pb::Presence::Available)
        .await
        .expect("another caller is served");
    county.submit(dental(pb::Channel::Chat, "unaffected")).await;
    // Health checks are never limited.
    for _ in 0..10 {
        assert_eq!(county.health("").await, 1, "SERVING");
    }
}

#[tokio::test]
async fn streams_beyond_a_callers_cap_are_refused_until_one_closes_and_others_can_open() {
    let county = TestCounty::start_with(|c| c.limits.streams_per_caller = 2).await;
    let case = county.submit(dental(pb::Channel::Chat, "watched")).await;
    let first = county.watch(&case).await;
    let _second = county.watch(&case).await;
    let err = county.try_watch(&case).await.expect_err("a third stream");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("limits.streams_per_caller"),
        "{}",
        err.message()
    );

    // Another supervisor watches the same case.
    let mut other = ContactServiceClient::new(county.channel().await);
    let token = harness::supervisor_token("sv-other", &["*"]);
    other
        .watch_case(authorized(watch_request(&case.case_id), &token))
        .await
        .expect("another caller is unaffected");

    // A closed stream gives its place back.
    drop(first);
    tokio::time::timeout(WAIT, async {
        while county.try_watch(&case).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the place of a closed stream is free again");
}

#[tokio::test]
async fn watch_case_streams_on_one_case_are_capped_whoever_holds_them() {
    let county = TestCounty::start_with(|c| c.limits.watchers_per_case = 2).await;
    let case = county.submit(dental(pb::Channel::Chat, "popular")).await;
    let other_case = county.submit(dental(pb::Channel::Chat, "quiet")).await;
    let _a = county.watch(&case).await;
    let _b = county.watch(&case).await;
    let mut other = ContactServiceClient::new(county.channel().await);
    let token = harness::supervisor_token("sv-other", &["*"]);
    let err = other
        .watch_case(authorized(watch_request(&case.case_id), &token))
        .await
        .expect_err("a third watcher of the case");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("limits.watchers_per_case"),
        "{}",
        err.message()
    );
    other
        .watch_case(authorized(watch_request(&other_case.case_id), &token))
        .await
        .expect("another case is watched");
}

#[tokio::test]
async fn a_connection_at_its_stream_limit_waits_and_other_connections_are_served() {
    let county = TestCounty::start_with(|c| c.limits.streams_per_connection = 2).await;
    let case = county.submit(dental(pb::Channel::Chat, "busy-line")).await;
    let token = harness::supervisor_token("sv-line", &["*"]);
    let mut line = ContactServiceClient::new(county.channel().await);
    let first = line
        .watch_case(authorized(watch_request(&case.case_id), &token))
        .await
        .expect("first stream");
    let _second = line
        .watch_case(authorized(watch_request(&case.case_id), &token))
        .await
        .expect("second stream");
    let mut third = std::pin::pin!(line.get_case(authorized(get_request(&case.case_id), &token)));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut third)
            .await
            .is_err(),
        "a third call on a connection with two open streams waits"
    );
    let mut elsewhere = ContactServiceClient::new(county.channel().await);
    elsewhere
        .get_case(authorized(get_request(&case.case_id), &token))
        .await
        .expect("another connection is served");
    drop(first);
    tokio::time::timeout(WAIT, third)
        .await
        .expect("the waiting call goes through once a stream closes")
        .expect("answered");
}

#[tokio::test]
async fn a_malformed_message_or_invalid_utf8_is_invalid_argument_and_writes_nothing() {
    let county = TestCounty::start().await;
    let token = harness::token(Role::CitizenFrontend, "e-service");
    let before = county.stored();
    let submit = PathAndQuery::from_static("/luotsi.v1.ContactService/SubmitContact");
    let cases: [(&str, Vec<u8>); 3] = [
        // text (field 4) claims five bytes and brings one.
        ("truncated", vec![0x22, 0x05, b'a']),
        // A tag that is no varint.
        ("bad tag", vec![0xff; 11]),
        // channel = CHAT, idempotency_key "k", text = 0xff 0xfe: not UTF-8.
        (
            "not UTF-8",
            vec![0x08, 0x02, 0x12, 0x01, b'k', 0x22, 0x02, 0xff, 0xfe],
        ),
    ];
    for (what, bytes) in cases {
        let mut grpc = tonic::client::Grpc::new(county.channel().await);
        grpc.ready().await.expect("ready");
        let err = grpc
            .unary(authorized(bytes, &token), submit.clone(), RawCodec)
            .await
            .expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        assert!(
            err.message().starts_with("not a valid protobuf message"),
            "{what}: {}",
            err.message()
        );
    }
    assert!(county.stored() == before, "nothing written");
}

fn watch_request(case_id: &str) -> pb::WatchCaseRequest {
    pb::WatchCaseRequest {
        case_id: case_id.into(),
        purpose: pb::PurposeOfUse::Supervision as i32,
        case_access_token: String::new(),
    }
}

fn get_request(case_id: &str) -> pb::GetCaseRequest {
    pb::GetCaseRequest {
        case_id: case_id.into(),
        purpose: pb::PurposeOfUse::Supervision as i32,
        case_access_token: String::new(),
    }
}

/// Sends the bytes it is given as the message, whatever they are.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = buf.chunk().to_vec();
        buf.advance(bytes.len());
        Ok(Some(bytes))
    }
}
