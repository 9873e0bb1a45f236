"""Legacy conditional parameters (LegacyConditionalParameters.*): Expected, AttributesToGet,
AttributeUpdates, KeyConditions, QueryFilter, ScanFilter, ConditionalOperator."""

from run import N, S, eq, expect_error, known_gap, validation


def setup(ctx):
    ctx.create_tables({
        "h": dict(hash_key=("pk", "S")),
        "hr": dict(hash_key=("pk", "S"), range_key=("sk", "N")),
        "hs": dict(hash_key=("pk", "S"), range_key=("sk", "S")),
    })
    ctx.batch_put(ctx.tables["hr"], [{"pk": S("q"), "sk": N(i), "v": N(i % 2), "name": S(f"n{i}")}
                                     for i in range(10)])
    ctx.batch_put(ctx.tables["hs"], [{"pk": S("s"), "sk": S(v)} for v in ["apple", "apricot", "banana"]])


_n = [0]


def seeded(ctx, attrs):
    _n[0] += 1
    key = {"pk": S(f"l{_n[0]}")}
    ctx.put(ctx.tables["h"], {**key, **attrs})
    return key


def put_expected(ctx, key, expected, op=None, item_extra=None):
    kw = {"Expected": expected}
    if op:
        kw["ConditionalOperator"] = op
    return ctx.put(ctx.tables["h"], {**key, **(item_extra or {"w": S("written")})}, **kw)


def written(ctx, key):
    return ctx.get(ctx.tables["h"], key).get("w") == S("written")


# ---------------------------------------------------------------- Expected

def case_expected_exists_false_new_item(ctx):
    _n[0] += 1
    key = {"pk": S(f"l{_n[0]}")}
    put_expected(ctx, key, {"pk": {"Exists": False}})
    assert written(ctx, key)


def case_expected_exists_false_existing_fails(ctx):
    key = seeded(ctx, {})
    expect_error(lambda: put_expected(ctx, key, {"pk": {"Exists": False}}), "ConditionalCheckFailedException",
                 message="The conditional request failed")


def case_expected_value_equal(ctx):
    key = seeded(ctx, {"a": S("x")})
    put_expected(ctx, key, {"a": {"Value": S("x")}})
    assert written(ctx, key)


def case_expected_value_not_equal_fails(ctx):
    key = seeded(ctx, {"a": S("x")})
    expect_error(lambda: put_expected(ctx, key, {"a": {"Value": S("y"), "Exists": True}}),
                 "ConditionalCheckFailedException")


def case_expected_comparison_operator(ctx):
    key = seeded(ctx, {"n": N(5)})
    put_expected(ctx, key, {"n": {"ComparisonOperator": "GT", "AttributeValueList": [N(4)]}})
    assert written(ctx, key)


def case_expected_between(ctx):
    key = seeded(ctx, {"n": N(5)})
    put_expected(ctx, key, {"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(5), N(6)]}})
    assert written(ctx, key)


def case_expected_null_and_not_null(ctx):
    key = seeded(ctx, {"a": S("x")})
    put_expected(ctx, key, {"a": {"ComparisonOperator": "NOT_NULL"}, "b": {"ComparisonOperator": "NULL"}})
    assert written(ctx, key)


def case_expected_and_is_default(ctx):
    key = seeded(ctx, {"a": S("x")})
    expect_error(lambda: put_expected(ctx, key, {"a": {"Value": S("x")}, "b": {"Value": S("y")}}),
                 "ConditionalCheckFailedException")


def case_expected_conditional_operator_or(ctx):
    key = seeded(ctx, {"a": S("x")})
    put_expected(ctx, key, {"a": {"Value": S("x")}, "b": {"Value": S("y")}}, op="OR")
    assert written(ctx, key)


def case_expected_ne_on_missing_attribute(ctx):
    key = seeded(ctx, {})
    put_expected(ctx, key, {"zz": {"ComparisonOperator": "NE", "AttributeValueList": [S("x")]}})
    assert written(ctx, key)


def case_expected_contains_and_begins_with(ctx):
    key = seeded(ctx, {"s": S("hello"), "ss": {"SS": ["a", "b"]}})
    put_expected(ctx, key, {"s": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("he")]},
                            "ss": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [S("b")]}})
    assert written(ctx, key)


