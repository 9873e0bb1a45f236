//! KeyConditionExpression against a key schema (Developer Guide `Query.KeyConditionExpressions`).

use super::helpers::*;
use crate::expr::{ExprError, KeyCondition, RequestExpressions, SortKeyCondition, key_condition};
use crate::ids::TableId;
use crate::item::{AttributeValue, KeySchema};
use crate::key::KeyType;

fn schema() -> KeySchema {
    KeySchema {
        table: TableId(1),
        hash: ("pk".to_owned(), KeyType::S),
        range: Some(("sk".to_owned(), KeyType::N)),
    }
}

fn kc(src: &str) -> Result<KeyCondition, ExprError> {
    let v = values(r#"{":p": {"S": "p"}, ":n": {"N": "1"}, ":m": {"N": "2"}, ":s": {"S": "s"}}"#);
    let used = v
        .into_iter()
        .filter(|(k, _)| src.contains(k.as_str()))
        .collect();
    let parsed = RequestExpressions {
        key_condition: Some(src),
        values: Some(&used),
        ..Default::default()
    }
    .parse()?;
    key_condition(&parsed.key_condition.unwrap(), &schema())
}

#[test]
fn valid_key_conditions() {
    let p = AttributeValue::S("p".into());
    assert_eq!(
        kc("pk = :p").unwrap(),
        KeyCondition {
            hash: p.clone(),
            sort: None
        }
    );
    let k = kc("sk BETWEEN :n AND :m AND pk = :p").unwrap();
    assert_eq!(k.hash, p);
    assert!(matches!(k.sort, Some(SortKeyCondition::Between(..))));
    assert!(matches!(
        kc(":n < sk AND pk = :p").unwrap().sort,
        Some(SortKeyCondition::Gt(_))
    ));
}

#[test]
fn invalid_key_conditions() {
    assert_eq!(
        kc("pk = :p OR sk = :n").unwrap_err().to_string(),
        "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"
    );
    assert_eq!(
        kc("sk = :n").unwrap_err().to_string(),
        "Query condition missed key schema element: pk"
    );
    assert_eq!(
        kc("pk = :p AND pk = :p").unwrap_err(),
        ExprError::KeyConditionDuplicate
    );
    assert_eq!(
        kc("pk = :p AND extra = :n").unwrap_err(),
        ExprError::KeyConditionNotSupported
    );
    assert_eq!(
        kc("pk > :p").unwrap_err(),
        ExprError::KeyConditionNotSupported
    );
    assert_eq!(kc("pk = :n").unwrap_err(), ExprError::KeyConditionType);
    assert_eq!(
        kc("pk = :p AND begins_with(sk, :s)").unwrap_err(),
        ExprError::KeyConditionType
    );
}
