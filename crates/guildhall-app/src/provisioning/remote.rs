//! The application's SCIM endpoint as a client sees it (RFC 7644 §3): each
//! request through the `WebClient` port, and each answer sorted into what
//! stops a round (the endpoint failed) and what concerns one resource only.

use crate::App;
use crate::ports::WebRequest;
use guildhall_core::provisioning::{clean, deactivation, eq_filter, failure_text};
use serde_json::Value;
use url::Url;

/// The longest resource id accepted from an application.
const MAX_ID: usize = 1024;

/// Why a request did not do what it should.
#[derive(Debug)]
pub(super) enum Failure {
    /// The endpoint as a whole: no answer, a refused token, a redirect, a
    /// 5xx or 429, or an answer no SCIM server gives. The round stops.
    Endpoint(String),
    /// This resource only (a 4xx about it): the round goes on without it.
    Resource(String),
}

/// What a write to an existing resource found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Written {
    Done,
    /// 404: the application no longer has it.
    Gone,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Endpoint {
    Users,
    Groups,
}

impl Endpoint {
    fn as_str(self) -> &'static str {
        match self {
            Self::Users => "Users",
            Self::Groups => "Groups",
        }
    }
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub(super) struct Remote<'a> {
    app: &'a App,
    base: Url,
    token: String,
    public_only: bool,
}

impl<'a> Remote<'a> {
    pub(super) fn new(app: &'a App, base: Url, token: String) -> Self {
        let public_only = !app.settings().provisioning_allow_loopback;
        Self { app, base, token, public_only }
    }

    fn url(&self, endpoint: Endpoint, id: Option<&str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(endpoint.as_str());
            if let Some(id) = id {
                path.push(id);
            }
        }
        url
    }

    async fn send(&self, method: &str, url: Url, body: Option<&Value>, what: &str) -> Result<Answer, Failure> {
        let mut headers = vec![
            ("authorization".to_owned(), format!("Bearer {}", self.token)),
            ("accept".to_owned(), "application/scim+json, application/json".to_owned()),
        ];
        if body.is_some() {
            headers.push(("content-type".to_owned(), "application/scim+json".to_owned()));
        }
        let request = WebRequest {
            method: method.to_owned(),
            url,
            headers,
            body: body.map(|b| b.to_string().into_bytes()),
            public_only: self.public_only,
        };
        match self.app.deps.web.send(request).await {
            Ok(r) => Ok(Answer { status: r.status, body: r.body }),
            Err(e) => Err(Failure::Endpoint(clean(&format!("{what}: no answer: {}", e.0), &self.token))),
        }
    }

    /// A failed answer: about the resource (most 4xx) or the endpoint.
    fn refused(&self, what: &str, a: &Answer) -> Failure {
        let text = failure_text(what, a.status, &a.body, &self.token);
        match a.status {
            401 | 403 | 404 | 405 | 408 | 429 => Failure::Endpoint(text),
            400..=499 => Failure::Resource(text),
            _ => Failure::Endpoint(text),
        }
    }

    fn malformed(&self, what: &str, why: &str) -> Failure {
        Failure::Endpoint(clean(&format!("{what}: {why}"), &self.token))
    }

    /// The resources whose `attribute` equals `value` (RFC 7644 §3.4.2).
    pub(super) async fn find(&self, endpoint: Endpoint, attribute: &str, value: &str) -> Result<Vec<Value>, Failure> {
        let filter = eq_filter(attribute, value);
        let what = format!("GET /{}?filter={filter}", endpoint.as_str());
        let mut url = self.url(endpoint, None);
        url.query_pairs_mut().append_pair("filter", &filter);
        let a = self.send("GET", url, None, &what).await?;
        if !a.ok() {
            // A filter it cannot answer is a fault of the endpoint, not of
            // the resource: every lookup would fail alike.
            return Err(match self.refused(&what, &a) {
                Failure::Resource(t) | Failure::Endpoint(t) => Failure::Endpoint(t),
            });
        }
        let list: Value =
            serde_json::from_slice(&a.body).map_err(|_| self.malformed(&what, "the answer is not JSON"))?;
        match &list["Resources"] {
            Value::Array(items) => Ok(items.clone()),
            Value::Null if list.is_object() => Ok(Vec::new()),
            _ => Err(self.malformed(&what, "the answer is not a SCIM ListResponse")),
        }
    }

    /// Creates a resource; its id at the application.
    pub(super) async fn create(&self, endpoint: Endpoint, body: &Value, label: &str) -> Result<String, Failure> {
        let what = format!("POST /{} ({label})", endpoint.as_str());
        let a = self.send("POST", self.url(endpoint, None), Some(body), &what).await?;
        if !a.ok() {
            return Err(self.refused(&what, &a));
        }
        let created: Value =
            serde_json::from_slice(&a.body).map_err(|_| self.malformed(&what, "the answer is not JSON"))?;
        resource_id(&created).ok_or_else(|| self.malformed(&what, "the answer has no id"))
    }

    /// Replaces a resource (PUT, RFC 7644 §3.5.1).
    pub(super) async fn replace(
        &self,
        endpoint: Endpoint,
        id: &str,
        body: &Value,
        label: &str,
    ) -> Result<Written, Failure> {
        let what = format!("PUT /{}/{id} ({label})", endpoint.as_str());
        let mut body = body.clone();
        body["id"] = Value::String(id.to_owned());
        let a = self.send("PUT", self.url(endpoint, Some(id)), Some(&body), &what).await?;
        self.written(&what, &a)
    }

    /// Sets `active` to false (PATCH, RFC 7644 §3.5.2).
    pub(super) async fn deactivate(&self, id: &str, label: &str) -> Result<Written, Failure> {
        let what = format!("PATCH /Users/{id} ({label})");
        let a = self.send("PATCH", self.url(Endpoint::Users, Some(id)), Some(&deactivation()), &what).await?;
        self.written(&what, &a)
    }

    /// Deletes a resource; one already gone is fine.
    pub(super) async fn delete(&self, endpoint: Endpoint, id: &str, label: &str) -> Result<(), Failure> {
        let what = format!("DELETE /{}/{id} ({label})", endpoint.as_str());
        let a = self.send("DELETE", self.url(endpoint, Some(id)), None, &what).await?;
        match self.written(&what, &a)? {
            Written::Done | Written::Gone => Ok(()),
        }
    }

    fn written(&self, what: &str, a: &Answer) -> Result<Written, Failure> {
        match a.status {
            404 => Ok(Written::Gone),
            _ if a.ok() => Ok(Written::Done),
            _ => Err(self.refused(what, a)),
        }
    }
}

/// A resource's `id`: a string of 1 to `MAX_ID` characters.
pub(super) fn resource_id(resource: &Value) -> Option<String> {
    resource["id"].as_str().filter(|id| !id.is_empty() && id.len() <= MAX_ID).map(str::to_owned)
}
