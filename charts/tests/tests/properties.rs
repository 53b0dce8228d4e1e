//! Properties every rendering of the chart must have, checked on typed
//! objects for each values file and edge case in `chart_tests::SCENARIOS`.

use std::collections::{BTreeMap, BTreeSet};

use chart_tests::{Rendered, containers, fullname, rendered_scenarios};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PodTemplateSpec, Probe, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

fn labels_of(pod: &PodTemplateSpec) -> BTreeMap<String, String> {
    pod.metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

/// Does a label selector (matchLabels only: the chart uses no expressions) select these labels?
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn match_labels(selector: &LabelSelector) -> BTreeMap<String, String> {
    assert!(
        selector.match_expressions.is_none(),
        "matchExpressions are not expected in this chart"
    );
    selector.match_labels.clone().unwrap_or_default()
}

#[test]
fn every_pod_meets_pod_security_restricted() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        let pods = r.pod_templates();
        assert!(!pods.is_empty(), "{}: no workloads", scenario.name);
        for (name, pod) in &pods {
            let at = format!("{}: {name}", scenario.name);
            let spec = pod.spec.as_ref().unwrap();
            let psc = spec.security_context.as_ref().expect("pod securityContext");
            assert_eq!(psc.run_as_non_root, Some(true), "{at}: runAsNonRoot");
            assert!(psc.run_as_user.is_some_and(|u| u > 0), "{at}: runAsUser");
            assert_eq!(
                psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
                Some("RuntimeDefault"),
                "{at}: seccompProfile"
            );
            assert_eq!(
                spec.automount_service_account_token,
                Some(false),
                "{at}: automountServiceAccountToken"
            );
            for flag in [spec.host_network, spec.host_pid, spec.host_ipc] {
                assert_ne!(flag, Some(true), "{at}: host namespaces");
            }
            for volume in spec.volumes.iter().flatten() {
                assert!(volume.host_path.is_none(), "{at}: hostPath volume");
            }
            for c in containers(pod) {
                let at = format!("{at}/{}", c.name);
                let sc = c
                    .security_context
                    .as_ref()
                    .expect("container securityContext");
                assert_eq!(
                    sc.allow_privilege_escalation,
                    Some(false),
                    "{at}: allowPrivilegeEscalation"
                );
                assert_ne!(sc.privileged, Some(true), "{at}: privileged");
                assert_eq!(
                    sc.read_only_root_filesystem,
                    Some(true),
                    "{at}: readOnlyRootFilesystem"
                );
                assert_eq!(sc.run_as_non_root, Some(true), "{at}: runAsNonRoot");
                let caps = sc.capabilities.as_ref().expect("capabilities");
                assert_eq!(
                    caps.drop.as_deref(),
                    Some(&["ALL".to_owned()][..]),
                    "{at}: drop ALL"
                );
                assert!(
                    caps.add.as_ref().is_none_or(|a| a.is_empty()),
                    "{at}: adds capabilities"
                );
                let mounts: Vec<_> = c
                    .volume_mounts
                    .iter()
                    .flatten()
                    .map(|m| m.mount_path.as_str())
                    .collect();
                assert!(
                    mounts.contains(&"/tmp"),
                    "{at}: read-only root needs a writable /tmp"
                );
            }
        }
    }
}

fn http_path(probe: &Option<Probe>) -> Option<&str> {
    probe.as_ref()?.http_get.as_ref()?.path.as_deref()
}

#[test]
fn long_running_containers_have_distinct_probes() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        for (name, pod) in r.pod_templates() {
            if name.starts_with("Job/") || name.starts_with("CronJob/") {
                continue; // run to completion: no probes
            }
            // The chart's own containers (sidecars are the operator's).
            for c in &pod.spec.as_ref().unwrap().containers {
                let at = format!("{}: {name}/{}", scenario.name, c.name);
                let (live, ready) = (c.liveness_probe.as_ref(), c.readiness_probe.as_ref());
                assert!(
                    live.is_some() && ready.is_some(),
                    "{at}: liveness and readiness probes"
                );
                assert!(c.startup_probe.is_some(), "{at}: startup probe");
                assert_ne!(
                    serde_json::to_value(live).unwrap(),
                    serde_json::to_value(ready).unwrap(),
                    "{at}: liveness must differ from readiness"
                );
            }
        }
        let app: Deployment = r.get("Deployment", &fullname());
        let c = &app.spec.template.spec.unwrap().containers[0];
        // Liveness checks the process only; readiness includes Postgres and Redis.
        assert_eq!(
            http_path(&c.liveness_probe),
            Some("/healthz"),
            "{}",
            scenario.name
        );
        assert_eq!(
            http_path(&c.startup_probe),
            Some("/healthz"),
            "{}",
            scenario.name
        );
        assert_eq!(
            http_path(&c.readiness_probe),
            Some("/readyz"),
            "{}",
            scenario.name
        );
    }
}

