//! The embedded default: a `redis-server` child that Luotsi starts, supervises and stops, so that
//! `cargo run` works on a fresh machine without a hand-started Redis.
//!
//! It listens on a Unix socket in the data directory (no port to collide with) and keeps an
//! append-only file there, so a restart of Luotsi loses nothing. On shutdown it is asked to
//! `SHUTDOWN`, which flushes the append-only file before it exits.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "redis-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install -y redis-server`) \
         or point Luotsi at an external Redis with LUOTSI_REDIS_URL=redis://host:6379"
    )]
    NotInstalled,
    #[error("cannot prepare data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("redis-server did not start: {0}")]
    Start(String),
}

pub struct EmbeddedRedis {
    child: Option<Child>,
    socket: PathBuf,
}

impl EmbeddedRedis {
    /// Starts `redis-server` with its files under `dir`, or reuses one a crashed Luotsi left
    /// running on the same socket.
    pub async fn start(dir: &Path) -> Result<Self, EmbeddedError> {
        std::fs::create_dir_all(dir).map_err(|source| EmbeddedError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        let dir = dir
            .canonicalize()
            .map_err(|source| EmbeddedError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        let socket = dir.join("redis.sock");
        let url = socket_url(&socket);
        if ping(&url).await {
            tracing::warn!(socket = %socket.display(), "reusing the embedded redis left running by an earlier run");
            return Ok(Self {
                child: None,
                socket,
            });
        }
        let _ = std::fs::remove_file(&socket);
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", "0", "--unixsocket"])
            .arg(&socket)
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(&dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ])
            .args(["--daemonize", "no", "--logfile"])
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => EmbeddedError::NotInstalled,
            _ => EmbeddedError::Start(e.to_string()),
        })?;
        let mut me = Self {
            child: Some(child),
            socket,
        };
        for _ in 0..100 {
            if ping(&url).await {
                tracing::info!(dir = %dir.display(), "embedded redis started");
                return Ok(me);
            }
            if let Some(Ok(Some(status))) = me.child.as_mut().map(|c| c.try_wait()) {
                return Err(EmbeddedError::Start(format!(
                    "exited with {status}; see {}",
                    dir.join("redis.log").display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(EmbeddedError::Start("no answer within 5 s".into()))
    }

    pub fn url(&self) -> String {
        socket_url(&self.socket)
    }

    /// Asks Redis to flush its append-only file and exit, then waits for it.
    pub async fn stop(mut self) {
        if let Ok(client) = redis::Client::open(self.url())
            && let Ok(mut conn) = client.get_multiplexed_async_connection().await
        {
            let _: Result<(), _> = redis::cmd("SHUTDOWN").query_async(&mut conn).await;
        }
        if let Some(mut child) = self.child.take() {
            match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
                Ok(_) => tracing::info!("embedded redis stopped"),
                Err(_) => {
                    let _ = child.kill().await;
                }
            }
        }
    }
}

fn socket_url(socket: &Path) -> String {
    format!("redis+unix://{}", socket.display())
}

async fn ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(Ok(mut conn)) = tokio::time::timeout(
        Duration::from_millis(500),
        client.get_multiplexed_async_connection(),
    )
    .await
    else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok()
}
