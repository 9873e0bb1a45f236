"""GetItem (API_GetItem): Key must match the schema exactly, ConsistentRead, ProjectionExpression
with document paths and #names, missing items return no `Item`."""

import time

from run import B, N, S, eq, expect_error, known_gap, raw_error, validation

ITEM = {
    "pk": S("g1"),
    "a": S("alpha"),
    "n": N(7),
    "m": {"M": {"x": S("mx"), "y": {"M": {"z": N(1)}}}},
    "l": {"L": [S("l0"), S("l1"), {"M": {"k": S("lk")}}]},
    "name": S("reserved-word attribute"),
}


def setup(ctx):
    ctx.create_tables({
        "h": dict(hash_key=("pk", "S")),
        "hr": dict(hash_key=("pk", "S"), range_key=("sk", "N")),
        "hb": dict(hash_key=("pk", "B"), range_key=("sk", "S")),
    })
    ctx.put(ctx.tables["h"], ITEM)
    ctx.put(ctx.tables["hr"], {"pk": S("g"), "sk": N(10), "v": S("ten")})
    ctx.put(ctx.tables["hb"], {"pk": B(b"\x01\x02"), "sk": S("s"), "v": S("bin")})


def get(ctx, key, table="h", **kw):
    return ctx.ddb.get_item(TableName=ctx.tables[table], Key=key, **kw)


def case_get_existing_consistent(ctx):
    eq(get(ctx, {"pk": S("g1")}, ConsistentRead=True)["Item"], ITEM)


def case_get_existing_eventually_consistent(ctx):
    deadline = time.time() + 3
    while True:
        out = get(ctx, {"pk": S("g1")}, ConsistentRead=False)
        if "Item" in out or time.time() > deadline:
            break
        time.sleep(0.05)
    eq(out.get("Item"), ITEM)


def case_get_missing_item_has_no_item_key(ctx):
    out = get(ctx, {"pk": S("nope")}, ConsistentRead=True)
    assert "Item" not in out, out


def case_get_hash_range(ctx):
    eq(get(ctx, {"pk": S("g"), "sk": N(10)}, "hr", ConsistentRead=True)["Item"]["v"], S("ten"))


def case_get_number_range_key_normalized(ctx):
    eq(get(ctx, {"pk": S("g"), "sk": N("1.0E1")}, "hr", ConsistentRead=True)["Item"]["sk"], N(10))


def case_get_binary_key(ctx):
    eq(get(ctx, {"pk": B(b"\x01\x02"), "sk": S("s")}, "hb", ConsistentRead=True)["Item"]["v"], S("bin"))


def case_projection_top_level(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="a, n")
    eq(out["Item"], {"a": S("alpha"), "n": N(7)})


def case_projection_nested_map(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="m.y.z")
    eq(out["Item"], {"m": {"M": {"y": {"M": {"z": N(1)}}}}})


def case_projection_list_element(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="l[1]")
    eq(out["Item"], {"l": {"L": [S("l1")]}})


def case_projection_list_element_then_map(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="l[2].k")
    eq(out["Item"], {"l": {"L": [{"M": {"k": S("lk")}}]}})


def case_projection_two_list_elements(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="l[0], l[2]")
    eq(out["Item"], {"l": {"L": [S("l0"), {"M": {"k": S("lk")}}]}})


def case_projection_missing_attribute_omitted(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="a, nothere, m.nothere")
    eq(out["Item"], {"a": S("alpha")})


def case_projection_with_names(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="#n, #m.#x",
              ExpressionAttributeNames={"#n": "name", "#m": "m", "#x": "x"})
    eq(out["Item"], {"name": S("reserved-word attribute"), "m": {"M": {"x": S("mx")}}})


def case_projection_name_with_dot_via_placeholder(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("dot"), "a.b": S("literal"), "a": {"M": {"b": S("nested")}}})
    out = get(ctx, {"pk": S("dot")}, ConsistentRead=True, ProjectionExpression="#ab",
              ExpressionAttributeNames={"#ab": "a.b"})
    eq(out["Item"], {"a.b": S("literal")})


