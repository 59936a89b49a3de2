//! The OpenID Connect provider's keys as an operator meets them.

use crate::spawn;
use guildhall_testkit::{Backend, spawn_app_with};

/// Nodes of one deployment must share the master key: a node with another
/// one refuses to start rather than sign with keys it cannot open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_master_key_refuses_to_start() {
    let a = spawn(Backend::Postgres).await;
    let keys = a.app.oauth().jwks().await.unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "first start makes one signing key");
    assert_eq!(keys["keys"][0]["kty"], "OKP");
    assert_eq!(keys["keys"][0]["crv"], "Ed25519");
    assert!(keys["keys"][0].get("d").is_none(), "the private key is published");
    let db = a.settings.database_url.clone();
    let settings = {
        let dir = tempfile::tempdir().unwrap();
        let mut s = guildhall_testkit::test_settings(Backend::Sqlite, dir.path()).await;
        s.database_url = db;
        (s, dir)
    };
    let err = guildhall::startup::Server::build(&settings.0, guildhall::startup::system_clock()).await.err();
    let err = format!("{:#}", err.expect("a node with another master key started"));
    assert!(err.contains("cannot be unsealed"), "{err}");
    // With the shared key file it starts, and publishes the same key.
    let key = a.data_dir.join("master.key");
    let b = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = a.settings.database_url.clone();
        s.master_key_file = Some(key);
    })
    .await;
    assert_eq!(b.app.oauth().jwks().await.unwrap(), keys);
}

/// The generated master key file is private to the server's user.
#[cfg(unix)]
#[tokio::test]
async fn the_generated_master_key_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let a = spawn(Backend::Sqlite).await;
    let meta = std::fs::metadata(a.data_dir.join("master.key")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(a.data_dir.join("master.key")).unwrap().trim().len(), 64);
}
