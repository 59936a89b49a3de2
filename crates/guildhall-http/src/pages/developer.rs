//! Developer settings: any account registers third-party products (OAuth
//! clients) and sees the ones it registered.

use crate::HttpState;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::render;
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::ports::Product;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new().route("/developer", get(show)).route("/developer/products", post(register))
}

#[derive(Template)]
#[template(path = "developer.html")]
struct DeveloperPage {
    csrf: String,
    issuer: String,
    products: Vec<Product>,
    /// Set right after a registration: the product's name and its secret.
    created: String,
    secret: String,
}

async fn page(
    state: &HttpState,
    jar: CookieJar,
    who: &SignedIn,
    created: String,
    secret: String,
) -> Result<Response, PageError> {
    let products = state.app.oauth().own_products(&who.account).await?;
    let (jar, csrf) = csrf::token(state, jar);
    let issuer = state.app.oauth().issuer().to_owned();
    Ok((jar, render(&DeveloperPage { csrf, issuer, products, created, secret })).into_response())
}

async fn show(State(state): State<HttpState>, jar: CookieJar, who: SignedIn) -> Result<Response, PageError> {
    page(&state, jar, &who, String::new(), String::new()).await
}

#[derive(Deserialize)]
struct RegisterForm {
    name: String,
    redirect_uris: String,
    homepage: Option<String>,
    public: Option<String>,
}

async fn register(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    CsrfForm(f): CsrfForm<RegisterForm>,
) -> Result<Response, PageError> {
    let uris: Vec<String> =
        f.redirect_uris.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    let public = f.public.as_deref() == Some("true");
    let (product, secret) =
        state.app.oauth().register_own_product(&who.account, &f.name, &uris, public, f.homepage.as_deref()).await?;
    let secret = secret.map(|s| s.expose().to_owned()).unwrap_or_default();
    page(&state, jar, &who, product.name, secret).await
}
