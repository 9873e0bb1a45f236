//! Scan: every item of the table (or of one parallel-scan segment), in stored-key order
//! (hash order: meaningful to nobody, as DynamoDB's), filtered (`FilterExpression` /
//! `ScanFilter`), projected and paged (`read_common.rs`); each page crosses as many partitions
//! as its limits allow.
//!
//! Parallel scan: `Segment` s of `TotalSegments` n is the hash range
//! `[⌊s·2⁶⁴/n⌋, ⌊(s+1)·2⁶⁴/n⌋)`, i.e. the stored keys from `table | start hash` up to
//! `table | end hash` (the table's end for the last segment). Segments are disjoint and cover
//! the table, so n workers see every item exactly once; an `ExclusiveStartKey` must lie in the
//! segment it is sent with.

use serde_json::Value;
use wire::TableId;
use wire::capacity::CapacityOp;
use wire::expr::legacy::Operation as LegacyOp;
use wire::key::{table_prefix, table_range};

use super::read_common::{Knobs, Span, bounded, exclusive_start_key, index_name, prepare, select};
use super::write_common::return_consumed_capacity;
use super::{Ctx, Params, Violations, opt_bool, table_name};
use crate::api::error::ApiError;

/// DynamoDB's largest `TotalSegments`.
pub const TOTAL_SEGMENTS_MAX: i64 = 1_000_000;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let index = index_name(params, &mut v)?;
    let select = select(params, &mut v)?;
    let limit = bounded(params, "Limit", "limit", 1, None, &mut v)?;
    let segment = bounded(
        params,
        "Segment",
        "segment",
        0,
        Some(TOTAL_SEGMENTS_MAX - 1),
        &mut v,
    )?;
    let total = bounded(
        params,
        "TotalSegments",
        "totalSegments",
        1,
        Some(TOTAL_SEGMENTS_MAX),
        &mut v,
    )?;
    let capacity = return_consumed_capacity(params, &mut v)?;
    let consistent = opt_bool(params, "ConsistentRead")?.unwrap_or(false);
    v.finish()?;
    let segments = match (segment, total) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ApiError::Validation(
                "The TotalSegments parameter is required but was not present in the request \
                 when Segment parameter is present"
                    .into(),
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::Validation(
                "The Segment parameter is required but was not present in the request when \
                 parameter TotalSegments is present"
                    .into(),
            ));
        }
        (Some(s), Some(n)) if s >= n => {
            return Err(ApiError::Validation(format!(
                "The Segment parameter is zero-based and must be less than parameter \
                 TotalSegments: Segment: {s} is not less than TotalSegments: {n}"
            )));
        }
        (Some(s), Some(n)) => Some((s as u64, n as u64)),
    };
    let prep = prepare(ctx, params, LegacyOp::Scan, name, None, select, index).await?;
    let (s, n) = segments.unwrap_or((0, 1));
    let mut span = segment_span(prep.table.id, s, n);
    if let Some(start) = exclusive_start_key(params, &prep.schema)? {
        if !span.contains(&start.encoded) {
            return Err(ApiError::Validation(format!(
                "The provided starting key is invalid: it does not belong to Segment {s} of \
                 TotalSegments {n}"
            )));
        }
        span = span.after(start.encoded);
    }
    prep.answer(
        ctx,
        CapacityOp::Scan,
        span,
        Knobs {
            select,
            limit,
            consistent,
            capacity,
        },
    )
    .await
}

/// The first hash of segment `s` of `n` (`2⁶⁴` for `s == n`).
fn segment_start(s: u64, n: u64) -> u128 {
    (u128::from(s) << 64) / u128::from(n)
}

/// The stored keys of segment `s` of `n` of `table`.
pub fn segment_span(table: TableId, s: u64, n: u64) -> Span {
    assert!(n >= 1 && s < n, "segment {s} of {n}");
    let at = |hash: u64| {
        let mut k = table_prefix(table);
        k.extend_from_slice(&hash.to_be_bytes());
        k
    };
    let upper = match u64::try_from(segment_start(s + 1, n)) {
        Ok(end) => at(end),
        Err(_) => table_range(table).1,
    };
    Span {
        lower: at(segment_start(s, n) as u64),
        lower_inclusive: true,
        upper,
        upper_inclusive: false,
        reverse: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_disjoint_and_cover_the_table() {
        let t = TableId(7);
        for n in [1u64, 2, 3, 7, 1000, 1_000_000] {
            let spans: Vec<Span> = [0, n / 2, n - 1]
                .iter()
                .map(|&s| segment_span(t, s, n))
                .collect();
            assert_eq!(
                spans[0].lower,
                table_prefix(t)
                    .into_iter()
                    .chain([0; 8])
                    .collect::<Vec<u8>>()
            );
            assert_eq!(spans[2].upper, table_range(t).1);
            for s in 0..n.min(50) {
                let (a, b) = (
                    segment_span(t, s, n),
                    segment_span(t, (s + 1).min(n - 1), n),
                );
                if s + 1 < n {
                    assert_eq!(a.upper, b.lower, "segment {s} of {n} meets the next one");
                }
                assert!(a.lower < a.upper);
            }
        }
    }
}
