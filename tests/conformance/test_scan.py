"""Scan (API_Scan; Scan.md): full-table reads, Limit counts evaluated items, FilterExpression
after Limit, LastEvaluatedKey/ExclusiveStartKey, the 1 MB page, Select, parallel scan with
Segment/TotalSegments (1..1,000,000) and its documented errors."""

from run import N, S, eq, expect_error, raw_error, validation

ALL = {(f"p{p}", s) for p in range(10) for s in range(3)}


def setup(ctx):
    ctx.create_tables({
        "hr": dict(hash_key=("pk", "S"), range_key=("sk", "N")),
        "empty": dict(hash_key=("pk", "S")),
        "big": dict(hash_key=("pk", "S")),
    })
    ctx.batch_put(ctx.tables["hr"], [{"pk": S(p), "sk": N(s), "odd": {"BOOL": s % 2 == 1}, "n": N(s)}
                                     for p, s in sorted(ALL)])
    ctx.batch_put(ctx.tables["big"], [{"pk": S(f"b{i}"), "pad": S("x" * 100_000)} for i in range(6)])
    ctx.batch_put(ctx.tables["big"], [{"pk": S(f"b{i}"), "pad": S("x" * 100_000)} for i in range(6, 12)])


def scan(ctx, table="hr", **kw):
    kw.setdefault("ConsistentRead", True)
    return ctx.ddb.scan(TableName=ctx.tables[table], **kw)


def keys(items):
    return [(i["pk"]["S"], int(i["sk"]["N"])) for i in items]


def scan_all(ctx, **kw):
    items, start, pages = [], None, 0
    while True:
        args = dict(kw)
        if start:
            args["ExclusiveStartKey"] = start
        out = scan(ctx, **args)
        items += out.get("Items", [])
        pages += 1
        start = out.get("LastEvaluatedKey")
        if not start:
            return items, pages
        assert pages < 200, "scan pagination does not end"


def case_scan_returns_everything(ctx):
    out = scan(ctx)
    eq(set(keys(out["Items"])), ALL)
    eq((out["Count"], out["ScannedCount"]), (30, 30))
    assert "LastEvaluatedKey" not in out, out


def case_scan_empty_table(ctx):
    out = scan(ctx, "empty")
    eq((out["Items"], out["Count"], out["ScannedCount"]), ([], 0, 0))


def case_filter_reduces_count(ctx):
    out = scan(ctx, FilterExpression="odd = :t", ExpressionAttributeValues={":t": {"BOOL": True}})
    eq(set(keys(out["Items"])), {k for k in ALL if k[1] == 1})
    eq((out["Count"], out["ScannedCount"]), (10, 30))


def case_filter_on_key_attribute_allowed(ctx):
    out = scan(ctx, FilterExpression="pk = :p AND sk > :z", ExpressionAttributeValues={":p": S("p3"), ":z": N(0)})
    eq(sorted(keys(out["Items"])), [("p3", 1), ("p3", 2)])


def case_limit_sets_last_evaluated_key(ctx):
    out = scan(ctx, Limit=4)
    eq(out["Count"], 4)
    lek = out["LastEvaluatedKey"]
    eq(set(lek), {"pk", "sk"})
    eq((lek["pk"]["S"], int(lek["sk"]["N"])), keys(out["Items"])[-1])


def case_paginate_limit_sees_all_once(ctx):
    items, pages = scan_all(ctx, Limit=7)
    ks = keys(items)
    eq(len(ks), len(set(ks)), "duplicates across pages")
    eq(set(ks), ALL)
    assert pages >= 5, pages


def case_limit_counts_before_filter(ctx):
    out = scan(ctx, Limit=6, FilterExpression="n = :x", ExpressionAttributeValues={":x": N(99)})
    eq((out["Count"], out["ScannedCount"]), (0, 6))
    assert "LastEvaluatedKey" in out, out


def case_paginate_with_filter(ctx):
    items, _ = scan_all(ctx, Limit=5, FilterExpression="n = :x", ExpressionAttributeValues={":x": N(2)})
    eq(set(keys(items)), {k for k in ALL if k[1] == 2})


