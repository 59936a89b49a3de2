use crate::spawn;
use guildhall_testkit::{Backend, on_both_backends};

on_both_backends!(health_readiness_and_metrics_answer, api_errors_are_problem_json, pages_carry_security_headers,);

async fn health_readiness_and_metrics_answer(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    assert_eq!(browser.get_text("/healthz").await, (200, r#"{"status":"ok"}"#.to_owned()));
    assert_eq!(browser.get_text("/readyz").await, (200, r#"{"status":"ready"}"#.to_owned()));
    browser.post_form("/login", &[("email", "nobody@example.com"), ("password", "wrong wrong")]).await;
    let (status, metrics) = browser.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains(r#"guildhall_signins_total{outcome="invalid_credentials"} 1"#), "{metrics}");
    assert!(
        metrics.contains(r#"guildhall_http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"guildhall_http_request_duration_seconds_bucket{le="#), "{metrics}");
    assert!(metrics.contains(r#"route="/login""#));
}

async fn api_errors_are_problem_json(b: Backend) {
    let app = spawn(b).await;
    let anonymous = app.client();
    let res = anonymous.get("/api/v1/account").await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["type"], "https://guildhall.dev/problems/unauthenticated");
    let res = anonymous.get("/api/v1/no-such-thing").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    let ada = app.signed_up("ada", "analytical engine", true).await;
    let me: serde_json::Value = ada.get("/api/v1/account").await.json().await.unwrap();
    assert_eq!(me["username"], "ada");
    assert_eq!(me["email_verified"], true);
    assert!(me.get("password_hash").is_none());
}

async fn pages_carry_security_headers(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    for path in ["/login", "/signup", "/password/forgot", "/verify", "/healthz"] {
        let res = browser.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"), "{path}");
        assert!(h.contains_key("x-request-id"), "{path}");
    }
}

/// The OpenAPI document lists every endpoint of the workspaces API, and
/// every operation it lists is served (not the API's 404 fallback).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn(Backend::Sqlite).await;
    let (status, body) = app.client().get_text("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let expected = [
        ("/workspaces", &["get", "post"][..]),
        ("/workspaces/{ws}", &["get", "patch", "delete"]),
        ("/workspaces/{ws}/groups", &["get", "post"]),
        ("/workspaces/{ws}/groups/{group}", &["get", "patch", "delete"]),
        ("/workspaces/{ws}/groups/{group}/members", &["get"]),
        ("/workspaces/{ws}/groups/{group}/members/{username}", &["put", "delete"]),
        ("/workspaces/{ws}/groups/{group}/permissions/{repo}", &["put", "delete"]),
        ("/workspaces/{ws}/repositories", &["get", "post"]),
        ("/workspaces/{ws}/repositories/{repo}", &["get", "patch", "delete"]),
        ("/workspaces/{ws}/repositories/{repo}/grants/{username}", &["put", "delete"]),
        ("/workspaces/{ws}/repositories/{repo}/permissions/{username}", &["get"]),
        ("/workspaces/{ws}/members", &["get"]),
        ("/workspaces/{ws}/invitations", &["get", "post"]),
        ("/workspaces/{ws}/invitations/{id}/resend", &["post"]),
        ("/workspaces/{ws}/invitations/{id}", &["delete"]),
        ("/workspaces/{ws}/audit", &["get"]),
        ("/account/tokens", &["get", "post"]),
        ("/account", &["get"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in expected {
        for m in methods {
            assert!(paths.get(path).and_then(|p| p.get(*m)).is_some(), "{m} {path} is not documented");
        }
    }
    let http = reqwest::Client::new();
    for (path, ops) in paths {
        let concrete = path
            .replace("{ws}", "w")
            .replace("{group}", "g")
            .replace("{repo}", "r")
            .replace("{username}", "u")
            .replace("{id}", "i");
        for method in ops.as_object().unwrap().keys() {
            let res = http
                .request(method.to_uppercase().parse().unwrap(), app.url(&format!("/api/v1{concrete}")))
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            assert_ne!(body["title"], "No such API endpoint", "{method} {path} is documented but not served");
        }
    }
}

/// Every page and endpoint carries the security headers; HSTS only behind TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_are_on_every_response_and_hsts_behind_tls() {
    let app = spawn(guildhall_testkit::Backend::Sqlite).await;
    let browser = app.signed_up("ada", "correct horse battery", true).await;
    let paths = [
        "/",
        "/login",
        "/signup",
        "/password/forgot",
        "/account",
        "/account/security",
        "/login/2fa",
        "/static/passkeys.js",
        "/auth/nope/callback",
        "/workspaces",
        "/orgs",
        "/developer",
        "/logout",
        "/sites/none/login",
        "/no-such-page",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/workspaces",
        "/.well-known/openid-configuration",
        "/oauth2/jwks",
        "/oauth2/authorize",
    ];
    for path in paths {
        let res = browser.get(path).await;
        let h = res.headers();
        let csp = h.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: csp {csp:?}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(h.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{path}");
        assert_eq!(h.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
        assert!(h.get("referrer-policy").is_some(), "{path}");
        assert!(h.get("strict-transport-security").is_none(), "{path}: HSTS over plain HTTP");
        // No inline script for the CSP to forbid: scripts come from files.
        let body = res.text().await.unwrap_or_default();
        for inline in ["<script>", "<script type", " onclick=", " onload=", " onsubmit=", "javascript:"] {
            assert!(!body.contains(inline), "{path} has inline script ({inline})");
        }
    }
    let tls = guildhall_testkit::spawn_app_with(guildhall_testkit::Backend::Sqlite, |s| {
        s.public_url = Some("https://id.example.test".into());
    })
    .await;
    let res = reqwest::get(format!("{}/login", tls.local_url)).await.unwrap();
    let hsts = res.headers().get("strict-transport-security").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(hsts.starts_with("max-age=31536000"), "no HSTS behind TLS: {hsts:?}");
}
