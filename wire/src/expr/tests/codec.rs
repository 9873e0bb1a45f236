//! The binary form of parsed conditions and updates (`expr/codec.rs`): round trips of real
//! parsed expressions, and corrupt blobs are typed errors, never panics.

use super::helpers::*;
use crate::expr::codec::{decode_condition, decode_update, encode_condition, encode_update};
use crate::expr::{Condition, RequestExpressions, UpdateExpr};
use crate::test_rng::{Rng, for_each_seed};

const VALUES: &str = r##"{":a": {"N": "1.5"}, ":b": {"S": "x"}, ":c": {"SS": ["p", "q"]},
    ":d": {"L": [{"M": {"z": {"NULL": true}}}, {"B": "AAE="}]}, ":e": {"BOOL": false},
    ":t": {"S": "NS"}, ":l": {"L": [{"N": "2"}]}}"##;

fn conditions() -> Vec<Condition> {
    let srcs = [
        "a = :a",
        "a <> :b AND (b < :a OR NOT c >= :a)",
        "a.b[3].c BETWEEN :a AND :a",
        "a IN (:a, :b, :c, :d, :e)",
        "attribute_exists(x.y) AND attribute_not_exists(z[0])",
        "attribute_type(n, :t) OR begins_with(s, :b) OR contains(ss, :b)",
        "size(a.b) > :a AND size(l) <= :a",
        "m = :d AND e = :e",
    ];
    srcs.iter()
        .map(|s| {
            let v = used_values(s, VALUES);
            cond(s, None, (!v.is_empty()).then_some(&v))
                .unwrap_or_else(|e| panic!("{s}: {e}"))
                .condition
                .unwrap()
        })
        .collect()
}

fn updates() -> Vec<UpdateExpr> {
    let srcs = [
        "SET a = :a, b = b + :a, c = :a - c",
        "SET l = list_append(if_not_exists(l, :l), :l), m.n[2] = :d REMOVE x, y[1] ADD s :c, n :a DELETE t :c",
        "REMOVE q",
    ];
    srcs.iter()
        .map(|s| {
            let v = used_values(s, VALUES);
            RequestExpressions {
                update: Some(s),
                values: if v.is_empty() { None } else { Some(&v) },
                ..Default::default()
            }
            .parse()
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .update
            .unwrap()
        })
        .collect()
}

#[test]
fn parsed_expressions_round_trip() {
    for c in conditions() {
        let blob = encode_condition(&c);
        assert_eq!(decode_condition(&blob).unwrap(), c);
        assert!(decode_update(&blob).is_err(), "a condition is no update");
    }
    // The legacy AttributeUpdates actions travel in the same form.
    let legacy = crate::expr::legacy::parse_attribute_updates(Some(&serde_json::json!({
        "n": {"Action": "ADD", "Value": {"N": "1"}},
        "s": {"Action": "DELETE", "Value": {"SS": ["a"]}},
        "p": {"Action": "PUT", "Value": {"S": "v"}},
        "r": {"Action": "DELETE"}
    })))
    .unwrap()
    .unwrap();
    for u in updates().into_iter().chain([legacy]) {
        let blob = encode_update(&u);
        assert_eq!(decode_update(&blob).unwrap(), u);
        assert!(decode_condition(&blob).is_err());
    }
}

/// Every truncation is an error; random byte flips decode to an error or to some tree, never
/// a panic; trailing bytes are refused.
#[test]
fn corrupt_blobs_are_errors_not_panics() {
    let blobs: Vec<Vec<u8>> = conditions()
        .iter()
        .map(encode_condition)
        .chain(updates().iter().map(encode_update))
        .collect();
    for b in &blobs {
        for n in 0..b.len() {
            assert!(
                decode_condition(&b[..n]).is_err() && decode_update(&b[..n]).is_err(),
                "truncated to {n}"
            );
        }
        let mut long = b.clone();
        long.push(0);
        assert!(decode_condition(&long).is_err() && decode_update(&long).is_err());
    }
    for_each_seed("corrupt_blobs_are_errors_not_panics", 20, |seed| {
        let mut rng = Rng::new(seed);
        for _ in 0..500 {
            let mut b = rng.pick(&blobs).clone();
            for _ in 0..=rng.below(4) {
                let i = rng.below(b.len() as u64) as usize;
                b[i] = rng.next_u64() as u8;
            }
            let _ = decode_condition(&b);
            let _ = decode_update(&b);
        }
        // Pure garbage, and a deep chain of NOTs past the depth bound.
        let garbage: Vec<u8> = (0..rng.below(200)).map(|_| rng.next_u64() as u8).collect();
        let _ = decode_condition(&garbage);
    });
    let table = crate::item::encode_item(&Default::default());
    let mut blob = vec![1u8, 1, table.len() as u8];
    blob.extend_from_slice(&table);
    blob.extend(std::iter::repeat_n(9u8, 100_000));
    assert!(decode_condition(&blob).is_err());
}
