"""BatchWriteItem (API_BatchWriteItem): up to 25 puts/deletes over one or more tables; the whole
batch is rejected for a missing table, a key that does not match the schema, the same item twice,
more than 25 requests or an item over 400 KB; UnprocessedItems."""

from run import N, S, eq, expect_error, known_gap, raw_error, validation


def setup(ctx):
    ctx.create_tables({
        "h": dict(hash_key=("pk", "S")),
        "hr": dict(hash_key=("pk", "S"), range_key=("sk", "N")),
    })


def put_req(item):
    return {"PutRequest": {"Item": item}}


def del_req(key):
    return {"DeleteRequest": {"Key": key}}


def bw(ctx, request, **kw):
    return ctx.ddb.batch_write_item(RequestItems=request, **kw)


def case_put_25_items(ctx):
    t = ctx.tables["h"]
    out = bw(ctx, {t: [put_req({"pk": S(f"a{i}"), "v": N(i)}) for i in range(25)]})
    eq(out.get("UnprocessedItems"), {})
    for i in (0, 12, 24):
        eq(ctx.get(t, {"pk": S(f"a{i}")})["v"], N(i))


def case_26_requests_rejected(ctx):
    t = ctx.tables["h"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": S(f"b{i}")}) for i in range(26)]}),
               contains="25")
    assert ctx.get(t, {"pk": S("b0")}) is None, "nothing of a rejected batch may be written"


@known_gap("26 requests for one table: message differs from DynamoDB's 'Map value must satisfy constraint' form")
def case_26_requests_message(ctx):
    t = ctx.tables["h"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": S(f"b{i}")}) for i in range(26)]}),
               contains=["at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: "
                         "[Member must have length less than or equal to 25, "
                         "Member must have length greater than or equal to 1]"])


def case_26_requests_over_two_tables_rejected(ctx):
    h, hr = ctx.tables["h"], ctx.tables["hr"]
    validation(lambda: bw(ctx, {h: [put_req({"pk": S(f"c{i}")}) for i in range(13)],
                                hr: [put_req({"pk": S("c"), "sk": N(i)}) for i in range(13)]}),
               contains="Too many items requested for the BatchWriteItem call")


def case_deletes(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("d1")})
    ctx.put(t, {"pk": S("d2")})
    bw(ctx, {t: [del_req({"pk": S("d1")}), del_req({"pk": S("d2")}), del_req({"pk": S("never")})]})
    assert ctx.get(t, {"pk": S("d1")}) is None and ctx.get(t, {"pk": S("d2")}) is None


def case_mixed_puts_and_deletes(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("m1")})
    bw(ctx, {t: [del_req({"pk": S("m1")}), put_req({"pk": S("m2"), "v": N(2)})]})
    assert ctx.get(t, {"pk": S("m1")}) is None
    eq(ctx.get(t, {"pk": S("m2")})["v"], N(2))


def case_put_replaces_item(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("r1"), "old": S("x")})
    bw(ctx, {t: [put_req({"pk": S("r1"), "new": S("y")})]})
    eq(ctx.get(t, {"pk": S("r1")}), {"pk": S("r1"), "new": S("y")})


def case_two_tables(ctx):
    h, hr = ctx.tables["h"], ctx.tables["hr"]
    bw(ctx, {h: [put_req({"pk": S("t1")})], hr: [put_req({"pk": S("t"), "sk": N(1)})]})
    assert ctx.get(h, {"pk": S("t1")}) is not None
    assert ctx.get(hr, {"pk": S("t"), "sk": N(1)}) is not None


def case_same_key_in_two_tables_ok(ctx):
    h = ctx.tables["h"]
    other = ctx.tables.get("h2") or ctx.create_table(("pk", "S"))
    ctx.tables["h2"] = other
    bw(ctx, {h: [put_req({"pk": S("same")})], other: [put_req({"pk": S("same")})]})


def case_duplicate_puts_rejected(ctx):
    t = ctx.tables["h"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": S("dup")}), put_req({"pk": S("dup"), "v": N(1)})]}),
               message="Provided list of item keys contains duplicates")
    assert ctx.get(t, {"pk": S("dup")}) is None


def case_put_and_delete_same_key_rejected(ctx):
    t = ctx.tables["h"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": S("dup2")}), del_req({"pk": S("dup2")})]}),
               message="Provided list of item keys contains duplicates")


