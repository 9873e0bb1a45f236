//! The one error type of the expression engine. `Display` is the message DynamoDB puts in the
//! `ValidationException` it returns for that case, so the API layer can pass it through.
//!
//! Sources of the texts: dynalite's PEG grammars (`db/conditionParser.pegjs`,
//! `db/updateParser.pegjs`, `db/projectionParser.pegjs`, which copy live DynamoDB messages),
//! messages recorded from the real service in public emulator test suites, and
//! `dynamodb-facts.md` §2.10. Texts marked *(ours)* are cases where no recorded DynamoDB text
//! was found; they keep DynamoDB's `Invalid <Kind>: <what>; <detail>` shape.

use std::fmt;

use crate::number::NumberError;

/// Which request parameter an expression came from; it prefixes most messages
/// (`Invalid ConditionExpression: …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExprKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl fmt::Display for ExprKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        })
    }
}

/// What is wrong inside one expression (shown after `Invalid <Kind>: `).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("The expression can not be empty;")]
    Empty,
    /// `token` is the offending token's text (`<EOF>` at the end); `near` is the source text
    /// from the token before it to the token after it, as DynamoDB shows it.
    #[error("Syntax error; token: \"{token}\", near: \"{near}\"")]
    Syntax { token: String, near: String },
    /// *(ours)*: longer than [`super::EXPRESSION_BYTES_MAX`].
    #[error("Expression size has exceeded the maximum allowed size; expression size: {size}")]
    TooLong { size: usize },
    /// *(ours)*: parentheses or `NOT` nested deeper than [`super::NESTING_MAX`].
    #[error("The expression has too many nested levels; nesting levels: {levels}")]
    TooDeep { levels: usize },
    /// *(ours)*: a `#name` or `:value` token longer than [`super::PLACEHOLDER_BYTES_MAX`].
    #[error("Expression attribute name or value placeholder is too long; placeholder: {token}")]
    PlaceholderTooLong { token: String },
    #[error("The expression has redundant parentheses;")]
    RedundantParentheses,
    #[error("Invalid function name; function: {0}")]
    UnknownFunction(String),
    /// An update function in a condition, or a condition function in an update.
    #[error("The function is not allowed in {context} expression; function: {function}")]
    FunctionNotAllowed {
        function: String,
        context: &'static str,
    },
    #[error("The function is not allowed to be used this way in an expression; function: {0}")]
    MisusedFunction(String),
    #[error("Attribute name is a reserved keyword; reserved keyword: {0}")]
    Reserved(String),
    #[error(
        "An expression attribute name used in the document path is not defined; attribute name: {0}"
    )]
    UndefinedName(String),
    #[error(
        "An expression attribute value used in expression is not defined; attribute value: {0}"
    )]
    UndefinedValue(String),
    #[error(
        "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"
    )]
    OperandCount { function: String, count: usize },
    #[error(
        "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {path}"
    )]
    NotDistinct { operator: String, path: String },
    #[error("Operator or function requires a document path; operator or function: {0}")]
    RequiresPath(String),
    #[error(
        "Incorrect operand type for operator or function; operator or function: {function}, operand type: {operand_type}"
    )]
    OperandType {
        function: String,
        operand_type: String,
    },
    /// ADD / DELETE with a value of the wrong type (`STRING`, `NUMBER`, `LIST`…).
    #[error(
        "Incorrect operand type for operator or function; operator: {operator}, operand type: {operand_type}"
    )]
    ActionOperandType {
        operator: &'static str,
        operand_type: &'static str,
    },
    #[error(
        "Invalid attribute type name found; type: {0}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
    )]
    TypeName(String),
    #[error(
        "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {lower}, upper bound operand: AttributeValue: {upper}"
    )]
    BetweenTypes { lower: String, upper: String },
    #[error(
        "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {lower}, upper bound operand: AttributeValue: {upper}"
    )]
    BetweenOrder { lower: String, upper: String },
    #[error("The \"{0}\" section can only be used once in an update expression;")]
    DuplicateSection(&'static str),
    #[error(
        "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"
    )]
    PathOverlap { one: String, two: String },
    #[error(
        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"
    )]
    PathConflict { one: String, two: String },
    #[error("The IN operator is provided with too many operands; number of operands: {0}")]
    TooManyInOperands(usize),
    /// *(ours)*: more than [`super::OPERATORS_MAX`] operators and functions.
    #[error("The expression contains too many operators; operator count: {0}")]
    TooManyOperators(usize),
    #[error("The document path has too many nesting levels; nesting levels: {0}")]
    PathTooDeep(usize),
    /// A list index that does not fit in 32 bits.
    #[error("List index is not within the allowable range; index: {0}")]
    IndexRange(String),
    #[error("Invalid operator used in KeyConditionExpression: {0}")]
    KeyOperator(String),
}

