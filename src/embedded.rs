//! The embedded default: a `redis-server` child that Luotsi starts, supervises and stops, so that
//! `cargo run` works on a fresh machine without a hand-started Redis.
//!
//! It listens on a Unix socket in the data directory (no port to collide with) and keeps an
//! append-only file there, so a restart of Luotsi loses nothing. On shutdown it is asked to
//! `SHUTDOWN`, which flushes the append-only file before it exits.
//!
//! The append-only file holds citizens' words and numbers, so only Luotsi's user may read it:
//! the directory is 0700, and `redis-server` runs with umask 077, so every file it writes is
//! 0600 (files left more open by an earlier version are tightened at start). The Redis asks for
//! a password, random, made on first start and kept in `redis-password` (0600); it is handed to
//! `redis-server` on its standard input, never on the command line where `ps` shows it.
//!
//! One instance owns a data directory: it holds an OS lock on `luotsi.lock` there for as long
//! as it runs, and a second instance on the same directory refuses to start, naming the first.
//! An instance stops only the Redis it started itself.
//!
//! Supervised: when the `redis-server` child dies (killed, out of memory) it is started again
//! from its append-only file on the same socket with the same password, after 100 ms and then
//! with a doubling delay capped at 10 s, until it answers or the instance stops. Meanwhile calls
//! answer UNAVAILABLE (and health NOT_SERVING, once its check finds Redis down); the instance's
//! connections find the new Redis where they left the old one. Before each start the append-only file is checked
//! ([`aof`]): a command cut short at its end is named in the log and dropped by Redis
//! (`aof-load-truncated yes`); damage further in stops the start with what to do.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Appendfsync;
use crate::secret::Secret;
use aof::AofState;

pub mod aof;

/// The file in the data directory holding the embedded Redis's password.
pub const PASSWORD_FILE: &str = "redis-password";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "redis-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install -y redis-server`) \
         or point Luotsi at an external Redis with LUOTSI_REDIS_URL=redis://host:6379"
    )]
    NotInstalled,
    #[error(
        "data directory {path} cannot be written ({source}): give Luotsi a writable directory \
         of its own (redis.data_dir, LUOTSI_DATA_DIR; in a container, a volume at /app/data)"
    )]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "data directory {dir} is in use by another Luotsi ({holder}): give this one another data \
         directory (redis.data_dir, LUOTSI_DATA_DIR) or an external Redis (LUOTSI_REDIS_URL)"
    )]
    InUse { dir: String, holder: String },
    #[error("redis-server did not start: {0}")]
    Start(String),
    #[error(
        "the append-only file {file} is damaged at byte {at}, and Redis refuses to load it. Keep a \
         copy of the data directory first; then `redis-check-aof --fix {manifest}` cuts the file \
         at the damage, losing every change after it"
    )]
    DamagedAof {
        file: String,
        at: u64,
        manifest: String,
    },
}

pub struct EmbeddedRedis {
    socket: PathBuf,
    password: Secret,
    /// Watches the Redis this instance started and starts it again when it dies; `None` when
    /// it found one already running, which it neither supervises nor stops.
    supervisor: Option<Supervisor>,
    /// Held open, and so locked, until the Redis has stopped.
    _lock: File,
}