#[test]
fn images_are_pinned_never_latest() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        for (name, pod) in r.pod_templates() {
            for c in containers(&pod) {
                let image = c.image.as_deref().expect("image");
                let at = format!("{}: {name}/{}: {image}", scenario.name, c.name);
                let (without_digest, digest) = match image.split_once('@') {
                    Some((i, d)) => (i, Some(d)),
                    None => (image, None),
                };
                let last = without_digest.rsplit('/').next().unwrap();
                let tag = last.split_once(':').map(|(_, t)| t);
                assert!(tag.is_some(), "{at}: untagged");
                assert_ne!(tag, Some("latest"), "{at}: latest");
                if let Some(d) = digest {
                    assert!(
                        d.starts_with("sha256:") && d.len() == 71,
                        "{at}: bad digest"
                    );
                }
            }
        }
        if scenario.name == "everything-on" {
            let app: Deployment = r.get("Deployment", &fullname());
            let image = app.spec.template.spec.unwrap().containers[0]
                .image
                .clone()
                .unwrap();
            assert!(image.contains("@sha256:0123"), "digest not used: {image}");
        }
    }
}

/// A variable names a secret when its last word does (`…_PASSWORD`,
/// `…_SECRET_KEY`, `…_TOKEN`): `BLOG_AUTH__PASSWORD_RESET_TTL_MINUTES` or
/// `BLOG_S3__CREDENTIAL_SOURCE` are settings about secrets, not secrets.
fn looks_secret(name: &str) -> bool {
    let upper = name.to_uppercase();
    let last = upper.rsplit('_').next().unwrap_or_default();
    [
        "PASSWORD",
        "SECRET",
        "KEY",
        "TOKEN",
        "CREDENTIAL",
        "CREDENTIALS",
    ]
    .contains(&last)
}

#[test]
fn no_secret_values_in_configmaps_or_env_literals() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        for cm in r.typed::<ConfigMap>("ConfigMap") {
            for (key, value) in cm.data.unwrap_or_default() {
                let at = format!("{}: ConfigMap {key}", scenario.name);
                assert!(
                    !looks_secret(&key),
                    "{at}: secret-looking key in a ConfigMap"
                );
                // A URL with user info (redis://:pw@host) carries a password.
                assert!(
                    !value.contains('@') || !value.contains("://"),
                    "{at}: credentials in a URL"
                );
            }
        }
        for (name, pod) in r.pod_templates() {
            for c in containers(&pod) {
                for env in c.env.iter().flatten() {
                    let at = format!("{}: {name}/{} env {}", scenario.name, c.name, env.name);
                    if env.value.is_some() && !env.name.ends_with("_FILE") {
                        assert!(
                            !looks_secret(&env.name),
                            "{at}: secret given as a literal value"
                        );
                    }
                    if let Some(value) = &env.value {
                        assert!(
                            !value.contains('@') || !value.contains("://"),
                            "{at}: credentials in a URL"
                        );
                    }
                }
            }
        }
        // With an existingSecret the chart renders no Secret of the app's.
        // (The bundled Postgres's generated TLS Secret is the exception:
        // readable by whoever can read the release records, which are
        // Secrets of the same namespace; postgresql.tls.existingSecret or
        // certManager avoid it too.)
        if [Some("production.yaml"), Some("staging.yaml")].contains(&scenario.values) {
            let rendered: Vec<_> = r
                .of_kind("Secret")
                .into_iter()
                .map(Rendered::name_of)
                .filter(|name| *name != "blog-postgresql-tls")
                .collect();
            assert!(
                rendered.is_empty(),
                "{}: Secret rendered despite existingSecret: {rendered:?}",
                scenario.name
            );
        }
    }
}

