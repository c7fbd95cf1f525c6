//! The plain-HTTP page on the LAN address that helps a phone trust Portico's CA:
//! `/ca` (how to install it, per platform), `/ca.crt` (DER, which phones offer to install)
//! and `/ca.pem`. Nothing else is served there, and only to the share ranges.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::IpList;
use crate::tls::Tls;

/// Serve the CA page on `listener` until `stop` is cancelled, to clients in `allowed`.
pub(super) async fn serve(
    listener: TcpListener,
    tls: Tls,
    allowed: IpList,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, client)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (tls, allowed, stop) = (tls.clone(), allowed.clone(), stop.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let resp = answer(&req, client, &tls, &allowed);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = conn => if let Err(err) = result {
                    tracing::debug!(%client, "CA page connection ended: {err}");
                },
                () = stop.cancelled() => {}
            }
        });
    }
}

fn answer<B>(
    req: &Request<B>,
    client: SocketAddr,
    tls: &Tls,
    allowed: &IpList,
) -> Response<Full<Bytes>> {
    if allowed.matching(client.ip()).is_none() {
        return plain(
            StatusCode::FORBIDDEN,
            "This page is only for devices on the local network.\n",
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Only GET.\n");
    }
    let authority = tls.authority();
    let ca = authority.ca();
    let (body, content_type, download) = match req.uri().path() {
        "/ca" | "/ca/" => (
            Bytes::from(page(ca.root_name(), &ca.root_fingerprint())),
            "text/html; charset=utf-8",
            None,
        ),
        "/ca.crt" => (
            Bytes::from(ca.root_der().to_vec()),
            "application/x-x509-ca-cert",
            Some("portico-ca.crt"),
        ),
        "/ca.pem" => (
            Bytes::from(ca.root_pem().to_owned()),
            "application/x-pem-file",
            Some("portico-ca.pem"),
        ),
        _ => {
            return plain(
                StatusCode::NOT_FOUND,
                "Not here: open /ca to install Portico's certificate.\n",
            );
        }
    };
    let mut resp = Response::new(Full::new(body));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Some(name) = download
        && let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    resp
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The install page: the certificate's name and fingerprint (to compare with the one the
/// Portico window shows), the download, and the steps for each platform.
fn page(name: &str, fingerprint: &str) -> String {
    let name = escape(name);
    let short: String = fingerprint
        .as_bytes()
        .chunks(2)
        .take(8)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Install Portico's certificate</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 40rem; padding: 1rem; }}
a.button {{ display: inline-block; padding: .7rem 1.2rem; border-radius: .5rem; background: #2457d6; color: #fff; text-decoration: none; font-weight: 600; }}
code {{ font-size: .9em; word-break: break-all; }}
details {{ margin: .6rem 0; padding: .4rem .8rem; border: 1px solid #8884; border-radius: .5rem; }}
summary {{ font-weight: 600; cursor: pointer; }}
</style></head>
<body>
<h1>Trust Portico on this device</h1>
<p>The pages shared from this computer use certificates from <strong>{name}</strong>.
Install it once on this device, then open the shared link again.</p>
<p><a class="button" href="/ca.crt">Download the certificate</a> (<a href="/ca.pem">PEM</a>)</p>
<p>Check that the fingerprint starts with <code>{short}</code>, as shown in Portico on the computer (Certificates page).</p>
<details open><summary>iPhone and iPad (iOS, iPadOS)</summary><ol>
<li>Open this page in Safari and tap <em>Download the certificate</em>, then <em>Allow</em>.</li>
<li>Settings → General → VPN &amp; Device Management → the Portico profile → <em>Install</em>.</li>
<li>Settings → General → About → Certificate Trust Settings → switch on <strong>{name}</strong>.</li>
</ol></details>
<details><summary>Android</summary><ol>
<li>Tap <em>Download the certificate</em>.</li>
<li>Settings → Security (or Security &amp; privacy) → More security settings → Encryption &amp; credentials → Install a certificate → <em>CA certificate</em> → <em>Install anyway</em>, and choose <code>portico-ca.crt</code> from Downloads.</li>
<li>Chrome and most browsers then trust it; some apps only trust certificates they ship with.</li>
</ol></details>
<details><summary>macOS</summary><ol>
<li>Download the certificate and open it: Keychain Access adds it to the login keychain.</li>
<li>Double-click <strong>{name}</strong> → Trust → <em>When using this certificate: Always Trust</em>.</li>
</ol></details>
<details><summary>Windows</summary><ol>
<li>Download the certificate and open it → <em>Install Certificate…</em> → Current User.</li>
<li>Choose <em>Place all certificates in the following store</em> → <em>Trusted Root Certification Authorities</em> → Finish.</li>
</ol></details>
<details><summary>Linux</summary><ol>
<li>Download the PEM, then: <code>sudo cp portico-ca.pem /usr/local/share/ca-certificates/portico-ca.crt &amp;&amp; sudo update-ca-certificates</code> (Debian, Ubuntu) or <code>sudo trust anchor portico-ca.pem</code> (Fedora, Arch).</li>
<li>Firefox and Chromium keep their own stores: Settings → Certificates → Authorities → Import.</li>
</ol></details>
<p>The certificate can only vouch for local names and this computer's addresses, never for a real website.</p>
</body></html>
"#
    )
}