def case_duplicate_hash_range_rejected(ctx):
    t = ctx.tables["hr"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": S("x"), "sk": N(1)}), put_req({"pk": S("x"), "sk": N(1)})]}),
               message="Provided list of item keys contains duplicates")


def case_unnormalized_number_keys_are_duplicates(ctx):
    t = ctx.tables["hr"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": S("z"), "sk": N("1")}), put_req({"pk": S("z"), "sk": N("1.0")})]}),
               message="Provided list of item keys contains duplicates")


def case_same_hash_different_range_ok(ctx):
    t = ctx.tables["hr"]
    bw(ctx, {t: [put_req({"pk": S("y"), "sk": N(1)}), put_req({"pk": S("y"), "sk": N(2)})]})
    assert ctx.get(t, {"pk": S("y"), "sk": N(2)}) is not None


def case_missing_table_rejects_batch(ctx):
    t = ctx.tables["h"]
    expect_error(lambda: bw(ctx, {t: [put_req({"pk": S("mt1")})], ctx.unique("nope"): [put_req({"pk": S("x")})]}),
                 "ResourceNotFoundException", contains="Requested resource not found")
    assert ctx.get(t, {"pk": S("mt1")}) is None


def case_put_missing_key_rejected(ctx):
    t = ctx.tables["h"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": S("ok1")}), put_req({"v": N(1)})]}))
    assert ctx.get(t, {"pk": S("ok1")}) is None


def case_delete_key_mismatch(ctx):
    t = ctx.tables["hr"]
    validation(lambda: bw(ctx, {t: [del_req({"pk": S("x")})]}),
               message="The provided key element does not match the schema")


@known_gap("a wrong-typed key in a BatchWriteItem PutRequest answers 'Type mismatch for key ...'")
def case_put_key_type_mismatch(ctx):
    t = ctx.tables["h"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": N(1)})]}),
               message="The provided key element does not match the schema")


@known_gap("a list-typed key in a BatchWriteItem PutRequest answers 'Type mismatch for key ...'")
def case_put_key_non_scalar(ctx):
    t = ctx.tables["h"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": {"L": [S("x")]}})]}),
               message="The provided key element does not match the schema")


def case_item_over_400kb_rejects_batch(ctx):
    t = ctx.tables["h"]
    validation(lambda: bw(ctx, {t: [put_req({"pk": S("big0")}),
                                    put_req({"pk": S("big1"), "x": S("x" * 409_600)})]}),
               contains="Item size has exceeded the maximum allowed size")
    assert ctx.get(t, {"pk": S("big0")}) is None


def case_empty_request_list(ctx):
    raw_error(ctx.raw("BatchWriteItem", {"RequestItems": {ctx.tables["h"]: []}}), "ValidationException")


def case_empty_request_items(ctx):
    raw_error(ctx.raw("BatchWriteItem", {"RequestItems": {}}), "ValidationException")


@known_gap("empty RequestItems: framework 'length greater than or equal to 1' message instead of DynamoDB's")
def case_empty_request_items_message(ctx):
    validation(lambda: bw(ctx, {}), message="The requestItems parameter is required for BatchWriteItem")


def case_empty_write_request(ctx):
    raw_error(ctx.raw("BatchWriteItem", {"RequestItems": {ctx.tables["h"]: [{}]}}), "ValidationException")


def case_put_and_delete_in_one_write_request(ctx):
    r = ctx.raw("BatchWriteItem", {"RequestItems": {ctx.tables["h"]: [
        {"PutRequest": {"Item": {"pk": S("pd")}}, "DeleteRequest": {"Key": {"pk": S("pd2")}}}]}})
    raw_error(r, "ValidationException")


def case_empty_string_key_rejected(ctx):
    validation(lambda: bw(ctx, {ctx.tables["h"]: [put_req({"pk": S("")})]}),
               message="One or more parameter values are not valid. The AttributeValue for a key attribute "
                       "cannot contain an empty string value. Key: pk")


def case_no_consumed_capacity_by_default(ctx):
    out = bw(ctx, {ctx.tables["h"]: [put_req({"pk": S("cc")})]})
    assert "ConsumedCapacity" not in out, out


@known_gap("data-plane TableName is not validated: a BatchWriteItem table name '' gives ResourceNotFoundException")
def case_table_name_empty(ctx):
    raw_error(ctx.raw("BatchWriteItem", {"RequestItems": {"": [put_req({"pk": S("x")})]}}), "ValidationException")
