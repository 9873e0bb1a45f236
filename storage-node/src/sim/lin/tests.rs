//! Hand-written histories with known answers, built through the public
//! recorder API. Every verdict on a small history is also confirmed by the
//! brute-force oracle.

use super::brute::{BRUTE_OPS_MAX, brute_linearizable, prefix_is_valid};
use super::*;

const K: u64 = 7;

/// `(client, key, input, call, Some((output, ret)) | None = unknown)`.
type Spec = (u32, u64, Input, u64, Option<(Output, u64)>);

fn history(specs: &[Spec]) -> History {
    let mut h = History::new();
    for &(client, key, input, call, result) in specs {
        let id = h.invoke(client, key, input, call);
        match result {
            Some((output, ret)) => h.complete(id, output, ret),
            None => h.unknown(id),
        }
    }
    h
}

fn put(v: u64) -> Input {
    Input::Put { value: v }
}

fn cas(expected: Option<u64>, value: u64) -> Input {
    Input::CondPut { expected, value }
}

fn val(v: Option<u64>) -> Output {
    Output::Value(v)
}

fn check(h: &History) -> CheckResult {
    h.check(CheckBudget::default())
}

#[track_caller]
fn assert_linearizable(specs: &[Spec]) {
    let h = history(specs);
    let r = check(&h);
    assert!(r.is_linearizable(), "expected linearizable, got:\n{r}");
    assert!(
        h.len() > BRUTE_OPS_MAX || brute_linearizable(&h),
        "brute force disagrees"
    );
}

#[track_caller]
fn assert_violation(specs: &[Spec]) -> Violation {
    let h = history(specs);
    let r = check(&h);
    let v = r
        .violation()
        .unwrap_or_else(|| panic!("expected a violation, got {r}"))
        .clone();
    assert!(
        h.len() > BRUTE_OPS_MAX || !brute_linearizable(&h),
        "brute force finds a linearization"
    );
    prefix_is_valid(&h, v.key, &v.longest_prefix).unwrap();
    v
}

#[test]
fn empty_and_sequential_histories_are_linearizable() {
    assert!(check(&History::new()).is_linearizable());
    assert_linearizable(&[
        (1, K, Input::Get, 0, Some((val(None), 1))),
        (1, K, put(1), 2, Some((Output::Ok, 3))),
        (1, K, Input::Get, 4, Some((val(Some(1)), 5))),
        (1, K, cas(Some(1), 2), 6, Some((Output::CondOk, 7))),
        (1, K, cas(None, 3), 8, Some((Output::CondFailed, 9))),
        (1, K, Input::Delete, 10, Some((Output::Ok, 11))),
        (1, K, Input::Get, 12, Some((val(None), 13))),
    ]);
}

#[test]
fn stale_read_after_completed_write_is_a_violation() {
    let v = assert_violation(&[
        (1, K, put(1), 0, Some((Output::Ok, 10))),
        (1, K, put(2), 20, Some((Output::Ok, 30))),
        (2, K, Input::Get, 40, Some((val(Some(1)), 50))),
    ]);
    assert_eq!(v.key, K);
    assert_eq!(v.longest_prefix, vec![OpId(0), OpId(1)]);
    assert_eq!(v.state_after_prefix, Some(2));
    let text = v.to_string();
    assert!(text.contains("key 7 is not linearizable: 3 ops"), "{text}");
    assert!(
        text.contains("Value(1)") && text.contains("lin #2"),
        "{text}"
    );
    // The same read while the second write is in flight is fine.
    assert_linearizable(&[
        (1, K, put(1), 0, Some((Output::Ok, 10))),
        (1, K, put(2), 20, Some((Output::Ok, 60))),
        (2, K, Input::Get, 40, Some((val(Some(1)), 50))),
    ]);
}

#[test]
fn read_of_never_written_value_is_a_violation() {
    let v = assert_violation(&[
        (1, K, put(1), 0, Some((Output::Ok, 10))),
        (2, K, Input::Get, 5, Some((val(Some(9)), 15))),
    ]);
    assert_eq!(v.longest_prefix, vec![OpId(0)]);
}

