//! Any bytes as the body of any served DynamoDB operation (chosen by the first byte), run
//! against the in-memory backend holding one table: the answer is a JSON object or a 4xx
//! error, never a panic and never a 5xx.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use storage_node::api::SigV4Keys;
use storage_node::api::ops::Operation;
use storage_node::api::server::{ApiConfig, run_body};
use storage_node::api::testing::MemBackend;

const OPS: &[&str] = &[
    "CreateTable",
    "DeleteTable",
    "DescribeTable",
    "ListTables",
    "UpdateTable",
    "PutItem",
    "GetItem",
    "DeleteItem",
    "UpdateItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
    "DescribeLimits",
    "DescribeEndpoints",
];

struct World {
    rt: tokio::runtime::Runtime,
    backend: MemBackend,
    config: ApiConfig,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let backend = MemBackend::new();
        let config = ApiConfig::new(SigV4Keys::new([]));
        let create = br#"{"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"}]}"#;
        let op = Operation::from_name("CreateTable").unwrap();
        rt.block_on(run_body(&config, &backend, op, create))
            .unwrap();
        World {
            rt,
            backend,
            config,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let name = OPS[pick as usize % OPS.len()];
    let op = Operation::from_name(name).expect("a served operation");
    let w = world();
    match w.rt.block_on(run_body(&w.config, &w.backend, op, body)) {
        Ok(v) => assert!(v.is_object(), "{name} answered {v}"),
        Err(e) => assert!(e.status().is_client_error(), "{name} answered {e:?}"),
    }
});
