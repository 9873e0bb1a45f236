//! Tests of the control types: JSON spellings (etcd values), frames, bounds.

use super::*;

fn sample_partition() -> PartitionDesc {
    PartitionDesc {
        id: GroupId(7),
        table: TableId(3),
        range: HashRange {
            start: 1 << 63,
            end: None,
        },
        epoch: 2,
        replicas: vec![
            ReplicaDesc {
                node: NodeId(1),
                member: MemberId(21),
                role: Role::Full,
            },
            ReplicaDesc {
                node: NodeId(4),
                member: MemberId(22),
                role: Role::Log,
            },
            ReplicaDesc {
                node: NodeId(5),
                member: MemberId(23),
                role: Role::Learner,
            },
        ],
    }
}

#[test]
fn control_messages_travel_in_frames() {
    use crate::frame::{FRAME_BODY_BYTES_MAX_DEFAULT as MAX, FrameError, decode, encode};
    let reply = ControlReply::Tables(ListTablesReply {
        table_names: vec!["Music".into(), "Ünïcode".into()],
        last_evaluated_table_name: Some("Music".into()),
    });
    let f = encode(&reply, MAX).unwrap();
    assert_eq!(decode::<ControlReply>(&f, MAX).unwrap(), reply);
    assert!(matches!(
        decode::<ControlRequest>(&f, MAX),
        Err(FrameError::UnknownType { .. })
    ));
    let lookup = |n: usize| {
        ControlRequest::Lookup(RoutingLookup {
            table_name: "Music".into(),
            hashes: (0..n as u64).collect(),
        })
    };
    let ok = encode(&lookup(LOOKUP_HASHES_MAX), MAX).unwrap();
    assert_eq!(
        decode::<ControlRequest>(&ok, MAX).unwrap(),
        lookup(LOOKUP_HASHES_MAX)
    );
    let too_many = encode(&lookup(LOOKUP_HASHES_MAX + 1), MAX);
    let checked = too_many.and_then(|f| decode::<ControlRequest>(&f, MAX));
    assert!(
        matches!(checked, Err(FrameError::Invalid(_))),
        "{checked:?}"
    );
}

#[test]
fn partition_json_is_readable_and_round_trips() {
    let p = sample_partition();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(
        json,
        r#"{"id":7,"table":3,"range":{"start":9223372036854775808,"end":null},"epoch":2,"replicas":[{"node":1,"member":21,"role":"Full"},{"node":4,"member":22,"role":"Log"},{"node":5,"member":23,"role":"Learner"}]}"#
    );
    assert_eq!(serde_json::from_str::<PartitionDesc>(&json).unwrap(), p);
    assert!(serde_json::from_str::<PartitionDesc>(&json.replace("Log", "Boss")).is_err());
}

#[test]
fn table_json_uses_dynamodb_spellings_and_round_trips() {
    let t = TableDesc {
        name: "Music".into(),
        id: TableId(3),
        key_schema: vec![
            KeySchemaElement {
                attribute_name: "Artist".into(),
                key_type: KeyRole::Hash,
            },
            KeySchemaElement {
                attribute_name: "Song".into(),
                key_type: KeyRole::Range,
            },
        ],
        attribute_definitions: vec![
            AttributeDefinition {
                attribute_name: "Artist".into(),
                attribute_type: AttributeType::S,
            },
            AttributeDefinition {
                attribute_name: "Song".into(),
                attribute_type: AttributeType::N,
            },
        ],
        billing_mode: BillingMode::PayPerRequest,
        provisioned_throughput: None,
        status: TableStatus::Creating,
        creation_time_ms: 1_700_000_000_000,
        item_count: 0,
        size_bytes: 0,
        partitions: vec![GroupId(7), GroupId(8)],
        settings: Default::default(),
    };
    let json = serde_json::to_string(&t).unwrap();
    for needle in [
        r#""key_type":"HASH""#,
        r#""PAY_PER_REQUEST""#,
        r#""CREATING""#,
    ] {
        assert!(json.contains(needle), "{needle} missing in {json}");
    }
    assert!(json.contains(r#""partitions":[7,8]"#), "{json}");
    assert_eq!(serde_json::from_str::<TableDesc>(&json).unwrap(), t);
    assert_eq!(t.hash_key(), Some(("Artist", AttributeType::S)));
    assert_eq!(t.range_key(), Some(("Song", AttributeType::N)));
}

#[test]
fn hash_range_bounds() {
    let r = HashRange {
        start: 10,
        end: Some(20),
    };
    assert!(!r.contains(9) && r.contains(10) && r.contains(19) && !r.contains(20));
    assert!(HashRange::FULL.contains(0) && HashRange::FULL.contains(u64::MAX));
    let tail = HashRange {
        start: u64::MAX,
        end: None,
    };
    assert!(tail.contains(u64::MAX) && !tail.contains(u64::MAX - 1));
}

#[test]
fn requests_and_replies_round_trip() {
    let msgs = vec![
        ControlRequest::Heartbeat(NodeHeartbeat {
            node: NodeId(2),
            replicas: vec![ReplicaState {
                group: GroupId(7),
                member: MemberId(21),
                role: Role::Full,
                is_leader: true,
                ballot: Ballot(4),
                commit_index: 10,
                applied_index: 9,
            }],
        }),
        ControlRequest::DeleteTable {
            table_name: "t".into(),
        },
    ];
    for m in msgs {
        let json = serde_json::to_vec(&m).unwrap();
        assert_eq!(serde_json::from_slice::<ControlRequest>(&json).unwrap(), m);
    }
    let reply = ControlReply::Heartbeat(HeartbeatReply {
        commands: vec![
            NodeCommand::CreateReplica {
                partition: sample_partition(),
                member: MemberId(21),
                bootstrap: true,
            },
            NodeCommand::DropReplica {
                group: GroupId(9),
                member: MemberId(3),
            },
        ],
        nodes: vec![NodeInfo {
            id: NodeId(4),
            name: "n4".into(),
            az: "az2".into(),
            quic_addr: "127.0.0.1:7501".into(),
            api_addr: "127.0.0.1:8001".into(),
        }],
        time_to_live: vec![],
    });
    let json = serde_json::to_vec(&reply).unwrap();
    assert_eq!(
        serde_json::from_slice::<ControlReply>(&json).unwrap(),
        reply
    );
    let err = ControlReply::Error(ControlError::new(ControlErrorKind::NotLeader, "standby"));
    let json = serde_json::to_vec(&err).unwrap();
    assert_eq!(serde_json::from_slice::<ControlReply>(&json).unwrap(), err);
}
