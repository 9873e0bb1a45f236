//! Overflow values: a value too large to inline in a leaf cell is stored in
//! a contiguous run of overflow pages, each with the common header (its own
//! id, the run's generation, `aux_len` = payload bytes) and up to
//! `page_size - 64` payload bytes. The leaf cell holds the run's first page
//! id and generation and the total length, from which the page count follows.
//!
//! Runs are written once, when the value is put, straight to disk (their
//! location is fresh, see `btree/alloc.rs`), and read straight from disk with
//! one I/O per `WRITE_BATCH_PAGES` pages: large values bypass the buffer pool
//! so they cannot flush it. Every page read is verified like any other.

use super::BTreeError;
use super::page::{self, HEADER_BYTES, KIND_OVERFLOW, PageRef};
use super::pool::{Pool, WRITE_BATCH_PAGES};
use crate::io::{DiskFile, IoBuf};

/// Pages needed for a value of `len` bytes.
pub(crate) fn pages_for(page_size: usize, len: usize) -> u64 {
    len.div_ceil(page::overflow_capacity(page_size)) as u64
}

/// Writes `value` into the run starting at page `first`.
pub(crate) async fn write<F: DiskFile>(
    pool: &Pool<F>,
    first: u64,
    generation: u64,
    value: &[u8],
) -> Result<(), BTreeError> {
    let ps = pool.page_size();
    let cap = page::overflow_capacity(ps);
    let chunks: Vec<&[u8]> = value.chunks(cap).collect();
    for (batch_no, batch) in chunks.chunks(WRITE_BATCH_PAGES).enumerate() {
        let batch_first = first + (batch_no * WRITE_BATCH_PAGES) as u64;
        let mut buf = IoBuf::zeroed(batch.len() * ps);
        for (k, chunk) in batch.iter().enumerate() {
            let p = &mut buf[k * ps..(k + 1) * ps];
            page::init(p, batch_first + k as u64, generation, KIND_OVERFLOW, 0);
            page::set_aux_len(p, chunk.len());
            p[HEADER_BYTES..HEADER_BYTES + chunk.len()].copy_from_slice(chunk);
        }
        pool.write_pages(batch_first, buf).await?;
    }
    Ok(())
}

/// Reads and verifies the `len`-byte value stored in the run at `first`.
pub(crate) async fn read<F: DiskFile>(
    pool: &Pool<F>,
    first: PageRef,
    len: usize,
) -> Result<Vec<u8>, BTreeError> {
    let ps = pool.page_size();
    let cap = page::overflow_capacity(ps);
    let n = pages_for(ps, len) as usize;
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < n {
        let batch = (n - i).min(WRITE_BATCH_PAGES);
        let buf = pool.read_raw(first.id + i as u64, batch).await?;
        for k in 0..batch {
            let id = first.id + (i + k) as u64;
            let p = &buf[k * ps..(k + 1) * ps];
            pool.verify(
                p,
                PageRef {
                    id,
                    generation: first.generation,
                },
            )?;
            let want = (len - out.len()).min(cap);
            if page::kind(p) != KIND_OVERFLOW || page::aux_len(p) != want {
                return Err(pool.corrupt(
                    id,
                    format!(
                        "expected an overflow page with {want} payload bytes, found kind {} with {}",
                        page::kind(p),
                        page::aux_len(p)
                    ),
                ));
            }
            out.extend_from_slice(&p[HEADER_BYTES..HEADER_BYTES + want]);
        }
        i += batch;
    }
    Ok(out)
}