impl EmbeddedRedis {
    /// Takes the data directory `dir` and starts `redis-server` with its files there, making
    /// its append-only file durable as `appendfsync` says, and supervises it from then on.
    /// Refuses when another instance holds the directory. A Redis already answering on the
    /// directory's socket, left by an instance that did not stop cleanly, is used as it is and
    /// left running at exit.
    pub async fn start(dir: &Path, appendfsync: Appendfsync) -> Result<Self, EmbeddedError> {
        let failed = |source: std::io::Error| EmbeddedError::DataDir {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        tighten(dir).map_err(failed)?;
        let dir = dir
            .canonicalize()
            .map_err(|source| EmbeddedError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        let lock = lock_data_dir(&dir)?;
        let password =
            Secret::in_file(&dir, PASSWORD_FILE).map_err(|source| EmbeddedError::DataDir {
                path: dir.join(PASSWORD_FILE).display().to_string(),
                source,
            })?;
        let socket = dir.join("redis.sock");
        let url = socket_url(&socket, &password);
        if ping(&url).await {
            // Nobody else holds the directory, so no running instance started this Redis.
            tracing::warn!(
                socket = %socket.display(),
                "a redis-server left by an instance that did not stop cleanly answers on the data \
                 directory's socket: using it, unsupervised, and leaving it running when this \
                 instance stops"
            );
            return Ok(Self {
                socket,
                password,
                supervisor: None,
                _lock: lock,
            });
        }
        if ping(&Secret::new(format!("redis+unix://{}", socket.display()))).await {
            // Left by a version before the password: using it would keep it open to anyone
            // reaching the socket, and starting another beside it would share its files.
            return Err(EmbeddedError::Start(format!(
                "a redis-server without a password answers on {}: stop it \
                 (redis-cli -s {} shutdown) and start Luotsi again",
                socket.display(),
                socket.display()
            )));
        }
        let launch = Launch {
            dir: dir.clone(),
            socket: socket.clone(),
            password: password.clone(),
            appendfsync,
        };
        let child = launch.run().await?;
        tracing::info!(dir = %dir.display(), appendfsync = appendfsync.as_redis_option(), "embedded redis started");
        Ok(Self {
            socket,
            password,
            supervisor: Some(Supervisor::start(child, launch)),
            _lock: lock,
        })
    }

    /// The URL of this Redis, with its password.
    pub fn url(&self) -> Secret {
        socket_url(&self.socket, &self.password)
    }

    /// The URL of the embedded Redis of data directory `dir` (running or not), with its
    /// password, for the commands that read it (`luotsi corrections`).
    pub fn url_for(dir: &Path) -> std::io::Result<Secret> {
        let password = std::fs::read_to_string(dir.join(PASSWORD_FILE))?;
        Ok(socket_url(
            &dir.join("redis.sock"),
            &Secret::new(password.trim()),
        ))
    }

    /// Stops supervising, asks the Redis this instance started to flush its append-only file
    /// and exit, waits for it, and then lets the data directory go. A Redis it found running is
    /// left alone.
    pub async fn stop(mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            supervisor.stop().await;
        }
    }
}

/// How soon a Redis that died is started again: after [`RESTART_BACKOFF_FIRST`], then after
/// a delay that doubles with each further attempt (a start that failed, or a Redis that died
/// again within [`RESTART_STABLE`]) up to [`RESTART_BACKOFF_MAX`].
const RESTART_BACKOFF_FIRST: Duration = Duration::from_millis(100);
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(10);
const RESTART_STABLE: Duration = Duration::from_secs(60);

/// The task that owns the running `redis-server` child: it waits for the child to exit, and
/// unless it was told to stop, starts it again from its append-only file on the same socket
/// with the same password, so that the instance's connections find it where they left it.
struct Supervisor {
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Supervisor {
    fn start(child: Child, launch: Launch) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(supervise(child, launch, stop.clone()));
        Self {
            stop,
            task: Some(task),
        }
    }

    async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "embedded redis supervisor failed");
        }
    }
}

impl Drop for Supervisor {
    /// Dropped without [`Supervisor::stop`] (a start that failed half-way): the task ends and
    /// its child, killed on drop, with it.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn supervise(mut child: Child, launch: Launch, stop: CancellationToken) {
    let mut backoff = RESTART_BACKOFF_FIRST;
    loop {
        let up_since = Instant::now();
        let exited = tokio::select! {
            () = stop.cancelled() => {
                launch.shut_down(child).await;
                return;
            }
            exited = child.wait() => exited,
        };
        if up_since.elapsed() >= RESTART_STABLE {
            backoff = RESTART_BACKOFF_FIRST;
        }
        let how = match exited {
            Ok(status) => status.to_string(),
            Err(e) => format!("cannot be waited for: {e}"),
        };
        tracing::error!(
            exit = %how,
            restart_in_ms = backoff.as_millis() as u64,
            log = %launch.dir.join("redis.log").display(),
            "embedded redis is down: starting it again from its append-only file"
        );
        child = loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
            match launch.run().await {
                Ok(child) => {
                    tracing::warn!("embedded redis restarted: serving again");
                    break child;
                }
                Err(e) => tracing::error!(
                    error = %e,
                    retry_in_ms = backoff.as_millis() as u64,
                    "embedded redis did not restart"
                ),
            }
        };
    }
}

/// Everything needed to start the `redis-server` child, the first time and after it died.
struct Launch {
    dir: PathBuf,
    socket: PathBuf,
    password: Secret,
    appendfsync: Appendfsync,
}