/// Every way an expression, its placeholders, or applying it can fail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("Invalid {kind}: {reason}")]
    Invalid { kind: ExprKind, reason: Invalid },
    #[error("Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}", .0.join(", "))]
    UnusedNames(Vec<String>),
    #[error("Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}", .0.join(", "))]
    UnusedValues(Vec<String>),
    #[error("ExpressionAttributeNames must not be empty")]
    NamesEmpty,
    #[error("ExpressionAttributeValues must not be empty")]
    ValuesEmpty,
    #[error("ExpressionAttributeNames can only be specified when using expressions")]
    NamesWithoutExpressions,
    #[error("ExpressionAttributeValues can only be specified when using expressions")]
    ValuesWithoutExpressions,
    #[error("ExpressionAttributeNames contains invalid key: Syntax error; key: \"{0}\"")]
    InvalidNameKey(String),
    #[error("ExpressionAttributeNames contains invalid value: Empty attribute name for key {0}")]
    EmptyName(String),
    #[error("ExpressionAttributeValues contains invalid key: Syntax error; key: \"{0}\"")]
    InvalidValueKey(String),
    /// Query: the partition key has no condition.
    #[error("Query condition missed key schema element: {0}")]
    KeyConditionMissing(String),
    #[error("Query key condition not supported")]
    KeyConditionNotSupported,
    #[error("KeyConditionExpressions must only contain one condition per key")]
    KeyConditionDuplicate,
    #[error("Conditions can be of length 1 or 2 only")]
    KeyConditionCount,
    #[error(
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    )]
    KeyConditionType,
    #[error("The provided expression refers to an attribute that does not exist in the item")]
    MissingAttribute,
    #[error("An operand in the update expression has an incorrect data type")]
    IncorrectDataType,
    #[error("The document path provided in the update expression is invalid for update")]
    InvalidUpdatePath,
    /// Legacy `AttributeUpdates` ADD / DELETE on an attribute of another type.
    #[error("Type mismatch for attribute to update")]
    UpdateTypeMismatch,
    #[error(
        "One or more parameter values were invalid: Cannot update attribute {0}. This attribute is part of the key"
    )]
    KeyAttributeUpdate(String),
    #[error(
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
    )]
    NestingTooDeep,
    /// Arithmetic whose result DynamoDB cannot store.
    #[error(transparent)]
    Number(#[from] NumberError),
    /// A legacy (pre-expression) parameter is invalid (`expr/legacy/`).
    #[error(transparent)]
    Legacy(#[from] super::legacy::LegacyError),
}

impl ExprError {
    /// True for the one kind DynamoDB answers with a `SerializationException` (a legacy
    /// parameter whose JSON has the wrong shape); every other error is a `ValidationException`.
    pub fn is_serialization(&self) -> bool {
        matches!(self, ExprError::Legacy(e) if e.is_serialization())
    }

    pub(crate) fn invalid(kind: ExprKind, reason: Invalid) -> ExprError {
        ExprError::Invalid { kind, reason }
    }
}
