//! An instance's life: everything it starts in the background stops when it stops, on the
//! signal and not by the bound, whether its Redis answers or not. Its own test binary beside the
//! service tests, sharing their harness.

#[allow(dead_code)]
#[path = "service/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::RedisServer;
use luotsi::app::App;

async fn running_instance(redis: &RedisServer) -> App {
    let mut app = App::start(harness::config(), &redis.url())
        .await
        .expect("starts");
    app.reload_on_sighup().expect("SIGHUP handler");
    // Let every loop get to its first wait: a read of the board, a reaper round, a subscription.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app
}

#[tokio::test]
async fn stopping_an_instance_ends_every_background_loop_on_the_signal() {
    let redis = RedisServer::start();
    let app = running_instance(&redis).await;
    let started = Instant::now();
    let stopped = app.stop().await;
    assert!(stopped.is_clean(), "{stopped:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "promptly");
}

#[tokio::test]
async fn an_instance_whose_redis_is_gone_still_stops_on_the_signal() {
    let mut redis = RedisServer::start();
    let app = running_instance(&redis).await;
    redis.stop();
    // The loops now fail and retry: the board goes stale, the listener reconnects.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let stopped = app.stop().await;
    assert!(stopped.is_clean(), "{stopped:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "promptly");
}

#[tokio::test]
async fn an_offers_stream_closed_just_before_the_stop_is_still_disconnected() {
    let redis = RedisServer::start();
    let app = running_instance(&redis).await;
    let state = app.state().clone();
    let config = state.config();
    let (team, member) = config.county.member("suu-hh-1").expect("configured");

    // Available through the public API, then connected as an Offers stream would be.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stopping = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(luotsi::server::serve(
        state.clone(),
        listener,
        stopping.clone().cancelled_owned(),
    ));
    let mut work =
        luotsi::pb::work_service_client::WorkServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("serves");
    work.set_presence(luotsi::client::authorized(
        luotsi::pb::SetPresenceRequest {
            professional_id: member.id.clone(),
            presence: luotsi::pb::Presence::Available as i32,
            capacities: vec![],
        },
        &harness::token(luotsi::auth::Role::Professional, &member.id),
    ))
    .await
    .expect("presence set");
    drop(work);
    stopping.cancel();
    server.await.unwrap().expect("server stopped");
    let offers = state
        .dispatcher
        .connect(member, &team.id)
        .await
        .expect("connected");
    let available = || async {
        let board = luotsi::board::read_board(&state.store, &state.config(), &state.metrics)
            .await
            .expect("board read");
        let team = board.teams.iter().find(|t| t.team_id == team.id).unwrap();
        let staff = team.staff.iter();
        staff
            .filter(|s| s.profession == member.profession.code())
            .map(|s| s.available)
            .sum::<u32>()
    };
    assert_eq!(available().await, 1, "connected and available");

    // The stream closes and the instance stops at once: the disconnect is not lost.
    drop(offers);
    let stopped = app.stop().await;
    assert!(stopped.is_clean(), "{stopped:?}");
    assert_eq!(
        available().await,
        0,
        "disconnected before the stop returned"
    );
}
