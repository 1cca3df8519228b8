//! Personal data never reaches the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use luotsi::pb;

use crate::county::TestCounty;
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

    let county = TestCounty::start().await;
    county.go_online("suu-hh-1").await;
    let mut req = dental(pb::Channel::Phone, "privacy");
    req.text = "Minulla on kova hammassärky, olen Maija Meikäläinen".into();
    let citizen = req.citizen.as_mut().unwrap();
    citizen.identity_code = "010101A123N".into();
    citizen.callback_number = "050 765 4321".into();
    let answer = county.submit(req.clone()).await;
    let mut bad = req.clone();
    bad.idempotency_key = "privacy-bad".into();
    bad.citizen.as_mut().unwrap().identity_code = "010101A123X".into();
    assert!(county.try_submit(bad).await.is_err());
    let o = county.next_offer("suu-hh-1").await;
    county.accept("suu-hh-1", &o).await;
    county
        .complete_with("suu-hh-1", &o, pb::Outcome::FollowUpBooked)
        .await;
    // Everything the service logs is in before the logs are read.
    county.stop().await;

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
