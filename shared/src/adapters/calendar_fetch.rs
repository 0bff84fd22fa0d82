//! Fetching a provider's other calendar (an ICS address they gave): only `https`, only public
//! addresses (checked on the addresses DNS answers, the ones the connection then uses, so a name
//! cannot be re-pointed at the network inside between the check and the connection), at most
//! 2 MB, within 10 seconds, redirects only to the same host. The address is a secret (whoever has
//! it reads that calendar): no error names it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use axum::body::Bytes;

use super::https::HttpsClient;
use crate::booking::busy::port::{CalendarSource, FetchError, check_address, is_public};

/// The largest calendar read.
pub const MAX_CALENDAR_BYTES: usize = 2 * 1024 * 1024;
/// How long a fetch may take, redirects included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed (to the same host only).
const MAX_REDIRECTS: usize = 3;

/// Where a fetch may go. Production: [`FetchPolicy::public`]. Tests also allow their own local
/// server (by its exact socket address) and plain http to it; nothing in configuration does.
#[derive(Clone, Debug)]
pub struct FetchPolicy {
    pub https_only: bool,
    /// Socket addresses allowed although not public (a test's own server).
    pub allowed: Vec<SocketAddr>,
    pub max_bytes: usize,
    pub timeout: Duration,
}

impl FetchPolicy {
    pub fn public() -> FetchPolicy {
        FetchPolicy {
            https_only: true,
            allowed: Vec::new(),
            max_bytes: MAX_CALENDAR_BYTES,
            timeout: FETCH_TIMEOUT,
        }
    }
}

/// Resolves names and refuses the whole answer when any address is not public (or allowed): the
/// connection can only use what this returns.
#[derive(Clone, Debug)]
struct PublicOnly {
    allowed: Arc<Vec<SocketAddr>>,
}

impl ResolveDns for PublicOnly {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        DnsFuture::new(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
                .await
                .map_err(ResolveDnsError::new)?
                .collect();
            let ok =
                |a: &SocketAddr| is_public(a.ip()) || self.allowed.iter().any(|s| s.ip() == a.ip());
            if found.is_empty() || !found.iter().all(ok) {
                return Err(ResolveDnsError::new(
                    "the name resolves to a non-public address",
                ));
            }
            Ok(found.into_iter().map(|a| a.ip()).collect())
        })
    }
}

/// Fetches calendars under a [`FetchPolicy`].
#[derive(Clone, Debug)]
pub struct CalendarFetcher {
    client: HttpsClient,
    policy: FetchPolicy,
}

impl CalendarFetcher {
    pub fn new(policy: FetchPolicy) -> CalendarFetcher {
        let resolver = PublicOnly {
            allowed: Arc::new(policy.allowed.clone()),
        };
        CalendarFetcher {
            client: HttpsClient::with_resolver(Duration::from_secs(5), resolver),
            policy,
        }
    }

    /// Whether `url` may be fetched at all: what [`check_address`] allows, or (tests only) plain
    /// http to a socket address the policy names.
    pub fn check(&self, url: &str) -> Result<http::Uri, FetchError> {
        let uri: http::Uri = url.parse().map_err(|_| FetchError::NotHttps)?;
        let allowed = uri
            .scheme_str()
            .is_some_and(|s| s == "http" || s == "https")
            && uri.authority().is_some_and(|a| {
                let port = a.port_u16().unwrap_or(if uri.scheme_str() == Some("http") {
                    80
                } else {
                    443
                });
                a.host()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| self.policy.allowed.contains(&SocketAddr::new(ip, port)))
            });
        if allowed && (uri.scheme_str() == Some("https") || !self.policy.https_only) {
            return Ok(uri);
        }
        check_address(url)?;
        Ok(uri)
    }

    /// The calendar at `url`, as text.
    pub async fn fetch_text(&self, url: &str) -> Result<String, FetchError> {
        let started = tokio::time::Instant::now();
        let first = self.check(url)?;
        let mut uri = first.clone();
        for _ in 0..=MAX_REDIRECTS {
            let left = self
                .policy
                .timeout
                .checked_sub(started.elapsed())
                .ok_or(FetchError::TimedOut)?;
            let request = http::Request::get(uri.clone())
                .header("accept", "text/calendar, */*;q=0.5")
                .header("user-agent", "Practica-calendar/1")
                .body(Bytes::new())
                .map_err(|_| FetchError::NotHttps)?;
            let response = self
                .client
                .send_quiet(request, left, self.policy.max_bytes)
                .await
                .map_err(classify)?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                let next = resolve(&uri, location).ok_or(FetchError::RedirectElsewhere)?;
                if next.host() != first.host() || next.port_u16() != first.port_u16() {
                    return Err(FetchError::RedirectElsewhere);
                }
                uri = self.check(&next.to_string())?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            return Ok(String::from_utf8_lossy(response.body()).into_owned());
        }
        Err(FetchError::TooManyRedirects)
    }
}

