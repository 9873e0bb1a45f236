//! Whole-snapshot verification for scrub and tests: visits every page a
//! snapshot can reach (tree pages and overflow runs) and checks checksums
//! (for pages read from disk), structure, levels, key order across pages and
//! that every key lies within the bounds its ancestors' separators give.
//!
//! Pages already cached are checked as cached; others are read from disk
//! into a transient buffer without entering the pool, so a scrub does not
//! flush the cache.

use super::BTreeError;
use super::cursor::Snapshot;
use super::overflow;
use super::page::{
    self, KIND_BRANCH, KIND_LEAF, LeafVal, PageRef, branch_child, branch_key, leaf_key, leaf_val,
    nslots,
};
use crate::io::Disk;

/// What [`Snapshot::verify`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: u64,
    pub leaf_pages: u64,
    pub branch_pages: u64,
    pub overflow_pages: u64,
    /// Levels (1 for a lone leaf, 0 for an empty tree).
    pub height: u32,
}

struct Visit {
    page: PageRef,
    /// Keys must be `>= lower` and `< upper`.
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
    level: Option<u8>,
}

impl<D: Disk> Snapshot<D> {
    /// Verifies every page reachable from this snapshot (see module docs).
    pub async fn verify(&self) -> Result<VerifyReport, BTreeError> {
        let mut rep = VerifyReport::default();
        let Some(root) = self.root() else {
            return Ok(rep);
        };
        let pool = &self.tree().shared.pool;
        let ps = pool.page_size();
        let mut stack = vec![Visit {
            page: root,
            lower: None,
            upper: None,
            level: None,
        }];
        while let Some(v) = stack.pop() {
            let r = v.page;
            let bytes = match pool.lookup(r.id) {
                Some(f) => {
                    pool.check_frame(&f, r)?;
                    f.bytes().to_vec()
                }
                None => pool.read_verified(r).await?.to_vec(),
            };
            let b = &bytes[..];
            let kind = page::kind(b);
            let level = page::level(b);
            if (kind != KIND_LEAF && kind != KIND_BRANCH) || v.level.is_some_and(|l| l != level) {
                return Err(pool.corrupt(
                    r.id,
                    format!(
                        "kind {kind} level {level}, expected a tree page at level {:?}",
                        v.level
                    ),
                ));
            }
            if v.level.is_none() {
                rep.height = level as u32 + 1;
            }
            let n = nslots(b);
            let key_at = |i: usize| {
                if kind == KIND_LEAF {
                    leaf_key(b, i)
                } else {
                    branch_key(b, i)
                }
            };
            for i in 0..n {
                let k = key_at(i);
                let low_ok = v.lower.as_deref().is_none_or(|l| k >= l);
                let high_ok = v.upper.as_deref().is_none_or(|u| k < u);
                if !low_ok || !high_ok {
                    return Err(pool.corrupt(
                        r.id,
                        format!("key {i} lies outside the bounds its parents give"),
                    ));
                }
            }
            if kind == KIND_LEAF {
                rep.leaf_pages += 1;
                rep.entries += n as u64;
                for i in 0..n {
                    if let LeafVal::Overflow { first, len } = leaf_val(b, i) {
                        overflow::read(pool, first, len).await?;
                        rep.overflow_pages += overflow::pages_for(ps, len);
                    }
                }
                continue;
            }
            rep.branch_pages += 1;
            for ci in (0..=n).rev() {
                stack.push(Visit {
                    page: branch_child(b, ci),
                    lower: if ci == 0 {
                        v.lower.clone()
                    } else {
                        Some(branch_key(b, ci - 1).to_vec())
                    },
                    upper: if ci == n {
                        v.upper.clone()
                    } else {
                        Some(branch_key(b, ci).to_vec())
                    },
                    level: Some(level - 1),
                });
            }
        }
        Ok(rep)
    }
}
