//! A real SMTP server in-process (`mailin-embedded`) that keeps every message it receives.

use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server};

#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The raw message (headers and body) as received.
    pub data: String,
}

impl Mail {
    /// The body with quoted-printable soft line breaks and `=3D` undone, good enough to
    /// find links and tokens whatever transfer encoding the sender picked.
    pub fn text(&self) -> String {
        self.data
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=")
    }
}

#[derive(Clone)]
struct Collector {
    inbox: Arc<Mutex<Vec<Mail>>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = Mail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        self.inbox.lock().expect("inbox").push(mail);
        response::OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("smtp addr").port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let handler = Collector {
            inbox: inbox.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("integration-tests.local")
            .with_num_threads(8)
            .with_tcp_listener(listener);
        std::thread::Builder::new()
            .name("smtp-sink".into())
            .spawn(move || {
                if let Err(err) = server.serve() {
                    eprintln!("smtp sink stopped: {err}");
                }
            })
            .expect("smtp thread");
        SmtpServer { port, inbox }
    }

    /// Every message received so far for `address` (case-insensitive match on RCPT TO).
    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        let wanted = address.to_ascii_lowercase();
        self.inbox
            .lock()
            .expect("inbox")
            .iter()
            .filter(|m| {
                m.to.iter()
                    .any(|t| t.trim_matches(['<', '>']).to_ascii_lowercase() == wanted)
            })
            .cloned()
            .collect()
    }

    /// Waits up to `limit` for at least `count` messages to `address` (the app may send in
    /// the background after answering).
    pub async fn wait_for_mails(&self, address: &str, count: usize, limit: Duration) -> Vec<Mail> {
        let started = Instant::now();
        loop {
            let mails = self.mails_to(address);
            if mails.len() >= count || started.elapsed() > limit {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
