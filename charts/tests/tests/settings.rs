//! The chart agrees with the app's settings catalogue
//! (`blog::config::catalogue::all()`): every setting has its value, schema
//! property and ConfigMap line, every secret reaches the pods as a file, and
//! nothing in the chart names a setting that does not exist. The exception
//! lists, each entry with its reason, are in `chart_tests::settings`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use blog::config::Settings;
use blog::config::catalogue::SettingDoc;
use chart_tests::settings::{
    self, CHART_ONLY, DERIVED, EVERY_SETTING, EVERY_SETTING_AGAIN, STRICTER, chart_schema,
    chart_values, env_text, generated_settings, schema_at, secret_value_paths, value_at,
    value_path, valued,
};
use chart_tests::{
    Rendered, chart_dir, container, containers, fullname, helm, leaf_paths, render, rendered,
    rendered_scenarios,
};
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec, Secret};
use serde_json::Value;

/// Fails with every problem found, one per line.
fn assert_none(problems: &[String], what: &str) {
    assert!(
        problems.is_empty(),
        "{what}:\n  {}\n(a setting is defined in app/src/config; the chart gives it a value at \
         the camelCase of its path in charts/blog/values.yaml, a property there in \
         values.schema.json and a line in `blog.config` (templates/_helpers.tpl); exceptions \
         are listed with their reasons in charts/tests/src/settings.rs)",
        problems.join("\n  ")
    );
}

fn name(s: &SettingDoc) -> String {
    format!("{} ({})", s.key, s.env)
}

fn schema_type(s: &SettingDoc) -> Option<&'static str> {
    match s.default.as_ref() {
        Some(Value::Bool(_)) => Some("boolean"),
        Some(Value::Number(_)) => Some("integer"),
        Some(Value::String(_)) => Some("string"),
        _ if !s.choices.is_empty() => Some("string"),
        _ if s.minimum.is_some() || s.maximum.is_some() => Some("integer"),
        _ => None,
    }
}

#[test]
fn exception_lists_name_real_settings_and_values() {
    let keys: BTreeSet<&str> = settings::all().iter().map(|s| s.key.as_str()).collect();
    let mut problems = Vec::new();
    for (key, why) in DERIVED.iter().chain(STRICTER) {
        assert!(!why.is_empty());
        if !keys.contains(key) {
            problems.push(format!("{key} is listed as an exception but is no setting"));
        }
    }
    let leaves = leaf_paths(chart_values());
    for (path, why) in CHART_ONLY {
        assert!(!why.is_empty());
        if !leaves.iter().any(|l| under(l, path)) {
            problems.push(format!(
                "{path} is listed in CHART_ONLY but values.yaml has no such value"
            ));
        }
    }
    assert_none(&problems, "stale exceptions");
}

#[test]
fn every_setting_has_a_value_and_a_schema_property_with_the_apps_rules() {
    let mut problems = Vec::new();
    for s in valued() {
        let path = value_path(&s.key);
        if value_at(chart_values(), &path).is_none() {
            problems.push(format!(
                "{}: no value {path} in charts/blog/values.yaml",
                name(s)
            ));
        }
        let Some(schema) = schema_at(&path) else {
            problems.push(format!(
                "{}: no property {path} in charts/blog/values.schema.json",
                name(s)
            ));
            continue;
        };
        let at = format!("{}: values.schema.json {path}", name(s));
        if let Some(want) = schema_type(s)
            && schema["type"] != want
        {
            problems.push(format!(
                "{at} has type {}, the app's is {want}",
                schema["type"]
            ));
        }
        let stricter = STRICTER.iter().any(|(key, _)| *key == s.key);
        let chart_min = schema.get("minimum").and_then(Value::as_u64);
        let chart_max = schema.get("maximum").and_then(Value::as_u64);
        // Equal to the app's, or (listed in STRICTER) inside the app's range.
        let min_ok = chart_min == s.minimum
            || (stricter && chart_min.is_some_and(|c| c >= s.minimum.unwrap_or(0)));
        let max_ok = chart_max == s.maximum
            || (stricter && chart_max.is_some_and(|c| s.maximum.is_none_or(|m| c <= m)));
        if !(min_ok && max_ok) {
            problems.push(format!(
                "{at}: range {:?}–{:?}, the app's is {:?}–{:?}{}",
                chart_min,
                chart_max,
                s.minimum,
                s.maximum,
                if stricter {
                    " (listed in STRICTER: it may only be narrower)"
                } else {
                    " (make them equal, or list the setting in STRICTER with the reason)"
                }
            ));
        }
        if stricter && chart_min == s.minimum && chart_max == s.maximum {
            problems.push(format!(
                "{at}: has the app's range, so it needs no STRICTER entry"
            ));
        }
        let chart_enum: BTreeSet<&str> = schema
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut want: BTreeSet<&str> = s.choices.iter().map(String::as_str).collect();
        // An optional choice (`log.format`) is unset with "" in values.yaml.
        if !want.is_empty() && s.default.as_ref().is_none_or(Value::is_null) {
            want.insert("");
        }
        if chart_enum != want {
            problems.push(format!(
                "{at}: enum {chart_enum:?}, the app's choices are {want:?}"
            ));
        }
    }
    assert_none(
        &problems,
        "settings missing from the chart's values or schema",
    );
}