#[test]
fn concurrent_writes_seen_in_opposite_orders_is_a_violation() {
    let writes = [
        (1, K, put(1), 0, Some((Output::Ok, 100))),
        (2, K, put(2), 0, Some((Output::Ok, 100))),
    ];
    let mut specs = writes.to_vec();
    specs.extend([
        (3, K, Input::Get, 10, Some((val(Some(1)), 20))),
        (3, K, Input::Get, 30, Some((val(Some(2)), 40))),
        (4, K, Input::Get, 10, Some((val(Some(2)), 20))),
        (4, K, Input::Get, 30, Some((val(Some(1)), 40))),
    ]);
    assert_violation(&specs);
    // Both readers agreeing on the order is fine.
    let mut specs = writes.to_vec();
    specs.extend([
        (3, K, Input::Get, 10, Some((val(Some(1)), 20))),
        (3, K, Input::Get, 30, Some((val(Some(2)), 40))),
        (4, K, Input::Get, 10, Some((val(Some(1)), 20))),
        (4, K, Input::Get, 30, Some((val(Some(2)), 40))),
    ]);
    assert_linearizable(&specs);
}

#[test]
fn cond_put_outcome_must_match_a_possible_state() {
    // attribute_not_exists succeeded although the item surely existed.
    assert_violation(&[
        (1, K, put(1), 0, Some((Output::Ok, 10))),
        (2, K, cas(None, 2), 20, Some((Output::CondOk, 30))),
    ]);
    // Equality on a value that was never there.
    assert_violation(&[
        (1, K, put(1), 0, Some((Output::Ok, 10))),
        (2, K, cas(Some(5), 2), 20, Some((Output::CondOk, 30))),
    ]);
    // Failed although the condition surely held.
    assert_violation(&[(2, K, cas(None, 2), 20, Some((Output::CondFailed, 30)))]);
    // A successful CondPut's value must then be visible.
    assert_violation(&[
        (2, K, cas(None, 2), 0, Some((Output::CondOk, 10))),
        (3, K, Input::Get, 20, Some((val(None), 30))),
    ]);
    // Concurrent with the write, either outcome is possible.
    for out in [Output::CondOk, Output::CondFailed] {
        assert_linearizable(&[
            (1, K, put(1), 0, Some((Output::Ok, 30))),
            (2, K, cas(None, 2), 10, Some((out, 20))),
        ]);
    }
}

#[test]
fn unknown_write_that_reads_show_took_effect_is_linearizable() {
    assert_linearizable(&[
        (1, K, put(1), 0, None),
        (2, K, Input::Get, 10, Some((val(None), 20))),
        (2, K, Input::Get, 50, Some((val(Some(1)), 60))),
        (2, K, Input::Get, 70, Some((val(Some(1)), 80))),
    ]);
    // Or never took effect.
    assert_linearizable(&[
        (1, K, put(1), 0, None),
        (2, K, Input::Get, 50, Some((val(None), 60))),
    ]);
    // A CondPut with unknown outcome that took effect.
    assert_linearizable(&[
        (1, K, put(1), 0, Some((Output::Ok, 5))),
        (2, K, cas(Some(1), 2), 10, None),
        (3, K, Input::Get, 50, Some((val(Some(2)), 60))),
    ]);
}

#[test]
fn unknown_write_that_appears_then_disappears_is_a_violation() {
    assert_violation(&[
        (1, K, put(1), 0, None),
        (2, K, Input::Get, 10, Some((val(Some(1)), 20))),
        (2, K, Input::Get, 30, Some((val(None), 40))),
    ]);
    // Same with an ordinary overwritten value coming back.
    assert_violation(&[
        (1, K, put(1), 0, Some((Output::Ok, 5))),
        (1, K, put(2), 0, None),
        (2, K, Input::Get, 10, Some((val(Some(2)), 20))),
        (2, K, Input::Get, 30, Some((val(Some(1)), 40))),
    ]);
}

#[test]
fn pending_ops_count_as_unknown_and_late_responses_upgrade() {
    let mut h = History::new();
    let w = h.invoke(1, K, put(1), 0);
    let r = h.invoke(2, K, Input::Get, 50);
    h.complete(r, val(Some(1)), 60);
    assert!(check(&h).is_linearizable(), "{}", check(&h));
    // The write times out, then its response arrives after the read.
    h.unknown(w);
    h.complete(w, Output::Ok, 70);
    assert_eq!(h.ops()[0].ret(), Some(70));
    assert!(check(&h).is_linearizable());
    // A read whose outcome is unknown constrains nothing.
    let g = h.invoke(3, K, Input::Get, 80);
    h.unknown(g);
    assert!(check(&h).is_linearizable());
}

