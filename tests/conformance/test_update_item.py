"""UpdateItem (API_UpdateItem; Expressions.UpdateExpressions): upsert, SET/REMOVE/ADD/DELETE,
if_not_exists, list_append, arithmetic, document paths, ReturnValues, conditions, and the
documented error messages."""

from run import N, S, eq, expect_error, known_gap, validation

SS = lambda *v: {"SS": list(v)}  # noqa: E731
NS = lambda *v: {"NS": [str(x) for x in v]}  # noqa: E731
L = lambda *v: {"L": list(v)}  # noqa: E731
M = lambda **v: {"M": v}  # noqa: E731

_n = [0]


def setup(ctx):
    ctx.create_tables({
        "h": dict(hash_key=("pk", "S")),
        "hr": dict(hash_key=("pk", "S"), range_key=("sk", "N")),
    })


def key():
    _n[0] += 1
    return {"pk": S(f"u{_n[0]}")}


def upd(ctx, k, expr=None, values=None, names=None, table="h", **kw):
    args = dict(TableName=ctx.tables[table], Key=k, **kw)
    if expr is not None:
        args["UpdateExpression"] = expr
    if values:
        args["ExpressionAttributeValues"] = values
    if names:
        args["ExpressionAttributeNames"] = names
    return ctx.ddb.update_item(**args)


def item(ctx, k, table="h"):
    return ctx.get(ctx.tables[table], k)


def seed(ctx, attrs):
    k = key()
    ctx.put(ctx.tables["h"], {**k, **attrs})
    return k


# ---------------------------------------------------------------- SET

def case_set_creates_missing_item(ctx):
    k = key()
    out = upd(ctx, k, "SET a = :v", {":v": S("x")}, ReturnValues="ALL_NEW")
    eq(out["Attributes"], {**k, "a": S("x")})
    eq(item(ctx, k), {**k, "a": S("x")})


def case_update_without_expression_creates_key_only_item(ctx):
    k = key()
    upd(ctx, k)
    eq(item(ctx, k), k)


def case_set_multiple_attributes(ctx):
    k = seed(ctx, {"a": S("old")})
    upd(ctx, k, "SET a = :a, b = :b, c = :c", {":a": S("A"), ":b": N(2), ":c": {"BOOL": True}})
    eq(item(ctx, k), {**k, "a": S("A"), "b": N(2), "c": {"BOOL": True}})


def case_set_copies_other_attribute(ctx):
    k = seed(ctx, {"a": S("src")})
    upd(ctx, k, "SET b = a")
    eq(item(ctx, k)["b"], S("src"))


def case_set_from_missing_attribute_fails(ctx):
    k = seed(ctx, {"a": S("src")})
    validation(lambda: upd(ctx, k, "SET b = nothere"),
               message="The provided expression refers to an attribute that does not exist in the item")


def case_set_plus(ctx):
    k = seed(ctx, {"n": N(10)})
    upd(ctx, k, "SET n = n + :d", {":d": N(5)})
    eq(item(ctx, k)["n"], N(15))


def case_set_minus(ctx):
    k = seed(ctx, {"n": N(10)})
    upd(ctx, k, "SET n = n - :d", {":d": N(12)})
    eq(item(ctx, k)["n"], N(-2))


def case_set_plus_is_exact_decimal(ctx):
    k = seed(ctx, {"n": N("0.1")})
    upd(ctx, k, "SET n = n + :d", {":d": N("0.2")})
    eq(item(ctx, k)["n"], N("0.3"))


def case_set_plus_two_values(ctx):
    k = key()
    upd(ctx, k, "SET n = :a + :b", {":a": N(2), ":b": N(3)})
    eq(item(ctx, k)["n"], N(5))


def case_set_plus_missing_attribute_fails(ctx):
    k = seed(ctx, {})
    validation(lambda: upd(ctx, k, "SET n = n + :d", {":d": N(1)}),
               message="The provided expression refers to an attribute that does not exist in the item")


def case_set_plus_on_string_attribute_fails(ctx):
    k = seed(ctx, {"n": S("ten")})
    validation(lambda: upd(ctx, k, "SET n = n + :d", {":d": N(1)}),
               message="An operand in the update expression has an incorrect data type")


