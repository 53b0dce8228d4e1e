//! The `blog` binary: `serve`, `migrate`, `import-users`, `healthcheck`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use blog::{Application, Settings};

/// A blog service: accounts and posts behind an OpenAPI-described HTTP API.
///
/// Configuration comes from `BLOG_*` environment variables (and the optional
/// TOML file named by `BLOG_CONFIG_FILE`); see docs/contracts.md.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server until SIGTERM/SIGINT.
    Serve {
        /// Apply pending migrations before serving.
        #[arg(long)]
        migrate: bool,
    },
    /// Apply the embedded migrations (under an advisory lock) and make sure
    /// the S3 bucket exists.
    Migrate,
    /// Import users exported from the Django original (CSV or JSON).
    ImportUsers {
        /// The export file.
        file: PathBuf,
    },
    /// Exit 0 if this container's server reports ready on 127.0.0.1.
    Healthcheck,
    /// Print every setting with its default and rule (no configuration
    /// needed): the table of docs/contracts.md, or with `--env` the `BLOG_*`
    /// block of .env.example.
    Settings {
        /// Print `#BLOG_…=default` lines instead of the Markdown table.
        #[arg(long)]
        env: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Settings { env } = cli.command {
        let text = if env {
            blog::config::catalogue::env_example()
        } else {
            blog::config::catalogue::markdown_table()
        };
        print!("{text}");
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Healthcheck = cli.command {
        return healthcheck(settings.http.port);
    }
    blog::telemetry::init(&settings);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "exiting after an error");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { migrate } => {
            if migrate {
                migrate_all(&settings).await?;
            }
            let app = Application::build(settings).await?;
            tracing::info!(addr = %app.local_addr(), "serving");
            app.run_until_stopped().await
        }
        Command::Migrate => migrate_all(&settings).await,
        Command::ImportUsers { file } => {
            let report = blog::import::run(&settings, &file)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            tracing::info!(?report, "import finished");
            println!("{report}");
            Ok(())
        }
        Command::Healthcheck | Command::Settings { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}

async fn migrate_all(settings: &Settings) -> anyhow::Result<()> {
    blog::db::migrate(settings).await?;
    let storage =
        blog::storage::Storage::from_settings(&settings.s3).context("configuring S3 storage")?;
    storage
        .ensure_bucket()
        .await
        .context("creating the S3 bucket")?;
    tracing::info!("migrations applied");
    Ok(())
}

/// A raw HTTP/1.0 GET: the runtime image has no curl, and a dependency for
/// one request is not worth it.
fn healthcheck(port: u16) -> ExitCode {
    let timeout = Duration::from_secs(2);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let result = (|| -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(
            b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: blog-healthcheck\r\n\r\n",
        )?;
        let mut response = String::new();
        stream.take(64 * 1024).read_to_string(&mut response)?;
        Ok(response)
    })();
    match result {
        Ok(resp) if resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200") => {
            ExitCode::SUCCESS
        }
        Ok(resp) => {
            eprintln!("not ready: {}", resp.lines().next().unwrap_or(""));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck failed: {e}");
            ExitCode::FAILURE
        }
    }
}
