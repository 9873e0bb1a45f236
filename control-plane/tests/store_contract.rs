//! The `MetaStore` contract, run against both implementations: the in-memory store and a real
//! etcd (spawned per test; a missing etcd fails the test). Whatever the control plane relies
//! on — revisions, guarded transactions, leases taking their keys, prefix watches from a
//! revision, compaction reported to watchers — must hold for both.

mod common;

use std::time::Duration;

use common::Etcd;
use control_plane::store::{
    Compare, MemStore, MetaStore, Revision, StoreError, Txn, TxnOp, WatchEvent, WatchMsg,
};

async fn next_events(w: &mut control_plane::store::Watch) -> Vec<WatchEvent> {
    match tokio::time::timeout(Duration::from_secs(3), w.recv()).await {
        Ok(Some(WatchMsg::Events { events, .. })) => events,
        other => panic!("expected events, got {other:?}"),
    }
}

/// Receives watch messages until `n` events have arrived.
async fn collect(w: &mut control_plane::store::Watch, n: usize) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(next_events(w).await);
    }
    assert_eq!(out.len(), n, "more events than expected: {out:?}");
    out
}

fn keys_of(events: &[WatchEvent]) -> Vec<(&str, bool)> {
    events
        .iter()
        .map(|e| match e {
            WatchEvent::Put(kv) => (kv.key.as_str(), true),
            WatchEvent::Delete { key, .. } => (key.as_str(), false),
        })
        .collect()
}

/// Runs the contract; `compact` compacts the store's history up to a revision.
async fn contract<S: MetaStore>(s: S, compact: impl Fn(Revision)) {
    // Puts, gets and ranges with revisions.
    let r1 = s.put("/c/a/1", b"one".to_vec(), None).await.unwrap();
    let r2 = s.put("/c/a/2", b"two".to_vec(), None).await.unwrap();
    s.put("/c/b/1", b"other".to_vec(), None).await.unwrap();
    assert!(r2 > r1);
    let kv = s.get("/c/a/1").await.unwrap().unwrap();
    assert_eq!(
        (kv.value.as_slice(), kv.create_revision, kv.mod_revision),
        (&b"one"[..], r1, r1)
    );
    assert_eq!(kv.lease, None);
    assert!(s.get("/c/a/9").await.unwrap().is_none());
    let range = s.range("/c/a/").await.unwrap();
    let names: Vec<&str> = range.kvs.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(names, ["/c/a/1", "/c/a/2"]);
    assert!(range.revision > r2);

    // Guarded transactions: all or nothing.
    let lost = Txn {
        when: vec![Compare::ModRevision("/c/a/1".into(), 0)],
        then: vec![TxnOp::put("/c/a/1", "clobbered"), TxnOp::put("/c/a/3", "x")],
    };
    assert!(!s.txn(lost).await.unwrap().succeeded);
    assert!(
        s.get("/c/a/3").await.unwrap().is_none(),
        "a failed txn applies nothing"
    );
    let won = Txn {
        when: vec![
            Compare::ModRevision("/c/a/1".into(), r1),
            Compare::CreateRevision("/c/a/3".into(), 0),
        ],
        then: vec![TxnOp::put("/c/a/3", "three"), TxnOp::delete("/c/a/2")],
    };
    let out = s.txn(won).await.unwrap();
    assert!(out.succeeded);
    assert_eq!(
        s.get("/c/a/3").await.unwrap().unwrap().mod_revision,
        out.revision
    );
    assert!(s.get("/c/a/2").await.unwrap().is_none());

    // Watches replay from a revision, then follow, filtered by prefix.
    // (Message boundaries are not part of the contract: etcd may batch revisions.)
    let mut w = s.watch("/c/a/", r2).await.unwrap();
    let seen = collect(&mut w, 3).await;
    assert_eq!(
        keys_of(&seen),
        [("/c/a/2", true), ("/c/a/3", true), ("/c/a/2", false)],
        "replayed history, then the txn's operations in order"
    );
    s.put("/c/b/2", b"not watched".to_vec(), None)
        .await
        .unwrap();
    assert!(s.delete("/c/a/1").await.unwrap());
    assert!(!s.delete("/c/a/1").await.unwrap());
    assert_eq!(keys_of(&collect(&mut w, 1).await), [("/c/a/1", false)]);

    // Leases: attached keys live while kept alive, die on revoke.
    let lease = s.lease_grant(5).await.unwrap();
    s.put("/c/l/1", b"leased".to_vec(), Some(lease))
        .await
        .unwrap();
    assert_eq!(s.get("/c/l/1").await.unwrap().unwrap().lease, Some(lease));
    s.lease_keep_alive(lease).await.unwrap();
    s.lease_revoke(lease).await.unwrap();
    assert!(
        s.get("/c/l/1").await.unwrap().is_none(),
        "revoked lease takes its key"
    );
    assert!(matches!(
        s.lease_keep_alive(lease).await,
        Err(StoreError::LeaseExpired(l)) if l == lease
    ));
    assert!(matches!(
        s.put("/c/l/2", vec![], Some(lease)).await,
        Err(StoreError::LeaseExpired(_))
    ));

    // Compaction: a watch from before it is told so, with the oldest revision left.
    let now = s.put("/c/a/4", b"four".to_vec(), None).await.unwrap();
    compact(now);
    let mut old = s.watch("/c/a/", r1).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(3), old.recv()).await {
        Ok(Some(WatchMsg::Compacted { compact_revision })) => assert!(compact_revision >= now),
        other => panic!("expected Compacted, got {other:?}"),
    }
}

#[tokio::test]
async fn mem_store_keeps_the_contract() {
    let s = MemStore::new();
    let c = s.clone();
    contract(s, move |r| c.compact(r)).await;
}

#[tokio::test]
async fn etcd_store_keeps_the_contract() {
    let etcd = Etcd::start().await;
    let s = etcd.store().await;
    contract(s, |r| etcd.compact(r)).await;
}
