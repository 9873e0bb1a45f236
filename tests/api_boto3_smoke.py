#!/usr/bin/env python3
"""boto3 smoke test of Cairn's DynamoDB API (issues 4 and 5): table lifecycle, every attribute
type, PutItem/GetItem/DeleteItem, conditions, UpdateItem, projections, consumed capacity, and the
errors a wrong signature, bad JSON and an oversized body get.

Usage (against a running endpoint, e.g. one `scripts/cluster up` started):
    AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1 \
        python3 tests/api_boto3_smoke.py http://127.0.0.1:PORT

Prints one line per check and a last line `N passed, M failed`; exits non-zero on failure.
Uses only boto3/botocore and the standard library.
"""

import decimal
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import botocore.config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
CFG = botocore.config.Config(retries={"max_attempts": 1})
results = []


def check(name, fn):
    try:
        fn()
        results.append(True)
        print(f"ok    {name}")
    except Exception as e:  # noqa: BLE001 - report every failure and go on
        results.append(False)
        print(f"FAIL  {name}: {e!r}")


def client(secret=None):
    kwargs = {}
    if secret is not None:
        kwargs = {
            "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": secret,
        }
    return boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name=REGION, config=CFG, **kwargs)


def expect_error(code, fn):
    try:
        fn()
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, got success")


ddb = client()
table = f"smoke_{uuid.uuid4().hex[:10]}"


def wait_active():
    for _ in range(100):
        t = ddb.describe_table(TableName=table)["Table"]
        if t["TableStatus"] == "ACTIVE":
            return t
        time.sleep(0.1)
    raise AssertionError("table never became ACTIVE")


def create():
    d = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]
    assert d["TableStatus"] in ("CREATING", "ACTIVE"), d
    t = wait_active()
    assert t["TableArn"].endswith(f":table/{table}"), t
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", t


ITEM = {
    "pk": {"S": "p"},
    "sk": {"N": "1"},
    "big": {"N": "12345678901234567890123456789012345678"},
    "s": {"S": "héllo"},
    "empty": {"S": ""},
    "b": {"B": b"\x00\xff"},
    "t": {"BOOL": True},
    "n": {"NULL": True},
    "m": {"M": {"x": {"L": [{"N": "1"}, {"S": "y"}]}}},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
}
KEY = {"pk": {"S": "p"}, "sk": {"N": "1.0"}}


def get_item(key, consistent, present):
    """GetItem; an eventually consistent read may lag a just-acknowledged write (DynamoDB's
    semantics; Cairn serves it from a replica in the endpoint's AZ), so it is retried for up
    to 2 s until the item is `present` (or not)."""
    deadline = time.time() + 2
    while True:
        r = ddb.get_item(TableName=table, Key=key, ConsistentRead=consistent)
        if consistent or ("Item" in r) == present or time.time() > deadline:
            return r
        time.sleep(0.05)


def put_get_delete():
    ddb.put_item(TableName=table, Item=ITEM)
    for consistent in (True, False):
        got = get_item(KEY, consistent, present=True)["Item"]
        assert got["big"] == {"N": "12345678901234567890123456789012345678"}, got
        assert got["b"] == {"B": b"\x00\xff"}, got
        assert sorted(got["ns"]["NS"]) == ["1", "2.5"], got
        assert set(got) == set(ITEM), got
    old = ddb.delete_item(TableName=table, Key=KEY, ReturnValues="ALL_OLD")["Attributes"]
    assert old["s"] == {"S": "héllo"}, old
    for consistent in (True, False):
        assert "Item" not in get_item(KEY, consistent, present=False), "deleted item still read"


def resource_api():
    t = boto3.resource("dynamodb", endpoint_url=ENDPOINT, region_name=REGION, config=CFG).Table(table)
    t.put_item(Item={"pk": "r", "sk": decimal.Decimal("2"), "v": {"a", "b"}})
    got = t.get_item(Key={"pk": "r", "sk": 2}, ConsistentRead=True)["Item"]
    assert got["v"] == {"a", "b"}, got


