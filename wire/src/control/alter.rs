//! Changes to an existing table, pure: [`alter`] checks a [`TableChange`] against the table's
//! current description with DynamoDB's errors and returns the new description. The control
//! plane (`control-plane/src/service/lifecycle.rs`) reads the description, calls this, and
//! writes the result in one fenced etcd transaction, retrying on a concurrent change; the
//! API's in-memory test backend calls it too, so both answer alike.
//!
//! - UpdateTable (`Capacity`): switching to `PAY_PER_REQUEST` drops the throughput; to
//!   `PROVISIONED` needs one; throughput on an on-demand table is refused, as is a request that
//!   changes nothing. (DynamoDB's daily limits on decreases and on billing-mode switches are
//!   issue 7's admission work: not enforced yet.)
//! - TagResource / UntagResource: tags merge by key, at most 50 per table; `aws:` keys are
//!   reserved for AWS.
//! - UpdateTimeToLive: enabling twice, disabling twice, or disabling under another attribute
//!   name are errors.

use super::{
    BillingMode, CAPACITY_UNITS_BOUND, ControlError, ControlErrorKind, ProvisionedThroughput,
    TAGS_PER_RESOURCE_MAX, TableChange, TableDesc, TableStatus,
};

fn validation(message: impl Into<String>) -> ControlError {
    ControlError::new(ControlErrorKind::Validation, message)
}

fn invalid(detail: &str) -> ControlError {
    validation(format!(
        "One or more parameter values were invalid: {detail}"
    ))
}

/// The table after `change`, or DynamoDB's error for it. `capacity_units_max`: the per-table
/// RCU and WCU quota (DynamoDB's default: 40,000).
pub fn alter(
    desc: &TableDesc,
    change: &TableChange,
    capacity_units_max: u64,
) -> Result<TableDesc, ControlError> {
    let mut next = desc.clone();
    match change {
        TableChange::Capacity {
            billing_mode,
            provisioned_throughput,
        } => {
            in_use_unless_active(desc)?;
            capacity(
                &mut next,
                *billing_mode,
                *provisioned_throughput,
                capacity_units_max,
            )?;
        }
        TableChange::Tag(tags) => {
            in_use_unless_active(desc)?;
            for t in tags {
                if t.key.starts_with("aws:") {
                    return Err(validation(
                        "User-defined tag keys cannot start with the reserved prefix 'aws:'",
                    ));
                }
            }
            for t in tags {
                match next.settings.tags.iter_mut().find(|o| o.key == t.key) {
                    Some(o) => o.value = t.value.clone(),
                    None => next.settings.tags.push(t.clone()),
                }
            }
            if next.settings.tags.len() > TAGS_PER_RESOURCE_MAX {
                return Err(ControlError::new(
                    ControlErrorKind::LimitExceeded,
                    format!(
                        "The number of tags on a resource cannot exceed {TAGS_PER_RESOURCE_MAX}"
                    ),
                ));
            }
            next.settings.tags.sort_by(|a, b| a.key.cmp(&b.key));
        }
        TableChange::Untag(keys) => {
            in_use_unless_active(desc)?;
            next.settings.tags.retain(|t| !keys.contains(&t.key));
        }
        TableChange::TimeToLive {
            enabled,
            attribute_name,
        } => {
            in_use_unless_active(desc)?;
            match (&desc.settings.ttl_attribute, enabled) {
                (Some(_), true) => return Err(validation("TimeToLive is already enabled")),
                (None, false) => return Err(validation("TimeToLive is already disabled")),
                (Some(current), false) if current != attribute_name => {
                    return Err(validation(format!(
                        "TimeToLive is active on a different AttributeName: current \
                         AttributeName is {current}"
                    )));
                }
                _ => {}
            }
            next.settings.ttl_attribute = enabled.then(|| attribute_name.clone());
        }
    }
    debug_assert!(
        next.settings.tags.windows(2).all(|w| w[0].key < w[1].key),
        "tags sorted and distinct"
    );
    Ok(next)
}

