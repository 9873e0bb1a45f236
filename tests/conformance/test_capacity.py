"""ReturnConsumedCapacity (ProvisionedThroughput, CapacityUnitCalculations, API_ConsumedCapacity):
writes round each item up to 1 KB (PutItem/UpdateItem: the larger of old and new; DeleteItem: the
deleted item; a missing item costs 1), reads round up to 4 KB (eventual = half; a missing item
still costs the minimum), BatchGetItem/BatchWriteItem round per item, Query/Scan round the total
of the items evaluated (filters, projections and Select=COUNT do not reduce the cost)."""

from run import N, S, eq, raw_error

KB = 1024


def setup(ctx):
    ctx.create_tables({
        "h": dict(hash_key=("pk", "S")),
        "hr": dict(hash_key=("pk", "S"), range_key=("sk", "N")),
    })
    t = ctx.tables["h"]
    ctx.put(t, sized("r4096", 4096))
    ctx.put(t, sized("r4097", 4097))
    ctx.put(t, sized("r8k", 8 * KB))
    ctx.put(t, sized("r1536", 1536))
    ctx.put(t, sized("r6656", 6656))
    # 10 items of 1000 bytes in one partition: 10000 bytes -> 3 RCU when the total is rounded
    ctx.batch_put(ctx.tables["hr"], [sized_hr("q", i, 1000) for i in range(10)])


def sized(pk, total):
    """An item of exactly `total` bytes by DynamoDB's formula (names + values)."""
    base = 2 + len(pk) + 1  # "pk" + value + "d"
    return {"pk": S(pk), "d": S("x" * (total - base))}


def sized_hr(pk, sk, total):
    base = 2 + len(pk) + 2 + 1 + 1  # "pk"+value, "sk"+1-digit number (1 + 1 byte), "d"
    return {"pk": S(pk), "sk": N(sk), "d": S("x" * (total - base))}


def cap(out):
    return out["ConsumedCapacity"]["CapacityUnits"]


def put_cap(ctx, item, **kw):
    return cap(ctx.put(ctx.tables["h"], item, ReturnConsumedCapacity="TOTAL", **kw))


def get_cap(ctx, pk, consistent=True, **kw):
    return cap(ctx.ddb.get_item(TableName=ctx.tables["h"], Key={"pk": S(pk)}, ConsistentRead=consistent,
                                ReturnConsumedCapacity="TOTAL", **kw))


# ---------------------------------------------------------------- shape

def case_total_shape(ctx):
    out = ctx.put(ctx.tables["h"], {"pk": S("shape")}, ReturnConsumedCapacity="TOTAL")
    eq(out["ConsumedCapacity"], {"TableName": ctx.tables["h"], "CapacityUnits": 1.0})


def case_indexes_shape(ctx):
    out = ctx.put(ctx.tables["h"], {"pk": S("shape2")}, ReturnConsumedCapacity="INDEXES")
    cc = out["ConsumedCapacity"]
    eq(cc["TableName"], ctx.tables["h"])
    eq(cc["CapacityUnits"], 1.0)
    eq(cc["Table"], {"CapacityUnits": 1.0})


def case_none_omits(ctx):
    out = ctx.put(ctx.tables["h"], {"pk": S("shape3")}, ReturnConsumedCapacity="NONE")
    assert "ConsumedCapacity" not in out, out


def case_default_omits(ctx):
    out = ctx.ddb.get_item(TableName=ctx.tables["h"], Key={"pk": S("r8k")})
    assert "ConsumedCapacity" not in out, out


def case_invalid_enum(ctx):
    raw_error(ctx.raw("GetItem", {"TableName": ctx.tables["h"], "Key": {"pk": S("x")},
                                  "ReturnConsumedCapacity": "ALL"}),
              "ValidationException", "Member must satisfy enum value set")


# ---------------------------------------------------------------- writes

def case_put_1024_bytes_is_1(ctx):
    eq(put_cap(ctx, sized("w1024", 1024)), 1.0)


