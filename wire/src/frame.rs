//! Frames: the envelope around every message that crosses a process boundary (DESIGN §1, §9).
//!
//! A frame is a fixed 32-byte header followed by an rkyv body. The transport
//! (`storage-node/src/transport/`) reads exactly one frame at a time with
//! [`read_header`] (which bounds the body before anything is allocated) and
//! [`Header::verify_body`] into a [`CheckedFrame`]; the protocol decodes a typed message
//! from it with [`CheckedFrame::decode`], or from raw bytes (WAL records, snapshots) with
//! [`decode`], which does every check and then validates the body. The message types live next to their
//! protocol: [`crate::peer`] (node to node), `crate::control` (control plane).
//!
//! ```text
//!  offset size field        encoding
//!  0      4    magic        b"CRNF"
//!  4      2    msg_type     u16 little-endian (registry below)
//!  6      2    version      u16 little-endian, the schema version of msg_type's body
//!  8      4    body_bytes   u32 little-endian, at most the receiver's frame_body_bytes_max
//!  12     4    reserved     must be 0 (room for flags, e.g. compression)
//!  16     16   checksum     blake3(bytes 0..16 ++ body), first 16 bytes
//!  32     body_bytes  body  rkyv 0.8 archive of the message (little-endian, aligned,
//!                           32-bit relative pointers), root at the end
//! ```
//!
//! Why a truncated blake3: the frame already travels inside TLS, which authenticates it;
//! the checksum is there to catch our own bugs and memory or disk corruption between
//! the encoder and the decoder, and to reject a corrupted body *before* rkyv sees it (rkyv
//! validation only guarantees memory safety: a flipped byte often decodes to a different
//! valid value, crates-verified §1.3). 128 bits make an undetected random corruption
//! (2^-128) irrelevant; the full 256 would only add header bytes.
//!
//! Checks, in order (each rejection names its reason in [`FrameError`]):
//! 1. at least a header's bytes ([`FrameError::Truncated`]);
//! 2. magic ([`FrameError::BadMagic`]): a length read from something that is not a frame
//!    means nothing, so the magic goes first;
//! 3. reserved bits zero ([`FrameError::Reserved`]);
//! 4. `body_bytes` within the caller's bound ([`FrameError::TooLarge`]), then exactly
//!    header + body present ([`FrameError::Truncated`], [`FrameError::TrailingBytes`]);
//! 5. the type is the one expected ([`FrameError::UnknownType`]) and its version is one this
//!    build reads ([`FrameError::UnknownVersion`]); a version only means something for a
//!    given type, so the type is checked first;
//! 6. checksum ([`FrameError::Checksum`]);
//! 7. rkyv validation (bytecheck) and deserialization into an owned value, from a copy in
//!    an aligned buffer ([`FrameError::Body`]);
//! 8. the type's own invariants ([`Framed::validate`], [`FrameError::Invalid`]).
//!
//! Steps 1–4 and 6 need no type: [`read_header`] and [`Header::verify_body`] do them for
//! the transport, which hands receivers a [`CheckedFrame`]; [`CheckedFrame::decode`] then
//! does steps 5, 7 and 8 only, so a frame is hashed once on its way in. A sender checks only
//! the shape of what its own [`encode`] built ([`check_shape`]): once on the way out.
//!
//! Message type registry (a type id is never reused; a new body layout gets a new version,
//! and the old version stays decodable for as long as a peer may send it):
//!
//! | id              | type                                   | where              |
//! |-----------------|----------------------------------------|--------------------|
//! | 0x0000          | never used (zeroed memory is no frame) |                    |
//! | 0x0001          | `ReplicationBatch` v1                  | `wire/src/peer.rs` |
//! | 0x0002          | `PeerHello` v1 (transport handshake)   | `wire/src/peer.rs` |
//! | 0x0003          | `StoredEntry` v1 (node-local WAL record) | `wire/src/peer.rs` |
//! | 0x0004          | `StoredMembership` v1 (node-local)     | `wire/src/peer.rs` |
//! | 0x0005          | `SnapshotData` v1 (in `Message::Snapshot`) | `wire/src/peer.rs` |
//! | 0x0006–0x00FF   | node to node, reserved                 | `wire/src/peer.rs` |
//! | 0x0100          | `ControlRequest` v1 (node → control)   | `wire/src/control.rs` |
//! | 0x0101          | `ControlReply` v1                      | `wire/src/control.rs` |
//! | 0x0102–0x01FF   | control plane, reserved                | `wire/src/control.rs` |
//! | 0x0200–0x0201   | `ItemRequest`, `ItemReply` v2           | `wire/src/forward.rs` |
//! | 0x0220–0x0221   | `DigestRequest`, `DigestReply` v1       | `wire/src/forward.rs` |
//! | 0x0202–0x02FF   | router forwarding, reserved            | `wire/src/forward.rs` |
//!
//! Invariants: [`encode`] never produces a frame that [`decode`] of the same type with the
//! same bound rejects; no input makes the decoder panic or allocate more than the bound
//! (plus one aligned copy of the body).

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"CRNF";
/// Header length in bytes.
pub const HEADER_BYTES: usize = 32;
/// Checksum length in bytes (a blake3 prefix).
pub const CHECKSUM_BYTES: usize = 16;
/// The default bound on a frame body; callers pass their configured `frame_body_bytes_max`.
pub const FRAME_BODY_BYTES_MAX_DEFAULT: usize = 16 << 20;

