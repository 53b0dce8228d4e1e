//! A real S3-compatible server in-process: `s3s-fs` over a temp dir, with SigV4 auth on.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;

pub const ACCESS_KEY: &str = "it-access-key";
/// Test-only credentials of a server that lives inside the test process.
pub const SECRET_KEY: &str = "it-secret-key-not-a-secret";
pub const REGION: &str = "us-east-1";

pub struct S3Server {
    pub endpoint: String,
    /// Kept so the directory lives as long as the server.
    pub root: TempDir,
}

impl S3Server {
    /// Must be called on a runtime that outlives the tests (the harness's own runtime).
    pub async fn start() -> S3Server {
        let root = tempfile::tempdir().expect("s3 temp dir");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind s3");
        let addr = listener.local_addr().expect("s3 addr");
        tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        S3Server {
            endpoint: format!("http://{addr}"),
            root,
        }
    }

    /// A client bucket handle (path-style, as the app uses), for checks from the tests.
    pub fn bucket(&self, name: &str) -> Box<s3::Bucket> {
        let region = s3::Region::Custom {
            region: REGION.to_owned(),
            endpoint: self.endpoint.clone(),
        };
        let credentials =
            s3::creds::Credentials::new(Some(ACCESS_KEY), Some(SECRET_KEY), None, None, None)
                .expect("credentials");
        s3::Bucket::new(name, region, credentials)
            .expect("bucket")
            .with_path_style()
    }
}
