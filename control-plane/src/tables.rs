//! Table rules, pure: CreateTable/ListTables validation with DynamoDB's errors, the partition
//! count for a table's capacity, and the even split of the hash space (DESIGN §2, §8).
//!
//! Validation order follows DynamoDB (as mirrored by dynalite): first the "framework" checks
//! (lengths, patterns, minimums), all reported together as `N validation error(s) detected:
//! …; …`; then the semantic checks, first failure wins (`One or more parameter values were
//! invalid: …`, `Invalid KeySchema: …`); then limits (`LimitExceededException`). Error types
//! and fields are exact; prose is DynamoDB's where known (reference/dynamodb-facts.md §2.12),
//! best effort otherwise (marked "best effort" below).
//!
//! The table lifecycle itself (etcd writes, CREATING → ACTIVE, DELETING → gone) lives in
//! `service.rs`; placement in `placement/`.

use std::collections::BTreeSet;

use wire::control::{
    BillingMode, ControlError, ControlErrorKind, CreateTableRequest, HashRange, KeyRole,
    ListTablesRequest,
};

/// DynamoDB's table-name bounds.
pub const TABLE_NAME_BYTES_MIN: usize = 3;
pub const TABLE_NAME_BYTES_MAX: usize = 255;
/// Key attribute names are at most 255 bytes.
pub const KEY_ATTRIBUTE_NAME_BYTES_MAX: usize = 255;
/// `ListTables` returns at most this many names per page.
pub const LIST_TABLES_LIMIT_MAX: u32 = 100;
pub use wire::control::CAPACITY_UNITS_BOUND;

/// Table limits and the partition-count rule.
#[derive(Clone, Debug)]
pub struct TableConfig {
    /// A table never starts with fewer partitions.
    pub partitions_min: u32,
    /// Nor with more. The table and all its partitions are written in one etcd transaction,
    /// and etcd refuses transactions of more than 128 operations by default (`--max-txn-ops`),
    /// so keep this at most 120.
    pub partitions_max: u32,
    /// If set, every new table gets exactly this many partitions.
    pub partitions_override: Option<u32>,
    /// Partitions of a new `PAY_PER_REQUEST` table.
    pub partitions_on_demand: u32,
    /// Per-table RCU and WCU quota (DynamoDB: 40,000).
    pub capacity_units_max: u64,
    /// Tables per cluster (DynamoDB: 2,500 per region).
    pub tables_max: usize,
    /// Tables CREATING or DELETING at once (DynamoDB: 500).
    pub tables_in_transition_max: usize,
}

impl Default for TableConfig {
    fn default() -> TableConfig {
        TableConfig {
            partitions_min: 1,
            partitions_max: 120,
            partitions_override: None,
            partitions_on_demand: 1,
            capacity_units_max: 40_000,
            tables_max: 2_500,
            tables_in_transition_max: 500,
        }
    }
}

fn validation(message: impl Into<String>) -> ControlError {
    ControlError::new(ControlErrorKind::Validation, message)
}

fn invalid(detail: &str) -> ControlError {
    validation(format!(
        "One or more parameter values were invalid: {detail}"
    ))
}

/// Joins framework-style violations into DynamoDB's single message.
fn framework(errors: Vec<String>) -> Result<(), ControlError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(validation(format!(
            "1 validation error detected: {}",
            errors[0]
        ))),
        n => Err(validation(format!(
            "{n} validation errors detected: {}",
            errors.join("; ")
        ))),
    }
}

fn constraint(value: &str, field: &str, rule: &str) -> String {
    format!("Value '{value}' at '{field}' failed to satisfy constraint: {rule}")
}

