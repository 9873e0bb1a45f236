//! `IoBuf`: an owned, page-aligned byte buffer for disk I/O.
//!
//! Buffers are aligned to [`IO_ALIGN`] (4096) so the same buffer can be used
//! with `O_DIRECT`. Ownership of a buffer moves into an I/O call and comes back
//! with its result; the io_uring driver keeps it until the kernel's completion
//! arrives, so a caller that drops its future cannot free memory the kernel is
//! still writing into.
//!
//! Invariants: `len <= cap`, `cap` is a multiple of `IO_ALIGN` and at least
//! `IO_ALIGN`, the allocation is `cap` bytes aligned to `IO_ALIGN`, and bytes
//! `0..cap` are always initialised (allocated zeroed, or copied and the tail zeroed).
#![allow(unsafe_code)]

use std::alloc::{Layout, alloc, alloc_zeroed, dealloc};
use std::fmt;
use std::ptr::NonNull;

/// Alignment (and length granularity) required by `O_DIRECT` on our targets.
pub const IO_ALIGN: usize = 4096;

/// An owned, `IO_ALIGN`-aligned, zero-initialised byte buffer.
pub struct IoBuf {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
}

// SAFETY: IoBuf owns its allocation exclusively (like Vec<u8>); no interior
// aliasing, so moving it across threads or sharing `&IoBuf` is sound.
unsafe impl Send for IoBuf {}
// SAFETY: `&IoBuf` only gives read access to initialised bytes.
unsafe impl Sync for IoBuf {}

impl IoBuf {
    /// A zeroed buffer of `len` bytes (capacity rounded up to `IO_ALIGN`).
    pub fn zeroed(len: usize) -> IoBuf {
        let cap = len.max(1).div_ceil(IO_ALIGN) * IO_ALIGN;
        let layout = Layout::from_size_align(cap, IO_ALIGN).expect("IoBuf layout");
        // SAFETY: layout has non-zero size (cap >= IO_ALIGN).
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        IoBuf { ptr, len, cap }
    }

    /// A buffer holding a copy of `data` (written once: no zero-fill first, as the B-tree
    /// copies a page on every first write to it in a transaction).
    pub fn from_slice(data: &[u8]) -> IoBuf {
        let len = data.len();
        let cap = len.max(1).div_ceil(IO_ALIGN) * IO_ALIGN;
        let layout = Layout::from_size_align(cap, IO_ALIGN).expect("IoBuf layout");
        // SAFETY: layout has non-zero size (cap >= IO_ALIGN).
        let raw = unsafe { alloc(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        // SAFETY: `raw` is valid for writes of `cap` bytes and does not overlap `data`;
        // `len <= cap`. Bytes 0..len are copied and len..cap zeroed, so all of 0..cap is
        // initialised, as the type's invariant requires.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), raw, len);
            std::ptr::write_bytes(raw.add(len), 0, cap - len);
        }
        IoBuf { ptr, len, cap }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Sets the visible length; bytes beyond the old length keep whatever
    /// they held (they are always initialised). Panics past capacity.
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.cap,
            "IoBuf::set_len {len} > capacity {}",
            self.cap
        );
        self.len = len;
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is valid for cap >= len initialised bytes, owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Raw pointer for the I/O driver (kernel reads/writes `len` bytes here).
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// True when address, and `len`, are multiples of `IO_ALIGN`.
    pub fn is_direct_aligned(&self) -> bool {
        self.len.is_multiple_of(IO_ALIGN) && (self.ptr.as_ptr() as usize).is_multiple_of(IO_ALIGN)
    }
}

impl Drop for IoBuf {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.cap, IO_ALIGN).expect("IoBuf layout");
        // SAFETY: allocated in `zeroed` with exactly this layout; dropped once.
        unsafe { dealloc(self.ptr.as_ptr(), layout) }
    }
}

impl Clone for IoBuf {
    fn clone(&self) -> IoBuf {
        IoBuf::from_slice(self.as_slice())
    }
}

impl fmt::Debug for IoBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IoBuf(len={}, cap={})", self.len, self.cap)
    }
}

impl std::ops::Deref for IoBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for IoBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_zeroed_and_resizable() {
        let mut b = IoBuf::zeroed(10);
        assert_eq!(b.capacity(), IO_ALIGN);
        assert!(b.iter().all(|&x| x == 0));
        b.as_mut_slice()[9] = 7;
        b.set_len(IO_ALIGN);
        assert!(b.is_direct_aligned());
        assert_eq!(b[9], 7);
        let c = b.clone();
        assert_eq!(c.as_slice(), b.as_slice());
        assert_eq!(IoBuf::zeroed(0).capacity(), IO_ALIGN);
    }

    /// A copy holds the data, and the tail up to its capacity is zero (growing the length
    /// exposes zeros, never stale memory).
    #[test]
    fn from_slice_copies_and_zeroes_the_tail() {
        for len in [
            0,
            1,
            100,
            IO_ALIGN - 1,
            IO_ALIGN,
            IO_ALIGN + 5,
            3 * IO_ALIGN,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8 | 1).collect();
            let mut b = IoBuf::from_slice(&data);
            assert_eq!(b.len(), len);
            assert_eq!(b.as_slice(), &data[..]);
            assert!(b.is_direct_aligned() || len % IO_ALIGN != 0);
            let cap = b.capacity();
            assert_eq!(cap, len.max(1).div_ceil(IO_ALIGN) * IO_ALIGN);
            b.set_len(cap);
            assert!(b[len..].iter().all(|&x| x == 0), "tail of {len}");
        }
    }
}
