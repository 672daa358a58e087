//! Which webhook targets lie outside the server's own network: checked when
//! a webhook is saved (a clear refusal) and again at every delivery, on the
//! literal address and on every address a name resolves to (a name can be
//! re-pointed after it was saved).
//!
//! An address is public when it is global unicast and in no block of the
//! IANA special-purpose registries (the `iprfc` crate carries a snapshot,
//! generated from the registries themselves). IPv6 is stricter than the
//! registry: only `2000::/3` is global unicast, which also refuses the
//! deprecated site-local `fec0::/10`, IPv4-compatible `::a.b.c.d` and
//! NAT64 `64:ff9b::/96` forms that would reach an IPv4 address inside.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::Ipv6Net;
use iprfc::RFC6890;
use url::{Host, Url};

/// The IPv6 global unicast space (IANA IPv6 address space registry).
const GLOBAL_UNICAST: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// Special-use domain names (RFC 6761, RFC 8375, ICANN's `.internal`) that
/// name the local machine or network, with or without a trailing dot; a
/// name without a dot is resolved by the local search domains, so it is
/// refused too.
const LOCAL_NAMES: &[&str] = &["localhost", "local", "internal", "home.arpa"];

/// Whether a webhook may reach `ip`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(RFC6890.contains(&ip) || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => GLOBAL_UNICAST.contains(&v6) && !RFC6890.contains(&ip),
        },
    }
}

/// Why a webhook may not reach this URL's host, or `None` when it may.
/// Every spelling of an address (`0x0a.0.0.1`, `167772161`, `012.0.0.1`,
/// `10.1`, `[::ffff:a00:1]`, a trailing dot) was normalised by the URL
/// parser before this looks at it.
pub fn refusal(url: &Url) -> Option<String> {
    let refused = |what: &dyn std::fmt::Display| {
        Some(format!(
            "{what} is in the server's own network or a special-purpose range; webhooks may only reach public addresses"
        ))
    };
    match url.host()? {
        Host::Ipv4(v4) => (!is_public(IpAddr::V4(v4))).then(|| refused(&v4)).flatten(),
        Host::Ipv6(v6) => (!is_public(IpAddr::V6(v6))).then(|| refused(&v6)).flatten(),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let local = name.is_empty()
                || !name.contains('.')
                || LOCAL_NAMES
                    .iter()
                    .any(|l| name == *l || name.ends_with(&format!(".{l}")));
            local.then(|| refused(&name)).flatten()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_classified_by_the_special_purpose_registries() {
        let refused = [
            // IPv4: this network, private, shared, loopback, link-local
            // (cloud metadata), IETF protocol assignments, documentation,
            // 6to4 relay, benchmarking, reserved, multicast, broadcast.
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.169.254",
            "192.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.99.1",
            "192.175.48.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.1",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6: unspecified, loopback, mapped and compatible IPv4,
            // NAT64, discard, IETF protocol assignments (Teredo, ORCHID),
            // documentation, 6to4, SRv6, unique local, link-local,
            // site-local, multicast.
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::a9fe:a9fe",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:10::1",
            "2001:20::1",
            "2001:db8::1",
            "2002::1",
            "2002:a9fe:a9fe::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ];
        for ip in refused {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::200e",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    #[test]
    fn every_spelling_of_a_private_host_is_refused() {
        for url in [
            "http://10.0.0.1/",
            "http://0x0a.0.0.1/",
            "http://0x0a000001/",
            "http://167772161/",
            "http://012.0.0.1/",
            "http://10.1/",
            "http://10.0.0.1./",
            "http://[::ffff:a00:1]/",
            "http://[::127.0.0.1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://printer.local/",
            "http://metadata.google.internal./",
            "http://router.home.arpa/",
            "http://intranet/",
        ] {
            let parsed = Url::parse(url).unwrap();
            assert!(refusal(&parsed).is_some(), "{url} ({parsed}) must be refused");
        }
        for url in [
            "https://hooks.slack.com/services/T0/B0/x",
            "https://example.com./hook",
            "http://93.184.215.14:8080/",
            "https://[2606:4700::1111]/",
        ] {
            assert_eq!(refusal(&Url::parse(url).unwrap()), None, "{url}");
        }
    }
}
