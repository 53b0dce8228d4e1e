//! The client's address, honouring `X-Forwarded-For` only as far as the
//! configured number of trusted proxy hops (`BLOG_HTTP__TRUSTED_PROXIES`).
//!
//! Each proxy appends the address it received the request from, so with `n`
//! trusted hops the client is the `n`-th address counted from the right of
//! "`X-Forwarded-For` entries + the socket peer". Anything further left was
//! written by the client and cannot be trusted.

use std::net::IpAddr;

use poem::{FromRequest, Request, RequestBody};

use crate::startup::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// `peer` is the socket address; `forwarded` the `X-Forwarded-For` values.
pub fn resolve<'a>(
    peer: Option<IpAddr>,
    forwarded: impl IntoIterator<Item = &'a str>,
    trusted_hops: usize,
) -> Option<IpAddr> {
    if trusted_hops == 0 {
        return peer;
    }
    let mut chain: Vec<Option<IpAddr>> = forwarded
        .into_iter()
        .flat_map(|h| h.split(','))
        .map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    chain.push(peer);
    // Fewer entries than trusted hops: the leftmost is the best we have.
    let index = chain.len().saturating_sub(1 + trusted_hops);
    chain[index].or(peer)
}

impl<'a> FromRequest<'a> for ClientIp {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let hops = req
            .data::<AppState>()
            .map(|s| s.settings.http.trusted_proxies.as_usize())
            .unwrap_or(0);
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let ip = resolve(peer, forwarded, hops).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientIp(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(
            resolve(Some(ip("10.0.0.9")), ["1.2.3.4"], 0),
            Some(ip("10.0.0.9"))
        );
    }

    #[test]
    fn one_hop_takes_the_last_forwarded_entry() {
        // A client spoofing "6.6.6.6" is ignored: the proxy appended the real one.
        assert_eq!(
            resolve(Some(ip("10.0.0.9")), ["6.6.6.6, 1.2.3.4"], 1),
            Some(ip("1.2.3.4"))
        );
    }

    #[test]
    fn two_hops_and_multiple_headers() {
        assert_eq!(
            resolve(Some(ip("10.0.0.9")), ["6.6.6.6, 1.2.3.4", "10.0.0.5"], 2),
            Some(ip("1.2.3.4"))
        );
    }

    #[test]
    fn short_or_garbage_chains_fall_back_to_something_sane() {
        assert_eq!(resolve(Some(ip("10.0.0.9")), [], 1), Some(ip("10.0.0.9")));
        assert_eq!(
            resolve(Some(ip("10.0.0.9")), ["not-an-ip"], 1),
            Some(ip("10.0.0.9"))
        );
        assert_eq!(resolve(Some(ip("10.0.0.9")), ["::1"], 1), Some(ip("::1")));
    }
}
