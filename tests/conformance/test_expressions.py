"""Expression language (Expressions.OperatorsAndFunctions, Expressions.ExpressionAttributeNames,
ReservedWords, ServiceQuotas): comparisons, BETWEEN, IN, functions, precedence (NOT > AND > OR),
placeholders, strictness errors and limits (4 KB expressions, 32 nesting levels).

Conditions are evaluated as the ConditionExpression of an UpdateItem without an UpdateExpression
(a no-op on an existing item): success = true, ConditionalCheckFailedException = false."""

from botocore.exceptions import ClientError

from run import B, N, S, eq, known_gap, validation

ITEM = {
    "pk": S("e1"),
    "s": S("hello"), "n": N(42), "f": N("3.5"), "neg": N(-7), "digits": S("42"),
    "b": B(b"\x01\x02"), "t": {"BOOL": True}, "nul": {"NULL": True},
    "ss": {"SS": ["a", "b", "c"]}, "ns": {"NS": ["1", "2", "3"]}, "bs": {"BS": [b"\x01", b"\x02"]},
    "l": {"L": [S("x"), N(2), {"M": {"k": S("v")}}]},
    "m": {"M": {"a": N(1), "nested": {"M": {"deep": S("yes")}}, "list": {"L": [N(1), N(2)]}}},
    "es": S(""), "el": {"L": []}, "em": {"M": {}},
    "a.b": S("dot"), "name": S("nm"),
}


def setup(ctx):
    ctx.create_tables({"h": dict(hash_key=("pk", "S"))})
    ctx.put(ctx.tables["h"], ITEM)


def run_cond(ctx, expr, values=None, names=None):
    args = dict(TableName=ctx.tables["h"], Key={"pk": S("e1")}, ConditionExpression=expr)
    if values:
        args["ExpressionAttributeValues"] = values
    if names:
        args["ExpressionAttributeNames"] = names
    return ctx.ddb.update_item(**args)


def holds(ctx, expr, values=None, names=None):
    try:
        run_cond(ctx, expr, values, names)
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def true(ctx, expr, values=None, names=None):
    assert holds(ctx, expr, values, names) is True, f"{expr} should hold"


def false(ctx, expr, values=None, names=None):
    assert holds(ctx, expr, values, names) is False, f"{expr} should not hold"


def bad(ctx, expr, values=None, names=None, contains=(), message=None):
    return validation(lambda: run_cond(ctx, expr, values, names), contains=contains, message=message)


T, F_ = {"BOOL": True}, {"BOOL": False}

# ---------------------------------------------------------------- comparisons


def case_equal_string(ctx):
    true(ctx, "s = :v", {":v": S("hello")})
    false(ctx, "s = :v", {":v": S("Hello")})


def case_not_equal(ctx):
    true(ctx, "s <> :v", {":v": S("bye")})
    false(ctx, "s <> :v", {":v": S("hello")})


def case_number_comparisons_are_numeric(ctx):
    true(ctx, "n > :v", {":v": N(5)})
    true(ctx, "n >= :v", {":v": N(42)})
    true(ctx, "n <= :v", {":v": N("42.0")})
    true(ctx, "neg < :v", {":v": N("-6.5")})


def case_string_comparisons_are_bytewise(ctx):
    true(ctx, "digits < :v", {":v": S("5")})
    true(ctx, "s > :v", {":v": S("Zebra")})


def case_number_equality_normalized(ctx):
    true(ctx, "n = :v", {":v": N("4.20E1")})


def case_type_mismatch_is_false(ctx):
    false(ctx, "n = :v", {":v": S("42")})
    false(ctx, "n < :v", {":v": S("99")})
    true(ctx, "n <> :v", {":v": S("42")})


def case_nothere_attribute_comparisons(ctx):
    false(ctx, "nothere = :v", {":v": N(1)})
    false(ctx, "nothere < :v", {":v": N(1)})
    true(ctx, "nothere <> :v", {":v": N(1)})


def case_binary_comparison(ctx):
    true(ctx, "b = :v", {":v": B(b"\x01\x02")})
    true(ctx, "b < :v", {":v": B(b"\x80")})


def case_bool_and_null(ctx):
    true(ctx, "t = :v", {":v": T})
    false(ctx, "t = :v", {":v": F_})
    true(ctx, "nul = :v", {":v": {"NULL": True}})


def case_set_equality_ignores_order(ctx):
    true(ctx, "ss = :v", {":v": {"SS": ["c", "a", "b"]}})
    false(ctx, "ss = :v", {":v": {"SS": ["a", "b"]}})


def case_list_equality_is_ordered(ctx):
    true(ctx, "m.#l = :v", {":v": {"L": [N(1), N(2)]}}, {"#l": "list"})
    false(ctx, "m.#l = :v", {":v": {"L": [N(2), N(1)]}}, {"#l": "list"})


