//! Any text as a condition, filter, key condition, update and projection expression, with a
//! fixed set of placeholders: parsing either fails with an error or yields trees that evaluate,
//! apply and project on an item without panicking.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use wire::TableId;
use wire::expr::{RequestExpressions, evaluate, key_condition};
use wire::item::{AttributeValue, Item, KeySchema, parse_item};
use wire::key::KeyType;

fn item() -> Item {
    let json = r#"{"pk": {"S": "p"}, "sk": {"N": "1"}, "a": {"N": "5"}, "s": {"S": "abc"},
        "l": {"L": [{"N": "1"}, {"M": {"x": {"SS": ["a", "b"]}}}]}, "m": {"M": {"n": {"NULL": true}}},
        "b": {"B": "AAEC"}, "ns": {"NS": ["1", "2"]}}"#;
    parse_item(&serde_json::from_str(json).unwrap()).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let names: BTreeMap<String, String> = [("#n", "a"), ("#m", "m")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let values: BTreeMap<String, AttributeValue> = [
        (":v", AttributeValue::N("3".parse().unwrap())),
        (":s", AttributeValue::S("ab".into())),
        (":l", AttributeValue::L(vec![AttributeValue::Bool(true)])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let schema = KeySchema {
        table: TableId(1),
        hash: ("pk".to_owned(), KeyType::S),
        range: Some(("sk".to_owned(), KeyType::N)),
    };
    let it = item();
    for slot in 0..5 {
        let req = RequestExpressions {
            condition: (slot == 0).then_some(src),
            filter: (slot == 1).then_some(src),
            key_condition: (slot == 2).then_some(src),
            update: (slot == 3).then_some(src),
            projection: (slot == 4).then_some(src),
            names: Some(&names),
            values: Some(&values),
        };
        let Ok(parsed) = req.parse() else {
            continue;
        };
        if let Some(c) = parsed.condition.as_ref().or(parsed.filter.as_ref()) {
            evaluate(c, Some(&it));
            evaluate(c, None);
        }
        if let Some(k) = &parsed.key_condition {
            let _ = key_condition(k, &schema);
        }
        if let Some(u) = &parsed.update {
            let _ = u.apply(&it);
        }
        if let Some(p) = &parsed.projection {
            p.apply(&it);
        }
    }
});
