//! `OAuthStore` on SQL.

use crate::changes::record_change;
use crate::store::{SqlStore, Tx, corrupt, db};
use guildhall_app::ports::{
    AuthorizationCode, Change, CodeUse, Consent, OAuthStore, Product, RefreshToken, RefreshUse, SigningKey, StoreError,
};
use guildhall_core::tokens::TokenHash;
use guildhall_core::{AccountId, GrantId, ProductId, Timestamp};
use sqlx::Row;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

fn hash_from(bytes: Vec<u8>) -> Result<TokenHash, StoreError> {
    Ok(TokenHash(bytes.try_into().map_err(|_| corrupt("hash"))?))
}

fn product_from_row(row: &DbRow) -> Result<Product, StoreError> {
    let words = |col: &str| -> Result<Vec<String>, StoreError> {
        Ok(row.try_get::<String, _>(col).map_err(db)?.split_whitespace().map(str::to_owned).collect())
    };
    Ok(Product {
        id: ProductId::from_uuid(row.try_get("id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        secret_hash: row.try_get::<Option<Vec<u8>>, _>("secret_hash").map_err(db)?.map(hash_from).transpose()?,
        first_party: row.try_get("first_party").map_err(db)?,
        redirect_uris: words("redirect_uris")?,
        scopes: row.try_get("scopes").map_err(db)?,
        grant_types: words("grant_types")?,
        homepage: row.try_get("homepage").map_err(db)?,
        owner: row.try_get::<Option<Uuid>, _>("owner_id").map_err(db)?.map(AccountId::from_uuid),
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
    })
}

fn amr_from(row: &DbRow) -> Result<Vec<String>, StoreError> {
    Ok(row.try_get::<String, _>("amr").map_err(db)?.split_whitespace().map(str::to_owned).collect())
}

fn code_from_row(row: &DbRow) -> Result<AuthorizationCode, StoreError> {
    Ok(AuthorizationCode {
        hash: hash_from(row.try_get("code_hash").map_err(db)?)?,
        grant: GrantId::from_uuid(row.try_get("grant_id").map_err(db)?),
        product: ProductId::from_uuid(row.try_get("product_id").map_err(db)?),
        account: AccountId::from_uuid(row.try_get("account_id").map_err(db)?),
        redirect_uri: row.try_get("redirect_uri").map_err(db)?,
        scopes: row.try_get("scopes").map_err(db)?,
        nonce: row.try_get("nonce").map_err(db)?,
        code_challenge: row.try_get("code_challenge").map_err(db)?,
        auth_time: Timestamp::from_millis(row.try_get("auth_time").map_err(db)?),
        amr: amr_from(row)?,
        expires_at: Timestamp::from_millis(row.try_get("expires_at").map_err(db)?),
    })
}

fn refresh_from_row(row: &DbRow) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        hash: hash_from(row.try_get("token_hash").map_err(db)?)?,
        grant: GrantId::from_uuid(row.try_get("grant_id").map_err(db)?),
        product: ProductId::from_uuid(row.try_get("product_id").map_err(db)?),
        account: AccountId::from_uuid(row.try_get("account_id").map_err(db)?),
        scopes: row.try_get("scopes").map_err(db)?,
        auth_time: Timestamp::from_millis(row.try_get("auth_time").map_err(db)?),
        amr: amr_from(row)?,
        expires_at: Timestamp::from_millis(row.try_get("expires_at").map_err(db)?),
    })
}

/// One kind of single-use secret: the statement that spends it, and the one
/// that finds it already spent.
struct SingleUse {
    spend: &'static str,
    spent: &'static str,
}

const CODES: SingleUse = SingleUse {
    spend: "UPDATE authorization_codes SET used_at = $1 \
            WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING *",
    spent: "SELECT * FROM authorization_codes WHERE code_hash = $1 AND used_at IS NOT NULL",
};

const REFRESH_TOKENS: SingleUse = SingleUse {
    spend: "UPDATE refresh_tokens SET used_at = $1 \
            WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING *",
    spent: "SELECT * FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
};