/// DynamoDB's absolute bound on capacity values (CreateTable, UpdateTable), checked before
/// the account's quota: "Given value N for ReadCapacityUnits is out of bounds".
pub fn check_bounds(t: ProvisionedThroughput) -> Result<(), ControlError> {
    for (v, name) in [
        (t.read_capacity_units, "ReadCapacityUnits"),
        (t.write_capacity_units, "WriteCapacityUnits"),
    ] {
        if v > CAPACITY_UNITS_BOUND {
            return Err(validation(format!(
                "Given value {v} for {name} is out of bounds"
            )));
        }
    }
    Ok(())
}

fn in_use_unless_active(desc: &TableDesc) -> Result<(), ControlError> {
    let what = match desc.status {
        TableStatus::Active => return Ok(()),
        TableStatus::Creating => "being created",
        TableStatus::Deleting => "being deleted",
    };
    Err(ControlError::new(
        ControlErrorKind::ResourceInUse,
        format!(
            "Attempt to change a resource which is still in use: Table is {what}: {}",
            desc.name
        ),
    ))
}

fn capacity(
    next: &mut TableDesc,
    mode: Option<BillingMode>,
    throughput: Option<ProvisionedThroughput>,
    capacity_units_max: u64,
) -> Result<(), ControlError> {
    let target = mode.unwrap_or(next.billing_mode);
    match (target, throughput) {
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when \
                 BillingMode is PAY_PER_REQUEST",
            ));
        }
        (BillingMode::Provisioned, None) if next.billing_mode != BillingMode::Provisioned => {
            return Err(invalid(
                "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
            ));
        }
        _ => {}
    }
    if let Some(t) = throughput {
        check_bounds(t)?;
        for (v, name) in [
            (t.read_capacity_units, "ReadCapacityUnits"),
            (t.write_capacity_units, "WriteCapacityUnits"),
        ] {
            if v > capacity_units_max {
                return Err(ControlError::new(
                    ControlErrorKind::LimitExceeded,
                    format!(
                        "Subscriber limit exceeded: Provisioned throughput for a table cannot \
                         exceed {} capacity units (requested {v} {name})",
                        capacity_units_max
                    ),
                ));
            }
        }
        if next.billing_mode == BillingMode::Provisioned
            && let Some(cur) = next.provisioned_throughput
            && cur == t
        {
            return Err(validation(format!(
                "The provisioned throughput for the table will not change. The requested value \
                 equals the current value. Current ReadCapacityUnits provisioned for the table: \
                 {}. Requested ReadCapacityUnits: {}. Current WriteCapacityUnits provisioned for \
                 the table: {}. Requested WriteCapacityUnits: {}. Refer to the Amazon DynamoDB \
                 Developer Guide for current limits and how to request higher limits.",
                cur.read_capacity_units,
                t.read_capacity_units,
                cur.write_capacity_units,
                t.write_capacity_units
            )));
        }
    } else if mode == Some(next.billing_mode) {
        return Err(validation(format!(
            "The table is already in the {} billing mode",
            next.billing_mode.as_str()
        )));
    }
    next.billing_mode = target;
    next.provisioned_throughput = match target {
        BillingMode::PayPerRequest => None,
        BillingMode::Provisioned => throughput.or(next.provisioned_throughput),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TableId;
    use crate::control::ResourceTag;

    const CAP: u64 = 40_000;

    fn table(mode: BillingMode) -> TableDesc {
        TableDesc {
            name: "t".into(),
            id: TableId(1),
            key_schema: vec![],
            attribute_definitions: vec![],
            billing_mode: mode,
            provisioned_throughput: (mode == BillingMode::Provisioned).then_some(
                ProvisionedThroughput {
                    read_capacity_units: 5,
                    write_capacity_units: 5,
                },
            ),
            status: TableStatus::Active,
            creation_time_ms: 0,
            item_count: 0,
            size_bytes: 0,
            partitions: vec![],
            settings: Default::default(),
        }
    }

    fn tp(r: u64, w: u64) -> Option<ProvisionedThroughput> {
        Some(ProvisionedThroughput {
            read_capacity_units: r,
            write_capacity_units: w,
        })
    }

    fn cap(m: Option<BillingMode>, t: Option<ProvisionedThroughput>) -> TableChange {
        TableChange::Capacity {
            billing_mode: m,
            provisioned_throughput: t,
        }
    }

    #[test]
    fn capacity_changes() {
        let p = table(BillingMode::Provisioned);
        let d = alter(&p, &cap(None, tp(10, 3)), CAP).unwrap();
        assert_eq!(d.provisioned_throughput, tp(10, 3));
        let e = alter(&p, &cap(None, tp(5, 5)), CAP).unwrap_err();
        assert!(
            e.message
                .starts_with("The provisioned throughput for the table will not change")
        );
        let d = alter(&p, &cap(Some(BillingMode::PayPerRequest), None), CAP).unwrap();
        assert_eq!(
            (d.billing_mode, d.provisioned_throughput),
            (BillingMode::PayPerRequest, None)
        );
        let o = table(BillingMode::PayPerRequest);
        let e = alter(&o, &cap(Some(BillingMode::Provisioned), None), CAP).unwrap_err();
        assert!(
            e.message
                .contains("ProvisionedThroughput must be specified"),
            "{}",
            e.message
        );
        let e = alter(&o, &cap(None, tp(1, 1)), CAP).unwrap_err();
        assert!(e.message.contains("PAY_PER_REQUEST"), "{}", e.message);
        let d = alter(&o, &cap(Some(BillingMode::Provisioned), tp(1, 2)), CAP).unwrap();
        assert_eq!(d.provisioned_throughput, tp(1, 2));
        let e = alter(&p, &cap(None, tp(40_001, 1)), CAP).unwrap_err();
        assert_eq!(e.kind, ControlErrorKind::LimitExceeded);
        let mut creating = p.clone();
        creating.status = TableStatus::Creating;
        let e = alter(&creating, &cap(None, tp(9, 9)), CAP).unwrap_err();
        assert_eq!(e.kind, ControlErrorKind::ResourceInUse);
    }

    #[test]
    fn tags_merge_and_untag() {
        let tag = |k: &str, v: &str| ResourceTag {
            key: k.into(),
            value: v.into(),
        };
        let t = table(BillingMode::PayPerRequest);
        let d = alter(
            &t,
            &TableChange::Tag(vec![tag("b", "1"), tag("a", "2")]),
            CAP,
        )
        .unwrap();
        let d = alter(&d, &TableChange::Tag(vec![tag("b", "3")]), CAP).unwrap();
        assert_eq!(d.settings.tags.as_slice(), &[tag("a", "2"), tag("b", "3")]);
        let d = alter(&d, &TableChange::Untag(vec!["a".into(), "zz".into()]), CAP).unwrap();
        assert_eq!(d.settings.tags.as_slice(), &[tag("b", "3")]);
        let e = alter(&d, &TableChange::Tag(vec![tag("aws:x", "")]), CAP).unwrap_err();
        assert!(e.message.contains("aws:"));
        let many: Vec<ResourceTag> = (0..50).map(|i| tag(&format!("k{i:02}"), "")).collect();
        let e = alter(&d, &TableChange::Tag(many), CAP).unwrap_err();
        assert_eq!(e.kind, ControlErrorKind::LimitExceeded);
    }

    #[test]
    fn time_to_live_toggles_once() {
        let ttl = |on: bool, name: &str| TableChange::TimeToLive {
            enabled: on,
            attribute_name: name.into(),
        };
        let t = table(BillingMode::PayPerRequest);
        let e = alter(&t, &ttl(false, "exp"), CAP).unwrap_err();
        assert_eq!(e.message, "TimeToLive is already disabled");
        let d = alter(&t, &ttl(true, "exp"), CAP).unwrap();
        assert_eq!(d.settings.ttl_attribute.as_deref(), Some("exp"));
        assert_eq!(
            alter(&d, &ttl(true, "exp"), CAP).unwrap_err().message,
            "TimeToLive is already enabled"
        );
        assert!(alter(&d, &ttl(false, "other"), CAP).is_err());
        let d = alter(&d, &ttl(false, "exp"), CAP).unwrap();
        assert_eq!(d.settings.ttl_attribute, None);
    }
}