/// Why a frame was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("truncated frame: need {needed} bytes, have {got}")]
    Truncated { needed: usize, got: usize },
    #[error("{extra} bytes after the end of the frame")]
    TrailingBytes { extra: usize },
    #[error("bad magic {0:02x?}")]
    BadMagic([u8; 4]),
    #[error("reserved header bits set: {0:#010x}")]
    Reserved(u32),
    #[error("frame body of {body_bytes} bytes exceeds the bound of {max} bytes")]
    TooLarge { body_bytes: u64, max: usize },
    #[error("unknown message type {got:#06x} (expected {expected:#06x})")]
    UnknownType { got: u16, expected: u16 },
    #[error("unknown version {got} of message type {msg_type:#06x} (this build reads {known})")]
    UnknownVersion { msg_type: u16, got: u16, known: u16 },
    #[error("checksum mismatch")]
    Checksum,
    #[error("body failed validation: {0}")]
    Body(String),
    #[error("message breaks its invariants: {0}")]
    Invalid(String),
    #[error("message could not be encoded: {0}")]
    Encode(String),
}

/// rkyv's serialization, validation and deserialization for a body type. Implemented for
/// every type that derives `rkyv::{Archive, Serialize, Deserialize}` (with bytecheck); it
/// exists so that [`Framed`] can name these bounds once.
pub trait FrameBody: Sized {
    fn to_body(&self) -> Result<AlignedVec, rancor::Error>;
    /// `bytes` must be aligned (an [`AlignedVec`]).
    fn from_body(bytes: &[u8]) -> Result<Self, rancor::Error>;
}

impl<T> FrameBody for T
where
    T: rkyv::Archive
        + for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<T, HighDeserializer<rancor::Error>>,
{
    fn to_body(&self) -> Result<AlignedVec, rancor::Error> {
        rkyv::to_bytes::<rancor::Error>(self)
    }

    fn from_body(bytes: &[u8]) -> Result<Self, rancor::Error> {
        rkyv::from_bytes::<T, rancor::Error>(bytes)
    }
}

/// A message type that travels in frames.
pub trait Framed: FrameBody {
    /// The type id (see the registry in the module docs).
    const TYPE: u16;
    /// The body's schema version this build writes and reads.
    const VERSION: u16;

