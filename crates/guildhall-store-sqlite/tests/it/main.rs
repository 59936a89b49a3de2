//! The store conformance suite on SQLite (a fresh database file per test).

#![allow(clippy::unwrap_used, clippy::expect_used)]

async fn fresh() -> std::sync::Arc<dyn guildhall_app::ports::Store> {
    let dir = tempfile::tempdir().unwrap().keep();
    let store = guildhall_store_sqlite::connect(&format!("sqlite://{}", dir.join("t.db").display())).await.unwrap();
    store.migrate().await.unwrap();
    std::sync::Arc::new(store)
}

guildhall_testkit::store_conformance!(fresh());
