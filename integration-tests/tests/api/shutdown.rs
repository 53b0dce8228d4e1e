//! Graceful shutdown: in-flight requests finish, readiness turns 503 at once, then the
//! server stops.

use std::time::Duration;

use integration_tests::{TestApp, expect_status};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn read_response(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn in_flight_requests_complete_and_readiness_turns_503() {
    let mut app = TestApp::spawn().await;
    let user = app.new_user().await;
    let addr = app.address.trim_start_matches("http://").to_owned();

    // A request in flight: headers and half of the body sent.
    let body = serde_json::to_vec(
        &json!({"title": "in flight", "content": "finished after shutdown began"}),
    )
    .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut in_flight = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/posts HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        user.token,
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(first).await.unwrap();

    // A readiness probe whose request line has arrived but whose headers are not finished.
    let mut probe = TcpStream::connect(&addr).await.unwrap();
    probe
        .write_all(format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;

    probe.write_all(b"Connection: close\r\n\r\n").await.unwrap();
    let readiness = read_response(&mut probe).await;
    assert!(
        readiness.starts_with("HTTP/1.1 503"),
        "readiness during shutdown: {readiness}"
    );

    in_flight.write_all(rest).await.unwrap();
    let response = read_response(&mut in_flight).await;
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "in-flight request: {response}"
    );
    assert!(response.contains("in flight"));

    let server = app.server_task();
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("the server stops within the grace period")
        .expect("server task")
        .expect("clean exit");
    assert!(
        TcpStream::connect(&addr).await.is_err(),
        "no longer accepting"
    );
    let stored: i64 = app
        .db
        .query_one("SELECT count(*) FROM posts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn shutdown_with_no_traffic_is_immediate() {
    let mut app = TestApp::spawn().await;
    expect_status(app.get("/healthz").await, 200).await;
    let started = std::time::Instant::now();
    app.stop().await.expect("clean exit");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