def case_map_equality_deep(ctx):
    true(ctx, "m.nested = :v", {":v": {"M": {"deep": S("yes")}}})
    false(ctx, "m.nested = :v", {":v": {"M": {"deep": S("no")}}})


def case_between_inclusive(ctx):
    true(ctx, "n BETWEEN :a AND :b", {":a": N(42), ":b": N(50)})
    true(ctx, "n BETWEEN :a AND :b", {":a": N(1), ":b": N(42)})
    false(ctx, "n BETWEEN :a AND :b", {":a": N(43), ":b": N(50)})


def case_between_strings(ctx):
    true(ctx, "s BETWEEN :a AND :b", {":a": S("h"), ":b": S("i")})


def case_between_bounds_reversed(ctx):
    bad(ctx, "n BETWEEN :a AND :b", {":a": N(5), ":b": N(1)},
        contains="The BETWEEN operator requires upper bound to be greater than or equal to lower bound")


def case_between_bounds_different_types(ctx):
    bad(ctx, "n BETWEEN :a AND :b", {":a": N(5), ":b": S("x")},
        contains="The BETWEEN operator requires same data type for lower and upper bounds")


def case_in(ctx):
    true(ctx, "s IN (:a, :b)", {":a": S("x"), ":b": S("hello")})
    false(ctx, "s IN (:a, :b)", {":a": S("x"), ":b": S("y")})


def case_in_100_operands(ctx):
    vals = {f":v{i}": N(i) for i in range(100)}
    true(ctx, "n IN (" + ", ".join(vals) + ")", vals)


def case_in_101_operands_rejected(ctx):
    vals = {f":v{i}": N(i) for i in range(101)}
    bad(ctx, "n IN (" + ", ".join(vals) + ")", vals)


# ---------------------------------------------------------------- functions

def case_attribute_exists(ctx):
    true(ctx, "attribute_exists(s)")
    false(ctx, "attribute_exists(nothere)")


def case_attribute_not_exists(ctx):
    true(ctx, "attribute_not_exists(nothere)")
    false(ctx, "attribute_not_exists(s)")


def case_attribute_exists_nested(ctx):
    true(ctx, "attribute_exists(m.nested.deep)")
    true(ctx, "attribute_exists(l[2].k)")
    false(ctx, "attribute_exists(l[5])")
    false(ctx, "attribute_exists(s.x)")


def case_attribute_exists_empty_values(ctx):
    true(ctx, "attribute_exists(es) AND attribute_exists(el) AND attribute_exists(em)")


def case_attribute_type(ctx):
    for attr, typ in [("s", "S"), ("n", "N"), ("b", "B"), ("t", "BOOL"), ("nul", "NULL"), ("ss", "SS"),
                      ("ns", "NS"), ("bs", "BS"), ("l", "L"), ("m", "M")]:
        true(ctx, f"attribute_type({attr}, :t)", {":t": S(typ)})
    false(ctx, "attribute_type(s, :t)", {":t": S("N")})


def case_attribute_type_invalid_type_name(ctx):
    bad(ctx, "attribute_type(s, :t)", {":t": S("STRING")},
        contains="Invalid attribute type name found; type: STRING, valid types:")


def case_begins_with(ctx):
    true(ctx, "begins_with(s, :v)", {":v": S("hel")})
    false(ctx, "begins_with(s, :v)", {":v": S("ell")})
    true(ctx, "begins_with(b, :v)", {":v": B(b"\x01")})


def case_begins_with_on_number_attribute_is_false(ctx):
    false(ctx, "begins_with(n, :v)", {":v": S("4")})


def case_begins_with_number_operand_rejected(ctx):
    bad(ctx, "begins_with(s, :v)", {":v": N(4)},
        contains="Incorrect operand type for operator or function; operator or function: begins_with, "
                 "operand type: N")


def case_contains_substring(ctx):
    true(ctx, "contains(s, :v)", {":v": S("ell")})
    false(ctx, "contains(s, :v)", {":v": S("xyz")})


def case_contains_set_member(ctx):
    true(ctx, "contains(ss, :v)", {":v": S("b")})
    true(ctx, "contains(ns, :v)", {":v": N(3)})
    false(ctx, "contains(ns, :v)", {":v": N(4)})


def case_contains_list_element(ctx):
    true(ctx, "contains(l, :v)", {":v": S("x")})
    true(ctx, "contains(l, :v)", {":v": N(2)})


def case_size_of_each_type(ctx):
    true(ctx, "size(s) = :v", {":v": N(5)})
    true(ctx, "size(b) = :v", {":v": N(2)})
    true(ctx, "size(ss) = :v", {":v": N(3)})
    true(ctx, "size(l) = :v", {":v": N(3)})
    true(ctx, "size(m) = :v", {":v": N(3)})
    true(ctx, "size(es) = :z AND size(el) = :z AND size(em) = :z", {":z": N(0)})


