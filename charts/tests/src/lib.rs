//! Tests for the Helm chart in `charts/blog`, run against the real `helm`.
//!
//! The tools come from `scripts/install-tools.sh`:
//!
//! ```text
//! source <(scripts/install-tools.sh --env) && cargo test -p chart-tests
//! ```
//!
//! `helm` (the pinned Helm 4) is taken from `$HELM`, `helm3` from `$HELM3`,
//! `kubernetes-validate`, `check-jsonschema`, `checkov` and `shellcheck` from
//! `$BLOG_TOOLS_BIN`; each falls back to `PATH`.
//! A missing tool skips the test that needs it, except with `CI=true`, where
//! it fails the test: CI must never pass by testing nothing.
//!
//! This library renders the chart (`helm template`) for a [`Scenario`] and
//! parses the manifests into typed objects ([`Rendered`]); the tests in
//! `tests/` assert properties of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The release name and namespace every scenario renders with.
pub const RELEASE: &str = "blog";
pub const NAMESPACE: &str = "blog";

/// Kubernetes minors the rendered manifests must be valid for.
pub const KUBE_VERSIONS: [&str; 3] = ["1.35.0", "1.36.0", "1.37.0"];

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

pub fn chart_dir() -> PathBuf {
    repo_root().join("charts/blog")
}

pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Finds a tool: `$env_var`, then `$BLOG_TOOLS_BIN/name`, then `PATH`.
/// Returns `None` (after saying so) when it is missing outside CI; panics in CI.
pub fn tool(name: &str, env_var: Option<&str>) -> Option<PathBuf> {
    let from_env = env_var.and_then(std::env::var_os).map(PathBuf::from);
    let from_tools_bin =
        std::env::var_os("BLOG_TOOLS_BIN").map(|dir| PathBuf::from(dir).join(name));
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    let found = [from_env, from_tools_bin, from_path]
        .into_iter()
        .flatten()
        .find(|p| p.is_file());
    if found.is_none() {
        let hint = "run: source <(scripts/install-tools.sh --env)";
        assert!(!in_ci(), "{name} not found and CI=true ({hint})");
        eprintln!("SKIPPED: {name} not found ({hint})");
    }
    found
}

pub fn helm() -> Option<PathBuf> {
    tool("helm", Some("HELM"))
}

/// Runs a command and returns its output; panics if it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One way of rendering the chart: a values file from `values/`, then values
/// files from `charts/tests/fixtures/`, then `--set`s.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    pub values: Option<&'static str>,
    pub fixtures: &'static [&'static str],
    pub sets: &'static [&'static str],
}

impl Scenario {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            values: None,
            fixtures: &[],
            sets: &[],
        }
    }

    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let files = self
            .values
            .map(|f| repo_root().join("values").join(f))
            .into_iter()
            .chain(
                self.fixtures
                    .iter()
                    .map(|f| tests_dir().join("fixtures").join(f)),
            );
        for file in files {
            args.push("-f".to_owned());
            args.push(file.to_string_lossy().into_owned());
        }
        for set in self.sets {
            args.push("--set".to_owned());
            args.push((*set).to_owned());
        }
        args
    }
}

pub const DEV: Scenario = Scenario {
    values: Some("dev.yaml"),
    ..Scenario::new("dev")
};
pub const STAGING: Scenario = Scenario {
    values: Some("staging.yaml"),
    ..Scenario::new("staging")
};
pub const PRODUCTION: Scenario = Scenario {
    values: Some("production.yaml"),
    ..Scenario::new("production")
};
/// An operator's install on infrastructure that exists already: external
/// Postgres (with its CA), Redis, S3 and SMTP, every secret from a Secret of
/// its own, backups to a bucket of their own.
pub const OPERATOR: Scenario = Scenario {
    values: Some("production.yaml"),
    fixtures: &["operator-existing-infra.yaml"],
    ..Scenario::new("operator-existing-infra")
};

