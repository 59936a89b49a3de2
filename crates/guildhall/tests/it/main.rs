//! Integration tests: the real server over HTTP, on SQLite and on a real
//! PostgreSQL, and the binary as an operator runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account;
mod change_feed;
mod cli;
mod csrf;
mod directory;
mod external;
mod invitations;
mod links;
mod login;
mod mfa;
mod oauth;
mod ops;
mod orgs;
mod passkeys;
mod password;
mod provisioning;
mod scim;
mod signup;
mod sites;
mod smtp;
mod verify;
mod webhooks;
mod workspace_pages;
mod workspaces_api;

use guildhall_testkit::{Backend, TestApp};

/// A count of accounts with this email, straight from the store.
pub async fn account_exists(app: &TestApp, email: &str) -> bool {
    use guildhall_app::ports::AccountLookup;
    let email = guildhall_core::accounts::Email::parse(email).unwrap();
    app.app.store().find_account(AccountLookup::Email(&email)).await.unwrap().is_some()
}

pub async fn spawn(b: Backend) -> TestApp {
    guildhall_testkit::spawn_app(b).await
}

/// The text of the first element with `class="error"` on a page, if any.
pub fn page_error(html: &str) -> Option<String> {
    let start = html.find("class=\"error\"")?;
    let open = html[start..].find('>')? + start + 1;
    let close = html[open..].find('<')? + open;
    Some(html[open..close].to_owned())
}
