//! The store conformance suite on SQLite (a fresh database file per test).

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The directory goes with the check, so runs leave nothing behind.
async fn fresh() -> (tempfile::TempDir, std::sync::Arc<dyn guildhall_app::ports::Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        guildhall_store_sqlite::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    store.migrate().await.unwrap();
    (dir, std::sync::Arc::new(store))
}

guildhall_testkit::store_conformance!(fresh());