#[test]
fn equal_times_mean_concurrent_strictly_later_means_ordered() {
    // Read invoked at the write's return time: may precede the write.
    assert_linearizable(&[
        (1, K, put(1), 0, Some((Output::Ok, 10))),
        (2, K, Input::Get, 10, Some((val(None), 12))),
    ]);
    // One tick later it must see the write.
    assert_violation(&[
        (1, K, put(1), 0, Some((Output::Ok, 10))),
        (2, K, Input::Get, 11, Some((val(None), 12))),
    ]);
    // Zero-length ops are fine too.
    assert_linearizable(&[
        (1, K, put(1), 5, Some((Output::Ok, 5))),
        (2, K, Input::Get, 5, Some((val(None), 5))),
    ]);
}

#[test]
fn unobserved_unknown_puts_matter_when_cond_puts_exist() {
    // The unknown Put(9) is never read but explains the failed condition.
    assert_linearizable(&[
        (1, K, put(9), 0, None),
        (2, K, cas(None, 5), 10, Some((Output::CondFailed, 20))),
    ]);
    // Without CondPuts an unobserved unknown Put is dropped; still correct.
    assert_linearizable(&[
        (1, K, put(9), 0, None),
        (2, K, Input::Get, 10, Some((val(None), 20))),
    ]);
}

#[test]
fn observed_unknown_writes_are_placed_before_their_first_reader() {
    assert_linearizable(&[
        (1, K, put(1), 0, None),
        (2, K, Input::Get, 10, Some((val(Some(1)), 20))),
        (3, K, put(2), 30, Some((Output::Ok, 40))),
        (2, K, Input::Get, 50, Some((val(Some(2)), 60))),
    ]);
    // The value can only come from the unknown write, which must precede
    // the first read of it, hence the later write too.
    assert_violation(&[
        (1, K, put(1), 0, None),
        (2, K, Input::Get, 10, Some((val(Some(1)), 20))),
        (3, K, put(2), 30, Some((Output::Ok, 40))),
        (2, K, Input::Get, 50, Some((val(Some(1)), 60))),
    ]);
    // When two ops write the same value, the first read may have seen the
    // other one and the unknown write may land later.
    assert_linearizable(&[
        (1, K, put(1), 0, None),
        (2, K, put(1), 0, Some((Output::Ok, 5))),
        (3, K, Input::Get, 6, Some((val(Some(1)), 7))),
        (2, K, put(2), 10, Some((Output::Ok, 15))),
        (3, K, Input::Get, 20, Some((val(Some(1)), 25))),
    ]);
}

#[test]
fn unknown_write_with_a_failed_cond_put_after_it_may_never_land() {
    // Put(9) could explain the failed CondPut, but the final read shows the
    // failure needed no help and Put(9) never took effect.
    assert_linearizable(&[
        (1, K, put(1), 0, Some((Output::Ok, 5))),
        (2, K, put(9), 6, None),
        (3, K, cas(Some(2), 3), 10, Some((Output::CondFailed, 20))),
        (3, K, Input::Get, 30, Some((val(Some(1)), 40))),
    ]);
}

#[test]
fn unknown_deletes_may_or_may_not_have_happened() {
    for seen in [Some(1), None] {
        assert_linearizable(&[
            (1, K, put(1), 0, Some((Output::Ok, 5))),
            (2, K, Input::Delete, 10, None),
            (3, K, Input::Get, 20, Some((val(seen), 30))),
        ]);
    }
    // The delete is needed to explain the successful attribute_not_exists.
    assert_linearizable(&[
        (1, K, put(1), 0, Some((Output::Ok, 5))),
        (2, K, Input::Delete, 10, None),
        (3, K, cas(None, 2), 20, Some((Output::CondOk, 30))),
    ]);
    // ... but it cannot act before it was invoked.
    assert_violation(&[
        (1, K, put(1), 0, Some((Output::Ok, 5))),
        (3, K, cas(None, 2), 6, Some((Output::CondOk, 9))),
        (2, K, Input::Delete, 10, None),
    ]);
    // An unknown CondPut that only fits if the unknown Put(2) never landed.
    assert_linearizable(&[
        (1, K, put(1), 0, Some((Output::Ok, 5))),
        (2, K, put(2), 10, None),
        (3, K, cas(Some(1), 3), 10, None),
        (4, K, Input::Get, 50, Some((val(Some(3)), 60))),
    ]);
}

