//! Building and running the application: the shape zero2prod uses, so tests
//! can start the real server on a random port and stop it when they like.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use deadpool_postgres::Pool;
use poem::listener::{Acceptor as _, Listener as _, TcpAcceptor, TcpListener};
use poem::{EndpointExt as _, Server};

use crate::accounts::{Accounts, AccountsConfig};
use crate::cache::Cache;
use crate::clock::Clock;
use crate::comments::Comments;
use crate::config::Settings;
use crate::kv::Kv;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::moderation::Moderation;
use crate::posts::Posts;
use crate::rate_limit::RateLimiter;
use crate::storage::Storage;

/// Flipped once shutdown starts; `/readyz` reports 503 from then on.
#[derive(Clone, Default)]
pub struct ShutdownFlag(Arc<AtomicBool>);

impl ShutdownFlag {
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the HTTP edge works with: the use cases (each holding its own
/// dependencies), plus what the probes and metrics read directly. Cheap to
/// clone (all `Arc`s inside). Domain code never sees it.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub accounts: Accounts,
    pub posts: Posts,
    pub comments: Comments,
    pub moderation: Moderation,
    /// For `/readyz` and pool gauges only; use cases hold their own handle.
    pub db: Pool,
    /// For `/readyz` only (bounded, circuit-broken Redis access, see `kv`).
    pub kv: Kv,
    /// For the task that adds counted views to Redis
    /// ([`Cache::flush_views_until`]); use cases hold their own handle.
    pub cache: Cache,
    pub metrics: Metrics,
    pub shutdown: ShutdownFlag,
    /// Cookie names and URLs of the website.
    pub site: Arc<crate::site::SiteConfig>,
    /// The API's post reads as JSON, per cache version (see
    /// [`crate::http::rendered`]).
    pub rendered: crate::http::rendered::Rendered,
}

impl AppState {
    /// Wires the dependencies without contacting any of them.
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        Self::with_clock(settings, Clock::system())
    }

    /// Like [`AppState::new`] with the clock the use cases see.
    pub fn with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let db = crate::db::pool(&settings.database)?;
        metrics
            .db_pool_max_size
            .set(settings.database.pool_max_size.get() as i64);
        let kv = Kv::new(&settings.redis, metrics.clone())?;
        // Invalidate after any change visible in post reads (incl. usernames
        // and avatars): both use cases hold it.
        let cache = Cache::new(kv.clone(), &settings.redis, metrics.clone());
        let rate_limiter =
            RateLimiter::new(kv.clone(), settings.rate_limit.clone(), metrics.clone());
        let storage = Storage::from_settings(&settings.s3).context("configuring S3 storage")?;
        let mailer = Mailer::from_settings(&settings.smtp).context("configuring SMTP")?;
        let accounts = Accounts::new(
            db.clone(),
            rate_limiter.clone(),
            cache.clone(),
            Arc::new(storage),
            Arc::new(mailer),
            clock.clone(),
            AccountsConfig {
                auth: settings.auth.clone(),
                avatars: settings.avatars.clone(),
                public_url: settings.http.public_url.clone(),
            },
        );
        let posts = Posts::new(db.clone(), cache.clone(), clock.clone());
        let comments = Comments::new(
            db.clone(),
            posts.clone(),
            cache.clone(),
            clock.clone(),
            rate_limiter,
        );
        let moderation = Moderation::new(db.clone(), cache.clone(), clock);
        let site = Arc::new(crate::site::SiteConfig::new(&settings.http.public_url));
        let rendered = crate::http::rendered::Rendered::new(
            settings.redis.local_cache_mib.get() * 1024 * 1024,
            settings.redis.cache_ttl_seconds.get(),
            metrics.clone(),
        );
        Ok(Self {
            site,
            rendered,
            settings: Arc::new(settings),
            accounts,
            posts,
            comments,
            moderation,
            db,
            kv,
            cache,
            metrics,
            shutdown: ShutdownFlag::default(),
        })
    }
}

pub struct Application {
    acceptor: TcpAcceptor,
    local_addr: SocketAddr,
    /// `/metrics` on a port of its own (`http.metrics_port` > 0).
    metrics: Option<(TcpAcceptor, SocketAddr)>,
    state: AppState,
}

impl Application {
    /// Validates the settings, checks Postgres is reachable (fails fast with
    /// a clear message if not; Redis may be down), and binds the listener
    /// (`port = 0` picks a free port, see [`Application::local_addr`]).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        let state = AppState::new(settings)?;

