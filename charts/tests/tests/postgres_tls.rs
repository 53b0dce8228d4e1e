//! TLS of the bundled Postgres (`postgresql.tls`): the generated certificate
//! (parsed and verified with rustls, as the app verifies it), the server's
//! options and `pg_hba.conf`, what the blog pods mount and set, the
//! existingSecret and cert-manager sources, and the first upgrade from a
//! release without TLS. The real connections are the restore drill's
//! (`scripts/restore-drill.sh`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chart_tests::{
    Rendered, containers, helm, helm_template, parse_documents, rendered, rendered_scenarios, run,
    text,
};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodTemplateSpec, Secret};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use serde_json::Value;

const TLS_SECRET: &str = "blog-postgresql-tls";
const CA_PATH: &str = "/var/run/secrets/blog/database-ca.crt";
/// The Service's names in namespace `blog`: what the certificate must hold.
const NAMES: [&str; 4] = [
    "blog-postgresql",
    "blog-postgresql.blog",
    "blog-postgresql.blog.svc",
    "blog-postgresql.blog.svc.cluster.local",
];

fn secret_data(r: &Rendered, name: &str) -> BTreeMap<String, Vec<u8>> {
    let secret: Secret = r.get("Secret", name);
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

/// rustls's verification of a server certificate, as the app's connector
/// does it (`app/src/db.rs`), against `ca` alone, at `when`.
fn verify(ca: &[u8], cert: &[u8], name: &str, when: UnixTime) -> Result<(), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca) {
        roots.add(ca.expect("CA PEM")).expect("CA certificate");
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .expect("verifier");
    let cert = CertificateDer::from_pem_slice(cert).expect("certificate PEM");
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    verifier
        .verify_server_cert(&cert, &[], &name, &[], when)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

fn years_from_now(years: u64) -> UnixTime {
    let now = UnixTime::now().as_secs();
    UnixTime::since_unix_epoch(Duration::from_secs(now + years * 365 * 24 * 3600))
}

fn render_sets(sets: &[&str]) -> Rendered {
    let mut args = Vec::new();
    for set in sets {
        args.push("--set".to_owned());
        args.push((*set).to_owned());
    }
    let out = helm_template(&helm(), &args);
    assert!(out.status.success(), "{sets:?}: {}", text(&out.stderr));
    let yaml = text(&out.stdout);
    let docs = parse_documents(&yaml);
    Rendered { yaml, docs }
}

#[test]
fn the_generated_certificate_is_for_the_service_names_and_signed_by_its_ca() {
    let r = rendered("defaults");
    let secret: Secret = r.get("Secret", TLS_SECRET);
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let hook = secret.metadata.annotations.unwrap_or_default();
    assert_eq!(hook["helm.sh/hook"], "pre-install,pre-upgrade");
    assert_eq!(
        hook["helm.sh/hook-weight"], "-10",
        "before the migration Job"
    );
    let data = secret_data(r, TLS_SECRET);
    assert_eq!(
        data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["ca.crt", "tls.crt", "tls.key"]
    );
    let (ca, cert) = (&data["ca.crt"], &data["tls.crt"]);

    for name in NAMES {
        verify(ca, cert, name, UnixTime::now())
            .unwrap_or_else(|e| panic!("{name} is refused: {e}"));
    }
    // Other names, and the same names in another namespace, are not in it.
    for name in ["blog-redis", "blog-postgresql.other", "postgresql", "blog"] {
        let err = verify(ca, cert, name, UnixTime::now()).expect_err(name);
        assert!(err.contains("NotValidForName"), "{name}: {err}");
    }
    // Valid for ten years (it is generated once), not forever.
    verify(ca, cert, NAMES[0], years_from_now(9)).expect("valid in 9 years");
    let err = verify(ca, cert, NAMES[0], years_from_now(11)).expect_err("11 years");
    assert!(err.contains("Expired"), "{err}");

    // The key is the certificate's.
    let key = PrivateKeyDer::from_pem_slice(&data["tls.key"]).expect("key PEM");
    let provider = rustls::crypto::ring::default_provider();
    rustls::sign::CertifiedKey::from_der(
        vec![CertificateDer::from_pem_slice(cert).unwrap().into_owned()],
        key,
        &provider,
    )
    .expect("tls.key matches tls.crt");

    // Another render generates another CA, which does not vouch for this
    // certificate: what a client trusting only the release's CA relies on.
    let other = render_sets(&[]);
    let other_ca = &secret_data(&other, TLS_SECRET)["ca.crt"];
    assert_ne!(other_ca, ca);
    let err = verify(other_ca, cert, NAMES[0], UnixTime::now()).expect_err("another CA");
    // Same subject, other key: the chain is found, its signature is not.
    assert!(
        err.contains("BadSignature") || err.contains("UnknownIssuer"),
        "{err}"
    );
}

/// The generated Secret is kept across upgrades: with a live Secret in the
/// cluster, the chart renders its contents instead of generating new ones.
#[test]
fn an_upgrade_keeps_the_live_ca_and_certificate() {
    let live: Value = rendered("defaults")
        .of_kind("Secret")
        .into_iter()
        .find(|d| Rendered::name_of(d) == TLS_SECRET)
        .unwrap()
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let again = render_with_lookup(
        dir.path(),
        "templates/postgresql-tls.yaml",
        r#"lookup "v1" "Secret" .Release.Namespace $secretName"#,
        &live,
    );
    let kept = again
        .of_kind("Secret")
        .into_iter()
        .find(|d| Rendered::name_of(d) == TLS_SECRET)
        .unwrap();
    assert_eq!(kept["data"], live["data"], "regenerated on upgrade");
    // Without it (a first install), a new pair.
    assert_ne!(render_sets(&[]).yaml, rendered("defaults").yaml);
}

fn postgres_container(pod: &PodTemplateSpec) -> &Container {
    pod.spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .find(|c| c.name == "postgresql")
        .expect("postgresql container")
}

/// The `-c name=value` options of the Postgres container.
fn server_options(c: &Container) -> BTreeMap<String, String> {
    let args = c.args.clone().unwrap_or_default();
    assert!(args.len().is_multiple_of(2), "{args:?}");
    args.chunks(2)
        .map(|pair| {
            assert_eq!(pair[0], "-c", "{args:?}");
            let (k, v) = pair[1].split_once('=').expect("name=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn mount_path(c: &Container, volume: &str) -> String {
    c.volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume)
        .unwrap_or_else(|| panic!("no mount of {volume}"))
        .mount_path
        .clone()
}

#[test]
fn postgres_serves_tls_and_its_hba_refuses_plain_tcp() {
    for (scenario, r) in rendered_scenarios() {
        let at = scenario.name;
        let Some(sts) = r
            .typed::<StatefulSet>("StatefulSet")
            .into_iter()
            .find(|s| s.metadata.name.as_deref() == Some("blog-postgresql"))
        else {
            continue;
        };
        let pod = sts.spec.template;
        let c = postgres_container(&pod);
        if scenario.sets.contains(&"postgresql.tls.enabled=false") {
            assert!(c.args.is_none(), "{at}");
            assert!(c.volume_mounts.iter().flatten().all(|m| m.name != "tls"));
            continue;
        }
        let options = server_options(c);
        let tls_dir = mount_path(c, "tls");
        let hba_dir = mount_path(c, "hba");
        assert_eq!(
            options,
            BTreeMap::from([
                ("ssl".to_owned(), "on".to_owned()),
                ("ssl_cert_file".to_owned(), format!("{tls_dir}/tls.crt")),
                ("ssl_key_file".to_owned(), format!("{tls_dir}/tls.key")),
                ("hba_file".to_owned(), format!("{hba_dir}/pg_hba.conf")),
            ]),
            "{at}"
        );
        let spec = pod.spec.as_ref().unwrap();
        let volumes = spec.volumes.clone().unwrap_or_default();
        let tls = volumes.iter().find(|v| v.name == "tls").unwrap();
        let tls = tls.secret.clone().expect("tls from a Secret");
        let items: Vec<_> = tls
            .items
            .unwrap()
            .into_iter()
            .map(|i| (i.key, i.path))
            .collect();
        assert_eq!(
            items,
            [
                ("tls.crt".to_owned(), "tls.crt".to_owned()),
                ("tls.key".to_owned(), "tls.key".to_owned())
            ],
            "{at}: the server needs no ca.crt"
        );
        // Postgres refuses a key readable by others, or writable by its
        // group; root:fsGroup 0440 is what it accepts from a Secret volume.
        assert_eq!(tls.default_mode, Some(0o440), "{at}");
        let sc = spec.security_context.clone().unwrap();
        assert_eq!(
            sc.fs_group, sc.run_as_group,
            "{at}: the key's group is the server's"
        );
        assert!(
            mount_ro(c, "tls") && mount_ro(c, "hba"),
            "{at}: mounted read-only"
        );

        let hba_cm = volumes
            .iter()
            .find(|v| v.name == "hba")
            .and_then(|v| v.config_map.clone())
            .expect("hba from a ConfigMap");
        let cm: ConfigMap = r.get("ConfigMap", &hba_cm.name);
        let hba = &cm.data.unwrap()["pg_hba.conf"];
        let rules: Vec<Vec<&str>> = hba
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rules,
            [
                vec!["local", "all", "all", "trust"],
                vec!["hostssl", "all", "all", "all", "scram-sha-256"]
            ],
            "{at}: TCP over TLS with a password only; no `host` line"
        );
        // A change of the rules or of the certificate restarts Postgres.
        let annotations = pod
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.clone())
            .unwrap_or_default();
        assert!(annotations.contains_key("checksum/tls"), "{at}");
    }
}

fn mount_ro(c: &Container, volume: &str) -> bool {
    c.volume_mounts
        .iter()
        .flatten()
        .any(|m| m.name == volume && m.read_only == Some(true))
}

/// Every container's environment, ConfigMap included (for the blog
/// containers that take it through envFrom).
fn env(r: &Rendered, c: &Container) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if c.env_from
        .iter()
        .flatten()
        .any(|e| e.config_map_ref.is_some())
    {
        env.extend(r.config());
    }
    for e in c.env.iter().flatten() {
        if let Some(v) = &e.value {
            env.insert(e.name.clone(), v.clone());
        }
    }
    env
}