def case_expected_in(ctx):
    key = seeded(ctx, {"n": N(3)})
    put_expected(ctx, key, {"n": {"ComparisonOperator": "IN", "AttributeValueList": [N(1), N(3)]}})
    assert written(ctx, key)


def case_expected_on_delete_item(ctx):
    key = seeded(ctx, {"a": S("x")})
    expect_error(lambda: ctx.ddb.delete_item(TableName=ctx.tables["h"], Key=key, Expected={"a": {"Value": S("y")}}),
                 "ConditionalCheckFailedException")
    ctx.ddb.delete_item(TableName=ctx.tables["h"], Key=key, Expected={"a": {"Value": S("x")}})
    assert ctx.get(ctx.tables["h"], key) is None


def case_expected_exists_with_operator(ctx):
    validation(lambda: put_expected(ctx, {"pk": S("z")}, {"a": {"Exists": True, "ComparisonOperator": "EQ",
                                                                "AttributeValueList": [S("x")]}}),
               contains="Exists and ComparisonOperator cannot be used together for Attribute: a")


def case_expected_exists_true_without_value(ctx):
    validation(lambda: put_expected(ctx, {"pk": S("z")}, {"a": {"Exists": True}}),
               contains="Value must be provided when Exists is true for Attribute: a")


def case_expected_exists_false_with_value(ctx):
    validation(lambda: put_expected(ctx, {"pk": S("z")}, {"a": {"Exists": False, "Value": S("x")}}),
               contains="Value cannot be used when Exists is false for Attribute: a")


def case_expected_wrong_argument_count(ctx):
    validation(lambda: put_expected(ctx, {"pk": S("z")}, {"a": {"ComparisonOperator": "EQ",
                                                                "AttributeValueList": [S("x"), S("y")]}}),
               contains="Invalid number of argument(s) for the EQ ComparisonOperator")


def case_expected_between_reversed(ctx):
    validation(lambda: put_expected(ctx, {"pk": S("z")}, {"a": {"ComparisonOperator": "BETWEEN",
                                                                "AttributeValueList": [N(5), N(1)]}}),
               contains="The BETWEEN condition was provided a range where the lower bound is greater than the upper bound")


def case_expected_mixed_value_types(ctx):
    validation(lambda: put_expected(ctx, {"pk": S("z")}, {"a": {"ComparisonOperator": "IN",
                                                                "AttributeValueList": [N(5), S("x")]}}),
               contains="AttributeValues inside AttributeValueList must be of same type")


# ---------------------------------------------------------------- AttributesToGet

def case_get_attributes_to_get(ctx):
    key = seeded(ctx, {"a": S("x"), "b": S("y")})
    got = ctx.ddb.get_item(TableName=ctx.tables["h"], Key=key, AttributesToGet=["a"], ConsistentRead=True)["Item"]
    eq(got, {"a": S("x")})


def case_attributes_to_get_duplicates(ctx):
    validation(lambda: ctx.ddb.get_item(TableName=ctx.tables["h"], Key={"pk": S("x")}, AttributesToGet=["a", "a"]),
               contains="Duplicate value in attribute name: a")


def case_query_attributes_to_get_with_count(ctx):
    validation(lambda: ctx.ddb.query(TableName=ctx.tables["hr"], Select="COUNT", AttributesToGet=["v"],
                                     KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("q")]}}),
               contains="Cannot specify the AttributesToGet when choosing to get only the Count")


# ---------------------------------------------------------------- AttributeUpdates

def au(ctx, key, updates, **kw):
    return ctx.ddb.update_item(TableName=ctx.tables["h"], Key=key, AttributeUpdates=updates, **kw)


def case_attribute_updates_put(ctx):
    key = seeded(ctx, {"a": S("x")})
    au(ctx, key, {"a": {"Action": "PUT", "Value": S("y")}, "b": {"Value": N(1)}})
    eq(ctx.get(ctx.tables["h"], key), {**key, "a": S("y"), "b": N(1)})