def case_set_plus_string_operand_rejected(ctx):
    k = seed(ctx, {"n": N(1)})
    validation(lambda: upd(ctx, k, "SET n = n + :d", {":d": S("1")}),
               contains=["Invalid UpdateExpression", "Incorrect operand type for operator or function"])


def case_set_plus_overflow(ctx):
    k = seed(ctx, {"n": N("9.9999999999999999999999999999999999999E+125")})
    validation(lambda: upd(ctx, k, "SET n = n + :d", {":d": N("9E+125")}),
               contains="Number overflow")


def case_if_not_exists_missing(ctx):
    k = seed(ctx, {})
    upd(ctx, k, "SET c = if_not_exists(c, :z)", {":z": N(0)})
    eq(item(ctx, k)["c"], N(0))


def case_if_not_exists_present(ctx):
    k = seed(ctx, {"c": N(7)})
    upd(ctx, k, "SET c = if_not_exists(c, :z)", {":z": N(0)})
    eq(item(ctx, k)["c"], N(7))


def case_if_not_exists_counter(ctx):
    k = seed(ctx, {})
    for _ in range(3):
        upd(ctx, k, "SET c = if_not_exists(c, :z) + :one", {":z": N(0), ":one": N(1)})
    eq(item(ctx, k)["c"], N(3))


def case_if_not_exists_requires_path(ctx):
    k = key()
    validation(lambda: upd(ctx, k, "SET c = if_not_exists(:a, :b)", {":a": N(1), ":b": N(2)}),
               contains="Operator or function requires a document path; operator or function: if_not_exists")


def case_if_not_exists_operand_count(ctx):
    k = key()
    validation(lambda: upd(ctx, k, "SET c = if_not_exists(c)"),
               contains="Incorrect number of operands for operator or function; "
                        "operator or function: if_not_exists, number of operands: 1")


def case_list_append_end(ctx):
    k = seed(ctx, {"l": L(N(1))})
    upd(ctx, k, "SET l = list_append(l, :v)", {":v": L(N(2), N(3))})
    eq(item(ctx, k)["l"], L(N(1), N(2), N(3)))


def case_list_append_front(ctx):
    k = seed(ctx, {"l": L(N(1))})
    upd(ctx, k, "SET l = list_append(:v, l)", {":v": L(N(0))})
    eq(item(ctx, k)["l"], L(N(0), N(1)))


def case_list_append_with_if_not_exists(ctx):
    k = seed(ctx, {})
    upd(ctx, k, "SET l = list_append(if_not_exists(l, :e), :v)", {":e": L(), ":v": L(S("a"))})
    eq(item(ctx, k)["l"], L(S("a")))


def case_list_append_non_list_operand(ctx):
    k = seed(ctx, {"l": L(N(1))})
    validation(lambda: upd(ctx, k, "SET l = list_append(l, :v)", {":v": S("x")}),
               contains=["Incorrect operand type for operator or function", "list_append"])


def case_set_nested_map_path(ctx):
    k = seed(ctx, {"m": M(a=S("x"))})
    upd(ctx, k, "SET m.b = :v, m.a = :w", {":v": N(1), ":w": S("y")})
    eq(item(ctx, k)["m"], M(a=S("y"), b=N(1)))


def case_set_nested_parent_missing(ctx):
    k = seed(ctx, {})
    validation(lambda: upd(ctx, k, "SET m.b = :v", {":v": N(1)}),
               message="The document path provided in the update expression is invalid for update")


def case_set_nested_parent_wrong_type(ctx):
    k = seed(ctx, {"m": S("not a map")})
    validation(lambda: upd(ctx, k, "SET m.b = :v", {":v": N(1)}),
               message="The document path provided in the update expression is invalid for update")


def case_set_list_element(ctx):
    k = seed(ctx, {"l": L(S("a"), S("b"))})
    upd(ctx, k, "SET l[1] = :v", {":v": S("B")})
    eq(item(ctx, k)["l"], L(S("a"), S("B")))


