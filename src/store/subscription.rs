//! Following the county's event channel. The scripts announce with `SPUBLISH` (sharded pub/sub,
//! Redis 7): on a cluster a message stays on the shard that owns the county's slot, and the
//! subscription (`SSUBSCRIBE`) is made on that shard's node. One path serves standalone Redis
//! too. A feed ends when its subscription may be gone — the connection dropped, the slot moved
//! to another node (a failover), or a probe in the county's slot went unanswered — and the
//! follower subscribes again, from a fresh view of the cluster.

use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::conn::Target;
use super::{ConnectError, Result, Store, StoreError};

/// How often a feed checks that the node it listens to still answers for the county's slot.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The county's events as they are announced, until the subscription is lost.
pub struct EventFeed {
    pushes: mpsc::UnboundedReceiver<PushInfo>,
    conn: FeedConn,
    /// A key of the county (the channel's own name): a probe's `EXISTS` goes to its slot.
    channel: String,
    probe: tokio::time::Interval,
}

enum FeedConn {
    Standalone(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Store {
    /// Subscribes to the county's event channel on a connection of its own. A Redis older than
    /// 7 (no sharded pub/sub) is refused saying so.
    pub async fn follow_events(&self) -> Result<EventFeed> {
        let channel = self.keys.events();
        let (tx, pushes) = mpsc::unbounded_channel();
        let subscribed = match self.target.as_ref() {
            Target::Standalone {
                client, timeouts, ..
            } => {
                // RESP3, so that the connection delivers messages as pushes beside replies.
                let info = client.get_connection_info().clone();
                let resp3 = info
                    .redis_settings()
                    .clone()
                    .set_protocol(redis::ProtocolVersion::RESP3);
                let config = redis::AsyncConnectionConfig::new()
                    .set_push_sender(tx)
                    .set_connection_timeout(Some(timeouts.connection))
                    .set_response_timeout(Some(timeouts.response));
                async {
                    let client = redis::Client::open(info.set_redis_settings(resp3))?;
                    let mut conn = client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?;
                    redis::cmd("SSUBSCRIBE")
                        .arg(&channel)
                        .exec_async(&mut conn)
                        .await?;
                    Ok(FeedConn::Standalone(conn))
                }
                .await
            }
            Target::Cluster { seeds, options, .. } => {
                async {
                    let mut conn = Target::cluster_with_pushes(seeds, options, tx).await?;
                    conn.ssubscribe(&channel).await?;
                    Ok(FeedConn::Cluster(conn))
                }
                .await
            }
        };
        let conn = subscribed.map_err(|e: redis::RedisError| {
            if e.code() == Some("ERR") && e.to_string().to_lowercase().contains("unknown command") {
                StoreError::Connect(ConnectError::Other {
                    url: self.shown.to_string(),
                    detail: "Redis 7 or later is needed: the county's events travel by sharded \
                             pub/sub (SPUBLISH, SSUBSCRIBE)"
                        .into(),
                })
            } else {
                StoreError::Redis(e)
            }
        })?;
        let mut probe = tokio::time::interval(PROBE_EVERY);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        probe.reset();
        Ok(EventFeed {
            pushes,
            conn,
            channel,
            probe,
        })
    }
}

impl EventFeed {
    /// The next event's payload; None once the subscription may be lost: follow again (and
    /// refresh what events would have told, since some may have been missed).
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            tokio::select! {
                push = self.pushes.recv() => {
                    let PushInfo { kind, data } = push?;
                    match kind {
                        PushKind::SMessage | PushKind::Message => {
                            if let Some(Value::BulkString(payload)) = data.into_iter().nth(1) {
                                return Some(payload);
                            }
                        }
                        // Redis ends a shard channel's subscribers when the slot leaves the node.
                        PushKind::SUnsubscribe | PushKind::Disconnection => return None,
                        _ => {}
                    }
                }
                _ = self.probe.tick() => {
                    if let Err(e) = self.probe().await {
                        tracing::debug!(error = %e, "event subscription probe failed");
                        return None;
                    }
                }
            }
        }
    }

    /// One `EXISTS` in the county's slot, on the subscription's own connection: a node that no
    /// longer answers, or no longer owns the slot, ends the feed.
    async fn probe(&mut self) -> redis::RedisResult<()> {
        let mut exists = redis::cmd("EXISTS");
        exists.arg(&self.channel);
        match &mut self.conn {
            FeedConn::Standalone(c) => c.req_packed_command(&exists).await?,
            FeedConn::Cluster(c) => c.req_packed_command(&exists).await?,
        };
        Ok(())
    }
}