fn hook_of(doc: &Value) -> Option<(BTreeSet<String>, i64, String)> {
    let ann = &doc["metadata"]["annotations"];
    let hooks = ann["helm.sh/hook"].as_str()?;
    let weight = ann["helm.sh/hook-weight"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .expect("weight");
    let policy = ann["helm.sh/hook-delete-policy"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Some((
        hooks.split(',').map(str::to_owned).collect(),
        weight,
        policy,
    ))
}

#[test]
fn migration_job_is_a_hook_that_runs_after_what_it_needs() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        let at = scenario.name;
        let migrate = format!("{}-migrate", fullname());
        let jobs: Vec<_> = r
            .of_kind("Job")
            .into_iter()
            .filter(|j| Rendered::name_of(j) == migrate)
            .collect();
        assert_eq!(jobs.len(), 1, "{at}: one migration Job");
        let job_doc = jobs[0];
        let (events, job_weight, policy) = hook_of(job_doc).expect("Job is a hook");
        assert!(
            events.contains("pre-upgrade"),
            "{at}: migrates before upgrading"
        );
        let bundled = !r.of_kind("StatefulSet").is_empty();
        let first = if bundled {
            "post-install"
        } else {
            "pre-install"
        };
        assert!(
            events.contains(first),
            "{at}: {first} expected, got {events:?}"
        );
        assert!(
            policy.contains("before-hook-creation") && policy.contains("hook-succeeded"),
            "{at}: {policy}"
        );

        let job: Job = serde_json::from_value(job_doc.clone()).unwrap();
        let spec = job.spec.unwrap();
        assert!(spec.backoff_limit.is_some(), "{at}: backoffLimit");
        assert!(
            spec.active_deadline_seconds.is_some(),
            "{at}: activeDeadlineSeconds"
        );
        assert!(
            spec.ttl_seconds_after_finished.is_some(),
            "{at}: ttlSecondsAfterFinished"
        );
        let pod = spec.template.spec.unwrap();
        assert_eq!(
            pod.containers[0].args.as_deref(),
            Some(&["migrate".to_owned()][..])
        );

        // What the Job's pod references must exist before it: a hook of the
        // same events with a lower weight, or something outside the release.
        let needs: Vec<(&str, String)> = pod
            .volumes
            .iter()
            .flatten()
            .flat_map(|v| {
                let plain = v.secret.as_ref().and_then(|s| s.secret_name.clone());
                let projected = v.projected.iter().flat_map(|p| p.sources.iter().flatten());
                let projected = projected.filter_map(|s| Some(s.secret.as_ref()?.name.clone()));
                plain.into_iter().chain(projected).collect::<Vec<_>>()
            })
            .map(|n| ("Secret", n))
            .chain(
                pod.service_account_name
                    .clone()
                    .map(|n| ("ServiceAccount", n)),
            )
            .collect();
        assert!(!needs.is_empty());
        for (kind, name) in needs {
            let Some(doc) = r
                .of_kind(kind)
                .into_iter()
                .find(|d| Rendered::name_of(d) == name)
            else {
                assert_eq!(kind, "Secret", "{at}: {kind} {name} must be rendered");
                continue; // an existingSecret, created before the release
            };
            let (dep_events, weight, _) = hook_of(doc).unwrap_or_else(|| {
                panic!("{at}: {kind} {name} is needed by a hook, so must be one")
            });
            assert!(
                weight < job_weight,
                "{at}: {kind} {name} weight {weight} !< {job_weight}"
            );
            assert!(
                events.is_subset(&dep_events) || dep_events.contains("pre-install"),
                "{at}: {kind} {name} events"
            );
        }
        // The ConfigMap is not a hook (it may not exist on first install), so
        // the Job carries the same settings inline.
        assert!(
            !pod.containers[0]
                .env_from
                .iter()
                .flatten()
                .any(|e| e.config_map_ref.is_some()),
            "{at}: Job must not need the ConfigMap"
        );
        // The settings come first, then the secret files and extraEnv (which
        // may override a setting in both the Job and the app: env wins over
        // the ConfigMap's envFrom).
        let cm = r.config();
        let env = pod.containers[0].env.clone().unwrap_or_default();
        let settings: BTreeMap<String, String> = env
            .iter()
            .take(cm.len())
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(settings, cm, "{at}: Job env and ConfigMap differ");
        let app: Deployment = r.get("Deployment", &fullname());
        let app_env = app.spec.template.spec.unwrap().containers[0].env.clone();
        assert_eq!(
            &env[cm.len()..],
            app_env.as_deref().unwrap_or_default(),
            "{at}: the Job's env after the settings is the app's"
        );
    }
}