def case_exclusive_start_at_last_item(ctx):
    full = keys(scan(ctx)["Items"])
    p, s = full[-1]
    out = scan(ctx, ExclusiveStartKey={"pk": S(p), "sk": N(s)})
    eq(out["Count"], 0)
    assert "LastEvaluatedKey" not in out, out


def case_exclusive_start_key_wrong_schema(ctx):
    validation(lambda: scan(ctx, ExclusiveStartKey={"pk": S("p1")}),
               contains="The provided starting key is invalid")


def case_limit_zero(ctx):
    raw_error(ctx.raw("Scan", {"TableName": ctx.tables["hr"], "Limit": 0}), "ValidationException",
              "Member must have value greater than or equal to 1")


def case_one_mb_page_limit(ctx):
    out = scan(ctx, "big", ProjectionExpression="pk")
    assert "LastEvaluatedKey" in out, "12 x 100 KB must not fit one page"
    assert 8 <= out["ScannedCount"] <= 11, out["ScannedCount"]
    rest = scan(ctx, "big", ProjectionExpression="pk", ExclusiveStartKey=out["LastEvaluatedKey"])
    eq(len({i["pk"]["S"] for i in out["Items"] + rest["Items"]}), 12)


def case_select_count(ctx):
    out = scan(ctx, Select="COUNT")
    eq(out["Count"], 30)
    assert "Items" not in out, out


def case_projection(ctx):
    out = scan(ctx, ProjectionExpression="n", FilterExpression="pk = :p AND sk = :s",
               ExpressionAttributeValues={":p": S("p0"), ":s": N(2)})
    eq(out["Items"], [{"n": N(2)}])


def case_select_specific_without_projection(ctx):
    validation(lambda: scan(ctx, Select="SPECIFIC_ATTRIBUTES"), contains="SPECIFIC_ATTRIBUTES")


def case_select_all_with_projection(ctx):
    validation(lambda: scan(ctx, Select="ALL_ATTRIBUTES", ProjectionExpression="n"),
               contains="Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES")


def case_index_not_found(ctx):
    validation(lambda: scan(ctx, IndexName="idx1", ConsistentRead=False),
               message="The table does not have the specified index: idx1")


def case_missing_table(ctx):
    expect_error(lambda: ctx.ddb.scan(TableName=ctx.unique("nope")), "ResourceNotFoundException",
                 message="Requested resource not found")


def case_eventually_consistent_scan(ctx):
    out = scan(ctx, ConsistentRead=False)
    assert out["Count"] <= 30, out


# ---------------------------------------------------------------- parallel scan

def case_segments_partition_the_table(ctx):
    seen = []
    for seg in range(4):
        items, _ = scan_all(ctx, Segment=seg, TotalSegments=4)
        seen += keys(items)
    eq(len(seen), len(set(seen)), "an item appeared in two segments")
    eq(set(seen), ALL)


def case_segments_paginate_within_segment(ctx):
    seen = []
    for seg in range(3):
        items, _ = scan_all(ctx, Segment=seg, TotalSegments=3, Limit=2)
        seen += keys(items)
    eq(sorted(seen), sorted(ALL))


def case_single_segment_is_full_scan(ctx):
    out = scan(ctx, Segment=0, TotalSegments=1)
    eq(set(keys(out["Items"])), ALL)


def case_many_segments(ctx):
    seen = []
    for seg in range(0, 1000, 1):
        if seg % 100 and seg not in range(990, 1000):
            continue
        seen += keys(scan(ctx, Segment=seg, TotalSegments=1000)["Items"])
    assert len(seen) == len(set(seen)), seen


def case_max_total_segments(ctx):
    out = scan(ctx, Segment=999_999, TotalSegments=1_000_000)
    assert out["Count"] <= 30, out


def case_total_segments_too_large(ctx):
    raw_error(ctx.raw("Scan", {"TableName": ctx.tables["hr"], "Segment": 0, "TotalSegments": 1_000_001}),
              "ValidationException", "Member must have value less than or equal to 1000000")


def case_total_segments_zero(ctx):
    raw_error(ctx.raw("Scan", {"TableName": ctx.tables["hr"], "Segment": 0, "TotalSegments": 0}),
              "ValidationException", "Member must have value greater than or equal to 1")


def case_segment_negative(ctx):
    raw_error(ctx.raw("Scan", {"TableName": ctx.tables["hr"], "Segment": -1, "TotalSegments": 2}),
              "ValidationException", "Member must have value greater than or equal to 0")


