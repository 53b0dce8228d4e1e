//! The chart works with Helm 3 too (security fixes until 2027-02): it lints,
//! renders the same objects as the pinned Helm 4, and rejects bad values.

use std::process::Command;

use chart_tests::{
    KUBE_VERSIONS, SCENARIOS, chart_dir, helm_template, parse_documents, rendered_scenarios, run,
    tests_dir, text, tool,
};
use serde_json::Value;

/// Without a cluster Helm 3.17 assumes Kubernetes 1.32, older than the
/// chart's `kubeVersion`; Helm 4 assumes its own client's (1.37). Render as
/// for the oldest supported version, as `helm template` users must too.
fn with_kube_version(mut args: Vec<String>) -> Vec<String> {
    args.extend(["--kube-version".to_owned(), KUBE_VERSIONS[0].to_owned()]);
    args
}

/// Generated values (a fresh random database password, and the bundled
/// Postgres's CA and certificate, per render) differ between any two
/// renders; blank them out before comparing.
fn without_generated(mut docs: Vec<Value>) -> Vec<Value> {
    for doc in &mut docs {
        if doc["kind"] == "Secret" {
            doc["data"]["database-password"] = Value::Null;
            if doc["type"] == "kubernetes.io/tls" {
                doc["data"] = Value::Null;
            }
        }
    }
    docs
}

#[test]
fn helm3_renders_the_same_objects_as_helm4() {
    let helm3 = tool("helm3", Some("HELM3"));
    let all = rendered_scenarios();
    let version = run(Command::new(&helm3).args(["version", "--template", "{{.Version}}"]));
    assert!(
        text(&version.stdout).starts_with("v3."),
        "not Helm 3: {}",
        text(&version.stdout)
    );
    for (scenario, helm4) in all {
        let out = helm_template(&helm3, &with_kube_version(scenario.args()));
        assert!(
            out.status.success(),
            "helm3 template ({}): {}",
            scenario.name,
            text(&out.stderr)
        );
        let docs3 = without_generated(parse_documents(&text(&out.stdout)));
        let docs4 = without_generated(helm4.docs.clone());
        assert_eq!(docs3.len(), docs4.len(), "{}: object count", scenario.name);
        for (a, b) in docs3.iter().zip(&docs4) {
            assert_eq!(a, b, "{}: Helm 3 and 4 render differently", scenario.name);
        }
    }
}

#[test]
fn helm3_lint_strict_passes_and_schema_still_rejects_typos() {
    let helm3 = tool("helm3", Some("HELM3"));
    for scenario in SCENARIOS {
        let out = run(Command::new(&helm3)
            .args(["lint", "--strict", "--namespace", "blog"])
            .arg(chart_dir())
            .args(with_kube_version(scenario.args())));
        assert!(
            out.status.success(),
            "helm3 lint ({}): {}",
            scenario.name,
            text(&out.stdout)
        );
    }
    let typo = tests_dir().join("fixtures/typo-nested.yaml");
    let out = helm_template(
        &helm3,
        &with_kube_version(vec!["-f".to_owned(), typo.to_string_lossy().into_owned()]),
    );
    assert!(!out.status.success(), "helm3 accepted a typo");
    assert!(text(&out.stderr).contains("tsl"), "{}", text(&out.stderr));
}
