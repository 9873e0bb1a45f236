//! Tests of the stored key layout: limits and messages, the pinned hash, round trips,
//! corruption detection, sort order within a collection, and collection contiguity.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::test_support::{num_pair, num_parts};

fn s(text: &str) -> KeyAttr {
    KeyAttr::S(text.to_owned())
}

fn num(text: &str) -> KeyAttr {
    KeyAttr::N(Number::parse(text).unwrap())
}

const T: TableId = TableId(7);

#[test]
fn hash64_is_pinned() {
    // These values are part of the on-disk format and of routing. If this test fails, the
    // format changed: do not update the constants without a migration.
    assert_eq!(hash64(&s("a")), 0x9955_2383_a249_c58c);
    assert_eq!(hash64(&num("1000")), 0x401f_8529_216e_f20f);
    assert_eq!(hash64(&KeyAttr::B(vec![0x61])), 0xd684_1d13_b6be_90fe);
    // The definition: first 8 bytes (big endian) of blake3(tag ‖ canonical bytes).
    let first8 = |input: &[u8]| {
        let digest = blake3::hash(input);
        u64::from_be_bytes(digest.as_bytes()[..8].try_into().unwrap())
    };
    assert_eq!(hash64(&s("héllo")), first8("Shéllo".as_bytes()));
    assert_eq!(hash64(&KeyAttr::B(vec![0, 255])), first8(&[b'B', 0, 255]));
    assert_eq!(
        hash64(&num("-0.5")),
        first8(&[b'N', 0x01, 0x7E, 0xCC, 0xFF])
    );
    // Equal numbers hash equally whatever their spelling; types are distinguished.
    assert_eq!(hash64(&num("1e3")), hash64(&num("1000.00")));
    assert_ne!(hash64(&s("a")), hash64(&KeyAttr::B(b"a".to_vec())));
}

#[test]
fn key_layout_is_pinned() {
    let key = encode_item_key(TableId(0x0102_0304), &s("ab"), Some(&num("-0.5"))).unwrap();
    let mut expected = vec![0x01, 0x02, 0x03, 0x04];
    expected.extend_from_slice(&hash64(&s("ab")).to_be_bytes());
    expected.extend_from_slice(&[0x00, 0x02, b'a', b'b', 0x01, 0x7E, 0xCC, 0xFF]);
    assert_eq!(key, expected);
    let no_sk = encode_item_key(TableId(1), &KeyAttr::B(vec![9]), None).unwrap();
    assert_eq!(no_sk.len(), KEY_HEADER_BYTES + 1);
    assert_eq!(
        no_sk,
        collection_prefix(TableId(1), &KeyAttr::B(vec![9])).unwrap()
    );
}

#[test]
fn key_size_limits_count_like_dynamodb() {
    let ok = |pk: &KeyAttr, sk: Option<&KeyAttr>| encode_item_key(T, pk, sk).unwrap();
    ok(&s(&"a".repeat(2048)), None);
    ok(&s(&"é".repeat(1024)), None); // 2048 UTF-8 bytes
    ok(&KeyAttr::B(vec![0; 2048]), None);
    ok(&s("p"), Some(&s(&"a".repeat(1024))));
    ok(&s("p"), Some(&KeyAttr::B(vec![0xFF; 1024])));
    let max = ok(
        &KeyAttr::B(vec![0xFF; 2048]),
        Some(&KeyAttr::B(vec![0xFF; 1024])),
    );
    assert_eq!(max.len(), MAX_ENCODED_KEY_BYTES);
    assert_eq!(MAX_ENCODED_KEY_BYTES, 3086);
    // The largest numbers fit easily.
    let big = num("-9.9999999999999999999999999999999999999E+124");
    assert_eq!(big.dynamodb_size_bytes(), 22);
    ok(&big, Some(&big));

    let err = |pk: &KeyAttr, sk: Option<&KeyAttr>| encode_item_key(T, pk, sk).unwrap_err();
    assert_eq!(
        err(&s(&"a".repeat(2049)), None),
        KeyError::PartitionKeyTooLarge { size_bytes: 2049 }
    );
    assert_eq!(
        err(&s(&"é".repeat(1025)), None),
        KeyError::PartitionKeyTooLarge { size_bytes: 2050 }
    );
    assert_eq!(
        err(&s("p"), Some(&KeyAttr::B(vec![1; 1025]))),
        KeyError::SortKeyTooLarge { size_bytes: 1025 }
    );
    assert_eq!(
        err(&s("p"), Some(&s(&"€".repeat(342)))), // 1026 bytes, 342 chars
        KeyError::SortKeyTooLarge { size_bytes: 1026 }
    );
    assert_eq!(
        err(&s(&"a".repeat(2049)), None).to_string(),
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    );
    assert_eq!(
        err(&s("p"), Some(&s(&"a".repeat(1025)))).to_string(),
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    );
    assert!(collection_prefix(T, &s(&"a".repeat(2049))).is_err());
}