def case_segment_not_less_than_total(ctx):
    validation(lambda: scan(ctx, Segment=3, TotalSegments=3),
               message="The Segment parameter is zero-based and must be less than parameter TotalSegments: "
                       "Segment: 3 is not less than TotalSegments: 3")


def case_segment_without_total(ctx):
    validation(lambda: scan(ctx, Segment=1),
               message="The TotalSegments parameter is required but was not present in the request when "
                       "Segment parameter is present")


def case_segment_zero_without_total(ctx):
    validation(lambda: scan(ctx, Segment=0),
               message="The TotalSegments parameter is required but was not present in the request when "
                       "Segment parameter is present")


def case_total_without_segment(ctx):
    validation(lambda: scan(ctx, TotalSegments=2),
               message="The Segment parameter is required but was not present in the request when "
                       "parameter TotalSegments is present")


def case_scan_filter_and_expression_together(ctx):
    validation(lambda: scan(ctx, FilterExpression="n = :x", ExpressionAttributeValues={":x": N(1)},
                            ScanFilter={"n": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]}}),
               contains=["Can not use both expression and non-expression parameters in the same request",
                         "ScanFilter", "FilterExpression"])


def case_exclusive_start_key_extra_attribute(ctx):
    validation(lambda: scan(ctx, ExclusiveStartKey={"pk": S("p1"), "sk": N(1), "n": N(1)}),
               contains="The provided starting key is invalid")


def case_exclusive_start_key_of_deleted_item(ctx):
    t = ctx.tables["hr"]
    ctx.put(t, {"pk": S("gone"), "sk": N(0)})
    first = scan(ctx, Limit=100)
    order = keys(first["Items"])
    idx = order.index(("gone", 0))
    ctx.ddb.delete_item(TableName=t, Key={"pk": S("gone"), "sk": N(0)})
    out = scan(ctx, ExclusiveStartKey={"pk": S("gone"), "sk": N(0)})
    eq(keys(out["Items"]), [k for k in order[idx + 1:]])


def case_select_count_with_limit(ctx):
    out = scan(ctx, Select="COUNT", Limit=5)
    eq(out["Count"], 5)
    assert "Items" not in out and "LastEvaluatedKey" in out, out


def case_projection_nested_and_names(ctx):
    t = ctx.tables["hr"]
    ctx.put(t, {"pk": S("nest"), "sk": N(0), "m": {"M": {"a": N(1), "b": N(2)}}})
    out = scan(ctx, FilterExpression="attribute_exists(#m)", ProjectionExpression="#m.b",
               ExpressionAttributeNames={"#m": "m"})
    eq(out["Items"], [{"m": {"M": {"b": N(2)}}}])
    ctx.ddb.delete_item(TableName=t, Key={"pk": S("nest"), "sk": N(0)})


def case_exclusive_start_key_malformed_message(ctx):
    validation(lambda: scan(ctx, ExclusiveStartKey={"bad": S("p")}),
               message="The provided starting key is invalid: The provided key element does not match the schema")


def case_select_specific_without_projection_message(ctx):
    validation(lambda: scan(ctx, Select="SPECIFIC_ATTRIBUTES"),
               message="Must specify the AttributesToGet or ProjectionExpression when choosing to get "
                       "SPECIFIC_ATTRIBUTES")


def case_limit_zero_message(ctx):
    raw_error(ctx.raw("Scan", {"TableName": ctx.tables["hr"], "Limit": 0}), "ValidationException",
              message="1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                      "Member must have value greater than or equal to 1")


def case_filter_parens_forms(ctx):
    for f in ["(pk = :p) AND (sk = :s)", "(pk = :p AND sk = :s)", "(pk = :p AND (sk = :s))"]:
        out = scan(ctx, FilterExpression=f, ExpressionAttributeValues={":p": S("p2"), ":s": N(1)})
        eq(keys(out["Items"]), [("p2", 1)], f)


def case_filter_operand_type_checked_before_rows(ctx):
    validation(lambda: scan(ctx, FilterExpression="begins_with(#p, :n)", ExpressionAttributeNames={"#p": "nothere"},
                            ExpressionAttributeValues={":n": N(5)}),
               contains="Invalid FilterExpression")