def conditions_and_updates():
    key = {"pk": {"S": "c"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table, Item={**key, "n": {"N": "1"}},
                 ConditionExpression="attribute_not_exists(pk)")
    e = expect_error("ConditionalCheckFailedException", lambda: ddb.put_item(
        TableName=table, Item={**key, "n": {"N": "9"}}, ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD"))
    assert e.response["Item"]["n"] == {"N": "1"}, e.response
    out = ddb.update_item(TableName=table, Key=key, UpdateExpression="SET n = n + :d, #t = :t",
                          ExpressionAttributeNames={"#t": "tag"},
                          ExpressionAttributeValues={":d": {"N": "2.5"}, ":t": {"S": "x"}, ":one": {"N": "1"}},
                          ConditionExpression="n = :one", ReturnValues="ALL_NEW",
                          ReturnConsumedCapacity="TOTAL")
    assert out["Attributes"]["n"] == {"N": "3.5"}, out
    assert out["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 1.0}, out
    t = boto3.resource("dynamodb", endpoint_url=ENDPOINT, region_name=REGION, config=CFG).Table(table)
    t.update_item(Key={"pk": "c", "sk": 1}, UpdateExpression="ADD s :s", ExpressionAttributeValues={":s": {"a", "b"}})
    got = t.get_item(Key={"pk": "c", "sk": 1}, ConsistentRead=True, ProjectionExpression="s, tag")["Item"]
    assert got == {"s": {"a", "b"}, "tag": "x"}, got
    e = expect_error("ValidationException", lambda: ddb.update_item(
        TableName=table, Key=key, UpdateExpression="SET pk = :v", ExpressionAttributeValues={":v": {"S": "z"}}))
    assert "part of the key" in e.response["Error"]["Message"], e


def batches():
    puts = [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}, "v": {"S": "x" * i}}}}
            for i in range(25)]
    out = ddb.batch_write_item(RequestItems={table: puts})
    assert out["UnprocessedItems"] == {}, out
    keys = [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(0, 25, 2)] + [{"pk": {"S": "b"}, "sk": {"N": "99"}}]
    out = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True,
                                                   "ProjectionExpression": "sk"}},
                             ReturnConsumedCapacity="TOTAL")
    got = sorted(int(i["sk"]["N"]) for i in out["Responses"][table])
    assert got == list(range(0, 25, 2)), got
    assert out["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 14.0}], out
    e = expect_error("ValidationException", lambda: ddb.batch_write_item(RequestItems={table: puts + puts[:1]}))
    assert "25" in e.response["Error"]["Message"] or "Too many" in e.response["Error"]["Message"], e


def queries_and_scans():
    # Items b/0..24 from batches(): paginate with boto3's own paginators.
    pages = ddb.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues={":p": {"S": "b"}, ":lo": {"N": "3"}, ":hi": {"N": "20"}},
        ScanIndexForward=False, PaginationConfig={"PageSize": 4})
    got = [int(i["sk"]["N"]) for page in pages for i in page["Items"]]
    assert got == list(range(20, 2, -1)), got
    out = ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                    FilterExpression="size(v) > :n", Select="COUNT", ConsistentRead=True,
                    ExpressionAttributeValues={":p": {"S": "b"}, ":n": {"N": "20"}},
                    ReturnConsumedCapacity="TOTAL")
    assert (out["Count"], out["ScannedCount"]) == (4, 25), out
    assert "Items" not in out and out["ConsumedCapacity"]["CapacityUnits"] == 1.0, out
    seen = []
    for segment in range(3):
        for page in ddb.get_paginator("scan").paginate(
                TableName=table, Segment=segment, TotalSegments=3, ConsistentRead=True,
                ProjectionExpression="pk, sk", PaginationConfig={"PageSize": 5}):
            seen += [(i["pk"]["S"], i["sk"]["N"]) for i in page["Items"]]
    assert len(seen) == len(set(seen)) and ("b", "24") in seen, seen
    e = expect_error("ValidationException", lambda: ddb.query(TableName=table))
    assert "KeyConditionExpression" in e.response["Error"]["Message"], e
    e = expect_error("ValidationException", lambda: ddb.scan(TableName=table, Segment=3, TotalSegments=3))
    assert "zero-based" in e.response["Error"]["Message"], e


def errors():
    e = expect_error("ValidationException", lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "p"}}))
    assert "Missing the key sk" in e.response["Error"]["Message"], e
    expect_error("ResourceNotFoundException", lambda: ddb.describe_table(TableName="no_such_table_x"))
    expect_error("InvalidSignatureException", lambda: client(secret="wrong-secret").list_tables())


def raw_errors():
    def post(body, target="DynamoDB_20120810.ListTables"):
        req = urllib.request.Request(
            ENDPOINT + "/",
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target},
        )
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    status, body = post(b"{}")
    assert status == 400 and b"MissingAuthenticationToken" in body, (status, body)
    # An oversized declared body is refused before it is read: send only the headers (a client
    # that streams the whole body first may see the connection closed under it).
    host, port = urllib.parse.urlsplit(ENDPOINT).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\n"
            b"X-Amz-Target: DynamoDB_20120810.PutItem\r\nConnection: close\r\n"
            + f"Content-Length: {16 * 1024 * 1024 + 1}\r\n\r\n".encode()
        )
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]


def cleanup():
    d = ddb.delete_table(TableName=table)["TableDescription"]
    assert d["TableStatus"] == "DELETING", d


check("create and describe a table", create)
check("put/get/delete every attribute type", put_get_delete)
check("boto3 resource API", resource_api)
check("conditions, updates, projections, capacity", conditions_and_updates)
check("BatchWriteItem and BatchGetItem", batches)
check("Query and Scan", queries_and_scans)
check("DynamoDB errors", errors)
check("raw HTTP errors", raw_errors)
check("delete the table", cleanup)
passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
