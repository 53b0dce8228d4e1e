//! The app image under test (`BLOG_TEST_APP_IMAGE`, built by scripts/build-image.sh) as
//! containers on a [`Deps`] network, run as the chart and compose run it: read-only root
//! filesystem, `/tmp` in memory, no capabilities, the image's own non-root user.

use std::time::{Duration, Instant};

use crate::deps::{Deps, Side, Slot};
use crate::docker::{Container, Run, docker_blocking, random_suffix, require_docker};

const HOW_TO_BUILD: &str = "Build the app image and name it: \
    export BLOG_TEST_APP_IMAGE=\"$(scripts/build-image.sh)\" (scripts/test.sh does this).";

/// The app image under test. Panics, saying how to build it, when `BLOG_TEST_APP_IMAGE`
/// is unset or Docker does not have that image: these tests never pass without running.
pub fn app_image() -> String {
    let image = std::env::var("BLOG_TEST_APP_IMAGE")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| panic!("BLOG_TEST_APP_IMAGE is not set. {HOW_TO_BUILD}"));
    require_docker();
    if let Err(err) = docker_blocking(&["image", "inspect", "--format", "x", &image]) {
        panic!("BLOG_TEST_APP_IMAGE={image}, but Docker has no such image ({err}). {HOW_TO_BUILD}");
    }
    image
}

/// The settings of an app container on `deps`' network using `slot`, plus `extra`.
pub fn app_env(deps: &Deps, slot: &Slot, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env = deps.env(slot, Side::Network);
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    env
}

/// An app container on `deps`' network (at `ip` if given) with `env`, about to run.
pub fn app_container(deps: &Deps, name: &str, ip: Option<String>, env: &[(String, String)]) -> Run {
    Run::new(app_image(), name)
        .network(&deps.network, ip)
        .flags([
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges:true",
        ])
        .envs(env)
        .hint(HOW_TO_BUILD)
}

/// Runs `blog migrate` in the image (migrations, then the bucket) and expects exit code 0.
pub async fn migrate(deps: &Deps, env: &[(String, String)]) {
    let name = format!("{}-migrate-{}", deps.network.name, random_suffix(4));
    let migrate = app_container(deps, &name, None, env)
        .cmd(["migrate"])
        .start()
        .await;
    let started = Instant::now();
    while migrate.is_running().await {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "migrate still running after 120 s:\n{}",
            migrate.logs().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        migrate.exit_code().await,
        0,
        "`blog migrate` failed:\n{}",
        migrate.logs().await
    );
}

/// Waits until `base_url/readyz` answers 200 from `app`; panics with its logs if it exits
/// or takes longer than a minute.
pub async fn wait_ready(app: &Container, base_url: &str) {
    let client = reqwest::Client::new();
    let url = format!("{base_url}/readyz");
    app.wait_until("ready", Duration::from_secs(60), || async {
        client
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}
