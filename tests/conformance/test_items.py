"""Attribute values and items (HowItWorks.NamingRulesDataTypes, ServiceQuotas,
CapacityUnitCalculations): every type round-trips, numbers (38 significant digits, 1E-130 ..
9.99..E+125, normalized), sets (non-empty, unique), empty strings/binaries outside keys, 32 levels
of nesting, the 400 KB item size by DynamoDB's formula, key sizes."""

from run import B, N, S, eq, known_gap, raw_error, validation

LIMIT = 400 * 1024


def setup(ctx):
    ctx.create_tables({
        "h": dict(hash_key=("pk", "S")),
        "hb": dict(hash_key=("pk", "B"), range_key=("sk", "B")),
        "hn": dict(hash_key=("pk", "N")),
    })


_n = [0]


def roundtrip(ctx, attrs):
    _n[0] += 1
    key = {"pk": S(f"i{_n[0]}")}
    ctx.put(ctx.tables["h"], {**key, **attrs})
    got = ctx.get(ctx.tables["h"], key)
    assert got is not None, "item not stored"
    del got["pk"]
    return got


def put(ctx, attrs):
    _n[0] += 1
    return ctx.put(ctx.tables["h"], {"pk": S(f"i{_n[0]}"), **attrs})


def number_out(ctx, text):
    return roundtrip(ctx, {"x": N(text)})["x"]["N"]


# ---------------------------------------------------------------- types

def case_scalar_types_roundtrip(ctx):
    attrs = {"s": S("text"), "n": N(12), "b": B(b"\x00\x10"), "t": {"BOOL": True}, "f": {"BOOL": False},
             "z": {"NULL": True}}
    eq(roundtrip(ctx, attrs), attrs)


def case_sets_roundtrip(ctx):
    got = roundtrip(ctx, {"ss": {"SS": ["b", "a"]}, "ns": {"NS": ["3", "-1.5"]}, "bs": {"BS": [b"\x02", b"\x01"]}})
    eq(sorted(got["ss"]["SS"]), ["a", "b"])
    eq(sorted(got["ns"]["NS"]), ["-1.5", "3"])
    eq(sorted(bytes(x) for x in got["bs"]["BS"]), [b"\x01", b"\x02"])


def case_nested_list_and_map_roundtrip(ctx):
    attrs = {"doc": {"M": {"name": S("x"), "tags": {"L": [S("a"), N(1), {"NULL": True}, {"L": []}]},
                           "inner": {"M": {"deep": {"M": {"b": B(b"\x01")}}}}, "empty": {"M": {}}}}}
    eq(roundtrip(ctx, attrs), attrs)


def case_empty_list_and_map(ctx):
    eq(roundtrip(ctx, {"l": {"L": []}, "m": {"M": {}}}), {"l": {"L": []}, "m": {"M": {}}})


def case_empty_string_non_key(ctx):
    eq(roundtrip(ctx, {"e": S("")}), {"e": S("")})


def case_empty_binary_non_key(ctx):
    eq(roundtrip(ctx, {"e": B(b"")}), {"e": B(b"")})


def case_empty_string_nested(ctx):
    attrs = {"m": {"M": {"e": S("")}}, "l": {"L": [S(""), B(b"")]}}
    eq(roundtrip(ctx, attrs), attrs)


def case_unicode_strings(ctx):
    attrs = {"u": S("h\u00e9llo \u4e16\u754c \U0001F600 \u0000 end")}
    eq(roundtrip(ctx, attrs), attrs)


def case_all_byte_values_binary(ctx):
    data = bytes(range(256))
    eq(roundtrip(ctx, {"b": B(data)})["b"], B(data))


def case_long_list(ctx):
    lst = {"L": [N(i) for i in range(1000)]}
    eq(roundtrip(ctx, {"l": lst})["l"], lst)


def case_attribute_names_any_characters(ctx):
    attrs = {"with space": S("1"), "dots.in.name": S("2"), "#hash": S("3"), ":colon": S("4"),
             "\u00fcml": S("5"), "x" * 300: S("6")}
    eq(roundtrip(ctx, attrs), attrs)


def case_empty_attribute_value(ctx):
    raw_error(ctx.raw("PutItem", {"TableName": ctx.tables["h"], "Item": {"pk": S("x"), "a": {}}}),
              "ValidationException", "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")


