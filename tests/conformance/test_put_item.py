"""PutItem (API_PutItem): whole-item replace, ReturnValues NONE|ALL_OLD, ConditionExpression,
ReturnValuesOnConditionCheckFailure, key validation and its documented messages."""

from run import B, N, S, eq, expect_error, known_gap, raw_error, validation


def setup(ctx):
    ctx.create_tables({
        "h": dict(hash_key=("pk", "S")),
        "hr": dict(hash_key=("pk", "S"), range_key=("sk", "N")),
        "hb": dict(hash_key=("pk", "B")),
        "hn": dict(hash_key=("pk", "N")),
    })


def case_put_then_get_same_item(ctx):
    t = ctx.tables["h"]
    item = {"pk": S("p1"), "a": S("x"), "n": N(5), "l": {"L": [S("y"), N(1)]}}
    out = ctx.put(t, item)
    assert "Attributes" not in out, out
    eq(ctx.get(t, {"pk": S("p1")}), item)


def case_put_replaces_whole_item(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("p2"), "a": S("1"), "b": S("2")})
    ctx.put(t, {"pk": S("p2"), "c": S("3")})
    eq(ctx.get(t, {"pk": S("p2")}), {"pk": S("p2"), "c": S("3")})


def case_put_hash_range(ctx):
    t = ctx.tables["hr"]
    ctx.put(t, {"pk": S("a"), "sk": N(1), "v": S("one")})
    ctx.put(t, {"pk": S("a"), "sk": N(2), "v": S("two")})
    eq(ctx.get(t, {"pk": S("a"), "sk": N(1)})["v"], S("one"))
    eq(ctx.get(t, {"pk": S("a"), "sk": N(2)})["v"], S("two"))


def case_return_values_none(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("rv0"), "a": S("old")})
    out = ctx.put(t, {"pk": S("rv0"), "a": S("new")}, ReturnValues="NONE")
    assert "Attributes" not in out, out


def case_return_values_all_old_existing(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("rv1"), "a": S("old"), "b": N(1)})
    out = ctx.put(t, {"pk": S("rv1"), "a": S("new")}, ReturnValues="ALL_OLD")
    eq(out["Attributes"], {"pk": S("rv1"), "a": S("old"), "b": N(1)})


def case_return_values_all_old_new_item(ctx):
    t = ctx.tables["h"]
    out = ctx.put(t, {"pk": S("rv2-fresh")}, ReturnValues="ALL_OLD")
    assert "Attributes" not in out, out


def case_return_values_updated_old_rejected(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ReturnValues="UPDATED_OLD"),
               message="ReturnValues can only be ALL_OLD or NONE")


def case_return_values_all_new_rejected(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ReturnValues="ALL_NEW"),
               message="ReturnValues can only be ALL_OLD or NONE")


def case_return_values_not_in_enum(ctx):
    r = ctx.raw("PutItem", {"TableName": ctx.tables["h"], "Item": {"pk": S("x")}, "ReturnValues": "SOME"})
    assert r.status == 400 and r.error_type == "ValidationException", r
    assert "Member must satisfy enum value set" in r.message, r


def case_missing_hash_key(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"a": S("x")}),
               message="One or more parameter values were invalid: Missing the key pk in the item")


def case_missing_range_key(ctx):
    validation(lambda: ctx.put(ctx.tables["hr"], {"pk": S("x")}),
               message="One or more parameter values were invalid: Missing the key sk in the item")


def case_hash_key_type_mismatch(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": N(1)}),
               message="One or more parameter values were invalid: Type mismatch for key pk "
                       "expected: S actual: N")


def case_range_key_type_mismatch(ctx):
    validation(lambda: ctx.put(ctx.tables["hr"], {"pk": S("x"), "sk": S("1")}),
               message="One or more parameter values were invalid: Type mismatch for key sk "
                       "expected: N actual: S")


def case_empty_string_hash_key(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("")}),
               contains=["The AttributeValue for a key attribute cannot contain an empty string value",
                         "Key: pk"])


def case_empty_binary_hash_key(ctx):
    validation(lambda: ctx.put(ctx.tables["hb"], {"pk": B(b"")}),
               contains=["The AttributeValue for a key attribute cannot contain an empty binary value",
                         "Key: pk"])


