"""DeleteItem (API_DeleteItem): idempotent delete, ReturnValues NONE|ALL_OLD, conditions,
ReturnValuesOnConditionCheckFailure, key validation."""

from run import N, S, eq, expect_error, validation


def setup(ctx):
    ctx.create_tables({
        "h": dict(hash_key=("pk", "S")),
        "hr": dict(hash_key=("pk", "S"), range_key=("sk", "N")),
    })


def delete(ctx, key, table="h", **kw):
    return ctx.ddb.delete_item(TableName=ctx.tables[table], Key=key, **kw)


def case_delete_existing(ctx):
    ctx.put(ctx.tables["h"], {"pk": S("d1"), "a": S("x")})
    out = delete(ctx, {"pk": S("d1")})
    assert "Attributes" not in out, out
    assert ctx.get(ctx.tables["h"], {"pk": S("d1")}) is None


def case_delete_missing_is_success(ctx):
    out = delete(ctx, {"pk": S("never-there")})
    assert "Attributes" not in out, out


def case_delete_all_old(ctx):
    ctx.put(ctx.tables["h"], {"pk": S("d2"), "a": S("x"), "n": N(2)})
    out = delete(ctx, {"pk": S("d2")}, ReturnValues="ALL_OLD")
    eq(out["Attributes"], {"pk": S("d2"), "a": S("x"), "n": N(2)})


def case_delete_all_old_missing_item(ctx):
    out = delete(ctx, {"pk": S("d3-missing")}, ReturnValues="ALL_OLD")
    assert "Attributes" not in out, out


def case_return_values_all_new_rejected(ctx):
    validation(lambda: delete(ctx, {"pk": S("x")}, ReturnValues="ALL_NEW"),
               message="ReturnValues can only be ALL_OLD or NONE")


def case_return_values_updated_new_rejected(ctx):
    validation(lambda: delete(ctx, {"pk": S("x")}, ReturnValues="UPDATED_NEW"),
               message="ReturnValues can only be ALL_OLD or NONE")


def case_delete_hash_range(ctx):
    t = ctx.tables["hr"]
    ctx.put(t, {"pk": S("r"), "sk": N(1)})
    ctx.put(t, {"pk": S("r"), "sk": N(2)})
    delete(ctx, {"pk": S("r"), "sk": N(1)}, "hr")
    assert ctx.get(t, {"pk": S("r"), "sk": N(1)}) is None
    assert ctx.get(t, {"pk": S("r"), "sk": N(2)}) is not None


def case_delete_number_key_normalized(ctx):
    t = ctx.tables["hr"]
    ctx.put(t, {"pk": S("norm"), "sk": N("10")})
    out = delete(ctx, {"pk": S("norm"), "sk": N("1E1")}, "hr", ReturnValues="ALL_OLD")
    eq(out["Attributes"]["sk"], N(10))
    assert ctx.get(t, {"pk": S("norm"), "sk": N(10)}) is None


def case_condition_success(ctx):
    ctx.put(ctx.tables["h"], {"pk": S("d4"), "st": S("done")})
    delete(ctx, {"pk": S("d4")}, ConditionExpression="st = :s", ExpressionAttributeValues={":s": S("done")})
    assert ctx.get(ctx.tables["h"], {"pk": S("d4")}) is None


def case_condition_failure_keeps_item(ctx):
    ctx.put(ctx.tables["h"], {"pk": S("d5"), "st": S("open")})
    expect_error(lambda: delete(ctx, {"pk": S("d5")}, ConditionExpression="st = :s",
                                ExpressionAttributeValues={":s": S("done")}),
                 "ConditionalCheckFailedException", message="The conditional request failed")
    assert ctx.get(ctx.tables["h"], {"pk": S("d5")}) is not None


def case_condition_failure_returns_item(ctx):
    ctx.put(ctx.tables["h"], {"pk": S("d6"), "st": S("open")})
    e = expect_error(lambda: delete(ctx, {"pk": S("d6")}, ConditionExpression="st = :s",
                                    ExpressionAttributeValues={":s": S("done")},
                                    ReturnValuesOnConditionCheckFailure="ALL_OLD"),
                     "ConditionalCheckFailedException")
    eq(e.response.get("Item"), {"pk": S("d6"), "st": S("open")})


def case_attribute_exists_on_missing_item_fails(ctx):
    expect_error(lambda: delete(ctx, {"pk": S("d7-missing")}, ConditionExpression="attribute_exists(pk)"),
                 "ConditionalCheckFailedException")


def case_attribute_not_exists_on_missing_item_passes(ctx):
    delete(ctx, {"pk": S("d8-missing")}, ConditionExpression="attribute_not_exists(pk)")


def case_condition_with_names(ctx):
    ctx.put(ctx.tables["h"], {"pk": S("d9"), "status": S("x")})
    delete(ctx, {"pk": S("d9")}, ConditionExpression="#s = :v", ExpressionAttributeNames={"#s": "status"},
           ExpressionAttributeValues={":v": S("x")})
    assert ctx.get(ctx.tables["h"], {"pk": S("d9")}) is None


def case_key_missing_range(ctx):
    validation(lambda: delete(ctx, {"pk": S("r")}, "hr"),
               message="The provided key element does not match the schema")


def case_key_extra_attribute(ctx):
    validation(lambda: delete(ctx, {"pk": S("r"), "x": S("y")}),
               message="The provided key element does not match the schema")


def case_key_wrong_type(ctx):
    validation(lambda: delete(ctx, {"pk": S("r"), "sk": S("1")}, "hr"),
               message="The provided key element does not match the schema")


def case_missing_table(ctx):
    expect_error(lambda: ctx.ddb.delete_item(TableName=ctx.unique("nope"), Key={"pk": S("x")}),
                 "ResourceNotFoundException", message="Requested resource not found")


def case_delete_then_put_again(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("d10"), "v": N(1)})
    delete(ctx, {"pk": S("d10")})
    ctx.put(t, {"pk": S("d10"), "v": N(2)})
    eq(ctx.get(t, {"pk": S("d10")}), {"pk": S("d10"), "v": N(2)})


def case_unused_expression_value(ctx):
    validation(lambda: delete(ctx, {"pk": S("x")}, ConditionExpression="attribute_exists(pk)",
                              ExpressionAttributeValues={":x": S("1")}),
               message="Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}")


def case_undefined_expression_value(ctx):
    validation(lambda: delete(ctx, {"pk": S("x")}, ConditionExpression="a = :missing",
                              ExpressionAttributeValues={":other": S("1")}),
               contains="An expression attribute value used in expression is not defined; "
                        "attribute value: :missing")
