//! Seeded randomized robustness: random token soups, mutated valid expressions and random
//! placeholder maps never panic, every phase (parse, evaluate, update, projection, key
//! condition) runs, and each input takes bounded time. Replay with `CAIRN_SEED=<n>`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::helpers::item;
use crate::expr::{RequestExpressions, evaluate, key_condition};
use crate::ids::TableId;
use crate::item::{AttributeValue, Item, KeySchema};
use crate::key::KeyType;
use crate::number::Number;
use crate::test_rng::{Rng, for_each_seed};

const PIECES: &[&str] = &[
    "a",
    "b",
    "c",
    "pk",
    "sk",
    "l",
    "m",
    "#n",
    "#m",
    ":v",
    ":w",
    ":s",
    ":l",
    ":ss",
    " ",
    "(",
    ")",
    "((",
    "))",
    ",",
    ".",
    "[",
    "]",
    "[0]",
    "[1]",
    "[99]",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "size",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "list_append",
    "if_not_exists",
    "Status",
    "!",
    "é",
    "0",
    "12",
    "_",
    "#",
    ":",
];

const VALID: &[&str] = &[
    "a = :v AND (b < :w OR NOT attribute_exists(c))",
    "size(l) > :v AND contains(m.x, :s)",
    "a BETWEEN :v AND :w",
    "a IN (:v, :w, b)",
    "SET a = a + :v, l = list_append(l, :l) REMOVE b ADD c :v DELETE d :ss",
    "SET l[3] = if_not_exists(#n, :v), m.#m = :s",
    "pk = :s AND sk >= :v",
    "a, b.c, l[0], #n",
];

fn soup(rng: &mut Rng) -> String {
    let n = rng.below(30);
    (0..n)
        .map(|_| *rng.pick(PIECES))
        .collect::<Vec<_>>()
        .join(if rng.chance(1, 2) { " " } else { "" })
}

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(chars.len() as u64 + 1) as usize;
        match rng.below(3) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 => {
                let piece = rng.pick(PIECES);
                for (k, c) in piece.chars().enumerate() {
                    chars.insert(at + k, c);
                }
            }
            _ => chars.insert(
                at,
                *rng.pick(&['(', ')', ',', ' ', '.', ':', '#', '[', '0', '=']),
            ),
        }
    }
    chars.into_iter().collect()
}

fn random_value(rng: &mut Rng, depth: u32) -> AttributeValue {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => AttributeValue::S(["", "a", "ab", "x"][rng.below(4) as usize].to_owned()),
        1 => AttributeValue::N(
            Number::from_parts(
                rng.chance(1, 2),
                u128::from(rng.below(100)),
                rng.below(5) as i32 - 2,
            )
            .unwrap_or(Number::ZERO),
        ),
        2 => AttributeValue::Ss(vec!["a".to_owned(), "x".to_owned()]),
        3 => AttributeValue::Bool(rng.chance(1, 2)),
        4 => AttributeValue::Null,
        5 => AttributeValue::B(vec![1, 2]),
        6 => AttributeValue::L(
            (0..rng.below(3))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => AttributeValue::M(
            ["x", "y"]
                .iter()
                .map(|k| (k.to_string(), random_value(rng, depth + 1)))
                .collect(),
        ),
    }
}

fn random_item(rng: &mut Rng) -> Item {
    let mut it = Item::new();
    for name in ["a", "b", "c", "l", "m", "x", "Status"] {
        if rng.chance(2, 3) {
            it.insert(name.to_owned(), random_value(rng, 0));
        }
    }
    it
}

#[test]
fn random_expressions_never_panic_and_take_bounded_time() {
    let schema = KeySchema {
        table: TableId(1),
        hash: ("pk".to_owned(), KeyType::S),
        range: Some(("sk".to_owned(), KeyType::N)),
    };
    let mut slowest = Duration::ZERO;
    let mut accepted = 0u32;
    for_each_seed(
        "random_expressions_never_panic_and_take_bounded_time",
        8,
        |seed| {
            let mut rng = Rng::new(seed);
            for _ in 0..1500 {
                let src = match rng.below(3) {
                    0 => soup(&mut rng),
                    _ => {
                        let base = rng_pick_valid(&mut rng);
                        mutate(&mut rng, base)
                    }
                };
                let names: BTreeMap<String, String> = [("#n", "x"), ("#m", "y")]
                    .iter()
                    .filter(|_| rng.chance(3, 4))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let mut values: BTreeMap<String, AttributeValue> = BTreeMap::new();
                for k in [":v", ":w", ":s", ":l", ":ss"] {
                    if rng.chance(3, 4) {
                        values.insert(k.to_string(), random_value(&mut rng, 0));
                    }
                }
                let slot = rng.below(4);
                let req = RequestExpressions {
                    condition: (slot == 0).then_some(src.as_str()),
                    update: (slot == 1).then_some(src.as_str()),
                    key_condition: (slot == 2).then_some(src.as_str()),
                    projection: (slot == 3).then_some(src.as_str()),
                    names: (!names.is_empty()).then_some(&names),
                    values: (!values.is_empty()).then_some(&values),
                    ..Default::default()
                };
                let started = Instant::now();
                let parsed = req.parse();
                let it = random_item(&mut rng);
                if let Ok(p) = parsed {
                    accepted += 1;
                    if let Some(c) = &p.condition {
                        evaluate(c, Some(&it));
                        evaluate(c, None);
                    }
                    if let Some(u) = &p.update {
                        let _ = u.apply(&it);
                        let _ = u.check_key_attributes(&["pk"]);
                    }
                    if let Some(k) = &p.key_condition {
                        let _ = key_condition(k, &schema);
                    }
                    if let Some(pr) = &p.projection {
                        pr.apply(&it);
                    }
                }
                slowest = slowest.max(started.elapsed());
            }
        },
    );
    // Some mutated inputs stay valid, so every phase ran.
    assert!(accepted > 0);
    assert!(
        slowest < Duration::from_millis(250),
        "slowest input took {slowest:?}"
    );
}

fn rng_pick_valid(rng: &mut Rng) -> &'static str {
    VALID[rng.below(VALID.len() as u64) as usize]
}

#[test]
fn worst_case_inputs_stay_fast() {
    let v = item(r#"{":v": {"N": "1"}}"#);
    let cases = [
        format!("{}a = :v{}", "(".repeat(63), ")".repeat(63)),
        format!("{}a{} = :v", "(".repeat(63), ")".repeat(63)),
        vec!["a = :v"; 300].join(" AND "),
        format!("{}a = :v", "NOT ".repeat(63)),
        "(".repeat(4000),
    ];
    for src in cases {
        let started = Instant::now();
        let _ = RequestExpressions {
            condition: Some(&src),
            values: Some(&v),
            ..Default::default()
        }
        .parse();
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "{src:.40}… took {:?}",
            started.elapsed()
        );
    }
}
