//! The store's connection to Redis, standalone or Redis Cluster, behind one type: every call of
//! the store works on both. On a cluster every command goes to the node that owns the county's
//! hash slot (the keys' `{<county>}` tag), and a command naming a key of another slot is refused
//! before it is sent. With `redis.wait_replicas`, a script (every state change is one) is
//! answered only after that many replicas have it (`WAIT`).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use super::connect::{self, ConnectError, ConnectOptions};

/// How many replicas must have a state change before it is answered, and how long to wait
/// for them (`redis.wait_replicas`, `redis.wait_timeout_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    pub replicas: u32,
    pub timeout: Duration,
}

impl Durability {
    /// Answered once the primary has it.
    pub const PRIMARY: Durability = Durability {
        replicas: 0,
        timeout: Duration::ZERO,
    };
}

/// Where the county's data lives, and how to open another connection to it.
#[derive(Clone)]
pub enum Target {
    Standalone {
        client: redis::Client,
        config: ConnectionManagerConfig,
        timeouts: crate::config::RedisTimeouts,
    },
    Cluster {
        client: ClusterClient,
        /// The same seeds speaking RESP3, for the event subscription's pushes.
        seeds: Vec<redis::ConnectionInfo>,
        options: ConnectOptions,
    },
}

/// One connection (multiplexed, shared by clones) to the county's Redis.
#[derive(Clone)]
pub struct Conn {
    inner: Inner,
    /// The county's slot on its primary: where every command goes on a cluster.
    home: Route,
    /// The county's key prefix, whose tag names the slot.
    prefix: String,
    durability: Durability,
}

#[derive(Clone)]
enum Inner {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Target {
    /// A standalone Redis at `url`, checked as [`connect::client`] checks it.
    pub fn standalone(url: &str, options: &ConnectOptions) -> Result<Target, ConnectError> {
        let client = connect::client(url, options.ca_file.as_deref())?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500))
            .set_response_timeout(Some(options.timeouts.response))
            .set_connection_timeout(Some(options.timeouts.connection));
        Ok(Target::Standalone {
            client,
            config,
            timeouts: options.timeouts,
        })
    }

    /// A Redis Cluster reached through `seeds` (any of its nodes; the others are found from
    /// them). Each seed is checked as a standalone URL is; they share one user and password.
    pub fn cluster(seeds: &[String], options: &ConnectOptions) -> Result<Target, ConnectError> {
        let Some(first) = seeds.first() else {
            return Err(ConnectError::Other {
                url: String::new(),
                detail: "redis.cluster names no node".into(),
            });
        };
        let mut infos = Vec::with_capacity(seeds.len());
        for url in seeds {
            let client = connect::client(url, options.ca_file.as_deref())?;
            infos.push(client.get_connection_info().clone());
        }
        let mut builder = ClusterClientBuilder::new(infos.clone())
            .connection_timeout(options.timeouts.connection)
            .response_timeout(options.timeouts.response);
        if let Some(ca) = &options.ca_file {
            let root = std::fs::read(ca).map_err(|source| ConnectError::CaFile {
                url: connect::redacted(first),
                path: ca.display().to_string(),
                source,
            })?;
            builder = builder.certs(redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root),
            });
        }
        let client = builder.build().map_err(|e| connect::explain(first, &e))?;
        Ok(Target::Cluster {
            client,
            seeds: infos,
            options: options.clone(),
        })
    }

    /// A new connection; `shown` names the target in an error, without its password.
    pub async fn connect(
        &self,
        prefix: &str,
        durability: Durability,
        shown: &str,
    ) -> Result<Conn, ConnectError> {
        let inner = match self {
            Target::Standalone { client, config, .. } => {
                ConnectionManager::new_with_config(client.clone(), config.clone())
                    .await
                    .map(Inner::Standalone)
            }
            Target::Cluster { client, .. } => {
                client.get_async_connection().await.map(Inner::Cluster)
            }
        }
        .map_err(|e| connect::explain(shown, &e))?;
        Ok(Conn {
            inner,
            home: Route::with_key(prefix, SlotAddr::Master),
            prefix: prefix.to_string(),
            durability,
        })
    }

    /// A RESP3 cluster connection whose pushes (messages, disconnections) go to `pushes`.
    pub(super) async fn cluster_with_pushes(
        seeds: &[redis::ConnectionInfo],
        options: &ConnectOptions,
        pushes: tokio::sync::mpsc::UnboundedSender<redis::PushInfo>,
    ) -> RedisResult<ClusterConnection> {
        let mut builder = ClusterClientBuilder::new(seeds.to_vec())
            .use_protocol(redis::ProtocolVersion::RESP3)
            .connection_timeout(options.timeouts.connection)
            .response_timeout(options.timeouts.response)
            .push_sender(pushes);
        if let Some(ca) = &options.ca_file {
            let root = std::fs::read(ca)?;
            builder = builder.certs(redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root),
            });
        }
        builder.build()?.get_async_connection().await
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Target::Cluster { .. })
    }
}

