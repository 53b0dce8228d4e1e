//! Outgoing mail over SMTP (lettre), and the password reset message.
//!
//! TLS modes map to lettre's constructors: `none` → plain connection (local
//! test servers), `starttls` → STARTTLS required (port 587; Gmail with an app
//! password), `tls` → implicit TLS (port 465). Certificates are checked
//! against the system roots.

use lettre::message::header::ContentTransferEncoding;
use lettre::message::{Body, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::accounts::EmailAddress;
use crate::config::{ExposeSecret as _, SmtpSettings, SmtpTls};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid mail configuration: {0}")]
    Config(String),
    #[error("could not build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("the SMTP server refused or failed: {0}")]
    Send(#[from] lettre::transport::smtp::Error),
}

/// A configured SMTP client. Cheap to clone (the transport pools connections).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// Builds the transport; does not connect (the first send does).
    pub fn from_settings(settings: &SmtpSettings) -> Result<Self, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| MailError::Config(format!("BLOG_SMTP__FROM: {e}")))?;
        let builder = match settings.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)?,
        };
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(settings.timeout_seconds.get()));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(
                user.expose_secret().to_owned(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    pub fn from_address(&self) -> &Mailbox {
        &self.from
    }

    pub async fn send(&self, message: Message) -> Result<(), MailError> {
        self.transport.send(message).await?;
        Ok(())
    }

    /// Sends the password reset mail for `token` to `to`.
    pub async fn send_password_reset(
        &self,
        to: &EmailAddress,
        username: &str,
        public_url: &str,
        token: &str,
        ttl_minutes: u64,
    ) -> Result<(), MailError> {
        let message = password_reset_message(
            self.from.clone(),
            to,
            username,
            public_url,
            token,
            ttl_minutes,
        )?;
        self.send(message).await
    }
}

/// The link a user follows to choose a new password: the site's page (the
/// Django original's `password-reset-confirm` address).
pub fn reset_link(public_url: &str, token: &str) -> String {
    // Tokens are base64url: nothing to percent-encode.
    format!(
        "{}/password-reset-confirm/{token}/",
        public_url.trim_end_matches('/')
    )
}

/// Plain-text + HTML reset mail carrying the link and the raw token (for API
/// clients without a web front end).
pub fn password_reset_message(
    from: Mailbox,
    to: &EmailAddress,
    username: &str,
    public_url: &str,
    token: &str,
    ttl_minutes: u64,
) -> Result<Message, MailError> {
    let to: Mailbox = to
        .as_str()
        .parse()
        .map_err(|e| MailError::Config(format!("recipient: {e}")))?;
    let link = reset_link(public_url, token);
    let fields = ResetMail {
        username,
        link: &link,
        token,
        ttl_minutes,
    };
    let text = askama::Template::render(&ResetMailText { m: &fields })
        .map_err(|e| MailError::Config(format!("reset mail template: {e}")))?;
    let html = askama::Template::render(&ResetMailHtml { m: &fields })
        .map_err(|e| MailError::Config(format!("reset mail template: {e}")))?;
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject("Reset your blog password")
        .multipart(MultiPart::alternative_plain_html(
            readable_body(text),
            readable_body(html),
        ))?)
}

/// 8bit rather than lettre's automatic quoted-printable (chosen as soon as a
/// line exceeds 76 characters, which a reset link does), so the link and the
/// token appear verbatim in the raw message and can be copied or parsed
/// without decoding. 8bit only requires CRLF line endings, lines of at most
/// 998 bytes and no NUL: checked here, otherwise lettre's choice is used.
fn readable_body(content: String) -> Body {
    let crlf = content.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits_8bit = !crlf.contains('\0')
        && crlf
            .split("\r\n")
            .all(|line| line.len() <= 998 && !line.contains('\r'));
    if fits_8bit {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        Body::new(content)
    }
}

