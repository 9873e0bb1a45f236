//! Tests of `frame.rs`: golden bytes, every single-byte corruption, truncation, bounds,
//! garbage, and round trips of replication batches (`peer.rs`).
//!
//! Randomized tests use a seeded SplitMix64 (the same generator as `storage-node/src/rng.rs`,
//! which `wire` cannot depend on); `CAIRN_SEED=N` replays one seed.

use super::*;
use crate::peer::{PeerHello, ReplicationBatch};
use crate::replication::{
    Ballot, ConfChange, Entry, Envelope, GroupId, Member, MemberId, Membership, Message, Payload,
    Role, SnapshotMeta, SplitSpec,
};

const MAX: usize = FRAME_BODY_BYTES_MAX_DEFAULT;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Seeds to run: `CAIRN_SEED=N` for one, else `0..count`; a failure names its seed.
fn for_each_seed(name: &str, count: u64, mut f: impl FnMut(u64)) {
    let seeds: Vec<u64> = match std::env::var("CAIRN_SEED") {
        Ok(s) => vec![s.trim().parse().expect("CAIRN_SEED is a number")],
        Err(_) => (0..count).collect(),
    };
    for seed in seeds {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(seed)));
        if let Err(p) = res {
            eprintln!(
                "seed {seed} failed; replay with: CAIRN_SEED={seed} cargo test -p wire {name}"
            );
            std::panic::resume_unwind(p);
        }
    }
}

fn small_batch() -> ReplicationBatch {
    ReplicationBatch {
        from_node: 7,
        envelopes: vec![
            Envelope {
                group: GroupId(3),
                from: MemberId(7),
                to: MemberId(9),
                msg: Message::Accept {
                    ballot: Ballot(2),
                    prev_index: 4,
                    prev_ballot: Ballot(1),
                    entries: vec![Entry {
                        index: 5,
                        ballot: Ballot(2),
                        payload: Payload::Command(b"ab".to_vec()),
                    }],
                    commit: 4,
                },
            },
            Envelope {
                group: GroupId(3),
                from: MemberId(7),
                to: MemberId(9),
                msg: Message::Heartbeat {
                    ballot: Ballot(2),
                    commit: 5,
                    seq: 1,
                    quiesce: false,
                },
            },
        ],
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn golden_header() {
    let frame = encode_raw(0x0001, 1, b"hello").unwrap();
    // magic "CRNF", type 1, version 1, 5 body bytes, reserved 0, blake3 prefix, body.
    assert_eq!(
        hex(&frame),
        concat!(
            "43524e46",
            "0100",
            "0100",
            "05000000",
            "00000000",
            "fd82a31c55d66691f26a9d8695d3cfd8",
            "68656c6c6f"
        )
    );
    let mut prefix = frame[..16].to_vec();
    prefix.extend_from_slice(b"hello");
    assert_eq!(&frame[16..32], &blake3::hash(&prefix).as_bytes()[..16]);
}

#[test]
fn golden_replication_batch() {
    let frame = encode(&small_batch(), MAX).unwrap();
    assert_eq!(hex(&frame), GOLDEN_BATCH);
    assert_eq!(
        decode::<ReplicationBatch>(&frame, MAX).unwrap(),
        small_batch()
    );
}

/// `small_batch()` as a frame: header, then the rkyv archive (command bytes "ab" first,
/// the envelope vector's root-relative pointer and length last).
const GOLDEN_BATCH: &str = concat!(
    "43524e4601000100e800000000000000", // magic, type 1, version 1, 232 body bytes, reserved
    "b0371bcc011e6b0d497e4ff1beaeb6f9", // checksum
    "61620000000000000500000000000000020000000000000001000000e4ffffff",
    "0200000000000000000000000000000000000000000000000300000000000000",
    "0700000000000000090000000000000004000000000000000200000000000000",
    "0400000000000000010000000000000098ffffff010000000400000000000000",
    "0000000000000000030000000000000007000000000000000900000000000000",
    "0600000000000000020000000000000005000000000000000100000000000000",
    "0000000000000000000000000000000000000000000000000700000000000000",
    "58ffffff02000000",
);

#[test]
fn every_single_byte_flip_is_rejected_with_its_reason() {
    let frame = encode(&small_batch(), MAX).unwrap();
    for pos in 0..frame.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut bad = frame.clone();
            bad[pos] ^= mask;
            let err = decode::<ReplicationBatch>(&bad, MAX).expect_err("flip accepted");
            let expected_region = match pos {
                0..4 => matches!(err, FrameError::BadMagic(_)),
                4..6 => matches!(err, FrameError::UnknownType { .. }),
                6..8 => matches!(err, FrameError::UnknownVersion { .. }),
                8..12 => matches!(
                    err,
                    FrameError::TooLarge { .. }
                        | FrameError::Truncated { .. }
                        | FrameError::TrailingBytes { .. }
                ),
                12..16 => matches!(err, FrameError::Reserved(_)),
                _ => err == FrameError::Checksum,
            };
            assert!(expected_region, "byte {pos} ^ {mask:#x}: {err}");
        }
    }
}

