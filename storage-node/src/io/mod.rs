//! The I/O seam: every byte Cairn stores goes through [`Disk`] / [`DiskFile`].
//!
//! Engines (chosen by [`IoEngine`] in config, built by [`open_disk`] as an
//! [`AnyDisk`]; io_uring is the default and an unusable io_uring is the
//! error [`IoError::UringUnavailable`], never a silent fallback):
//! - `uring` ([`uring`]: [`UringDisk`]): one driver thread owns an
//!   `io_uring`; callers submit through a bounded channel and await a
//!   oneshot. The driver owns each [`IoBuf`] (and an `Arc` of the file, so
//!   the fd stays open) until its completion arrives, so a cancelled caller
//!   can never cause a use-after-free. Reads, writes, fsync/fdatasync and
//!   fallocate go through the ring; namespace ops, `len` and `set_len` use
//!   tokio's blocking pool.
//! - `std` ([`std_disk`]: [`StdDisk`]): positional `std::fs` calls on tokio's
//!   blocking pool; the fallback when asked for, and the comparison point.
//! - `mem` ([`mem`]: [`MemDisk`]): an in-memory disk for tests and simulation
//!   that keeps durable and volatile bytes apart and can crash (dropping or
//!   tearing unsynced writes per 512-byte sector, forgetting namespace ops not
//!   made durable by `sync_dir`), flip bits and inject faults. Never used by a
//!   real node; not selectable through [`IoEngine`].
//!
//! All three pass the same test suite (`io/conformance.rs`); engine-specific
//! tests are in `io/uring/tests.rs` and `io/mem_tests.rs`.
//!
//! Semantics every engine provides (and the mem engine enforces):
//! - `write_at` writes the whole buffer or fails; `read_at` fills the buffer
//!   unless end of file comes first and returns how many bytes it read.
//!   Writing past the end extends the file; the gap reads as zeros.
//! - Written data is durable only after `sync_data`/`sync_all` on that file
//!   returns. Creating, renaming or removing a file is durable only after
//!   `sync_dir` on its directory returns (`create_dir_all` itself: see each
//!   engine; `MemDisk` treats it as durable at once).
//! - A file opened with `direct: true` uses `O_DIRECT`: offsets, lengths and
//!   buffer addresses must be multiples of [`IO_ALIGN`]; misuse is
//!   [`IoError::Misaligned`] (checked before the call reaches the kernel).
//! - A future dropped before it completes may or may not have done its work
//!   (a cancelled write can still land); it never corrupts memory.
//!
//! All `unsafe` in the workspace lives in this module (`buf.rs`, the
//! io_uring driver in `uring/driver.rs`, `fallocate` in `std_disk.rs`), each
//! block with a `// SAFETY:` comment.

mod any;
pub mod buf;
#[cfg(test)]
mod conformance;
pub mod mem;
#[cfg(test)]
mod mem_tests;
pub mod std_disk;
pub mod uring;
pub mod yielding;

pub use any::{AnyDisk, AnyFile, open_disk, open_disk_with};
pub use buf::{IO_ALIGN, IoBuf};
pub use mem::{Fault, FaultOp, MemDisk, MemFile, MemStats};
pub use std_disk::{StdDisk, StdFile};
pub use uring::{UringConfig, UringDisk, UringFile, UringStats};
pub use yielding::{YieldingDisk, YieldingFile};

use std::future::Future;
use std::path::{Path, PathBuf};

/// Typed I/O errors; every one names the file (or directory) involved.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{op} {}: {source}", path.display())]
    Os {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: misaligned direct I/O (offset {offset}, len {len}); O_DIRECT needs {IO_ALIGN}-byte alignment",
        path.display()
    )]
    Misaligned {
        path: PathBuf,
        offset: u64,
        len: usize,
    },
    #[error(
        "io_uring is unavailable on this kernel ({reason}); set io_engine = \"std\" to use the std::fs engine instead"
    )]
    UringUnavailable { reason: String },
    #[error("{}: the I/O driver has stopped", path.display())]
    DriverGone { path: PathBuf },
    #[error("{}: file does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: simulated crash (file handle from before the crash)", path.display())]
    Crashed { path: PathBuf },
    #[error("{}: injected fault: {what}", path.display())]
    Injected { path: PathBuf, what: String },
}

