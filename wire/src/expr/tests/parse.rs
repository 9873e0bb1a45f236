//! Syntax and validation messages. Expected texts come from live DynamoDB as recorded by
//! dynalite's grammars (`db/*Parser.pegjs`) and by emulator test suites that captured real
//! responses (e.g. `Syntax error; token: "b", near: "a b"`).

use super::helpers::*;
use crate::expr::{Condition, ExprError, RequestExpressions};

fn proj_err(src: &str) -> String {
    RequestExpressions {
        projection: Some(src),
        ..Default::default()
    }
    .parse()
    .unwrap_err()
    .to_string()
}

#[test]
fn syntax_errors_name_the_token_and_its_neighbours() {
    // Captured from DynamoDB: token plus previous and next token.
    assert_eq!(
        proj_err("!!!"),
        "Invalid ProjectionExpression: Syntax error; token: \"!\", near: \"!!\""
    );
    assert_eq!(
        proj_err("a b"),
        "Invalid ProjectionExpression: Syntax error; token: \"b\", near: \"a b\""
    );
    assert_eq!(
        proj_err("a,"),
        "Invalid ProjectionExpression: Syntax error; token: \"<EOF>\", near: \",\""
    );
    assert_eq!(
        proj_err("l[a]"),
        "Invalid ProjectionExpression: Syntax error; token: \"a\", near: \"[a]\""
    );
    assert_eq!(
        cond_err("attribute_type()", ""),
        "Invalid ConditionExpression: Syntax error; token: \")\", near: \"()\""
    );
    assert_eq!(
        update_err("SET", ""),
        "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\""
    );
}

#[test]
fn empty_expressions_are_errors() {
    assert_eq!(
        proj_err(""),
        "Invalid ProjectionExpression: The expression can not be empty;"
    );
    assert_eq!(
        proj_err("  \n"),
        "Invalid ProjectionExpression: The expression can not be empty;"
    );
}

#[test]
fn grammar_rejects_what_dynamodb_rejects() {
    let v = r#"{":v": {"N": "1"}, ":w": {"N": "2"}}"#;
    for bad in [
        "a = :v = :w", // comparisons do not chain
        "a[01] = :v",  // INDEX is 0 or [1-9][0-9]*
        "a. = :v",
        "_a = :v", // names start with a letter
        "a = 5",   // no literals
        "a IN ()",
        "a BETWEEN :v",
        "NOT",
        "a = :v AND",
        "size(a)) = :v",
    ] {
        let e = cond_err(bad, v);
        assert!(e.contains("Syntax error"), "{bad}: {e}");
    }
}