def case_two_types_in_one_value(ctx):
    raw_error(ctx.raw("PutItem", {"TableName": ctx.tables["h"], "Item": {"pk": S("x"), "a": {"S": "a", "N": "1"}}}),
              "ValidationException",
              "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")


def case_null_false_rejected_or_normalized(ctx):
    # Region-dependent in DynamoDB: rejected (us-east-1) or accepted and read back as NULL true.
    r = ctx.raw("PutItem", {"TableName": ctx.tables["h"], "Item": {"pk": S("nullfalse"), "a": {"NULL": False}}})
    if r.status == 200:
        eq(ctx.get(ctx.tables["h"], {"pk": S("nullfalse")})["a"], {"NULL": True})
    else:
        raw_error(r, "ValidationException", "Null attribute value types must have the value of true")


def case_empty_attribute_name(ctx):
    validation(lambda: put(ctx, {"": S("x")}))


# ---------------------------------------------------------------- sets

def case_empty_string_set(ctx):
    validation(lambda: put(ctx, {"s": {"SS": []}}),
               message="One or more parameter values were invalid: An string set  may not be empty")


def case_empty_number_set(ctx):
    validation(lambda: put(ctx, {"s": {"NS": []}}),
               message="One or more parameter values were invalid: An number set  may not be empty")


@known_gap("empty BS answers 'An binary set may not be empty'")
def case_empty_binary_set(ctx):
    validation(lambda: put(ctx, {"s": {"BS": []}}),
               message="One or more parameter values were invalid: Binary sets should not be empty")


def case_string_set_duplicates(ctx):
    validation(lambda: put(ctx, {"s": {"SS": ["a", "b", "a"]}}), contains="contains duplicates")


def case_number_set_duplicates(ctx):
    validation(lambda: put(ctx, {"s": {"NS": ["1", "2", "1"]}}), contains="contains duplicates")


def case_binary_set_duplicates(ctx):
    validation(lambda: put(ctx, {"s": {"BS": [b"\x01", b"\x01"]}}), contains="contains duplicates")


def case_number_set_elements_normalized(ctx):
    got = roundtrip(ctx, {"ns": {"NS": ["1.50", "2E1"]}})
    eq(sorted(got["ns"]["NS"]), ["1.5", "20"])


def case_empty_set_nested_in_map(ctx):
    validation(lambda: put(ctx, {"m": {"M": {"s": {"SS": []}}}}), contains="may not be empty")


def case_empty_set_nested_in_list(ctx):
    validation(lambda: put(ctx, {"l": {"L": [{"NS": []}]}}), contains="may not be empty")


# ---------------------------------------------------------------- numbers

def case_number_38_digits(ctx):
    eq(number_out(ctx, "12345678901234567890123456789012345678"), "12345678901234567890123456789012345678")


def case_number_39_digits_rejected(ctx):
    validation(lambda: put(ctx, {"x": N("123456789012345678901234567890123456789")}),
               contains="Attempting to store more than 38 significant digits in a Number")


def case_number_38_digits_with_decimal_point(ctx):
    eq(number_out(ctx, "1234567890.1234567890123456789012345678"), "1234567890.1234567890123456789012345678")


def case_trailing_zeros_not_significant(ctx):
    eq(number_out(ctx, "1" + "0" * 60), "1" + "0" * 60)


def case_number_max_magnitude(ctx):
    v = "9.9999999999999999999999999999999999999E+125"
    eq(number_out(ctx, v), "99999999999999999999999999999999999999" + "0" * 88)


def case_number_overflow(ctx):
    validation(lambda: put(ctx, {"x": N("1E+126")}),
               message="Number overflow. Attempting to store a number with magnitude larger than supported range")


def case_negative_overflow(ctx):
    validation(lambda: put(ctx, {"x": N("-1E+126")}),
               message="Number overflow. Attempting to store a number with magnitude larger than supported range")


def case_number_min_magnitude(ctx):
    eq(number_out(ctx, "1E-130"), "0." + "0" * 129 + "1")


def case_number_underflow(ctx):
    validation(lambda: put(ctx, {"x": N("1E-131")}),
               message="Number underflow. Attempting to store a number with magnitude smaller than supported range")


def case_number_not_numeric(ctx):
    validation(lambda: put(ctx, {"x": N("abc")}),
               contains="The parameter cannot be converted to a numeric value")