def case_projection_reserved_word_rejected(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression="name"),
               contains=["Invalid ProjectionExpression", "Attribute name is a reserved keyword",
                         "reserved keyword: name"])


def case_projection_undefined_name(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression="#zz",
                           ExpressionAttributeNames={"#n": "a"}),
               contains=["An expression attribute name used in the document path is not defined",
                         "attribute name: #zz"])


def case_projection_overlapping_paths(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression="m, m.x"),
               contains=["Invalid ProjectionExpression", "Two document paths overlap with each other"])


def case_projection_duplicate_paths(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression="a, a"),
               contains="Two document paths overlap with each other")


def case_projection_syntax_error(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression="a,, n"),
               contains="Invalid ProjectionExpression: Syntax error;")


def case_projection_syntax_error_token(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression="!!! INVALID !!!"),
               message='Invalid ProjectionExpression: Syntax error; token: "!", near: "!!"')


def case_projection_empty(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression=""),
               contains="Invalid ProjectionExpression: The expression can not be empty;")


def case_projection_unused_name(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression="a",
                           ExpressionAttributeNames={"#u": "x"}),
               message="Value provided in ExpressionAttributeNames unused in expressions: keys: {#u}")


def case_projection_and_attributes_to_get(ctx):
    validation(lambda: get(ctx, {"pk": S("g1")}, ProjectionExpression="a", AttributesToGet=["a"]),
               contains=["Can not use both expression and non-expression parameters in the same request",
                         "AttributesToGet", "ProjectionExpression"])


def case_key_missing_range(ctx):
    validation(lambda: get(ctx, {"pk": S("g")}, "hr"),
               message="The provided key element does not match the schema")


def case_key_extra_attribute(ctx):
    validation(lambda: get(ctx, {"pk": S("g1"), "a": S("alpha")}),
               message="The provided key element does not match the schema")


def case_key_wrong_type(ctx):
    validation(lambda: get(ctx, {"pk": N(1)}),
               message="The provided key element does not match the schema")


def case_key_wrong_name(ctx):
    validation(lambda: get(ctx, {"other": S("g1")}),
               message="The provided key element does not match the schema")


def case_key_empty_string(ctx):
    validation(lambda: get(ctx, {"pk": S("")}),
               contains=["The AttributeValue for a key attribute cannot contain an empty string value",
                         "Key: pk"])


def case_key_empty_map(ctx):
    r = ctx.raw("GetItem", {"TableName": ctx.tables["h"], "Key": {}})
    raw_error(r, "ValidationException")


def case_key_parameter_missing(ctx):
    raw_error(ctx.raw("GetItem", {"TableName": ctx.tables["h"]}), "ValidationException")


def case_missing_table(ctx):
    expect_error(lambda: ctx.ddb.get_item(TableName=ctx.unique("nope"), Key={"pk": S("x")}),
                 "ResourceNotFoundException", message="Requested resource not found")


def case_consistent_read_not_boolean(ctx):
    r = ctx.raw("GetItem", {"TableName": ctx.tables["h"], "Key": {"pk": S("g1")}, "ConsistentRead": "yes"})
    raw_error(r, "SerializationException")


def case_no_consumed_capacity_by_default(ctx):
    out = get(ctx, {"pk": S("g1")})
    assert "ConsumedCapacity" not in out, out


@known_gap("data-plane TableName is not validated: GetItem with TableName '' gives ResourceNotFoundException")
def case_table_name_empty(ctx):
    raw_error(ctx.raw("GetItem", {"TableName": "", "Key": {"pk": S("x")}}))


def case_projection_matching_nothing_returns_empty_item(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="nothere")
    eq(out.get("Item"), {})


def case_projection_of_key_attribute(ctx):
    out = get(ctx, {"pk": S("g1")}, ConsistentRead=True, ProjectionExpression="pk")
    eq(out["Item"], {"pk": S("g1")})
