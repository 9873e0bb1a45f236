//! The `std` I/O engine: positional `std::fs` calls run on tokio's blocking
//! pool. It is the fallback when io_uring is not wanted and the baseline the
//! io_uring engine is compared with. Same semantics as every engine (see
//! `io/mod.rs`), checked by the shared conformance suite.
#![allow(unsafe_code)]

use super::{Disk, DiskFile, IoBuf, IoError, IoResult, OpenOptions, check_direct};
use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `std::fs` engine. Stateless; clone freely.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdDisk;

/// A file opened by [`StdDisk`].
#[derive(Clone, Debug)]
pub struct StdFile {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: File,
    path: PathBuf,
    direct: bool,
}

/// Runs `f` on tokio's blocking pool (shared with the io_uring engine's
/// namespace operations).
pub(crate) async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> IoResult<T> + Send + 'static,
) -> IoResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| IoError::DriverGone {
            path: path.to_path_buf(),
        })?
}

/// Opens `path` for read and write with `opts` (blocking; both engines use it).
pub(crate) fn open_std(path: &Path, opts: OpenOptions) -> IoResult<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true)
        .write(true)
        .create(opts.create)
        .truncate(opts.truncate);
    if opts.direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path).map_err(|e| IoError::os("open", path, e))
}

impl Disk for StdDisk {
    type File = StdFile;

    async fn open(&self, path: &Path, opts: OpenOptions) -> IoResult<StdFile> {
        let p = path.to_path_buf();
        blocking(path, move || {
            let file = open_std(&p, opts)?;
            Ok(StdFile {
                inner: Arc::new(Inner {
                    file,
                    path: p,
                    direct: opts.direct,
                }),
            })
        })
        .await
    }

    async fn create_dir_all(&self, dir: &Path) -> IoResult<()> {
        let p = dir.to_path_buf();
        blocking(dir, move || {
            std::fs::create_dir_all(&p).map_err(|e| IoError::os("create_dir_all", &p, e))
        })
        .await
    }

    async fn list(&self, dir: &Path) -> IoResult<Vec<String>> {
        let p = dir.to_path_buf();
        blocking(dir, move || {
            let mut names = Vec::new();
            for entry in std::fs::read_dir(&p).map_err(|e| IoError::os("read_dir", &p, e))? {
                let entry = entry.map_err(|e| IoError::os("read_dir", &p, e))?;
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            Ok(names)
        })
        .await
    }

    async fn remove(&self, path: &Path) -> IoResult<()> {
        let p = path.to_path_buf();
        blocking(path, move || {
            std::fs::remove_file(&p).map_err(|e| IoError::os("remove", &p, e))
        })
        .await
    }

    async fn rename(&self, from: &Path, to: &Path) -> IoResult<()> {
        let (f, t) = (from.to_path_buf(), to.to_path_buf());
        blocking(from, move || {
            std::fs::rename(&f, &t).map_err(|e| IoError::os("rename", &f, e))
        })
        .await
    }

    async fn sync_dir(&self, dir: &Path) -> IoResult<()> {
        let p = dir.to_path_buf();
        blocking(dir, move || {
            let d = File::open(&p).map_err(|e| IoError::os("open dir", &p, e))?;
            d.sync_all().map_err(|e| IoError::os("fsync dir", &p, e))
        })
        .await
    }
}

impl DiskFile for StdFile {
    fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn read_at(&self, mut buf: IoBuf, offset: u64) -> (IoResult<usize>, IoBuf) {
        if self.inner.direct
            && let Err(e) = check_direct(&self.inner.path, offset, &buf)
        {
            return (Err(e), buf);
        }
        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut done = 0;
            let res = loop {
                if done == buf.len() {
                    break Ok(done);
                }
                match inner.file.read_at(&mut buf[done..], offset + done as u64) {
                    Ok(0) => break Ok(done),
                    Ok(n) => done += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(IoError::os("read", &inner.path, e)),
                }
            };
            (res, buf)
        })
        .await;
        match joined {
            Ok(r) => r,
            Err(_) => panic!("std disk read task panicked"),
        }
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        if self.inner.direct
            && let Err(e) = check_direct(&self.inner.path, offset, &buf)
        {
            return (Err(e), buf);
        }
        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let res = inner
                .file
                .write_all_at(&buf, offset)
                .map_err(|e| IoError::os("write", &inner.path, e));
            (res, buf)
        })
        .await;
        match joined {
            Ok(r) => r,
            Err(_) => panic!("std disk write task panicked"),
        }
    }

    async fn sync_data(&self) -> IoResult<()> {
        let inner = self.inner.clone();
        blocking(&self.inner.path, move || {
            inner
                .file
                .sync_data()
                .map_err(|e| IoError::os("fdatasync", &inner.path, e))
        })
        .await
    }

    async fn sync_all(&self) -> IoResult<()> {
        let inner = self.inner.clone();
        blocking(&self.inner.path, move || {
            inner
                .file
                .sync_all()
                .map_err(|e| IoError::os("fsync", &inner.path, e))
        })
        .await
    }

    async fn allocate(&self, offset: u64, len: u64) -> IoResult<()> {
        let inner = self.inner.clone();
        blocking(&self.inner.path, move || {
            let fd = inner.file.as_raw_fd();
            // SAFETY: fd is a valid open descriptor owned by `inner.file`, which
            // lives for the whole call; fallocate takes only integers.
            let rc = unsafe { libc::fallocate(fd, 0, offset as libc::off_t, len as libc::off_t) };
            if rc != 0 {
                return Err(IoError::os(
                    "fallocate",
                    &inner.path,
                    std::io::Error::last_os_error(),
                ));
            }
            Ok(())
        })
        .await
    }

    async fn len(&self) -> IoResult<u64> {
        let inner = self.inner.clone();
        blocking(&self.inner.path, move || {
            Ok(inner
                .file
                .metadata()
                .map_err(|e| IoError::os("stat", &inner.path, e))?
                .len())
        })
        .await
    }

    async fn set_len(&self, len: u64) -> IoResult<()> {
        let inner = self.inner.clone();
        blocking(&self.inner.path, move || {
            inner
                .file
                .set_len(len)
                .map_err(|e| IoError::os("ftruncate", &inner.path, e))
        })
        .await
    }
}
