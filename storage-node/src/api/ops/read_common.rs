//! What Query and Scan share: their common parameters (`Select`, `Limit`, `ConsistentRead`,
//! `IndexName`, `ExclusiveStartKey`, `ReturnConsumedCapacity`), the page loop over the
//! partitions a read covers, and the response.
//!
//! A page (dynamodb-facts §2.4, §2.7) holds at most `Limit` items *evaluated* and at most 1 MB
//! of them (`wire::forward::PAGE_BYTES_MAX`, measured on stored images), whichever comes
//! first; the filter runs after, so a page may return no item yet a `LastEvaluatedKey`, which
//! is the key of the last item read whenever the read stopped at a limit. [`read_span`] asks
//! the backend for the span one partition at a time (a partition answers up to its end with a
//! boundary; the loop goes on from there), spending what is left of both limits.
//!
//! Consumed capacity is the sum of every item read (before filter, projection and `Select`),
//! rounded up to 4 KB once, halved for eventually consistent reads (`wire::capacity::ReadTally`).

use serde_json::{Map, Value};
use wire::capacity::{
    CapacityOp, ConsumedCapacity, ReadConsistency, ReadTally, ReturnConsumedCapacity,
};
use wire::expr::legacy::{self, LegacyParams, Operation as LegacyOp};
use wire::expr::{Condition, ParsedExpressions, Projection, RequestExpressions, evaluate};
use wire::forward::{PAGE_BYTES_MAX, PageEnd, RangeRead};
use wire::item::{Item, KeySchema, item_size_bytes, item_to_json, parse_item};

use super::item_common::resolve_table;
use super::write_common::placeholder_maps;
use super::{Ctx, Params, Violations, member, opt_i64, opt_object, opt_str};
use crate::api::backend::{RangeCall, TableRef};
use crate::api::error::ApiError;

/// `Select`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    AllAttributes,
    AllProjectedAttributes,
    SpecificAttributes,
    Count,
}

const SELECT_VALUES: &[&str] = &[
    "SPECIFIC_ATTRIBUTES",
    "COUNT",
    "ALL_ATTRIBUTES",
    "ALL_PROJECTED_ATTRIBUTES",
];

/// `Select`; a value outside the enum is a framework violation.
pub fn select(params: &Params, v: &mut Violations) -> Result<Option<Select>, ApiError> {
    Ok(match opt_str(params, "Select")? {
        None => None,
        Some("ALL_ATTRIBUTES") => Some(Select::AllAttributes),
        Some("ALL_PROJECTED_ATTRIBUTES") => Some(Select::AllProjectedAttributes),
        Some("SPECIFIC_ATTRIBUTES") => Some(Select::SpecificAttributes),
        Some("COUNT") => Some(Select::Count),
        Some(other) => {
            v.enum_value(other, "select", SELECT_VALUES);
            None
        }
    })
}

/// An integer member with a lower (and optional upper) bound, as the framework checks it.
pub fn bounded(
    params: &Params,
    name: &str,
    field: &str,
    min: i64,
    max: Option<i64>,
    v: &mut Violations,
) -> Result<Option<i64>, ApiError> {
    let Some(n) = opt_i64(params, name)? else {
        return Ok(None);
    };
    if n < min {
        v.push(format!(
            "Value '{n}' at '{field}' failed to satisfy constraint: Member must have value \
             greater than or equal to {min}"
        ));
    } else if let Some(max) = max
        && n > max
    {
        v.push(format!(
            "Value '{n}' at '{field}' failed to satisfy constraint: Member must have value less \
             than or equal to {max}"
        ));
    }
    Ok(Some(n))
}

/// `IndexName`: 3 to 255 characters of `[a-zA-Z0-9_.-]` (framework rules).
pub fn index_name<'a>(params: &'a Params, v: &mut Violations) -> Result<Option<&'a str>, ApiError> {
    let name = opt_str(params, "IndexName")?;
    if let Some(n) = name {
        if !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            v.push(format!(
                "Value '{n}' at 'indexName' failed to satisfy constraint: Member must satisfy \
                 regular expression pattern: [a-zA-Z0-9_.-]+"
            ));
        }
        if !(3..=255).contains(&n.len()) {
            v.push(format!(
                "Value '{n}' at 'indexName' failed to satisfy constraint: Member must have \
                 length less than or equal to 255, Member must have length greater than or \
                 equal to 3"
            ));
        }
    }
    Ok(name)
}