#[test]
fn keys_are_independent_and_the_bad_key_is_named() {
    let v = assert_violation(&[
        (1, 1, put(1), 0, Some((Output::Ok, 10))),
        (1, 2, put(2), 0, Some((Output::Ok, 10))),
        (2, 1, Input::Get, 20, Some((val(Some(1)), 30))),
        (2, 2, Input::Get, 20, Some((val(Some(1)), 30))),
    ]);
    assert_eq!(v.key, 2);
    assert_eq!(
        v.ops.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![OpId(1), OpId(3)]
    );
    assert_linearizable(&[
        (1, 1, put(1), 0, Some((Output::Ok, 10))),
        (1, 2, put(2), 0, Some((Output::Ok, 10))),
        (2, 1, Input::Get, 20, Some((val(Some(1)), 30))),
        (2, 2, Input::Get, 20, Some((val(Some(2)), 30))),
    ]);
}

#[test]
fn budget_overrun_is_unknown_never_a_pass() {
    // Ten concurrent writes and a read of the first one: the search tries
    // many orders before putting that write last.
    let mut specs: Vec<Spec> = (1..=10)
        .map(|v| (v as u32, 1, put(v), 0, Some((Output::Ok, 100))))
        .collect();
    specs.push((11, 1, Input::Get, 200, Some((val(Some(1)), 210))));
    let h = history(&specs);
    assert!(check(&h).is_linearizable());
    let tiny = CheckBudget {
        steps_per_key_max: 30,
        wall_time_max: None,
    };
    let CheckResult::Unknown(inc) = h.check(tiny) else {
        panic!("expected Unknown, got {}", h.check(tiny));
    };
    assert_eq!(inc.exceeded.len(), 1);
    assert_eq!(
        (
            inc.exceeded[0].key,
            inc.exceeded[0].kind,
            inc.exceeded[0].steps
        ),
        (1, BudgetKind::Steps, 30)
    );
    assert!(
        inc.to_string().contains("1 of 1 keys ran out of budget"),
        "{inc}"
    );

    // A violation on another key is still found and wins.
    specs.push((1, 2, put(1), 0, Some((Output::Ok, 1))));
    specs.push((1, 2, Input::Get, 2, Some((val(None), 3))));
    let r = history(&specs).check(tiny);
    assert_eq!(r.violation().map(|v| v.key), Some(2), "{r}");

    // A zero wall-clock budget checks nothing and says so.
    let none = CheckBudget {
        steps_per_key_max: u64::MAX,
        wall_time_max: Some(std::time::Duration::ZERO),
    };
    let CheckResult::Unknown(inc) = h.check(none) else {
        panic!("expected Unknown");
    };
    assert_eq!((inc.keys_unchecked, inc.keys_total), (1, 1));
}

#[test]
fn violation_display_is_bounded() {
    // A long sequential history ending in a stale read.
    let n = VIOLATION_OPS_DISPLAY_MAX as u64 + 50;
    let mut specs: Vec<Spec> = (0..n)
        .map(|i| (1, K, put(i + 1), 10 * i, Some((Output::Ok, 10 * i + 5))))
        .collect();
    specs.push((2, K, Input::Get, 10 * n, Some((val(Some(1)), 10 * n + 5))));
    let v = assert_violation(&specs);
    assert_eq!(v.longest_prefix.len() as u64, n);
    assert_eq!(v.state_after_prefix, Some(n));
    let text = v.to_string();
    assert_eq!(
        text.lines().count(),
        VIOLATION_OPS_DISPLAY_MAX + 4,
        "{text}"
    );
    assert!(text.contains("... and 51 more ops"), "{text}");
}

#[test]
#[should_panic(expected = "completed twice")]
fn completing_twice_panics() {
    let mut h = History::new();
    let id = h.invoke(1, K, Input::Get, 0);
    h.complete(id, val(None), 1);
    h.complete(id, val(None), 2);
}

#[test]
#[should_panic(expected = "is no answer to")]
fn mismatched_output_panics() {
    let mut h = History::new();
    let id = h.invoke(1, K, put(1), 0);
    h.complete(id, Output::CondOk, 1);
}

#[test]
#[should_panic(expected = "before its call")]
fn return_before_call_panics() {
    let mut h = History::new();
    let id = h.invoke(1, K, put(1), 10);
    h.complete(id, Output::Ok, 9);
}