def case_set_list_index_past_end_appends(ctx):
    k = seed(ctx, {"l": L(S("a"), S("b"))})
    upd(ctx, k, "SET l[10] = :v", {":v": S("c")})
    eq(item(ctx, k)["l"], L(S("a"), S("b"), S("c")))


def case_set_two_list_indexes_past_end(ctx):
    k = seed(ctx, {"l": L(S("a"))})
    upd(ctx, k, "SET l[7] = :x, l[5] = :y", {":x": S("x"), ":y": S("y")})
    eq(item(ctx, k)["l"], L(S("a"), S("y"), S("x")))


def case_set_index_on_non_list(ctx):
    k = seed(ctx, {"l": S("scalar")})
    validation(lambda: upd(ctx, k, "SET l[0] = :v", {":v": S("x")}),
               message="The document path provided in the update expression is invalid for update")


def case_set_with_attribute_names(ctx):
    k = seed(ctx, {})
    upd(ctx, k, "SET #s = :v, #m = :m", {":v": S("on"), ":m": M()}, {"#s": "status", "#m": "a.b"})
    got = item(ctx, k)
    eq(got["status"], S("on"))
    eq(got["a.b"], M())


# ---------------------------------------------------------------- REMOVE

def case_remove_attribute(ctx):
    k = seed(ctx, {"a": S("x"), "b": S("y")})
    upd(ctx, k, "REMOVE a")
    eq(item(ctx, k), {**k, "b": S("y")})


def case_remove_missing_attribute_noop(ctx):
    k = seed(ctx, {"a": S("x")})
    upd(ctx, k, "REMOVE nothere")
    eq(item(ctx, k), {**k, "a": S("x")})


def case_remove_all_non_key_keeps_item(ctx):
    k = seed(ctx, {"a": S("x")})
    upd(ctx, k, "REMOVE a")
    eq(item(ctx, k), k)


def case_remove_list_element_shifts(ctx):
    k = seed(ctx, {"l": L(S("a"), S("b"), S("c"))})
    upd(ctx, k, "REMOVE l[0]")
    eq(item(ctx, k)["l"], L(S("b"), S("c")))


def case_remove_list_index_past_end_noop(ctx):
    k = seed(ctx, {"l": L(S("a"))})
    upd(ctx, k, "REMOVE l[5]")
    eq(item(ctx, k)["l"], L(S("a")))


def case_remove_nested_map_key(ctx):
    k = seed(ctx, {"m": M(a=S("x"), b=S("y"))})
    upd(ctx, k, "REMOVE m.a")
    eq(item(ctx, k)["m"], M(b=S("y")))


def case_set_and_remove_together(ctx):
    k = seed(ctx, {"a": S("x"), "b": S("y")})
    upd(ctx, k, "SET c = :c REMOVE a, b", {":c": N(1)})
    eq(item(ctx, k), {**k, "c": N(1)})


def case_clauses_in_any_order(ctx):
    k = seed(ctx, {"a": S("x"), "s": SS("p")})
    upd(ctx, k, "REMOVE a ADD n :one SET b = :b DELETE s :p", {":one": N(1), ":b": S("B"), ":p": SS("p")})
    eq(item(ctx, k), {**k, "n": N(1), "b": S("B")})


# ---------------------------------------------------------------- ADD / DELETE

def case_add_number(ctx):
    k = seed(ctx, {"n": N(5)})
    upd(ctx, k, "ADD n :d", {":d": N(-7)})
    eq(item(ctx, k)["n"], N(-2))


def case_add_number_creates_attribute(ctx):
    k = seed(ctx, {})
    upd(ctx, k, "ADD n :d", {":d": N(3)})
    eq(item(ctx, k)["n"], N(3))


def case_add_creates_item(ctx):
    k = key()
    upd(ctx, k, "ADD n :d", {":d": N(1)})
    eq(item(ctx, k), {**k, "n": N(1)})


def case_add_string_set_union(ctx):
    k = seed(ctx, {"s": SS("a", "b")})
    upd(ctx, k, "ADD s :v", {":v": SS("b", "c")})
    eq(sorted(item(ctx, k)["s"]["SS"]), ["a", "b", "c"])


