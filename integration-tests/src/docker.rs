//! A thin layer over the `docker` CLI, the one way these tests start containers.
//!
//! Every container and network carries the label `blog-integration-tests=<owner>`, where
//! the owner is this process; a watcher removes them once the process is gone (even after
//! a panic or a kill), because containers shared by a whole test binary live in statics,
//! which are never dropped. Containers owned by one test are removed when dropped.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const LABEL: &str = "blog-integration-tests";

/// Panics, saying what to do, unless a Docker engine answers. Everything below calls it
/// first: without Docker these tests fail, they never pass without having run.
pub fn require_docker() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECK.get_or_init(|| {
        match Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdin(Stdio::null())
            .output()
        {
            Err(err) => Err(format!("cannot run the docker CLI: {err}")),
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        }
    });
    if let Err(why) = result {
        panic!(
            "Docker is not reachable: {why}\n\
             These tests run Postgres, Redis, S3, the mail catcher and the app image in \
             containers; they fail rather than skip without them. Start the Docker daemon \
             (or point DOCKER_HOST at one) and run them again."
        );
    }
}

/// Runs `docker ARGS`; stdout (trimmed) on success, the command and its stderr otherwise.
pub async fn docker(args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run docker: {e}"))?;
    outcome(args, &out)
}

/// [`docker`], panicking on failure.
pub async fn must(args: &[&str]) -> String {
    docker(args).await.unwrap_or_else(|e| panic!("{e}"))
}

/// The blocking variant, for `Drop` and for code outside a runtime.
pub fn docker_blocking(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    outcome(args, &out)
}

fn outcome(args: &[&str], out: &std::process::Output) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// This process's label value; the first call starts the watcher that removes whatever
/// carries it once the process has exited.
fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| {
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let owner = format!("{pid}-{nanos:x}");
        let filter = format!("label={LABEL}={owner}");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             docker ps -aq --filter {filter} | xargs -r docker rm -f -v >/dev/null 2>&1; \
             docker network ls -q --filter {filter} | xargs -r docker network rm >/dev/null 2>&1"
        );
        let spawned = std::os::unix::process::CommandExt::process_group(
            Command::new("sh").args(["-c", &script]),
            0, // its own process group: a Ctrl-C on the test run must not stop it
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
        if let Err(err) = spawned {
            eprintln!(
                "cannot start the container reaper (containers may outlive the tests): {err}"
            );
        }
        owner
    })
}

