//! The store conformance suite: every behaviour the use cases rely on, run
//! against both store crates (`store_conformance!` in their `tests/it`).

use guildhall_app::ports::{
    AccountLookup, Change, EmailTokenPurpose, NewAccount, NewEmailToken, NewSession, Store, StoreError,
};
use guildhall_core::accounts::{AccountStatus, DisplayName, Email, Username};
use guildhall_core::throttle::ThrottlePolicy;
use guildhall_core::tokens::{SecretToken, TokenHash};
use guildhall_core::{AccountId, SessionId, Timestamp};
use std::sync::Arc;
use std::time::Duration;

mod events;
mod identities;
mod mfa;
mod orgs;
mod provisioning;
mod webhooks;
mod workspaces;
pub use events::*;
pub use identities::*;
pub use mfa::*;
pub use orgs::*;
pub use provisioning::*;
pub use webhooks::*;
pub use workspaces::*;

/// Expands to one `#[tokio::test]` per conformance check, each on a fresh
/// store made by `$make`: an async expression yielding `(keep, Arc<dyn Store>)`,
/// where `keep` (a temporary directory, say) is dropped when the check ends.
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!(@tests $make;
            accounts_are_found_by_id_username_and_email_in_any_case,
            taken_email_or_username_is_a_named_conflict_and_changes_nothing,
            an_email_token_works_once_even_under_a_race,
            an_expired_token_is_refused,
            issuing_a_token_kills_the_previous_one_of_that_purpose,
            a_password_reset_ends_every_session_but_the_kept_one,
            deactivation_ends_sessions_and_reactivation_restores_sign_in,
            sessions_expire_and_are_revoked_only_by_their_owner,
            throttle_hits_are_counted_exactly_under_concurrency,
            the_operator_is_detected,
            creating_a_workspace_makes_its_creator_the_admin,
            the_administrators_group_is_never_deleted_nor_left_empty,
            the_last_two_admins_cannot_both_leave_at_once,
            slugs_are_unique_within_a_workspace_only,
            the_permission_snapshot_agrees_with_the_domain_rule,
            every_change_moves_the_workspace_version_and_enters_the_feed,
            account_changes_enter_the_feed_gaplessly_in_commit_order,
            members_are_paged_by_username_with_their_groups,
            all_repositories_keeps_only_members_who_reach_every_repository,
            deleting_a_workspace_removes_what_it_held,
            changes_are_audited_in_their_workspace,
            an_invitation_is_accepted_once_into_all_its_groups,
            resending_replaces_the_token_and_revoking_ends_the_invitation,
            access_tokens_work_until_revoked_or_expired,
            an_authorization_code_is_spent_once_and_a_replay_is_told_apart,
            a_refresh_token_is_spent_once_and_a_reuse_is_told_apart,
            signing_keys_are_listed_newest_first,
            an_org_keeps_its_last_admin_and_its_slug,
            verifying_a_domain_manages_exactly_its_accounts_and_removing_it_frees_them,
            a_workspace_is_auto_linked_once_however_many_race,
            one_identity_belongs_to_one_account_and_is_made_with_its_account,
            the_last_way_to_sign_in_is_never_disconnected_even_under_a_race,
            providers_are_kept_replaced_and_found_by_verified_domain,
            a_totp_step_and_a_recovery_code_are_each_accepted_once_under_a_race,
            passkeys_are_unique_per_credential_and_ceremonies_are_spent_once,
            webhook_fan_out_makes_one_delivery_per_event_under_racing_workers,
            webhook_claims_are_exclusive_and_leases_expire,
            webhook_retries_are_scheduled_and_finished_deliveries_stay_finished,
            finished_deliveries_are_pruned_in_batches_and_pending_ones_kept,
            a_webhook_owner_is_its_workspace_slug_and_admins,
            events_are_numbered_gaplessly_in_commit_order_under_racing_writers,
            a_snapshot_carries_the_cursor_of_the_state_it_shows,
            verifying_an_address_enters_the_logs_of_its_workspaces,
            user_conditions_narrow_a_workspace_by_its_members_own_columns,
            directory_tokens_are_scoped_and_revocable,
            an_org_directory_finds_hides_and_takes_back_its_users,
            provisioning_claims_are_exclusive_and_leases_expire,
            provisioning_rounds_follow_the_event_log_and_back_off,
            provisioning_maps_are_unique_and_go_with_their_connection);
    };
    (@tests $make:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (_keep, store): (_, std::sync::Arc<dyn guildhall_app::ports::Store>) = $make.await;
                $crate::conformance::$name(store).await;
            }
        )+
    };
}

pub(crate) const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