def case_put_1025_bytes_is_2(ctx):
    eq(put_cap(ctx, sized("w1025", 1025)), 2.0)


def case_put_charges_larger_old_item(ctx):
    ctx.put(ctx.tables["h"], sized("wold", 3 * KB))
    eq(put_cap(ctx, {"pk": S("wold")}), 3.0)


def case_put_charges_larger_new_item(ctx):
    ctx.put(ctx.tables["h"], {"pk": S("wnew")})
    eq(put_cap(ctx, sized("wnew", 2 * KB + 1)), 3.0)


def case_delete_charges_deleted_item(ctx):
    t = ctx.tables["h"]
    ctx.put(t, sized("wdel", 2 * KB + 500))
    out = ctx.ddb.delete_item(TableName=t, Key={"pk": S("wdel")}, ReturnConsumedCapacity="TOTAL")
    eq(cap(out), 3.0)


def case_delete_missing_item_is_1(ctx):
    out = ctx.ddb.delete_item(TableName=ctx.tables["h"], Key={"pk": S("wnothing")}, ReturnConsumedCapacity="TOTAL")
    eq(cap(out), 1.0)


def case_update_charges_larger_of_before_after(ctx):
    t = ctx.tables["h"]
    ctx.put(t, sized("wupd", 3 * KB))
    out = ctx.ddb.update_item(TableName=t, Key={"pk": S("wupd")}, UpdateExpression="SET small = :v",
                              ExpressionAttributeValues={":v": N(1)}, ReturnConsumedCapacity="TOTAL")
    eq(cap(out), 4.0)  # 3072 + 5 + 2 bytes after the update -> 4 KB


def case_update_new_item_is_1(ctx):
    out = ctx.ddb.update_item(TableName=ctx.tables["h"], Key={"pk": S("wupd2")}, UpdateExpression="SET a = :v",
                              ExpressionAttributeValues={":v": N(1)}, ReturnConsumedCapacity="TOTAL")
    eq(cap(out), 1.0)


def case_update_with_return_values_costs_no_read(ctx):
    t = ctx.tables["h"]
    ctx.put(t, {"pk": S("wupd3"), "a": N(1)})
    out = ctx.ddb.update_item(TableName=t, Key={"pk": S("wupd3")}, UpdateExpression="SET a = :v",
                              ExpressionAttributeValues={":v": N(2)}, ReturnValues="ALL_OLD",
                              ReturnConsumedCapacity="TOTAL")
    eq(cap(out), 1.0)


def case_batch_write_rounds_per_item(ctx):
    t = ctx.tables["h"]
    out = ctx.ddb.batch_write_item(RequestItems={t: [{"PutRequest": {"Item": sized("bw1", 500)}},
                                                     {"PutRequest": {"Item": sized("bw2", 3584)}}]},
                                   ReturnConsumedCapacity="TOTAL")
    eq(out["ConsumedCapacity"], [{"TableName": t, "CapacityUnits": 5.0}])


def case_batch_write_two_tables(ctx):
    h, hr = ctx.tables["h"], ctx.tables["hr"]
    out = ctx.ddb.batch_write_item(RequestItems={h: [{"PutRequest": {"Item": {"pk": S("bw3")}}}],
                                                 hr: [{"PutRequest": {"Item": {"pk": S("bw"), "sk": N(1)}}},
                                                      {"DeleteRequest": {"Key": {"pk": S("bw"), "sk": N(2)}}}]},
                                   ReturnConsumedCapacity="TOTAL")
    got = {c["TableName"]: c["CapacityUnits"] for c in out["ConsumedCapacity"]}
    eq(got, {h: 1.0, hr: 2.0})


# ---------------------------------------------------------------- single reads

def case_get_4096_bytes_is_1(ctx):
    eq(get_cap(ctx, "r4096"), 1.0)


def case_get_4097_bytes_is_2(ctx):
    eq(get_cap(ctx, "r4097"), 2.0)