    /// Invariants rkyv cannot check (sorted memberships, bounded keys, ...), checked after
    /// decoding. The reason goes into [`FrameError::Invalid`].
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A parsed header (see the layout in the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub msg_type: u16,
    pub version: u16,
    pub body_bytes: u32,
    pub checksum: [u8; CHECKSUM_BYTES],
}

impl Header {
    /// The header of a frame carrying `body`.
    pub fn for_body(msg_type: u16, version: u16, body: &[u8]) -> Result<Header, FrameError> {
        let body_bytes = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
            body_bytes: body.len() as u64,
            max: u32::MAX as usize,
        })?;
        let mut header = Header {
            msg_type,
            version,
            body_bytes,
            checksum: [0; CHECKSUM_BYTES],
        };
        header.checksum = header.checksum_of(body);
        Ok(header)
    }

    /// The 32 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[..16].copy_from_slice(&self.checked_prefix());
        out[16..].copy_from_slice(&self.checksum);
        out
    }

    /// Body length as a `usize`.
    pub fn body_len(&self) -> usize {
        self.body_bytes as usize
    }

    /// Checks the body against the header's checksum.
    pub fn verify_body(&self, body: &[u8]) -> Result<(), FrameError> {
        if body.len() != self.body_len() {
            return Err(FrameError::Truncated {
                needed: HEADER_BYTES + self.body_len(),
                got: HEADER_BYTES + body.len(),
            });
        }
        if self.checksum_of(body) != self.checksum {
            return Err(FrameError::Checksum);
        }
        Ok(())
    }

    /// Bytes 0..16: everything the checksum covers besides the body.
    fn checked_prefix(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&self.msg_type.to_le_bytes());
        out[6..8].copy_from_slice(&self.version.to_le_bytes());
        out[8..12].copy_from_slice(&self.body_bytes.to_le_bytes());
        // 12..16: reserved, zero.
        out
    }

    fn checksum_of(&self, body: &[u8]) -> [u8; CHECKSUM_BYTES] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.checked_prefix());
        hasher.update(body);
        let hash = hasher.finalize();
        let mut out = [0u8; CHECKSUM_BYTES];
        out.copy_from_slice(&hash.as_bytes()[..CHECKSUM_BYTES]);
        out
    }
}

/// Parses a header read from a stream: magic, reserved bits and the body bound. The caller
/// then reads exactly `header.body_len()` bytes (never more than `body_bytes_max`) and calls
/// [`Header::verify_body`].
pub fn read_header(
    bytes: &[u8; HEADER_BYTES],
    body_bytes_max: usize,
) -> Result<Header, FrameError> {
    let magic: [u8; 4] = bytes[0..4].try_into().expect("4 bytes");
    if magic != MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    let reserved = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
    if reserved != 0 {
        return Err(FrameError::Reserved(reserved));
    }
    let body_bytes = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if body_bytes as usize > body_bytes_max {
        return Err(FrameError::TooLarge {
            body_bytes: u64::from(body_bytes),
            max: body_bytes_max,
        });
    }
    Ok(Header {
        msg_type: u16::from_le_bytes(bytes[4..6].try_into().expect("2 bytes")),
        version: u16::from_le_bytes(bytes[6..8].try_into().expect("2 bytes")),
        body_bytes,
        checksum: bytes[16..32].try_into().expect("16 bytes"),
    })
}

/// Splits a whole frame into its checked header and its body: steps 1–4 and 6 of the
/// module docs (everything that needs no type).
pub fn split_frame(frame: &[u8], body_bytes_max: usize) -> Result<(Header, &[u8]), FrameError> {
    let (header, body) = header_and_body(frame, body_bytes_max)?;
    header.verify_body(body)?;
    Ok((header, body))
}

/// Steps 1–4 only (header, magic, reserved bits, body bound, exact length), no checksum: what
/// a sender checks of a frame its own [`encode`] built (whose checksum is right by
/// construction; the receiver verifies it anyway), so a frame is hashed once per hop.
pub fn check_shape(frame: &[u8], body_bytes_max: usize) -> Result<Header, FrameError> {
    header_and_body(frame, body_bytes_max).map(|(header, _)| header)
}

/// A whole frame that passed steps 1–4 and 6 (shape and checksum), as the transport hands it
/// to a receiver. Only [`CheckedFrame::check`] makes one, so [`CheckedFrame::decode`] can
/// skip the checksum it already verified: each frame is hashed once on the receiving side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedFrame {
    header: Header,
    bytes: Vec<u8>,
}

