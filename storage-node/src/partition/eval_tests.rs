//! Tests of the leader's write evaluation (`partition/eval.rs`): conditions against present
//! and absent items, updates creating and changing items, returned images, sizes, and
//! refusals that propose nothing.

use std::collections::BTreeMap;

use serde_json::json;
use wire::expr::RequestExpressions;
use wire::expr::codec::{encode_condition, encode_update};
use wire::forward::{EvalWrite, ItemReply, ReturnImage, WriteAction};
use wire::item::{AttributeValue, Item, decode_item, encode_item, item_size_bytes, parse_item};

use super::{Decision, EvalError, evaluate};
use crate::partition::Command;

const KEY: &[u8] = b"stored-key";

fn item(v: serde_json::Value) -> Item {
    parse_item(&v).unwrap()
}

fn values(v: serde_json::Value) -> BTreeMap<String, AttributeValue> {
    item(v)
}

fn condition(src: &str, vals: serde_json::Value) -> Vec<u8> {
    let vals = values(vals);
    let parsed = RequestExpressions {
        condition: Some(src),
        values: (!vals.is_empty()).then_some(&vals),
        ..Default::default()
    }
    .parse()
    .unwrap();
    encode_condition(&parsed.condition.unwrap())
}

fn update(src: &str, vals: serde_json::Value) -> Vec<u8> {
    let vals = values(vals);
    let parsed = RequestExpressions {
        update: Some(src),
        values: (!vals.is_empty()).then_some(&vals),
        ..Default::default()
    }
    .parse()
    .unwrap();
    encode_update(&parsed.update.unwrap())
}

fn put(new: &Item, cond: Option<Vec<u8>>, returns: ReturnImage) -> EvalWrite {
    EvalWrite {
        action: WriteAction::Put {
            item: encode_item(new),
            size_bytes: item_size_bytes(new) as u32,
        },
        condition: cond,
        returns,
        old_on_failure: true,
    }
}

#[test]
fn a_condition_guards_a_put_atomically_with_its_old_image() {
    let old = item(json!({"k": {"S": "a"}, "n": {"N": "1"}}));
    let new = item(json!({"k": {"S": "a"}, "n": {"N": "2"}}));
    let old_bytes = encode_item(&old);
    let c = condition("n = :one", json!({":one": {"N": "1"}}));
    let d = evaluate(
        KEY,
        &put(&new, Some(c.clone()), ReturnImage::AllOld),
        Some(&old_bytes),
    )
    .unwrap();
    assert_eq!(
        d,
        Decision::Propose {
            command: Command::Put {
                key: KEY.to_vec(),
                value: encode_item(&new)
            },
            reply: ItemReply::Written {
                image: Some(old_bytes.clone()),
                old_bytes: item_size_bytes(&old) as u32,
                new_bytes: item_size_bytes(&new) as u32,
            }
        }
    );
    // The same condition on the new item fails: nothing proposed, the item returned.
    let new_bytes = encode_item(&new);
    let d = evaluate(
        KEY,
        &put(&new, Some(c.clone()), ReturnImage::None),
        Some(&new_bytes),
    )
    .unwrap();
    assert_eq!(
        d,
        Decision::Reply(ItemReply::ConditionFailed {
            old: Some(new_bytes.clone()),
            old_bytes: item_size_bytes(&new) as u32,
        })
    );
    // Without ReturnValuesOnConditionCheckFailure the item stays at the leader.
    let mut w = put(&new, Some(c.clone()), ReturnImage::None);
    w.old_on_failure = false;
    assert!(matches!(
        evaluate(KEY, &w, Some(&new_bytes)).unwrap(),
        Decision::Reply(ItemReply::ConditionFailed { old: None, .. })
    ));
    // On no item: attribute_not_exists holds, an equality does not.
    let absent = condition("attribute_not_exists(k)", json!({}));
    assert!(matches!(
        evaluate(
            KEY,
            &put(&new, Some(absent.clone()), ReturnImage::None),
            None
        )
        .unwrap(),
        Decision::Propose {
            reply: ItemReply::Written { old_bytes: 0, .. },
            ..
        }
    ));
    assert!(matches!(
        evaluate(
            KEY,
            &put(&new, Some(absent), ReturnImage::None),
            Some(&old_bytes)
        )
        .unwrap(),
        Decision::Reply(ItemReply::ConditionFailed { .. })
    ));
    assert!(matches!(
        evaluate(KEY, &put(&new, Some(c), ReturnImage::None), None).unwrap(),
        Decision::Reply(ItemReply::ConditionFailed {
            old: None,
            old_bytes: 0
        })
    ));
}