def case_add_number_set_creates(ctx):
    k = seed(ctx, {})
    upd(ctx, k, "ADD s :v", {":v": NS(1, 2)})
    eq(sorted(item(ctx, k)["s"]["NS"]), ["1", "2"])


def case_add_string_operand_rejected(ctx):
    k = key()
    validation(lambda: upd(ctx, k, "ADD a :v", {":v": S("x")}),
               contains="Invalid UpdateExpression: Incorrect operand type for operator or function; "
                        "operator: ADD, operand type: STRING")


def case_add_list_operand_rejected(ctx):
    k = key()
    validation(lambda: upd(ctx, k, "ADD a :v", {":v": L(S("x"))}),
               contains="Incorrect operand type for operator or function; operator: ADD, operand type: LIST")


def case_add_set_to_other_set_type(ctx):
    k = seed(ctx, {"s": SS("a")})
    validation(lambda: upd(ctx, k, "ADD s :v", {":v": NS(1)}),
               message="An operand in the update expression has an incorrect data type")


def case_add_number_to_string_attribute(ctx):
    k = seed(ctx, {"n": S("x")})
    validation(lambda: upd(ctx, k, "ADD n :v", {":v": N(1)}),
               message="An operand in the update expression has an incorrect data type")


def case_delete_from_set(ctx):
    k = seed(ctx, {"s": SS("a", "b", "c")})
    upd(ctx, k, "DELETE s :v", {":v": SS("a", "zz")})
    eq(sorted(item(ctx, k)["s"]["SS"]), ["b", "c"])


def case_delete_last_elements_removes_attribute(ctx):
    k = seed(ctx, {"s": NS(1, 2)})
    upd(ctx, k, "DELETE s :v", {":v": NS(1, 2)})
    assert "s" not in item(ctx, k), item(ctx, k)


def case_delete_from_missing_attribute_noop(ctx):
    k = seed(ctx, {"a": S("x")})
    upd(ctx, k, "DELETE s :v", {":v": SS("a")})
    eq(item(ctx, k), {**k, "a": S("x")})


def case_delete_scalar_operand_rejected(ctx):
    k = key()
    validation(lambda: upd(ctx, k, "DELETE s :v", {":v": N(1)}),
               contains="Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER")


def case_delete_other_set_type(ctx):
    k = seed(ctx, {"s": SS("a")})
    validation(lambda: upd(ctx, k, "DELETE s :v", {":v": NS(1)}),
               message="An operand in the update expression has an incorrect data type")


# ---------------------------------------------------------------- keys

def case_set_key_attribute_rejected(ctx):
    k = seed(ctx, {})
    validation(lambda: upd(ctx, k, "SET pk = :v", {":v": S("other")}),
               message="One or more parameter values were invalid: Cannot update attribute pk. "
                       "This attribute is part of the key")


def case_remove_range_key_rejected(ctx):
    k = {"pk": S("rk"), "sk": N(1)}
    validation(lambda: upd(ctx, k, "REMOVE sk", table="hr"),
               message="One or more parameter values were invalid: Cannot update attribute sk. "
                       "This attribute is part of the key")


def case_key_must_match_schema(ctx):
    validation(lambda: upd(ctx, {"pk": S("x")}, "SET a = :v", {":v": N(1)}, table="hr"),
               message="The provided key element does not match the schema")


def case_missing_table(ctx):
    expect_error(lambda: ctx.ddb.update_item(TableName=ctx.unique("nope"), Key={"pk": S("x")},
                                             UpdateExpression="SET a = :v",
                                             ExpressionAttributeValues={":v": N(1)}),
                 "ResourceNotFoundException", message="Requested resource not found")


# ---------------------------------------------------------------- ReturnValues

def rv_item(ctx):
    return seed(ctx, {"a": S("a0"), "b": S("b0"), "c": S("c0")})


def case_return_values_none(ctx):
    out = upd(ctx, rv_item(ctx), "SET a = :v", {":v": S("a1")}, ReturnValues="NONE")
    assert "Attributes" not in out, out