/// The values files and the edge cases every property test runs over.
pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("defaults"),
    DEV,
    STAGING,
    PRODUCTION,
    OPERATOR,
    Scenario {
        values: Some("production.yaml"),
        sets: &[
            "postgresql.enabled=false",
            "redis.enabled=false",
            "database.host=blog.cluster-abc.eu-west-1.rds.example.com",
            "database.sslMode=require",
            "networkPolicy.egress.database.cidrs={10.20.0.0/16}",
            "networkPolicy.egress.redis.cidrs={10.30.0.0/16}",
        ],
        ..Scenario::new("external-db-and-redis")
    },
    Scenario {
        values: Some("staging.yaml"),
        sets: &[
            "postgresql.enabled=false",
            "database.host=blog-db-rw",
            "database.passwordSecret.name=blog-db-app",
            "database.caSecret.name=blog-db-ca",
        ],
        ..Scenario::new("cloudnativepg")
    },
    Scenario {
        values: Some("dev.yaml"),
        sets: &[
            "ingress.enabled=false",
            "httpRoute.enabled=true",
            "httpRoute.hostnames={blog.example.com}",
            "httpRoute.parentRefs[0].name=eg",
            "httpRoute.parentRefs[0].namespace=envoy-gateway-system",
            "httpRoute.parentRefs[0].sectionName=https",
        ],
        ..Scenario::new("httproute")
    },
    Scenario {
        values: Some("dev.yaml"),
        sets: &[
            "autoscaling.enabled=true",
            "autoscaling.minReplicas=2",
            "autoscaling.maxReplicas=4",
            "autoscaling.targetMemoryUtilizationPercentage=80",
        ],
        ..Scenario::new("autoscaling-on")
    },
    Scenario {
        values: Some("production.yaml"),
        sets: &["autoscaling.enabled=false", "replicaCount=4"],
        ..Scenario::new("autoscaling-off")
    },
    Scenario {
        values: Some("staging.yaml"),
        sets: &[
            "rbac.deployer.create=true",
            "metrics.serviceMonitor.enabled=true",
            "autoscaling.enabled=true",
            "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "postgresql.image.digest=sha256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ],
        ..Scenario::new("everything-on")
    },
    // Every app setting set to a value other than its default.
    Scenario {
        fixtures: &["every-setting.yaml"],
        ..Scenario::new("every-setting")
    },
    // extraEnv, extraEnvFrom, extraVolumes, extraVolumeMounts, sidecars,
    // extraEgress and the pod labels/annotations of every component.
    Scenario {
        values: Some("staging.yaml"),
        fixtures: &["escape-hatches.yaml"],
        ..Scenario::new("escape-hatches")
    },
    // S3 through the cloud identity: EKS IRSA (the webhook injects the token).
    Scenario {
        values: Some("production.yaml"),
        sets: &[
            "s3.credentials=false",
            "s3.credentialSource=default_chain",
            "s3.endpoint=https://s3.eu-west-1.amazonaws.com",
            "s3.region=eu-west-1",
            "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/blog",
        ],
        ..Scenario::new("irsa")
    },
    // S3 through web identity from any cluster: the chart projects the token.
    Scenario {
        values: Some("staging.yaml"),
        sets: &[
            "s3.credentials=false",
            "s3.credentialSource=default_chain",
            "s3.endpoint=https://s3.eu-west-1.amazonaws.com",
            "s3.webIdentity.roleArn=arn:aws:iam::123456789012:role/blog",
        ],
        ..Scenario::new("web-identity")
    },
    // The restore Job, rendered on demand.
    Scenario {
        values: Some("production.yaml"),
        sets: &[
            "restore.enabled=true",
            "restore.backup=blog-20260101T031700Z.dump",
        ],
        ..Scenario::new("restore")
    },
];

/// `helm template` output, raw and parsed.
pub struct Rendered {
    pub yaml: String,
    pub docs: Vec<Value>,
}

/// Runs `helm template` for a scenario plus extra arguments.
pub fn helm_template(helm: &Path, args: &[String]) -> Output {
    run(Command::new(helm)
        .arg("template")
        .arg(RELEASE)
        .arg(chart_dir())
        .args(["--namespace", NAMESPACE])
        .args(args))
}

/// Renders a scenario; panics with helm's message if it fails.
pub fn render(helm: &Path, scenario: &Scenario) -> Rendered {
    let out = helm_template(helm, &scenario.args());
    assert!(
        out.status.success(),
        "helm template ({}) failed:\n{}",
        scenario.name,
        text(&out.stderr)
    );
    let yaml = text(&out.stdout);
    let docs = parse_documents(&yaml);
    Rendered { yaml, docs }
}