def case_number_empty_string(ctx):
    validation(lambda: put(ctx, {"x": N("")}), contains="The parameter cannot be converted to a numeric value")


def case_number_normalization(ctx):
    for given, want in [("0012.3400", "12.34"), ("1e3", "1000"), ("1.0E+2", "100"), ("-0", "0"),
                        ("+5", "5"), ("-0.50", "-0.5"), ("0.000", "0")]:
        eq(number_out(ctx, given), want, given)


def case_number_key_38_digits(ctx):
    t = ctx.tables["hn"]
    k = {"pk": N("-0.12345678901234567890123456789012345678")}
    ctx.put(t, k)
    eq(ctx.get(t, k)["pk"], k["pk"])


# ---------------------------------------------------------------- nesting

def nested(depth):
    """A map attribute nested `depth` levels deep (the attribute's own map is level 1)."""
    v = S("leaf")
    for _ in range(depth):
        v = {"M": {"n": v}}
    return v


def case_nesting_32_levels_ok(ctx):
    # 31 map wraps: the attribute is level 1, so the leaf sits at level 32, the deepest allowed
    eq(roundtrip(ctx, {"deep": nested(31)})["deep"], nested(31))


def case_nesting_33_levels_rejected(ctx):
    validation(lambda: put(ctx, {"deep": nested(32)}), contains="Nesting Levels have exceeded supported limits")


def case_nesting_34_levels_rejected(ctx):
    validation(lambda: put(ctx, {"deep": nested(33)}), contains="Nesting Levels have exceeded supported limits")


def case_nested_lists_33_levels_rejected(ctx):
    v = S("leaf")
    for _ in range(32):
        v = {"L": [v]}
    validation(lambda: put(ctx, {"deep": v}), contains="Nesting Levels have exceeded supported limits")


# ---------------------------------------------------------------- item size (400 KB)
# String: name bytes + UTF-8 bytes; Binary: name + raw bytes; Number: name + ~digits/2 + 1;
# Boolean/Null: name + 1; List/Map: name + 3 + per element (1 + element size, map keys count).

def size_case(ctx, attrs, ok):
    if ok:
        put(ctx, attrs)
    else:
        validation(lambda: put(ctx, attrs), message="Item size has exceeded the maximum allowed size")


def pk_len():
    return 2 + len(f"i{_n[0] + 1}")


def case_item_exactly_400kb_string(ctx):
    size_case(ctx, {"d": S("x" * (LIMIT - pk_len() - 1))}, ok=True)


def case_item_400kb_plus_one_string(ctx):
    size_case(ctx, {"d": S("x" * (LIMIT - pk_len()))}, ok=False)


def case_item_size_counts_attribute_names(ctx):
    name = "n" * 1000
    size_case(ctx, {name: S("x" * (LIMIT - pk_len() - 1000 + 1))}, ok=False)