def case_size_in_comparison_both_sides(ctx):
    true(ctx, "size(ss) > size(b)")


def case_size_number_operand_rejected(ctx):
    bad(ctx, "size(:v) = :w", {":v": N(1), ":w": N(1)},
        contains="Incorrect operand type for operator or function; operator or function: size, operand type: N")


def case_size_alone_is_not_a_condition(ctx):
    bad(ctx, "size(s)", contains="The function is not allowed to be used this way in an expression; function: size")


def case_boolean_function_as_operand(ctx):
    bad(ctx, "attribute_exists(s) = :v", {":v": T},
        contains="The function is not allowed to be used this way in an expression; function: attribute_exists")


def case_function_names_case_sensitive(ctx):
    bad(ctx, "ATTRIBUTE_EXISTS(s)", contains="Invalid function name; function: ATTRIBUTE_EXISTS")


def case_unknown_function(ctx):
    bad(ctx, "foo(s)", message="Invalid ConditionExpression: Invalid function name; function: foo")


def case_function_wrong_arity(ctx):
    bad(ctx, "attribute_exists(s, n)",
        contains="Incorrect number of operands for operator or function; operator or function: "
                 "attribute_exists, number of operands: 2")


def case_function_requires_path(ctx):
    bad(ctx, "attribute_exists(:v)", {":v": S("s")},
        contains="Operator or function requires a document path; operator or function: attribute_exists")


def case_contains_same_operand_twice(ctx):
    bad(ctx, "contains(s, s)",
        contains="The first operand must be distinct from the remaining operands for this operator or function")


def case_compare_attribute_with_itself(ctx):
    bad(ctx, "s = s", contains="The first operand must be distinct from the remaining operands")


# ---------------------------------------------------------------- logic and precedence

def case_and_or_not(ctx):
    true(ctx, "s = :h AND n = :n", {":h": S("hello"), ":n": N(42)})
    true(ctx, "s = :x OR n = :n", {":x": S("x"), ":n": N(42)})
    true(ctx, "NOT s = :x", {":x": S("x")})


def case_and_binds_tighter_than_or(ctx):
    # true OR (true AND false) = true; (true OR true) AND false would be false
    true(ctx, "attribute_exists(s) OR attribute_exists(n) AND attribute_exists(nothere)")


def case_not_binds_tighter_than_and(ctx):
    # (NOT true) AND false = false; NOT (true AND false) would be true
    false(ctx, "NOT attribute_exists(s) AND attribute_exists(nothere)")


def case_parentheses_override(ctx):
    false(ctx, "(attribute_exists(s) OR attribute_exists(n)) AND attribute_exists(nothere)")
    true(ctx, "NOT (attribute_exists(s) AND attribute_exists(nothere))")


def case_keywords_case_insensitive(ctx):
    true(ctx, "s = :h and n between :a and :b or not n in (:a)", {":h": S("hello"), ":a": N(1), ":b": N(50)})


def case_whitespace_and_newlines(ctx):
    true(ctx, "\n  s\t=\n:v  ", {":v": S("hello")})


def case_redundant_parentheses(ctx):
    bad(ctx, "((s = :v))", {":v": S("hello")}, contains="The expression has redundant parentheses;")


def case_syntax_error(ctx):
    bad(ctx, "s = = :v", {":v": S("x")}, contains="Invalid ConditionExpression: Syntax error; token:")


def case_trailing_operator(ctx):
    bad(ctx, "s = :v AND", {":v": S("x")}, contains="Invalid ConditionExpression: Syntax error;")


# ---------------------------------------------------------------- names, values, placeholders

def case_reserved_word_needs_placeholder(ctx):
    bad(ctx, "name = :v", {":v": S("nm")}, contains="Attribute name is a reserved keyword; reserved keyword: name")
    true(ctx, "#n = :v", {":v": S("nm")}, {"#n": "name"})


def case_name_with_dot_placeholder_vs_path(ctx):
    true(ctx, "#ab = :v", {":v": S("dot")}, {"#ab": "a.b"})
    true(ctx, "attribute_not_exists(a.b)")


def case_placeholder_as_path_segment(ctx):
    true(ctx, "#m.#x.#d = :v", {":v": S("yes")}, {"#m": "m", "#x": "nested", "#d": "deep"})


def case_list_index_paths(ctx):
    true(ctx, "l[0] = :x AND l[1] = :two AND l[2].k = :v", {":x": S("x"), ":two": N(2), ":v": S("v")})
    true(ctx, "attribute_not_exists(l[10])")


def case_undefined_name(ctx):
    bad(ctx, "#nope = :v", {":v": S("x")},
        contains="An expression attribute name used in the document path is not defined; attribute name: #nope")