/// The pod template and container that run the blog binary (`blog run`).
const APP: (&str, &str) = ("Deployment/blog", "blog");

/// A container's literal env values.
fn env(c: &Container) -> BTreeMap<String, String> {
    c.env
        .iter()
        .flatten()
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect()
}

/// The Secret and key a file under one of the container's mounts comes from.
fn secret_behind(
    pod: &PodTemplateSpec,
    c: &Container,
    file: &str,
) -> Result<(String, String), String> {
    let mount = c
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| {
            Path::new(file)
                .parent()
                .is_some_and(|dir| dir == Path::new(&m.mount_path))
        })
        .ok_or_else(|| format!("{file} is under no volume mount of container {}", c.name))?;
    let item = &file[mount.mount_path.len() + 1..];
    let volume = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .ok_or_else(|| format!("volume {} is not in the pod", mount.name))?;
    let sources = volume
        .projected
        .as_ref()
        .and_then(|p| p.sources.clone())
        .unwrap_or_default();
    sources
        .iter()
        .filter_map(|s| s.secret.as_ref())
        .find_map(|secret| {
            secret
                .items
                .iter()
                .flatten()
                .find(|i| i.path == item)
                .map(|i| (secret.name.clone(), i.key.clone()))
        })
        .ok_or_else(|| format!("volume {} projects no Secret key to {item}", mount.name))
}

/// The env the app container would see: its ConfigMap, then its literal env
/// with each `BLOG_…_FILE` pointed at a local copy of the file the chart
/// mounts (from the rendered Secret).
fn app_environment(r: &Rendered, dir: &Path) -> Vec<(String, String)> {
    let pod = r.pod(APP.0);
    let c = container(&pod, APP.1);
    let secrets: Vec<Secret> = r.typed("Secret");
    let mut out: Vec<(String, String)> = r.config().into_iter().collect();
    for (name, value) in env(c) {
        if !name.ends_with("_FILE") {
            out.push((name, value));
            continue;
        }
        let (secret, key) =
            secret_behind(&pod, c, &value).unwrap_or_else(|e| panic!("{name}: {e}"));
        let data = secrets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(&secret))
            .and_then(|s| s.data.as_ref()?.get(&key).cloned())
            .unwrap_or_else(|| panic!("{name}: Secret {secret} with key {key} is not rendered"));
        let local = dir.join(&key);
        std::fs::write(&local, data.0).unwrap();
        out.push((name, local.to_string_lossy().into_owned()));
    }
    out
}

#[test]
fn every_setting_reaches_its_variable_and_the_app_reads_it_back() {
    let again = render(&helm(), &EVERY_SETTING_AGAIN);
    for (variant, scenario, r) in [
        (0, EVERY_SETTING.name, rendered(EVERY_SETTING.name)),
        (1, EVERY_SETTING_AGAIN.name, &again),
    ] {
        let config = r.config();
        let migrate = env(container(&r.pod("Job/blog-migrate"), "migrate"));
        let mut problems = Vec::new();
        for (s, values) in generated_settings() {
            let want = env_text(&values[variant]);
            let path = value_path(&s.key);
            for (place, got) in [
                ("the ConfigMap", config.get(&s.env)),
                ("the migration Job's env", migrate.get(&s.env)),
            ] {
                if got != Some(&want) {
                    problems.push(format!(
                        "{}: {path}={want} should render {}={want:?} in {place}, got {got:?}",
                        name(s),
                        s.env
                    ));
                }
            }
        }
        assert_none(&problems, &format!("{scenario}: settings not rendered"));

        // The app accepts the rendered configuration and reads each value
        // into the setting the catalogue describes.
        let dir = tempfile::tempdir().unwrap();
        let loaded = Settings::load_from(app_environment(r, dir.path())).unwrap_or_else(|e| {
            panic!("{scenario}: the app refuses the chart's configuration: {e}")
        });
        let loaded = serde_json::to_value(&loaded).unwrap();
        for (s, values) in generated_settings() {
            assert_eq!(
                value_at(&loaded, &s.key),
                Some(&values[variant]),
                "{scenario}: {} as the app read it",
                name(s)
            );
        }
    }
}