def case_binary_key_roundtrip(ctx):
    t = ctx.tables["hb"]
    ctx.put(t, {"pk": B(b"\x00\x01\xff"), "v": S("bin")})
    eq(ctx.get(t, {"pk": B(b"\x00\x01\xff")})["v"], S("bin"))
    assert ctx.get(t, {"pk": B(b"\x00\x01")}) is None


def case_number_key_normalized(ctx):
    t = ctx.tables["hn"]
    ctx.put(t, {"pk": N("1.50"), "v": S("x")})
    got = ctx.get(t, {"pk": N("15E-1")})
    assert got is not None, "1.50 and 15E-1 are the same key"
    eq(got["pk"], N("1.5"))


def case_number_key_put_overwrites_equal_value(ctx):
    t = ctx.tables["hn"]
    ctx.put(t, {"pk": N("100"), "v": S("first")})
    ctx.put(t, {"pk": N("1E2"), "v": S("second")})
    eq(ctx.get(t, {"pk": N("100")})["v"], S("second"))


def case_missing_table(ctx):
    expect_error(lambda: ctx.put(ctx.unique("nope"), {"pk": S("x")}), "ResourceNotFoundException",
                 message="Requested resource not found")


@known_gap("data-plane TableName is not validated: '' gives ResourceNotFoundException")
def case_table_name_empty(ctx):
    raw_error(ctx.raw("PutItem", {"TableName": "", "Item": {"pk": S("x")}}))


@known_gap("data-plane TableName is not validated: 'bad name!' gives ResourceNotFoundException")
def case_table_name_bad_pattern(ctx):
    raw_error(ctx.raw("PutItem", {"TableName": "bad name!", "Item": {"pk": S("x")}}))


def case_item_parameter_missing(ctx):
    r = ctx.raw("PutItem", {"TableName": ctx.tables["h"]})
    assert r.status == 400 and r.error_type == "ValidationException", r


def case_condition_not_exists_new_item(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("c1")}, ConditionExpression="attribute_not_exists(pk)")
    assert ctx.get(t, {"pk": S("c1")}) is not None


def case_condition_not_exists_existing_fails(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("c2"), "v": S("orig")})
    expect_error(lambda: ctx.put(t, {"pk": S("c2"), "v": S("new")},
                                 ConditionExpression="attribute_not_exists(pk)"),
                 "ConditionalCheckFailedException", message="The conditional request failed")
    eq(ctx.get(t, {"pk": S("c2")})["v"], S("orig"))


def case_condition_fail_returns_old_item(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("c3"), "v": S("orig")})
    e = expect_error(lambda: ctx.put(t, {"pk": S("c3")}, ConditionExpression="attribute_not_exists(pk)",
                                     ReturnValuesOnConditionCheckFailure="ALL_OLD"),
                     "ConditionalCheckFailedException")
    eq(e.response.get("Item"), {"pk": S("c3"), "v": S("orig")})


def case_condition_fail_without_return_has_no_item(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("c4"), "v": S("orig")})
    e = expect_error(lambda: ctx.put(t, {"pk": S("c4")}, ConditionExpression="attribute_not_exists(pk)",
                                     ReturnValuesOnConditionCheckFailure="NONE"),
                     "ConditionalCheckFailedException")
    assert "Item" not in e.response, e.response


def case_condition_fail_on_missing_item_has_no_item(ctx):
    t = ctx.tables["h"]
    e = expect_error(lambda: ctx.put(t, {"pk": S("c5-missing")}, ConditionExpression="attribute_exists(pk)",
                                     ReturnValuesOnConditionCheckFailure="ALL_OLD"),
                     "ConditionalCheckFailedException")
    assert "Item" not in e.response, e.response
    assert ctx.get(t, {"pk": S("c5-missing")}) is None


def case_condition_on_attribute_value(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("c6"), "ver": N(1)})
    ctx.put(t, {"pk": S("c6"), "ver": N(2)}, ConditionExpression="ver = :v",
            ExpressionAttributeValues={":v": N(1)})
    expect_error(lambda: ctx.put(t, {"pk": S("c6"), "ver": N(3)}, ConditionExpression="ver = :v",
                                 ExpressionAttributeValues={":v": N(1)}),
                 "ConditionalCheckFailedException")
    eq(ctx.get(t, {"pk": S("c6")})["ver"], N(2))