def case_item_size_counts_utf8_bytes(ctx):
    # U+00E9 is 2 bytes: half as many characters reach the limit
    size_case(ctx, {"d": S("\u00e9" * ((LIMIT - pk_len() - 1) // 2 + 1))}, ok=False)


def case_item_exactly_400kb_binary(ctx):
    size_case(ctx, {"d": B(b"\x00" * (LIMIT - pk_len() - 1))}, ok=True)


def case_item_400kb_plus_one_binary(ctx):
    size_case(ctx, {"d": B(b"\x00" * (LIMIT - pk_len()))}, ok=False)


def case_item_exactly_400kb_list(ctx):
    # l: 1 (name) + 3 (list) + 1 (element) + value bytes
    size_case(ctx, {"l": {"L": [S("x" * (LIMIT - pk_len() - 5))]}}, ok=True)


def case_item_400kb_plus_one_list(ctx):
    size_case(ctx, {"l": {"L": [S("x" * (LIMIT - pk_len() - 4))]}}, ok=False)


def case_item_exactly_400kb_map(ctx):
    # m: 1 (name) + 3 (map) + 1 (element) + 1 (key "k") + value bytes
    size_case(ctx, {"m": {"M": {"k": S("x" * (LIMIT - pk_len() - 6))}}}, ok=True)


def case_item_400kb_plus_one_map(ctx):
    size_case(ctx, {"m": {"M": {"k": S("x" * (LIMIT - pk_len() - 5))}}}, ok=False)


def case_item_size_bool_null_one_byte(ctx):
    # t: 1 + 1, z: 1 + 1
    size_case(ctx, {"t": {"BOOL": True}, "z": {"NULL": True}, "d": S("x" * (LIMIT - pk_len() - 4 - 1))}, ok=True)
    size_case(ctx, {"t": {"BOOL": True}, "z": {"NULL": True}, "d": S("x" * (LIMIT - pk_len() - 4))}, ok=False)


def case_item_over_limit_update_rejected(ctx):
    _n[0] += 1
    key = {"pk": S(f"i{_n[0]}")}
    ctx.put(ctx.tables["h"], {**key, "a": S("x" * 300_000)})
    validation(lambda: ctx.ddb.update_item(TableName=ctx.tables["h"], Key=key, UpdateExpression="SET b = :b",
                                           ExpressionAttributeValues={":b": S("y" * 120_000)}),
               contains="Item size to update has exceeded the maximum allowed size")


# ---------------------------------------------------------------- key sizes

def case_binary_hash_key_2048_ok(ctx):
    t = ctx.tables["hb"]
    k = {"pk": B(b"\x01" * 2048), "sk": B(b"\x02")}
    ctx.put(t, k)
    assert ctx.get(t, k) is not None


def case_binary_hash_key_2049_rejected(ctx):
    validation(lambda: ctx.put(ctx.tables["hb"], {"pk": B(b"\x01" * 2049), "sk": B(b"\x02")}),
               contains="Size of hashkey has exceeded the maximum size limit of2048 bytes")


def case_binary_range_key_1024_ok(ctx):
    t = ctx.tables["hb"]
    k = {"pk": B(b"\x01"), "sk": B(b"\x02" * 1024)}
    ctx.put(t, k)
    assert ctx.get(t, k) is not None


def case_binary_range_key_1025_rejected(ctx):
    validation(lambda: ctx.put(ctx.tables["hb"], {"pk": B(b"\x01"), "sk": B(b"\x02" * 1025)}),
               contains="Aggregated size of all range keys has exceeded the size limit of 1024 bytes")


def case_empty_binary_range_key_rejected(ctx):
    validation(lambda: ctx.put(ctx.tables["hb"], {"pk": B(b"\x01"), "sk": B(b"")}),
               contains="Key: sk")


def case_key_size_checked_on_get(ctx):
    validation(lambda: ctx.ddb.get_item(TableName=ctx.tables["h"], Key={"pk": S("k" * 2049)}),
               contains="2048")


# ---------------------------------------------------------------- number sizes
# The byte cost of a number, measured against live DynamoDB at the 400 KB gate (Parity Suite
# capture, eu-west-2, 2026-08-18): 1 + ceil(integer significant digits / 2) + ceil(fraction
# significant digits / 2) + 1 if negative, leading/trailing zeros trimmed, exponent not counted.
NUMBER_BYTES = [
    ("0", 1), ("1", 2), ("12", 2), ("123", 3), ("1234", 3),
    ("12345678901234567890123456789012345678", 20), ("0042", 2), ("100", 2), ("1010", 3),
    ("0.0000001", 2), ("1E125", 2), ("1E-100", 2), ("1.5", 3), ("15", 2), ("1.2", 3), ("1.200", 3),
    ("1.234", 4), ("3.14159", 5), ("123456", 4), ("100.5", 4), ("0.15", 2), ("-42", 3), ("-0", 1),
]


def number_item(literal, cost, extra):
    _n[0] += 1
    pk = f"i{_n[0]}"
    fixed = 2 + len(pk) + 1 + cost + 1  # "pk"+value, "n"+number, "p"
    return {"pk": S(pk), "n": N(literal), "p": S("x" * (LIMIT - fixed + extra))}


def _number_size_case(literal, cost):
    def case(ctx):
        ctx.put(ctx.tables["h"], number_item(literal, cost, 0))
        validation(lambda: ctx.put(ctx.tables["h"], number_item(literal, cost, 1)),
                   message="Item size has exceeded the maximum allowed size")
    case.__doc__ = f"N {literal!r} costs {cost} bytes: at 409,600 accepted, one byte over refused"
    return case


for _lit, _cost in NUMBER_BYTES:
    _name = "case_number_size_" + (_lit.replace("-", "neg").replace(".", "_").replace("+", "")[:20])
    globals()[_name] = _number_size_case(_lit, _cost)
    globals()[_name].__name__ = _name
    globals()[_name].__module__ = __name__