impl Launch {
    /// Checks the append-only file, starts `redis-server` on it and waits until it answers.
    async fn run(&self) -> Result<Child, EmbeddedError> {
        self.check_append_only_file()?;
        let _ = std::fs::remove_file(&self.socket);
        let mut cmd = Command::new("redis-server");
        // `-`: the rest of the configuration (the password) comes on standard input.
        cmd.arg("-")
            .args(["--port", "0", "--unixsocket"])
            .arg(&self.socket)
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(&self.dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                self.appendfsync.as_redis_option(),
                // Redis's default, said here because Luotsi's documentation relies on it: a
                // command cut short at the end of the file is dropped, and Redis starts.
                "--aof-load-truncated",
                "yes",
                "--save",
                "",
            ])
            .args(["--daemonize", "no", "--logfile"])
            .arg(self.dir.join("redis.log"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: umask(2) is async-signal-safe and touches nothing of the parent.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => EmbeddedError::NotInstalled,
            _ => EmbeddedError::Start(e.to_string()),
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            let conf = format!("requirepass {}\n", self.password.expose());
            stdin
                .write_all(conf.as_bytes())
                .await
                .map_err(|e| EmbeddedError::Start(format!("cannot hand over its password: {e}")))?;
            // Dropped: end of file, and redis-server goes on with its start.
        }
        let url = socket_url(&self.socket, &self.password);
        for _ in 0..100 {
            if ping(&url).await {
                return Ok(child);
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(EmbeddedError::Start(format!(
                    "exited with {status}; see {}",
                    self.dir.join("redis.log").display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Dropped, and so killed.
        Err(EmbeddedError::Start("no answer within 5 s".into()))
    }

    /// Says what Redis will make of its append-only file, before it does: a command cut short
    /// at the end is dropped (and said so here), damage further in stops the start.
    fn check_append_only_file(&self) -> Result<(), EmbeddedError> {
        match aof::check(&self.dir) {
            Ok(AofState::Missing | AofState::Whole { .. }) => Ok(()),
            Ok(AofState::CutShort {
                file,
                whole_bytes,
                len,
            }) => {
                tracing::warn!(
                    file = %file.display(),
                    whole_bytes,
                    dropped_bytes = len - whole_bytes,
                    appendfsync = self.appendfsync.as_redis_option(),
                    "the append-only file ends in a command that was never completely written \
                     (a power failure or a full disk): Redis drops it and loads the rest. With \
                     appendfsync always it was never acknowledged; with everysec it may have \
                     been, within the last second before the failure"
                );
                Ok(())
            }
            Ok(AofState::Damaged { file, at }) => Err(EmbeddedError::DamagedAof {
                file: file.display().to_string(),
                at,
                manifest: self
                    .dir
                    .join("appendonlydir/appendonly.aof.manifest")
                    .display()
                    .to_string(),
            }),
            Err(e) => {
                // Redis reads the file itself and says what it finds in its log.
                tracing::warn!(error = %e, "the append-only file could not be checked");
                Ok(())
            }
        }
    }

    /// Asks the child to flush its append-only file and exit, and waits for it (killed after
    /// 10 s).
    async fn shut_down(&self, mut child: Child) {
        if let Ok(client) = redis::Client::open(socket_url(&self.socket, &self.password).expose())
            && let Ok(mut conn) = client.get_multiplexed_async_connection().await
        {
            let _: Result<(), _> = redis::cmd("SHUTDOWN").query_async(&mut conn).await;
        }
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(_) => tracing::info!("embedded redis stopped"),
            Err(_) => {
                tracing::warn!("embedded redis did not stop within 10 s: killed");
                let _ = child.kill().await;
            }
        }
    }
}

/// Locks `dir/luotsi.lock` for this process and writes its pid there, or names the process
/// that holds it. The lock is the kernel's (`flock`): it goes with the process however it
/// ends, so a crash never leaves a directory locked.
fn lock_data_dir(dir: &Path) -> Result<File, EmbeddedError> {
    use rustix::fs::{FlockOperation, flock};
    let path = dir.join("luotsi.lock");
    let failed = |source: std::io::Error| EmbeddedError::DataDir {
        path: path.display().to_string(),
        source,
    };
    // Not truncated on opening: until the lock is ours the pid in it is the holder's.
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .mode(0o600)
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(failed)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
            file.set_len(0).map_err(failed)?;
            file.rewind().map_err(failed)?;
            writeln!(file, "{}", std::process::id()).map_err(failed)?;
            Ok(file)
        }
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => "pid unknown".to_string(),
            };
            Err(EmbeddedError::InUse {
                dir: dir.display().to_string(),
                holder,
            })
        }
        Err(e) => Err(failed(e.into())),
    }
}

/// Makes the data directory Luotsi's alone: the directory and its sub-directories 0700, every
/// file 0600 (an earlier version left the append-only files 0644). Sockets keep their mode.
fn tighten(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tighten(&entry.path())?;
        } else if kind.is_file() && entry.metadata()?.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
        } else if kind.is_socket() {
            continue;
        }
    }
    Ok(())
}

fn socket_url(socket: &Path, password: &Secret) -> Secret {
    Secret::new(format!(
        "redis+unix://{}?pass={}",
        socket.display(),
        password.expose()
    ))
}

async fn ping(url: &Secret) -> bool {
    let Ok(client) = redis::Client::open(url.expose()) else {
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
