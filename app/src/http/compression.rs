//! Response compression for the API: `br` or `gzip` when the client asks
//! (`Accept-Encoding`), identity otherwise.
//!
//! Not poem's `Compression` middleware, which also inflates request bodies
//! by their `Content-Encoding` (a small gzip body could then grow past the
//! body limit, which is checked on the wire bytes), compresses 204 and 304
//! answers and already compressed images, and sets no `Vary`.
//!
//! Only `/api` answers are compressed: they are read with bearer tokens,
//! which a cross-site page cannot make a browser send, so a compressed
//! secret can't be probed by size (BREACH). The website's pages carry CSRF
//! tokens next to reflected input under cookie sessions, so they stay
//! uncompressed (a proxy in front may decide otherwise).
//!
//! Answers are small JSON documents, so the body is compressed whole (it
//! keeps its `Content-Length`); big ones move to the blocking pool so that a
//! page of 100 long posts does not stall the other requests of a worker.

use std::io::Write as _;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Response};

/// Below this many bytes compression saves less than a packet and costs
/// more than it saves.
pub const MIN_BYTES: usize = 1024;
/// Bodies above this are compressed on the blocking pool.
const INLINE_MAX_BYTES: usize = 64 * 1024;
/// Brotli quality 0–11. 4 compresses the API's JSON better than gzip -6
/// at about gzip's speed; 11 is 50× slower for a few % more
/// (bench/RESULTS.md, "Compression").
const BROTLI_QUALITY: u32 = 4;
/// Brotli window: 2^22 bytes, the encoder's default.
const BROTLI_WINDOW: u32 = 22;
/// zlib's own default level.
const GZIP_LEVEL: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to use for `accept_encoding` (RFC 9110 §12.5.3): the highest
/// `q` of `br` and `gzip` (`*` stands for any not named), `br` on a tie,
/// none when both are refused (`q=0`) or absent.
pub fn negotiate(accept_encoding: Option<&str>) -> Option<Coding> {
    let header = accept_encoding?;
    let (mut br, mut gzip, mut star) = (None, None, None);
    for item in header.split(',') {
        let mut params = item.split(';');
        let coding = params.next().unwrap_or_default().trim();
        let mut q = 1.0_f32;
        for param in params {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                // An unreadable weight refuses rather than guesses.
                q = value.trim().parse().unwrap_or(0.0);
            }
        }
        let slot = if coding.eq_ignore_ascii_case("br") {
            &mut br
        } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if coding == "*" {
            &mut star
        } else {
            continue;
        };
        *slot = Some(q);
    }
    let br = br.or(star).unwrap_or(0.0);
    let gzip = gzip.or(star).unwrap_or(0.0);
    if br <= 0.0 && gzip <= 0.0 {
        None
    } else if br >= gzip {
        Some(Coding::Brotli)
    } else {
        Some(Coding::Gzip)
    }
}

/// Types worth compressing: the API's JSON and problem documents, the
/// OpenAPI document (JSON and YAML) and text.
fn compressible(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence == "application/json"
        || essence == "application/problem+json"
        || essence == "application/x-yaml"
        || essence.starts_with("text/")
}

/// Compresses `resp` for a request that sent `accept_encoding`, when it is
/// worth it; always says `Vary: Accept-Encoding` on answers that could have
/// been compressed, so a shared cache keeps one copy per coding.
pub async fn compress(accept_encoding: Option<&str>, mut resp: Response) -> Response {
    let status = resp.status();
    if status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational()
        || resp.headers().contains_key(header::CONTENT_ENCODING)
        || !compressible(resp.content_type())
    {
        return resp;
    }
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let Some(coding) = negotiate(accept_encoding) else {
        return resp;
    };
    let body = match resp.take_body().into_bytes().await {
        Ok(body) => body,
        Err(e) => {
            // In-memory bodies do not fail; if one ever did, the answer
            // would be cut short anyway.
            tracing::error!(error = %e, "reading an answer's body to compress it");
            return resp;
        }
    };
    if body.len() < MIN_BYTES {
        resp.set_body(body);
        return resp;
    }
    let encoded = if body.len() <= INLINE_MAX_BYTES {
        encode(coding, &body)
    } else {
        let input = body.clone();
        tokio::task::spawn_blocking(move || encode(coding, &input))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    };
    match encoded {
        Ok(encoded) => {
            let headers = resp.headers_mut();
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.token()),
            );
            headers.remove(header::CONTENT_LENGTH);
            resp.set_body(Body::from_vec(encoded));
        }
        Err(e) => {
            tracing::error!(error = %e, coding = coding.token(), "compressing an answer");
            resp.set_body(body);
        }
    }
    resp
}

/// `data` encoded with `coding`.
pub fn encode(coding: Coding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 4),
                flate2::Compression::new(GZIP_LEVEL),
            );
            enc.write_all(data)?;
            enc.finish()
        }
        Coding::Brotli => {
            let mut out = Vec::with_capacity(data.len() / 4);
            {
                let mut enc =
                    brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
                enc.write_all(data)?;
                enc.flush()?;
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_q_values() {
        assert_eq!(negotiate(None), None);
        assert_eq!(negotiate(Some("")), None);
        assert_eq!(negotiate(Some("identity")), None);
        assert_eq!(negotiate(Some("gzip")), Some(Coding::Gzip));
        assert_eq!(
            negotiate(Some("gzip, deflate, br, zstd")),
            Some(Coding::Brotli)
        );
        assert_eq!(negotiate(Some("br;q=0.5, gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0")), None);
        assert_eq!(negotiate(Some("br;q=0, *")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("*;q=0")), None);
        assert_eq!(negotiate(Some("*")), Some(Coding::Brotli));
        assert_eq!(negotiate(Some("GZIP ; Q=0.8")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("br;q=nonsense")), None);
    }

    #[test]
    fn encodings_round_trip() {
        use std::io::Read as _;
        let data = br#"{"items":[{"title":"Blog Like a Pro"}]}"#.repeat(100);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&encode(Coding::Gzip, &data).unwrap()[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let mut out = Vec::new();
        brotli::Decompressor::new(&encode(Coding::Brotli, &data).unwrap()[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn only_text_like_types() {
        assert!(compressible(Some("application/json; charset=utf-8")));
        assert!(compressible(Some("application/problem+json")));
        assert!(compressible(Some("application/x-yaml")));
        assert!(!compressible(Some("image/png")));
        assert!(!compressible(None));
    }
}