/// The pods a selector picks among the rendered workloads.
fn pods_selected<'a>(
    pods: &'a [(String, PodTemplateSpec)],
    selector: &BTreeMap<String, String>,
) -> Vec<&'a (String, PodTemplateSpec)> {
    pods.iter()
        .filter(|(_, p)| selects(selector, &labels_of(p)))
        .collect()
}

#[test]
fn services_select_pods_and_target_their_ports() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        let pods = r.pod_templates();
        for svc in r.typed::<Service>("Service") {
            let name = svc.metadata.name.clone().unwrap();
            let spec = svc.spec.unwrap();
            let selector = spec.selector.unwrap_or_default();
            let at = format!("{}: Service {name}", scenario.name);
            let targets = pods_selected(&pods, &selector);
            assert!(!targets.is_empty(), "{at}: selects no pod");
            for (pod_name, pod) in targets {
                assert!(!pod_name.starts_with("Job/"), "{at}: selects Job pods");
                let ports: Vec<_> = containers(pod)
                    .into_iter()
                    .flat_map(|c| c.ports.iter().flatten())
                    .collect();
                for port in spec.ports.iter().flatten() {
                    let ok = match port.target_port.as_ref().expect("explicit targetPort") {
                        IntOrString::String(n) => {
                            ports.iter().any(|p| p.name.as_deref() == Some(n))
                        }
                        IntOrString::Int(n) => ports.iter().any(|p| p.container_port == *n),
                    };
                    assert!(
                        ok,
                        "{at}: targetPort {:?} not in {pod_name}",
                        port.target_port
                    );
                }
            }
        }
    }
}

#[test]
fn workload_pdb_and_policy_selectors_match_pod_labels() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        let at = scenario.name;
        let pods = r.pod_templates();
        for d in r.typed::<Deployment>("Deployment") {
            let spec = d.spec;
            assert!(
                selects(&match_labels(&spec.selector), &labels_of(&spec.template)),
                "{at}: Deployment selector"
            );
        }
        for s in r.typed::<StatefulSet>("StatefulSet") {
            let spec = s.spec;
            assert!(
                selects(&match_labels(&spec.selector), &labels_of(&spec.template)),
                "{at}: StatefulSet selector"
            );
            let svc = spec.service_name.expect("serviceName");
            let headless: Service = r.get("Service", &svc);
            assert_eq!(
                headless.spec.unwrap().cluster_ip.as_deref(),
                Some("None"),
                "{at}: headless Service"
            );
        }
        for pdb in r.typed::<PodDisruptionBudget>("PodDisruptionBudget") {
            let sel = match_labels(pdb.spec.unwrap().selector.as_ref().unwrap());
            let picked = pods_selected(&pods, &sel);
            assert_eq!(picked.len(), 1, "{at}: PDB must pick exactly the app");
            assert_eq!(picked[0].0, format!("Deployment/{}", fullname()));
        }
        for np in r.typed::<NetworkPolicy>("NetworkPolicy") {
            let sel = match_labels(&np.spec.unwrap().pod_selector.unwrap());
            assert!(
                !pods_selected(&pods, &sel).is_empty(),
                "{at}: NetworkPolicy {:?} selects nothing",
                np.metadata.name
            );
        }
        for hpa in r.of_kind("HorizontalPodAutoscaler") {
            let target = hpa["spec"]["scaleTargetRef"]["name"].as_str().unwrap();
            assert_eq!(target, fullname(), "{at}: HPA target");
        }
        for sm in r.of_kind("ServiceMonitor") {
            let sel: BTreeMap<String, String> =
                serde_json::from_value(sm["spec"]["selector"]["matchLabels"].clone()).unwrap();
            // The metrics Service (issue 13, item 6), never the one the
            // Ingress/HTTPRoute sends traffic to.
            let metrics: Service = r.get("Service", &format!("{}-metrics", fullname()));
            assert!(
                selects(&sel, &metrics.metadata.labels.unwrap()),
                "{at}: ServiceMonitor selects the metrics Service"
            );
            let app: Service = r.get("Service", &fullname());
            assert!(
                !selects(&sel, &app.metadata.labels.unwrap()),
                "{at}: ServiceMonitor must not select the Ingress's Service"
            );
            let port = sm["spec"]["endpoints"][0]["port"].as_str().unwrap();
            assert!(
                metrics
                    .spec
                    .as_ref()
                    .and_then(|s| s.ports.as_ref())
                    .is_some_and(|ports| ports.iter().any(|p| p.name.as_deref() == Some(port))),
                "{at}: the ServiceMonitor's port {port} is the metrics Service's"
            );
            assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
        }
    }
}