#[test]
fn empty_key_values_are_rejected_with_dynamodb_messages() {
    let empty_s = encode_item_key(T, &s(""), None).unwrap_err();
    assert_eq!(
        empty_s,
        KeyError::EmptyKeyValue {
            part: KeyPart::Partition,
            key_type: KeyType::S
        }
    );
    assert_eq!(
        empty_s.dynamodb_message("pk"),
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
    );
    let empty_b = encode_item_key(T, &s("x"), Some(&KeyAttr::B(vec![]))).unwrap_err();
    assert_eq!(
        empty_b,
        KeyError::EmptyKeyValue {
            part: KeyPart::Sort,
            key_type: KeyType::B
        }
    );
    assert_eq!(
        empty_b.dynamodb_message("sk"),
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: sk"
    );
    assert!(empty_b.is_validation());
    // Zero is a fine number key.
    encode_item_key(T, &num("0"), Some(&num("-0"))).unwrap();
}

#[test]
fn corrupt_keys_are_typed_errors() {
    let key = encode_item_key(T, &s("pk"), Some(&num("12.5"))).unwrap();
    let decode = |bytes: &[u8]| decode_item_key(bytes, KeyType::S, Some(KeyType::N));
    assert!(decode(&key).is_ok());

    assert!(matches!(
        decode(&key[..10]),
        Err(KeyError::Truncated { offset: 10, .. })
    ));
    assert!(matches!(
        decode(&key[..15]),
        Err(KeyError::Truncated { offset: 15, .. })
    ));
    assert!(matches!(
        decode(&key[..16]),
        Err(KeyError::Truncated { offset: 16, .. })
    ));
    assert!(matches!(
        decode(&key[..17]),
        Err(KeyError::Truncated { offset: 17, .. })
    ));
    let mut zero_len = key.clone();
    zero_len[12..14].copy_from_slice(&[0, 0]);
    assert_eq!(
        decode(&zero_len),
        Err(KeyError::BadPartitionKeyLength { offset: 12, len: 0 })
    );
    let mut long_len = key.clone();
    long_len[12..14].copy_from_slice(&2049u16.to_be_bytes());
    assert_eq!(
        decode(&long_len),
        Err(KeyError::BadPartitionKeyLength {
            offset: 12,
            len: 2049
        })
    );
    let mut other_pk = key.clone();
    other_pk[14] = b'q';
    assert!(matches!(
        decode(&other_pk),
        Err(KeyError::HashMismatch { .. })
    ));
    let mut bad_hash = key.clone();
    bad_hash[4] ^= 1;
    assert!(matches!(
        decode(&bad_hash),
        Err(KeyError::HashMismatch { .. })
    ));
    let mut bad_number = key.clone();
    bad_number[16] = 0x07;
    assert!(matches!(
        decode(&bad_number),
        Err(KeyError::CorruptNumber { offset: 16, .. })
    ));
    let mut trailing = key.clone();
    trailing.push(0);
    assert_eq!(
        decode(&trailing),
        Err(KeyError::TrailingBytes {
            offset: key.len(),
            count: 1
        })
    );
    // Schema without a sort key: the sort key bytes are stray.
    assert_eq!(
        decode_item_key(&key, KeyType::S, None),
        Err(KeyError::TrailingBytes {
            offset: 16,
            count: key.len() - 16
        })
    );
    // Schema with a sort key, key without one.
    assert!(matches!(
        decode(&key[..16]),
        Err(KeyError::Truncated { offset: 16, .. })
    ));

    let bad_utf8 = {
        let mut k =
            encode_item_key(T, &KeyAttr::B(vec![1]), Some(&KeyAttr::B(vec![0xC3, 0x28]))).unwrap();
        k.truncate(KEY_HEADER_BYTES + 1);
        k.extend_from_slice(&[0xC3, 0x28]);
        k
    };
    assert_eq!(
        decode_item_key(&bad_utf8, KeyType::B, Some(KeyType::S)),
        Err(KeyError::InvalidUtf8 {
            part: KeyPart::Sort,
            offset: 15
        })
    );
    let too_long = {
        let mut k = collection_prefix(T, &s("p")).unwrap();
        k.extend_from_slice(&[b'x'; 1025]);
        k
    };
    assert_eq!(
        decode_item_key(&too_long, KeyType::S, Some(KeyType::S)),
        Err(KeyError::BadSortKeyLength {
            offset: 15,
            len: 1025
        })
    );
    // A number partition key followed by a stray byte inside its declared length.
    let stray = {
        let pk = num("7");
        let mut k = Vec::new();
        k.extend_from_slice(&T.to_be_bytes());
        k.extend_from_slice(&hash64(&pk).to_be_bytes());
        k.extend_from_slice(&5u16.to_be_bytes());
        pk.encode_into(&mut k);
        k.push(0x00);
        k
    };
    assert_eq!(
        decode_item_key(&stray, KeyType::N, None),
        Err(KeyError::TrailingBytes {
            offset: 18,
            count: 1
        })
    );
    assert!(
        !KeyError::TrailingBytes {
            offset: 0,
            count: 1
        }
        .is_validation()
    );
}

