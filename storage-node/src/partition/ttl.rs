//! Time to live, sans-IO: which items have expired, and the delete that removes one only if
//! it still has (DynamoDB's rules, dynamodb-facts §2.4): the table's TTL attribute must hold a
//! number, read as seconds since the Unix epoch; the item has expired once that time has
//! passed; values five years or more in the past are ignored (they are taken to be in another
//! unit, or not to be expiry times at all); any other type is ignored.
//!
//! The sweeper (`node/ttl.rs`) reads the partition and sends, for each expired item, a
//! conditional delete ([`delete_if_expired`]) through the leader's evaluated-write path: the
//! condition is checked against the current item atomically with the delete, so an item
//! whose expiry was moved forward meanwhile (or that was replaced) is kept.

use std::str::FromStr;

use wire::expr::codec::encode_condition;
use wire::expr::{Comparator, Condition, Operand, Path};
use wire::forward::{EvalWrite, ReturnImage, WriteAction};
use wire::item::{AttributeValue, Item};
use wire::number::Number;

/// Expiry times further in the past than this are ignored (DynamoDB: five years).
pub const IGNORED_AFTER_SECS: u64 = 5 * 365 * 24 * 3600;

/// The oldest expiry time still honoured at `now_s`.
fn oldest(now_s: u64) -> u64 {
    now_s.saturating_sub(IGNORED_AFTER_SECS)
}

fn number(n: u64) -> Number {
    Number::from_str(&n.to_string()).expect("an integer of at most 20 digits is a number")
}

/// Whether `item` has expired at `now_s` under the TTL attribute `attribute`.
pub fn expired(item: &Item, attribute: &str, now_s: u64) -> bool {
    let Some(AttributeValue::N(at)) = item.get(attribute) else {
        return false;
    };
    *at <= number(now_s) && *at >= number(oldest(now_s))
}

/// The condition [`expired`] states, as the leader evaluates it.
pub fn expired_condition(attribute: &str, now_s: u64) -> Condition {
    let cmp = |op, n| {
        Condition::Compare(
            op,
            Operand::Path(Path::attr(attribute)),
            Operand::Value(AttributeValue::N(number(n))),
        )
    };
    Condition::And(
        Box::new(cmp(Comparator::Le, now_s)),
        Box::new(cmp(Comparator::Ge, oldest(now_s))),
    )
}

/// A delete of the item that applies only if it has still expired at `now_s`.
pub fn delete_if_expired(attribute: &str, now_s: u64) -> EvalWrite {
    EvalWrite {
        action: WriteAction::Delete,
        condition: Some(encode_condition(&expired_condition(attribute, now_s))),
        returns: ReturnImage::None,
        old_on_failure: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Rng, test_seeds};

    fn item(v: AttributeValue) -> Item {
        [("exp".to_owned(), v)].into_iter().collect()
    }

    #[test]
    fn numbers_in_the_past_expire_other_values_do_not() {
        let now = 1_800_000_000;
        let n = |s: &str| AttributeValue::N(Number::from_str(s).unwrap());
        assert!(expired(&item(n("1800000000")), "exp", now));
        assert!(expired(&item(n("1799999999.5")), "exp", now));
        assert!(!expired(&item(n("1800000000.001")), "exp", now));
        assert!(
            !expired(&item(n("1000")), "exp", now),
            "over five years ago"
        );
        assert!(!expired(&item(AttributeValue::S("1".into())), "exp", now));
        assert!(!expired(&item(n("1")), "other", now));
    }

    /// The leader's evaluation of the condition agrees with [`expired`] on random items.
    #[test]
    fn the_condition_says_what_expired_says() {
        for seed in test_seeds(200) {
            let mut rng = Rng::new(seed);
            let now = 1_700_000_000 + rng.below(1 << 30);
            let at = now as i64 + rng.below(2 * IGNORED_AFTER_SECS) as i64
                - IGNORED_AFTER_SECS as i64
                - rng.below(3) as i64;
            let v = match rng.below(4) {
                0 => AttributeValue::S(at.to_string()),
                _ => AttributeValue::N(Number::from_str(&at.to_string()).unwrap()),
            };
            let it = item(v);
            let cond = expired_condition("exp", now);
            assert_eq!(
                wire::expr::evaluate(&cond, Some(&it)),
                expired(&it, "exp", now),
                "seed {seed}: {it:?} at {now}"
            );
        }
    }
}
