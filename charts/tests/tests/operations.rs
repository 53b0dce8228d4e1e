//! What an operator sets: every app setting, the escape hatches, secrets
//! from Secrets of their own, S3 through a cloud identity, backups and the
//! restore Job, and the development services; checked on the typed objects
//! of the scenarios in `chart_tests::SCENARIOS`.

use std::collections::BTreeSet;

use chart_tests::{Rendered, container, fullname, rendered, rendered_scenarios};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;

fn spec(pod: &PodTemplateSpec) -> &PodSpec {
    pod.spec.as_ref().expect("pod spec")
}

fn env_of(c: &Container) -> Vec<(String, Option<String>)> {
    c.env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}

fn env_value(c: &Container, name: &str) -> Option<String> {
    env_of(c)
        .into_iter()
        .rev()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v)
}

/// (Secret name, key, file) of each source of the `secrets` volume.
fn secret_sources(pod: &PodTemplateSpec) -> BTreeSet<(String, String, String)> {
    let volume = spec(pod)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "secrets")
        .expect("secrets volume");
    volume
        .projected
        .as_ref()
        .unwrap()
        .sources
        .iter()
        .flatten()
        .flat_map(|s| {
            let secret = s.secret.clone().expect("a Secret source");
            secret
                .items
                .unwrap_or_default()
                .into_iter()
                .map(move |i| (secret.name.clone(), i.key, i.path))
        })
        .collect()
}

/// The pods that run the blog binary and its container there.
const BLOG_PODS: [(&str, &str); 3] = [
    ("Deployment/blog", "blog"),
    ("Job/blog-migrate", "migrate"),
    ("CronJob/blog-backup", "upload"),
];

#[test]
fn escape_hatches_reach_every_pod_running_the_blog_binary() {
    let r = rendered("escape-hatches");
    for (pod_name, container_name) in BLOG_PODS {
        let at = format!("{pod_name}/{container_name}");
        let pod = r.pod(pod_name);
        let c = container(&pod, container_name);
        // extraEnv comes last, so it overrides the settings (env beats envFrom).
        let env = env_of(c);
        let names: Vec<_> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[names.len() - 2..],
            ["BLOG_LOG__FILTER", "OTEL_EXPORTER_OTLP_ENDPOINT"],
            "{at}: extraEnv last"
        );
        assert_eq!(
            env_value(c, "BLOG_LOG__FILTER").as_deref(),
            Some("debug"),
            "{at}"
        );
        let otel = c
            .env
            .iter()
            .flatten()
            .find(|e| e.name == "OTEL_EXPORTER_OTLP_ENDPOINT");
        assert!(
            otel.and_then(|e| e.value_from.as_ref()).is_some(),
            "{at}: valueFrom kept"
        );
        let env_from: Vec<_> = c
            .env_from
            .iter()
            .flatten()
            .filter_map(|e| e.secret_ref.as_ref().map(|s| s.name.clone()))
            .collect();
        assert_eq!(env_from, ["blog-extra"], "{at}: extraEnvFrom");
        assert!(
            c.volume_mounts
                .iter()
                .flatten()
                .any(|m| m.name == "cloudsql" && m.mount_path == "/cloudsql"),
            "{at}: extraVolumeMounts"
        );
        let spec = spec(&pod);
        assert!(
            spec.volumes.iter().flatten().any(|v| v.name == "cloudsql"),
            "{at}: extraVolumes"
        );
        // Native sidecar: first, and restartPolicy Always (Jobs still finish).
        let first = &spec.init_containers.as_ref().expect("init containers")[0];
        assert_eq!(first.name, "cloud-sql-proxy", "{at}: sidecar first");
        assert_eq!(first.restart_policy.as_deref(), Some("Always"), "{at}");
    }
    let backup = r.pod("CronJob/blog-backup");
    let init: Vec<_> = spec(&backup)
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        init,
        ["cloud-sql-proxy", "dump"],
        "pg_dump starts after the proxy"
    );

    // Labels and annotations on every component's pods.
    for (pod_name, label, annotation) in [
        (
            "Deployment/blog",
            ("example.com/team", "blog"),
            ("example.com/app", "yes"),
        ),
        (
            "Job/blog-migrate",
            ("example.com/job", "migrate"),
            ("sidecar.istio.io/inject", "false"),
        ),
        (
            "CronJob/blog-backup",
            ("example.com/job", "backup"),
            ("sidecar.istio.io/inject", "false"),
        ),
        (
            "StatefulSet/blog-postgresql",
            ("example.com/tier", "db"),
            ("example.com/db", "yes"),
        ),
        (
            "Deployment/blog-redis",
            ("example.com/tier", "cache"),
            ("example.com/cache", "yes"),
        ),
    ] {
        let meta = r.pod(pod_name).metadata.expect("pod metadata");
        let labels = meta.labels.unwrap_or_default();
        let annotations = meta.annotations.unwrap_or_default();
        assert_eq!(
            labels.get(label.0).map(String::as_str),
            Some(label.1),
            "{pod_name}"
        );
        assert_eq!(
            annotations.get(annotation.0).map(String::as_str),
            Some(annotation.1),
            "{pod_name}"
        );
        assert_eq!(
            labels.get("app.kubernetes.io/instance").map(String::as_str),
            Some("blog"),
            "{pod_name}: the chart's labels stay"
        );
    }

    // extraEgress in the policy of each pod running the blog binary.
    for component in ["app", "migrate", "backup"] {
        let np: NetworkPolicy = r.get("NetworkPolicy", &format!("{}-{component}", fullname()));
        let has_3307 = np
            .spec
            .unwrap()
            .egress
            .unwrap()
            .iter()
            .flat_map(|rule| rule.ports.iter().flatten())
            .any(|p| {
                p.port == Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(3307))
            });
        assert!(has_3307, "{component}: extraEgress");
    }
}