#[test]
fn every_workload_is_default_denied_and_allowed_only_what_it_needs() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        let at = scenario.name;
        let policies = r.typed::<NetworkPolicy>("NetworkPolicy");
        for (name, pod) in r.pod_templates() {
            let labels = labels_of(&pod);
            let covering: Vec<_> = policies
                .iter()
                .filter(|np| {
                    selects(
                        &match_labels(np.spec.as_ref().unwrap().pod_selector.as_ref().unwrap()),
                        &labels,
                    )
                })
                .collect();
            let types: BTreeSet<String> = covering
                .iter()
                .flat_map(|np| {
                    np.spec
                        .as_ref()
                        .unwrap()
                        .policy_types
                        .clone()
                        .unwrap_or_default()
                })
                .collect();
            assert!(
                types.contains("Ingress") && types.contains("Egress"),
                "{at}: {name} not fully covered"
            );
            assert!(
                covering.len() >= 2,
                "{at}: {name} needs the default deny and its own policy"
            );
        }
        // The database accepts only the app and the migration Job.
        let pg_policy = policies
            .iter()
            .find(|np| np.metadata.name.as_deref() == Some(&format!("{}-postgresql", fullname())));
        if let Some(np) = pg_policy {
            let from: Vec<String> = np
                .spec
                .as_ref()
                .unwrap()
                .ingress
                .iter()
                .flatten()
                .flat_map(|rule| rule.from.iter().flatten())
                .map(|peer| {
                    assert!(
                        peer.namespace_selector.is_none() && peer.ip_block.is_none(),
                        "{at}: Postgres open beyond the release"
                    );
                    match_labels(peer.pod_selector.as_ref().unwrap())["app.kubernetes.io/component"]
                        .clone()
                })
                .collect();
            let mut expected = vec!["app", "migrate"];
            if !r.of_kind("CronJob").is_empty() {
                expected.push("backup");
            }
            // The restore Job is applied on demand, outside the release.
            expected.push("restore");
            assert_eq!(from, expected, "{at}: Postgres ingress");
        } else {
            assert!(
                r.of_kind("StatefulSet").is_empty(),
                "{at}: bundled Postgres without a policy"
            );
        }
        // The app may only reach DNS, the database, S3, Redis and SMTP: one
        // rule each; plus the cloud identity endpoints when it uses them, and
        // the operator's extraEgress. The Jobs get the same minus Redis and SMTP.
        let config = r.config();
        let cloud = usize::from(config["BLOG_S3__CREDENTIAL_SOURCE"] == "default_chain");
        let extra = usize::from(scenario.name == "escape-hatches");
        let egress_of = |component: &str| {
            policies
                .iter()
                .find(|np| {
                    np.metadata.name.as_deref() == Some(&format!("{}-{component}", fullname()))
                })
                .map(|np| np.spec.as_ref().unwrap().egress.clone().unwrap())
        };
        let app = egress_of("app").expect("app NetworkPolicy");
        assert_eq!(app.len(), 5 + cloud + extra, "{at}: app egress rules");
        let mut jobs = vec![("migrate", egress_of("migrate").expect("migrate policy"))];
        if !r.of_kind("CronJob").is_empty() {
            jobs.push(("backup", egress_of("backup").expect("backup NetworkPolicy")));
        }
        if let Some(restore) = egress_of("restore") {
            jobs.push(("restore", restore));
        }
        for (job, egress) in &jobs {
            assert_eq!(egress.len(), 3 + cloud + extra, "{at}: {job} egress rules");
            assert_eq!(egress[..3], app[..3], "{at}: {job}: DNS, database, S3");
        }
        for rule in jobs.iter().flat_map(|(_, e)| e).chain(&app) {
            assert!(
                rule.ports.as_ref().is_some_and(|p| !p.is_empty()),
                "{at}: egress without port restriction"
            );
        }
    }
}

