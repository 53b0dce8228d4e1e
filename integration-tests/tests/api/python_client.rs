//! Issue 13, item 14: what an API client meets. A Python client is generated
//! from the document the server serves (`openapi-python-client`, pinned in the
//! tools venv) and runs a short story against the server
//! (`integration-tests/python/client_story.py`).

use integration_tests::{TestApp, expect_status, tool};
// Async: the server under test runs on this runtime while Python talks to it.
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_python_client_runs_a_story() {
    let app = TestApp::spawn().await;
    let doc = expect_status(app.get("/api/openapi.json").await, 200).await;
    let schema_names: Vec<&String> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    std::fs::write(&spec, serde_json::to_vec(&doc).unwrap()).unwrap();
    let package = dir.path().join("blog_api_client");
    let generated = Command::new(tool("openapi-python-client"))
        .args(["generate", "--meta", "none", "--overwrite", "--path"])
        .arg(&spec)
        .arg("--output-path")
        .arg(&package)
        .current_dir(dir.path())
        .output()
        .await
        .expect("openapi-python-client runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(generated.status.success(), "generation failed:\n{report}");
    // The generator warns about what it could not model (and skips it).
    assert!(
        !report.contains("Warning") && !report.contains("Error"),
        "the generator could not model the whole document:\n{report}"
    );

    let story = concat!(env!("CARGO_MANIFEST_DIR"), "/python/client_story.py");
    let ran = Command::new(tool("python3"))
        .arg(story)
        .arg(app.url("/api"))
        .arg(serde_json::to_string(&schema_names).unwrap())
        .env("PYTHONPATH", dir.path())
        .output()
        .await
        .expect("python runs");
    assert!(
        ran.status.success(),
        "the client story failed:\n{}{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
}