#[test]
fn each_secret_can_come_from_a_secret_of_its_own() {
    let r = rendered("operator-existing-infra");
    assert!(
        r.of_kind("Secret").is_empty(),
        "the chart renders no Secret"
    );
    let own =
        |name: &str, key: &str, file: &str| (name.to_owned(), key.to_owned(), file.to_owned());
    let expected: BTreeSet<_> = [
        own("blog-db-app", "password", "database-password"),
        own("blog-redis", "url", "redis-url"),
        own("blog-s3", "AWS_ACCESS_KEY_ID", "s3-access-key"),
        own("blog-s3", "AWS_SECRET_ACCESS_KEY", "s3-secret-key"),
        own("blog-smtp", "username", "smtp-username"),
        own("blog-smtp", "password", "smtp-password"),
        own("blog-db-ca", "ca.crt", "database-ca.crt"),
    ]
    .into();
    for (pod_name, container_name) in BLOG_PODS {
        let pod = r.pod(pod_name);
        assert_eq!(secret_sources(&pod), expected, "{pod_name}");
        let files: BTreeSet<_> = env_of(container(&pod, container_name))
            .into_iter()
            .filter(|(n, _)| n.ends_with("_FILE"))
            .map(|(n, v)| (n, v.unwrap()))
            .collect();
        let dir = "/var/run/secrets/blog";
        let want: BTreeSet<_> = [
            ("BLOG_DATABASE__PASSWORD_FILE", "database-password"),
            ("BLOG_REDIS__URL_FILE", "redis-url"),
            ("BLOG_S3__ACCESS_KEY_FILE", "s3-access-key"),
            ("BLOG_S3__SECRET_KEY_FILE", "s3-secret-key"),
            ("BLOG_SMTP__USERNAME_FILE", "smtp-username"),
            ("BLOG_SMTP__PASSWORD_FILE", "smtp-password"),
        ]
        .into_iter()
        .map(|(n, f)| (n.to_owned(), format!("{dir}/{f}")))
        .collect();
        assert_eq!(files, want, "{pod_name}: secret files");
    }
    let config = r.config();
    assert_eq!(
        config["BLOG_DATABASE__SSL_ROOT_CERT"],
        "/var/run/secrets/blog/database-ca.crt"
    );
    assert!(
        !config.contains_key("BLOG_REDIS__URL"),
        "an external Redis URL is a secret"
    );

    // The simple default stays: one shared Secret with fixed keys (plus
    // the CA of the bundled Postgres's certificate, tests/postgres_tls.rs).
    let prod = rendered("production");
    let sources: BTreeSet<_> = secret_sources(&prod.pod("Deployment/blog"))
        .into_iter()
        .filter(|(name, _, _)| name != "blog-postgresql-tls")
        .collect();
    let names: BTreeSet<_> = sources.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["blog-production"]));
    assert!(sources.iter().all(|(_, key, file)| key == file));
}