#[test]
fn app_rolls_out_safely_and_drains_before_stopping() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        let at = scenario.name;
        let app: Deployment = r.get("Deployment", &fullname());
        let spec = app.spec;
        let ru = spec.strategy.unwrap().rolling_update.unwrap();
        assert_eq!(
            ru.max_unavailable,
            Some(IntOrString::Int(0)),
            "{at}: maxUnavailable"
        );
        let template = spec.template;
        let annotations = template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .clone()
            .unwrap();
        assert!(
            annotations.contains_key("checksum/config"),
            "{at}: config checksum"
        );
        assert_eq!(
            annotations.get("prometheus.io/scrape").map(String::as_str),
            Some("true"),
            "{at}"
        );
        let pod = template.spec.unwrap();
        let c = &pod.containers[0];
        let sleep = c
            .lifecycle
            .as_ref()
            .unwrap()
            .pre_stop
            .as_ref()
            .unwrap()
            .sleep
            .as_ref()
            .expect("preStop sleep (no shell in the image)")
            .seconds;
        let config = r.config();
        let seconds = |key: &str| config[key].parse::<i64>().unwrap();
        let drain_and_grace = seconds("BLOG_HTTP__SHUTDOWN_DRAIN_SECONDS")
            + seconds("BLOG_HTTP__SHUTDOWN_GRACE_SECONDS");
        assert!(
            pod.termination_grace_period_seconds.unwrap() > sleep + drain_and_grace,
            "{at}: grace period"
        );
        for (name, p) in r.pod_templates() {
            for c in containers(&p) {
                let res = c
                    .resources
                    .as_ref()
                    .unwrap_or_else(|| panic!("{at}: {name} resources"));
                let req = res.requests.as_ref().unwrap();
                assert!(
                    req.contains_key("cpu") && req.contains_key("memory"),
                    "{at}: {name} requests"
                );
                assert!(
                    res.limits.as_ref().unwrap().contains_key("memory"),
                    "{at}: {name} memory limit"
                );
            }
        }
    }
}

#[test]
fn every_object_has_the_standard_labels_and_namespace() {
    let all = rendered_scenarios();
    for (scenario, r) in all {
        for doc in &r.docs {
            let at = format!(
                "{}: {} {}",
                scenario.name,
                Rendered::kind_of(doc),
                Rendered::name_of(doc)
            );
            let labels = &doc["metadata"]["labels"];
            for key in [
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/version",
                "app.kubernetes.io/component",
                "app.kubernetes.io/part-of",
                "app.kubernetes.io/managed-by",
                "helm.sh/chart",
            ] {
                assert!(labels[key].is_string(), "{at}: label {key}");
            }
            assert_eq!(
                doc["metadata"]["namespace"],
                chart_tests::NAMESPACE,
                "{at}: namespace"
            );
        }
    }
}