def case_attribute_updates_delete_attribute(ctx):
    key = seeded(ctx, {"a": S("x"), "b": S("y")})
    au(ctx, key, {"a": {"Action": "DELETE"}})
    eq(ctx.get(ctx.tables["h"], key), {**key, "b": S("y")})


def case_attribute_updates_add_number(ctx):
    key = seeded(ctx, {"n": N(5)})
    au(ctx, key, {"n": {"Action": "ADD", "Value": N(3)}, "m": {"Action": "ADD", "Value": N(2)}})
    got = ctx.get(ctx.tables["h"], key)
    eq((got["n"], got["m"]), (N(8), N(2)))


def case_attribute_updates_add_and_delete_set(ctx):
    key = seeded(ctx, {"s": {"SS": ["a", "b"]}})
    au(ctx, key, {"s": {"Action": "ADD", "Value": {"SS": ["c"]}}})
    au(ctx, key, {"s": {"Action": "DELETE", "Value": {"SS": ["a"]}}})
    eq(sorted(ctx.get(ctx.tables["h"], key)["s"]["SS"]), ["b", "c"])


def case_attribute_updates_return_values(ctx):
    key = seeded(ctx, {"a": S("x")})
    out = au(ctx, key, {"a": {"Action": "PUT", "Value": S("y")}}, ReturnValues="UPDATED_OLD")
    eq(out["Attributes"], {"a": S("x")})


def case_attribute_updates_put_without_value(ctx):
    validation(lambda: au(ctx, {"pk": S("z")}, {"a": {"Action": "PUT"}}),
               contains="Only DELETE action is allowed when no attribute value is specified")


def case_attribute_updates_add_string(ctx):
    validation(lambda: au(ctx, {"pk": S("z")}, {"a": {"Action": "ADD", "Value": S("x")}}),
               contains="ADD action is not supported for the type S")


def case_attribute_updates_delete_with_scalar(ctx):
    validation(lambda: au(ctx, {"pk": S("z")}, {"a": {"Action": "DELETE", "Value": S("x")}}),
               contains="DELETE action with value is not supported for the type S")


def case_attribute_updates_key(ctx):
    validation(lambda: au(ctx, {"pk": S("z")}, {"pk": {"Action": "PUT", "Value": S("y")}}),
               contains="Cannot update attribute pk. This attribute is part of the key")


def case_attribute_updates_with_expected(ctx):
    key = seeded(ctx, {"v": N(1)})
    expect_error(lambda: au(ctx, key, {"v": {"Action": "PUT", "Value": N(3)}}, Expected={"v": {"Value": N(2)}}),
                 "ConditionalCheckFailedException")
    au(ctx, key, {"v": {"Action": "PUT", "Value": N(3)}}, Expected={"v": {"Value": N(1)}})
    eq(ctx.get(ctx.tables["h"], key)["v"], N(3))


# ---------------------------------------------------------------- KeyConditions / QueryFilter / ScanFilter

def kq(ctx, conds, table="hr", **kw):
    return ctx.ddb.query(TableName=ctx.tables[table], KeyConditions=conds, ConsistentRead=True, **kw)


PQ = {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("q")]}}


def case_key_conditions_eq(ctx):
    out = kq(ctx, PQ)
    eq([int(i["sk"]["N"]) for i in out["Items"]], list(range(10)))


def case_key_conditions_between(ctx):
    out = kq(ctx, {**PQ, "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(2), N(4)]}})
    eq([int(i["sk"]["N"]) for i in out["Items"]], [2, 3, 4])


def case_key_conditions_begins_with(ctx):
    out = kq(ctx, {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("s")]},
                   "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("ap")]}}, "hs")
    eq([i["sk"]["S"] for i in out["Items"]], ["apple", "apricot"])


def case_key_conditions_missing_hash(ctx):
    validation(lambda: kq(ctx, {"sk": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]}}),
               contains="Query condition missed key schema element: pk")