/// (Secret, key, path) of every Secret file a pod template mounts.
type SecretFiles = BTreeSet<(String, String, String)>;

fn secret_files(pod: &PodTemplateSpec) -> SecretFiles {
    let mut out = BTreeSet::new();
    for v in pod.spec.as_ref().unwrap().volumes.iter().flatten() {
        if let Some(s) = &v.secret {
            for i in s.items.iter().flatten() {
                out.insert((
                    s.secret_name.clone().unwrap(),
                    i.key.clone(),
                    i.path.clone(),
                ));
            }
        }
        for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &source.secret {
                for i in s.items.iter().flatten() {
                    out.insert((s.name.clone(), i.key.clone(), i.path.clone()));
                }
            }
        }
    }
    out
}

/// The pods that run the blog binary (and, for backup and restore, pg_dump
/// and pg_restore).
const BLOG_PODS: [&str; 4] = [
    "Deployment/blog",
    "Job/blog-migrate",
    "CronJob/blog-backup",
    "Job/blog-restore",
];

/// The app, migration, backup and restore pods verify the bundled Postgres
/// with its CA; the key is in the Postgres pod alone.
#[test]
fn blog_pods_verify_the_bundled_postgres_with_its_ca_only() {
    let mut checked = BTreeSet::new();
    for (scenario, r) in rendered_scenarios() {
        let at = scenario.name;
        // The Secret whose key the bundled Postgres serves with, if any.
        let tls_secret = r
            .typed::<StatefulSet>("StatefulSet")
            .into_iter()
            .find(|s| s.metadata.name.as_deref() == Some("blog-postgresql"))
            .and_then(|s| {
                secret_files(&s.spec.template)
                    .into_iter()
                    .find(|(_, key, _)| key == "tls.key")
            })
            .map(|(secret, _, _)| secret);
        for (pod_name, pod) in r.pod_templates() {
            let files = secret_files(&pod);
            if pod_name == "StatefulSet/blog-postgresql" {
                continue;
            }
            assert!(
                !files.iter().any(|(_, key, _)| key == "tls.key"),
                "{at}: {pod_name} mounts the server's private key"
            );
            let Some(tls_secret) = tls_secret.clone() else {
                continue; // an external database, or postgresql.tls off
            };
            for c in containers(&pod) {
                let env = env(r, c);
                if let Some(mode) = env.get("BLOG_DATABASE__SSL_MODE") {
                    assert_eq!(mode, "require", "{at}: {pod_name}/{}", c.name);
                    assert_eq!(
                        env.get("BLOG_DATABASE__SSL_ROOT_CERT").map(String::as_str),
                        Some(CA_PATH),
                        "{at}: {pod_name}/{}",
                        c.name
                    );
                    checked.insert(format!("{pod_name}/{}", c.name));
                }
                if let Some(mode) = env.get("PGSSLMODE") {
                    assert_eq!(mode, "verify-full", "{at}: {pod_name}/{}", c.name);
                    assert_eq!(
                        env.get("PGSSLROOTCERT").map(String::as_str),
                        Some(CA_PATH),
                        "{at}: {pod_name}/{}",
                        c.name
                    );
                    checked.insert(format!("{pod_name}/{}", c.name));
                }
            }
            if BLOG_PODS.contains(&pod_name.as_str()) {
                let ca: Vec<_> = files
                    .iter()
                    .filter(|(_, _, path)| path == "database-ca.crt")
                    .collect();
                assert_eq!(
                    ca,
                    [&(
                        tls_secret.clone(),
                        "ca.crt".to_owned(),
                        "database-ca.crt".to_owned()
                    )],
                    "{at}: {pod_name} mounts the CA of the Postgres certificate"
                );
            }
        }
    }
    for want in [
        "Deployment/blog/blog",
        "Job/blog-migrate/migrate",
        "CronJob/blog-backup/dump",
        "CronJob/blog-backup/upload",
        "Job/blog-restore/download",
        "Job/blog-restore/restore",
    ] {
        assert!(checked.contains(want), "{want} not checked: {checked:?}");
    }
}

