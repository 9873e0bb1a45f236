//! Tests for `capacity`: DynamoDB's documented unit examples, block boundaries, the JSON shapes
//! of the AWS CLI's recorded responses, and seeded property tests (`CAIRN_SEED` /
//! `CAIRN_SEEDS`, see `crate::test_rng`).

use serde_json::{Map, Value, json};

use super::*;
use crate::test_rng::{Rng, for_each_seed};

const KB: usize = 1024;

fn units(u: CapacityUnits) -> f64 {
    u.as_f64()
}

// ---------------------------------------------------------------------------------------------
// ReturnConsumedCapacity
// ---------------------------------------------------------------------------------------------

#[test]
fn return_consumed_capacity_parses_the_three_values_and_absent() {
    use ReturnConsumedCapacity as R;
    assert_eq!(R::parse(None), Ok(R::None));
    assert_eq!(R::parse(Some("NONE")), Ok(R::None));
    assert_eq!(R::parse(Some("TOTAL")), Ok(R::Total));
    assert_eq!(R::parse(Some("INDEXES")), Ok(R::Indexes));
    for r in [R::None, R::Total, R::Indexes] {
        assert_eq!(R::parse(Some(r.as_str())), Ok(r));
    }
    assert!(!R::None.is_requested());
    assert!(R::Total.is_requested() && R::Indexes.is_requested());
    assert_eq!(R::default(), R::None);
}