#[test]
fn s3_through_the_cloud_identity_has_no_static_keys() {
    for scenario in ["irsa", "web-identity"] {
        let r = rendered(scenario);
        assert_eq!(
            r.config()["BLOG_S3__CREDENTIAL_SOURCE"],
            "default_chain",
            "{scenario}"
        );
        for (pod_name, container_name) in BLOG_PODS {
            let at = format!("{scenario}: {pod_name}");
            let pod = r.pod(pod_name);
            assert!(
                !secret_sources(&pod)
                    .iter()
                    .any(|(_, _, f)| f.starts_with("s3-")),
                "{at}: static S3 keys mounted"
            );
            let c = container(&pod, container_name);
            assert!(env_value(c, "BLOG_S3__ACCESS_KEY_FILE").is_none(), "{at}");
            // The Kubernetes API token stays unmounted either way.
            assert_eq!(
                spec(&pod).automount_service_account_token,
                Some(false),
                "{at}"
            );
            if scenario == "web-identity" {
                assert_eq!(
                    env_value(c, "AWS_ROLE_ARN").as_deref(),
                    Some("arn:aws:iam::123456789012:role/blog"),
                    "{at}"
                );
                let token_file = env_value(c, "AWS_WEB_IDENTITY_TOKEN_FILE").expect("token file");
                let mount = c
                    .volume_mounts
                    .iter()
                    .flatten()
                    .find(|m| m.name == "aws-web-identity")
                    .expect("token mount");
                assert_eq!(token_file, format!("{}/token", mount.mount_path), "{at}");
                let volume = spec(&pod)
                    .volumes
                    .iter()
                    .flatten()
                    .find(|v| v.name == "aws-web-identity")
                    .expect("token volume");
                let token = volume.projected.as_ref().unwrap().sources.as_ref().unwrap()[0]
                    .service_account_token
                    .clone()
                    .expect("a projected ServiceAccount token");
                assert_eq!(token.audience.as_deref(), Some("sts.amazonaws.com"), "{at}");
                assert_eq!(token.path, "token", "{at}");
            }
        }
        // Egress to the identity endpoints (STS over HTTPS).
        let np: NetworkPolicy = r.get("NetworkPolicy", &format!("{}-app", fullname()));
        let rules = np.spec.unwrap().egress.unwrap();
        assert!(
            rules.len() == 6,
            "{scenario}: the cloud identity rule comes on top of the five"
        );
    }
    // EKS IRSA: the role is an annotation of both accounts that run the binary.
    let irsa = rendered("irsa");
    for sa in [fullname(), format!("{}-migrate", fullname())] {
        let account: ServiceAccount = irsa.get("ServiceAccount", &sa);
        assert_eq!(
            account.metadata.annotations.unwrap_or_default()["eks.amazonaws.com/role-arn"],
            "arn:aws:iam::123456789012:role/blog",
            "{sa}"
        );
    }
    let backup = irsa.pod("CronJob/blog-backup");
    assert_eq!(
        spec(&backup).service_account_name.as_deref(),
        Some("blog"),
        "the backup uploads with the app's identity"
    );
}