def case_return_values_all_old(ctx):
    k = rv_item(ctx)
    out = upd(ctx, k, "SET a = :v", {":v": S("a1")}, ReturnValues="ALL_OLD")
    eq(out["Attributes"], {**k, "a": S("a0"), "b": S("b0"), "c": S("c0")})


def case_return_values_updated_old(ctx):
    k = rv_item(ctx)
    out = upd(ctx, k, "SET a = :v REMOVE b", {":v": S("a1")}, ReturnValues="UPDATED_OLD")
    eq(out["Attributes"], {"a": S("a0"), "b": S("b0")})


def case_return_values_all_new(ctx):
    k = rv_item(ctx)
    out = upd(ctx, k, "SET a = :v REMOVE b", {":v": S("a1")}, ReturnValues="ALL_NEW")
    eq(out["Attributes"], {**k, "a": S("a1"), "c": S("c0")})


def case_return_values_updated_new(ctx):
    k = rv_item(ctx)
    out = upd(ctx, k, "SET a = :v, d = :d", {":v": S("a1"), ":d": N(1)}, ReturnValues="UPDATED_NEW")
    eq(out["Attributes"], {"a": S("a1"), "d": N(1)})


def case_return_values_updated_new_nested(ctx):
    k = seed(ctx, {"m": M(x=S("1"), y=S("2"))})
    out = upd(ctx, k, "SET m.x = :v", {":v": S("9")}, ReturnValues="UPDATED_NEW")
    eq(out["Attributes"], {"m": M(x=S("9"))})


def case_return_values_all_old_on_new_item(ctx):
    out = upd(ctx, key(), "SET a = :v", {":v": S("x")}, ReturnValues="ALL_OLD")
    assert "Attributes" not in out, out


def case_return_values_updated_old_new_attribute(ctx):
    k = seed(ctx, {"a": S("x")})
    out = upd(ctx, k, "SET b = :v", {":v": S("y")}, ReturnValues="UPDATED_OLD")
    assert "Attributes" not in out, out


def case_return_values_not_in_enum(ctx):
    r = ctx.raw("UpdateItem", {"TableName": ctx.tables["h"], "Key": key(), "ReturnValues": "EVERYTHING"})
    assert r.status == 400 and r.error_type == "ValidationException", r
    assert "Member must satisfy enum value set" in (r.message or ""), r


# ---------------------------------------------------------------- conditions

def case_condition_success(ctx):
    k = seed(ctx, {"v": N(1)})
    upd(ctx, k, "SET v = :n", {":n": N(2), ":o": N(1)}, ConditionExpression="v = :o")
    eq(item(ctx, k)["v"], N(2))


def case_condition_failure_leaves_item(ctx):
    k = seed(ctx, {"v": N(1)})
    expect_error(lambda: upd(ctx, k, "SET v = :n", {":n": N(2), ":o": N(5)}, ConditionExpression="v = :o"),
                 "ConditionalCheckFailedException", message="The conditional request failed")
    eq(item(ctx, k)["v"], N(1))