/// DynamoDB's rules between `Select` and a projection (`which`: the parameter that carries it,
/// `ProjectionExpression` or `AttributesToGet`).
pub fn check_select(
    select: Option<Select>,
    projection: Option<&str>,
    index: Option<&str>,
    query: bool,
) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::Validation(m));
    match (select, projection) {
        (Some(Select::AllAttributes), Some(which)) => bad(format!(
            "Cannot specify the {which} when choosing to get ALL_ATTRIBUTES"
        )),
        (Some(Select::Count), Some(which)) => bad(format!(
            "Cannot specify the {which} when choosing to get only the Count"
        )),
        (Some(Select::AllProjectedAttributes), _) if index.is_none() => {
            bad("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName".into())
        }
        // Query reports this one in the framework's shape, Scan without it (as DynamoDB).
        (Some(Select::SpecificAttributes), None) => bad(format!(
            "{}Must specify the AttributesToGet or ProjectionExpression when choosing to get \
             SPECIFIC_ATTRIBUTES",
            if query {
                "1 validation error detected: "
            } else {
                ""
            }
        )),
        _ => Ok(()),
    }
}

/// Cairn has no secondary indexes yet: any `IndexName` names an index the table lacks.
pub fn no_index(index: Option<&str>) -> Result<(), ApiError> {
    match index {
        Some(name) => Err(ApiError::Validation(format!(
            "The table does not have the specified index: {name}"
        ))),
        None => Ok(()),
    }
}

/// `ExclusiveStartKey` as the table's primary key (stored form), or "The provided starting
/// key is invalid: …".
pub fn exclusive_start_key(
    params: &Params,
    schema: &KeySchema,
) -> Result<Option<wire::item::PrimaryKey>, ApiError> {
    let Some(m) = opt_object(params, "ExclusiveStartKey")? else {
        return Ok(None);
    };
    let invalid =
        |m: String| ApiError::Validation(format!("The provided starting key is invalid: {m}"));
    let item = match parse_item(&Value::Object(m.clone())) {
        Ok(item) => item,
        Err(e) => {
            let e = ApiError::from(e);
            return Err(match e {
                ApiError::Validation(m) => invalid(m),
                other => other,
            });
        }
    };
    schema
        .key_of_key(&item)
        .map(Some)
        .map_err(|e| match ApiError::from(e) {
            ApiError::Validation(m) => invalid(m),
            other => other,
        })
}

/// A Query or Scan after its request-wide checks: expressions and legacy parameters parsed,
/// the table resolved.
pub struct Prepared {
    pub parsed: ParsedExpressions,
    pub legacy: LegacyParams,
    pub table: TableRef,
    pub schema: KeySchema,
}

/// The checks Query and Scan share, in DynamoDB's order after the framework violations: the
/// legacy parameters and their mix with expressions, the expressions (`key_condition`: Query's
/// KeyConditionExpression), `Select` against the projection, then the table and the index.
pub async fn prepare(
    ctx: &Ctx<'_>,
    params: &Params,
    op: LegacyOp,
    name: &str,
    key_condition: Option<&str>,
    select: Option<Select>,
    index: Option<&str>,
) -> Result<Prepared, ApiError> {
    let legacy = legacy::parse_legacy(op, params)?;
    let (names, values) = placeholder_maps(params)?;
    let parsed = RequestExpressions {
        key_condition,
        filter: opt_str(params, "FilterExpression")?,
        projection: opt_str(params, "ProjectionExpression")?,
        names: names.as_ref(),
        values: values.as_ref(),
        ..Default::default()
    }
    .parse()?;
    let projection_param = ["ProjectionExpression", "AttributesToGet"]
        .into_iter()
        .find(|p| member(params, p).is_some());
    check_select(select, projection_param, index, op == LegacyOp::Query)?;
    let (table, schema) = resolve_table(ctx, name).await?;
    no_index(index)?;
    Ok(Prepared {
        parsed,
        legacy,
        table,
        schema,
    })
}

/// The knobs Query and Scan share for paging and answering.
pub struct Knobs {
    pub select: Option<Select>,
    /// A validated `Limit` (≥ 1).
    pub limit: Option<i64>,
    pub consistent: bool,
    pub capacity: ReturnConsumedCapacity,
}

impl Prepared {
    /// Reads one page of `span` and builds the response (`op`: Query or Scan).
    pub async fn answer(
        self,
        ctx: &Ctx<'_>,
        op: CapacityOp,
        span: Span,
        k: Knobs,
    ) -> Result<Value, ApiError> {
        let limit = k.limit.map(|l| u32::try_from(l).unwrap_or(u32::MAX).max(1));
        let page = read_span(ctx, &self.table, span, limit, k.consistent).await?;
        let filter = self.parsed.filter.or(self.legacy.filter);
        let projection = self.parsed.projection.or(self.legacy.projection);
        Ok(respond(
            &Answer {
                op,
                table: &self.table,
                schema: &self.schema,
                select: k.select,
                filter: filter.as_ref(),
                projection: projection.as_ref(),
                consistent: k.consistent,
                capacity: k.capacity,
            },
            page,
        ))
    }
}

/// The stored keys one read covers, and its direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub lower: Vec<u8>,
    pub lower_inclusive: bool,
    pub upper: Vec<u8>,
    pub upper_inclusive: bool,
    pub reverse: bool,
}

