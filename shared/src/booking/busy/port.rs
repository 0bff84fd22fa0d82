//! The port a provider's other calendars are read through, and what an address must be before it
//! is stored: `https`, no user info, and a host that is a name or a public address (names are
//! checked again when they resolve, by the adapter, on the addresses the connection then uses).

use std::net::IpAddr;

use async_trait::async_trait;

/// The longest address stored (calendar apps' secret links are about 150 characters).
pub const MAX_ADDRESS_CHARS: usize = 2000;

/// Why a calendar could not be fetched, in words for the console (never the address).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("The address is not an https:// address.")]
    NotHttps,
    #[error("The address points into a private network, this machine or a link-local range.")]
    PrivateAddress,
    #[error("The calendar's server redirected to another host.")]
    RedirectElsewhere,
    #[error("The calendar's server redirected too many times.")]
    TooManyRedirects,
    #[error("The calendar is larger than 2 MB.")]
    TooLarge,
    #[error("The calendar's server did not answer within 10 seconds.")]
    TimedOut,
    #[error("The calendar's server answered {0}.")]
    Status(u16),
    #[error("The calendar's server could not be reached.")]
    Unreachable,
}

/// Reads a calendar (an ICS file) at an address a provider gave.
#[async_trait]
pub trait CalendarSource: Send + Sync {
    /// The calendar at `address`, as text.
    async fn fetch(&self, address: &str) -> Result<String, FetchError>;
}

/// Whether an address is on the public internet: not loopback, private, shared (CGNAT),
/// link-local, unique-local, multicast, unspecified, broadcast or documentation; IPv4-mapped IPv6
/// addresses are judged by their IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let [first, second, ..] = v6.segments();
            // The deprecated IPv4-compatible form (`::a.b.c.d`) names an IPv4 address too.
            let compatible = v6.segments()[..6].iter().all(|s| *s == 0);
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || compatible
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && second == 0x0db8
                || first == 0x0064 && second == 0xff9b)
        }
    }
}

/// Names that never lead to the public internet (this machine, the local network, a cloud's
/// metadata service): refused before they are resolved.
const LOCAL_NAMES: [&str; 5] = [".localhost", ".local", ".internal", ".home.arpa", ".lan"];

/// The host of an address that may be stored and fetched (lower case, without the port), or why
/// not: `https` on its own port (443) only; a host given as an address must be public, a local
/// name is refused, any other name is checked when it resolves.
pub fn check_address(address: &str) -> Result<String, FetchError> {
    if address.chars().count() > MAX_ADDRESS_CHARS
        || address.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FetchError::NotHttps);
    }
    let rest = address
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| &address[8..])
        .ok_or(FetchError::NotHttps)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(FetchError::NotHttps);
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => {
            let (inside, after) = v6.split_once(']').ok_or(FetchError::NotHttps)?;
            if !(after.is_empty() || (port_ok(after) && after == ":443")) {
                return Err(FetchError::NotHttps);
            }
            inside
        }
        None => match authority.split_once(':') {
            Some((host, port)) if port_ok(&format!(":{port}")) && port == "443" => host,
            Some(_) => return Err(FetchError::NotHttps),
            None => authority,
        },
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if is_public(ip) {
            Ok(ip.to_string())
        } else {
            Err(FetchError::PrivateAddress)
        };
    }
    // A fully qualified name may end in a dot.
    let host = host.strip_suffix('.').unwrap_or(host);
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !name_ok {
        return Err(FetchError::NotHttps);
    }
    // A name that is itself an address in another spelling (`0x7f.1`, `2130706433`) is refused:
    // resolvers read those as addresses, which the check above would not have seen.
    if host.split('.').all(|l| {
        l.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'x' || b == b'X')
    }) && host.bytes().next().is_some_and(|b| b.is_ascii_digit())
    {
        return Err(FetchError::PrivateAddress);
    }
    let host = host.to_ascii_lowercase();
    let dotted = format!(".{host}");
    if LOCAL_NAMES.iter().any(|suffix| dotted.ends_with(suffix)) {
        return Err(FetchError::PrivateAddress);
    }
    Ok(host)
}

fn port_ok(colon_port: &str) -> bool {
    colon_port
        .strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok_and(|n| n > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_that_may_be_stored() {
        for (address, host) in [
            (
                "https://calendar.google.com/calendar/ical/x%40gmail.com/private-ab/basic.ics",
                "calendar.google.com",
            ),
            (
                "HTTPS://Outlook.Office365.com/owa/calendar/a/b/reachcalendar.ics",
                "outlook.office365.com",
            ),
            (
                "https://p12-caldav.icloud.com:443/published/2/abc",
                "p12-caldav.icloud.com",
            ),
            ("https://8.8.8.8/x.ics", "8.8.8.8"),
            ("https://[2606:4700::1111]:443/x.ics", "2606:4700::1111"),
        ] {
            assert_eq!(check_address(address).as_deref(), Ok(host), "{address}");
        }
    }

    #[test]
    fn addresses_that_may_not() {
        for address in [
            "http://calendar.example/x.ics",
            "webcal://calendar.example/x.ics",
            "https://user:pw@calendar.example/x.ics",
            "https://calendar.example:0/x",
            "https://calendar.example:99999/x",
            "https://calendar.example:8443/x",
            "https://[2606:4700::1111]:22/x",
            "https://calendar..example/x",
            "https:///x",
            "https://calendar.example/ x",
            "https://cal_endar.example/x",
            "ftp://calendar.example/x",
            "",
        ] {
            assert_eq!(
                check_address(address),
                Err(FetchError::NotHttps),
                "{address}"
            );
        }
        for address in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/latest/",
            "https://[::1]/x",
            "https://[::ffff:192.168.1.1]/x",
            "https://100.64.0.1/x",
            "https://2130706433/x",
            "https://0x7f.1/x",
            "https://localhost/x",
            "https://LOCALHOST./x",
            "https://foo.localhost/x",
            "https://printer.local/x",
            "https://metadata.google.internal/x",
            "https://[::7f00:1]/x",
            "https://198.18.0.1/x",
            "https://[fec0::1]/x",
        ] {
            assert_eq!(
                check_address(address),
                Err(FetchError::PrivateAddress),
                "{address}"
            );
        }
        let long = format!("https://calendar.example/{}", "a".repeat(MAX_ADDRESS_CHARS));
        assert_eq!(check_address(&long), Err(FetchError::NotHttps));
    }

    #[test]
    fn public_addresses() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "192.0.2.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