#[test]
fn header_reads_table_and_hash() {
    let pk = num("42");
    let key = encode_item_key(TableId(9), &pk, Some(&s("x"))).unwrap();
    let header = decode_key_header(&key).unwrap();
    assert_eq!(
        header,
        KeyHeader {
            table: TableId(9),
            hash: hash64(&pk),
            pk_len: pk.encoded_len()
        }
    );
}

#[test]
fn table_ranges_hold_exactly_their_tables() {
    let key = |t: u32| encode_item_key(TableId(t), &s("p"), Some(&s("s"))).unwrap();
    for t in [0u32, 1, 255, 256, u32::MAX - 1, u32::MAX] {
        let (start, end) = table_range(TableId(t));
        assert_eq!(start, table_prefix(TableId(t)));
        let inside = key(t);
        assert!(start <= inside && inside < end, "table {t}");
        if t > 0 {
            assert!(key(t - 1) < start);
        }
        if t < u32::MAX {
            assert!(key(t + 1) >= end);
        }
    }
    // The last table's end is above its largest possible key.
    let (_, end) = table_range(TableId(u32::MAX));
    let largest = encode_item_key(
        TableId(u32::MAX),
        &KeyAttr::B(vec![0xFF; 2048]),
        Some(&KeyAttr::B(vec![0xFF; 1024])),
    )
    .unwrap();
    let mut forged = largest.clone();
    forged[4..12].copy_from_slice(&[0xFF; 8]); // the largest hash too
    assert!(largest < end && forged < end);
}

#[test]
fn prefix_successor_bounds_prefix_scans() {
    assert_eq!(prefix_successor(&[1, 2, 3]), Some(vec![1, 2, 4]));
    assert_eq!(prefix_successor(&[1, 0xFF, 0xFF]), Some(vec![2]));
    assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
    assert_eq!(prefix_successor(&[]), None);
}

fn cases() -> ProptestConfig {
    crate::test_support::proptest_config()
}

/// A non-empty string key of up to `max` chars, mixing ASCII, multi-byte and astral chars.
fn string_key(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![Just('a'), Just('b'), Just('A'), Just('é'), Just('€')],
            1..=max
        )
        .prop_map(|chars| chars.into_iter().collect()),
        proptest::collection::vec(any::<char>(), 1..=max)
            .prop_map(|chars| chars.into_iter().collect()),
    ]
}

