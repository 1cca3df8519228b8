//! Two Luotsi instances sharing one Redis: many contacts, many professionals racing, and every
//! case assigned exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use luotsi::pb;

use crate::harness::{Luotsi, RedisServer};
use crate::support::*;

const CONTACTS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_assign_a_case_twice() {
    let redis = RedisServer::start();
    let a = Arc::new(Luotsi::start(&redis).await);
    let b = Arc::new(Luotsi::start(&redis).await);
    // Nurses and doctors of one team, split over the two instances.
    let pros = [
        ("jns-sh-1", &a),
        ("jns-sh-2", &b),
        ("jns-sh-3", &a),
        ("jns-lk-1", &b),
        ("jns-lk-2", &a),
    ];
    let assignments: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let mut workers = Vec::new();
    for (pro, svc) in pros {
        let mut offers = go_online(svc, pro).await;
        let mut work = svc.work().await;
        let assignments = assignments.clone();
        workers.push(tokio::spawn(async move {
            while let Ok(Ok(Some(offer))) =
                tokio::time::timeout(Duration::from_secs(5), offers.message()).await
            {
                let taken = work
                    .accept_offer(pb::AcceptOfferRequest {
                        professional_id: pro.into(),
                        case_id: offer.case_id.clone(),
                    })
                    .await;
                let taken = taken
                    .expect("an offer made to me is mine to accept")
                    .into_inner();
                assert_eq!(taken.professional_id, pro);
                assignments
                    .lock()
                    .unwrap()
                    .entry(offer.case_id.clone())
                    .or_default()
                    .push(pro.to_string());
                work.complete_case(pb::CompleteCaseRequest {
                    professional_id: pro.into(),
                    case_id: offer.case_id,
                    outcome: pb::Outcome::ResolvedAtFirstContact as i32,
                })
                .await
                .expect("completed");
            }
        }));
    }

    let mut submitters = Vec::new();
    for s in 0..8 {
        let svc = if s % 2 == 0 { a.clone() } else { b.clone() };
        submitters.push(tokio::spawn(async move {
            let mut contact = svc.contact().await;
            let mut ids = Vec::new();
            for i in (s..CONTACTS).step_by(8) {
                let req = contact_for(i);
                ids.push(
                    contact
                        .submit_contact(req)
                        .await
                        .expect("submitted")
                        .into_inner()
                        .case_id,
                );
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
    assert_eq!(depth(&a, "joensuu-keskus").await, 0);
    // Every professional's load is back to zero.
    let mut r = redis.conn();
    for (pro, _) in pros {
        let loads: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(format!("lu:{{siun-sote}}:pro:{pro}"))
            .arg(&["load:phone", "load:chat", "load:e_service"])
            .query(&mut r)
            .unwrap();
        assert!(
            loads.iter().all(|l| l.unwrap_or(0) == 0),
            "{pro}: {loads:?}"
        );
    }
    let offers_out: i64 = redis::cmd("ZCARD")
        .arg("lu:{siun-sote}:offers")
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
