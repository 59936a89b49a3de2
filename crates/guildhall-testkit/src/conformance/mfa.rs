//! Conformance of `MfaStore`.

use super::{T0, new_account};
use guildhall_app::ports::{Store, StoreError};
use std::sync::Arc;

pub async fn a_totp_step_and_a_recovery_code_are_each_accepted_once_under_a_race(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@a.example"), None).await.unwrap();
    store.begin_totp(ada.id, b"sealed-1", T0).await.unwrap();
    // Unconfirmed: replaceable, and no step is accepted yet.
    store.begin_totp(ada.id, b"sealed-2", T0).await.unwrap();
    assert!(!store.use_totp_step(ada.id, 5).await.unwrap());
    let codes = [[1u8; 32], [2u8; 32]];
    assert!(store.confirm_totp(ada.id, 10, Some(&codes), T0).await.unwrap());
    assert!(!store.confirm_totp(ada.id, 11, None, T0).await.unwrap(), "confirmed once");
    let c = store.totp_credential(ada.id).await.unwrap().unwrap();
    assert_eq!((c.secret_sealed.as_slice(), c.confirmed, c.last_step), (&b"sealed-2"[..], true, Some(10)));
    assert!(matches!(store.begin_totp(ada.id, b"x", T0).await, Err(StoreError::Conflict("totp"))));

    // Eight sign-ins racing with one step, then one recovery code: one wins each.
    assert!(!store.use_totp_step(ada.id, 10).await.unwrap(), "the confirming step");
    let (s, a) = (store.clone(), ada.id);
    let step_wins = wins(move || {
        let s = s.clone();
        async move { s.use_totp_step(a, 11).await.unwrap() }
    })
    .await;
    assert_eq!(step_wins, 1);
    let (s, a) = (store.clone(), ada.id);
    let code_wins = wins(move || {
        let s = s.clone();
        async move { s.use_recovery_code(a, &[1u8; 32], T0).await.unwrap() }
    })
    .await;
    assert_eq!(code_wins, 1);
    assert_eq!(store.recovery_codes_left(ada.id).await.unwrap(), 1);
    assert!(!store.use_recovery_code(ada.id, &[9u8; 32], T0).await.unwrap(), "unknown");

    // Another account's codes are not this one's.
    let bob = store.create_account(&new_account("bob", "bob@b.example"), None).await.unwrap();
    assert!(!store.use_recovery_code(bob.id, &[2u8; 32], T0).await.unwrap());
    store.replace_recovery_codes(ada.id, &[[3u8; 32]]).await.unwrap();
    assert!(!store.use_recovery_code(ada.id, &[2u8; 32], T0).await.unwrap(), "replaced");
    assert!(store.remove_totp(ada.id).await.unwrap());
    assert!(!store.remove_totp(ada.id).await.unwrap());
    assert!(store.totp_credential(ada.id).await.unwrap().is_none());
}

/// How many of eight concurrent runs of `f` return true.
async fn wins<F, Fut>(f: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(f())).collect();
    let mut n = 0;
    for t in tasks {
        n += usize::from(t.await.unwrap());
    }
    n
}

pub async fn passkeys_are_unique_per_credential_and_ceremonies_are_spent_once(store: Arc<dyn Store>) {
    use guildhall_app::ports::StoredPasskey;
    let ada = store.create_account(&new_account("ada", "ada@a.example"), None).await.unwrap();
    let bob = store.create_account(&new_account("bob", "bob@b.example"), None).await.unwrap();
    let key = |account, cred: &[u8], name: &str| StoredPasskey {
        id: uuid::Uuid::now_v7(),
        account,
        credential_id: cred.to_vec(),
        name: name.into(),
        passkey: "{}".into(),
        created_at: T0,
        last_used_at: None,
    };
    let laptop = key(ada.id, b"cred-1", "Laptop");
    store.add_passkey(&laptop, Some(&[[7u8; 32]])).await.unwrap();
    assert_eq!(store.recovery_codes_left(ada.id).await.unwrap(), 1, "codes with the first factor");
    assert!(matches!(
        store.add_passkey(&key(bob.id, b"cred-1", "Stolen"), None).await,
        Err(StoreError::Conflict("passkey"))
    ));
    assert!(store.passkeys(bob.id).await.unwrap().is_empty());
    assert_eq!(store.passkey_by_credential(b"cred-1").await.unwrap(), Some(laptop.clone()));
    assert_eq!(store.passkey_by_credential(b"nope").await.unwrap(), None);
    store.passkey_used(laptop.id, "{\"counter\":2}", T0).await.unwrap();
    let used = store.passkey_by_credential(b"cred-1").await.unwrap().unwrap();
    assert_eq!((used.passkey.as_str(), used.last_used_at), ("{\"counter\":2}", Some(T0)));
    assert!(!store.rename_passkey(bob.id, laptop.id, "Mine").await.unwrap(), "not bob's");
    assert!(store.rename_passkey(ada.id, laptop.id, "Work laptop").await.unwrap());
    assert_eq!(store.passkeys(ada.id).await.unwrap()[0].name, "Work laptop");
    assert!(!store.remove_passkey(bob.id, laptop.id).await.unwrap(), "not bob's");
    assert!(store.remove_passkey(ada.id, laptop.id).await.unwrap());
    assert!(store.passkeys(ada.id).await.unwrap().is_empty());

    // A ceremony state is spent once, even by racing requests; expired
    // entries are forgotten.
    let later = guildhall_core::Timestamp::from_millis(T0.as_millis() + 60_000);
    let (s, hash) = (store.clone(), [5u8; 32]);
    let n = wins(move || {
        let s = s.clone();
        async move { s.spend_ceremony(&hash, later, T0).await.unwrap() }
    })
    .await;
    assert_eq!(n, 1);
    let after = guildhall_core::Timestamp::from_millis(later.as_millis() + 1);
    assert!(store.spend_ceremony(&[6u8; 32], after, after).await.unwrap());
    assert!(store.spend_ceremony(&hash, after, after).await.unwrap(), "expired entries are forgotten");
}