#[test]
fn truncated_frames_are_rejected() {
    let frame = encode(&small_batch(), MAX).unwrap();
    for len in 0..frame.len() {
        let err = decode::<ReplicationBatch>(&frame[..len], MAX).unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got, .. } if got == len),
            "{len}: {err}"
        );
    }
    let mut long = frame.clone();
    long.push(0);
    assert_eq!(
        decode::<ReplicationBatch>(&long, MAX),
        Err(FrameError::TrailingBytes { extra: 1 })
    );
}

#[test]
fn oversized_bodies_are_refused_by_both_ends() {
    let frame = encode(&small_batch(), MAX).unwrap();
    let body = frame.len() - HEADER_BYTES;
    assert!(matches!(
        decode::<ReplicationBatch>(&frame, body - 1),
        Err(FrameError::TooLarge { max, .. }) if max == body - 1
    ));
    assert!(decode::<ReplicationBatch>(&frame, body).is_ok());
    assert!(matches!(
        encode(&small_batch(), body - 1),
        Err(FrameError::TooLarge { .. })
    ));
    // A header claiming 4 GiB is refused from the header alone, before any body is read.
    let mut head: [u8; HEADER_BYTES] = frame[..HEADER_BYTES].try_into().unwrap();
    head[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        read_header(&head, MAX),
        Err(FrameError::TooLarge { body_bytes, .. }) if body_bytes == u64::from(u32::MAX)
    ));
}

#[test]
fn unknown_type_version_and_bad_magic() {
    let body = small_batch().to_body().unwrap();
    let wrong_version = encode_raw(ReplicationBatch::TYPE, 2, &body).unwrap();
    assert_eq!(
        decode::<ReplicationBatch>(&wrong_version, MAX),
        Err(FrameError::UnknownVersion {
            msg_type: 1,
            got: 2,
            known: 1
        })
    );
    let wrong_type = encode_raw(0x0150, 1, &body).unwrap();
    assert_eq!(
        decode::<ReplicationBatch>(&wrong_type, MAX),
        Err(FrameError::UnknownType {
            got: 0x0150,
            expected: 1
        })
    );
    // A hello frame is a valid frame, but not a batch.
    let hello = encode(&PeerHello { name: "n1".into() }, MAX).unwrap();
    assert!(matches!(
        decode::<ReplicationBatch>(&hello, MAX),
        Err(FrameError::UnknownType { got: 2, .. })
    ));
    let mut bad_magic = encode(&small_batch(), MAX).unwrap();
    bad_magic[..4].copy_from_slice(b"HTTP");
    assert_eq!(
        decode::<ReplicationBatch>(&bad_magic, MAX),
        Err(FrameError::BadMagic(*b"HTTP"))
    );
    // A correctly checksummed body that is not a batch fails rkyv validation.
    let junk = encode_raw(ReplicationBatch::TYPE, 1, &[0xFF; 40]).unwrap();
    assert!(matches!(
        decode::<ReplicationBatch>(&junk, MAX),
        Err(FrameError::Body(_))
    ));
}

#[test]
fn invariants_rkyv_cannot_see_are_checked() {
    let mut batch = small_batch();
    batch.envelopes[0].msg = Message::Accept {
        ballot: Ballot(2),
        prev_index: 4,
        prev_ballot: Ballot(1),
        entries: vec![Entry {
            index: 5,
            ballot: Ballot(2),
            payload: Payload::Split(SplitSpec {
                new_group: GroupId(4),
                key: vec![1; crate::replication::SPLIT_KEY_BYTES_MAX + 1],
            }),
        }],
        commit: 4,
    };
    let frame = encode(&batch, MAX).unwrap();
    assert!(matches!(
        decode::<ReplicationBatch>(&frame, MAX),
        Err(FrameError::Invalid(reason)) if reason.contains("split key")
    ));
    let empty_name = encode(
        &PeerHello {
            name: String::new(),
        },
        MAX,
    )
    .unwrap();
    assert!(matches!(
        decode::<PeerHello>(&empty_name, MAX),
        Err(FrameError::Invalid(_))
    ));
}