#[async_trait::async_trait]
impl CalendarSource for CalendarFetcher {
    async fn fetch(&self, address: &str) -> Result<String, FetchError> {
        self.fetch_text(address).await
    }
}

/// A `Location` against the address it answered: absolute, or a path on the same origin.
fn resolve(base: &http::Uri, location: &str) -> Option<http::Uri> {
    if location.starts_with("https://") || location.starts_with("http://") {
        return location.parse().ok();
    }
    if !location.starts_with('/') || location.starts_with("//") {
        return None;
    }
    let scheme = base.scheme_str()?;
    let authority = base.authority()?.as_str();
    format!("{scheme}://{authority}{location}").parse().ok()
}

/// What a transport error means for the person who gave the address.
fn classify(e: anyhow::Error) -> FetchError {
    let text = format!("{e:#}");
    if text.contains("larger than") {
        FetchError::TooLarge
    } else if text.contains("timed out") {
        FetchError::TimedOut
    } else if text.contains("non-public address") {
        FetchError::PrivateAddress
    } else {
        FetchError::Unreachable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// The test's own server allowed (plain http, its exact address), nothing else.
    fn fetcher_for(server: &MockServer, timeout: Duration) -> CalendarFetcher {
        CalendarFetcher::new(FetchPolicy {
            https_only: false,
            allowed: vec![*server.address()],
            max_bytes: MAX_CALENDAR_BYTES,
            timeout,
        })
    }

    const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";

    #[tokio::test]
    async fn a_calendar_is_fetched_and_a_same_host_redirect_followed() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/old.ics"))
            .respond_with(ResponseTemplate::new(301).insert_header("location", "/cal.ics"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/cal.ics"))
            .respond_with(ResponseTemplate::new(200).set_body_string(ICS))
            .mount(&server)
            .await;
        let fetcher = fetcher_for(&server, FETCH_TIMEOUT);
        let url = format!("{}/old.ics", server.uri());
        assert_eq!(fetcher.fetch_text(&url).await.unwrap(), ICS);
    }

    #[tokio::test]
    async fn a_redirect_to_this_machine_or_another_host_is_refused() {
        let server = MockServer::start().await;
        let other = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(ICS))
            .mount(&other)
            .await;
        // To 127.0.0.1 on another port (the metadata service's trick), and to another name.
        for location in [
            format!("{}/cal.ics", other.uri()),
            "http://localhost/cal.ics".into(),
            "https://169.254.169.254/latest/".into(),
        ] {
            let server_redirect = MockServer::start().await;
            Mock::given(method("GET"))
                .respond_with(
                    ResponseTemplate::new(302).insert_header("location", location.as_str()),
                )
                .mount(&server_redirect)
                .await;
            let fetcher = fetcher_for(&server_redirect, FETCH_TIMEOUT);
            let got = fetcher
                .fetch_text(&format!("{}/a.ics", server_redirect.uri()))
                .await;
            assert_eq!(got, Err(FetchError::RedirectElsewhere), "{location}");
        }
        drop(server);
    }

    #[tokio::test]
    async fn a_fifty_megabyte_answer_is_refused() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 50 * 1024 * 1024]))
            .mount(&server)
            .await;
        let fetcher = fetcher_for(&server, FETCH_TIMEOUT);
        assert_eq!(
            fetcher.fetch_text(&server.uri()).await,
            Err(FetchError::TooLarge)
        );
    }

    #[tokio::test]
    async fn a_slow_answer_times_out() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
            .mount(&server)
            .await;
        let fetcher = fetcher_for(&server, Duration::from_millis(300));
        assert_eq!(
            fetcher.fetch_text(&server.uri()).await,
            Err(FetchError::TimedOut)
        );
    }

    #[tokio::test]
    async fn the_public_policy_refuses_plain_http_and_inside_addresses_after_dns() {
        let fetcher = CalendarFetcher::new(FetchPolicy::public());
        assert_eq!(
            fetcher.check("http://calendar.example/x.ics").err(),
            Some(FetchError::NotHttps)
        );
        assert_eq!(
            fetcher.check("webcal://calendar.example/x.ics").err(),
            Some(FetchError::NotHttps)
        );
        assert_eq!(
            fetcher
                .check("https://user:pw@calendar.example/x.ics")
                .err(),
            Some(FetchError::NotHttps)
        );
        for inside in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/x",
            "https://[::1]/x",
            "https://[::ffff:192.168.1.1]/x",
            "https://100.64.0.1/x",
        ] {
            assert_eq!(
                fetcher.check(inside).err(),
                Some(FetchError::PrivateAddress),
                "{inside}"
            );
        }
        assert!(fetcher.check("https://calendar.example/x.ics").is_ok());
        assert_eq!(
            fetcher.fetch_text("https://localhost/x.ics").await,
            Err(FetchError::PrivateAddress)
        );
        // A name that resolves to this machine is refused when it resolves, before any
        // connection (here the hosts file's name, which the address check alone would pass).
        let resolver = PublicOnly {
            allowed: Arc::new(Vec::new()),
        };
        assert!(resolver.resolve_dns("localhost").await.is_err());
    }
}
