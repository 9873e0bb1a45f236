//! The client-facing DynamoDB HTTP API of `cairn-node` (DESIGN §9, §11; issue 4 item 5).
//!
//! - [`server`]: the HTTP endpoint (`POST /`, `X-Amz-Target` dispatch, body bound, response
//!   headers) and its [`server::ApiConfig`].
//! - [`auth`]: SigV4 verification against configured access keys (on by default).
//! - [`error`]: [`error::ApiError`], DynamoDB's error names, namespaces and HTTP statuses.
//! - [`ops`]: one file per operation (CreateTable, DeleteTable, DescribeTable, ListTables,
//!   PutItem, GetItem, DeleteItem).
//! - [`backend`]: the [`backend::ApiBackend`] seam to routing, the control plane and storage.
//! - [`testing`]: an in-memory backend and a client-side signer, for tests only.
//!
//! Items, their validation and their stored form live in `wire/src/item.rs`; key encoding in
//! `wire/src/key.rs`.

pub mod auth;
pub mod backend;
pub mod error;
pub mod ops;
pub mod server;
pub mod testing;

pub use auth::SigV4Keys;
pub use backend::{ApiBackend, BoxFuture, DeleteItemCall, GetItemCall, PutItemCall, TableRef};
pub use error::ApiError;
pub use server::{
    ApiConfig, BODY_BYTES_IN_FLIGHT_MAX, REQUEST_BODY_BYTES_MAX, RequestObserver, router, serve,
};