def case_get_8kb_strong_is_2(ctx):
    eq(get_cap(ctx, "r8k"), 2.0)


def case_get_8kb_eventual_is_1(ctx):
    eq(get_cap(ctx, "r8k", consistent=False), 1.0)


def case_get_small_eventual_is_half(ctx):
    eq(get_cap(ctx, "r1536", consistent=False), 0.5)


def case_get_missing_strong_is_1(ctx):
    eq(get_cap(ctx, "rnothing"), 1.0)


def case_get_missing_eventual_is_half(ctx):
    eq(get_cap(ctx, "rnothing", consistent=False), 0.5)


def case_get_projection_does_not_reduce(ctx):
    eq(get_cap(ctx, "r8k", ProjectionExpression="pk"), 2.0)


def case_get_indexes_shape(ctx):
    out = ctx.ddb.get_item(TableName=ctx.tables["h"], Key={"pk": S("r8k")}, ConsistentRead=True,
                           ReturnConsumedCapacity="INDEXES")
    eq(out["ConsumedCapacity"]["Table"], {"CapacityUnits": 2.0})


# ---------------------------------------------------------------- batch reads

def case_batch_get_rounds_per_item(ctx):
    t = ctx.tables["h"]
    out = ctx.ddb.batch_get_item(RequestItems={t: {"Keys": [{"pk": S("r1536")}, {"pk": S("r6656")}],
                                                   "ConsistentRead": True}},
                                 ReturnConsumedCapacity="TOTAL")
    eq(out["ConsumedCapacity"], [{"TableName": t, "CapacityUnits": 3.0}])


def case_batch_get_eventual_half(ctx):
    t = ctx.tables["h"]
    out = ctx.ddb.batch_get_item(RequestItems={t: {"Keys": [{"pk": S("r1536")}, {"pk": S("r6656")}]}},
                                 ReturnConsumedCapacity="TOTAL")
    eq(out["ConsumedCapacity"], [{"TableName": t, "CapacityUnits": 1.5}])


# ---------------------------------------------------------------- query and scan

def qcap(ctx, consistent=True, **kw):
    out = ctx.ddb.query(TableName=ctx.tables["hr"], KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": S("q"), **kw.pop("values", {})},
                        ConsistentRead=consistent, ReturnConsumedCapacity="TOTAL", **kw)
    return cap(out)


def case_query_rounds_total_not_items(ctx):
    eq(qcap(ctx), 3.0)  # 10 x 1000 bytes = 10000 -> 3 x 4 KB (per item it would be 10)


def case_query_eventual_half(ctx):
    eq(qcap(ctx, consistent=False), 1.5)


def case_query_filter_does_not_reduce(ctx):
    eq(qcap(ctx, FilterExpression="d = :no", values={":no": S("no")}), 3.0)


def case_query_count_does_not_reduce(ctx):
    eq(qcap(ctx, Select="COUNT"), 3.0)


def case_query_projection_does_not_reduce(ctx):
    eq(qcap(ctx, ProjectionExpression="sk"), 3.0)


def case_query_limit_reduces(ctx):
    eq(qcap(ctx, Limit=4), 1.0)  # 4000 bytes evaluated


def case_query_indexes_shape(ctx):
    out = ctx.ddb.query(TableName=ctx.tables["hr"], KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": S("q")}, ConsistentRead=True,
                        ReturnConsumedCapacity="INDEXES")
    cc = out["ConsumedCapacity"]
    eq((cc["TableName"], cc["CapacityUnits"], cc["Table"]), (ctx.tables["hr"], 3.0, {"CapacityUnits": 3.0}))


def case_scan_charges_evaluated_items(ctx):
    out = ctx.ddb.scan(TableName=ctx.tables["hr"], ConsistentRead=True, FilterExpression="d = :no",
                       ExpressionAttributeValues={":no": S("no")}, ReturnConsumedCapacity="TOTAL")
    eq(out["Count"], 0)
    eq(cap(out), 3.0)