        let db = &state.settings.database;
        let conn = state.db.get().await.map_err(|e| {
            // `{:#}` prints the causes too ("connection refused", "password
            // authentication failed"), which is what an operator needs.
            anyhow::anyhow!(
                "cannot connect to Postgres at {}:{} (database {:?}, user {:?}): {:#}",
                db.host,
                db.port,
                db.name,
                db.user,
                anyhow::Error::from(e)
            )
        })?;
        drop(conn);
        if let Err(e) = state.kv.ping().await {
            tracing::warn!(error = %e, "Redis is unavailable at start-up; continuing without cache and counters");
        }

        let http = &state.settings.http;
        let acceptor = TcpListener::bind((http.host.as_str(), http.port))
            .into_acceptor()
            .await
            .with_context(|| format!("binding {}:{}", http.host, http.port))?;
        let local_addr = socket_addr(&acceptor)?;
        let metrics = match http.metrics_port.get() {
            0 => None,
            port => {
                let port = u16::try_from(port).context("http.metrics_port")?;
                let acceptor = TcpListener::bind((http.host.as_str(), port))
                    .into_acceptor()
                    .await
                    .with_context(|| format!("binding the metrics port {}:{port}", http.host))?;
                let addr = socket_addr(&acceptor)?;
                Some((acceptor, addr))
            }
        };
        Ok(Self {
            acceptor,
            local_addr,
            metrics,
            state,
        })
    }

    /// Where `/metrics` is served when it has a port of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The state the server runs with (tests use its pool and Redis handle).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_with_shutdown(shutdown_signal()).await
    }

    /// Serves until `signal` completes. Then readiness turns 503, requests
    /// are still served for `http.shutdown_drain_seconds` (default 0), the
    /// listener closes, and in-flight requests get
    /// `http.shutdown_grace_seconds` to finish.
    pub async fn run_with_shutdown(
        self,
        signal: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let grace = state.settings.http.shutdown_grace_seconds.get();
        let drain = state.settings.http.shutdown_drain_seconds.get();
        let flag = state.shutdown.clone();
        // The metrics listener lives as long as the API's (scrapes during the
        // drain show it) and stops right after it.
        let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        let metrics_server = self.metrics.map(|(acceptor, _)| {
            let app = crate::http::metrics_app(state.clone());
            tokio::spawn(
                Server::new_with_acceptor(acceptor)
                    .name("blog-metrics")
                    .run_with_graceful_shutdown(
                        app,
                        async move {
                            let _ = metrics_stopped.await;
                        },
                        Some(Duration::from_secs(1)),
                    ),
            )
        });
        // Views counted in memory reach Redis every 200 ms, and once more
        // after the last request was answered.
        let (stop_views, views_stopped) = tokio::sync::oneshot::channel::<()>();
        let cache = state.cache.clone();
        let view_flusher = tokio::spawn(async move {
            cache
                .flush_views_until(async move {
                    let _ = views_stopped.await;
                })
                .await;
        });
        let app = crate::http::app(state).boxed();
        let signal = async move {
            signal.await;
            flag.trigger();
            if !drain.is_zero() {
                tracing::info!(
                    seconds = drain.as_secs(),
                    "shutdown requested; not ready, still serving"
                );
                tokio::time::sleep(drain).await;
            }
            tracing::info!("closing the listener; finishing in-flight requests");
        };
        let served = Server::new_with_acceptor(self.acceptor)
            .name("blog")
            .idle_timeout(Duration::from_secs(75))
            .run_with_graceful_shutdown(app, signal, Some(grace))
            .await;
        let _ = stop_views.send(());
        view_flusher
            .await
            .context("the view counter's flush panicked")?;
        let _ = stop_metrics.send(());
        if let Some(task) = metrics_server {
            task.await
                .context("the metrics server panicked")?
                .context("metrics server failed")?;
        }
        served.context("HTTP server failed")?;
        tracing::info!("stopped");
        Ok(())
    }
}

fn socket_addr(acceptor: &TcpAcceptor) -> anyhow::Result<SocketAddr> {
    acceptor
        .local_addr()
        .into_iter()
        .find_map(|a| a.as_socket_addr().copied())
        .context("the listener has no socket address")
}

/// Completes on SIGTERM (Kubernetes, Docker) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
