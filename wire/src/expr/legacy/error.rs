//! The errors of the legacy (pre-expression) parameters. Each `Display` is the message DynamoDB
//! returns; [`LegacyError::is_serialization`] tells the one kind that DynamoDB answers with a
//! `SerializationException` (a JSON value of the wrong shape) from the `ValidationException`s.
//!
//! Sources of the texts: dynalite's `validations/*.js` and their tests (recorded from the live
//! service), the DAX client's request validator (Amazon's own client-side copy of DynamoDB's
//! checks, `RequestValidator.js`), and the framework-style constraint messages
//! (`1 validation error detected: Value 'x' at 'field' failed to satisfy constraint: …`). The
//! variants marked *(ours)* had no recorded text.

use crate::item::ItemError;

/// Why a legacy parameter is unacceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LegacyError {
    /// A JSON value of the wrong shape (`Serialization`), or an attribute value breaking the
    /// item rules (`Validation`), with `crate::item`'s messages.
    #[error("{0}")]
    Item(ItemError),
    /// A framework constraint (enum, not-null, list length) on one field. `value` is shown as
    /// DynamoDB shows it: `'text'` in quotes, or `null`.
    #[error(
        "1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: {constraint}"
    )]
    Constraint {
        value: String,
        field: String,
        constraint: String,
    },
    #[error(
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
        .non_expression.join(", "),
        .expression.join(", ")
    )]
    Mixed {
        non_expression: Vec<&'static str>,
        expression: Vec<&'static str>,
    },
    /// ExpressionAttributeValues without any expression that takes values.
    #[error(
        "ExpressionAttributeValues can only be specified when using expressions: {} {} null",
        .0.join(" and "),
        is_are(.0)
    )]
    ValuesWithoutExpressions(Vec<&'static str>),
    #[error("ConditionalOperator cannot be used without Filter or Expected")]
    ConditionalOperatorAlone,
    #[error(
        "ConditionalOperator can only be used when Filter or Expected has two or more elements"
    )]
    ConditionalOperatorSingle,
    #[error(
        "One or more parameter values were invalid: Value and AttributeValueList cannot be used together for Attribute: {0}"
    )]
    ValueAndList(String),
    #[error(
        "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: {0}"
    )]
    ExistsAndOperator(String),
    #[error(
        "One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: {operator} for Attribute: {attribute}"
    )]
    ValueOrListRequired {
        operator: &'static str,
        attribute: String,
    },
    #[error(
        "One or more parameter values were invalid: AttributeValueList can only be used with a ComparisonOperator for Attribute: {0}"
    )]
    ListWithoutOperator(String),
    /// `exists` is `"true"` or `"null"` (Exists absent), as DynamoDB prints it.
    #[error(
        "One or more parameter values were invalid: Value must be provided when Exists is {exists} for Attribute: {attribute}"
    )]
    ValueRequired {
        exists: &'static str,
        attribute: String,
    },
    #[error(
        "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: {0}"
    )]
    ValueWithExistsFalse(String),
    #[error(
        "One or more parameter values were invalid: Invalid number of argument(s) for the {0} ComparisonOperator"
    )]
    ArgumentCount(&'static str),
    #[error(
        "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type"
    )]
    MixedTypes,
    #[error(
        "One or more parameter values were invalid: ComparisonOperator {operator} is not valid for {value_type} AttributeValue type"
    )]
    OperatorType {
        operator: &'static str,
        value_type: &'static str,
    },
    #[error(
        "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
    )]
    BetweenOrder,
    #[error("One or more parameter values were invalid: Duplicate value in attribute name: {0}")]
    DuplicateAttributeName(String),
    #[error(
        "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
    )]
    OnlyDeleteWithoutValue,
    #[error(
        "One or more parameter values were invalid: DELETE action with value is not supported for the type {0}"
    )]
    DeleteType(&'static str),
    #[error(
        "One or more parameter values were invalid: ADD action is not supported for the type {0}"
    )]
    AddType(&'static str),
    #[error(
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
    )]
    KeyConditionsRequired,
    /// KeyConditions: NULL, NOT_NULL, NE, CONTAINS, NOT_CONTAINS or IN on a key attribute.
    #[error("Attempted conditional constraint is not an indexable operation")]
    NotIndexable,
}

fn is_are(list: &[&str]) -> &'static str {
    if list.len() > 1 { "are" } else { "is" }
}

impl LegacyError {
    /// True for the errors DynamoDB reports as `SerializationException`.
    pub fn is_serialization(&self) -> bool {
        matches!(self, LegacyError::Item(ItemError::Serialization(_)))
    }

    /// A framework enum constraint on `field`.
    pub(crate) fn enum_value(value: &str, field: String, allowed: &str) -> LegacyError {
        LegacyError::Constraint {
            value: format!("'{value}'"),
            field,
            constraint: format!("Member must satisfy enum value set: {allowed}"),
        }
    }
}

impl From<ItemError> for LegacyError {
    fn from(e: ItemError) -> LegacyError {
        LegacyError::Item(e)
    }
}
