//! Two Luotsi instances sharing one Redis: many contacts, many professionals racing, and every
//! case assigned exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use luotsi::pb;

use crate::county::TestCounty;
use crate::support::*;

const CONTACTS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_assign_a_case_twice() {
    let county = Arc::new(TestCounty::start_instances(2).await);
    // Nurses and doctors of one team, split over the two instances.
    let pros = [
        ("jns-sh-1", 0),
        ("jns-sh-2", 1),
        ("jns-sh-3", 0),
        ("jns-lk-1", 1),
        ("jns-lk-2", 0),
    ];
    let assignments: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let mut workers = Vec::new();
    for (pro, instance) in pros {
        county.go_online_via(instance, pro).await;
        let county = county.clone();
        let assignments = assignments.clone();
        workers.push(tokio::spawn(async move {
            while let Some(offer) = county.offer_within(pro, Duration::from_secs(5)).await {
                // An offer made to me is mine to accept.
                let taken = county.accept(pro, &offer).await;
                assert_eq!(taken.professional_id, pro);
                assignments
                    .lock()
                    .unwrap()
                    .entry(offer.case_id.clone())
                    .or_default()
                    .push(pro.to_string());
                county.complete(pro, &offer).await;
            }
        }));
    }

    let mut submitters = Vec::new();
    for s in 0..8 {
        let county = county.clone();
        submitters.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (s..CONTACTS).step_by(8) {
                ids.push(county.submit_via(s % 2, contact_for(i)).await.case_id);
            }
            ids
        }));
    }
    let mut submitted = Vec::new();
    for s in submitters {
        submitted.extend(s.await.unwrap());
    }
    for w in workers {
        w.await.expect("worker ran without a double assignment");
    }

    let assignments = assignments.lock().unwrap().clone();
    assert_eq!(submitted.len(), CONTACTS);
    for id in &submitted {
        let who = assignments
            .get(id)
            .unwrap_or_else(|| panic!("case {id} was never assigned"));
        assert_eq!(who.len(), 1, "case {id} assigned to {who:?}");
    }
    assert_eq!(assignments.len(), CONTACTS);
    assert_eq!(county.depth("joensuu-keskus").await, 0);
    // Every professional's load is back to zero.
    let mut r = county.redis();
    for (pro, _) in pros {
        let loads: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(county.keys().professional(pro))
            .arg(&["load:phone", "load:chat", "load:e_service"])
            .query(&mut r)
            .unwrap();
        assert!(
            loads.iter().all(|l| l.unwrap_or(0) == 0),
            "{pro}: {loads:?}"
        );
    }
    let offers_out: i64 = redis::cmd("ZCARD")
        .arg(county.keys().offers())
        .query(&mut r)
        .unwrap();
    assert_eq!(offers_out, 0);
}

fn contact_for(i: usize) -> pb::SubmitContactRequest {
    let channel = [pb::Channel::EService, pb::Channel::Chat, pb::Channel::Phone][i % 3];
    contact(
        channel,
        &format!("scale-{i}"),
        "Kuumetta on ollut kolme päivää ja yskä pahenee, pitäisikö tulla näytille?",
        "acute_symptoms",
        "Joensuu",
    )
}