fn script(c: &Container) -> String {
    assert_eq!(
        c.command.as_deref(),
        Some(&["/bin/sh".to_owned(), "-c".to_owned()][..])
    );
    c.args.as_ref().expect("script")[0].clone()
}

#[test]
fn backups_dump_then_upload_with_the_apps_settings() {
    let prod = rendered("production");
    let cron: CronJob = prod.get("CronJob", "blog-backup");
    let cron_spec = cron.spec;
    assert_eq!(cron_spec.schedule, "17 3 * * *");
    assert_eq!(cron_spec.time_zone.as_deref(), Some("Etc/UTC"));
    assert_eq!(cron_spec.concurrency_policy.as_deref(), Some("Forbid"));
    for (scenario, bucket, host, ssl) in [
        (
            "production",
            "blog-production-backups",
            "blog-postgresql",
            "verify-full",
        ),
        (
            "operator-existing-infra",
            "acme-blog-backups",
            "blog-db-rw.databases.svc",
            "verify-full",
        ),
        (
            "staging",
            "blog-staging-media",
            "blog-postgresql",
            "verify-full",
        ),
    ] {
        let r = rendered(scenario);
        let config = r.config();
        let pod = r.pod("CronJob/blog-backup");
        let spool = spec(&pod)
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "spool")
            .and_then(|v| v.empty_dir.clone())
            .expect("spool emptyDir");
        assert!(spool.size_limit.is_some(), "{scenario}: bounded spool");
        let dump = container(&pod, "dump");
        let upload = container(&pod, "upload");
        let app: k8s_openapi::api::apps::v1::Deployment = r.get("Deployment", &fullname());
        let app_spec = app.spec.template.spec.unwrap();
        // pg_dump from the Postgres image, read back in full before upload.
        // By default the Postgres tools of postgresql.image: the server's major.
        assert!(
            dump.image.as_deref().unwrap().starts_with("postgres:16"),
            "{scenario}"
        );
        let sh = script(dump);
        assert!(sh.contains("pg_dump --format=custom"), "{sh}");
        assert!(sh.contains("pg_restore --file=/dev/null"), "{sh}");
        assert!(
            sh.find("pg_restore").unwrap() < sh.find("mv ").unwrap(),
            "{sh}"
        );
        // libpq's variables are the app's settings.
        for (pg, blog) in [
            ("PGHOST", "BLOG_DATABASE__HOST"),
            ("PGPORT", "BLOG_DATABASE__PORT"),
            ("PGDATABASE", "BLOG_DATABASE__NAME"),
            ("PGUSER", "BLOG_DATABASE__USER"),
        ] {
            assert_eq!(
                env_value(dump, pg),
                config.get(blog).cloned(),
                "{scenario}: {pg}"
            );
        }
        assert_eq!(
            env_value(dump, "PGHOST").as_deref(),
            Some(host),
            "{scenario}"
        );
        assert_eq!(
            env_value(dump, "PGSSLMODE").as_deref(),
            Some(ssl),
            "{scenario}"
        );
        if ssl == "verify-full" {
            assert_eq!(
                env_value(dump, "PGSSLROOTCERT"),
                config.get("BLOG_DATABASE__SSL_ROOT_CERT").cloned(),
                "{scenario}: the app's CA"
            );
        }
        // The upload runs the app image with the app's settings and secrets.
        assert_eq!(upload.image, app_spec.containers[0].image, "{scenario}");
        let args = upload.args.clone().unwrap();
        let spool_dir = "/var/spool/blog-backup";
        assert_eq!(&args[..2], ["backup", "upload"], "{scenario}");
        assert_eq!(
            args[2..6],
            ["--bucket", bucket, "--prefix", "backups/postgres/"],
            "{scenario}"
        );
        assert_eq!(
            args.last().map(String::as_str),
            Some(spool_dir),
            "{scenario}"
        );
        for c in [dump, upload] {
            assert!(
                c.volume_mounts
                    .iter()
                    .flatten()
                    .any(|m| m.name == "spool" && m.mount_path == spool_dir),
                "{scenario}: {} mounts the spool",
                c.name
            );
        }
        assert_eq!(
            secret_sources(&pod),
            secret_sources(&r.pod("Deployment/blog")),
            "{scenario}"
        );
    }
    for scenario in ["defaults", "dev"] {
        let r = rendered(scenario);
        assert!(
            r.of_kind("CronJob").is_empty(),
            "{scenario}: backups are opt-in"
        );
    }
}

