//! The errors a DynamoDB client can receive, with DynamoDB's `__type` namespaces and HTTP
//! statuses (dynamodb-facts §2.1, §2.12).
//!
//! Invariant: every failure of a request becomes exactly one [`ApiError`], and
//! [`ApiError::body`] is always valid JSON (`serde_json` escapes the message), so SDKs always
//! find the error name (a hand-built string once broke boto3 for Scylla Alternator).
//! Neighbours: `server.rs` writes the response; backend errors arrive as [`ApiError`] (item
//! operations) or `wire::control::ControlError` (table operations, [`ApiError::from_control`]).

use axum::http::StatusCode;
use serde_json::json;
use wire::control::{ControlError, ControlErrorKind};
use wire::item::ItemError;

const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";
const CORAL_SERVICE: &str = "com.amazon.coral.service";
const CORAL_VALIDATE: &str = "com.amazon.coral.validate";

/// A DynamoDB error. The variant is the error name; the string, where there is one, is the
/// message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("ValidationException: {0}")]
    Validation(String),
    #[error("SerializationException: {0}")]
    Serialization(String),
    #[error("UnknownOperationException")]
    UnknownOperation,
    #[error("MissingAuthenticationTokenException")]
    MissingAuthenticationToken,
    #[error("IncompleteSignatureException: {0}")]
    IncompleteSignature(String),
    #[error("InvalidSignatureException: {0}")]
    InvalidSignature(String),
    #[error("UnrecognizedClientException")]
    UnrecognizedClient,
    #[error("ResourceNotFoundException: {0}")]
    ResourceNotFound(String),
    #[error("ResourceInUseException: {0}")]
    ResourceInUse(String),
    #[error("LimitExceededException: {0}")]
    LimitExceeded(String),
    /// The condition did not hold; the item when `ReturnValuesOnConditionCheckFailure=ALL_OLD`
    /// asked for it (DynamoDB JSON, sent as the body's `Item`).
    #[error("ConditionalCheckFailedException")]
    ConditionalCheckFailed(Option<serde_json::Map<String, serde_json::Value>>),
    #[error("ProvisionedThroughputExceededException: {0}")]
    ProvisionedThroughputExceeded(String),
    #[error("ThrottlingException")]
    Throttling,
    /// The request body exceeds the 16 MB limit (HTTP 413, as dynalite and the service do).
    #[error("request body over {limit_bytes} bytes")]
    RequestTooLarge { limit_bytes: usize },
    /// The body did not arrive within the configured time (HTTP 408).
    #[error("request body not received in time")]
    RequestTimeout,
    /// A non-POST request or a body that is not DynamoDB JSON: HTTP 404 with an XML-ish body,
    /// as the service answers.
    #[error("not a DynamoDB request")]
    NotFound,
    #[error("InternalServerError: {0}")]
    Internal(String),
    #[error("ServiceUnavailable: {0}")]
    ServiceUnavailable(String),
}

impl ApiError {
    /// The error name (after the `#`), as SDKs report it.
    pub fn name(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "ValidationException",
            ApiError::Serialization(_) => "SerializationException",
            ApiError::UnknownOperation | ApiError::NotFound => "UnknownOperationException",
            ApiError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ApiError::IncompleteSignature(_) => "IncompleteSignatureException",
            ApiError::InvalidSignature(_) => "InvalidSignatureException",
            ApiError::UnrecognizedClient => "UnrecognizedClientException",
            ApiError::ResourceNotFound(_) => "ResourceNotFoundException",
            ApiError::ResourceInUse(_) => "ResourceInUseException",
            ApiError::LimitExceeded(_) => "LimitExceededException",
            ApiError::ConditionalCheckFailed(_) => "ConditionalCheckFailedException",
            ApiError::ProvisionedThroughputExceeded(_) => "ProvisionedThroughputExceededException",
            ApiError::Throttling => "ThrottlingException",
            ApiError::RequestTooLarge { .. } => "RequestEntityTooLarge",
            ApiError::RequestTimeout => "RequestTimeoutException",
            ApiError::Internal(_) => "InternalServerError",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
        }
    }

    /// The namespace before the `#`.
    fn namespace(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => CORAL_VALIDATE,
            ApiError::Serialization(_)
            | ApiError::UnknownOperation
            | ApiError::NotFound
            | ApiError::MissingAuthenticationToken
            | ApiError::IncompleteSignature(_)
            | ApiError::InvalidSignature(_)
            | ApiError::UnrecognizedClient
            | ApiError::RequestTooLarge { .. }
            | ApiError::RequestTimeout => CORAL_SERVICE,
            _ => DYNAMODB,
        }
    }

    /// The full `__type`, e.g. `com.amazon.coral.validate#ValidationException`.
    pub fn type_string(&self) -> String {
        format!("{}#{}", self.namespace(), self.name())
    }

    /// The HTTP status DynamoDB uses.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The message, if the error carries one.
    pub fn message(&self) -> Option<String> {
        Some(match self {
            ApiError::Validation(m)
            | ApiError::Serialization(m)
            | ApiError::IncompleteSignature(m)
            | ApiError::InvalidSignature(m)
            | ApiError::ResourceNotFound(m)
            | ApiError::ResourceInUse(m)
            | ApiError::LimitExceeded(m)
            | ApiError::ProvisionedThroughputExceeded(m)
            | ApiError::Internal(m)
            | ApiError::ServiceUnavailable(m) => m.clone(),
            ApiError::MissingAuthenticationToken => {
                "Request is missing Authentication Token".into()
            }
            ApiError::UnrecognizedClient => {
                "The security token included in the request is invalid.".into()
            }
            ApiError::ConditionalCheckFailed(_) => "The conditional request failed".into(),
            ApiError::Throttling => "Rate of requests exceeds the allowed throughput.".into(),
            ApiError::RequestTooLarge { limit_bytes } => {
                format!("Request size exceeds {limit_bytes} bytes")
            }
            ApiError::RequestTimeout => "Request body not received in time".into(),
            ApiError::UnknownOperation | ApiError::NotFound => return None,
        })
    }

    /// The response body: `{"__type": "...", "message": "..."}` (JSON), or for
    /// [`ApiError::NotFound`] the service's `<UnknownOperationException/>`.
    pub fn body(&self) -> Vec<u8> {
        if matches!(self, ApiError::NotFound) {
            return b"<UnknownOperationException/>\n".to_vec();
        }
        let mut value = match self.message() {
            Some(m) => json!({"__type": self.type_string(), "message": m}),
            None => json!({"__type": self.type_string()}),
        };
        if let ApiError::ConditionalCheckFailed(Some(item)) = self {
            value["Item"] = serde_json::Value::Object(item.clone());
        }
        serde_json::to_vec(&value).expect("a JSON value serializes")
    }

    /// The DynamoDB error for a failed control-plane call.
    pub fn from_control(e: ControlError) -> ApiError {
        match e.kind {
            ControlErrorKind::Validation => ApiError::Validation(e.message),
            ControlErrorKind::ResourceInUse => ApiError::ResourceInUse(e.message),
            ControlErrorKind::ResourceNotFound => ApiError::ResourceNotFound(e.message),
            ControlErrorKind::LimitExceeded => ApiError::LimitExceeded(e.message),
            ControlErrorKind::NotLeader
            | ControlErrorKind::Unavailable
            | ControlErrorKind::UnknownNode => ApiError::ServiceUnavailable(e.message),
            ControlErrorKind::Internal => ApiError::Internal(e.message),
        }
    }
}