def case_condition_failure_returns_item(ctx):
    k = seed(ctx, {"v": N(1)})
    e = expect_error(lambda: upd(ctx, k, "SET v = :n", {":n": N(2), ":o": N(5)}, ConditionExpression="v = :o",
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD"),
                     "ConditionalCheckFailedException")
    eq(e.response.get("Item"), {**k, "v": N(1)})


def case_condition_attribute_exists_prevents_upsert(ctx):
    k = key()
    expect_error(lambda: upd(ctx, k, "SET a = :v", {":v": S("x")}, ConditionExpression="attribute_exists(pk)"),
                 "ConditionalCheckFailedException")
    assert item(ctx, k) is None


# ---------------------------------------------------------------- expression errors

def case_section_used_twice(ctx):
    validation(lambda: upd(ctx, key(), "SET a = :v SET b = :v", {":v": N(1)}),
               message='Invalid UpdateExpression: The "SET" section can only be used once in an update expression;')


def case_paths_overlap(ctx):
    validation(lambda: upd(ctx, key(), "SET a = :v REMOVE a", {":v": N(1)}),
               contains="Invalid UpdateExpression: Two document paths overlap with each other; "
                        "must remove or rewrite one of these paths; path one: [a], path two: [a]")


def case_paths_overlap_parent_child(ctx):
    validation(lambda: upd(ctx, key(), "SET m = :v, m.x = :v", {":v": N(1)}),
               contains="Two document paths overlap with each other")


def case_paths_conflict(ctx):
    validation(lambda: upd(ctx, key(), "SET a.b = :v, a[0] = :v", {":v": N(1)}),
               contains="Invalid UpdateExpression: Two document paths conflict with each other")


def case_unknown_function(ctx):
    validation(lambda: upd(ctx, key(), "SET a = foo(:v)", {":v": N(1)}),
               message="Invalid UpdateExpression: Invalid function name; function: foo")


def case_condition_function_in_update(ctx):
    validation(lambda: upd(ctx, key(), "SET a = size(b)"),
               contains="Invalid UpdateExpression")


def case_syntax_error(ctx):
    validation(lambda: upd(ctx, key(), "SET a :v", {":v": N(1)}),
               contains="Invalid UpdateExpression: Syntax error;")


def case_syntax_error_token_and_near(ctx):
    validation(lambda: upd(ctx, key(), "INVALID SYNTAX HERE", {":v": N(1)}),
               contains='Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX"')


def case_empty_update_expression(ctx):
    validation(lambda: upd(ctx, key(), ""),
               contains="Invalid UpdateExpression: The expression can not be empty;")


def case_reserved_word_in_update(ctx):
    validation(lambda: upd(ctx, key(), "SET status = :v", {":v": N(1)}),
               contains="Attribute name is a reserved keyword; reserved keyword: status")


def case_undefined_value(ctx):
    validation(lambda: upd(ctx, key(), "SET a = :nope", {":v": N(1)}),
               contains="An expression attribute value used in expression is not defined; attribute value: :nope")


def case_update_and_attribute_updates_together(ctx):
    validation(lambda: upd(ctx, key(), "SET a = :v", {":v": N(1)},
                           AttributeUpdates={"b": {"Action": "PUT", "Value": N(1)}}),
               contains=["Can not use both expression and non-expression parameters in the same request",
                         "AttributeUpdates", "UpdateExpression"])


def case_item_too_large_after_update(ctx):
    k = seed(ctx, {"a": S("x" * 300000)})
    validation(lambda: upd(ctx, k, "SET b = :v", {":v": S("y" * 150000)}),
               contains="Item size to update has exceeded the maximum allowed size")


def case_update_hash_range_table(ctx):
    k = {"pk": S("hr"), "sk": N("2.50")}
    upd(ctx, k, "SET v = :v", {":v": S("x")}, table="hr")
    eq(item(ctx, {"pk": S("hr"), "sk": N("2.5")}, "hr"), {"pk": S("hr"), "sk": N("2.5"), "v": S("x")})


# ---------------------------------------------------------------- more document paths

def case_remove_two_list_indexes_uses_original_positions(ctx):
    k = seed(ctx, {"l": L(S("a"), S("b"), S("c"), S("d"))})
    upd(ctx, k, "REMOVE l[0], l[2]")
    eq(item(ctx, k)["l"], L(S("b"), S("d")))


def case_set_nested_list_element_updated_new(ctx):
    k = seed(ctx, {"m": M(l=L(N(1), N(2)))})
    out = upd(ctx, k, "SET m.l[1] = :v", {":v": N(9)}, ReturnValues="UPDATED_NEW")
    eq(out["Attributes"], {"m": M(l=L(N(9)))})
    eq(item(ctx, k)["m"], M(l=L(N(1), N(9))))


def case_if_not_exists_nested_path(ctx):
    k = seed(ctx, {"m": M()})
    upd(ctx, k, "SET m.q = if_not_exists(m.q, :v)", {":v": N(5)})
    upd(ctx, k, "SET m.q = if_not_exists(m.q, :w)", {":w": N(6)})
    eq(item(ctx, k)["m"], M(q=N(5)))


def case_list_append_missing_attribute(ctx):
    k = seed(ctx, {})
    validation(lambda: upd(ctx, k, "SET l = list_append(l, :v)", {":v": L(N(1))}),
               message="The provided expression refers to an attribute that does not exist in the item")


def case_arithmetic_on_set(ctx):
    k = seed(ctx, {"s": SS("x")})
    validation(lambda: upd(ctx, k, "SET s = s + :v", {":v": N(1)}),
               message="An operand in the update expression has an incorrect data type")


def case_list_index_on_map(ctx):
    k = seed(ctx, {"m": M(a=N(1))})
    validation(lambda: upd(ctx, k, "SET m[0] = :v", {":v": N(1)}),
               message="The document path provided in the update expression is invalid for update")


def case_trailing_comma(ctx):
    validation(lambda: upd(ctx, key(), "SET a = :v,", {":v": N(1)}), contains="Invalid UpdateExpression: Syntax error;")


def case_duplicate_set_value(ctx):
    validation(lambda: upd(ctx, key(), "SET a = :v", {":v": SS("x", "x")}), contains="contains duplicates")


def case_updated_new_after_remove_only(ctx):
    k = seed(ctx, {"a": S("x")})
    out = upd(ctx, k, "REMOVE a", ReturnValues="UPDATED_NEW")
    assert "Attributes" not in out, out


def case_updated_old_of_removed(ctx):
    k = seed(ctx, {"a": S("x"), "b": S("y")})
    out = upd(ctx, k, "REMOVE a", ReturnValues="UPDATED_OLD")
    eq(out["Attributes"], {"a": S("x")})


def case_placeholder_255_bytes_ok(ctx):
    ph = "#" + "a" * 254
    k = key()
    upd(ctx, k, f"SET {ph} = :v", {":v": N(1)}, {ph: "long"})
    eq(item(ctx, k)["long"], N(1))


def case_placeholder_256_bytes_rejected(ctx):
    ph = "#" + "a" * 255
    validation(lambda: upd(ctx, key(), f"SET {ph} = :v", {":v": N(1)}, {ph: "long"}))


def case_empty_attribute_name_via_placeholder(ctx):
    validation(lambda: upd(ctx, key(), "SET #e = :v", {":v": N(1)}, {"#e": ""}))


def case_names_key_with_invalid_character(ctx):
    validation(lambda: upd(ctx, key(), "SET #a = :v", {":v": N(1)}, {"#a": "x", "#a-b": "y"}),
               contains='ExpressionAttributeNames contains invalid key: Syntax error; key: "#a-b"')


def case_condition_failure_on_missing_item_no_item(ctx):
    e = expect_error(lambda: upd(ctx, key(), "SET a = :v", {":v": N(1)}, ConditionExpression="attribute_exists(pk)",
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD"),
                     "ConditionalCheckFailedException")
    assert "Item" not in e.response, e.response


def case_same_path_set_twice(ctx):
    validation(lambda: upd(ctx, key(), "SET #v = :a, #v = :b", {":a": S("1"), ":b": S("2")}, {"#v": "val"}),
               contains="Two document paths overlap with each other")


def case_nested_arithmetic(ctx):
    k = seed(ctx, {"m": M(counter=N(10))})
    upd(ctx, k, "SET m.#c = m.#c + :inc", {":inc": N(5)}, {"#c": "counter"})
    eq(item(ctx, k)["m"], M(counter=N(15)))


def case_set_index_zero_of_empty_list(ctx):
    k = seed(ctx, {"l": L()})
    upd(ctx, k, "SET l[0] = :v", {":v": S("first")})
    eq(item(ctx, k)["l"], L(S("first")))


def case_set_dotted_path_nests_not_flattens(ctx):
    k = seed(ctx, {"parent": M(keep=S("k"))})
    upd(ctx, k, "SET parent.child = :v", {":v": S("nested")})
    got = item(ctx, k)
    eq(got["parent"], M(keep=S("k"), child=S("nested")))
    assert "parent.child" not in got, got