#[test]
fn updates_create_change_and_return_what_was_asked() {
    let key_item = item(json!({"k": {"S": "a"}}));
    let up = update(
        "SET n = if_not_exists(n, :zero) + :one, s = :s",
        json!({":zero": {"N": "0"}, ":one": {"N": "1"}, ":s": {"S": "x"}}),
    );
    let w = |returns| EvalWrite {
        action: WriteAction::Update {
            update: up.clone(),
            key_item: encode_item(&key_item),
        },
        condition: None,
        returns,
        old_on_failure: false,
    };
    // No item: the update starts from the key.
    let created = item(json!({"k": {"S": "a"}, "n": {"N": "1"}, "s": {"S": "x"}}));
    let Decision::Propose { command, reply } =
        evaluate(KEY, &w(ReturnImage::AllNew), None).unwrap()
    else {
        panic!("not proposed")
    };
    assert_eq!(
        command,
        Command::Put {
            key: KEY.to_vec(),
            value: encode_item(&created)
        }
    );
    assert_eq!(
        reply,
        ItemReply::Written {
            image: Some(encode_item(&created)),
            old_bytes: 0,
            new_bytes: item_size_bytes(&created) as u32,
        }
    );
    // UPDATED_OLD of a new item is nothing; UPDATED_NEW is the updated attributes only.
    assert!(matches!(
        evaluate(KEY, &w(ReturnImage::UpdatedOld), None).unwrap(),
        Decision::Propose {
            reply: ItemReply::Written { image: None, .. },
            ..
        }
    ));
    let old = encode_item(&item(
        json!({"k": {"S": "a"}, "n": {"N": "41"}, "o": {"S": "keep"}}),
    ));
    let image = |r| match evaluate(KEY, &w(r), Some(&old)).unwrap() {
        Decision::Propose {
            reply: ItemReply::Written { image, .. },
            ..
        } => image.map(|b| decode_item(&b).unwrap()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        image(ReturnImage::UpdatedNew),
        Some(item(json!({"n": {"N": "42"}, "s": {"S": "x"}})))
    );
    assert_eq!(
        image(ReturnImage::UpdatedOld),
        Some(item(json!({"n": {"N": "41"}})))
    );
    assert_eq!(image(ReturnImage::None), None);
}

#[test]
fn an_update_that_cannot_apply_proposes_nothing() {
    let w = EvalWrite {
        action: WriteAction::Update {
            update: update("SET n = m + :one", json!({":one": {"N": "1"}})),
            key_item: encode_item(&item(json!({"k": {"S": "a"}}))),
        },
        condition: None,
        returns: ReturnImage::None,
        old_on_failure: false,
    };
    match evaluate(KEY, &w, None).unwrap() {
        Decision::Reply(ItemReply::Invalid(m)) => {
            assert!(m.contains("attribute that does not exist"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    // Growing an item past 400 KB.
    let big = "x".repeat(300 * 1024);
    let w = EvalWrite {
        action: WriteAction::Update {
            update: update("SET b = :b", json!({":b": {"S": big}})),
            key_item: encode_item(&item(json!({"k": {"S": "a"}}))),
        },
        condition: None,
        returns: ReturnImage::None,
        old_on_failure: false,
    };
    let old = encode_item(&item(json!({"k": {"S": "a"}, "a": {"S": big}})));
    assert_eq!(
        evaluate(KEY, &w, Some(&old)).unwrap(),
        Decision::Reply(ItemReply::Invalid(
            "Item size to update has exceeded the maximum allowed size".to_owned()
        ))
    );
    // Corrupt inputs are errors, not guesses.
    assert!(matches!(
        evaluate(KEY, &w, Some(b"garbage")),
        Err(EvalError::StoredItem(_))
    ));
    let mut bad = w.clone();
    bad.condition = Some(vec![9, 9, 9]);
    assert!(matches!(evaluate(KEY, &bad, None), Err(EvalError::Blob(_))));
}

#[test]
fn a_delete_reports_the_old_size_and_image() {
    let old = item(json!({"k": {"S": "a"}, "v": {"S": "hello"}}));
    let w = EvalWrite {
        action: WriteAction::Delete,
        condition: None,
        returns: ReturnImage::AllOld,
        old_on_failure: false,
    };
    assert_eq!(
        evaluate(KEY, &w, Some(&encode_item(&old))).unwrap(),
        Decision::Propose {
            command: Command::Delete { key: KEY.to_vec() },
            reply: ItemReply::Written {
                image: Some(encode_item(&old)),
                old_bytes: item_size_bytes(&old) as u32,
                new_bytes: 0,
            }
        }
    );
}
