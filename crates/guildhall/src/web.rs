//! The `WebClient` port on reqwest (rustls with aws-lc-rs): calls to
//! upstream identity providers, webhooks and SCIM pushes. Redirects are not
//! followed, answers are capped at 1 MiB and every call times out. Requests
//! marked `public_only` (URLs that workspace and org admins choose) go
//! through a client whose resolver drops loopback, private and link-local
//! addresses, so a host name cannot point the server inward either.

use async_trait::async_trait;
use guildhall_app::ports::{WebClient, WebError, WebRequest, WebResponse};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

const MAX_BODY: usize = 1024 * 1024;

pub struct ReqwestWeb {
    client: reqwest::Client,
    public: reqwest::Client,
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Guildhall/", env!("CARGO_PKG_VERSION")))
}

/// Whether an address is on the public internet as far as we can tell:
/// not loopback, private, link-local, unique-local, unspecified, broadcast,
/// shared (100.64/10) or documentation space, also when IPv4-mapped.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 224)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
}

/// Resolves with the system resolver, keeping public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err("the host name resolves to no public address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

impl ReqwestWeb {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self { client: builder().build()?, public: builder().dns_resolver(PublicOnly).build()? })
    }

    async fn fetch(&self, request: reqwest::RequestBuilder) -> Result<WebResponse, WebError> {
        let unreachable = |e: reqwest::Error| {
            // The URL without its query (which may carry a code).
            let at = e.url().map(|u| format!("{}{}", u.origin().ascii_serialization(), u.path())).unwrap_or_default();
            let timeout = e.is_timeout();
            tracing::warn!(url = %at, error = %e.without_url(), "upstream request failed");
            WebError(if timeout { "it did not answer in time".into() } else { "it could not be reached".into() })
        };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(WebError("its answer was too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(WebResponse { status, body })
    }

    fn json(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header(reqwest::header::ACCEPT, "application/json")
    }
}

#[async_trait]
impl WebClient for ReqwestWeb {
    async fn send(&self, r: WebRequest) -> Result<WebResponse, WebError> {
        let method = reqwest::Method::from_bytes(r.method.as_bytes())
            .map_err(|_| WebError(format!("{:?} is not an HTTP method", r.method)))?;
        let client = if r.public_only {
            // IP literals never reach the resolver: check them here.
            let literal = match r.url.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if literal.is_some_and(|ip| !is_public(ip)) {
                return Err(WebError("its address is not public".into()));
            }
            &self.public
        } else {
            &self.client
        };
        let mut request = client.request(method, r.url);
        for (name, value) in &r.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = r.body {
            request = request.body(body);
        }
        self.fetch(request).await
    }

    async fn get(&self, url: &url::Url, bearer: Option<&str>) -> Result<WebResponse, WebError> {
        let mut request = self.json(self.client.get(url.clone()));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.fetch(request).await
    }

    async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<WebResponse, WebError> {
        let mut request = self.json(self.client.post(url.clone())).form(form);
        if let Some((id, secret)) = basic {
            // RFC 6749 §2.3.1: both parts form-encoded before Basic.
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(id), Some(enc(secret)));
        }
        self.fetch(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn public_only_requests_never_reach_inward_addresses() {
        let web = ReqwestWeb::new().unwrap();
        // A name that resolves to loopback only: the resolver keeps nothing.
        let addrs = reqwest::dns::Resolve::resolve(&PublicOnly, "localhost".parse().unwrap()).await;
        assert!(addrs.is_err());
        for url in ["http://localhost:9/hook", "http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://10.0.0.1:9/"] {
            let request = WebRequest {
                method: "POST".into(),
                url: url::Url::parse(url).unwrap(),
                headers: vec![],
                body: Some(b"{}".to_vec()),
                public_only: true,
            };
            assert!(web.send(request).await.is_err(), "{url} was reached");
        }
    }

    #[test]
    fn only_public_addresses_are_public() {
        for ip in ["8.8.8.8", "1.1.1.1", "2001:4860::8888", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