/// Splits a multi-document YAML stream into JSON values, dropping empty ones.
pub fn parse_documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("helm output is valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

impl Rendered {
    pub fn kind_of(doc: &Value) -> &str {
        doc["kind"].as_str().unwrap_or_default()
    }

    pub fn name_of(doc: &Value) -> &str {
        doc["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// Every document of a kind.
    pub fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.docs
            .iter()
            .filter(|d| Self::kind_of(d) == kind)
            .collect()
    }

    /// Every object of a kind, as its typed k8s-openapi struct.
    pub fn typed<T: DeserializeOwned>(&self, kind: &str) -> Vec<T> {
        self.of_kind(kind)
            .into_iter()
            .map(|d| {
                serde_json::from_value(d.clone())
                    .unwrap_or_else(|e| panic!("{kind} {} does not parse: {e}", Self::name_of(d)))
            })
            .collect()
    }

    /// The one object of a kind with a name; panics if absent.
    pub fn get<T: DeserializeOwned>(&self, kind: &str, name: &str) -> T {
        let doc = self
            .of_kind(kind)
            .into_iter()
            .find(|d| Self::name_of(d) == name)
            .unwrap_or_else(|| panic!("no {kind} named {name}"));
        serde_json::from_value(doc.clone()).expect("typed object")
    }

    pub fn kinds(&self) -> std::collections::BTreeSet<String> {
        self.docs
            .iter()
            .map(|d| Self::kind_of(d).to_owned())
            .collect()
    }

    /// Every pod template (Deployments, StatefulSets, Jobs, CronJobs), named `Kind/name`.
    pub fn pod_templates(&self) -> Vec<(String, PodTemplateSpec)> {
        let mut out = Vec::new();
        for d in self.typed::<Deployment>("Deployment") {
            let spec = d.spec;
            out.push((
                format!("Deployment/{}", d.metadata.name.unwrap_or_default()),
                spec.template,
            ));
        }
        for s in self.typed::<StatefulSet>("StatefulSet") {
            let spec = s.spec;
            out.push((
                format!("StatefulSet/{}", s.metadata.name.unwrap_or_default()),
                spec.template,
            ));
        }
        for j in self.typed::<Job>("Job") {
            let spec = j.spec.expect("Job spec");
            out.push((
                format!("Job/{}", j.metadata.name.unwrap_or_default()),
                spec.template,
            ));
        }
        for c in self.typed::<CronJob>("CronJob") {
            let job = c.spec.job_template.spec;
            out.push((
                format!("CronJob/{}", c.metadata.name.unwrap_or_default()),
                job.expect("jobTemplate spec").template,
            ));
        }
        out
    }

    /// One pod template by its `Kind/name`; panics if absent.
    pub fn pod(&self, kind_name: &str) -> PodTemplateSpec {
        self.pod_templates()
            .into_iter()
            .find(|(n, _)| n == kind_name)
            .unwrap_or_else(|| panic!("no pod template {kind_name}"))
            .1
    }

    /// The data of the app's ConfigMap (every BLOG_* setting).
    pub fn config(&self) -> std::collections::BTreeMap<String, String> {
        let cm: k8s_openapi::api::core::v1::ConfigMap = self.get("ConfigMap", &fullname());
        cm.data.unwrap_or_default()
    }
}

/// Name of the app's resources: the release name, as it contains the
/// chart's name (`blog.fullname` in the chart).
pub fn fullname() -> String {
    RELEASE.to_owned()
}

/// Writes each document to its own JSON file in `dir` (check-jsonschema takes
/// one object per file; JSON has no YAML 1.1/1.2 ambiguities). Returns the paths.
pub fn write_documents(docs: &[&Value], dir: &Path) -> Vec<PathBuf> {
    docs.iter()
        .enumerate()
        .map(|(i, doc)| {
            let path = dir.join(format!(
                "{i:02}-{}-{}.json",
                Rendered::kind_of(doc).to_lowercase(),
                Rendered::name_of(doc)
            ));
            std::fs::write(&path, serde_json::to_string_pretty(doc).expect("json"))
                .expect("write manifest");
            path
        })
        .collect()
}

/// Every scenario of [`SCENARIOS`] rendered once per test binary (the tests
/// in one binary run in parallel threads and share it). `None`: no helm.
pub fn rendered_scenarios() -> Option<&'static [(Scenario, Rendered)]> {
    static CACHE: std::sync::OnceLock<Vec<(Scenario, Rendered)>> = std::sync::OnceLock::new();
    let helm = helm()?;
    Some(CACHE.get_or_init(|| SCENARIOS.iter().map(|s| (*s, render(&helm, s))).collect()))
}

/// Skips (outside CI) a test whose tool is missing.
#[macro_export]
macro_rules! require {
    ($tool:expr) => {
        match $tool {
            Some(path) => path,
            None => return,
        }
    };
}
