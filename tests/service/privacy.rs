//! Personal data never reaches the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use luotsi::pb;

use crate::harness::{Luotsi, RedisServer};
use crate::support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread: every task of the service runs here, under this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn logs_carry_no_personal_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("luotsi=trace,info"))
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut offers = go_online(&svc, "suu-hh-1").await;
    let mut contact = svc.contact().await;
    let mut req = dental(pb::Channel::Phone, "privacy");
    req.text = "Minulla on kova hammassärky, olen Maija Meikäläinen".into();
    let citizen = req.citizen.as_mut().unwrap();
    citizen.identity_code = "010101A123N".into();
    citizen.callback_number = "050 765 4321".into();
    let answer = contact
        .submit_contact(req.clone())
        .await
        .unwrap()
        .into_inner();
    let mut bad = req.clone();
    bad.idempotency_key = "privacy-bad".into();
    bad.citizen.as_mut().unwrap().identity_code = "010101A123X".into();
    assert!(contact.submit_contact(bad).await.is_err());
    let o = next_offer(&mut offers, Duration::from_secs(5))
        .await
        .expect("offer");
    let mut work = svc.work().await;
    work.accept_offer(pb::AcceptOfferRequest {
        professional_id: "suu-hh-1".into(),
        case_id: o.case_id.clone(),
    })
    .await
    .unwrap();
    work.complete_case(pb::CompleteCaseRequest {
        professional_id: "suu-hh-1".into(),
        case_id: o.case_id,
        outcome: pb::Outcome::FollowUpBooked as i32,
    })
    .await
    .unwrap();
    svc.stop().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains(&answer.case_id),
        "the logs do record what happened:\n{logs}"
    );
    for secret in [
        "010101A123",
        "010101",
        "050 765",
        "+35850765",
        "765 4321",
        "Meikäläinen",
        "hammassärky",
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into the logs:\n{logs}"
        );
    }
}