#[test]
fn environments_get_their_replicas_hosts_and_tls() {
    let all = rendered_scenarios();
    let get = |name: &str| &all.iter().find(|(s, _)| s.name == name).unwrap().1;

    let dev = get("dev");
    let app: Deployment = dev.get("Deployment", &fullname());
    assert_eq!(app.spec.replicas, Some(1));
    let ing: Ingress = dev.get("Ingress", &fullname());
    let spec = ing.spec.unwrap();
    assert_eq!(
        spec.rules.unwrap()[0].host.as_deref(),
        Some("blog.localhost")
    );
    assert!(spec.tls.is_none(), "dev has no TLS");
    assert_eq!(dev.of_kind("StatefulSet").len(), 1, "dev bundles Postgres");
    assert!(dev.of_kind("HorizontalPodAutoscaler").is_empty());

    let staging = get("staging");
    let app: Deployment = staging.get("Deployment", &fullname());
    assert_eq!(app.spec.replicas, Some(2));
    assert!(
        staging.of_kind("Ingress").is_empty(),
        "staging uses an HTTPRoute"
    );
    let route = staging.of_kind("HTTPRoute")[0];
    assert_eq!(route["spec"]["hostnames"][0], "staging.blog.example.com");
    assert_eq!(route["spec"]["parentRefs"][0]["sectionName"], "https");
    assert_eq!(staging.of_kind("PodDisruptionBudget").len(), 1);

    let prod = get("production");
    let app: Deployment = prod.get("Deployment", &fullname());
    assert_eq!(app.spec.replicas, None, "the HPA owns the replica count");
    let hpa = prod.of_kind("HorizontalPodAutoscaler")[0];
    assert!(hpa["spec"]["minReplicas"].as_i64().unwrap() >= 3);
    let pdb: PodDisruptionBudget = prod.get("PodDisruptionBudget", &fullname());
    assert_eq!(pdb.spec.unwrap().min_available, Some(IntOrString::Int(2)));
    let ing: Ingress = prod.get("Ingress", &fullname());
    let annotations = ing.metadata.annotations.unwrap();
    assert_eq!(
        annotations["cert-manager.io/cluster-issuer"],
        "letsencrypt-prod"
    );
    let spec = ing.spec.unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let tls = &spec.tls.unwrap()[0];
    assert_eq!(
        tls.hosts.as_deref(),
        Some(&["blog.example.com".to_owned()][..])
    );
    let pg: StatefulSet = prod.get("StatefulSet", &format!("{}-postgresql", fullname()));
    let pvc = &pg.spec.volume_claim_templates.unwrap()[0];
    assert_eq!(
        pvc.spec.as_ref().unwrap().storage_class_name.as_deref(),
        Some("premium-rwo")
    );
    let cm: ConfigMap = prod.get("ConfigMap", &fullname());
    assert_eq!(
        cm.data.unwrap()["BLOG_HTTP__PUBLIC_URL"],
        "https://blog.example.com"
    );

    let off = get("autoscaling-off");
    let app: Deployment = off.get("Deployment", &fullname());
    assert_eq!(app.spec.replicas, Some(4));
    assert!(off.of_kind("HorizontalPodAutoscaler").is_empty());

    let cnpg = get("cloudnativepg");
    let cm: ConfigMap = cnpg.get("ConfigMap", &fullname());
    let data = cm.data.unwrap();
    assert_eq!(data["BLOG_DATABASE__HOST"], "blog-db-rw");
    assert_eq!(
        data["BLOG_DATABASE__SSL_ROOT_CERT"],
        "/var/run/secrets/blog/database-ca.crt"
    );
    let app: Deployment = cnpg.get("Deployment", &fullname());
    let volumes = app.spec.template.spec.unwrap().volumes.unwrap();
    let sources = volumes
        .iter()
        .find(|v| v.name == "secrets")
        .unwrap()
        .projected
        .clone()
        .unwrap()
        .sources
        .unwrap();
    let from: Vec<(String, Vec<(String, String)>)> = sources
        .into_iter()
        .map(|s| {
            let s = s.secret.unwrap();
            (
                s.name,
                s.items
                    .unwrap()
                    .into_iter()
                    .map(|i| (i.key, i.path))
                    .collect(),
            )
        })
        .collect();
    let pair = |k: &str, p: &str| (k.to_owned(), p.to_owned());
    assert_eq!(
        from[1],
        (
            "blog-db-app".to_owned(),
            vec![pair("password", "database-password")]
        )
    );
    assert_eq!(
        from[2],
        (
            "blog-db-ca".to_owned(),
            vec![pair("ca.crt", "database-ca.crt")]
        )
    );
    assert!(
        !from[0].1.iter().any(|(k, _)| k == "database-password"),
        "password comes from the CNPG Secret"
    );

    let ext = get("external-db-and-redis");
    let pods: Vec<String> = ext.pod_templates().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        pods,
        ["Deployment/blog", "Job/blog-migrate", "CronJob/blog-backup"],
        "app, migrate and backup only"
    );
    let cm: ConfigMap = ext.get("ConfigMap", &fullname());
    let data = cm.data.unwrap();
    assert_eq!(
        data["BLOG_DATABASE__HOST"],
        "blog.cluster-abc.eu-west-1.rds.example.com"
    );
    assert!(
        !data.contains_key("BLOG_REDIS__URL"),
        "an external Redis URL is a secret"
    );
    let app: Deployment = ext.get("Deployment", &fullname());
    let env = app.spec.template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    assert!(env.iter().any(|e| e.name == "BLOG_REDIS__URL_FILE"));
}