#[test]
fn keywords_are_case_insensitive_and_functions_case_sensitive() {
    let v = values(r#"{":v": {"N": "1"}, ":w": {"N": "2"}}"#);
    assert!(cond("a between :v aNd :w or not b = :v", None, Some(&v)).is_ok());
    assert_eq!(
        cond_err("Size(a) = :v", r#"{":v": {"N": "1"}}"#),
        "Invalid ConditionExpression: Invalid function name; function: Size"
    );
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let v = values(r#"{":v": {"N": "1"}}"#);
    let c = cond("NOT a = :v AND b = :v OR c = :v", None, Some(&v))
        .unwrap()
        .condition
        .unwrap();
    let Condition::Or(left, _) = c else {
        panic!("OR is the root: {c:?}")
    };
    let Condition::And(not, _) = *left else {
        panic!("AND under OR")
    };
    assert!(matches!(*not, Condition::Not(_)));
}

#[test]
fn reserved_words_need_placeholders() {
    assert_eq!(
        cond_err("Status = :v", r#"{":v": {"S": "x"}}"#),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Status"
    );
    let n = names(&[("#s", "Status")]);
    let v = values(r#"{":v": {"S": "x"}}"#);
    assert!(cond("#s = :v", Some(&n), Some(&v)).is_ok());
    assert!(crate::expr::reserved::is_reserved("zone"));
    assert!(!crate::expr::reserved::is_reserved("zones"));
}

#[test]
fn reserved_word_list_is_sorted_and_complete() {
    let words = crate::expr::reserved::RESERVED_WORDS;
    assert_eq!(words.len(), 573);
    assert!(words.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn placeholders_undefined_and_unused() {
    assert_eq!(
        cond_err("#a = :v", r#"{":v": {"S": "x"}}"#),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #a"
    );
    assert_eq!(
        cond_err("a = :w", r#"{":v": {"S": "x"}}"#),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :w"
    );
    // Unused across the whole request: a value used only by the update is fine for the condition.
    let v = values(r#"{":v": {"S": "x"}, ":u": {"S": "y"}}"#);
    let n = names(&[("#a", "a"), ("#b", "b")]);
    let req = RequestExpressions {
        update: Some("SET #a = :u"),
        condition: Some("#b = :v"),
        names: Some(&n),
        values: Some(&v),
        ..Default::default()
    };
    assert!(req.parse().is_ok());
    let req = RequestExpressions {
        update: None,
        ..req
    };
    assert_eq!(
        req.parse().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}"
    );
    let req = RequestExpressions {
        condition: Some("#a = :v AND #b = :v"),
        ..req
    };
    assert_eq!(
        req.parse().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:u}"
    );
}

#[test]
fn placeholder_maps_themselves_are_checked() {
    let empty = Default::default();
    let req = RequestExpressions {
        condition: Some("a = b"),
        names: Some(&empty),
        ..Default::default()
    };
    assert_eq!(req.parse().unwrap_err(), ExprError::NamesEmpty);
    let n = names(&[("#a", "a")]);
    let req = RequestExpressions {
        names: Some(&n),
        ..Default::default()
    };
    assert_eq!(req.parse().unwrap_err(), ExprError::NamesWithoutExpressions);
    let n = names(&[("a", "a")]);
    let req = RequestExpressions {
        condition: Some("a = b"),
        names: Some(&n),
        ..Default::default()
    };
    assert_eq!(
        req.parse().unwrap_err().to_string(),
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
    );
}

#[test]
fn function_checks() {
    let v = r#"{":n": {"N": "1"}, ":s": {"S": "x"}, ":t": {"S": "XX"}}"#;
    assert_eq!(
        cond_err("begins_with(a, :n)", v),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
    assert_eq!(
        cond_err("attribute_type(a, :t)", v),
        "Invalid ConditionExpression: Invalid attribute type name found; type: XX, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
    );
    assert_eq!(
        cond_err("contains(a, a)", v),
        "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [a]"
    );
    assert_eq!(
        cond_err("contains(a)", v),
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: contains, number of operands: 1"
    );
    assert_eq!(
        cond_err("size(a)", v),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size"
    );
    assert_eq!(
        cond_err("begins_with(a, :s) = :s", v),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: begins_with"
    );
    assert_eq!(
        cond_err("attribute_exists(:s)", v),
        "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists"
    );
    assert_eq!(
        cond_err("size(:n) > :n", v),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: N"
    );
}

#[test]
fn between_bounds_are_checked_when_both_are_constants() {
    assert_eq!(
        cond_err(
            "a BETWEEN :hi AND :lo",
            r#"{":lo": {"N": "1"}, ":hi": {"N": "5"}}"#
        ),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"
    );
    assert_eq!(
        cond_err(
            "a BETWEEN :lo AND :hi",
            r#"{":lo": {"S": "a"}, ":hi": {"N": "5"}}"#
        ),
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {S:a}, upper bound operand: AttributeValue: {N:5}"
    );
}

#[test]
fn redundant_parentheses_outrank_other_errors() {
    assert_eq!(
        cond_err("((a = :v)) AND Status = :v", r#"{":v": {"N": "1"}}"#),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    let v = values(r#"{":v": {"N": "1"}}"#);
    assert!(cond("(a = :v) AND ((a) = :v OR (b = :v))", None, Some(&v)).is_ok());
}

#[test]
fn limits() {
    let list: Vec<String> = (0..101).map(|_| ":v".to_owned()).collect();
    assert_eq!(
        cond_err(
            &format!("a IN ({})", list.join(",")),
            r#"{":v": {"N": "1"}}"#
        ),
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
    let long = format!("a = :v AND b = :v{}", " ".repeat(4096));
    assert!(cond_err(&long, r#"{":v": {"N": "1"}}"#).contains("Expression size has exceeded"));
    let deep = format!("a{} = :v", ".b".repeat(33));
    assert_eq!(
        cond_err(&deep, r#"{":v": {"N": "1"}}"#),
        "Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
    let nested = format!("{}a = :v{}", "(".repeat(200), ")".repeat(200));
    assert!(cond_err(&nested, r#"{":v": {"N": "1"}}"#).contains("too many nested levels"));
}

#[test]
fn update_validation() {
    let v = r#"{":v": {"N": "1"}, ":s": {"S": "x"}, ":ss": {"SS": ["x"]}}"#;
    assert_eq!(
        update_err("SET a = :v SET b = :v", v),
        "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
    );
    assert_eq!(
        update_err("SET a = :v REMOVE a", v),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"
    );
    assert_eq!(
        update_err("SET a.b = :v REMOVE a[1]", v),
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]"
    );
    assert_eq!(
        update_err("ADD a :s", v),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"
    );
    assert_eq!(
        update_err("DELETE a :v", v),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"
    );
    assert_eq!(
        update_err("SET a = :s + :v", v),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S"
    );
    assert_eq!(
        update_err("SET a = if_not_exists(:v, :v)", v),
        "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists"
    );
    assert_eq!(
        update_err("SET a = b + c + d", v),
        "Invalid UpdateExpression: Syntax error; token: \"+\", near: \"c + d\""
    );
    assert!(update_err("SET a = size(b)", v).contains("function: size"));
    assert_eq!(
        update_err("SET a = ((b + :v))", v),
        "Invalid UpdateExpression: The expression has redundant parentheses;"
    );
}