def case_undefined_value(ctx):
    bad(ctx, "s = :nope", {":v": S("x")},
        contains="An expression attribute value used in expression is not defined; attribute value: :nope")


def case_unused_name(ctx):
    bad(ctx, "attribute_exists(s)", names={"#u": "x"},
        message="Value provided in ExpressionAttributeNames unused in expressions: keys: {#u}")


def case_unused_value(ctx):
    bad(ctx, "attribute_exists(s)", {":u": S("x")},
        message="Value provided in ExpressionAttributeValues unused in expressions: keys: {:u}")


def case_name_key_without_hash(ctx):
    bad(ctx, "attribute_exists(s)", names={"n": "x"},
        contains='ExpressionAttributeNames contains invalid key: Syntax error; key: "n"')


def case_value_key_without_colon(ctx):
    bad(ctx, "attribute_exists(s)", {"v": S("x")},
        contains='ExpressionAttributeValues contains invalid key: Syntax error; key: "v"')


def case_empty_names_map(ctx):
    r = ctx.raw("UpdateItem", {"TableName": ctx.tables["h"], "Key": {"pk": S("e1")},
                               "ConditionExpression": "attribute_exists(s)", "ExpressionAttributeNames": {}})
    assert r.status == 400 and r.error_type == "ValidationException", r
    assert "ExpressionAttributeNames must not be empty" in (r.message or ""), r


def case_empty_values_map(ctx):
    r = ctx.raw("UpdateItem", {"TableName": ctx.tables["h"], "Key": {"pk": S("e1")},
                               "ConditionExpression": "attribute_exists(s)", "ExpressionAttributeValues": {}})
    assert r.status == 400 and r.error_type == "ValidationException", r
    assert "ExpressionAttributeValues must not be empty" in (r.message or ""), r


@known_gap("invalid ExpressionAttributeValues entry lacks the 'ExpressionAttributeValues contains invalid value: ... for key :v' wrapping")
def case_invalid_value_in_values(ctx):
    bad(ctx, "ss = :v", {":v": {"SS": []}},
        contains=["ExpressionAttributeValues contains invalid value", "for key :v"])


# ---------------------------------------------------------------- limits

def case_expression_4kb_ok(ctx):
    expr = "attribute_not_exists(" + "a" * 4074 + ")"
    eq(len(expr), 4096)
    true(ctx, expr)


def case_expression_over_4kb_rejected(ctx):
    expr = "attribute_not_exists(" + "a" * 4075 + ")"
    eq(len(expr), 4097)
    bad(ctx, expr, contains="Expression size has exceeded the maximum allowed size")


def case_many_operators_ok(ctx):
    expr = " OR ".join(["attribute_exists(s)"] * 100)  # 199 operators and functions
    true(ctx, expr)


def case_too_many_operators_rejected(ctx):
    expr = " OR ".join(["n>:v"] * 160)  # 319 operators, well under 4 KB
    bad(ctx, expr, {":v": N(1)}, contains="too many operators")


def case_nesting_32_levels_ok(ctx):
    path = "m" + ".x" * 31  # 32 levels
    true(ctx, f"attribute_not_exists({path})")


def case_filter_expression_on_scan(ctx):
    out = ctx.ddb.scan(TableName=ctx.tables["h"], ConsistentRead=True,
                       FilterExpression="size(l) = :three AND contains(ss, :a)",
                       ExpressionAttributeValues={":three": N(3), ":a": S("a")})
    eq(out["Count"], 1)


def case_filter_expression_error_prefix(ctx):
    validation(lambda: ctx.ddb.scan(TableName=ctx.tables["h"], FilterExpression="s = = :v",
                                    ExpressionAttributeValues={":v": S("x")}),
               contains="Invalid FilterExpression: Syntax error;")


def case_size_of_missing_attribute_is_false(ctx):
    false(ctx, "size(nothere) > :z", {":z": N(0)})
    false(ctx, "size(nothere) = :z", {":z": N(0)})


def case_not_with_parentheses_and_functions(ctx):
    true(ctx, "NOT (contains(ss, :x) OR begins_with(s, :y))", {":x": S("zz"), ":y": S("zz")})


def case_in_with_mixed_types(ctx):
    true(ctx, "n IN (:a, :b)", {":a": S("42"), ":b": N(42)})
    false(ctx, "n IN (:a)", {":a": S("42")})


def case_attribute_type_on_missing_is_false(ctx):
    false(ctx, "attribute_type(nothere, :t)", {":t": S("S")})


def case_contains_number_in_string_set_false(ctx):
    false(ctx, "contains(ss, :v)", {":v": N(1)})


def case_comparison_of_two_paths(ctx):
    true(ctx, "n > neg")
    true(ctx, "m.a < n")
