//! Encryption at rest and crypto-shredding, on the virtual clock (its own test binary: the whole
//! process runs on virtual time) against a real `redis-server` writing its append-only file.
//! While a case is open its words, call-back number and what staff wrote are nowhere in the
//! Redis files in clear; after it is completed and its day's data key has reached the end of
//! its retention the key is destroyed, the append-only file rewritten, and neither the words nor
//! the number, sealed or not, nor the key that sealed them is in anything under the directory.

#[allow(dead_code)]
#[path = "service/county.rs"]
mod county;
#[allow(dead_code)]
#[path = "service/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "service/support.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use county::TestCounty;
use luotsi::pb;

const HOUR: i64 = 3_600_000;

/// Every file under `dir`, read whole.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

/// The files under `dir` that hold `needle`.
fn holding(dir: &Path, needle: &str) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(name, _)| name)
        .collect()
}

fn hget(conn: &mut redis::Connection, key: &str, field: &str) -> Option<String> {
    redis::cmd("HGET").arg(key).arg(field).query(conn).unwrap()
}

/// Waits for Redis to finish rewriting its append-only file.
fn rewritten(conn: &mut redis::Connection) {
    for _ in 0..500 {
        let info: String = redis::cmd("INFO").arg("persistence").query(conn).unwrap();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the append-only file was not rewritten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_numbers_and_reasons_are_sealed_and_shredded_at_the_end_of_retention() {
    // Mon 2 Nov 2026 09:00 in Helsinki.
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-02T09:00:00+02:00")
        .unwrap()
        .timestamp_millis();
    luotsi::clock::set_virtual(t0);
    let county = TestCounty::start().await;
    let keys = county.keys().clone();
    let dir = county.redis_dir();
    let mut conn = county.redis();

    // A call-back whose words, number and the reasons staff give can each be recognised.
    let words = "Kurkkua kuristaa ja nieleminen sattuu, lämpöä 38,9 (merkki Vaahterakuja)";
    let number = "0407731234";
    let mut contact = support::cough(pb::Channel::Phone, "at-rest-1");
    contact.text = words.into();
    contact.citizen.as_mut().unwrap().callback_number = number.into();
    let case = county.submit(contact).await;
    county
        .supervisor("sv-anna")
        .set_urgency(
            &case,
            pb::Urgency::Urgent,
            "Omaisen soitto (merkki Koivukuja)",
        )
        .await;
    county.go_online("jns-sh-1").await;
    county.go_online("jns-sh-2").await;
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, case.case_id);
    county.accept("jns-sh-1", &case).await;
    county
        .transfer(
            "jns-sh-1",
            &case,
            "jns-sh-2",
            "Lääkärin arvio (merkki Pihlajakuja)",
        )
        .await;
    county.next_offer("jns-sh-2").await;
    let held = county.accept("jns-sh-2", &case).await;

    // The holder reads them in clear; supervisors' reasons too.
    assert_eq!(held.citizen_text, words);
    assert_eq!(held.callback_number, "+358407731234");
    let reasons = held.routing_reasons.join("\n");
    assert!(reasons.contains("merkki Koivukuja"), "{reasons}");
    assert!(reasons.contains("merkki Pihlajakuja"), "{reasons}");

    // Nothing under the Redis directory holds them in clear: the append-only file has been
    // written with every command so far (appendfsync always).
    let marks = [
        "Vaahterakuja",
        "Kurkkua kuristaa",
        "7731234",
        "Koivukuja",
        "Pihlajakuja",
    ];
    for mark in marks {
        assert_eq!(holding(&dir, mark), Vec::<String>::new(), "{mark} in clear");
    }
    // What is stored: sealed values naming their key, the day's and the month's keys wrapped.
    let sealed_text = hget(&mut conn, &keys.case_words(&case.case_id), "text").unwrap();
    assert!(sealed_text.starts_with("s1.w20261102."), "{sealed_text}");
    let sealed_number = hget(
        &mut conn,
        &keys.case_words(&case.case_id),
        "callback_number",
    )
    .unwrap();
    assert!(sealed_number.starts_with("s1.w20261102."));
    // The classification too: its evidence quotes the citizen's words.
    let sealed_class = hget(&mut conn, &keys.case_words(&case.case_id), "classification").unwrap();
    assert!(sealed_class.starts_with("s1.w20261102."));
    let evidence: Vec<String> = held
        .classification
        .as_ref()
        .unwrap()
        .evidence
        .iter()
        .filter(|e| e.kind == "word")
        .map(|e| e.detail.clone())
        .collect();
    assert!(
        !evidence.is_empty(),
        "the words that matched, for the holder"
    );
    for quoted in &evidence {
        assert_eq!(
            holding(&dir, quoted),
            Vec::<String>::new(),
            "{quoted} in clear"
        );
    }
    let day_key = hget(&mut conn, &keys.data_keys(), "w20261102").expect("the day's key");
    assert!(hget(&mut conn, &keys.data_keys(), "r202611").is_some());
    assert!(
        !holding(&dir, &sealed_text).is_empty(),
        "sealed, in the file"
    );
    let audit: String = redis::cmd("XREVRANGE")
        .arg(keys.audit())
        .arg("+")
        .arg("-")
        .query::<redis::Value>(&mut conn)
        .map(|v| format!("{v:?}"))
        .unwrap();
    assert!(audit.contains("{{s1.r202611."), "{audit}");

    // The key file replaced (`luotsi rewrap`): the data keys are wrapped again under the new
    // one, which then opens the case; the old file alone no longer unwraps them.
    let service = county.store();
    let new_file = luotsi::store::seal::Sealer::new(&luotsi::secret::Secret::new("n".repeat(64)));
    let rewrapped = service.clone().with_sealer(new_file.clone());
    assert_eq!(
        rewrapped.rewrap_data_keys(service.sealer()).await.unwrap(),
        2
    );
    assert_eq!(rewrapped.open_data_keys().await.unwrap(), 2);
    assert_eq!(
        rewrapped
            .load_case(&case.case_id)
            .await
            .unwrap()
            .text
            .as_deref(),
        Some(words)
    );
    let old_file = luotsi::store::seal::Sealer::new(&luotsi::secret::Secret::new(
        std::fs::read_to_string(harness::dev().dir().join("data-key")).unwrap(),
    ));
    assert_eq!(old_file.kek_id(), service.sealer().kek_id());
    let refused = service
        .clone()
        .with_sealer(old_file.clone())
        .open_data_keys()
        .await
        .unwrap_err();
    assert!(refused.to_string().contains(new_file.kek_id()), "{refused}");
    // And back, so that the running service's key file is the one in use again.
    assert_eq!(
        service
            .clone()
            .with_sealer(old_file)
            .rewrap_data_keys(&new_file)
            .await
            .unwrap(),
        2
    );

    // Completed: the words leave the case; the day's key is kept until the day is over.
    county.complete("jns-sh-2", &case).await;
    assert_eq!(
        hget(&mut conn, &keys.case_words(&case.case_id), "text"),
        None
    );
    let store = county.store();
    let kept = store.shred_keys(400).await.unwrap();
    assert!(kept.destroyed.is_empty(), "{kept:?}");

    // Another case of the same day stays open: the key lives on while it does.
    let open = county
        .submit(support::cough(pb::Channel::Phone, "at-rest-open"))
        .await;
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, open.case_id);
    county.accept("jns-sh-1", &open).await;
    luotsi::clock::set_virtual(t0 + 24 * HOUR);
    let held_open = store.shred_keys(400).await.unwrap();
    assert!(held_open.destroyed.is_empty(), "{held_open:?}");
    assert_eq!(held_open.held_open, 1);
    assert_eq!(
        store
            .load_case(&open.case_id)
            .await
            .unwrap()
            .text
            .as_deref(),
        Some("Olen ollut flunssassa viikon ja yskä ei hellitä"),
        "the open case's words open the next day"
    );
    // The citizen writes again about it the next day: the contact joins the case, its own
    // classification sealed with the new day's key, which the case now keeps alive too.
    let mut again = support::cough(pb::Channel::Phone, "at-rest-open-2");
    again.citizen.as_mut().unwrap().callback_number = support::number_for("at-rest-open");
    let joined = county.submit(again).await;
    assert!(joined.joined_existing_case);
    assert_eq!(joined.case_id, open.case_id);
    assert_eq!(
        hget(&mut conn, &keys.case(&open.case_id), "seal").as_deref(),
        Some("w20261102,w20261103")
    );
    let stored_class = hget(
        &mut conn,
        &keys.contact(&joined.contact_id),
        "classification",
    );
    assert!(stored_class.unwrap().starts_with("s1.w20261103."));
    let (_, class, was_joined) = store.contact(&joined.contact_id).await.unwrap();
    assert!(was_joined);
    let class: pb::Classification = prost::Message::decode(class.as_slice()).unwrap();
    assert!(
        !class.needs.is_empty(),
        "the joined contact's classification opens"
    );
    luotsi::clock::set_virtual(t0 + 50 * HOUR);
    let held_both = store.shred_keys(400).await.unwrap();
    assert!(held_both.destroyed.is_empty(), "{held_both:?}");
    assert_eq!(held_both.held_open, 2);
    county.complete("jns-sh-1", &open).await;

    // The days are over and nothing sealed with their keys is open: the keys are destroyed and
    // the append-only file rewritten.
    let mut shredded = store.shred_keys(400).await.unwrap();
    shredded.destroyed.sort();
    assert_eq!(shredded.destroyed, vec!["w20261102", "w20261103"]);
    assert!(shredded.rewrite_started);
    assert_eq!(hget(&mut conn, &keys.data_keys(), "w20261102"), None);
    rewritten(&mut conn);

    // Under the Redis directory now: no words or number in clear, no sealed copy of them, and no
    // copy of the destroyed key.
    for mark in marks {
        assert_eq!(holding(&dir, mark), Vec::<String>::new(), "{mark} in clear");
    }
    for (what, sealed) in [
        ("the sealed words", &sealed_text),
        ("the sealed number", &sealed_number),
        ("the wrapped day key", &day_key),
    ] {
        assert_eq!(holding(&dir, sealed), Vec::<String>::new(), "{what}");
    }
    // And a copy of the sealed words kept elsewhere can no longer be opened, even with the
    // key file in hand.
    let aad = format!("{}|text", case.case_id);
    assert_eq!(
        store.open_value(&aad, sealed_text.clone()).await.unwrap(),
        None
    );

    // A case open for more than a week moves to the current day's key, so its first day's key
    // goes though the case stays open.
    let long = county
        .submit(support::cough(pb::Channel::Phone, "at-rest-long"))
        .await;
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, long.case_id);
    county.accept("jns-sh-1", &long).await;
    assert_eq!(
        hget(&mut conn, &keys.case(&long.case_id), "seal").as_deref(),
        Some("w20261104")
    );
    luotsi::clock::set_virtual(t0 + 50 * HOUR + 6 * 24 * HOUR);
    let week = store.shred_keys(400).await.unwrap();
    assert_eq!((week.resealed, week.held_open), (0, 1), "{week:?}");
    luotsi::clock::set_virtual(t0 + 50 * HOUR + 8 * 24 * HOUR);
    let moved = store.shred_keys(400).await.unwrap();
    assert_eq!(moved.resealed, 1, "{moved:?}");
    assert_eq!(moved.destroyed, vec!["w20261104"]);
    assert_eq!(
        hget(&mut conn, &keys.case(&long.case_id), "seal").as_deref(),
        Some("w20261112")
    );
    assert!(
        hget(&mut conn, &keys.case_words(&long.case_id), "text")
            .unwrap()
            .starts_with("s1.w20261112.")
    );
    let reread = store.load_case(&long.case_id).await.unwrap();
    assert_eq!(
        reread.text.as_deref(),
        Some("Olen ollut flunssassa viikon ja yskä ei hellitä")
    );
    assert!(reread.callback_number.is_some());
    county.complete("jns-sh-1", &long).await;

    // The month's reasons key lives as long as the audit log (400 days after the month).
    assert!(hget(&mut conn, &keys.data_keys(), "r202611").is_some());
    let december = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .timestamp_millis();
    luotsi::clock::set_virtual(december + 399 * 24 * HOUR);
    let before = store.shred_keys(400).await.unwrap();
    assert!(
        !before.destroyed.contains(&"r202611".to_string()),
        "{before:?}"
    );
    assert!(hget(&mut conn, &keys.data_keys(), "r202611").is_some());
    luotsi::clock::set_virtual(december + 401 * 24 * HOUR);
    let reasons_gone = store.shred_keys(400).await.unwrap();
    assert!(
        reasons_gone.destroyed.contains(&"r202611".to_string()),
        "{reasons_gone:?}"
    );
    county.stop().await;
}