#[test]
fn the_restore_job_is_rendered_only_on_demand() {
    let r = rendered("restore");
    let job: Job = r.get("Job", "blog-restore");
    let annotations = job.metadata.annotations.clone().unwrap_or_default();
    assert!(
        !annotations.contains_key("helm.sh/hook"),
        "applied by hand, not a hook"
    );
    let spec_ = job.spec.unwrap();
    assert_eq!(
        spec_.backoff_limit,
        Some(0),
        "a failed restore is not retried"
    );
    let pod = spec_.template;
    let download = container(&pod, "download");
    assert_eq!(
        download.args.clone().unwrap(),
        [
            "backup",
            "download",
            "--bucket",
            "blog-production-backups",
            "--prefix",
            "backups/postgres/",
            "--out",
            "/var/spool/blog-backup/restore.dump",
            "blog-20260101T031700Z.dump"
        ]
    );
    let sh = script(container(&pod, "restore"));
    for flag in [
        "--single-transaction",
        "--clean",
        "--if-exists",
        "--exit-on-error",
        "--no-owner",
    ] {
        assert!(sh.contains(flag), "pg_restore {flag}: {sh}");
    }
    assert!(sh.contains("/var/spool/blog-backup/restore.dump"), "{sh}");
    // Its NetworkPolicy comes in the same file (`--show-only`).
    let _np: NetworkPolicy = r.get("NetworkPolicy", "blog-restore");
    let all = rendered_scenarios();
    for (scenario, rendered) in all {
        if scenario.name != "restore" {
            assert!(
                !rendered
                    .of_kind("Job")
                    .iter()
                    .any(|j| Rendered::name_of(j) == "blog-restore"),
                "{}: restore Job rendered",
                scenario.name
            );
        }
    }
}

#[test]
fn dev_values_stand_alone_with_the_chart_s_own_s3_and_mail() {
    let dev = rendered("dev");
    let config = dev.config();
    assert_eq!(config["BLOG_S3__ENDPOINT"], "http://blog-seaweedfs:8333");
    assert_eq!(config["BLOG_SMTP__HOST"], "blog-mailpit");
    assert_eq!(config["BLOG_SMTP__PORT"], "1025");
    assert_eq!(config["BLOG_SMTP__TLS"], "none");
    for (component, ports) in [("seaweedfs", vec![8333]), ("mailpit", vec![1025, 8025])] {
        let name = format!("{}-{component}", fullname());
        let svc: k8s_openapi::api::core::v1::Service = dev.get("Service", &name);
        let svc_ports: Vec<i32> = svc
            .spec
            .unwrap()
            .ports
            .unwrap()
            .iter()
            .map(|p| p.port)
            .collect();
        assert_eq!(svc_ports, ports, "{component}");
        let pod = dev.pod(&format!("Deployment/{name}"));
        assert!(
            spec(&pod)
                .volumes
                .iter()
                .flatten()
                .any(|v| v.name == "data" && v.empty_dir.is_some()),
            "{component}: data on an emptyDir"
        );
    }
    // The app's own image, loaded into kind/minikube and never pulled.
    let app = dev.pod("Deployment/blog");
    let c = container(&app, "blog");
    assert_eq!(c.image.as_deref(), Some("blog:dev"));
    assert_eq!(c.image_pull_policy.as_deref(), Some("Never"));
    // The app and the migration Job reach SeaweedFS in the namespace.
    for component in ["app", "migrate"] {
        let np: NetworkPolicy = dev.get("NetworkPolicy", &format!("{}-{component}", fullname()));
        let to_seaweedfs = np.spec.unwrap().egress.unwrap().iter().any(|rule| {
            rule.to.iter().flatten().any(|peer| {
                peer.pod_selector
                    .as_ref()
                    .and_then(|s| s.match_labels.as_ref())
                    .is_some_and(|l| {
                        l.get("app.kubernetes.io/component").map(String::as_str)
                            == Some("seaweedfs")
                    })
            })
        });
        assert!(to_seaweedfs, "{component} reaches SeaweedFS");
    }
    for scenario in [
        "defaults",
        "staging",
        "production",
        "operator-existing-infra",
    ] {
        let r = rendered(scenario);
        for d in r.of_kind("Deployment") {
            let name = Rendered::name_of(d);
            assert!(
                !name.ends_with("-seaweedfs") && !name.ends_with("-mailpit"),
                "{scenario}: {name} is for development only"
            );
        }
    }
}