/// A random lowercase suffix for names of containers, databases, buckets, users.
pub fn random_suffix(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

/// A bridge network on a /24 of its own, so containers can have fixed addresses: a
/// restarted container comes back where its peers (nginx resolves upstreams once) expect
/// it. Fixed addresses come from the lower half, dynamic ones from the upper half. The test
/// process reaches the addresses directly over the bridge (Linux).
pub struct Network {
    pub name: String,
    /// "10.x.y"
    prefix: String,
}

impl Network {
    pub async fn create(name: &str) -> Network {
        require_docker();
        let label = format!("{LABEL}={}", owner());
        let mut last_err = String::new();
        // A random 10.200-249.y.0/24, retried when it overlaps an existing network.
        for _ in 0..8 {
            let seed = rand::random::<u16>();
            let prefix = format!("10.{}.{}", 200 + (seed >> 8) % 50, seed & 0xff);
            let subnet = format!("--subnet={prefix}.0/24");
            let range = format!("--ip-range={prefix}.128/25");
            let args = [
                "network", "create", "--label", &label, &subnet, &range, name,
            ];
            match docker(&args).await {
                Ok(_) => {
                    return Network {
                        name: name.to_owned(),
                        prefix,
                    };
                }
                Err(e) => last_err = e,
            }
        }
        panic!("cannot create a docker network: {last_err}");
    }

    /// The fixed address `host` (1–127) on this network.
    pub fn ip(&self, host: u8) -> String {
        assert!((2..128).contains(&host), "fixed addresses are .2–.127");
        format!("{}.{host}", self.prefix)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker_blocking(&["network", "rm", &self.name]);
    }
}

/// A `docker run -d` about to happen.
pub struct Run {
    image: String,
    name: String,
    flags: Vec<String>,
    cmd: Vec<String>,
    hint: String,
}

impl Run {
    pub fn new(image: impl Into<String>, name: impl Into<String>) -> Run {
        Run {
            image: image.into(),
            name: name.into(),
            flags: Vec::new(),
            cmd: Vec::new(),
            hint: String::new(),
        }
    }

    /// Joins `network`, at the fixed address `ip` if given.
    pub fn network(mut self, network: &Network, ip: Option<String>) -> Run {
        self.flags
            .extend(["--network".into(), network.name.clone()]);
        if let Some(ip) = ip {
            self.flags.extend(["--ip".into(), ip]);
        }
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<str>) -> Run {
        self.flags
            .extend(["-e".into(), format!("{key}={}", value.as_ref())]);
        self
    }

    pub fn envs<K: AsRef<str>, V: AsRef<str>>(mut self, env: &[(K, V)]) -> Run {
        for (key, value) in env {
            self = self.env(key.as_ref(), value);
        }
        self
    }

    /// Publishes the container's TCP `port` on 127.0.0.1, at `host_port` or a random one.
    pub fn publish(mut self, port: u16, host_port: Option<u16>) -> Run {
        let host = host_port.map(|p| p.to_string()).unwrap_or_default();
        self.flags
            .extend(["-p".into(), format!("127.0.0.1:{host}:{port}")]);
        self
    }

    /// Any other `docker run` flags.
    pub fn flags<S: Into<String>>(mut self, flags: impl IntoIterator<Item = S>) -> Run {
        self.flags.extend(flags.into_iter().map(Into::into));
        self
    }

    /// The command (the arguments after the image).
    pub fn cmd<S: Into<String>>(mut self, cmd: impl IntoIterator<Item = S>) -> Run {
        self.cmd = cmd.into_iter().map(Into::into).collect();
        self
    }

    /// What to tell the reader when the container cannot start (e.g. how to get the image).
    pub fn hint(mut self, hint: impl Into<String>) -> Run {
        self.hint = hint.into();
        self
    }

    pub async fn start(self) -> Container {
        require_docker();
        let label = format!("{LABEL}={}", owner());
        let mut args: Vec<&str> = vec!["run", "-d", "--name", &self.name, "--label", &label];
        args.extend(self.flags.iter().map(String::as_str));
        args.push(&self.image);
        args.extend(self.cmd.iter().map(String::as_str));
        match docker(&args).await {
            Ok(_) => Container { name: self.name },
            Err(err) => {
                // A failed `run` can leave a created container behind.
                let _ = docker(&["rm", "-f", "-v", &self.name]).await;
                panic!(
                    "cannot start container {} from {}: {err}\n{}",
                    self.name, self.image, self.hint
                )
            }
        }
    }
}

/// A running (or stopped) container, removed when dropped. When dropped during a panic it
/// prints the end of its logs first.
pub struct Container {
    pub name: String,
}

impl Container {
    /// The host port (on 127.0.0.1) that the container's TCP `port` is published on.
    pub async fn host_port(&self, port: u16) -> u16 {
        let out = must(&["port", &self.name, &format!("{port}/tcp")]).await;
        out.lines()
            .find_map(|l| l.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{}: port {port} is not published: {out:?}", self.name))
    }

    /// Runs `cmd` in the container; its stdout, or why it failed.
    pub async fn exec(&self, cmd: &[&str]) -> Result<String, String> {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend(cmd);
        docker(&args).await
    }

    /// `docker stop`: the image's stop signal, SIGKILL after `grace_seconds`.
    pub async fn stop(&self, grace_seconds: u32) {
        must(&["stop", "--time", &grace_seconds.to_string(), &self.name]).await;
    }

    pub async fn start(&self) {
        must(&["start", &self.name]).await;
    }

    /// `docker pause`: the processes freeze, keeping their state; peers see
    /// a server that accepts nothing and answers nothing.
    pub async fn pause(&self) {
        must(&["pause", &self.name]).await;
    }

    pub async fn unpause(&self) {
        must(&["unpause", &self.name]).await;
    }

    pub async fn kill(&self, signal: &str) {
        must(&["kill", "--signal", signal, &self.name]).await;
    }

    pub async fn is_running(&self) -> bool {
        self.inspect("{{.State.Running}}").await == "true"
    }

    /// The exit code of a container that has stopped.
    pub async fn exit_code(&self) -> i64 {
        let code = self.inspect("{{.State.ExitCode}}").await;
        code.parse()
            .unwrap_or_else(|_| panic!("{}: exit code {code:?}", self.name))
    }

    async fn inspect(&self, format: &str) -> String {
        must(&["inspect", "--format", format, &self.name]).await
    }

    /// Its output so far (stdout, then stderr).
    pub async fn logs(&self) -> String {
        let out = tokio::process::Command::new("docker")
            .args(["logs", &self.name])
            .stdin(Stdio::null())
            .output()
            .await;
        match out {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(err) => format!("(no logs: {err})"),
        }
    }

    /// Polls `check` until it holds; panics with the container's logs after `limit`, or
    /// at once if the container stops.
    pub async fn wait_until<F, Fut>(&self, what: &str, limit: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if check().await {
                return;
            }
            let why = if started.elapsed() > limit {
                format!("not {what} after {limit:?}")
            } else if !self.is_running().await {
                format!("exited before it was {what}")
            } else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            panic!("{}: {why}; its logs:\n{}", self.name, self.logs().await);
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = Command::new("docker")
                .args(["logs", "--tail", "40", &self.name])
                .output();
            if let Ok(out) = logs {
                eprintln!(
                    "---- last logs of {} ----\n{}{}",
                    self.name,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let _ = docker_blocking(&["rm", "-f", "-v", &self.name]);
    }
}

/// A TCP port that nothing listens on right now (for "dependency is down" tests and for
/// fixed port mappings).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
