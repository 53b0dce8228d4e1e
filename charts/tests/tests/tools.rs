//! The chart checked by the real tools: `helm lint --strict`, the values
//! schema, `kubernetes-validate` for every supported Kubernetes minor, the
//! Gateway API schema for HTTPRoutes, and checkov on the production render.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use chart_tests::{
    KUBE_VERSIONS, PRODUCTION, Rendered, SCENARIOS, chart_dir, helm, helm_template,
    rendered_scenarios, repo_root, require, run, tests_dir, text, tool, write_documents,
};
use serde_json::Value;

/// Kinds that are CRDs (not in Kubernetes' own schemas).
const CRD_KINDS: [&str; 2] = ["HTTPRoute", "ServiceMonitor"];

#[test]
fn helm_lint_strict_passes_for_every_values_file() {
    let helm = require!(helm());
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
    let helm = require!(helm());
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

#[test]
fn chart_refuses_unsafe_or_incomplete_values() {
    let helm = require!(helm());
    let err = rejected(&helm, "latest-tag.yaml", true);
    assert!(err.contains("/image/tag"), "{err}");
    let err = rejected(&helm, "short-grace.yaml", false);
    assert!(err.contains("terminationGracePeriodSeconds"), "{err}");
    let err = rejected(&helm, "external-db-without-password.yaml", false);
    assert!(err.contains("databasePassword"), "{err}");
}

/// Every object of every scenario, for the given kinds filter.
fn all_docs(keep: impl Fn(&str) -> bool) -> Vec<(String, &'static Value)> {
    let Some(all) = rendered_scenarios() else {
        return Vec::new();
    };
    all.iter()
        .flat_map(|(s, r)| r.docs.iter().map(move |d| (s.name.to_owned(), d)))
        .filter(|(_, d)| keep(Rendered::kind_of(d)))
        .collect()
}

#[test]
fn rendered_objects_validate_for_kubernetes_1_35_to_1_37() {
    let validate = require!(tool("kubernetes-validate", None));
    let Some(all) = rendered_scenarios() else {
        return;
    };
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
    let _helm = require!(helm());
    let checker = require!(tool("check-jsonschema", None));
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
    let helm = require!(helm());
    let checkov = require!(tool("checkov", None));
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
    let shellcheck = require!(tool("shellcheck", None));
    let out = run(Command::new(shellcheck).arg(repo_root().join("scripts/install-tools.sh")));
    assert!(out.status.success(), "{}", text(&out.stdout));
}

fn leaf_keys(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_keys(v, &key, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn chart_readme_documents_every_value() {
    let values = std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap();
    let values: Value = serde_norway::from_str(&values).unwrap();
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    let mut keys = Vec::new();
    leaf_keys(&values, "", &mut keys);
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
    let helm = require!(helm());
    let Some(all) = rendered_scenarios() else {
        return;
    };
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
