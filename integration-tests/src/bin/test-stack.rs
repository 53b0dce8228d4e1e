//! `test-stack [NAME]`: the tests' dependencies (Postgres, Redis, S3, the mail catcher)
//! for a service run on the host, started by the same code as the tests'.
//!
//! Prints `export VAR=value` lines — the `BLOG_*` settings that reach them from the host,
//! plus `HOST_STACK_POSTGRES` and `HOST_STACK_REDIS` (container names, for `docker exec`
//! and `docker stop`/`start`) and `HOST_STACK_MAIL_URL` (the inbox and its API) — then
//! `# ready`, and keeps them until SIGTERM or SIGINT, when it removes them (the reaper does
//! it too if this process dies). Redis is published at a fixed port, so it can be stopped
//! and started again at the same address. scripts/lib.sh's `host_stack_up` runs it for
//! scripts/fuzz.sh and bench/run.sh.

use integration_tests::{Deps, Side, free_port};
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "blog-stack".into());
    let deps = Deps::start(&name, Some(free_port())).await;
    let slot = deps.isolate().await;
    let mut exports = deps.env(&slot, Side::Host);
    exports.extend([
        (
            "HOST_STACK_POSTGRES".into(),
            deps.postgres.container.name.clone(),
        ),
        ("HOST_STACK_REDIS".into(), deps.redis.container.name.clone()),
        ("HOST_STACK_MAIL_URL".into(), deps.mail.url()),
    ]);
    for (key, value) in exports {
        // Values are URLs, names and random [a-z0-9] strings; quoted all the same.
        println!("export {key}='{}'", value.replace('\'', r"'\''"));
    }
    println!("# ready");

    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("test-stack: removing {}", deps.network.name);
    drop(deps);
}