/// The API group and resource (plural) of each kind the chart can render.
fn resource_of(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "Secret" => ("", "secrets"),
        "ConfigMap" => ("", "configmaps"),
        "Service" => ("", "services"),
        "ServiceAccount" => ("", "serviceaccounts"),
        "Deployment" => ("apps", "deployments"),
        "StatefulSet" => ("apps", "statefulsets"),
        "Job" => ("batch", "jobs"),
        "CronJob" => ("batch", "cronjobs"),
        "HorizontalPodAutoscaler" => ("autoscaling", "horizontalpodautoscalers"),
        "PodDisruptionBudget" => ("policy", "poddisruptionbudgets"),
        "Ingress" => ("networking.k8s.io", "ingresses"),
        "NetworkPolicy" => ("networking.k8s.io", "networkpolicies"),
        "Role" => ("rbac.authorization.k8s.io", "roles"),
        "RoleBinding" => ("rbac.authorization.k8s.io", "rolebindings"),
        "HTTPRoute" => ("gateway.networking.k8s.io", "httproutes"),
        "ServiceMonitor" => ("monitoring.coreos.com", "servicemonitors"),
        "Certificate" => ("cert-manager.io", "certificates"),
        other => panic!("kind {other} rendered but unknown to this test: add it"),
    }
}

#[test]
fn deployer_role_covers_every_rendered_kind_without_wildcards() {
    let all = rendered_scenarios();
    let mut checked = 0;
    for (scenario, r) in all {
        let at = scenario.name;
        // The app's own ServiceAccount is bound to nothing.
        for rb in r.typed::<RoleBinding>("RoleBinding") {
            for s in rb.subjects.unwrap_or_default() {
                assert_ne!(
                    s.name,
                    fullname(),
                    "{at}: the app's ServiceAccount must have no Role"
                );
            }
        }
        let roles = r.typed::<Role>("Role");
        let Some(role) = roles.first() else { continue };
        checked += 1;
        let rules = role.rules.clone().unwrap_or_default();
        let allows = |group: &str, resource: &str, verb: &str| {
            rules.iter().any(|rule| {
                rule.api_groups.iter().flatten().any(|g| g == group)
                    && rule.resources.iter().flatten().any(|r| r == resource)
                    && rule.verbs.iter().any(|v| v == verb)
            })
        };
        for rule in &rules {
            let all_words = rule
                .api_groups
                .iter()
                .flatten()
                .chain(rule.resources.iter().flatten())
                .chain(rule.verbs.iter());
            for word in all_words {
                assert!(!word.contains('*'), "{at}: wildcard in the deployer Role");
            }
            assert!(
                rule.non_resource_urls.is_none() && rule.resource_names.is_none(),
                "{at}"
            );
            for verb in &rule.verbs {
                assert!(
                    !["escalate", "bind", "impersonate"].contains(&verb.as_str()),
                    "{at}: {verb}"
                );
            }
        }
        for kind in r.kinds() {
            let (group, resource) = resource_of(&kind);
            for verb in [
                "get", "list", "watch", "create", "update", "patch", "delete",
            ] {
                assert!(
                    allows(group, resource, verb),
                    "{at}: deployer cannot {verb} {kind}"
                );
            }
        }
        // Helm keeps releases in Secrets; --wait reads pods and events.
        for verb in ["get", "list", "create", "update", "delete"] {
            assert!(allows("", "secrets", verb), "{at}: release storage {verb}");
        }
        for resource in ["pods", "events"] {
            assert!(
                allows("", resource, "watch") && !allows("", resource, "create"),
                "{at}: {resource} read-only"
            );
        }
        let rb: RoleBinding = r.get("RoleBinding", role.metadata.name.as_deref().unwrap());
        assert_eq!(rb.role_ref.kind, "Role", "{at}: namespaced binding");
    }
    assert!(
        checked >= 3,
        "staging, production and everything-on render the deployer Role"
    );
}