fn binary_key(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1), Just(0x7F), Just(0x80), Just(0xFF)],
            1..=max
        ),
        proptest::collection::vec(any::<u8>(), 1..=max),
    ]
}

/// A key attribute of the given type.
fn attr_of(key_type: KeyType) -> BoxedStrategy<KeyAttr> {
    match key_type {
        KeyType::S => string_key(6).prop_map(KeyAttr::S).boxed(),
        KeyType::N => num_parts().prop_map(|p| KeyAttr::N(p.number())).boxed(),
        KeyType::B => binary_key(6).prop_map(KeyAttr::B).boxed(),
    }
}

fn key_type() -> impl Strategy<Value = KeyType> {
    prop_oneof![Just(KeyType::S), Just(KeyType::N), Just(KeyType::B)]
}

/// A schema and an item key for it.
fn schema_and_key() -> impl Strategy<Value = (KeyType, Option<KeyType>, KeyAttr, Option<KeyAttr>)> {
    (key_type(), proptest::option::of(key_type())).prop_flat_map(|(pk_type, sk_type)| {
        let sk = match sk_type {
            Some(t) => attr_of(t).prop_map(Some).boxed(),
            None => Just(None).boxed(),
        };
        (Just(pk_type), Just(sk_type), attr_of(pk_type), sk)
    })
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn keys_round_trip((pk_type, sk_type, pk, sk) in schema_and_key(), table in any::<u32>()) {
        let key = encode_item_key(TableId(table), &pk, sk.as_ref()).unwrap();
        prop_assert!(key.len() <= MAX_ENCODED_KEY_BYTES);
        let prefix = collection_prefix(TableId(table), &pk).unwrap();
        prop_assert!(key.starts_with(&prefix));
        let decoded = decode_item_key(&key, pk_type, sk_type).unwrap();
        prop_assert_eq!(decoded, DecodedKey { table: TableId(table), pk, sk });
    }

    #[test]
    fn string_sort_keys_order_by_utf8_bytes(pk in string_key(4), a in string_key(8), b in string_key(8)) {
        let ka = encode_item_key(T, &KeyAttr::S(pk.clone()), Some(&KeyAttr::S(a.clone()))).unwrap();
        let kb = encode_item_key(T, &KeyAttr::S(pk), Some(&KeyAttr::S(b.clone()))).unwrap();
        prop_assert_eq!(ka.cmp(&kb), a.as_bytes().cmp(b.as_bytes()));
    }

    #[test]
    fn binary_sort_keys_order_by_unsigned_bytes(pk in binary_key(4), a in binary_key(8), b in binary_key(8)) {
        let ka = encode_item_key(T, &KeyAttr::B(pk.clone()), Some(&KeyAttr::B(a.clone()))).unwrap();
        let kb = encode_item_key(T, &KeyAttr::B(pk), Some(&KeyAttr::B(b.clone()))).unwrap();
        prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
    }

    #[test]
    fn number_sort_keys_order_numerically(pk in attr_of(KeyType::N), (a, b) in num_pair()) {
        let ka = encode_item_key(T, &pk, Some(&KeyAttr::N(a.number()))).unwrap();
        let kb = encode_item_key(T, &pk, Some(&KeyAttr::N(b.number()))).unwrap();
        prop_assert_eq!(ka.cmp(&kb), a.oracle().cmp(&b.oracle()));
    }

    #[test]
    fn begins_with_is_a_byte_prefix_scan(pk in string_key(4), sk in string_key(8), prefix in string_key(3)) {
        let pk = KeyAttr::S(pk);
        let key = encode_item_key(T, &pk, Some(&KeyAttr::S(sk.clone()))).unwrap();
        let mut scan = collection_prefix(T, &pk).unwrap();
        scan.extend_from_slice(prefix.as_bytes());
        prop_assert_eq!(key.starts_with(&scan), sk.starts_with(&prefix));
        // Also via a range: [scan, successor(scan)).
        let end = prefix_successor(&scan).unwrap();
        prop_assert_eq!(scan <= key && key < end, sk.starts_with(&prefix));
    }

    #[test]
    fn collections_are_contiguous_and_sorted(
        pk_type in key_type(),
        sk_type in key_type(),
        seed_items in proptest::collection::vec((0usize..5, any::<u32>()), 1..40),
        pks in proptest::collection::vec(any::<u32>(), 5),
        tables in proptest::collection::vec(6u32..9, 40),
    ) {
        // Build small pools of partition and sort keys from the seeds, deterministic per case.
        let pk_pool: Vec<KeyAttr> = pks.iter().map(|&s| small_attr(pk_type, s)).collect();
        let mut stored: BTreeMap<Vec<u8>, (u32, usize, KeyAttr)> = BTreeMap::new();
        for (i, &(p, s)) in seed_items.iter().enumerate() {
            let table = tables[i];
            let sk = small_attr(sk_type, s);
            let key = encode_item_key(TableId(table), &pk_pool[p], Some(&sk)).unwrap();
            stored.insert(key, (table, p, sk));
        }
        for table in 6u32..9 {
            let (t_start, t_end) = table_range(TableId(table));
            for (p, pk) in pk_pool.iter().enumerate() {
                let (start, end) = collection_range(TableId(table), pk).unwrap();
                prop_assert!(t_start <= start && end <= t_end);
                // The range holds exactly this collection's keys ...
                let in_range: Vec<_> = stored.range(start.clone()..end.clone()).collect();
                let expected = stored
                    .values()
                    .filter(|(t, q, _)| *t == table && pk_pool[*q] == *pk)
                    .count();
                prop_assert_eq!(in_range.len(), expected);
                for (key, (t, q, _)) in &in_range {
                    prop_assert_eq!(*t, table);
                    prop_assert_eq!(&pk_pool[*q], pk, "pool index {}", p);
                    prop_assert!(key.starts_with(&start));
                }
                // ... in sort-key order.
                for pair in in_range.windows(2) {
                    let (a, b) = (&(pair[0].1).2, &(pair[1].1).2);
                    prop_assert_eq!(same_type_cmp(a, b), std::cmp::Ordering::Less);
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_decode_canonically(
        bytes in proptest::collection::vec(any::<u8>(), 0..40),
        pk_type in key_type(),
        sk_type in proptest::option::of(key_type()),
    ) {
        if let Ok(decoded) = decode_item_key(&bytes, pk_type, sk_type) {
            let again = encode_item_key(decoded.table, &decoded.pk, decoded.sk.as_ref()).unwrap();
            prop_assert_eq!(again, bytes);
        }
    }

    #[test]
    fn damaged_keys_decode_canonically_or_fail(
        (pk_type, sk_type, pk, sk) in schema_and_key(),
        at in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let mut key = encode_item_key(T, &pk, sk.as_ref()).unwrap();
        let at = at % key.len();
        key[at] = byte;
        if let Ok(decoded) = decode_item_key(&key, pk_type, sk_type) {
            let again = encode_item_key(decoded.table, &decoded.pk, decoded.sk.as_ref()).unwrap();
            prop_assert_eq!(again, key);
        }
    }
}

/// A small key value of `key_type` derived from `seed`, so pools often share values.
fn small_attr(key_type: KeyType, seed: u32) -> KeyAttr {
    let v = seed % 23;
    match key_type {
        KeyType::S => KeyAttr::S(
            ["a", "ab", "b", "é", "A", "zz", "a€"][v as usize % 7].repeat(1 + v as usize / 7),
        ),
        KeyType::N => KeyAttr::N(
            Number::from_parts(
                seed & 0x100 != 0,
                u128::from(v),
                (seed >> 16) as i32 % 7 - 3,
            )
            .unwrap(),
        ),
        KeyType::B => KeyAttr::B(vec![(v * 11) as u8; 1 + (seed as usize >> 20) % 3]),
    }
}

/// DynamoDB's sort-key order for two values of one type.
fn same_type_cmp(a: &KeyAttr, b: &KeyAttr) -> std::cmp::Ordering {
    match (a, b) {
        (KeyAttr::S(a), KeyAttr::S(b)) => a.as_bytes().cmp(b.as_bytes()),
        (KeyAttr::N(a), KeyAttr::N(b)) => a.cmp(b),
        (KeyAttr::B(a), KeyAttr::B(b)) => a.cmp(b),
        _ => panic!("sort keys of one table share a type"),
    }
}