#[test]
fn streaming_reads_exactly_one_frame_at_a_time() {
    let frames: Vec<Vec<u8>> = (0..5u64)
        .map(|i| {
            let mut b = small_batch();
            b.from_node = i;
            encode(&b, MAX).unwrap()
        })
        .collect();
    let stream: Vec<u8> = frames.concat();
    let mut at = 0;
    let mut got = Vec::new();
    while at < stream.len() {
        let head: &[u8; HEADER_BYTES] = stream[at..at + HEADER_BYTES].try_into().unwrap();
        let header = read_header(head, MAX).unwrap();
        let body = &stream[at + HEADER_BYTES..at + HEADER_BYTES + header.body_len()];
        header.verify_body(body).unwrap();
        assert_eq!(header.msg_type, ReplicationBatch::TYPE);
        got.push(decode_body::<ReplicationBatch>(body).unwrap().from_node);
        at += HEADER_BYTES + header.body_len();
    }
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    let (header, body) = split_frame(&frames[0], MAX).unwrap();
    assert_eq!(body.len(), header.body_len());
    assert_eq!(peek_type(&frames[0]), Some((1, 1)));
    assert_eq!(peek_type(&frames[0][..7]), None);
}

/// Random garbage, garbage behind a valid magic, and garbage bodies behind a valid header
/// and checksum (so rkyv validation sees them): never a panic.
#[test]
fn garbage_never_panics() {
    let mut accepted = 0u32;
    for_each_seed("garbage_never_panics", 1, |seed| {
        let mut rng = Rng(seed);
        for i in 0..10_000 {
            let len = rng.below(300) as usize;
            let mut buf = rng.bytes(len);
            match i % 3 {
                0 => {}
                1 if buf.len() >= 4 => buf[..4].copy_from_slice(&MAGIC),
                _ => {
                    let ty = if rng.below(2) == 0 { 1 } else { 2 };
                    buf = encode_raw(ty, 1, &buf).unwrap();
                }
            }
            if decode::<ReplicationBatch>(&buf, MAX).is_ok() {
                accepted += 1;
            }
            let _ = decode::<PeerHello>(&buf, MAX);
            let _ = split_frame(&buf, MAX);
        }
    });
    // Accepted garbage bodies are possible (rkyv is not a checksum) but must be rare.
    assert!(accepted < 500, "{accepted} garbage buffers decoded");
}

fn random_batch(rng: &mut Rng) -> ReplicationBatch {
    let n = rng.below(6) as usize;
    let envelopes = (0..n)
        .map(|_| Envelope {
            group: GroupId(rng.next()),
            from: MemberId(rng.below(10)),
            to: MemberId(rng.below(10)),
            msg: random_message(rng),
        })
        .collect();
    ReplicationBatch {
        from_node: rng.next(),
        envelopes,
    }
}

fn random_entries(rng: &mut Rng) -> Vec<Entry> {
    (0..rng.below(4))
        .map(|i| Entry {
            index: i + 1,
            ballot: Ballot(rng.below(5)),
            payload: match rng.below(4) {
                0 => Payload::Noop,
                1 => {
                    let len = rng.below(64) as usize;
                    Payload::Command(rng.bytes(len))
                }
                2 => Payload::Conf(match rng.below(3) {
                    0 => ConfChange::Add {
                        id: MemberId(rng.below(9)),
                        role: [Role::Full, Role::Log, Role::Learner][rng.below(3) as usize],
                    },
                    1 => ConfChange::Promote {
                        id: MemberId(rng.below(9)),
                    },
                    _ => ConfChange::Remove {
                        id: MemberId(rng.below(9)),
                    },
                }),
                _ => {
                    let len = rng.below(32) as usize;
                    Payload::Split(SplitSpec {
                        new_group: GroupId(rng.next()),
                        key: rng.bytes(len),
                    })
                }
            },
        })
        .collect()
}

