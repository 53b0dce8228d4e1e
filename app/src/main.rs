//! The `blog` binary: `serve`, `migrate`, `import-django`, `backup`, `staff`,
//! `healthcheck`, `settings`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use blog::backup::BackupStore;
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
    /// Move the Django original over: users (password hashes, is_active,
    /// staff flags, dates), profile pictures and posts. Safe to run again:
    /// unchanged objects are left alone, an interrupted run resumes. See
    /// docs/migrating-from-django.md.
    ImportDjango(ImportArgs),
    /// Move pg_dump archives to and from S3 (the chart's backup CronJob and
    /// restore Job; see the chart README, "Backups and restore").
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Grant or withdraw staff (moderation: unpublishing any post, deleting
    /// any comment, deactivating accounts; see docs/contracts.md).
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
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

#[derive(clap::Args)]
struct ImportArgs {
    /// A `manage.py dumpdata` JSON file (gzip too), `-` for standard input,
    /// or the original's database as `postgres://user:password@host/db`
    /// (read in one read-only REPEATABLE READ transaction).
    source: String,
    /// Show what would be created, updated and skipped, and why; change
    /// nothing (no row, no stored picture).
    #[arg(long)]
    dry_run: bool,
    /// Import the valid objects even if others are invalid (by default an
    /// invalid object makes the run write nothing).
    #[arg(long)]
    skip_invalid: bool,
    /// The original's MEDIA_ROOT (profile pictures are `profile_pics/…` in it).
    #[arg(long, value_name = "DIR", conflicts_with = "media_s3_bucket")]
    media: Option<PathBuf>,
    /// The original's django-storages bucket, read instead of --media.
    #[arg(long, value_name = "BUCKET")]
    media_s3_bucket: Option<String>,
    /// django-storages' AWS_LOCATION: the key prefix of the media files.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    media_s3_prefix: String,
    /// The original bucket's endpoint (default: BLOG_S3__ENDPOINT).
    #[arg(long, value_name = "URL")]
    media_s3_endpoint: Option<String>,
    /// The original bucket's region (default: BLOG_S3__REGION).
    #[arg(long, value_name = "REGION")]
    media_s3_region: Option<String>,
    /// Keys of the original bucket (default: ours).
    #[arg(long, env = "DJANGO_S3_ACCESS_KEY", hide_env_values = true)]
    media_s3_access_key: Option<String>,
    #[arg(long, env = "DJANGO_S3_SECRET_KEY", hide_env_values = true)]
    media_s3_secret_key: Option<String>,
    /// Objects per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: u32,
    /// Stop with an error after N committed batches, as an interruption
    /// would (rehearsing a resume).
    #[arg(long, value_name = "N", hide = true)]
    stop_after_batches: Option<usize>,
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Make the account staff.
    Grant {
        /// The username (case-insensitive).
        username: String,
    },
    /// Make the account an ordinary one again.
    Revoke {
        /// The username (case-insensitive).
        username: String,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Upload a dump (or the one `*.dump` in a directory) and its SHA-256,
    /// then delete all but the newest complete backups.
    Upload {
        #[command(flatten)]
        location: BackupLocation,
        /// Complete backups to keep (at least 1).
        #[arg(long, default_value_t = 14)]
        keep_last: usize,
        /// `<database>-<yyyymmddThhmmssZ>.dump`, or a directory holding one.
        path: PathBuf,
    },
    /// List the complete backups, newest first.
    List {
        #[command(flatten)]
        location: BackupLocation,
    },
    /// Download a backup and verify its SHA-256 (a mismatch deletes the file).
    Download {
        #[command(flatten)]
        location: BackupLocation,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// `latest`, or a name from `blog backup list`.
        backup: String,
    },
}

#[derive(clap::Args)]
struct BackupLocation {
    /// Bucket of the backups (default: BLOG_S3__BUCKET, the media bucket).
    #[arg(long)]
    bucket: Option<String>,
    /// Key prefix of the backups: empty, or ending in `/`.
    #[arg(long, default_value = "backups/postgres/")]
    prefix: String,
}

impl BackupLocation {
    fn store(&self, settings: &Settings) -> anyhow::Result<BackupStore> {
        BackupStore::new(&settings.s3, self.bucket.as_deref(), &self.prefix)
            .context("configuring the backup store")
    }
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
        Command::ImportDjango(args) => import_django(args, &settings).await,
        Command::Backup { command } => backup(command, &settings).await,
        Command::Staff { command } => {
            let (username, staff) = match command {
                StaffCommand::Grant { username } => (username, true),
                StaffCommand::Revoke { username } => (username, false),
            };
            blog::moderation::set_staff(&settings, &username, staff).await?;
            println!(
                "{username} is {}",
                if staff {
                    "now staff"
                } else {
                    "no longer staff"
                }
            );
            Ok(())
        }
        Command::Healthcheck | Command::Settings { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}

/// The report goes to stdout, progress lines to stderr. Exits non-zero when
/// the input was refused (invalid objects without --skip-invalid).
async fn import_django(args: ImportArgs, settings: &Settings) -> anyhow::Result<()> {
    use blog::import::{Options, Pictures, S3Source, Source};
    let pictures = match (args.media, args.media_s3_bucket) {
        (Some(dir), _) => Pictures::Dir(dir),
        (None, Some(bucket)) => Pictures::s3(
            &settings.s3,
            S3Source {
                bucket,
                prefix: args.media_s3_prefix,
                endpoint: args.media_s3_endpoint,
                region: args.media_s3_region,
                access_key: args.media_s3_access_key,
                secret_key: args.media_s3_secret_key,
            },
        )
        .context("configuring the original's media bucket")?,
        (None, None) => Pictures::None,
    };
    let options = Options {
        source: Source::parse(&args.source),
        pictures,
        dry_run: args.dry_run,
        skip_invalid: args.skip_invalid,
        batch_size: args.batch_size as usize,
        stop_after_batches: args.stop_after_batches,
    };
    let report = blog::import::run(settings, options, &|line| eprintln!("{line}")).await?;
    tracing::info!(
        users = ?report.users,
        profiles = ?report.profiles,
        posts = ?report.posts,
        dry_run = report.dry_run,
        "import finished"
    );
    println!("{report}");
    anyhow::ensure!(
        !report.refused,
        "the input was refused; nothing was imported"
    );
    Ok(())
}

/// Results go to stdout (one line per backup), progress to the log.
async fn backup(command: BackupCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        BackupCommand::Upload {
            location,
            keep_last,
            path,
        } => {
            let started = std::time::Instant::now();
            let up = location.store(settings)?.upload(&path, keep_last).await?;
            tracing::info!(
                backup = %up.backup.name,
                bytes = up.backup.size,
                sha256 = %up.sha256,
                pruned = ?up.pruned,
                seconds = started.elapsed().as_secs_f64(),
                "backup uploaded"
            );
            println!(
                "uploaded {} {} {}",
                up.backup.name, up.backup.size, up.sha256
            );
            for name in up.pruned {
                println!("deleted {name}");
            }
        }
        BackupCommand::List { location } => {
            for b in location.store(settings)?.list().await? {
                println!("{} {} {}", b.name, b.taken_at, b.size);
            }
        }
        BackupCommand::Download {
            location,
            out,
            backup,
        } => {
            let started = std::time::Instant::now();
            let (b, sha256) = location
                .store(settings)?
                .download(&backup, &out)
                .await
                .with_context(|| format!("downloading backup {backup}"))?;
            tracing::info!(
                backup = %b.name,
                bytes = b.size,
                seconds = started.elapsed().as_secs_f64(),
                "backup downloaded and verified"
            );
            println!(
                "downloaded {} {} {} {}",
                b.name,
                b.size,
                sha256,
                out.display()
            );
        }
    }
    Ok(())
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
