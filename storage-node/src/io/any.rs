//! Engine selection: [`AnyDisk`] / [`AnyFile`] delegate to the engine the
//! config names ([`IoEngine`]), and [`open_disk`] builds it.
//!
//! io_uring is the default. If the kernel refuses it, [`open_disk`] returns
//! [`IoError::UringUnavailable`] naming the cause; it never falls back to the
//! std engine on its own. The std engine is used only when asked for
//! (`io_engine = "std"`). The in-memory engine (`io/mem.rs`) is for tests and
//! is not selectable here.

use super::std_disk::{StdDisk, StdFile};
use super::uring::{UringConfig, UringDisk, UringFile};
use super::{Disk, DiskFile, IoBuf, IoEngine, IoResult, OpenOptions};
use std::path::Path;

/// The engine a node runs on, chosen at startup.
#[derive(Clone, Debug)]
pub enum AnyDisk {
    Uring(UringDisk),
    Std(StdDisk),
}

/// A file of an [`AnyDisk`].
#[derive(Clone, Debug)]
pub enum AnyFile {
    Uring(UringFile),
    Std(StdFile),
}

/// Builds the configured engine with default ring sizes.
pub fn open_disk(engine: IoEngine) -> IoResult<AnyDisk> {
    open_disk_with(engine, UringConfig::default())
}

/// Builds the configured engine; `uring` sizes apply to the io_uring engine.
pub fn open_disk_with(engine: IoEngine, uring: UringConfig) -> IoResult<AnyDisk> {
    match engine {
        IoEngine::Uring => Ok(AnyDisk::Uring(UringDisk::new(uring)?)),
        IoEngine::Std => Ok(AnyDisk::Std(StdDisk)),
    }
}

impl AnyDisk {
    pub fn engine(&self) -> IoEngine {
        match self {
            AnyDisk::Uring(_) => IoEngine::Uring,
            AnyDisk::Std(_) => IoEngine::Std,
        }
    }
}

impl Disk for AnyDisk {
    type File = AnyFile;

    async fn open(&self, path: &Path, opts: OpenOptions) -> IoResult<AnyFile> {
        match self {
            AnyDisk::Uring(d) => d.open(path, opts).await.map(AnyFile::Uring),
            AnyDisk::Std(d) => d.open(path, opts).await.map(AnyFile::Std),
        }
    }

    async fn create_dir_all(&self, dir: &Path) -> IoResult<()> {
        match self {
            AnyDisk::Uring(d) => d.create_dir_all(dir).await,
            AnyDisk::Std(d) => d.create_dir_all(dir).await,
        }
    }

    async fn list(&self, dir: &Path) -> IoResult<Vec<String>> {
        match self {
            AnyDisk::Uring(d) => d.list(dir).await,
            AnyDisk::Std(d) => d.list(dir).await,
        }
    }

    async fn remove(&self, path: &Path) -> IoResult<()> {
        match self {
            AnyDisk::Uring(d) => d.remove(path).await,
            AnyDisk::Std(d) => d.remove(path).await,
        }
    }

    async fn rename(&self, from: &Path, to: &Path) -> IoResult<()> {
        match self {
            AnyDisk::Uring(d) => d.rename(from, to).await,
            AnyDisk::Std(d) => d.rename(from, to).await,
        }
    }

    async fn sync_dir(&self, dir: &Path) -> IoResult<()> {
        match self {
            AnyDisk::Uring(d) => d.sync_dir(dir).await,
            AnyDisk::Std(d) => d.sync_dir(dir).await,
        }
    }
}

impl DiskFile for AnyFile {
    fn path(&self) -> &Path {
        match self {
            AnyFile::Uring(f) => f.path(),
            AnyFile::Std(f) => f.path(),
        }
    }

    async fn read_at(&self, buf: IoBuf, offset: u64) -> (IoResult<usize>, IoBuf) {
        match self {
            AnyFile::Uring(f) => f.read_at(buf, offset).await,
            AnyFile::Std(f) => f.read_at(buf, offset).await,
        }
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        match self {
            AnyFile::Uring(f) => f.write_at(buf, offset).await,
            AnyFile::Std(f) => f.write_at(buf, offset).await,
        }
    }

    async fn write_at_durable(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        match self {
            AnyFile::Uring(f) => f.write_at_durable(buf, offset).await,
            AnyFile::Std(f) => f.write_at_durable(buf, offset).await,
        }
    }

    async fn sync_data(&self) -> IoResult<()> {
        match self {
            AnyFile::Uring(f) => f.sync_data().await,
            AnyFile::Std(f) => f.sync_data().await,
        }
    }

    async fn sync_all(&self) -> IoResult<()> {
        match self {
            AnyFile::Uring(f) => f.sync_all().await,
            AnyFile::Std(f) => f.sync_all().await,
        }
    }

    async fn allocate(&self, offset: u64, len: u64) -> IoResult<()> {
        match self {
            AnyFile::Uring(f) => f.allocate(offset, len).await,
            AnyFile::Std(f) => f.allocate(offset, len).await,
        }
    }

    async fn len(&self) -> IoResult<u64> {
        match self {
            AnyFile::Uring(f) => f.len().await,
            AnyFile::Std(f) => f.len().await,
        }
    }

    async fn set_len(&self, len: u64) -> IoResult<()> {
        match self {
            AnyFile::Uring(f) => f.set_len(len).await,
            AnyFile::Std(f) => f.set_len(len).await,
        }
    }
}