/// The framework checks of a table name (`field` is `tableName`, `exclusiveStartTableName`…).
pub fn table_name_violations(name: &str, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !name.is_empty()
        && !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        out.push(constraint(
            name,
            field,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    if name.len() < TABLE_NAME_BYTES_MIN {
        out.push(constraint(
            name,
            field,
            "Member must have length greater than or equal to 3",
        ));
    }
    if name.len() > TABLE_NAME_BYTES_MAX {
        out.push(constraint(
            name,
            field,
            "Member must have length less than or equal to 255",
        ));
    }
    out
}

/// Validates a table name alone (DescribeTable, DeleteTable, routing lookups).
pub fn validate_table_name(name: &str) -> Result<(), ControlError> {
    framework(table_name_violations(name, "tableName"))
}

/// Validates `CreateTable` against DynamoDB's rules and this cluster's limits on capacity.
/// (Limits that need the cluster's state — table counts — are checked by the service.)
pub fn validate_create(req: &CreateTableRequest, cfg: &TableConfig) -> Result<(), ControlError> {
    // Framework checks, reported together.
    let mut errors = table_name_violations(&req.table_name, "tableName");
    if req.key_schema.is_empty() {
        errors.push(constraint(
            "[]",
            "keySchema",
            "Member must have length greater than or equal to 1",
        ));
    }
    if req.key_schema.len() > 2 {
        let names: Vec<&str> = req
            .key_schema
            .iter()
            .map(|e| e.attribute_name.as_str())
            .collect();
        errors.push(constraint(
            &format!("[{}]", names.join(", ")),
            "keySchema",
            "Member must have length less than or equal to 2",
        ));
    }
    for (i, e) in req.key_schema.iter().enumerate() {
        let field = format!("keySchema.{}.member.attributeName", i + 1);
        if e.attribute_name.is_empty() {
            errors.push(constraint(
                "",
                &field,
                "Member must have length greater than or equal to 1",
            ));
        } else if e.attribute_name.len() > KEY_ATTRIBUTE_NAME_BYTES_MAX {
            errors.push(constraint(
                &e.attribute_name,
                &field,
                "Member must have length less than or equal to 255",
            ));
        }
    }
    if let Some(t) = req.provisioned_throughput {
        for (v, f) in [
            (
                t.read_capacity_units,
                "provisionedThroughput.readCapacityUnits",
            ),
            (
                t.write_capacity_units,
                "provisionedThroughput.writeCapacityUnits",
            ),
        ] {
            if v < 1 {
                errors.push(constraint(
                    &v.to_string(),
                    f,
                    "Member must have value greater than or equal to 1",
                ));
            }
        }
    }
    framework(errors)?;

    // Billing mode and throughput.
    let mode = req.billing_mode.unwrap_or(BillingMode::Provisioned);
    match (mode, req.provisioned_throughput) {
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        (BillingMode::Provisioned, None) => {
            return Err(invalid(
                "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        _ => {}
    }
    if let Some(t) = req.provisioned_throughput {
        wire::control::alter::check_bounds(t)?;
    }

    // Key schema against the attribute definitions (dynalite's order).
    let defns: Vec<&str> = req
        .attribute_definitions
        .iter()
        .map(|d| d.attribute_name.as_str())
        .collect();
    let keys: Vec<&str> = req
        .key_schema
        .iter()
        .map(|e| e.attribute_name.as_str())
        .collect();
    let undefined = keys.iter().any(|k| !defns.contains(k));
    if keys.len() == 2 && (undefined || (keys[0] == keys[1] && defns.len() == 1)) {
        return Err(validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        ));
    }
    if keys.len() == 1 && undefined {
        return Err(invalid(&format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            keys.join(", "),
            defns.join(", ")
        )));
    }
    if keys.len() == 2 && keys[0] == keys[1] {
        return Err(validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if req.key_schema[0].key_type != KeyRole::Hash {
        return Err(validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if req
        .key_schema
        .get(1)
        .is_some_and(|e| e.key_type != KeyRole::Range)
    {
        return Err(validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    let distinct: BTreeSet<&str> = defns.iter().copied().collect();
    if distinct.len() != defns.len() {
        // Best effort: DynamoDB's exact prose for duplicate definitions is not recorded.
        return Err(invalid("Duplicate AttributeName in AttributeDefinitions"));
    }
    if req.key_schema.len() != req.attribute_definitions.len() {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }

    // Per-table quota (best-effort prose).
    if let Some(t) = req.provisioned_throughput {
        for (v, what) in [
            (t.read_capacity_units, "read"),
            (t.write_capacity_units, "write"),
        ] {
            if v > cfg.capacity_units_max {
                return Err(ControlError::new(
                    ControlErrorKind::LimitExceeded,
                    format!(
                        "Subscriber limit exceeded: Provisioned throughput for a table cannot exceed {} {what} capacity units (requested {v})",
                        cfg.capacity_units_max
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Validates `ListTables` paging parameters; returns the effective limit.
pub fn validate_list(req: &ListTablesRequest) -> Result<u32, ControlError> {
    let mut errors = Vec::new();
    if let Some(start) = &req.exclusive_start_table_name {
        errors.extend(table_name_violations(start, "exclusiveStartTableName"));
    }
    match req.limit {
        Some(0) => errors.push(constraint(
            "0",
            "limit",
            "Member must have value greater than or equal to 1",
        )),
        Some(n) if n > LIST_TABLES_LIMIT_MAX => errors.push(constraint(
            &n.to_string(),
            "limit",
            "Member must have value less than or equal to 100",
        )),
        _ => {}
    }
    framework(errors)?;
    Ok(req.limit.unwrap_or(LIST_TABLES_LIMIT_MAX))
}

/// How many partitions a new table starts with: DynamoDB's rule of thumb
/// `ceil(RCU / 3000 + WCU / 1000)` for provisioned tables, `partitions_on_demand` for
/// on-demand ones; then clamped to `[partitions_min, partitions_max]` (and at least 1), unless
/// `partitions_override` says otherwise.
pub fn partition_count(req: &CreateTableRequest, cfg: &TableConfig) -> u32 {
    if let Some(n) = cfg.partitions_override {
        return n.clamp(1, cfg.partitions_max.max(1));
    }
    let wanted = match (req.billing_mode, req.provisioned_throughput) {
        (Some(BillingMode::PayPerRequest), _) | (_, None) => cfg.partitions_on_demand as u64,
        (_, Some(t)) => {
            // ceil(r/3000 + w/1000) == ceil((r + 3w) / 3000), exactly, in integers.
            let units = t.read_capacity_units as u128 + 3 * t.write_capacity_units as u128;
            units.div_ceil(3000).min(u32::MAX as u128) as u64
        }
    };
    let lo = cfg.partitions_min.max(1) as u64;
    let hi = (cfg.partitions_max as u64).max(lo);
    wanted.clamp(lo, hi) as u32
}

/// `n` contiguous ranges tiling the 64-bit hash space, as equal as integers allow.
pub fn split_hash_space(n: u32) -> Vec<HashRange> {
    let n = n.max(1) as u128;
    let space = 1u128 << 64;
    (0..n)
        .map(|i| {
            let start = (space * i / n) as u64;
            let end = space * (i + 1) / n;
            HashRange {
                start,
                end: (end < space).then_some(end as u64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
