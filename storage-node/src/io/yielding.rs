//! `YieldingDisk`: wraps any [`Disk`] and yields to the async scheduler
//! before every operation, so a test that crashes a [`MemDisk`] from
//! another task can land the crash *between* any two I/O steps (say, after a
//! write and before its fdatasync). `MemDisk` alone completes every future
//! at once, which would make such interleavings impossible to reach.
//!
//! [`MemDisk`]: super::MemDisk

use super::{Disk, DiskFile, IoBuf, IoResult, OpenOptions};
use std::path::Path;

/// A disk whose every operation first yields once.
#[derive(Clone, Debug)]
pub struct YieldingDisk<D>(pub D);

/// A file of a [`YieldingDisk`].
#[derive(Clone, Debug)]
pub struct YieldingFile<F>(F);

impl<D: Disk> Disk for YieldingDisk<D> {
    type File = YieldingFile<D::File>;

    async fn open(&self, path: &Path, opts: OpenOptions) -> IoResult<Self::File> {
        tokio::task::yield_now().await;
        Ok(YieldingFile(self.0.open(path, opts).await?))
    }
    async fn create_dir_all(&self, dir: &Path) -> IoResult<()> {
        tokio::task::yield_now().await;
        self.0.create_dir_all(dir).await
    }
    async fn list(&self, dir: &Path) -> IoResult<Vec<String>> {
        tokio::task::yield_now().await;
        self.0.list(dir).await
    }
    async fn remove(&self, path: &Path) -> IoResult<()> {
        tokio::task::yield_now().await;
        self.0.remove(path).await
    }
    async fn rename(&self, from: &Path, to: &Path) -> IoResult<()> {
        tokio::task::yield_now().await;
        self.0.rename(from, to).await
    }
    async fn sync_dir(&self, dir: &Path) -> IoResult<()> {
        tokio::task::yield_now().await;
        self.0.sync_dir(dir).await
    }
}

impl<F: DiskFile> DiskFile for YieldingFile<F> {
    fn path(&self) -> &Path {
        self.0.path()
    }
    async fn read_at(&self, buf: IoBuf, offset: u64) -> (IoResult<usize>, IoBuf) {
        tokio::task::yield_now().await;
        self.0.read_at(buf, offset).await
    }
    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        tokio::task::yield_now().await;
        self.0.write_at(buf, offset).await
    }
    async fn write_at_durable(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        tokio::task::yield_now().await;
        self.0.write_at_durable(buf, offset).await
    }
    async fn sync_data(&self) -> IoResult<()> {
        tokio::task::yield_now().await;
        self.0.sync_data().await
    }
    async fn sync_all(&self) -> IoResult<()> {
        tokio::task::yield_now().await;
        self.0.sync_all().await
    }
    async fn allocate(&self, offset: u64, len: u64) -> IoResult<()> {
        tokio::task::yield_now().await;
        self.0.allocate(offset, len).await
    }
    async fn len(&self) -> IoResult<u64> {
        tokio::task::yield_now().await;
        self.0.len().await
    }
    async fn set_len(&self, len: u64) -> IoResult<()> {
        tokio::task::yield_now().await;
        self.0.set_len(len).await
    }
}