impl Span {
    /// Whether `key` lies within the span.
    pub fn contains(&self, key: &[u8]) -> bool {
        let above = if self.lower_inclusive {
            key >= &self.lower[..]
        } else {
            key > &self.lower[..]
        };
        let below = if self.upper_inclusive {
            key <= &self.upper[..]
        } else {
            key < &self.upper[..]
        };
        above && below
    }

    /// The rest of the span after `key` in the read's direction (an ExclusiveStartKey).
    pub fn after(mut self, key: Vec<u8>) -> Span {
        if self.reverse {
            self.upper = key;
            self.upper_inclusive = false;
        } else {
            self.lower = key;
            self.lower_inclusive = false;
        }
        self
    }
}

/// One page read: the items evaluated, in order, and whether the read stopped at a limit
/// (then the last item's key is the `LastEvaluatedKey`).
struct Page {
    pub items: Vec<Item>,
    pub more: bool,
}

/// Reads one page of `span` (see the module docs).
async fn read_span(
    ctx: &Ctx<'_>,
    table: &TableRef,
    mut span: Span,
    limit: Option<u32>,
    consistent: bool,
) -> Result<Page, ApiError> {
    let mut items: Vec<Item> = Vec::new();
    let mut bytes = 0u64;
    loop {
        let items_max = limit.map_or(u32::MAX, |l| l.saturating_sub(items.len() as u32));
        let bytes_max = u64::from(PAGE_BYTES_MAX).saturating_sub(bytes) as u32;
        if items_max == 0 || bytes_max == 0 {
            // Only a backend that read past the limits it was given gets here.
            return Err(ApiError::Internal(
                "a range read returned more than it was asked for".into(),
            ));
        }
        let read = RangeRead {
            lower: span.lower.clone(),
            lower_inclusive: span.lower_inclusive,
            upper: span.upper.clone(),
            upper_inclusive: span.upper_inclusive,
            reverse: span.reverse,
            consistent,
            items_max,
            bytes_max,
        };
        let page = ctx
            .backend
            .read_range(RangeCall {
                table: table.clone(),
                read,
            })
            .await?;
        bytes += page.bytes;
        items.extend(page.items);
        match page.end {
            PageEnd::Done => return Ok(Page { items, more: false }),
            PageEnd::Limit => {
                if items.is_empty() {
                    return Err(ApiError::Internal("a full page without items".into()));
                }
                return Ok(Page { items, more: true });
            }
            PageEnd::Boundary(next) => {
                let spent = limit.is_some_and(|l| items.len() as u32 >= l)
                    || bytes >= u64::from(PAGE_BYTES_MAX);
                if spent {
                    return Ok(Page { items, more: true });
                }
                span.lower = next;
                span.lower_inclusive = true;
            }
        }
    }
}

/// What the response is built from.
struct Answer<'a> {
    pub op: CapacityOp,
    pub table: &'a TableRef,
    pub schema: &'a KeySchema,
    pub select: Option<Select>,
    pub filter: Option<&'a Condition>,
    pub projection: Option<&'a Projection>,
    pub consistent: bool,
    pub capacity: ReturnConsumedCapacity,
}

/// The response: `Items` (unless `Select=COUNT`), `Count`, `ScannedCount`,
/// `LastEvaluatedKey` and `ConsumedCapacity`.
fn respond(a: &Answer<'_>, page: Page) -> Value {
    let mut tally = ReadTally::new();
    for item in &page.items {
        tally.add_item(item_size_bytes(item));
    }
    let last_key = match (page.more, page.items.last()) {
        (true, Some(last)) => Some(key_json(a.schema, last)),
        _ => None,
    };
    let scanned = page.items.len();
    let matched: Vec<Item> = page
        .items
        .into_iter()
        .filter(|i| a.filter.is_none_or(|f| evaluate(f, Some(i))))
        .collect();
    let mut out = Map::new();
    out.insert("Count".into(), Value::from(matched.len()));
    out.insert("ScannedCount".into(), Value::from(scanned));
    if a.select != Some(Select::Count) {
        let items = matched
            .iter()
            .map(|i| match a.projection {
                Some(p) => Value::Object(item_to_json(&p.apply(i))),
                None => Value::Object(item_to_json(i)),
            })
            .collect();
        out.insert("Items".into(), Value::Array(items));
    }
    if let Some(k) = last_key {
        out.insert("LastEvaluatedKey".into(), Value::Object(k));
    }
    let mut cc = ConsumedCapacity::new(a.capacity, a.op);
    cc.add_read(
        &a.table.name,
        tally.units(ReadConsistency::from_consistent_read(a.consistent)),
    );
    cc.write_into(&mut out);
    Value::Object(out)
}

/// The key attributes of `item`, as JSON.
fn key_json(schema: &KeySchema, item: &Item) -> Map<String, Value> {
    let key: Item = item
        .iter()
        .filter(|(name, _)| schema.is_key_attribute(name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    item_to_json(&key)
}
