//! Checkpoints: make the latest commit durable.
//!
//! 1. Under the writer lock (so no transaction is open): take the latest
//!    committed state `C`, mark it in flight (from now on, pages of `C`'s
//!    state freed by later transactions are held, see `btree/alloc.rs`),
//!    compute the free list of `C` (every page not reachable from `C`'s
//!    root), allocate pages for it, and list the dirty frames.
//! 2. Release the writer lock: new transactions may run meanwhile; they
//!    only write to pages that are free in `C` and not in the durable state.
//! 3. Write the dirty frames (each to its own location) and the free-list
//!    pages; `sync_data`.
//! 4. Write the superblock for `C` into the slot not holding the current
//!    one; `sync_data`. Only now is `C` durable; pages held for the previous
//!    checkpoint become reusable.
//!
//! A failed checkpoint poisons the tree for further checkpoints (after a
//! failed `fsync` the kernel may have dropped dirty data; only reopening,
//! which recovers the last durable checkpoint, is safe). So does a
//! checkpoint future dropped before it finishes: do not cancel one. Reads
//! and commits continue to work.

use super::page::{self, FREELIST_ENTRY_BYTES, HEADER_BYTES, KIND_FREELIST, PageRef};
use super::superblock::{self, SB_BYTES, Superblock};
use super::tree::{BTree, CkptState};
use super::{BTreeError, CheckpointStats};
use crate::io::{Disk, DiskFile, IoBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Poisons checkpoints if a checkpoint future is dropped midway: its
/// superblock may still reach the disk, and the pages it protects must then
/// never be reused, which only a reopen can sort out.
struct PoisonOnDrop<'a> {
    state: tokio::sync::MutexGuard<'a, CkptState>,
    done: bool,
}

impl Drop for PoisonOnDrop<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.state.poisoned = true;
        }
    }
}

/// What step 1 captured.
struct Plan {
    txn: u64,
    root: Option<PageRef>,
    page_count: u64,
    free_pages: u64,
    /// Free-list pages and the extents each holds.
    freelist: Vec<(u64, Vec<(u64, u64)>)>,
    dirty: Vec<u64>,
}

impl<D: Disk> BTree<D> {
    /// Makes the latest commit durable (see the module docs). Concurrent
    /// calls run one after the other; commits may continue meanwhile.
    pub async fn checkpoint(&self) -> Result<CheckpointStats, BTreeError> {
        let sh = &self.shared;
        let mut ck = PoisonOnDrop {
            state: sh.ckpt.lock().await,
            done: false,
        };
        if ck.state.poisoned {
            return Err(BTreeError::Poisoned {
                path: sh.path.clone(),
            });
        }
        let t0 = Instant::now();
        // Waiting for the writer lock may be cancelled harmlessly; from the
        // moment `plan` returns, state has changed.
        ck.done = true;
        let plan = self.plan().await;
        ck.done = plan.is_none();
        let Some(plan) = plan else {
            let a = sh.alloc();
            return Ok(CheckpointStats {
                skipped: true,
                txn: a.durable_txn,
                checkpoint_gen: ck.state.gen_durable,
                ..CheckpointStats::default()
            });
        };
        let new_gen = ck.state.gen_durable + 1;
        let res = self.write(&plan, new_gen).await;
        ck.done = true;
        match res {
            Ok(pages_written) => {
                ck.state.gen_durable = new_gen;
                sh.checkpoint_gen.store(new_gen, Ordering::Relaxed);
                sh.alloc()
                    .checkpoint_durable(plan.txn, &|id| sh.pool.try_remove(id));
                Ok(CheckpointStats {
                    skipped: false,
                    txn: plan.txn,
                    checkpoint_gen: new_gen,
                    pages_written,
                    freelist_pages: plan.freelist.len() as u64,
                    duration_us: t0.elapsed().as_micros() as u64,
                })
            }
            Err(e) => {
                ck.state.poisoned = true;
                tracing::error!(path = %sh.path.display(), error = %e, "btree checkpoint failed; tree poisoned for checkpoints");
                Err(e)
            }
        }
    }

    /// Step 1; `None` if the latest commit is already durable.
    async fn plan(&self) -> Option<Plan> {
        let sh = &self.shared;
        let _writer = sh.writer.lock().await;
        let state = sh.current();
        let per_page = page::freelist_capacity(sh.page_size);
        let mut a = sh.alloc();
        if state.txn == a.durable_txn {
            return None;
        }
        a.inflight_txn = Some(state.txn);
        let mut fl_ids: Vec<u64> = Vec::new();
        let free = loop {
            let free = a.free_in_committed_state();
            let need = free.extents().div_ceil(per_page);
            if fl_ids.len() >= need {
                break free;
            }
            while fl_ids.len() < need {
                fl_ids.push(a.alloc_page());
            }
        };
        for &id in &fl_ids {
            a.hold(state.txn + 1, id, 1);
        }
        let extents: Vec<(u64, u64)> = free.iter().collect();
        let mut chunks = extents.chunks(per_page);
        let freelist = fl_ids
            .iter()
            .map(|&id| (id, chunks.next().map(<[_]>::to_vec).unwrap_or_default()))
            .collect();
        let page_count = a.next_page;
        drop(a);
        Some(Plan {
            txn: state.txn,
            root: state.root,
            page_count,
            free_pages: free.pages(),
            freelist,
            dirty: sh.pool.dirty_ids(),
        })
    }

    /// Steps 3 and 4; returns the pages written.
    async fn write(&self, plan: &Plan, new_gen: u64) -> Result<u64, BTreeError> {
        let sh = &self.shared;
        let ps = sh.page_size;
        let mut written = sh.pool.flush(plan.dirty.clone()).await?;
        let fl_gen = plan.txn + 1;
        for (k, (id, extents)) in plan.freelist.iter().enumerate() {
            let mut buf = IoBuf::zeroed(ps);
            page::init(&mut buf, *id, fl_gen, KIND_FREELIST, 0);
            page::set_nslots(&mut buf, extents.len());
            for (i, &(s, l)) in extents.iter().enumerate() {
                let o = HEADER_BYTES + i * FREELIST_ENTRY_BYTES;
                page::put_u64(&mut buf, o, s);
                page::put_u64(&mut buf, o + 8, l);
            }
            if let Some((next, _)) = plan.freelist.get(k + 1) {
                page::set_aux_ref(
                    &mut buf,
                    PageRef {
                        id: *next,
                        generation: fl_gen,
                    },
                );
            }
            sh.pool.write_pages(*id, buf).await?;
            written += 1;
        }
        let file = sh.pool.file();
        file.sync_data().await?;
        let sb = Superblock {
            page_size: ps,
            slot: (new_gen % 2) as u8,
            checkpoint_gen: new_gen,
            txn: plan.txn,
            root: plan.root,
            page_count: plan.page_count,
            freelist: plan.freelist.first().map(|&(id, _)| PageRef {
                id,
                generation: fl_gen,
            }),
            free_pages: plan.free_pages,
        };
        let mut buf = IoBuf::zeroed(superblock::write_len(sh.direct));
        buf[..SB_BYTES].copy_from_slice(&sb.encode());
        let (res, _) = file
            .write_at(buf, Superblock::slot_offset(sb.slot, ps))
            .await;
        res?;
        file.sync_data().await?;
        Ok(written)
    }
}
