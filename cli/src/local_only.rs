//! The guard of every `/local/*` route (the demo sign-in, the login stand-in, the test card
//! form): they answer this machine only. A request whose `Host` is not this server's own loopback
//! name and port is refused, so a page that rebinds its DNS name to 127.0.0.1 reaches none of
//! them; and a `POST` that a browser marks as coming from another origin (`Origin`, or
//! `Sec-Fetch-Site`) is refused, so no other site's page can post to them. Scripts on this machine
//! send neither and pass.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::error::ApiError;

/// Where the guarded routes live.
pub const LOCAL_PREFIX: &str = "/local/";

/// The names this server answers to on `port`: its loopback names, nothing else.
fn own_hosts(port: u16) -> [String; 3] {
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]
}

/// Whether a request with `method` and `headers` comes from this machine's own pages or scripts.
pub fn allowed(port: u16, method: &Method, headers: &HeaderMap) -> bool {
    let hosts = own_hosts(port);
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let host_ok =
        header(header::HOST).is_some_and(|h| hosts.iter().any(|own| own.eq_ignore_ascii_case(h)));
    if *method == Method::GET || *method == Method::HEAD {
        return host_ok;
    }
    // What the browser says of the request's initiator: `same-origin`, or `none` for one the
    // user started; absent from scripts and older browsers.
    let fetch_site = header(header::HeaderName::from_static("sec-fetch-site"));
    let site_ok = fetch_site.is_none_or(|site| matches!(site, "same-origin" | "none"));
    let origin_ok = match header(header::ORIGIN) {
        None => headers.get(header::ORIGIN).is_none(),
        // A page served with `Referrer-Policy: no-referrer` posts its forms with `Origin: null`;
        // only the browser's own `Sec-Fetch-Site` can then say it was this server's page.
        Some("null") => fetch_site == Some("same-origin"),
        Some(origin) => hosts
            .iter()
            .any(|own| origin.eq_ignore_ascii_case(&format!("http://{own}"))),
    };
    host_ok && site_ok && origin_ok
}

/// The middleware: `/local/*` requests from elsewhere get a 403 problem; every other path passes.
pub async fn guard(port: u16, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(LOCAL_PREFIX)
        && !allowed(port, request.method(), request.headers())
    {
        tracing::warn!(
            path = request.uri().path(),
            "a /local route was asked by another host or origin; refused"
        );
        return ApiError::Forbidden.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_this_servers_own_names_and_origins() {
        let post = Method::POST;
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
        ] {
            assert!(allowed(8080, &post, &headers(&[("host", host)])), "{host}");
            let origin = format!("http://{host}");
            assert!(allowed(
                8080,
                &post,
                &headers(&[("host", host), ("origin", &origin)])
            ));
        }
        for host in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "localhost",
            "127.0.0.1:8080.evil.example",
            "",
        ] {
            assert!(
                !allowed(8080, &Method::GET, &headers(&[("host", host)])),
                "{host}"
            );
        }
        assert!(!allowed(8080, &Method::GET, &HeaderMap::new()));
        // The browser's word on the initiator: its own page's form (posted with `Origin: null`
        // under `no-referrer`) passes; another site's, whatever its Origin, does not.
        let host = ("host", "127.0.0.1:8080");
        let same = ("sec-fetch-site", "same-origin");
        assert!(allowed(
            8080,
            &post,
            &headers(&[host, same, ("origin", "null")])
        ));
        assert!(allowed(
            8080,
            &post,
            &headers(&[host, ("sec-fetch-site", "none")])
        ));
        for site in ["cross-site", "same-site"] {
            assert!(!allowed(
                8080,
                &post,
                &headers(&[host, ("sec-fetch-site", site)])
            ));
            assert!(!allowed(
                8080,
                &post,
                &headers(&[
                    host,
                    ("sec-fetch-site", site),
                    ("origin", "http://127.0.0.1:8080")
                ])
            ));
        }
        for origin in [
            "http://evil.example",
            "null",
            "https://127.0.0.1:8080",
            "http://127.0.0.1:8081",
            "http://127.0.0.1:8080.evil.example",
        ] {
            assert!(
                !allowed(
                    8080,
                    &post,
                    &headers(&[("host", "127.0.0.1:8080"), ("origin", origin)])
                ),
                "{origin}"
            );
            // A GET carries nothing a foreign page could use (the pages are the same for all).
            assert!(allowed(
                8080,
                &Method::GET,
                &headers(&[("host", "127.0.0.1:8080"), ("origin", origin)])
            ));
        }
    }
}