/// The containers that run the blog binary: they read its settings.
fn runs_blog(c: &Container) -> bool {
    let from_config_map = c.env_from.iter().flatten().any(|e| {
        e.config_map_ref
            .as_ref()
            .is_some_and(|r| r.name == fullname())
    });
    from_config_map || c.env.iter().flatten().any(|e| e.name == "BLOG_ENVIRONMENT")
}

#[test]
fn every_secret_reaches_the_blog_pods_as_a_file() {
    let secrets: Vec<&SettingDoc> = settings::all().iter().filter(|s| s.secret).collect();
    let mut problems = Vec::new();
    let mut delivered: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (scenario, r) in rendered_scenarios() {
        // (pod name, pod, container) of every container.
        let mut every = Vec::new();
        for (pod_name, pod) in r.pod_templates() {
            for c in containers(&pod) {
                every.push((pod_name.clone(), pod.clone(), c.clone()));
            }
        }
        // Each `BLOG_…_FILE` anywhere is a file its pod mounts from a Secret.
        for (pod_name, pod, c) in &every {
            for (var, file) in env(c) {
                if var.starts_with("BLOG_")
                    && var.ends_with("_FILE")
                    && let Err(e) = secret_behind(pod, c, &file)
                {
                    problems.push(format!(
                        "{}: {pod_name}/{}: {var}: {e}",
                        scenario.name, c.name
                    ));
                }
            }
        }
        // A secret is delivered in a scenario when every container running
        // the binary there (the app, the migration, backup and restore Jobs)
        // gets it as a mounted file.
        let blog: Vec<_> = every.iter().filter(|(_, _, c)| runs_blog(c)).collect();
        assert!(
            blog.iter()
                .any(|(pod, _, c)| (pod.as_str(), c.name.as_str()) == APP),
            "{}: the app container does not read the ConfigMap",
            scenario.name
        );
        for s in &secrets {
            let var = format!("{}_FILE", s.env);
            if blog.iter().all(|(_, pod, c)| {
                env(c)
                    .get(&var)
                    .is_some_and(|file| secret_behind(pod, c, file).is_ok())
            }) {
                delivered.entry(&s.key).or_default().push(scenario.name);
            }
        }
    }
    for s in &secrets {
        let (inline, own) = secret_value_paths(&s.key);
        if !delivered.contains_key(s.key.as_str()) {
            problems.push(format!(
                "secret {}: in no scenario do the containers running the app get {}_FILE \
                 from a mounted Secret (add it to `blog.secretTable` in templates/_helpers.tpl, \
                 with values {inline} and {own}, and use it in a scenario such as \
                 operator-existing-infra)",
                name(s),
                s.env
            ));
        }
    }
    assert_none(&problems, "secrets that do not reach the pods");
}