/// Expression and legacy-parameter errors: their text is DynamoDB's message.
impl From<wire::expr::ExprError> for ApiError {
    fn from(e: wire::expr::ExprError) -> ApiError {
        if e.is_serialization() {
            ApiError::Serialization(e.to_string())
        } else {
            ApiError::Validation(e.to_string())
        }
    }
}

impl From<ItemError> for ApiError {
    fn from(e: ItemError) -> ApiError {
        match e {
            ItemError::Serialization(m) => ApiError::Serialization(m),
            ItemError::Validation(m) => ApiError::Validation(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(e: &ApiError) -> serde_json::Value {
        serde_json::from_slice(&e.body()).unwrap()
    }

    #[test]
    fn error_shapes_match_dynamodb() {
        let v = ApiError::Validation("bad \"quoted\"\nvalue".into());
        assert_eq!(v.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            body(&v),
            json!({"__type": "com.amazon.coral.validate#ValidationException",
                   "message": "bad \"quoted\"\nvalue"})
        );
        assert_eq!(
            body(&ApiError::ResourceNotFound(
                "Requested resource not found".into()
            ))["__type"],
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
        );
        assert_eq!(
            body(&ApiError::InvalidSignature("x".into()))["__type"],
            "com.amazon.coral.service#InvalidSignatureException"
        );
        assert_eq!(
            body(&ApiError::UnrecognizedClient),
            json!({"__type": "com.amazon.coral.service#UnrecognizedClientException",
                   "message": "The security token included in the request is invalid."})
        );
        assert_eq!(
            body(&ApiError::MissingAuthenticationToken)["message"],
            "Request is missing Authentication Token"
        );
        assert_eq!(
            body(&ApiError::UnknownOperation),
            json!({"__type": "com.amazon.coral.service#UnknownOperationException"})
        );
        assert_eq!(
            body(&ApiError::Serialization("x".into()))["__type"],
            "com.amazon.coral.service#SerializationException"
        );
        assert_eq!(
            ApiError::Internal("x".into()).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            ApiError::RequestTooLarge { limit_bytes: 1 }.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(ApiError::NotFound.status(), StatusCode::NOT_FOUND);
        assert_eq!(ApiError::NotFound.body(), b"<UnknownOperationException/>\n");
    }

    #[test]
    fn control_errors_map_to_their_dynamodb_types() {
        for kind in [
            ControlErrorKind::Validation,
            ControlErrorKind::ResourceInUse,
            ControlErrorKind::ResourceNotFound,
            ControlErrorKind::LimitExceeded,
            ControlErrorKind::NotLeader,
            ControlErrorKind::Unavailable,
            ControlErrorKind::UnknownNode,
            ControlErrorKind::Internal,
        ] {
            let e = ApiError::from_control(ControlError::new(kind, "m"));
            assert_eq!(e.type_string(), kind.dynamodb_type());
            assert_eq!(e.message().as_deref(), Some("m"));
        }
        let e = ApiError::from_control(ControlError::new(ControlErrorKind::NotLeader, "m"));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