#[test]
fn the_certificate_can_come_from_a_secret_of_ones_own_or_cert_manager() {
    // A Secret of one's own: nothing generated, its name everywhere.
    let own = rendered("postgres-tls-existing-secret");
    assert!(own.of_kind("Certificate").is_empty());
    assert!(
        !own.of_kind("Secret")
            .iter()
            .any(|s| Rendered::name_of(s) == TLS_SECRET),
        "no generated Secret"
    );
    assert!(!own.yaml.contains(TLS_SECRET));
    let app = own.pod("Deployment/blog");
    assert!(secret_files(&app).contains(&(
        "blog-db-tls".to_owned(),
        "ca.crt".to_owned(),
        "database-ca.crt".to_owned()
    )));
    let pg = own.pod("StatefulSet/blog-postgresql");
    assert!(secret_files(&pg).contains(&(
        "blog-db-tls".to_owned(),
        "tls.key".to_owned(),
        "tls.key".to_owned()
    )));

    // cert-manager: a Certificate for the Service's names, into the Secret
    // the pods mount; no generated one.
    let cm = rendered("postgres-tls-cert-manager");
    let certs = cm.of_kind("Certificate");
    assert_eq!(certs.len(), 1);
    let cert: &Value = certs[0];
    assert_eq!(cert["apiVersion"], "cert-manager.io/v1");
    assert_eq!(cert["spec"]["secretName"], TLS_SECRET);
    assert_eq!(
        cert["spec"]["dnsNames"],
        Value::from(NAMES.to_vec()),
        "the Service's names"
    );
    assert_eq!(
        cert["spec"]["issuerRef"],
        serde_json::json!({"name": "blog-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"})
    );
    assert!(
        cert["spec"]["usages"]
            .as_array()
            .unwrap()
            .contains(&Value::from("server auth"))
    );
    assert!(
        cm.of_kind("Secret")
            .iter()
            .all(|s| Rendered::name_of(s) != TLS_SECRET)
    );
    assert!(secret_files(&cm.pod("Deployment/blog")).contains(&(
        TLS_SECRET.to_owned(),
        "ca.crt".to_owned(),
        "database-ca.crt".to_owned()
    )));

    // Off: the old behaviour, plain text inside the namespace.
    let off = rendered("postgres-tls-off");
    assert_eq!(off.config()["BLOG_DATABASE__SSL_MODE"], "disable");
    assert!(!off.config().contains_key("BLOG_DATABASE__SSL_ROOT_CERT"));
    let pg = off.pod("StatefulSet/blog-postgresql");
    assert!(postgres_container(&pg).args.is_none());
    assert!(!off.yaml.contains(TLS_SECRET));
    assert!(off.of_kind("ConfigMap").len() == 1, "no pg_hba.conf");
}

