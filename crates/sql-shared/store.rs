//! The store type, shared by both backends, and error mapping.

use guildhall_app::ports::{Store, StoreError};

/// A store on one database pool. Cheap to clone.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: sqlx::Pool<crate::Db>,
}

impl SqlStore {
    pub fn from_pool(pool: sqlx::Pool<crate::Db>) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &sqlx::Pool<crate::Db> {
        &self.pool
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::MIGRATOR.run(&self.pool).await.map_err(backend)
    }
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(db)
    }
}

/// A write transaction.
pub(crate) type Tx = sqlx::Transaction<'static, crate::Db>;

/// Any error as an opaque backend failure.
pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// A database error, naming the field of a unique violation we know.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e
        && d.is_unique_violation()
    {
        let text = format!("{} {}", d.constraint().unwrap_or_default(), d.message());
        let needles = [
            ("email_normalized", "email"),
            ("username", "username"),
            ("slug", "slug"),
            ("external_identities", "identity"),
            ("passkeys", "passkey"),
            // The partial unique index on verified domains (SQLite names the
            // column, PostgreSQL the index).
            ("org_domains", "domain_taken"),
        ];
        for (needle, field) in needles {
            if text.contains(needle) {
                return StoreError::Conflict(field);
            }
        }
    }
    backend(e)
}

/// A stored value that no longer parses: the row is corrupt.
/// An optional timestamp column (unix ms).
pub(crate) fn millis(
    row: &<crate::Db as sqlx::Database>::Row,
    column: &str,
) -> Result<Option<guildhall_core::Timestamp>, StoreError> {
    use sqlx::Row;
    Ok(row.try_get::<Option<i64>, _>(column).map_err(db)?.map(guildhall_core::Timestamp::from_millis))
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("corrupt stored value: {what}").into())
}