/// Issue 13, item 11: ingress-nginx refuses bodies over 1 MiB unless told otherwise; the
/// Ingress allows the largest body the app accepts, derived from the avatar limit, and an
/// operator's own annotation wins.
#[test]
fn the_ingress_body_limit_follows_the_avatar_limit() {
    use k8s_openapi::api::networking::v1::Ingress;
    const ANNOTATION: &str = "nginx.ingress.kubernetes.io/proxy-body-size";
    let annotation = |r: &Rendered| -> Option<String> {
        let ingress: Ingress = r.get("Ingress", &fullname());
        ingress
            .metadata
            .annotations
            .unwrap_or_default()
            .get(ANNOTATION)
            .cloned()
    };
    let mut checked = 0;
    for (scenario, r) in rendered_scenarios() {
        if r.of_kind("Ingress").is_empty() {
            continue;
        }
        let config = r.config();
        let number = |k: &str| -> u64 { config[k].parse().unwrap() };
        let largest =
            (number("BLOG_AVATARS__MAX_BYTES") + 65536).max(number("BLOG_HTTP__MAX_BODY_BYTES"));
        assert_eq!(
            annotation(r),
            Some(largest.to_string()),
            "{}: the Ingress must let the largest accepted body through",
            scenario.name
        );
        checked += 1;
    }
    assert!(checked > 0, "no scenario renders an Ingress");

    let helm = chart_tests::helm();
    let render = |sets: &[&str]| {
        let args: Vec<String> = sets
            .iter()
            .flat_map(|s| ["--set".to_owned(), (*s).to_owned()])
            .collect();
        let out = chart_tests::helm_template(&helm, &args);
        assert!(out.status.success(), "{}", chart_tests::text(&out.stderr));
        let yaml = chart_tests::text(&out.stdout);
        Rendered {
            docs: chart_tests::parse_documents(&yaml),
            yaml,
        }
    };
    let bigger = render(&["avatars.maxBytes=10485760"]);
    assert_eq!(annotation(&bigger).as_deref(), Some("10551296"));
    let json_larger = render(&["http.maxBodyBytes=33554432"]);
    assert_eq!(annotation(&json_larger).as_deref(), Some("33554432"));
    let own = render(&[
        "ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/proxy-body-size=64m",
        "ingress.annotations.example\\.com/other=kept",
    ]);
    assert_eq!(annotation(&own).as_deref(), Some("64m"));
    let ingress: k8s_openapi::api::networking::v1::Ingress = own.get("Ingress", &fullname());
    assert_eq!(
        ingress.metadata.annotations.unwrap()["example.com/other"],
        "kept"
    );
}