def case_return_values_on_condition_failure_enum(ctx):
    r = ctx.raw("PutItem", {"TableName": ctx.tables["h"], "Item": {"pk": S("x")},
                            "ConditionExpression": "attribute_exists(pk)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_NEW"})
    assert r.status == 400 and r.error_type == "ValidationException", r


def case_expression_values_without_expression(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ExpressionAttributeValues={":v": S("a")}),
               contains="ExpressionAttributeValues can only be specified when using expressions")


def case_expression_names_without_expression(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ExpressionAttributeNames={"#n": "a"}),
               message="ExpressionAttributeNames can only be specified when using expressions")


def case_unused_expression_value(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ConditionExpression="attribute_not_exists(a)",
                               ExpressionAttributeValues={":unused": S("a")}),
               message="Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}")


def case_unused_expression_name(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ConditionExpression="attribute_not_exists(a)",
                               ExpressionAttributeNames={"#unused": "a"}),
               message="Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}")


def case_expression_and_expected_together(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ConditionExpression="attribute_not_exists(a)",
                               Expected={"a": {"Exists": False}}),
               contains=["Can not use both expression and non-expression parameters in the same request",
                         "Expected", "ConditionExpression"])


def case_empty_condition_expression(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ConditionExpression=""),
               contains="Invalid ConditionExpression: The expression can not be empty;")


def case_condition_syntax_error(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("x")}, ConditionExpression="a = = b"),
               contains="Invalid ConditionExpression: Syntax error;")


def case_hash_key_2048_bytes_ok(ctx):
    t = ctx.tables["h"]
    k = "k" * 2048
    ctx.put(t, {"pk": S(k)})
    assert ctx.get(t, {"pk": S(k)}) is not None


def case_hash_key_2049_bytes_rejected(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("k" * 2049)}),
               contains="Size of hashkey has exceeded the maximum size limit of2048 bytes")


def case_range_key_1024_bytes_ok(ctx):
    t = ctx.create_table(("pk", "S"), ("sk", "S")) if "hs" not in ctx.tables else ctx.tables["hs"]
    ctx.tables["hs"] = t
    ctx.put(t, {"pk": S("r"), "sk": S("s" * 1024)})
    assert ctx.get(t, {"pk": S("r"), "sk": S("s" * 1024)}) is not None


def case_range_key_1025_bytes_rejected(ctx):
    t = ctx.tables.get("hs") or ctx.create_table(("pk", "S"), ("sk", "S"))
    ctx.tables["hs"] = t
    validation(lambda: ctx.put(t, {"pk": S("r"), "sk": S("s" * 1025)}),
               contains="Aggregated size of all range keys has exceeded the size limit of 1024 bytes")


def case_multibyte_hash_key_counted_in_bytes(ctx):
    # 683 three-byte characters = 2049 bytes: over the limit although only 683 characters.
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": S("\u20ac" * 683)}),
               contains="2048")


def case_extra_attribute_with_other_type_is_fine(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("types"), "sk": N(1), "pk2": B(b"x")})
    eq(ctx.get(t, {"pk": S("types")})["pk2"], B(b"x"))


def case_invalid_enums_reported_together(ctx):
    r = ctx.raw("PutItem", {"TableName": ctx.tables["h"], "Item": {"pk": S("x")}, "ReturnValues": "INVALID",
                            "ReturnConsumedCapacity": "INVALID", "ReturnItemCollectionMetrics": "INVALID"})
    raw_error(r, "ValidationException", "3 validation errors detected:")
    assert "returnconsumedcapacity" in r.message.lower() and "returnitemcollectionmetrics" in r.message.lower(), r


def case_non_scalar_key_rejected(ctx):
    validation(lambda: ctx.put(ctx.tables["h"], {"pk": {"L": [S("x")]}}))


def case_return_item_collection_metrics_accepted(ctx):
    out = ctx.put(ctx.tables["h"], {"pk": S("ricm")}, ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in out, out  # only tables with local secondary indexes report it
