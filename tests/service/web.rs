//! The browser side, for real: a gRPC-Web client from npm (Connect's gRPC-Web transport) calls
//! ContactService through CORS, and Debian's Chromium, driven by playwright-core, watches the
//! queue board change as contacts arrive and as Redis goes away and comes back.
//!
//! Needs Node.js with `tests/web/node_modules` (installed here with `npm ci` when missing) and
//! Chromium at /usr/bin/chromium (`apt-get install -y chromium`; `.ci/run` installs it).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use luotsi::pb;

use crate::county::TestCounty;
use crate::support::dental;

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web")
}

/// `npm ci` once per test run when the packages are not there yet.
pub fn node_modules() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        if web_dir().join("node_modules/playwright-core").exists()
            && web_dir()
                .join("node_modules/@connectrpc/connect-node")
                .exists()
            && web_dir().join("node_modules/oidc-provider").exists()
        {
            return;
        }
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(web_dir())
            .status()
            .expect("npm (Node.js) is needed for the browser tests");
        assert!(ok.success(), "npm ci in tests/web failed");
    });
}

fn artefact(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[tokio::test]
async fn a_grpc_web_client_from_npm_submits_through_cors() {
    node_modules();
    let county = TestCounty::start_with(|c| {
        c.server.cors_origins = vec!["https://asiointi.example.fi".into()];
    })
    .await;
    let descriptor = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(descriptor.path(), luotsi::pb::FILE_DESCRIPTOR_SET).unwrap();
    let base = format!("http://{}", county.grpc_addr());
    let path = descriptor.path().to_path_buf();
    let token = crate::harness::token(luotsi::auth::Role::CitizenFrontend, "asiointi");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(web_dir().join("grpc_web.mjs"))
            .arg(&base)
            .arg(&path)
            .arg("https://asiointi.example.fi")
            .arg(token)
            .current_dir(web_dir())
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "gRPC-Web client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(seen["classify_needs"][0], "oral_health", "{seen}");
    assert_eq!(seen["team_id"], "suunterveys", "{seen}");
    assert_eq!(
        seen["get_case_status"],
        pb::CaseStatus::Queued as i32,
        "{seen}"
    );
    assert_eq!(seen["anonymous_code"], 16, "UNAUTHENTICATED: {seen}");
    assert_eq!(seen["wrong_token_code"], 5, "NOT_FOUND: {seen}");
    assert_eq!(
        seen["get_case_reasons"], 0,
        "the citizen's view has no routing reasons: {seen}"
    );
    assert_eq!(seen["bad_request_code"], 3, "INVALID_ARGUMENT: {seen}");
    assert!(
        seen["bad_request_message"]
            .as_str()
            .unwrap()
            .starts_with("channel"),
        "{seen}"
    );
    assert_eq!(
        seen["bad_request_detail_types"][0], "google.rpc.BadRequest",
        "the field also travels as a detail over gRPC-Web: {seen}"
    );
    assert_eq!(
        seen["cors_allowed"], "https://asiointi.example.fi",
        "{seen}"
    );
    assert!(
        seen["cors_other"].is_null(),
        "other origins refused: {seen}"
    );
    // The case the browser client made is there for native gRPC clients too.
    let case_id = seen["case_id"].as_str().unwrap().to_string();
    let c = county.case(&case_id).await;
    assert_eq!(c.team_id, "suunterveys");
}

/// The Chromium puppet of `tests/web/board.mjs`.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Browser {
    fn start(base: &str) -> Self {
        assert!(
            Path::new(&std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into())).exists(),
            "Chromium is needed: apt-get install -y chromium"
        );
        let mut child = Command::new("node")
            .arg(web_dir().join("board.mjs"))
            .arg(base)
            .current_dir(web_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut b = Browser {
            child,
            stdin,
            stdout,
        };
        assert_eq!(b.answer(), "ready");
        b
    }

    fn answer(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("browser answers");
        line.trim().to_string()
    }

    /// Sends a command; panics unless the browser saw what was asked.
    async fn expect(&mut self, cmd: &str) {
        writeln!(self.stdin, "{cmd}").unwrap();
        let answer = tokio::task::block_in_place(|| self.answer());
        assert_eq!(answer, "ok", "browser: `{cmd}`");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_board_changes_live_in_chromium_and_survives_a_redis_restart() {
    node_modules();
    let mut county = TestCounty::start().await;
    let mut browser = Browser::start(&format!("http://{}", county.http_addr()));
    // Without a supervisor's token the page shows nothing but how to sign in.
    browser.expect("goto /").await;
    browser.expect("text access_token").await;
    let token = crate::harness::supervisor_token("board-wall", &["*"]);
    browser
        .expect(&format!("goto /board#access_token={token}"))
        .await;
    browser.expect("text Jonotilanne").await;
    browser.expect("depth suunterveys 0").await;
    browser.expect("risk suunterveys ok").await;

    // Contacts arrive over gRPC: the tile changes without a reload.
    for i in 0..3 {
        county
            .submit(dental(pb::Channel::EService, &format!("chromium-{i}")))
            .await;
    }
    browser.expect("depth suunterveys 3").await;
    browser
        .expect(&format!("shot {}", artefact("queue-board.png").display()))
        .await;

    // Redis goes away: the page says its figures are stale and keeps them.
    county.stop_redis();
    browser.expect("stale true").await;
    browser.expect("depth suunterveys 3").await;
    browser
        .expect(&format!(
            "shot {}",
            artefact("queue-board-stale.png").display()
        ))
        .await;
    county.start_redis_again();
    browser.expect("stale false").await;
    browser.expect("depth suunterveys 3").await;

    // Swedish and English boards.
    browser.expect("goto /?lang=sv").await;
    browser.expect("text Kösituation").await;
    browser.expect("goto /?lang=en").await;
    browser.expect("text Queues").await;
    drop(browser);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_nobody_looked_at_in_time_turns_its_tile_red_in_chromium() {
    node_modules();
    let county = TestCounty::start_with(|c| {
        c.triage.first_look_secs = luotsi::config::ChannelSecs {
            phone: 1,
            chat: 1,
            e_service: 1,
        }
    })
    .await;
    let mut browser = Browser::start(&format!("http://{}", county.http_addr()));
    let token = crate::harness::supervisor_token("board-wall", &["*"]);
    browser
        .expect(&format!("goto /board?lang=en#access_token={token}"))
        .await;
    browser.expect("look suunterveys 0").await;
    let c = county
        .submit(dental(pb::Channel::EService, "chromium-look"))
        .await;
    browser.expect("look suunterveys 1").await;
    browser.expect("risk suunterveys bad").await;
    browser.expect("text First look overdue: 1").await;
    browser
        .expect(&format!(
            "shot {}",
            artefact("queue-board-first-look.png").display()
        ))
        .await;
    county
        .confirm_triage(
            "suu-hh-1",
            &c,
            &[],
            pb::Urgency::Unspecified,
            pb::TriageReason::Unspecified,
        )
        .await;
    browser.expect("look suunterveys 0").await;
    drop(browser);
}

/// The board tells the truth, in three languages: a queue nobody signed in can take turns its
/// tile red; an offer not yet accepted shows as offered, not as waiting or nowhere; a queue row
/// counts free slots, not everybody signed in; the staff line names only the professions
/// someone is signed in for; the team's name is the county's name for it in the board's
/// language; a click on the team lists its waiting cases (routing facts only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_tells_the_truth_in_finnish_swedish_and_english_in_chromium() {
    node_modules();
    let county = TestCounty::start_with(|c| {
        let team = c
            .county
            .teams
            .iter_mut()
            .find(|t| t.id == "suunterveys")
            .unwrap();
        team.names.insert(
            luotsi::domain::Language::Swedish,
            "Munhälsovården, hela välfärdsområdet".into(),
        );
        team.names.insert(
            luotsi::domain::Language::English,
            "Oral health, the whole county".into(),
        );
    })
    .await;
    // Four weeks of history: 30 call-backs in this hour on each of the same weekdays, so the
    // forecast recommends someone for the hour.
    let now = luotsi::clock::now();
    let today = luotsi::domain::calendar::local_date(now);
    let hour = {
        use chrono::Timelike;
        now.with_timezone(&luotsi::domain::calendar::TZ).hour()
    };
    let mut conn = county.redis();
    for week in (1..=4u64).rev() {
        let start = luotsi::domain::calendar::local_time(
            today - chrono::Days::new(7 * week),
            chrono::NaiveTime::from_hms_opt(hour, 0, 0).unwrap(),
        )
        .timestamp_millis();
        for i in 0..30i64 {
            let _: String = redis::cmd("XADD")
                .arg(county.keys().stats())
                .arg(format!("{}-0", start + i * 60_000))
                .arg(&["k", "contact", "team", "suunterveys", "need", "oral_health"])
                .arg(&["joined", "0", "recontact", "0", "ch", "phone"])
                .query(&mut conn)
                .unwrap();
        }
    }
    let mut browser = Browser::start(&format!("http://{}", county.http_addr()));
    let token = crate::harness::supervisor_token("board-wall", &["*"]);
    browser
        .expect(&format!("goto /board?lang=en#access_token={token}"))
        .await;
    browser.expect("text Oral health, the whole county").await;
    // Today's chart: recommended for this hour from the forecast, nobody signed in yet.
    browser
        .expect("attr section[data-team=suunterveys]_svg.plan data-online-now 0")
        .await;
    browser.expect("text Recommended staff today").await;
    browser.expect("risk suunterveys ok").await;

    // A call-back request with nobody signed in: red, and the tile says why.
    let first = county.submit(dental(pb::Channel::Phone, "truth-1")).await;
    browser.expect("row suunterveys phone unstaffed true").await;
    browser.expect("risk suunterveys bad").await;
    browser
        .expect("text Waiting, and nobody signed in can take: Phone")
        .await;
    browser.expect("text Nobody signed in").await;

    // A dental nurse signs in for the phone only: the call is offered to her at once. It is
    // offered (not waiting), and she has no free phone slot left.
    county
        .go_online_with_capacity(
            "suu-hh-1",
            &[
                (pb::Channel::Phone, 1),
                (pb::Channel::Chat, 0),
                (pb::Channel::EService, 0),
            ],
        )
        .await;
    let offer = county.next_offer("suu-hh-1").await;
    assert_eq!(offer.case_id, first.case_id);
    browser.expect("row suunterveys phone offered 1").await;
    browser.expect("depth suunterveys 0").await;
    browser.expect("row suunterveys phone free 0").await;
    browser
        .expect("row suunterveys phone unstaffed false")
        .await;
    browser.expect("risk suunterveys ok").await;
    browser.expect("text dental nurse 1 busy").await;

    // A second call waits behind her: someone who can take it is signed in, so not red.
    county.submit(dental(pb::Channel::Phone, "truth-2")).await;
    county.accept("suu-hh-1", &offer).await;
    browser.expect("row suunterveys phone offered 0").await;
    browser.expect("depth suunterveys 1").await;
    browser
        .expect("row suunterveys phone unstaffed false")
        .await;
    browser.expect("risk suunterveys ok").await;
    browser
        .expect(&format!(
            "shot {}",
            artefact("board-truth-en.png").display()
        ))
        .await;

    // The team's waiting cases, one click away.
    browser.expect("click a.drill[data-team=suunterveys]").await;
    browser.expect("cases 1").await;
    browser.expect("text Waiting cases").await;
    browser
        .expect(&format!(
            "shot {}",
            artefact("board-truth-cases-en.png").display()
        ))
        .await;

    // Finnish and Swedish: the county's names, the same truths.
    browser.expect("goto /board?lang=fi").await;
    browser
        .expect("text Suun terveydenhuolto, koko maakunta")
        .await;
    browser
        .expect("attr section[data-team=suunterveys]_svg.plan data-online-now 1")
        .await;
    let (_, plans) = county
        .http_get("/api/board/staffing?team=suunterveys")
        .await;
    let plans: serde_json::Value = serde_json::from_str(&plans).unwrap();
    assert!(
        plans[0]["recommended"][hour as usize].as_u64().unwrap() >= 1,
        "{plans}"
    );
    browser.expect("text hammashoitaja 1 varattu").await;
    browser.expect("row suunterveys phone free 0").await;
    browser
        .expect(&format!(
            "shot {}",
            artefact("board-truth-fi.png").display()
        ))
        .await;
    browser.expect("goto /board?lang=sv").await;
    browser
        .expect("text Munhälsovården, hela välfärdsområdet")
        .await;
    browser.expect("text tandskötare 1 upptagen").await;
    browser.expect("click a.drill[data-team=suunterveys]").await;
    browser.expect("cases 1").await;
    browser.expect("text Väntande ärenden").await;
    browser
        .expect(&format!(
            "shot {}",
            artefact("board-truth-sv.png").display()
        ))
        .await;
    drop(browser);
}
