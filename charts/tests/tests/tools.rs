//! The chart checked by the real tools: `helm lint --strict`, the values
//! schema, `kubernetes-validate` for every supported Kubernetes minor, the
//! Gateway API schema for HTTPRoutes, and checkov on the production render.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use chart_tests::{
    KUBE_VERSIONS, PRODUCTION, Rendered, SCENARIOS, chart_dir, helm, helm_template, leaf_paths,
    rendered_scenarios, repo_root, run, tests_dir, text, tool, write_documents,
};
use serde_json::Value;

/// Kinds that are CRDs (not in Kubernetes' own schemas).
const CRD_KINDS: [&str; 3] = ["HTTPRoute", "ServiceMonitor", "Certificate"];

#[test]
fn helm_lint_strict_passes_for_every_values_file() {
    let helm = helm();
    for scenario in SCENARIOS {
        let out = run(Command::new(&helm)
            .args(["lint", "--strict", "--namespace", "blog"])
            .arg(chart_dir())
            .args(scenario.args()));
        assert!(
            out.status.success(),
            "helm lint --strict ({}):\n{}{}",
            scenario.name,
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

/// Renders with a fixture values file and returns helm's error output; panics
/// if rendering succeeds. `helm lint` must fail too for schema violations
/// (it reports a template's `fail` only as INFO, so chart checks are not
/// linted).
fn rejected(helm: &Path, fixture: &str, by_schema: bool) -> String {
    let file = tests_dir().join("fixtures").join(fixture);
    let file = file.to_string_lossy().into_owned();
    let template = helm_template(helm, &["-f".to_owned(), file.clone()]);
    assert!(
        !template.status.success(),
        "helm template accepted {fixture}"
    );
    if by_schema {
        let lint = run(Command::new(helm)
            .args(["lint", "--strict"])
            .arg(chart_dir())
            .args(["-f", &file]));
        assert!(!lint.status.success(), "helm lint accepted {fixture}");
    }
    text(&template.stderr)
}

#[test]
fn values_schema_rejects_typos_and_wrong_types() {
    let helm = helm();
    let err = rejected(&helm, "typo-top-level.yaml", true);
    assert!(
        err.contains("additional properties 'replicaCont' not allowed"),
        "{err}"
    );
    let err = rejected(&helm, "typo-nested.yaml", true);
    assert!(err.contains("'tsl'"), "{err}");
    let err = rejected(&helm, "wrong-type.yaml", true);
    assert!(
        err.contains("/replicaCount") && err.contains("want integer"),
        "{err}"
    );
    let err = rejected(&helm, "wrong-enum.yaml", true);
    assert!(err.contains("/smtp/tls"), "{err}");
}

/// Values the chart refuses, and what the refusal must say: the value at
/// fault and the fix. Each is `--set`s (or a fixture), then the fragments.
const REFUSALS: &[(&[&str], &[&str])] = &[
    (
        &["@latest-tag.yaml"],
        &["image.tag: 'latest' is refused", "set image.tag to"],
    ),
    (
        &["postgresql.image.tag=latest"],
        &[
            "postgresql.image.tag: 'latest'",
            "pin postgresql.image.digest",
        ],
    ),
    (
        &[
            "backup.enabled=true",
            "backup.image.repository=postgres",
            "backup.image.tag=latest",
        ],
        &["backup.image.tag: 'latest'"],
    ),
    (
        &[
            "seaweedfs.enabled=true",
            "environment=local",
            "seaweedfs.image.tag=",
        ],
        &["seaweedfs.image.tag is empty: set seaweedfs.image.tag"],
    ),
    (
        &["@short-grace.yaml"],
        &[
            "terminationGracePeriodSeconds (20) must exceed",
            "raise terminationGracePeriodSeconds to at least 26",
        ],
    ),
    (
        &["http.shutdownDrainSeconds=15"],
        &["http.shutdownDrainSeconds", "at least 41"],
    ),
    (
        &["httpRoute.enabled=true"],
        &[
            "ingress.enabled and httpRoute.enabled",
            "set ingress.enabled=false",
        ],
    ),
    (
        &[
            "podDisruptionBudget.enabled=true",
            "podDisruptionBudget.maxUnavailable=",
        ],
        &["set podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable"],
    ),
    (
        &[
            "autoscaling.enabled=true",
            "autoscaling.minReplicas=5",
            "autoscaling.maxReplicas=3",
        ],
        &["autoscaling.minReplicas (5) exceeds autoscaling.maxReplicas (3)"],
    ),
    (
        &["postgresql.enabled=false"],
        &["database.host is empty", "set database.host"],
    ),
    (
        &["@external-db-without-password.yaml"],
        &[
            "the database password: set secrets.databasePassword",
            "database.passwordSecret.name",
            "existingSecret (a Secret with key database-password)",
        ],
    ),
    (
        &["redis.enabled=false"],
        &[
            "redis.enabled=false",
            "set secrets.redisUrl, or redis.urlSecret.name",
        ],
    ),
    (
        &["s3.credentials=true"],
        &[
            "s3.credentials=true needs the S3 access key: set secrets.s3AccessKey, or s3.accessKeySecret.name",
        ],
    ),
    (
        &["s3.credentials=true", "secrets.s3AccessKey=a"],
        &["S3 secret key: set secrets.s3SecretKey, or s3.secretKeySecret.name"],
    ),
    (
        &["smtp.auth=true"],
        &["smtp.auth=true needs the SMTP user name: set secrets.smtpUsername"],
    ),
    (
        &["database.passwordSecret.name=db"],
        &[
            "database.passwordSecret.name is for an external database",
            "unset database.passwordSecret.name",
        ],
    ),
    (
        &["database.caSecret.name=ca"],
        &[
            "database.caSecret.name is for an external database",
            "set postgresql.tls.existingSecret",
        ],
    ),
    (
        &[
            "postgresql.tls.existingSecret=blog-db-tls",
            "postgresql.tls.certManager.enabled=true",
            "postgresql.tls.certManager.issuerRef.name=ca",
        ],
        &[
            "postgresql.tls.existingSecret and postgresql.tls.certManager.enabled are both set",
            "unset postgresql.tls.existingSecret",
        ],
    ),
    (
        &["postgresql.tls.certManager.enabled=true"],
        &[
            "postgresql.tls.certManager.enabled=true needs an issuer",
            "set postgresql.tls.certManager.issuerRef.name",
        ],
    ),
    (
        &[
            "postgresql.tls.enabled=false",
            "postgresql.tls.existingSecret=blog-db-tls",
        ],
        &[
            "postgresql.tls.existingSecret or postgresql.tls.certManager is set but postgresql.tls.enabled=false",
            "set postgresql.tls.enabled=true",
        ],
    ),
    (
        &[
            "s3.credentials=true",
            "s3.credentialSource=default_chain",
            "existingSecret=x",
        ],
        &[
            "s3.credentialSource=default_chain",
            "set s3.credentials=false",
        ],
    ),
    (
        &["s3.accessKeySecret.name=s3-credentials"],
        &[
            "s3.accessKeySecret.name is set but s3.credentials=false",
            "set s3.credentials=true",
        ],
    ),
    (
        &["smtp.passwordSecret.name=smtp-credentials"],
        &[
            "smtp.passwordSecret.name is set but smtp.auth=false",
            "set smtp.auth=true",
        ],
    ),
    (
        &["s3.webIdentity.roleArn=arn:aws:iam::123456789012:role/blog"],
        &["set s3.credentialSource=default_chain"],
    ),
    (
        &["seaweedfs.enabled=true"],
        &[
            "seaweedfs.enabled=true with environment=production",
            "set environment=local",
        ],
    ),
    (
        &["mailpit.enabled=true"],
        &["mailpit.enabled=true with environment=production"],
    ),
    (
        &[
            "seaweedfs.enabled=true",
            "environment=local",
            "s3.credentials=true",
            "existingSecret=x",
        ],
        &[
            "seaweedfs.enabled=true serves S3 anonymously",
            "set s3.credentials=false",
        ],
    ),
];

#[test]
fn chart_refuses_unsafe_or_incomplete_values_naming_the_value_and_the_fix() {
    let helm = helm();
    for (inputs, fragments) in REFUSALS {
        let mut args = Vec::new();
        for input in *inputs {
            match input.strip_prefix('@') {
                Some(fixture) => {
                    args.push("-f".to_owned());
                    args.push(
                        tests_dir()
                            .join("fixtures")
                            .join(fixture)
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
                None => {
                    args.push("--set".to_owned());
                    args.push((*input).to_owned());
                }
            }
        }
        let out = helm_template(&helm, &args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{inputs:?} accepted");
        // Reported from the checks, not from whichever template hit it first.
        assert!(err.contains("templates/validate.yaml"), "{inputs:?}: {err}");
        for fragment in *fragments {
            assert!(
                err.contains(fragment),
                "{inputs:?}: {fragment:?} not in: {err}"
            );
        }
    }
}

/// Every refusal the templates can make says what to set: no bare
/// `required`, and each `fail` message names a fix.
#[test]
fn every_refusal_in_the_templates_names_a_fix() {
    let mut fails = 0;
    for entry in std::fs::read_dir(chart_dir().join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !source.contains("required "),
            "{file}: `required` gives no fix; use blog.validate"
        );
        for (i, _) in source.match_indices("fail ") {
            let line = source[i..].lines().next().unwrap();
            fails += 1;
            assert!(
                line.contains("set ") || line.contains("unset ") || line.contains("raise "),
                "{file}: a refusal without a fix: {line}"
            );
        }
    }
    assert!(fails >= 15, "only {fails} refusals found");
}

/// `kubeVersion` in Chart.yaml, the versions the manifests are validated
/// for, and what the READMEs say are one range.
#[test]
fn kube_version_range_is_one_range_everywhere() {
    let chart = std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap();
    let chart: Value = serde_norway::from_str(&chart).unwrap();
    let range = chart["kubeVersion"].as_str().unwrap();
    let minor = |v: &str| v.split('.').nth(1).unwrap().parse::<u32>().unwrap();
    let (oldest, newest) = (KUBE_VERSIONS[0], KUBE_VERSIONS[KUBE_VERSIONS.len() - 1]);
    assert_eq!(
        range,
        format!(">=1.{}.0-0", minor(oldest)),
        "Chart.yaml kubeVersion"
    );
    let supported = format!(
        "Kubernetes 1.{} or newer (tested on 1.{}–1.{})",
        minor(oldest),
        minor(oldest),
        minor(newest)
    );
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    assert!(
        readme.contains(&supported),
        "chart README must say {supported:?}"
    );
    let deploying = std::fs::read_to_string(repo_root().join("docs/deploying.md")).unwrap();
    let prerequisite = format!("Kubernetes ≥ 1.{}", minor(oldest));
    assert!(
        deploying.contains(&prerequisite),
        "docs/deploying.md must say {prerequisite:?}"
    );

    let helm = helm();
    let below = format!("1.{}.0", minor(oldest) - 1);
    let out = helm_template(&helm, &["--kube-version".to_owned(), below.clone()]);
    assert!(!out.status.success(), "renders for {below}");
    assert!(
        text(&out.stderr).contains("incompatible with Kubernetes"),
        "{}",
        text(&out.stderr)
    );
    for version in KUBE_VERSIONS {
        let out = helm_template(&helm, &["--kube-version".to_owned(), version.to_owned()]);
        assert!(out.status.success(), "{version}: {}", text(&out.stderr));
    }
}

/// Settings an upgrade from chart 0.1.0 changes on purpose: (variable,
/// value then, value now, why).
const CHANGED_ON_PURPOSE: &[(&str, &str, &str, &str)] = &[(
    "BLOG_DATABASE__SSL_MODE",
    "disable",
    "require",
    "the bundled Postgres serves TLS by default (postgresql.tls), and the app verifies it; \
     the first upgrade's pre-upgrade migration still connects as before \
     (tests/postgres_tls.rs)",
)];

/// The values files of the previous release (fixtures/upgrade-from-0.1.0)
/// still render, and keep every setting, secret file and object that
/// chart 0.1.0 rendered from them: an upgrade drops nothing silently.
#[test]
fn previous_release_values_still_render_every_setting() {
    let helm = helm();
    let dir = tests_dir().join("fixtures/upgrade-from-0.1.0");
    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rendered-by-0.1.0.json")).unwrap())
            .unwrap();
    let files = before.as_object().unwrap();
    assert_eq!(files.len(), 4, "values.yaml and the three environments");
    for (file, old) in files {
        let values = dir
            .join(format!("{file}.yaml"))
            .to_string_lossy()
            .into_owned();
        let out = helm_template(&helm, &["-f".to_owned(), values]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        let now = chart_tests::parse_documents(&text(&out.stdout));
        let objects: BTreeSet<String> = now
            .iter()
            .map(|d| format!("{}/{}", Rendered::kind_of(d), Rendered::name_of(d)))
            .collect();
        for object in old["objects"].as_array().unwrap() {
            assert!(
                objects.contains(object.as_str().unwrap()),
                "{file}: {object} no longer rendered"
            );
        }
        let cm = now
            .iter()
            .find(|d| Rendered::kind_of(d) == "ConfigMap")
            .unwrap();
        for (key, value) in old["config"].as_object().unwrap() {
            let value = CHANGED_ON_PURPOSE
                .iter()
                .find(|(k, was, _, _)| k == key && value == was)
                .map_or(value.clone(), |(_, _, now, _)| Value::from(*now));
            assert_eq!(cm["data"][key], value, "{file}: {key} changed or dropped");
        }
        let app = now
            .iter()
            .find(|d| {
                Rendered::kind_of(d) == "Deployment" && Rendered::name_of(d) == chart_tests::RELEASE
            })
            .unwrap();
        let env: BTreeSet<&str> = app["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["value"].as_str())
            .collect();
        for secret_file in old["secret_files"].as_array().unwrap() {
            assert!(
                env.contains(secret_file.as_str().unwrap()),
                "{file}: {secret_file} no longer mounted"
            );
        }
    }
}

/// Every object of every scenario, for the given kinds filter.
fn all_docs(keep: impl Fn(&str) -> bool) -> Vec<(String, &'static Value)> {
    rendered_scenarios()
        .iter()
        .flat_map(|(s, r)| r.docs.iter().map(move |d| (s.name.to_owned(), d)))
        .filter(|(_, d)| keep(Rendered::kind_of(d)))
        .collect()
}

#[test]
fn rendered_objects_validate_for_kubernetes_1_35_to_1_37() {
    let validate = tool("kubernetes-validate", None);
    let all = rendered_scenarios();
    // helm's own output, not a re-serialisation: kubernetes-validate reads
    // YAML 1.1 like the API machinery does (`no`, `0440`, …).
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut expected = 0;
    for (scenario, r) in all {
        let path = dir.path().join(format!("{}.yaml", scenario.name));
        std::fs::write(&path, &r.yaml).unwrap();
        files.push(path);
        expected += r
            .docs
            .iter()
            .filter(|d| !CRD_KINDS.contains(&Rendered::kind_of(d)))
            .count();
    }
    assert!(expected > 50, "expected many objects, got {expected}");
    // The three versions run concurrently: each run spends most of its time
    // loading schemas.
    let runs: Vec<_> = KUBE_VERSIONS
        .iter()
        .map(|version| {
            let child = Command::new(&validate)
                .args(["--strict", "-k", version])
                .args(&files)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start kubernetes-validate");
            (version, child)
        })
        .collect();
    for (version, child) in runs {
        let out = child.wait_with_output().expect("kubernetes-validate");
        let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "kubernetes-validate {version}:\n{report}"
        );
        // An unknown kind only WARNs with exit 0: only CRDs may lack a
        // schema, and every built-in object must have passed.
        for line in report
            .lines()
            .filter(|l| l.contains("Couldn't find schema"))
        {
            assert!(
                CRD_KINDS
                    .iter()
                    .any(|k| line.contains(&format!("kind {k} "))),
                "{version}: {line}"
            );
        }
        let passed = report
            .lines()
            .filter(|l| l.contains(" passed for resource "))
            .count();
        assert_eq!(passed, expected, "kubernetes-validate {version}:\n{report}");
    }
}

#[test]
fn httproutes_match_the_gateway_api_v1_schema() {
    let _helm = helm();
    let checker = tool("check-jsonschema", None);
    let schema = tests_dir().join("schemas/httproute-v1.6-standard.json");
    let routes = all_docs(|kind| kind == "HTTPRoute");
    assert!(
        routes.len() >= 3,
        "staging, httproute and everything-on render one each"
    );
    let dir = tempfile::tempdir().unwrap();
    let files = write_documents(
        &routes.iter().map(|(_, d)| *d).collect::<Vec<_>>(),
        dir.path(),
    );
    let out = run(Command::new(&checker)
        .arg("--schemafile")
        .arg(&schema)
        .args(&files));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // The schema is strict enough to catch real mistakes.
    let broken = tests_dir().join("fixtures/httproute-invalid.yaml");
    let out = run(Command::new(&checker)
        .arg("--schemafile")
        .arg(&schema)
        .arg(&broken));
    let report = text(&out.stdout);
    assert!(!out.status.success(), "broken HTTPRoute accepted");
    for problem in [
        "Not_A_Hostname",
        "'Prefix' is not one of",
        "'backendRef' was unexpected",
    ] {
        assert!(
            report.contains(problem),
            "missing {problem:?} in:\n{report}"
        );
    }
}

/// Checks checkov skips; each is justified in charts/blog/README.md.
const JUSTIFIED_SKIPS: [&str; 3] = ["CKV_K8S_11", "CKV_K8S_40", "CKV_K8S_43"];

#[test]
fn checkov_finds_no_unjustified_failures_in_production() {
    let helm = helm();
    let checkov = tool("checkov", None);
    let rendered = chart_tests::render(&helm, &PRODUCTION);
    // Not tempfile's default `.tmpXXXX`: checkov skips hidden directories.
    let dir = tempfile::Builder::new()
        .prefix("checkov-")
        .tempdir()
        .unwrap();
    std::fs::write(dir.path().join("production.yaml"), &rendered.yaml).unwrap();
    let out = run(Command::new(&checkov).arg("-d").arg(dir.path()).args([
        "--framework",
        "kubernetes",
        "--skip-download",
        "-o",
        "json",
    ]));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("checkov output is not JSON ({e}): {}", text(&out.stderr)));
    let summary = &report["summary"];
    let failed: Vec<String> = report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} ({})", c["check_id"], c["resource"], c["check_name"]))
        .collect();
    eprintln!("checkov on production: {summary}");
    assert!(
        failed.is_empty(),
        "checkov failures:\n{}",
        failed.join("\n")
    );
    assert_eq!(summary["failed"], 0);
    assert!(
        summary["passed"].as_u64().unwrap() > 300,
        "checkov ran too few checks: {summary}"
    );
    let skipped: BTreeSet<String> = report["results"]["skipped_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["check_id"].as_str().unwrap().to_owned())
        .collect();
    for id in &skipped {
        assert!(
            JUSTIFIED_SKIPS.contains(&id.as_str()),
            "skip {id} is not justified in the chart README"
        );
    }
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    for id in JUSTIFIED_SKIPS {
        assert!(readme.contains(id), "chart README must justify {id}");
    }
}

#[test]
fn install_tools_script_is_shellcheck_clean() {
    let shellcheck = tool("shellcheck", None);
    let out = run(Command::new(shellcheck).arg(repo_root().join("scripts/install-tools.sh")));
    assert!(out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn chart_readme_documents_every_value() {
    let values = std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap();
    let values: Value = serde_norway::from_str(&values).unwrap();
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    let keys = leaf_paths(&values);
    assert!(keys.len() > 100, "{keys:?}");
    // A key is documented by its own row or by a row for a map above it
    // (e.g. `resources` covers `resources.requests.cpu`).
    let missing: Vec<_> = keys
        .iter()
        .filter(|key| {
            let parts: Vec<&str> = key.split('.').collect();
            !(1..=parts.len()).any(|n| readme.contains(&format!("| `{}` |", parts[..n].join("."))))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "values missing from charts/blog/README.md: {missing:?}"
    );
}

#[test]
fn install_notes_render_with_the_public_url() {
    let helm = helm();
    let all = rendered_scenarios();
    for (scenario, r) in all {
        // --dry-run=client renders NOTES.txt without a cluster.
        let out = run(Command::new(&helm)
            .args(["install", "blog", "--dry-run=client", "--namespace", "blog"])
            .arg(chart_dir())
            .args(scenario.args()));
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            scenario.name,
            text(&out.stderr)
        );
        let notes = stdout.split("\nNOTES:\n").nth(1).expect("NOTES section");
        let cm = r.of_kind("ConfigMap")[0];
        let url = cm["data"]["BLOG_HTTP__PUBLIC_URL"].as_str().unwrap();
        assert!(
            notes.contains(&format!("Public URL: {url}")),
            "{}: {notes}",
            scenario.name
        );
        assert!(
            notes.contains("kubectl -n blog rollout status deployment/blog"),
            "{notes}"
        );
    }
}