/// What the reset mail says; the HTML part is escaped by its template.
struct ResetMail<'a> {
    username: &'a str,
    link: &'a str,
    token: &'a str,
    ttl_minutes: u64,
}

#[derive(askama::Template)]
#[template(path = "mail/password_reset.txt")]
struct ResetMailText<'a> {
    m: &'a ResetMail<'a>,
}

#[derive(askama::Template)]
#[template(path = "mail/password_reset.html")]
struct ResetMailHtml<'a> {
    m: &'a ResetMail<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    /// Real tokens are 43 characters, which pushes the link past the 76
    /// characters after which lettre would pick quoted-printable.
    const TOKEN: &str = "Zm9vYmFyYmF6cXV4LXF1dXgtY29ycmVjdC1ob3JzZQ_";

    fn message() -> String {
        let to = EmailAddress::parse("alice@example.com").unwrap();
        let msg = password_reset_message(
            "Blog <no-reply@blog.example>".parse().unwrap(),
            &to,
            "alice",
            "https://blog.example/",
            TOKEN,
            60,
        )
        .unwrap();
        String::from_utf8(msg.formatted()).unwrap()
    }

    #[test]
    fn reset_link_joins_public_url_and_token() {
        assert_eq!(
            reset_link("https://blog.example/", "abc_-1"),
            "https://blog.example/password-reset-confirm/abc_-1/"
        );
    }

    #[test]
    fn reset_mail_has_headers_link_and_token_in_both_parts() {
        let raw = message();
        assert!(raw.contains("From: Blog <no-reply@blog.example>"), "{raw}");
        assert!(raw.contains("To: alice@example.com"), "{raw}");
        assert!(raw.contains("Subject: Reset your blog password"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let link = format!("https://blog.example/password-reset-confirm/{TOKEN}/");
        // Once in the text part, twice (href + text) in the HTML part.
        assert_eq!(raw.matches(&link).count(), 3, "{raw}");
        assert!(!raw.contains("quoted-printable"), "{raw}");
        assert!(raw.contains("within 60 minutes"));
    }

    #[test]
    fn html_part_escapes_markup_and_the_text_part_does_not() {
        let to = EmailAddress::parse("alice@example.com").unwrap();
        let msg = password_reset_message(
            "Blog <no-reply@blog.example>".parse().unwrap(),
            &to,
            "<b>alice</b>",
            "https://blog.example",
            TOKEN,
            60,
        )
        .unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        assert!(raw.contains("Hello <b>alice</b>,"), "text part: {raw}");
        assert!(
            raw.contains("<p>Hello &#60;b&#62;alice&#60;/b&#62;,</p>"),
            "html part: {raw}"
        );
    }

    #[test]
    fn mailer_builds_for_every_tls_mode_and_rejects_a_bad_from() {
        let mut s = SmtpSettings::default();
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
            s.tls = tls;
            s.username = Some(Secret::from("user"));
            s.password = Some(Secret::from("app-password"));
            let mailer = Mailer::from_settings(&s).unwrap();
            assert_eq!(
                mailer.from_address().email.to_string(),
                "no-reply@localhost"
            );
            assert!(!format!("{mailer:?}").contains("app-password"));
        }
        s.from = "not an address".into();
        assert!(matches!(
            Mailer::from_settings(&s),
            Err(MailError::Config(_))
        ));
    }

    /// Sending to a port nobody listens on fails with an error (it must not
    /// hang or panic); the reset endpoint logs this and still answers 202.
    #[tokio::test]
    async fn send_to_a_closed_port_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let s = SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            timeout_seconds: crate::config::units::Seconds::of(2),
            ..SmtpSettings::default()
        };
        let mailer = Mailer::from_settings(&s).unwrap();
        let to = EmailAddress::parse("alice@example.com").unwrap();
        let err = mailer
            .send_password_reset(&to, "alice", "http://x", "t", 60)
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::Send(_)), "{err:?}");
    }
}
