//! The client's address, honouring `X-Forwarded-For` only as far as the
//! configured trusted proxies (`BLOG_HTTP__TRUSTED_PROXIES` hops, each
//! connecting from `BLOG_HTTP__TRUSTED_PROXY_NETWORKS`).
//!
//! Each proxy appends the address it received the request from. Walking
//! from the socket peer leftwards, an address vouches for the entry before
//! it only if it is a trusted proxy (inside the configured networks), for at
//! most `n` hops; the first address that is not vouched for further is the
//! client. Anything further left was written by the client, and a client
//! that reaches the service directly (not from a proxy network) gets its
//! own socket address whatever header it sends.

use std::net::IpAddr;

use poem::{FromRequest, Request, RequestBody};

use crate::config::networks::Networks;
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
    proxies: &Networks,
) -> Option<IpAddr> {
    let mut client = peer?;
    let chain: Vec<Option<IpAddr>> = forwarded
        .into_iter()
        .flat_map(|h| h.split(','))
        .map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    let mut entries = chain.into_iter().rev();
    for _ in 0..trusted_hops {
        if !proxies.contains(client) {
            break;
        }
        match entries.next() {
            Some(Some(ip)) => client = ip,
            // No entry, or garbage where a proxy's entry should be: the
            // proxy itself is the best we know.
            _ => break,
        }
    }
    Some(client)
}

impl<'a> FromRequest<'a> for ClientIp {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let http = req.data::<AppState>().map(|s| &s.settings.http);
        let hops = http.map_or(0, |h| h.trusted_proxies.as_usize());
        let none = Networks::default();
        let proxies = http.map_or(&none, |h| &h.trusted_proxy_networks);
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let ip = resolve(peer, forwarded, hops, proxies).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientIp(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(s: &str) -> Networks {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let all = nets("0.0.0.0/0");
        assert_eq!(
            resolve(Some(ip("10.0.0.9")), ["1.2.3.4"], 0, &all),
            Some(ip("10.0.0.9"))
        );
    }

    #[test]
    fn one_hop_takes_the_last_forwarded_entry() {
        // A client spoofing "6.6.6.6" is ignored: the proxy appended the real one.
        assert_eq!(
            resolve(
                Some(ip("10.0.0.9")),
                ["6.6.6.6, 1.2.3.4"],
                1,
                &nets("10.0.0.0/8")
            ),
            Some(ip("1.2.3.4"))
        );
    }

    #[test]
    fn two_hops_and_multiple_headers() {
        assert_eq!(
            resolve(
                Some(ip("10.0.0.9")),
                ["6.6.6.6, 1.2.3.4", "10.0.0.5"],
                2,
                &nets("10.0.0.0/8")
            ),
            Some(ip("1.2.3.4"))
        );
    }

    /// Issue 13, item 8: a peer outside the proxy networks cannot choose its address.
    #[test]
    fn a_forged_header_from_an_untrusted_peer_is_ignored() {
        let proxies = nets("10.0.0.5/32");
        assert_eq!(
            resolve(Some(ip("10.0.0.77")), ["203.0.113.1"], 1, &proxies),
            Some(ip("10.0.0.77")),
            "a container next to the proxy"
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.5")), ["203.0.113.1"], 1, &proxies),
            Some(ip("203.0.113.1")),
            "the proxy itself"
        );
        // Two hops: the outer proxy must be trusted too, else its entry is the client.
        assert_eq!(
            resolve(Some(ip("10.0.0.5")), ["6.6.6.6, 198.51.100.7"], 2, &proxies),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn short_or_garbage_chains_fall_back_to_something_sane() {
        let all = nets("0.0.0.0/0,::/0");
        assert_eq!(
            resolve(Some(ip("10.0.0.9")), [], 1, &all),
            Some(ip("10.0.0.9"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.9")), ["not-an-ip"], 1, &all),
            Some(ip("10.0.0.9"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.9")), ["::1"], 1, &all),
            Some(ip("::1"))
        );
    }
}