def case_key_conditions_non_indexable_operator(ctx):
    validation(lambda: kq(ctx, {**PQ, "sk": {"ComparisonOperator": "NE", "AttributeValueList": [N(1)]}}))


def case_query_filter(ctx):
    out = kq(ctx, PQ, QueryFilter={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]}})
    eq([int(i["sk"]["N"]) for i in out["Items"]], [1, 3, 5, 7, 9])
    eq(out["ScannedCount"], 10)


def case_query_filter_or(ctx):
    out = kq(ctx, PQ, ConditionalOperator="OR",
             QueryFilter={"name": {"ComparisonOperator": "EQ", "AttributeValueList": [S("n2")]},
                          "v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]}})
    eq(out["Count"], 6)


def case_query_filter_on_key_attribute(ctx):
    validation(lambda: kq(ctx, PQ, QueryFilter={"sk": {"ComparisonOperator": "GT", "AttributeValueList": [N(1)]}}),
               message="QueryFilter can only contain non-primary key attributes: Primary key attribute: sk")


def case_query_attributes_to_get(ctx):
    out = kq(ctx, {**PQ, "sk": {"ComparisonOperator": "EQ", "AttributeValueList": [N(4)]}}, AttributesToGet=["name"])
    eq(out["Items"], [{"name": S("n4")}])


def case_scan_filter(ctx):
    out = ctx.ddb.scan(TableName=ctx.tables["hr"], ConsistentRead=True,
                       ScanFilter={"sk": {"ComparisonOperator": "IN", "AttributeValueList": [N(1), N(8)]},
                                   "name": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [S("n")]}})
    eq(sorted(int(i["sk"]["N"]) for i in out["Items"]), [1, 8])


def case_scan_filter_or(ctx):
    out = ctx.ddb.scan(TableName=ctx.tables["hr"], ConsistentRead=True, ConditionalOperator="OR",
                       ScanFilter={"sk": {"ComparisonOperator": "LT", "AttributeValueList": [N(1)]},
                                   "name": {"ComparisonOperator": "EQ", "AttributeValueList": [S("n9")]}})
    eq(sorted(int(i["sk"]["N"]) for i in out["Items"]), [0, 9])


def case_scan_filter_not_contains_and_not_null(ctx):
    out = ctx.ddb.scan(TableName=ctx.tables["hr"], ConsistentRead=True,
                       ScanFilter={"name": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [S("5")]},
                                   "v": {"ComparisonOperator": "NOT_NULL"}})
    eq(out["Count"], 9)


def case_scan_filter_operator_invalid_for_type(ctx):
    validation(lambda: ctx.ddb.scan(TableName=ctx.tables["hr"],
                                    ScanFilter={"v": {"ComparisonOperator": "LT",
                                                      "AttributeValueList": [{"BOOL": True}]}}),
               contains="ComparisonOperator LT is not valid for BOOL AttributeValue type")


def case_scan_filter_wrong_argument_count(ctx):
    validation(lambda: ctx.ddb.scan(TableName=ctx.tables["hr"],
                                    ScanFilter={"v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(1)]}}),
               contains="Invalid number of argument(s) for the BETWEEN ComparisonOperator")


def case_conditional_operator_without_expected(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("co1")}, ConditionalOperator="OR"))


def case_conditional_operator_with_one_expected(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("co2")}, ConditionalOperator="OR",
                               Expected={"x": {"Exists": False}}))


def case_scan_select_count_with_attributes_to_get(ctx):
    validation(lambda: ctx.ddb.scan(TableName=ctx.tables["hr"], Select="COUNT", AttributesToGet=["v"]),
               contains="Cannot specify the AttributesToGet when choosing to get only the Count")


def case_scan_specific_attributes_to_get(ctx):
    out = ctx.ddb.scan(TableName=ctx.tables["hs"], Select="SPECIFIC_ATTRIBUTES", AttributesToGet=["sk"],
                       ConsistentRead=True)
    eq(sorted(i["sk"]["S"] for i in out["Items"]), ["apple", "apricot", "banana"])
    assert all(set(i) == {"sk"} for i in out["Items"]), out["Items"]