#[test]
fn return_consumed_capacity_rejects_others_with_dynamodbs_message() {
    let err = ReturnConsumedCapacity::parse(Some("DUMMY")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 validation error detected: Value 'DUMMY' at 'returnConsumedCapacity' failed to \
         satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
    );
    assert_eq!(
        err.violation(),
        "Value 'DUMMY' at 'returnConsumedCapacity' failed to satisfy constraint: Member must \
         satisfy enum value set: [INDEXES, TOTAL, NONE]"
    );
    // Case-sensitive, and the empty string is a value, not an absence.
    for bad in ["total", "Indexes", "", " TOTAL"] {
        let err = ReturnConsumedCapacity::parse(Some(bad)).unwrap_err();
        assert!(
            err.violation().starts_with(&format!("Value '{bad}' at ")),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Units: documented examples
// ---------------------------------------------------------------------------------------------

#[test]
fn an_8_kb_item_costs_2_strong_1_eventual_4_transactional() {
    let size = Some(8 * KB);
    assert_eq!(units(item_read_units(size, ReadConsistency::Strong)), 2.0);
    assert_eq!(units(item_read_units(size, ReadConsistency::Eventual)), 1.0);
    assert_eq!(
        units(item_read_units(size, ReadConsistency::Transactional)),
        4.0
    );
}

#[test]
fn a_missing_item_costs_the_minimum_read() {
    assert_eq!(units(item_read_units(None, ReadConsistency::Strong)), 1.0);
    assert_eq!(units(item_read_units(None, ReadConsistency::Eventual)), 0.5);
    assert_eq!(
        units(item_read_units(None, ReadConsistency::Transactional)),
        2.0
    );
    assert_eq!(
        ReadConsistency::from_consistent_read(true),
        ReadConsistency::Strong
    );
    assert_eq!(
        ReadConsistency::from_consistent_read(false),
        ReadConsistency::Eventual
    );
}

#[test]
fn read_blocks_change_exactly_past_4096_bytes() {
    for (bytes, blocks) in [
        (0, 1),
        (1, 1),
        (4095, 1),
        (4096, 1),
        (4097, 2),
        (8192, 2),
        (8193, 3),
    ] {
        assert_eq!(read_blocks(bytes), blocks, "{bytes} bytes");
    }
    // The Scylla Alternator tests' 4 KB / 4 KB + 1 GetItem (checked against DynamoDB).
    assert_eq!(
        units(item_read_units(Some(4096), ReadConsistency::Strong)),
        1.0
    );
    assert_eq!(
        units(item_read_units(Some(4097), ReadConsistency::Strong)),
        2.0
    );
    assert_eq!(
        units(item_read_units(Some(4097), ReadConsistency::Eventual)),
        1.0
    );
}

#[test]
fn write_blocks_change_exactly_past_1024_bytes() {
    for (bytes, blocks) in [(0, 1), (1, 1), (1023, 1), (1024, 1), (1025, 2), (2049, 3)] {
        assert_eq!(write_blocks(bytes), blocks, "{bytes} bytes");
    }
    assert_eq!(units(put_units(None, 1024, WriteMode::Standard)), 1.0);
    assert_eq!(units(put_units(None, 1025, WriteMode::Standard)), 2.0);
    assert_eq!(units(put_units(None, 1025, WriteMode::Transactional)), 4.0);
}

#[test]
fn query_sums_then_rounds_40_8_kb_to_11_rcu() {
    // 10 items totalling 40.8 KB (41,779 bytes): 44 KB → 11 RCU strong, 5.5 eventual.
    let total = (40.8 * 1024.0) as usize;
    let mut tally = ReadTally::new();
    let mut per_item = CapacityUnits::ZERO;
    for i in 0..10 {
        let size = total / 10 + usize::from(i < total % 10);
        tally.add_item(size);
        per_item += item_read_units(Some(size), ReadConsistency::Strong);
    }
    assert_eq!(tally.bytes(), total as u64);
    assert_eq!(tally.items(), 10);
    assert_eq!(units(tally.units(ReadConsistency::Strong)), 11.0);
    assert_eq!(units(tally.units(ReadConsistency::Eventual)), 5.5);
    // Rounding each ~4.1 KB item separately would have cost 2 RCU each.
    assert_eq!(units(per_item), 20.0);
}

#[test]
fn query_of_1500_items_of_64_bytes_costs_24_rcu() {
    let mut tally = ReadTally::new();
    for _ in 0..1500 {
        tally.add_item(64);
    }
    assert_eq!(tally.bytes(), 96_000);
    assert_eq!(units(tally.units(ReadConsistency::Strong)), 24.0);
    assert_eq!(units(tally.units(ReadConsistency::Eventual)), 12.0);
}

#[test]
fn an_empty_query_still_costs_the_minimum() {
    let tally = ReadTally::new();
    assert_eq!(units(tally.units(ReadConsistency::Strong)), 1.0);
    assert_eq!(units(tally.units(ReadConsistency::Eventual)), 0.5);
}

#[test]
fn a_scan_page_just_past_1_mib_costs_128_5_eventual() {
    // Franck Pachot's measurement (dbi-services, "DynamoDB Scan (and why 128.5 RCU?)"): pages
    // of ~1,042-byte items stop just past 1 MiB and cost 128.5 RCU eventually consistent.
    let mut tally = ReadTally::new();
    while tally.bytes() <= 1 << 20 {
        tally.add_item(1042);
    }
    assert_eq!(tally.items(), 1007);
    assert_eq!(units(tally.units(ReadConsistency::Eventual)), 128.5);
    assert_eq!(units(tally.units(ReadConsistency::Strong)), 257.0);
}

#[test]
fn batch_get_rounds_each_item_1_5_kb_plus_6_5_kb_is_12_kb() {
    let mut cc = ConsumedCapacity::new(ReturnConsumedCapacity::Total, CapacityOp::BatchGetItem);
    for size in [1536, 6656] {
        cc.add_read(
            "Music",
            item_read_units(Some(size), ReadConsistency::Strong),
        );
    }
    // 4 KB + 8 KB = 12 KB = 3 RCU strong.
    assert_eq!(
        cc.to_json(),
        Some(json!([{"TableName": "Music", "CapacityUnits": 3.0}]))
    );
}

#[test]
fn batch_get_over_two_tables_reports_each_with_its_own_consistency() {
    // Alternator's test_multi_table_batch_get_items: 5 small strong reads and 3 eventual.
    let mut cc = ConsumedCapacity::new(ReturnConsumedCapacity::Total, CapacityOp::BatchGetItem);
    for _ in 0..5 {
        cc.add_read("s", item_read_units(Some(40), ReadConsistency::Strong));
    }
    for _ in 0..3 {
        cc.add_read("sc", item_read_units(Some(60), ReadConsistency::Eventual));
    }
    assert_eq!(
        cc.to_json(),
        Some(json!([
            {"TableName": "s", "CapacityUnits": 5.0},
            {"TableName": "sc", "CapacityUnits": 1.5},
        ]))
    );
}

#[test]
fn batch_write_rounds_each_item_500_b_plus_3_5_kb_is_5_wcu() {
    let mut cc = ConsumedCapacity::new(ReturnConsumedCapacity::Total, CapacityOp::BatchWriteItem);
    cc.add_write("t", put_units(None, 500, WriteMode::Standard));
    cc.add_write("t", put_units(None, 3584, WriteMode::Standard));
    assert_eq!(
        cc.to_json(),
        Some(json!([{"TableName": "t", "CapacityUnits": 5.0}]))
    );
}

#[test]
fn writes_charge_the_larger_item_and_a_minimum_of_one() {
    let w = WriteMode::Standard;
    // A short put over a long item pays for the long one (2 KB + some → 3 WCU).
    assert_eq!(units(put_units(Some(2 * KB + 60), 80, w)), 3.0);
    assert_eq!(units(put_units(Some(80), 2 * KB + 60, w)), 3.0);
    assert_eq!(units(put_units(None, 80, w)), 1.0);
    // An update replacing a long attribute with a short one pays for "before".
    assert_eq!(units(update_units(Some(2 * KB + 1), 40, w)), 3.0);
    assert_eq!(units(update_units(None, 2 * KB + 1, w)), 3.0);
    assert_eq!(units(update_units(None, 30, w)), 1.0);
    // Deletes pay for the deleted item; deleting nothing pays the minimum.
    assert_eq!(units(delete_units(Some(2 * KB + 1), w)), 3.0);
    assert_eq!(units(delete_units(None, w)), 1.0);
}

#[test]
fn failed_conditions_charge_the_existing_item_or_one() {
    assert_eq!(
        units(failed_condition_units(None, WriteMode::Standard)),
        1.0
    );
    assert_eq!(
        units(failed_condition_units(Some(2 * KB), WriteMode::Standard)),
        2.0
    );
    assert_eq!(
        units(failed_condition_units(Some(300 * KB), WriteMode::Standard)),
        300.0
    );
    assert_eq!(
        units(failed_condition_units(None, WriteMode::Transactional)),
        2.0
    );
}

#[test]
fn transactional_writes_cost_double() {
    let t = WriteMode::Transactional;
    assert_eq!(units(put_units(None, 900, t)), 2.0);
    assert_eq!(units(update_units(Some(1500), 900, t)), 4.0);
    assert_eq!(units(delete_units(None, t)), 2.0);
    // A ConditionCheck on a small item is a 2 WCU write (measured on DynamoDB by
    // martinhicks.dev, "What a conditional DynamoDB transaction actually costs").
    assert_eq!(units(condition_check_units(Some(300))), 2.0);
    assert_eq!(units(condition_check_units(None)), 2.0);
}

#[test]
fn capacity_units_are_exact_half_units() {
    assert_eq!(CapacityUnits::whole(3).half_units(), 6);
    assert_eq!(CapacityUnits::from_half_units(7).as_f64(), 3.5);
    assert_eq!(CapacityUnits::ZERO.as_f64(), 0.0);
    assert!(CapacityUnits::ZERO.is_zero() && !CapacityUnits::from_half_units(1).is_zero());
    let s: CapacityUnits = [1, 2, 3]
        .map(CapacityUnits::from_half_units)
        .into_iter()
        .sum();
    assert_eq!(s, CapacityUnits::from_half_units(6));
    // Saturates rather than wraps or panics.
    let max = CapacityUnits::from_half_units(u64::MAX);
    assert_eq!(max + max, max);
    assert_eq!(CapacityUnits::whole(u64::MAX), max);
}

// ---------------------------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------------------------

fn get_item(mode: ReturnConsumedCapacity) -> ConsumedCapacity {
    let mut cc = ConsumedCapacity::new(mode, CapacityOp::GetItem);
    cc.add_read(
        "Music",
        item_read_units(Some(300), ReadConsistency::Eventual),
    );
    cc
}

#[test]
fn total_shape_is_table_name_and_capacity_units() {
    assert_eq!(
        get_item(ReturnConsumedCapacity::Total).to_json(),
        Some(json!({"TableName": "Music", "CapacityUnits": 0.5}))
    );
    let mut cc = ConsumedCapacity::new(ReturnConsumedCapacity::Total, CapacityOp::PutItem);
    cc.add_write("MusicCollection", put_units(None, 120, WriteMode::Standard));
    let mut response = Map::new();
    cc.write_into(&mut response);
    assert_eq!(
        Value::Object(response),
        json!({"ConsumedCapacity": {"TableName": "MusicCollection", "CapacityUnits": 1.0}})
    );
}

#[test]
fn indexes_shape_adds_the_table_share_and_only_touched_indexes() {
    assert_eq!(
        get_item(ReturnConsumedCapacity::Indexes).to_json(),
        Some(json!({
            "TableName": "Music",
            "CapacityUnits": 0.5,
            "Table": {"CapacityUnits": 0.5}
        }))
    );
    // The AWS CLI's batch-write-item example: three puts, each also written to an LSI.
    let mut cc = ConsumedCapacity::new(ReturnConsumedCapacity::Indexes, CapacityOp::BatchWriteItem);
    for _ in 0..3 {
        let u = put_units(None, 90, WriteMode::Standard);
        cc.add_write("MusicCollection", u);
        cc.add_index(
            "MusicCollection",
            IndexKind::Local,
            "AlbumTitleIndex",
            Access::Write,
            u,
        );
    }
    assert_eq!(
        cc.to_json(),
        Some(json!([{
            "TableName": "MusicCollection",
            "CapacityUnits": 6.0,
            "Table": {"CapacityUnits": 3.0},
            "LocalSecondaryIndexes": {"AlbumTitleIndex": {"CapacityUnits": 3.0}}
        }]))
    );
    // TOTAL of the same request folds the index into the one number.
    let mut total = ConsumedCapacity::new(ReturnConsumedCapacity::Total, CapacityOp::Query);
    total.add_read("T", CapacityUnits::whole(1));
    total.add_index(
        "T",
        IndexKind::Global,
        "G1",
        Access::Read,
        CapacityUnits::whole(2),
    );
    assert_eq!(
        total.to_json(),
        Some(json!({"TableName": "T", "CapacityUnits": 3.0}))
    );
}

#[test]
fn global_and_local_index_maps_are_kept_apart() {
    let mut cc = ConsumedCapacity::new(ReturnConsumedCapacity::Indexes, CapacityOp::UpdateItem);
    cc.add_write("T", CapacityUnits::whole(2));
    cc.add_index(
        "T",
        IndexKind::Global,
        "G",
        Access::Write,
        CapacityUnits::whole(1),
    );
    cc.add_index(
        "T",
        IndexKind::Global,
        "G",
        Access::Write,
        CapacityUnits::whole(1),
    );
    cc.add_index(
        "T",
        IndexKind::Global,
        "H",
        Access::Write,
        CapacityUnits::whole(1),
    );
    cc.add_index(
        "T",
        IndexKind::Local,
        "G",
        Access::Write,
        CapacityUnits::whole(4),
    );
    assert_eq!(
        cc.to_json(),
        Some(json!({
            "TableName": "T",
            "CapacityUnits": 9.0,
            "Table": {"CapacityUnits": 2.0},
            "GlobalSecondaryIndexes": {"G": {"CapacityUnits": 2.0}, "H": {"CapacityUnits": 1.0}},
            "LocalSecondaryIndexes": {"G": {"CapacityUnits": 4.0}}
        }))
    );
    assert_eq!(
        cc.index_usage("T", IndexKind::Global, "G").map(|u| u.write),
        Some(CapacityUnits::whole(2))
    );
    assert_eq!(cc.index_usage("T", IndexKind::Local, "H"), None);
    assert_eq!(
        cc.table_usage("T").map(Usage::total),
        Some(CapacityUnits::whole(2))
    );
    assert_eq!(
        cc.table_total("T").map(Usage::total),
        Some(CapacityUnits::whole(9))
    );
}

#[test]
fn transactions_report_read_or_write_units_too() {
    // transact-get-items example: two small items, TOTAL → 4.0 and ReadCapacityUnits 4.0.
    let mut get =
        ConsumedCapacity::new(ReturnConsumedCapacity::Total, CapacityOp::TransactGetItems);
    for size in [120, 130] {
        get.add_read(
            "MusicCollection",
            item_read_units(Some(size), ReadConsistency::Transactional),
        );
    }
    assert_eq!(
        get.to_json(),
        Some(json!([{
            "TableName": "MusicCollection",
            "CapacityUnits": 4.0,
            "ReadCapacityUnits": 4.0
        }]))
    );
    // transact-write-items: WriteCapacityUnits alongside; INDEXES splits the Table share too.
    let mut write = ConsumedCapacity::new(
        ReturnConsumedCapacity::Indexes,
        CapacityOp::TransactWriteItems,
    );
    write.add_write("A", update_units(Some(100), 200, WriteMode::Transactional));
    write.add_write("B", delete_units(Some(3000), WriteMode::Transactional));
    write.add_write("A", condition_check_units(None));
    assert_eq!(
        write.to_json(),
        Some(json!([
            {"TableName": "A", "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0,
             "Table": {"CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}},
            {"TableName": "B", "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0,
             "Table": {"CapacityUnits": 6.0, "WriteCapacityUnits": 6.0}},
        ]))
    );
    assert_eq!(write.total().write, CapacityUnits::whole(10));
    assert_eq!(write.table_names().collect::<Vec<_>>(), ["A", "B"]);
}

#[test]
fn none_and_uncharged_single_operations_answer_nothing() {
    let cc = get_item(ReturnConsumedCapacity::None);
    assert_eq!(cc.to_json(), None);
    let mut response = Map::new();
    cc.write_into(&mut response);
    assert!(response.is_empty());
    // Still accumulated for metering.
    assert_eq!(cc.total().read, CapacityUnits::from_half_units(1));

    let empty = ConsumedCapacity::new(ReturnConsumedCapacity::Total, CapacityOp::DeleteItem);
    assert_eq!(empty.to_json(), None);
    let empty_batch =
        ConsumedCapacity::new(ReturnConsumedCapacity::Total, CapacityOp::BatchWriteItem);
    assert_eq!(empty_batch.to_json(), Some(json!([])));
}

#[test]
fn operations_know_their_shape() {
    use CapacityOp::*;
    for op in [GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan] {
        assert!(!op.is_list() && !op.reports_read_write(), "{op:?}");
    }
    for op in [BatchGetItem, BatchWriteItem] {
        assert!(op.is_list() && !op.reports_read_write(), "{op:?}");
    }
    for op in [TransactGetItems, TransactWriteItems] {
        assert!(op.is_list() && op.reports_read_write(), "{op:?}");
    }
    for op in [GetItem, Query, Scan, BatchGetItem, TransactGetItems] {
        assert_eq!(op.access(), Access::Read);
    }
    for op in [
        PutItem,
        UpdateItem,
        DeleteItem,
        BatchWriteItem,
        TransactWriteItems,
    ] {
        assert_eq!(op.access(), Access::Write);
    }
}

#[test]
fn describe_limits_reports_the_default_quotas() {
    assert_eq!(
        describe_limits_json(),
        json!({
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Seeded properties
// ---------------------------------------------------------------------------------------------

/// A size that lands near block edges often.
fn size(rng: &mut Rng) -> usize {
    match rng.below(4) {
        0 => rng.below(64) as usize,
        1 => (rng.below(100) as usize + 1) * 1024 + rng.below(3) as usize - 1,
        2 => (rng.below(100) as usize + 1) * 4096 + rng.below(3) as usize - 1,
        _ => rng.below(400 * 1024 + 1) as usize,
    }
}

fn opt_size(rng: &mut Rng) -> Option<usize> {
    if rng.chance(1, 5) {
        None
    } else {
        Some(size(rng))
    }
}

#[test]
fn units_match_a_float_reference_and_are_monotonic() {
    for_each_seed(
        "units_match_a_float_reference_and_are_monotonic",
        200,
        |seed| {
            let mut rng = Rng::new(seed);
            for _ in 0..200 {
                let (a, b) = (size(&mut rng), size(&mut rng));
                let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
                // Reference: ceil via f64 (exact: division by a power of two), minimum one.
                let reference =
                    |bytes: u64, block: f64| ((bytes as f64 / block).ceil() as u64).max(1);
                assert_eq!(read_blocks(lo), reference(lo, 4096.0));
                assert_eq!(write_blocks(hi), reference(hi, 1024.0));
                for c in [
                    ReadConsistency::Eventual,
                    ReadConsistency::Strong,
                    ReadConsistency::Transactional,
                ] {
                    assert!(read_units(lo, c) <= read_units(hi, c));
                }
                let e = read_units(lo, ReadConsistency::Eventual).half_units();
                assert_eq!(read_units(lo, ReadConsistency::Strong).half_units(), 2 * e);
                assert_eq!(
                    read_units(lo, ReadConsistency::Transactional).half_units(),
                    4 * e
                );
                assert!(
                    write_units(lo, WriteMode::Standard) <= write_units(hi, WriteMode::Standard)
                );
                assert_eq!(
                    write_units(hi, WriteMode::Transactional).half_units(),
                    2 * write_units(hi, WriteMode::Standard).half_units()
                );
                // Writes: the larger item decides, whichever side it is on.
                let (old, new) = (opt_size(&mut rng), size(&mut rng));
                let w = WriteMode::Standard;
                let expected = delete_units(old, w).max(write_units(new as u64, w));
                assert_eq!(put_units(old, new, w), expected);
                assert_eq!(update_units(old, new, w), expected);
                assert!(failed_condition_units(old, w) <= put_units(old, new, w));
            }
        },
    );
}

#[test]
fn query_rounding_never_exceeds_per_item_rounding() {
    for_each_seed(
        "query_rounding_never_exceeds_per_item_rounding",
        200,
        |seed| {
            let mut rng = Rng::new(seed);
            let n = rng.below(300);
            let mut tally = ReadTally::new();
            let mut per_item = CapacityUnits::ZERO;
            let mut sum = 0u64;
            let c = *rng.pick(&[ReadConsistency::Eventual, ReadConsistency::Strong]);
            for _ in 0..n {
                let s = size(&mut rng) / (1 + rng.below(64) as usize);
                tally.add_item(s);
                sum += s as u64;
                per_item += item_read_units(Some(s), c);
            }
            assert_eq!(tally.bytes(), sum);
            assert_eq!(tally.units(c), read_units(sum, c));
            if n > 0 {
                assert!(tally.units(c) <= per_item, "n={n} sum={sum}");
                // Per-item rounding wastes less than one block per item.
                let waste = per_item.half_units() - tally.units(c).half_units();
                let per_block = read_units(1, c).half_units();
                assert!(waste < n * per_block, "waste {waste} for {n} items");
            } else {
                assert_eq!(tally.units(c), read_units(0, c));
            }
        },
    );
}

#[test]
fn the_accumulator_reports_every_charge_once() {
    for_each_seed("the_accumulator_reports_every_charge_once", 200, |seed| {
        let mut rng = Rng::new(seed);
        let ops = [
            CapacityOp::BatchGetItem,
            CapacityOp::BatchWriteItem,
            CapacityOp::TransactGetItems,
            CapacityOp::TransactWriteItems,
        ];
        let op = *rng.pick(&ops);
        let mode = *rng.pick(&[
            ReturnConsumedCapacity::Total,
            ReturnConsumedCapacity::Indexes,
        ]);
        let mut cc = ConsumedCapacity::new(mode, op);
        let tables = ["alpha", "beta", "gamma", "delta"];
        let mut expected: Vec<(&str, u64)> = Vec::new();
        for _ in 0..rng.below(40) + 1 {
            let t = *rng.pick(&tables);
            let u = CapacityUnits::from_half_units(rng.below(20));
            let access = if rng.chance(1, 2) {
                Access::Read
            } else {
                Access::Write
            };
            if rng.chance(1, 3) {
                let kind = if rng.chance(1, 2) {
                    IndexKind::Global
                } else {
                    IndexKind::Local
                };
                let index = if rng.chance(1, 2) { "i1" } else { "i2" };
                cc.add_index(t, kind, index, access, u);
            } else {
                cc.add_table(t, access, u);
            }
            match expected.iter_mut().find(|(n, _)| *n == t) {
                Some((_, sum)) => *sum += u.half_units(),
                None => expected.push((t, u.half_units())),
            }
        }
        let Some(Value::Array(list)) = cc.to_json() else {
            panic!("a list operation answers a list")
        };
        assert_eq!(list.len(), expected.len());
        let mut grand = 0;
        for (entry, (name, half)) in list.iter().zip(&expected) {
            assert_eq!(entry["TableName"], json!(name));
            assert_eq!(entry["CapacityUnits"].as_f64(), Some(*half as f64 / 2.0));
            let split = entry
                .get("ReadCapacityUnits")
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
                + entry
                    .get("WriteCapacityUnits")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
            if op.reports_read_write() {
                assert_eq!(split, *half as f64 / 2.0);
            } else {
                assert_eq!(split, 0.0);
            }
            if mode == ReturnConsumedCapacity::Indexes {
                let mut parts = entry["Table"]["CapacityUnits"].as_f64().unwrap();
                for key in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
                    if let Some(Value::Object(m)) = entry.get(key) {
                        assert!(!m.is_empty());
                        parts += m
                            .values()
                            .map(|c| c["CapacityUnits"].as_f64().unwrap())
                            .sum::<f64>();
                    }
                }
                assert_eq!(parts, *half as f64 / 2.0);
            } else {
                assert!(entry.get("Table").is_none());
            }
            assert_eq!(cc.table_total(name).unwrap().total().half_units(), *half);
            grand += half;
        }
        assert_eq!(cc.total().total().half_units(), grand);
    });
}
