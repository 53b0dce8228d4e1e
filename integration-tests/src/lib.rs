//! Test support for every Rust test that needs the real stack, and the end-to-end tests.
//!
//! One way to start the dependencies: [`deps::Deps`] runs Postgres, Redis, S3 (SeaweedFS)
//! and the mail catcher (Mailpit's API) as containers of the images listed in
//! `dockerfiles/images.env` (the list compose and the scripts read), through the docker
//! CLI ([`docker`]). The same code serves
//! - the API tests (`tests/api`): one [`infra`] per test binary, and per test the real
//!   service in-process on a random port ([`TestApp`]) with its own database and role,
//!   Redis logical database, bucket and mail addresses, so tests run in parallel;
//! - the app image tests (`tests/container.rs`): the image (`BLOG_TEST_APP_IMAGE`) as
//!   containers on the same kind of network ([`app`]);
//! - the fault tests (`tests/faults.rs`): a [`deps::Deps`] per test, two app containers
//!   and nginx;
//! - the browser test (`tests/browser.rs`): a [`TestApp`] driven by headless Chromium
//!   through chromedriver, with axe-core in the pages;
//! - `test-stack` (`src/bin/test-stack.rs`), with which scripts/lib.sh runs the release
//!   binary on the host for the fuzzer and the benchmark.
//!
//! Mail arrives over real SMTP from the app's lettre client; tests read it through the
//! catcher's HTTP API, by recipient.
//!
//! Run: `cargo test -p integration-tests` with Docker. Images: `$POSTGRES_IMAGE` etc. if
//! set, else whichever of the public image and its local stand-in Docker has
//! ([`images`]); without registry access build the stand-ins once with
//! `dockerfiles/build-offline-images.sh`. The container and fault tests also need the app
//! image: `export BLOG_TEST_APP_IMAGE="$(scripts/build-image.sh)"`. Nothing is skipped: a
//! missing Docker or image fails the tests with a message that says how to fix it.
//! Containers carry the label `blog-integration-tests` and are removed when the test
//! process exits, however it exits.

pub mod app;
pub mod deps;
pub mod docker;
pub mod images;
pub mod json;
pub mod plans;
pub mod test_app;
pub mod xss;

use tokio::sync::OnceCell;

pub use deps::{Deps, Mail, Side, Slot};
pub use docker::{free_port, random_suffix};
pub use test_app::{
    PASSWORD, TestApp, TestUser, expect_problem, expect_problem_4xx, expect_status,
};

/// The dependencies shared by every test of one test binary, started on first use.
/// Panics (with what to do) when Docker or an image is missing.
pub async fn infra() -> &'static Deps {
    static INFRA: OnceCell<&'static Deps> = OnceCell::const_new();
    INFRA
        .get_or_init(|| async {
            let deps = Deps::start("blog-it", None).await;
            &*Box::leak(Box::new(deps))
        })
        .await
}

/// A command of the pinned tools venv (`$BLOG_TOOLS_BIN`, set by
/// `scripts/install-tools.sh --env`), e.g. `python3` with feedparser, or
/// `openapi-python-client`. Missing tools fail the test with the fix.
pub fn tool(name: &str) -> std::path::PathBuf {
    let bin = std::env::var_os("BLOG_TOOLS_BIN").unwrap_or_else(|| {
        panic!(
            "BLOG_TOOLS_BIN is not set: this test runs `{name}` from the pinned tools venv; \
             run `eval \"$(scripts/install-tools.sh --env)\"` first"
        )
    });
    let path = std::path::PathBuf::from(bin).join(name);
    assert!(
        path.exists(),
        "{} is missing: reinstall the tools (scripts/install-tools.sh)",
        path.display()
    );
    path
}
