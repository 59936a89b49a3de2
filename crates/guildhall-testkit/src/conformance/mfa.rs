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