/// The chart as an upgrade, with one `lookup` call in `template` answered
/// by `live` (lookup needs a cluster; `helm template` answers nothing).
fn render_with_lookup(dir: &Path, template: &str, call: &str, live: &Value) -> Rendered {
    let chart = dir.join("blog");
    let out = run(std::process::Command::new("cp")
        .arg("-r")
        .arg(chart_tests::chart_dir())
        .arg(&chart));
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(
        chart.join("live.json"),
        serde_json::to_string(live).unwrap(),
    )
    .unwrap();
    let path = chart.join(template);
    let source = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        source.matches(call).count(),
        1,
        "{template}: the lookup changed: update this test"
    );
    std::fs::write(
        &path,
        source.replace(call, r#"(.Files.Get "live.json" | fromJson)"#),
    )
    .unwrap();
    let out = run(std::process::Command::new(helm())
        .args(["template", "blog"])
        .arg(&chart)
        .args(["--namespace", "blog", "--is-upgrade"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    let docs = parse_documents(&yaml);
    Rendered { yaml, docs }
}

const STATEFULSET_LOOKUP: &str =
    r#"lookup "apps/v1" "StatefulSet" .Release.Namespace (include "blog.postgresql.fullname" .)"#;

/// The first upgrade from a release without TLS runs its pre-upgrade
/// migration against the old, plain-text server (restarted with TLS only
/// after the hooks): that Job alone connects as before, without the CA
/// (cert-manager may not have issued it yet); every other pod, and the
/// migration of any later upgrade, verifies TLS.
#[test]
fn the_first_upgrade_to_tls_migrates_over_the_old_servers_plain_text() {
    let sts_of = |r: &Rendered| -> Value {
        r.of_kind("StatefulSet")
            .into_iter()
            .find(|d| Rendered::name_of(d) == "blog-postgresql")
            .unwrap()
            .clone()
    };
    // What chart 0.1.0 and 0.2.0 ran: the same pod without TLS options.
    let old = sts_of(rendered("postgres-tls-off"));
    let current = sts_of(rendered("defaults"));
    let job_of = |r: &Rendered| -> (BTreeMap<String, String>, SecretFiles) {
        let pod = r.pod("Job/blog-migrate");
        let c = containers(&pod)
            .into_iter()
            .find(|c| c.name == "migrate")
            .unwrap()
            .clone();
        (env(r, &c), secret_files(&pod))
    };
    let dir = tempfile::tempdir().unwrap();

    std::fs::create_dir(dir.path().join("first")).unwrap();
    let first = render_with_lookup(
        &dir.path().join("first"),
        "templates/migrate-job.yaml",
        STATEFULSET_LOOKUP,
        &old,
    );
    let (env1, files1) = job_of(&first);
    assert_eq!(env1["BLOG_DATABASE__SSL_MODE"], "disable");
    assert!(!env1.contains_key("BLOG_DATABASE__SSL_ROOT_CERT"));
    assert!(
        files1.iter().all(|(_, _, p)| p != "database-ca.crt"),
        "{files1:?}"
    );
    assert!(files1.iter().any(|(_, _, p)| p == "database-password"));
    // The release itself moves to TLS in the same upgrade.
    assert_eq!(first.config()["BLOG_DATABASE__SSL_MODE"], "require");
    assert_eq!(
        postgres_container(&first.pod("StatefulSet/blog-postgresql"))
            .args
            .as_ref()
            .map(|a| a.contains(&"ssl=on".to_owned())),
        Some(true)
    );

    std::fs::create_dir(dir.path().join("later")).unwrap();
    let later = render_with_lookup(
        &dir.path().join("later"),
        "templates/migrate-job.yaml",
        STATEFULSET_LOOKUP,
        &current,
    );
    let (env2, files2) = job_of(&later);
    assert_eq!(env2["BLOG_DATABASE__SSL_MODE"], "require");
    assert_eq!(env2["BLOG_DATABASE__SSL_ROOT_CERT"], CA_PATH);
    assert!(files2.iter().any(|(_, _, p)| p == "database-ca.crt"));
    // Outside an upgrade (and in `helm template`), nothing is looked up.
    let (env3, _) = job_of(rendered("defaults"));
    assert_eq!(env3["BLOG_DATABASE__SSL_MODE"], "require");
}