impl SqlStore {
    /// Spends a single-use secret (codes, refresh tokens): the conditional
    /// UPDATE moves `used_at` from NULL once, so of two racing requests one
    /// wins. `Some((row, true))` if this call spent it, `Some((row, false))`
    /// if it was spent before, `None` if unknown or expired.
    async fn spend(
        &self,
        kind: &SingleUse,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<(DbRow, bool)>, StoreError> {
        let spent = sqlx::query(kind.spend)
            .bind(now.as_millis())
            .bind(hash.0.to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        if let Some(row) = spent {
            return Ok(Some((row, true)));
        }
        let before = sqlx::query(kind.spent).bind(hash.0.to_vec()).fetch_optional(&self.pool).await.map_err(db)?;
        Ok(before.map(|row| (row, false)))
    }
}

/// Records a revoked grant inside the caller's transaction; true if it was
/// not revoked before (the caller then records the change).
async fn insert_revoked(tx: &mut Tx, grant: GrantId, now: Timestamp) -> Result<bool, StoreError> {
    let done = sqlx::query("INSERT INTO revoked_grants (grant_id, revoked_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(grant.0)
        .bind(now.as_millis())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() > 0)
}

#[async_trait::async_trait]
impl OAuthStore for SqlStore {
    async fn create_product(&self, p: &Product) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO products (id, name, secret_hash, first_party, redirect_uris, scopes, grant_types, homepage, \
             owner_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(p.id.0)
        .bind(&p.name)
        .bind(p.secret_hash.map(|h| h.0.to_vec()))
        .bind(p.first_party)
        .bind(p.redirect_uris.join("\n"))
        .bind(&p.scopes)
        .bind(p.grant_types.join(" "))
        .bind(p.homepage.as_deref())
        .bind(p.owner.map(|o| o.0))
        .bind(p.created_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        let row = sqlx::query("SELECT * FROM products WHERE id = $1").bind(id.0).fetch_optional(&self.pool).await;
        row.map_err(db)?.as_ref().map(product_from_row).transpose()
    }

    async fn products_of(&self, owner: AccountId) -> Result<Vec<Product>, StoreError> {
        let rows = sqlx::query("SELECT * FROM products WHERE owner_id = $1 ORDER BY name, id")
            .bind(owner.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(product_from_row).collect()
    }

    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_sealed)
        .bind(&key.public_jwk)
        .bind(key.created_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(SigningKey {
                    kid: row.try_get("kid").map_err(db)?,
                    alg: row.try_get("alg").map_err(db)?,
                    private_sealed: row.try_get("private_key").map_err(db)?,
                    public_jwk: row.try_get("public_jwk").map_err(db)?,
                    created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
                })
            })
            .collect()
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM signing_keys WHERE kid = $1").bind(kid).execute(&self.pool).await.map_err(db)?;
        Ok(())
    }

    async fn create_authorization_code(&self, c: &AuthorizationCode) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, grant_id, product_id, account_id, redirect_uri, scopes, nonce, \
             code_challenge, auth_time, expires_at, amr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(c.hash.0.to_vec())
        .bind(c.grant.0)
        .bind(c.product.0)
        .bind(c.account.0)
        .bind(&c.redirect_uri)
        .bind(&c.scopes)
        .bind(c.nonce.as_deref())
        .bind(c.code_challenge.as_deref())
        .bind(c.auth_time.as_millis())
        .bind(c.expires_at.as_millis())
        .bind(c.amr.join(" "))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn use_authorization_code(&self, hash: &TokenHash, now: Timestamp) -> Result<CodeUse, StoreError> {
        Ok(match self.spend(&CODES, hash, now).await? {
            Some((row, true)) => CodeUse::Fresh(code_from_row(&row)?),
            Some((row, false)) => CodeUse::Replayed(code_from_row(&row)?),
            None => CodeUse::Invalid,
        })
    }

    async fn create_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, product_id, account_id, scopes, auth_time, expires_at, amr) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(t.hash.0.to_vec())
        .bind(t.grant.0)
        .bind(t.product.0)
        .bind(t.account.0)
        .bind(&t.scopes)
        .bind(t.auth_time.as_millis())
        .bind(t.expires_at.as_millis())
        .bind(t.amr.join(" "))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn use_refresh_token(&self, hash: &TokenHash, now: Timestamp) -> Result<RefreshUse, StoreError> {
        Ok(match self.spend(&REFRESH_TOKENS, hash, now).await? {
            Some((row, true)) => RefreshUse::Fresh(refresh_from_row(&row)?),
            Some((row, false)) => RefreshUse::Replayed(refresh_from_row(&row)?),
            None => RefreshUse::Invalid,
        })
    }

    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshToken>, StoreError> {
        let row = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash.0.to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(refresh_from_row).transpose()
    }

    async fn save_consent(
        &self,
        account: AccountId,
        product: ProductId,
        scopes: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (account_id, product_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, product_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
        )
        .bind(account.0)
        .bind(product.0)
        .bind(scopes)
        .bind(now.as_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn consents(&self, account: AccountId) -> Result<Vec<Consent>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.product_id, p.name, c.scopes, c.granted_at FROM consents c \
             JOIN products p ON p.id = c.product_id WHERE c.account_id = $1 ORDER BY p.name, c.product_id",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(Consent {
                    product: ProductId::from_uuid(r.try_get("product_id").map_err(db)?),
                    product_name: r.try_get("name").map_err(db)?,
                    scopes: r.try_get("scopes").map_err(db)?,
                    granted_at: Timestamp::from_millis(r.try_get("granted_at").map_err(db)?),
                })
            })
            .collect()
    }

    async fn revoke_consent(&self, account: AccountId, product: ProductId, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let done = sqlx::query("DELETE FROM consents WHERE account_id = $1 AND product_id = $2")
            .bind(account.0)
            .bind(product.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        // Every grant the product holds for the person: by code or refresh.
        let grants: Vec<Uuid> = sqlx::query_scalar(
            "SELECT grant_id FROM authorization_codes WHERE account_id = $1 AND product_id = $2 \
             UNION SELECT grant_id FROM refresh_tokens WHERE account_id = $1 AND product_id = $2",
        )
        .bind(account.0)
        .bind(product.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        // Every revocation first, the change records last (the counter row
        // stays locked from the first record_change until commit).
        let mut revoked = Vec::new();
        for grant in grants.into_iter().map(GrantId::from_uuid) {
            if insert_revoked(&mut tx, grant, now).await? {
                revoked.push(grant);
            }
        }
        for grant in revoked {
            record_change(&mut tx, Change::Grant(grant)).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn revoke_grant(&self, grant: GrantId, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        if insert_revoked(&mut tx, grant, now).await? {
            record_change(&mut tx, Change::Grant(grant)).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn grant_revoked(&self, grant: GrantId) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM revoked_grants WHERE grant_id = $1")
            .bind(grant.0)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n > 0)
    }
}