/// Is `path` the value `prefix` or under it?
fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[test]
fn the_chart_names_no_setting_that_does_not_exist() {
    let all = settings::all();
    // What the ConfigMap may hold: the settings with a value, and the
    // derived ones.
    let configurable: BTreeSet<String> = all
        .iter()
        .filter(|s| !s.secret || DERIVED.iter().any(|(k, _)| *k == s.key))
        .map(|s| s.env.clone())
        .collect();
    let files: BTreeSet<String> = all
        .iter()
        .filter(|s| s.secret)
        .map(|s| format!("{}_FILE", s.env))
        .collect();
    let secret = |var: &str| all.iter().any(|s| s.secret && s.env == var);
    let why = |var: &str| {
        if secret(var) {
            "a secret: it must come as a file (BLOG_…_FILE)"
        } else if files.contains(var) {
            "a secret's file, which belongs in the pods' env next to the mount"
        } else {
            "no setting"
        }
    };
    // Each problem once, with the scenarios it shows in.
    let mut rendered_problems: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (scenario, r) in rendered_scenarios() {
        for cm in r.of_kind("ConfigMap") {
            for key in cm["data"].as_object().into_iter().flatten().map(|(k, _)| k) {
                if key.starts_with("BLOG_") && !configurable.contains(key) {
                    let problem = format!(
                        "ConfigMap {} has {key}, which is {}",
                        Rendered::name_of(cm),
                        why(key)
                    );
                    rendered_problems
                        .entry(problem)
                        .or_default()
                        .push(scenario.name);
                }
            }
        }
        for (pod_name, pod) in r.pod_templates() {
            for c in containers(&pod) {
                for e in c
                    .env
                    .iter()
                    .flatten()
                    .filter(|e| e.name.starts_with("BLOG_"))
                {
                    if !configurable.contains(&e.name) && !files.contains(&e.name) {
                        let problem = format!(
                            "{pod_name}/{} sets {}, which is {}",
                            c.name,
                            e.name,
                            why(&e.name)
                        );
                        rendered_problems
                            .entry(problem)
                            .or_default()
                            .push(scenario.name);
                    }
                }
            }
        }
    }
    let mut problems: Vec<String> = rendered_problems
        .into_iter()
        .map(|(problem, scenarios)| format!("{problem} (scenarios {})", scenarios.join(", ")))
        .collect();

    // values.yaml and its schema: in the settings' sections, every value is
    // a setting, a way to give a secret setting, or a listed chart value.
    let sections: BTreeSet<String> = all
        .iter()
        .map(|s| value_path(s.key.split('.').next().unwrap()))
        .collect();
    let setting_paths: BTreeSet<String> = valued().map(|s| value_path(&s.key)).collect();
    let secret_paths: Vec<(String, String)> = all
        .iter()
        .filter(|s| s.secret)
        .map(|s| secret_value_paths(&s.key))
        .collect();
    let known = |leaf: &str| {
        setting_paths.contains(leaf)
            || secret_paths.iter().any(|(_, own)| under(leaf, own))
            || CHART_ONLY.iter().any(|(path, _)| under(leaf, path))
    };
    let schema = schema_leaves(chart_schema(), "");
    for (file, leaves) in [
        ("values.yaml", leaf_paths(chart_values())),
        ("values.schema.json", schema),
    ] {
        for leaf in leaves {
            let section = leaf.split('.').next().unwrap();
            if section == "secrets" {
                if !secret_paths.iter().any(|(inline, _)| *inline == leaf) {
                    problems.push(format!("{file} has {leaf}, which names no secret setting"));
                }
            } else if sections.contains(section) && !known(&leaf) {
                let derived = DERIVED
                    .iter()
                    .find(|(k, _)| value_path(k) == leaf)
                    .map(|(k, _)| format!(" (the chart derives {k})"))
                    .unwrap_or_default();
                problems.push(format!(
                    "{file} has {leaf}, which is no setting{derived} and not in CHART_ONLY"
                ));
            }
        }
    }

    // Variables named in the chart's sources (comments, README, templates).
    let mut sources = vec![
        chart_dir().join("values.yaml"),
        chart_dir().join("values.schema.json"),
        chart_dir().join("README.md"),
    ];
    for entry in std::fs::read_dir(chart_dir().join("templates")).unwrap() {
        sources.push(entry.unwrap().path());
    }
    let envs: Vec<&str> = all.iter().map(|s| s.env.as_str()).collect();
    for file in sources {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file.strip_prefix(chart_dir()).unwrap().display();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            // `BLOG_` alone stands for any (`BLOG_*`, `BLOG_<SECTION>__<KEY>`).
            if !word.starts_with("BLOG_") || word == "BLOG_" {
                continue;
            }
            let exists = if word.ends_with("__") {
                // A prefix completed by a template or a placeholder.
                envs.iter().any(|e| e.starts_with(word))
            } else {
                envs.contains(&word.strip_suffix("_FILE").unwrap_or(word))
            };
            if !exists {
                problems.push(format!(
                    "charts/blog/{shown} names {word}, which is no setting"
                ));
            }
        }
    }
    assert_none(&problems, "the chart names settings that do not exist");
}

/// The dotted path of every property of the schema without properties of
/// its own, following `$ref`s.
fn schema_leaves(schema: &Value, prefix: &str) -> Vec<String> {
    let root = chart_schema();
    let resolved = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => root
            .pointer(r.trim_start_matches('#'))
            .expect("$ref resolves"),
        None => schema,
    };
    match resolved.get("properties").and_then(Value::as_object) {
        Some(properties) => properties
            .iter()
            .flat_map(|(k, v)| {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                schema_leaves(v, &path)
            })
            .collect(),
        None => vec![prefix.to_owned()],
    }
}
