//! Logging through `tracing`: human-readable locally, one JSON object per
//! line in production. Every line emitted while handling a request carries
//! the request id, because the HTTP layer wraps each request in a span
//! holding it (the `around` middleware in `http::app`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, Settings};

/// Installs the global subscriber. Safe to call more than once (tests): later
/// calls are ignored.
pub fn init(settings: &Settings) {
    // `RUST_LOG` wins when set, so a developer can turn up one module quickly.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        // Colour codes only on a terminal; log files and collectors get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(std::io::stdout);
    let _ = match settings.log_format() {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