/// Issue 13, item 6: `/metrics` is on a port of its own that the Service behind the
/// Ingress/HTTPRoute does not expose; the scrapers' ways in (ServiceMonitor through a
/// Service of its own, prometheus.io and Datadog annotations, the NetworkPolicy) use it.
#[test]
fn metrics_are_scraped_on_their_own_port_which_the_ingress_service_lacks() {
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::api::networking::v1::Ingress;
    let mut monitors = 0;
    for (scenario, r) in rendered_scenarios() {
        let name = scenario.name;
        let port: u16 = r.config()["BLOG_HTTP__METRICS_PORT"].parse().unwrap();
        assert_ne!(port, 0, "{name}: /metrics would share the API's port");
        assert_ne!(port, 8080, "{name}");
        let pod = r.pod("Deployment/blog");
        let app = container(&pod, "blog");
        let ports: Vec<(String, i32)> = app
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone().unwrap_or_default(), p.container_port))
            .collect();
        assert!(
            ports.contains(&("metrics".into(), i32::from(port))),
            "{name}: {ports:?}"
        );
        // The Service that the Ingress/HTTPRoute routes to has the API's port only.
        let front: Service = r.get("Service", &fullname());
        for p in front.spec.unwrap().ports.unwrap() {
            assert_eq!(p.name.as_deref(), Some("http"), "{name}: {p:?}");
        }
        for ingress in r.typed::<Ingress>("Ingress") {
            for rule in ingress.spec.unwrap().rules.unwrap_or_default() {
                for path in rule.http.unwrap().paths {
                    let backend = path.backend.service.unwrap();
                    assert_eq!(backend.name, fullname(), "{name}");
                    assert_eq!(backend.port.unwrap().name.as_deref(), Some("http"));
                }
            }
        }
        let annotations = pod
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .clone()
            .unwrap_or_default();
        if let Some(p) = annotations.get("prometheus.io/port") {
            assert_eq!(p, &port.to_string(), "{name}");
        }
        if let Some(check) = annotations.get("ad.datadoghq.com/blog.checks") {
            assert!(
                check.contains(&format!(":{port}/metrics")),
                "{name}: {check}"
            );
        }
        let app_policy: NetworkPolicy = r.get("NetworkPolicy", &format!("{}-app", fullname()));
        let rules = app_policy.spec.unwrap().ingress.unwrap_or_default();
        let scraper_ports: Vec<String> = rules
            .iter()
            .filter(|rule| {
                rule.from.iter().flatten().any(|f| {
                    f.namespace_selector
                        .as_ref()
                        .and_then(|s| s.match_labels.as_ref())
                        .is_some_and(|l| l.values().any(|v| v == "monitoring"))
                })
            })
            .flat_map(|rule| rule.ports.iter().flatten())
            .map(|p| format!("{:?}", p.port))
            .collect();
        if !r.of_kind("NetworkPolicy").is_empty() && !scraper_ports.is_empty() {
            assert!(
                scraper_ports.iter().all(|p| p.contains("metrics")),
                "{name}: scrapers reach {scraper_ports:?}"
            );
        }
        for monitor in r.of_kind("ServiceMonitor") {
            monitors += 1;
            let endpoint = &monitor["spec"]["endpoints"][0];
            assert_eq!(endpoint["port"], "metrics", "{name}");
            let selector = &monitor["spec"]["selector"]["matchLabels"];
            let service: Service = r.get("Service", &format!("{}-metrics", fullname()));
            let labels = service.metadata.labels.clone().unwrap_or_default();
            for (k, v) in selector.as_object().unwrap() {
                assert_eq!(labels.get(k).map(String::as_str), v.as_str(), "{name}: {k}");
            }
            let ports = service.spec.unwrap().ports.unwrap();
            assert_eq!(ports.len(), 1);
            assert_eq!(ports[0].name.as_deref(), Some("metrics"));
            assert_eq!(ports[0].port, i32::from(port));
        }
    }
    assert!(monitors > 0, "no scenario renders a ServiceMonitor");
}