impl Conn {
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// Refuses a command naming a key outside the county's slot: on a cluster it would run on
    /// another node, outside the county's scripts' atomicity.
    fn check_slot(&self, cmd: &Cmd) -> RedisResult<()> {
        let home = Slot::for_key(&self.prefix);
        if keys_of(cmd)
            .into_iter()
            .all(|key| Slot::for_key(key) == home)
        {
            Ok(())
        } else {
            Err(RedisError::from((
                ErrorKind::Client,
                "a key outside the county's hash slot",
            )))
        }
    }

    /// Runs a script followed by `WAIT`, pipelined: both go on one connection in one write,
    /// so `WAIT` counts the replicas that have this script's change (a `WAIT` sent after a
    /// reconnection would count those of a connection that changed nothing). A cluster routes
    /// the pair to the county's primary.
    async fn script_then_wait(&mut self, script: &Cmd) -> RedisResult<Value> {
        let Durability { replicas, timeout } = self.durability;
        let mut pipe = redis::pipe();
        pipe.add_command(script.clone())
            .cmd("WAIT")
            .arg(replicas)
            .arg(timeout.as_millis() as u64);
        let mut replies = self.req_packed_commands(&pipe, 0, 2).await?.into_iter();
        let (Some(value), Some(acked)) = (replies.next(), replies.next()) else {
            return Err(RedisError::from((ErrorKind::Client, "no reply to WAIT")));
        };
        if matches!(value, Value::ServerError(_)) {
            // Nothing changed (or the script must be loaded first): no replica to wait for.
            return Ok(value);
        }
        let acked: u32 = redis::from_redis_value(acked)?;
        if acked < replicas {
            // A timed-out I/O error: retryable, so the call fails UNAVAILABLE and the client's
            // retry (same idempotency key) gets the first answer once replicas have it.
            return Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the change reached {acked} of {replicas} replicas in time (WAIT)"),
            )));
        }
        Ok(value)
    }
}

/// The keys a command names, as far as the store's commands go: a script's declared keys, none
/// for the commands without a key, else the first argument (every other command the store
/// sends outside a script names one key).
fn keys_of(cmd: &Cmd) -> Vec<&[u8]> {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .map(|a| match a {
            redis::Arg::Simple(b) => b,
            _ => &b""[..],
        })
        .collect();
    let name = args
        .first()
        .map(|n| n.to_ascii_uppercase())
        .unwrap_or_default();
    let keys: &[&[u8]] = match name.as_slice() {
        b"EVALSHA" | b"EVAL" => {
            let n = args
                .get(2)
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            args.get(3..3 + n).unwrap_or(&[])
        }
        b"PING" | b"WAIT" | b"TIME" | b"SCRIPT" | b"HELLO" | b"CLUSTER" => &[],
        _ => args.get(1..2).unwrap_or(&[]),
    };
    keys.to_vec()
}

/// A script: the one kind of command that changes state.
fn is_script(cmd: &Cmd) -> bool {
    matches!(
        cmd.args_iter().next(),
        Some(redis::Arg::Simple(name))
            if name.eq_ignore_ascii_case(b"EVALSHA") || name.eq_ignore_ascii_case(b"EVAL")
    )
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            if self.durability.replicas > 0 && is_script(cmd) {
                return self.script_then_wait(cmd).await;
            }
            if matches!(self.inner, Inner::Cluster(_)) {
                self.check_slot(cmd)?;
            }
            match &mut self.inner {
                Inner::Standalone(c) => c.req_packed_command(cmd).await,
                Inner::Cluster(c) => {
                    let home =
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(self.home));
                    c.route_command(cmd.clone(), home).await
                }
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            if matches!(self.inner, Inner::Cluster(_)) {
                for cmd in pipeline.cmd_iter() {
                    self.check_slot(cmd)?;
                }
            }
            match &mut self.inner {
                Inner::Standalone(c) => c.req_packed_commands(pipeline, offset, count).await,
                Inner::Cluster(c) => {
                    c.route_pipeline(
                        pipeline.clone(),
                        offset,
                        count,
                        SingleNodeRoutingInfo::SpecificNode(self.home),
                    )
                    .await
                }
            }
        })
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Standalone(c) => c.get_db(),
            Inner::Cluster(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_county_key_is_in_the_countys_slot_and_another_countys_is_not() {
        let mut eval = redis::cmd("EVALSHA");
        eval.arg("abc").arg(1).arg("lu:{a}:case:1").arg("lu:{b}:x");
        assert_eq!(keys_of(&eval), vec![&b"lu:{a}:case:1"[..]]);
        assert!(keys_of(redis::cmd("PING").arg("x")).is_empty());
        let keys = super::super::Keys::new("siun-sote");
        let home = Route::with_key(keys.prefix(), SlotAddr::Master);
        for key in [
            keys.case("c1"),
            keys.contact("k1"),
            keys.queue("t", "q", "n"),
            keys.professional("p"),
            keys.events(),
            keys.access(),
        ] {
            assert_eq!(Route::with_key(&key, SlotAddr::Master), home, "{key}");
        }
        let other = super::super::Keys::new("pshyvinvointialue");
        assert_ne!(Route::with_key(other.case("c1"), SlotAddr::Master), home);
    }
}
