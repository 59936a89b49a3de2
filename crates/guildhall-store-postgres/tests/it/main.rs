//! The store conformance suite on a real PostgreSQL (a fresh database per
//! test in the throwaway cluster the test kit starts).

#![allow(clippy::unwrap_used, clippy::expect_used)]

async fn fresh() -> ((), std::sync::Arc<dyn guildhall_app::ports::Store>) {
    let url = guildhall_testkit::postgres::fresh_database_url().await.unwrap();
    let store = guildhall_store_postgres::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    ((), std::sync::Arc::new(store))
}

guildhall_testkit::store_conformance!(fresh());
