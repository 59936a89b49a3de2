//! The `WebClient` port on reqwest (rustls with aws-lc-rs): calls to
//! upstream identity providers. JSON is asked for, redirects are not
//! followed, answers are capped at 1 MiB and every call times out.

use async_trait::async_trait;
use guildhall_app::ports::{WebClient, WebError, WebResponse};
use std::time::Duration;

const MAX_BODY: usize = 1024 * 1024;

pub struct ReqwestWeb(reqwest::Client);

impl ReqwestWeb {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Guildhall/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self(client))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<WebResponse, WebError> {
        let unreachable = |e: reqwest::Error| {
            // The URL without its query (which may carry a code).
            let at = e.url().map(|u| format!("{}{}", u.origin().ascii_serialization(), u.path())).unwrap_or_default();
            let timeout = e.is_timeout();
            tracing::warn!(url = %at, error = %e.without_url(), "upstream request failed");
            WebError(if timeout { "it did not answer in time".into() } else { "it could not be reached".into() })
        };
        let mut response =
            request.header(reqwest::header::ACCEPT, "application/json").send().await.map_err(unreachable)?;
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
}

#[async_trait]
impl WebClient for ReqwestWeb {
    async fn get(&self, url: &url::Url, bearer: Option<&str>) -> Result<WebResponse, WebError> {
        let mut request = self.0.get(url.clone());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<WebResponse, WebError> {
        let mut request = self.0.post(url.clone()).form(form);
        if let Some((id, secret)) = basic {
            // RFC 6749 §2.3.1: both parts form-encoded before Basic.
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(id), Some(enc(secret)));
        }
        self.send(request).await
    }
}
