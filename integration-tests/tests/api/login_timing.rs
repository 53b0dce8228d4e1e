//! Issue 13, item 3: a failed log-in costs the same whichever way it fails, so response
//! times do not reveal which names are accounts (nor how their passwords are stored).

use std::time::Instant;

use blog::config::Limit;
use integration_tests::{TestApp, random_suffix};

/// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, as the import keeps it.
fn django_hash(password: &str, salt: &str, iterations: u32) -> String {
    use base64::Engine as _;
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut out,
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(out);
    format!("pbkdf2_sha256${iterations}${salt}${b64}")
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[tokio::test]
async fn every_failed_login_path_costs_the_same() {
    let app = TestApp::spawn_with(|s| {
        // Timing is the subject here, not the limits.
        s.rate_limit.login_per_ip = Limit::new(10_000, 60);
        s.rate_limit.login_per_account = Limit::new(10_000, 60);
    })
    .await;
    let known = app.new_user().await;
    let suffix = random_suffix(6);
    // Accounts as the import leaves them: a Django hash (fewer rounds than ours), Django's
    // unusable password (`!` + random), and one of ours from a lower iteration setting.
    let stored = [
        ("django", django_hash("the real one", "seasalt42", 260_000)),
        ("unusable", format!("!{}", random_suffix(40))),
        ("few_rounds", blog::passwords::hash("the real one", 1_000)),
    ];
    for (kind, hash) in &stored {
        let name = format!("{kind}_{suffix}");
        app.db
            .execute(
                "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3)",
                &[&name, &format!("{name}@example.test"), hash],
            )
            .await
            .expect("insert an imported account");
    }
    let wrong = "wrong password!!".to_owned();
    let paths: Vec<(&str, String, String)> = vec![
        ("unknown account", format!("nobody_{suffix}"), wrong.clone()),
        ("wrong password", known.username.clone(), wrong.clone()),
        (
            "wrong password, by email",
            known.email.clone(),
            wrong.clone(),
        ),
        (
            "imported Django hash",
            format!("django_{suffix}"),
            wrong.clone(),
        ),
        ("unusable hash", format!("unusable_{suffix}"), wrong.clone()),
        (
            "hash with fewer rounds",
            format!("few_rounds_{suffix}"),
            wrong.clone(),
        ),
        (
            "oversized password",
            known.username.clone(),
            "x".repeat(1025),
        ),
        (
            "NUL in the name",
            format!("nobody\0{suffix}"),
            wrong.clone(),
        ),
    ];

    // Every path is a plain 401 (also warms connections and caches).
    for (label, login, password) in &paths {
        let status = app.login(login, password).await.status();
        assert_eq!(status, 401, "{label}");
    }
    // Interleaved rounds, each path timed right beside the others, and each compared with
    // the plain wrong password *of the same round*: a machine that slows down for a while
    // (other tests, other builds on the same 2 cores) slows both sides of each difference
    // alike. The median difference over the rounds must be within 10 ms.
    const ROUNDS: usize = 15;
    let baseline = paths
        .iter()
        .position(|(label, ..)| *label == "wrong password")
        .expect("the baseline path");
    let mut samples = vec![Vec::new(); paths.len()];
    for round in 0..ROUNDS {
        for i in 0..paths.len() {
            let i = (i + round) % paths.len();
            let (label, login, password) = &paths[i];
            let started = Instant::now();
            let status = app.login(login, password).await.status();
            samples[i].push(started.elapsed().as_secs_f64() * 1e3);
            assert_eq!(status, 401, "{label}");
        }
    }
    let differences: Vec<(&str, f64)> = paths
        .iter()
        .enumerate()
        .map(|(i, (label, ..))| {
            let paired = (0..ROUNDS)
                .map(|r| samples[i][r] - samples[baseline][r])
                .collect();
            (*label, median(paired))
        })
        .collect();
    for ((label, difference), s) in differences.iter().zip(&samples) {
        eprintln!(
            "log-in timing: {label}: median {:.1} ms, {difference:+.1} ms from a wrong password",
            median(s.clone())
        );
    }
    for (label, difference) in &differences {
        assert!(
            difference.abs() <= 10.0,
            "a failed log-in ({label}) costs {difference:+.1} ms more than a wrong password \
             (median of paired differences; limit ±10 ms): {differences:?}"
        );
    }
}