pub(crate) fn new_account(name: &str, email: &str) -> NewAccount {
    NewAccount {
        id: AccountId::from_uuid(uuid::Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        username: Username::parse(name).unwrap(),
        display_name: DisplayName::parse(name).unwrap(),
        password_hash: Some("$argon2id$fake".into()),
        email_verified: false,
        is_operator: false,
        must_change_password: false,
        identity: None,
        now: T0,
    }
}

pub(crate) fn token(purpose: EmailTokenPurpose, expires_at: Timestamp) -> (TokenHash, NewEmailToken) {
    let t = SecretToken::from_random_bytes(rand_bytes());
    (t.hash(), NewEmailToken { hash: t.hash(), purpose, expires_at })
}

pub(crate) fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    b[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    b
}

fn session(account: AccountId, expires_at: Timestamp) -> (TokenHash, NewSession) {
    let t = SecretToken::from_random_bytes(rand_bytes());
    let s = NewSession {
        id: SessionId::from_uuid(uuid::Uuid::now_v7()),
        account,
        token_hash: t.hash(),
        now: T0,
        expires_at,
        amr: vec!["pwd".into()],
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
    };
    (t.hash(), s)
}

async fn count_accounts(store: &dyn Store, email: &str) -> bool {
    store.find_account(AccountLookup::Email(&Email::parse(email).unwrap())).await.unwrap().is_some()
}

pub async fn accounts_are_found_by_id_username_and_email_in_any_case(store: Arc<dyn Store>) {
    let new = new_account("ada", "Ada@Example.com");
    let created = store.create_account(&new, None).await.unwrap();
    assert_eq!(created.email.as_str(), "Ada@Example.com", "stored as given");
    assert!(!created.email_verified);
    assert_eq!(created.status, AccountStatus::Active);
    let by_email =
        store.find_account(AccountLookup::Email(&Email::parse(" ada@EXAMPLE.com").unwrap())).await.unwrap().unwrap();
    assert_eq!(by_email.account, created);
    assert_eq!(by_email.password_hash.as_deref(), Some("$argon2id$fake"));
    let by_name = store.find_account(AccountLookup::Username(&Username::parse("ada").unwrap())).await.unwrap().unwrap();
    assert_eq!(by_name.account.id, created.id);
    let by_id = store.find_account(AccountLookup::Id(created.id)).await.unwrap().unwrap();
    assert_eq!(by_id.account.username.as_str(), "ada");
    assert!(store.find_account(AccountLookup::Username(&Username::parse("nobody").unwrap())).await.unwrap().is_none());
}

pub async fn taken_email_or_username_is_a_named_conflict_and_changes_nothing(store: Arc<dyn Store>) {
    store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let (_, t) = token(EmailTokenPurpose::VerifyEmail, T0.plus(Duration::from_secs(60)));
    match store.create_account(&new_account("ada2", "ADA@example.com"), Some(&t)).await {
        Err(StoreError::Conflict("email")) => {}
        other => panic!("expected an email conflict, got {:?}", other.map(|a| a.username)),
    }
    match store.create_account(&new_account("ada", "other@example.com"), None).await {
        Err(StoreError::Conflict("username")) => {}
        other => panic!("expected a username conflict, got {:?}", other.map(|a| a.username)),
    }
    assert!(!count_accounts(store.as_ref(), "other@example.com").await);
    assert!(
        !store.email_token_valid(&t.hash, EmailTokenPurpose::VerifyEmail, T0).await.unwrap(),
        "token of a failed sign-up was kept"
    );
}

pub async fn an_email_token_works_once_even_under_a_race(store: Arc<dyn Store>) {
    let (hash, t) = token(EmailTokenPurpose::VerifyEmail, T0.plus(Duration::from_secs(60)));
    let a = store.create_account(&new_account("ada", "ada@example.com"), Some(&t)).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.verify_email(&hash, T0).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if let Some(verified) = t.await.unwrap() {
            assert_eq!(verified.id, a.id);
            assert!(verified.email_verified);
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "a single-use token was used {wins} times");
}

pub async fn an_expired_token_is_refused(store: Arc<dyn Store>) {
    let (hash, t) = token(EmailTokenPurpose::VerifyEmail, T0.plus(Duration::from_secs(60)));
    store.create_account(&new_account("ada", "ada@example.com"), Some(&t)).await.unwrap();
    let late = T0.plus(Duration::from_secs(60));
    assert!(!store.email_token_valid(&hash, EmailTokenPurpose::VerifyEmail, late).await.unwrap());
    assert!(store.verify_email(&hash, late).await.unwrap().is_none());
    let a = store.find_account(AccountLookup::Username(&Username::parse("ada").unwrap())).await.unwrap().unwrap();
    assert!(!a.account.email_verified);
}

pub async fn issuing_a_token_kills_the_previous_one_of_that_purpose(store: Arc<dyn Store>) {
    let later = T0.plus(Duration::from_secs(3600));
    let (first, t1) = token(EmailTokenPurpose::VerifyEmail, later);
    let a = store.create_account(&new_account("ada", "ada@example.com"), Some(&t1)).await.unwrap();
    let (reset, t_reset) = token(EmailTokenPurpose::ResetPassword, later);
    store.issue_email_token(a.id, &t_reset, T0).await.unwrap();
    let (second, t2) = token(EmailTokenPurpose::VerifyEmail, later);
    store.issue_email_token(a.id, &t2, T0).await.unwrap();
    assert!(!store.email_token_valid(&first, EmailTokenPurpose::VerifyEmail, T0).await.unwrap());
    assert!(store.email_token_valid(&second, EmailTokenPurpose::VerifyEmail, T0).await.unwrap());
    assert!(
        store.email_token_valid(&reset, EmailTokenPurpose::ResetPassword, T0).await.unwrap(),
        "other purpose untouched"
    );
    assert!(
        !store.email_token_valid(&second, EmailTokenPurpose::ResetPassword, T0).await.unwrap(),
        "purposes do not mix"
    );
    assert!(store.verify_email(&reset, T0).await.unwrap().is_none(), "a reset token cannot verify");
}

pub async fn a_password_reset_ends_every_session_but_the_kept_one(store: Arc<dyn Store>) {
    let a = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let far = T0.plus(Duration::from_secs(86400));
    let (h1, s1) = session(a.id, far);
    let (h2, s2) = session(a.id, far);
    let (h3, s3) = session(a.id, far);
    for s in [&s1, &s2, &s3] {
        store.create_session(s).await.unwrap();
    }
    let (reset, t) = token(EmailTokenPurpose::ResetPassword, far);
    store.issue_email_token(a.id, &t, T0).await.unwrap();
    let done = store.reset_password(&reset, "$argon2id$new", Some(s2.id), T0).await.unwrap().unwrap();
    assert_eq!(done.id, a.id);
    assert!(store.session_by_token(&h1, T0).await.unwrap().is_none());
    assert!(store.session_by_token(&h2, T0).await.unwrap().is_some());
    assert!(store.session_by_token(&h3, T0).await.unwrap().is_none());
    let found = store.find_account(AccountLookup::Id(a.id)).await.unwrap().unwrap();
    assert_eq!(found.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(store.reset_password(&reset, "$argon2id$again", None, T0).await.unwrap().is_none(), "reset link reused");
    store.set_password(a.id, "$argon2id$third", None, T0).await.unwrap();
    assert!(store.session_by_token(&h2, T0).await.unwrap().is_none(), "set_password without keep ends all sessions");
}

pub async fn deactivation_ends_sessions_and_reactivation_restores_sign_in(store: Arc<dyn Store>) {
    let a = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let (h, s) = session(a.id, T0.plus(Duration::from_secs(600)));
    store.create_session(&s).await.unwrap();
    let d = store.set_account_status(a.id, AccountStatus::Deactivated, T0).await.unwrap().unwrap();
    assert_eq!(d.status, AccountStatus::Deactivated);
    assert!(store.session_by_token(&h, T0).await.unwrap().is_none());
    assert!(store.list_sessions(a.id, T0).await.unwrap().is_empty());
    let r = store.set_account_status(a.id, AccountStatus::Active, T0).await.unwrap().unwrap();
    assert_eq!(r.status, AccountStatus::Active);
    let missing = AccountId::from_uuid(uuid::Uuid::now_v7());
    assert!(store.set_account_status(missing, AccountStatus::Active, T0).await.unwrap().is_none());
}

pub async fn sessions_expire_and_are_revoked_only_by_their_owner(store: Arc<dyn Store>) {
    let a = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let b = store.create_account(&new_account("bob", "bob@example.com"), None).await.unwrap();
    let end = T0.plus(Duration::from_secs(600));
    let (h, s) = session(a.id, end);
    store.create_session(&s).await.unwrap();
    let (found, account) = store.session_by_token(&h, T0).await.unwrap().unwrap();
    assert_eq!((found.id, account.id), (s.id, a.id));
    assert_eq!(found.amr, vec!["pwd".to_owned()]);
    assert!(store.session_by_token(&h, end).await.unwrap().is_none(), "expired session still valid");
    assert!(!store.revoke_session(b.id, s.id).await.unwrap(), "another account revoked it");
    assert!(store.session_by_token(&h, T0).await.unwrap().is_some());
    assert_eq!(store.list_sessions(a.id, T0).await.unwrap().len(), 1);
    assert!(store.list_sessions(b.id, T0).await.unwrap().is_empty());
    assert!(store.revoke_session(a.id, s.id).await.unwrap());
    assert!(store.session_by_token(&h, T0).await.unwrap().is_none());
}

pub async fn throttle_hits_are_counted_exactly_under_concurrency(store: Arc<dyn Store>) {
    let policy = ThrottlePolicy { max_hits: 1000, window: Duration::from_secs(60), lockout: Duration::from_secs(60) };
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.throttle_hit("k", &policy, T0).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.throttle_state("k", T0).await.unwrap().hits, 20);
    let strict = ThrottlePolicy { max_hits: 21, ..policy };
    let locked = store.throttle_hit("k", &strict, T0).await.unwrap();
    assert_eq!(locked.locked(T0), Some(Duration::from_secs(60)));
    assert_eq!(store.throttle_state("other", T0).await.unwrap().hits, 0);
    store.throttle_clear("k").await.unwrap();
    assert_eq!(store.throttle_state("k", T0).await.unwrap().locked(T0), None);
}

pub async fn the_operator_is_detected(store: Arc<dyn Store>) {
    assert!(!store.operator_exists().await.unwrap());
    store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    assert!(!store.operator_exists().await.unwrap());
    let mut op = new_account("operator", "operator@localhost");
    op.is_operator = true;
    store.create_account(&op, None).await.unwrap();
    assert!(store.operator_exists().await.unwrap());
}

pub async fn account_changes_enter_the_feed_gaplessly_in_commit_order(store: Arc<dyn Store>) {
    let start = store.latest_change().await.unwrap();
    let a = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let b = store.create_account(&new_account("bob", "bob@example.com"), None).await.unwrap();
    assert_eq!(store.latest_change().await.unwrap(), start, "a new account has nothing to invalidate");
    let (verify, t) = token(EmailTokenPurpose::VerifyEmail, T0.plus(Duration::from_secs(60)));
    store.issue_email_token(a.id, &t, T0).await.unwrap();
    store.verify_email(&verify, T0).await.unwrap().unwrap();
    store.set_account_status(a.id, AccountStatus::Deactivated, T0).await.unwrap().unwrap();
    store.set_password(b.id, "$argon2id$new", None, T0).await.unwrap();
    let (reset, t) = token(EmailTokenPurpose::ResetPassword, T0.plus(Duration::from_secs(60)));
    store.issue_email_token(b.id, &t, T0).await.unwrap();
    store.reset_password(&reset, "$argon2id$newer", None, T0).await.unwrap().unwrap();
    let new = guildhall_app::ports::NewAccessToken {
        id: guildhall_core::AccessTokenId::from_uuid(uuid::Uuid::now_v7()),
        account: b.id,
        name: "ci".into(),
        token_hash: SecretToken::from_random_bytes(rand_bytes()).hash(),
        scopes: vec!["workspaces:read".into()],
        now: T0,
        expires_at: None,
    };
    let tok = store.create_access_token(&new).await.unwrap();
    assert!(!store.revoke_access_token(a.id, tok.id).await.unwrap(), "revoked someone else's token");
    assert!(store.revoke_access_token(b.id, tok.id).await.unwrap());
    let expected = [a.id, a.id, b.id, b.id, b.id].map(Change::Account);
    let feed = store.changes_since(start, 100).await.unwrap();
    let seqs: Vec<i64> = feed.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (start + 1..=start + 5).collect::<Vec<_>>(), "numbers are not gapless");
    assert_eq!(feed.iter().map(|(_, c)| *c).collect::<Vec<_>>(), expected);
    assert_eq!(store.latest_change().await.unwrap(), start + 5);
    let page = store.changes_since(start + 1, 2).await.unwrap();
    assert_eq!(page.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [start + 2, start + 3], "paging");

    // Concurrent writers: every number is used once, and a reader that sees
    // a number has seen every smaller one (commit order).
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let id = if i % 2 == 0 { a.id } else { b.id };
        let status = if i % 4 < 2 { AccountStatus::Active } else { AccountStatus::Deactivated };
        tasks.push(tokio::spawn(async move { store.set_account_status(id, status, T0).await.unwrap() }));
    }
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut last = start + 5;
            for _ in 0..50 {
                for (seq, _) in store.changes_since(last, 1000).await.unwrap() {
                    assert_eq!(seq, last + 1, "a reader saw a change before an earlier one committed");
                    last = seq;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    reader.await.unwrap();
    let all = store.changes_since(start + 5, 1000).await.unwrap();
    assert_eq!(all.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (start + 6..=start + 21).collect::<Vec<_>>());
}