impl IoError {
    pub fn os(op: &'static str, path: &Path, source: std::io::Error) -> IoError {
        IoError::Os {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    /// True for "file does not exist" (from any engine).
    pub fn is_not_found(&self) -> bool {
        match self {
            IoError::NotFound { .. } => true,
            IoError::Os { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

pub type IoResult<T> = Result<T, IoError>;

/// How to open a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// Create the file if it does not exist.
    pub create: bool,
    /// Truncate to zero length on open.
    pub truncate: bool,
    /// Use `O_DIRECT` (aligned offsets, lengths and buffers required).
    pub direct: bool,
}

impl OpenOptions {
    /// Open an existing file for read and write.
    pub const EXISTING: OpenOptions = OpenOptions {
        create: false,
        truncate: false,
        direct: false,
    };
    /// Open, creating if missing, for read and write.
    pub const CREATE: OpenOptions = OpenOptions {
        create: true,
        truncate: false,
        direct: false,
    };

    pub const fn with_direct(mut self, direct: bool) -> OpenOptions {
        self.direct = direct;
        self
    }
}

/// Which engine a node uses; from config (`io_engine = "uring" | "std"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IoEngine {
    #[default]
    Uring,
    Std,
}

impl std::str::FromStr for IoEngine {
    type Err = String;
    fn from_str(s: &str) -> Result<IoEngine, String> {
        match s {
            "uring" | "io_uring" => Ok(IoEngine::Uring),
            "std" => Ok(IoEngine::Std),
            other => Err(format!(
                "unknown io engine {other:?} (expected \"uring\" or \"std\")"
            )),
        }
    }
}

/// A directory-level view of storage: opens files and changes names.
pub trait Disk: Send + Sync + 'static {
    type File: DiskFile;

    fn open(
        &self,
        path: &Path,
        opts: OpenOptions,
    ) -> impl Future<Output = IoResult<Self::File>> + Send;

    /// Creates `dir` and its parents (durable after `sync_dir` of each parent).
    fn create_dir_all(&self, dir: &Path) -> impl Future<Output = IoResult<()>> + Send;

    /// File names (not paths) directly inside `dir`, sorted.
    fn list(&self, dir: &Path) -> impl Future<Output = IoResult<Vec<String>>> + Send;

    fn remove(&self, path: &Path) -> impl Future<Output = IoResult<()>> + Send;

    fn rename(&self, from: &Path, to: &Path) -> impl Future<Output = IoResult<()>> + Send;

    /// Makes creations, renames and removals inside `dir` durable.
    fn sync_dir(&self, dir: &Path) -> impl Future<Output = IoResult<()>> + Send;
}

/// An open file with positional I/O. Cloning is cheap and shares the handle.
#[allow(clippy::len_without_is_empty)] // `len` is a fallible async query, not a container size
pub trait DiskFile: Clone + Send + Sync + 'static {
    /// The path this file was opened with (for error messages).
    fn path(&self) -> &Path;

    /// Reads up to `buf.len()` bytes at `offset`; returns the count read
    /// (short only at end of file) and the buffer.
    fn read_at(
        &self,
        buf: IoBuf,
        offset: u64,
    ) -> impl Future<Output = (IoResult<usize>, IoBuf)> + Send;

    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(
        &self,
        buf: IoBuf,
        offset: u64,
    ) -> impl Future<Output = (IoResult<()>, IoBuf)> + Send;

    /// `fdatasync`: data (and the size needed to read it) is durable.
    fn sync_data(&self) -> impl Future<Output = IoResult<()>> + Send;

    /// Writes all of `buf` at `offset` and makes it durable, as `write_at` then
    /// `sync_data` would (that is the default). An engine may do it in one device
    /// operation (io_uring: a write with `RWF_DSYNC`); what else of the file is durable
    /// afterwards is then unspecified, so callers that need earlier buffered writes durable
    /// call `sync_data`.
    fn write_at_durable(
        &self,
        buf: IoBuf,
        offset: u64,
    ) -> impl Future<Output = (IoResult<()>, IoBuf)> + Send {
        async move {
            let (res, buf) = self.write_at(buf, offset).await;
            if let Err(e) = res {
                return (Err(e), buf);
            }
            (self.sync_data().await, buf)
        }
    }

    /// `fsync`: data and all metadata are durable.
    fn sync_all(&self) -> impl Future<Output = IoResult<()>> + Send;

    /// Reserves `len` bytes at `offset` (`fallocate`, mode 0): the file grows
    /// to at least `offset + len` and later writes there cannot fail for space.
    fn allocate(&self, offset: u64, len: u64) -> impl Future<Output = IoResult<()>> + Send;

    /// Current file size in bytes.
    fn len(&self) -> impl Future<Output = IoResult<u64>> + Send;

    /// Sets the file size (truncating or extending with zeros).
    fn set_len(&self, len: u64) -> impl Future<Output = IoResult<()>> + Send;
}

/// Reads exactly `len` bytes at `offset`, failing with `UnexpectedEof`
/// (as an `IoError::Os`) if the file is shorter.
pub async fn read_exact_at<F: DiskFile>(file: &F, len: usize, offset: u64) -> IoResult<IoBuf> {
    let (res, buf) = file.read_at(IoBuf::zeroed(len), offset).await;
    let n = res?;
    if n < len {
        return Err(IoError::os(
            "read",
            file.path(),
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("wanted {len} bytes at offset {offset}, file ended after {n}"),
            ),
        ));
    }
    Ok(buf)
}

/// Checks `O_DIRECT` alignment rules for one operation.
pub fn check_direct(path: &Path, offset: u64, buf: &IoBuf) -> IoResult<()> {
    if !offset.is_multiple_of(IO_ALIGN as u64) || !buf.is_direct_aligned() {
        return Err(IoError::Misaligned {
            path: path.to_path_buf(),
            offset,
            len: buf.len(),
        });
    }
    Ok(())
}