impl CheckedFrame {
    /// Steps 1–4 and 6 on a whole frame.
    pub fn check(bytes: Vec<u8>, body_bytes_max: usize) -> Result<CheckedFrame, FrameError> {
        let (header, _) = split_frame(&bytes, body_bytes_max)?;
        Ok(CheckedFrame { header, bytes })
    }

    pub fn header(&self) -> Header {
        self.header
    }

    /// The whole frame, header included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Decodes the frame as a `T`: steps 5, 7 and 8 (the rest passed in [`Self::check`]).
    pub fn decode<T: Framed>(&self) -> Result<T, FrameError> {
        check_type::<T>(&self.header)?;
        decode_body::<T>(&self.bytes[HEADER_BYTES..])
    }
}

/// Step 5: the type is `T`'s and its version one this build reads.
fn check_type<T: Framed>(header: &Header) -> Result<(), FrameError> {
    if header.msg_type != T::TYPE {
        return Err(FrameError::UnknownType {
            got: header.msg_type,
            expected: T::TYPE,
        });
    }
    if header.version != T::VERSION {
        return Err(FrameError::UnknownVersion {
            msg_type: header.msg_type,
            got: header.version,
            known: T::VERSION,
        });
    }
    Ok(())
}

/// Steps 1–4: header present, magic, reserved bits, body bound, exact length.
fn header_and_body(frame: &[u8], body_bytes_max: usize) -> Result<(Header, &[u8]), FrameError> {
    let Some(head) = frame.first_chunk::<HEADER_BYTES>() else {
        return Err(FrameError::Truncated {
            needed: HEADER_BYTES,
            got: frame.len(),
        });
    };
    let header = read_header(head, body_bytes_max)?;
    let needed = HEADER_BYTES + header.body_len();
    if frame.len() < needed {
        return Err(FrameError::Truncated {
            needed,
            got: frame.len(),
        });
    }
    if frame.len() > needed {
        return Err(FrameError::TrailingBytes {
            extra: frame.len() - needed,
        });
    }
    Ok((header, &frame[HEADER_BYTES..]))
}

/// A frame around an already-encoded body (the transport's own tests use it to build frames
/// of unknown types or garbage bodies; protocols use [`encode`]).
pub fn encode_raw(msg_type: u16, version: u16, body: &[u8]) -> Result<Vec<u8>, FrameError> {
    let header = Header::for_body(msg_type, version, body)?;
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// Encodes `msg` into a frame, refusing a body larger than `body_bytes_max` (the receiver
/// would reject it; the sender learns it here and can split its batch).
pub fn encode<T: Framed>(msg: &T, body_bytes_max: usize) -> Result<Vec<u8>, FrameError> {
    let body = msg
        .to_body()
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    if body.len() > body_bytes_max {
        return Err(FrameError::TooLarge {
            body_bytes: body.len() as u64,
            max: body_bytes_max,
        });
    }
    encode_raw(T::TYPE, T::VERSION, &body)
}

/// The type and version of a frame, without checking anything else (for dispatch; the
/// chosen [`decode`] checks everything).
pub fn peek_type(frame: &[u8]) -> Option<(u16, u16)> {
    let head = frame.get(..8)?;
    Some((
        u16::from_le_bytes([head[4], head[5]]),
        u16::from_le_bytes([head[6], head[7]]),
    ))
}

/// Decodes a whole frame as a `T`, with every check of the module docs, in order.
pub fn decode<T: Framed>(frame: &[u8], body_bytes_max: usize) -> Result<T, FrameError> {
    let (header, body) = header_and_body(frame, body_bytes_max)?;
    check_type::<T>(&header)?;
    header.verify_body(body)?;
    decode_body::<T>(body)
}

/// rkyv validation and semantic validation of a body whose header has been checked.
pub fn decode_body<T: Framed>(body: &[u8]) -> Result<T, FrameError> {
    // rkyv reads in place and needs its root aligned: copy into an aligned buffer.
    let mut aligned = AlignedVec::<16>::with_capacity(body.len());
    aligned.extend_from_slice(body);
    let msg = T::from_body(&aligned).map_err(|e| FrameError::Body(e.to_string()))?;
    msg.validate().map_err(FrameError::Invalid)?;
    Ok(msg)
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