fn random_message(rng: &mut Rng) -> Message {
    let b = Ballot(rng.below(100));
    let flag = rng.below(2) == 0;
    match rng.below(14) {
        0 => Message::PreVote {
            ballot: b,
            last_index: rng.next(),
            last_ballot: b,
        },
        1 => Message::PreVoteResp {
            ballot: b,
            granted: flag,
        },
        2 => Message::Vote {
            ballot: b,
            last_index: rng.next(),
            last_ballot: b,
            force: flag,
        },
        3 => Message::VoteResp {
            ballot: b,
            granted: flag,
            last_index: 3,
            last_ballot: b,
        },
        4 => Message::Accept {
            ballot: b,
            prev_index: rng.next(),
            prev_ballot: b,
            entries: random_entries(rng),
            commit: rng.next(),
        },
        5 => Message::AcceptResp {
            ballot: b,
            ok: flag,
            index: rng.next(),
            wants_snapshot: !flag,
        },
        6 => Message::Heartbeat {
            ballot: b,
            commit: rng.next(),
            seq: rng.next(),
            quiesce: flag,
        },
        7 => Message::HeartbeatResp {
            ballot: b,
            seq: rng.next(),
        },
        8 => Message::Fetch {
            ballot: b,
            from_index: 1,
            max_bytes: rng.next(),
            committed_only: flag,
        },
        9 => Message::FetchResp {
            ballot: b,
            prev_index: 0,
            prev_ballot: b,
            entries: random_entries(rng),
            last_index: rng.next(),
            committed_only: flag,
        },
        10 => Message::CommitHint {
            ballot: b,
            commit: rng.next(),
        },
        11 => {
            let len = rng.below(100) as usize;
            Message::Snapshot {
                ballot: b,
                meta: SnapshotMeta {
                    index: rng.next(),
                    ballot: b,
                    membership: Membership::new(vec![
                        Member {
                            id: MemberId(2),
                            role: Role::Full,
                        },
                        Member {
                            id: MemberId(1),
                            role: Role::Log,
                        },
                    ])
                    .unwrap(),
                },
                data: rng.bytes(len),
                committed_only: flag,
            }
        }
        12 => Message::SnapshotResp {
            ballot: b,
            index: rng.next(),
        },
        _ => Message::TimeoutNow { ballot: b },
    }
}

#[test]
fn random_batches_round_trip() {
    for_each_seed("random_batches_round_trip", 2000, |seed| {
        let mut rng = Rng(seed);
        let batch = random_batch(&mut rng);
        let frame = encode(&batch, MAX).unwrap();
        assert_eq!(decode::<ReplicationBatch>(&frame, MAX).unwrap(), batch);
        // Decoding from an unaligned position works: the decoder copies into an aligned buffer.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&frame);
        assert_eq!(
            decode::<ReplicationBatch>(&shifted[1..], MAX).unwrap(),
            batch
        );
    });
}

#[test]
fn golden_peer_hello() {
    let frame = encode(
        &PeerHello {
            name: "node-1".into(),
        },
        MAX,
    )
    .unwrap();
    assert_eq!(
        hex(&frame),
        concat!(
            "43524e46020001000800000000000000", // magic, type 2, version 1, 8 body bytes
            "3b4635991d4b568dce1cbb1b588bd399", // checksum
            "6e6f64652d31ffff",                 // rkyv inline string: "node-1", 0xff padding
        )
    );
    assert_eq!(decode::<PeerHello>(&frame, MAX).unwrap().name, "node-1");
}

/// A `CheckedFrame` holds only frames whose checksum matched, decodes like `decode`, and
/// still checks the type; `check_shape` (the sender's check) skips the checksum but not the
/// shape.
#[test]
fn checked_frames_are_hashed_once_and_still_type_checked() {
    let batch = small_batch();
    let frame = encode(&batch, MAX).unwrap();
    let checked = CheckedFrame::check(frame.clone(), MAX).unwrap();
    assert_eq!(checked.as_bytes(), &frame[..]);
    assert_eq!(checked.header().msg_type, ReplicationBatch::TYPE);
    assert_eq!(checked.decode::<ReplicationBatch>().unwrap(), batch);
    assert_eq!(decode::<ReplicationBatch>(&frame, MAX).unwrap(), batch);
    assert!(matches!(
        checked.decode::<PeerHello>(),
        Err(FrameError::UnknownType { .. })
    ));
    assert_eq!(checked.clone().into_bytes(), frame);

    let mut corrupt = frame.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x10;
    assert_eq!(
        CheckedFrame::check(corrupt.clone(), MAX),
        Err(FrameError::Checksum)
    );
    // The sender's shape check passes a bad checksum (the receiver rejects it) ...
    assert_eq!(check_shape(&corrupt, MAX).unwrap(), checked.header());
    // ... but not a bad shape.
    assert!(matches!(
        check_shape(&frame[..frame.len() - 1], MAX),
        Err(FrameError::Truncated { .. })
    ));
    assert!(matches!(
        check_shape(&frame, 4),
        Err(FrameError::TooLarge { .. })
    ));
}
