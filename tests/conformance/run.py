#!/usr/bin/env python3
"""Cairn's DynamoDB conformance suite: a tiny runner (no pytest).

Usage:
    AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1 \
        python3 tests/conformance/run.py ENDPOINT [FILTER]

Imports every `tests/conformance/test_*.py` module (alphabetical order) and runs each function
named `case_*` in file order, passing it a shared `Ctx` (boto3 client, signed raw-JSON requests,
table helpers). A module may define `setup(ctx)` (run once before its cases; typically creates the
module's tables with `ctx.create_tables`) and `teardown(ctx)`. Tables a module creates through the
context are deleted after its last case.

FILTER keeps the cases whose `module::case` name contains it (e.g. `test_query` or `::case_limit`).

Output: one line per case, `ok    module::case`, `FAIL  module::case: reason` or
`GAP   module::case: reason` (a case marked `@known_gap("reason")`, i.e. a documented deviation
of Cairn from DynamoDB that still fails; it does not fail the run; one that passes is reported
as FAIL so the marker gets removed), then `G known gaps` and a last line `N passed, M failed`.
Exits non-zero if any case failed. Cases assert only DynamoDB's documented behaviour.
"""

import base64
import http.client
import importlib
import inspect
import json
import os
import sys
import time
import traceback
import urllib.parse
import uuid

import boto3
import botocore.config
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

# The modules import helpers with `from run import ...`; make that the module being executed.
sys.modules.setdefault("run", sys.modules[__name__])
sys.dont_write_bytecode = True  # leave no __pycache__ next to the tests

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_PREFIX = "conf_"


# ------------------------------------------------------------------------------------------------
# Markers and assertion helpers
# ------------------------------------------------------------------------------------------------

def known_gap(reason):
    """Mark a case as a known deviation of Cairn from DynamoDB."""

    def mark(fn):
        fn._known_gap = reason
        return fn

    return mark


def expect_error(fn, code, message=None, contains=(), status=400):
    """Call fn(); it must raise a ClientError whose code is `code`. `message`: the exact message;
    `contains`: a fragment or list of fragments the message must contain. Returns the error."""
    try:
        fn()
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        msg = e.response.get("Error", {}).get("Message", "")
        assert got == code, f"expected {code}, got {got}: {msg!r}"
        if status is not None:
            st = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            assert st == status, f"expected HTTP {status}, got {st}"
        if message is not None:
            assert msg == message, f"message {msg!r} != expected {message!r}"
        if isinstance(contains, str):
            contains = [contains]
        for frag in contains:
            assert frag in msg, f"message {msg!r} lacks {frag!r}"
        return e
    raise AssertionError(f"expected {code}, got success")


def validation(fn, contains=(), message=None):
    """Shorthand: fn() must fail with ValidationException (HTTP 400)."""
    return expect_error(fn, "ValidationException", message=message, contains=contains)


def raw_error(r, code="ValidationException", *fragments, status=400, message=None):
    """A RawResponse must be the JSON error `code` (the part after '#') with HTTP `status`."""
    assert r.status == status, f"expected HTTP {status} {code}, got {r!r}"
    assert r.error_type == code, f"expected {code}, got {r!r}"
    if message is not None:
        assert r.message == message, f"message {r.message!r} != expected {message!r}"
    for f in fragments:
        assert f in (r.message or ""), f"message {r.message!r} lacks {f!r}"
    return r


def eq(got, want, what=""):
    assert got == want, f"{what + ': ' if what else ''}got {got!r}, want {want!r}"


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def B(v):
    return {"B": v}


# ------------------------------------------------------------------------------------------------
# Raw HTTP
# ------------------------------------------------------------------------------------------------

class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    @property
    def error_type(self):
        """The part of `__type` after `#` (or the whole `__type`), None if no JSON error."""
        if not isinstance(self.json, dict) or "__type" not in self.json:
            return None
        return self.json["__type"].rsplit("#", 1)[-1]

    @property
    def message(self):
        if not isinstance(self.json, dict):
            return None
        return self.json.get("message", self.json.get("Message"))

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


# ------------------------------------------------------------------------------------------------
# The context handed to every case
# ------------------------------------------------------------------------------------------------

class Ctx:
    def __init__(self, endpoint):
        self.endpoint = endpoint.rstrip("/")
        self.region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.config = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=10,
                                             read_timeout=60)
        self.session = boto3.session.Session(region_name=self.region)
        self.ddb = self.client()
        self.credentials = self.session.get_credentials().get_frozen_credentials()
        self.run_id = uuid.uuid4().hex[:8]
        self._counter = 0
        self.created = []          # tables created by the current module
        self.module = None
        self.tables = {}           # per-module scratch: logical name -> real table name

    # ---- clients ----
    def client(self, **kwargs):
        return self.session.client("dynamodb", endpoint_url=self.endpoint, config=self.config, **kwargs)

    def resource(self):
        return self.session.resource("dynamodb", endpoint_url=self.endpoint, config=self.config)

    # ---- raw signed requests ----
    def raw(self, operation, body=None, *, target=None, headers=None, sign=True,
            content_type="application/x-amz-json-1.0", method="POST", path="/"):
        """Send a request by hand. `body`: dict/list (JSON-encoded), str or bytes (sent as is).
        Signed with SigV4 (service dynamodb) unless sign=False. Returns a RawResponse."""
        if body is None:
            data = b"{}"
        elif isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        hdrs = {}
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        if target is None and operation is not None:
            target = f"DynamoDB_20120810.{operation}"
        if target is not None:
            hdrs["X-Amz-Target"] = target
        if headers:
            hdrs.update(headers)
        url = self.endpoint + path
        req = AWSRequest(method=method, url=url, data=data, headers=hdrs)
        if sign:
            SigV4Auth(self.credentials, "dynamodb", self.region).add_auth(req)
        prepared = req.prepare()
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            conn.request(method, path, body=data if method != "GET" else None,
                         headers=dict(prepared.headers.items()))
            resp = conn.getresponse()
            return RawResponse(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()

    # ---- tables ----
    def unique(self, prefix="t"):
        self._counter += 1
        return f"{TABLE_PREFIX}{prefix}_{self.run_id}_{self._counter}"

    @staticmethod
    def table_spec(hash_key=("pk", "S"), range_key=None, billing="PAY_PER_REQUEST"):
        ks = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
        ad = [{"AttributeName": hash_key[0], "AttributeType": hash_key[1]}]
        if range_key:
            ks.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
            ad.append({"AttributeName": range_key[0], "AttributeType": range_key[1]})
        spec = {"KeySchema": ks, "AttributeDefinitions": ad}
        if billing == "PAY_PER_REQUEST":
            spec["BillingMode"] = "PAY_PER_REQUEST"
        else:
            spec["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        return spec

    def create_table(self, hash_key=("pk", "S"), range_key=None, *, name=None, wait=True,
                     billing="PAY_PER_REQUEST", **extra):
        name = name or self.unique()
        spec = self.table_spec(hash_key, range_key, billing)
        spec.update(extra)
        self.ddb.create_table(TableName=name, **spec)
        self.created.append(name)
        if wait:
            self.wait_active(name)
        return name

    def create_tables(self, specs):
        """specs: {logical: dict(hash_key=..., range_key=..., ...)}. Creates them all, then waits
        for all to be ACTIVE; stores the names in ctx.tables and returns them."""
        for logical, spec in specs.items():
            self.tables[logical] = self.create_table(wait=False, **spec)
        for logical in specs:
            self.wait_active(self.tables[logical])
        return {k: self.tables[k] for k in specs}

    def wait_active(self, name, timeout=30):
        started = time.time()
        deadline = started + timeout
        missing = False
        while True:
            try:
                t = self.ddb.describe_table(TableName=name)["Table"]
            except ClientError as e:
                # A table just created must be visible (CREATING); say so, but keep the run going.
                if e.response["Error"]["Code"] != "ResourceNotFoundException" or time.time() > deadline:
                    raise
                missing = True
                time.sleep(0.05)
                continue
            if missing:
                missing = False
                print(f"# note: DescribeTable({name}) answered ResourceNotFoundException for "
                      f"{time.time() - started:.2f}s after a successful CreateTable", file=sys.stderr)
            if t["TableStatus"] == "ACTIVE":
                return t
            if time.time() > deadline:
                raise AssertionError(f"table {name} not ACTIVE after {timeout}s: {t['TableStatus']}")
            time.sleep(0.1)

    def wait_gone(self, name, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.ddb.describe_table(TableName=name)
            except ClientError as e:
                if e.response["Error"]["Code"] == "ResourceNotFoundException":
                    return
                raise
            time.sleep(0.1)
        raise AssertionError(f"table {name} still exists after {timeout}s")

    def drop_created(self):
        for name in self.created:
            for _ in range(300):
                try:
                    self.ddb.delete_table(TableName=name)
                    break
                except ClientError as e:
                    code = e.response["Error"]["Code"]
                    if code == "ResourceNotFoundException":
                        break
                    if code == "ResourceInUseException":
                        time.sleep(0.1)
                        continue
                    print(f"# warning: could not delete {name}: {e}", file=sys.stderr)
                    break
                except Exception as e:  # noqa: BLE001
                    print(f"# warning: could not delete {name}: {e!r}", file=sys.stderr)
                    break
        self.created = []
        self.tables = {}

    # ---- small conveniences ----
    def put(self, table, item, **kw):
        return self.ddb.put_item(TableName=table, Item=item, **kw)

    def get(self, table, key, **kw):
        kw.setdefault("ConsistentRead", True)
        return self.ddb.get_item(TableName=table, Key=key, **kw).get("Item")

    def batch_put(self, table, items):
        for i in range(0, len(items), 25):
            reqs = [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]
            out = self.ddb.batch_write_item(RequestItems={table: reqs})
            left = out.get("UnprocessedItems", {})
            tries = 0
            while left and tries < 20:
                tries += 1
                time.sleep(0.05)
                left = self.ddb.batch_write_item(RequestItems=left).get("UnprocessedItems", {})
            assert not left, f"unprocessed items left: {left}"


def b64(data):
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------------------------------------
# Runner
# ------------------------------------------------------------------------------------------------

def short(e):
    if isinstance(e, AssertionError):
        text = str(e) or "assertion failed"
        if not str(e):
            tb = traceback.extract_tb(e.__traceback__)
            if tb:
                text += f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}: {tb[-1].line}"
    elif isinstance(e, ClientError):
        err = e.response.get("Error", {})
        text = f"unexpected {err.get('Code')}: {err.get('Message')}"
    else:
        tb = traceback.extract_tb(e.__traceback__)
        where = f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
        text = f"{type(e).__name__}: {e}{where}"
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:400] + "..."


def module_cases(mod):
    cases = [(name, fn) for name, fn in vars(mod).items()
             if name.startswith("case_") and inspect.isfunction(fn) and fn.__module__ == mod.__name__]
    cases.sort(key=lambda c: c[1].__code__.co_firstlineno)
    return cases


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    endpoint = argv[1]
    flt = argv[2] if len(argv) > 2 else ""
    sys.path.insert(0, HERE)
    started = time.time()
    ctx = Ctx(endpoint)
    passed = failed = gaps = 0
    names = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    for modname in names:
        try:
            mod = importlib.import_module(modname)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL  {modname}::<import>: {short(e)}")
            failed += 1
            continue
        cases = [(n, fn) for n, fn in module_cases(mod) if flt in f"{modname}::{n}"]
        if not cases:
            continue
        ctx.module = modname
        setup_error = None
        if hasattr(mod, "setup"):
            try:
                mod.setup(ctx)
            except Exception as e:  # noqa: BLE001
                setup_error = e
        for name, fn in cases:
            full = f"{modname}::{name}"
            gap = getattr(fn, "_known_gap", None)
            t0 = time.time()
            try:
                if setup_error is not None:
                    raise AssertionError(f"module setup failed: {short(setup_error)}")
                fn(ctx)
                error = None
            except Exception as e:  # noqa: BLE001
                error = e
            slow = time.time() - t0
            note = f" ({slow:.1f}s)" if slow > 5 else ""
            if gap is not None:
                if error is None:
                    failed += 1
                    print(f"FAIL  {full}: gap fixed: remove the marker ({gap})")
                else:
                    gaps += 1
                    print(f"GAP   {full}: {gap} [{short(error)}]{note}")
            elif error is None:
                passed += 1
                print(f"ok    {full}{note}")
            else:
                failed += 1
                print(f"FAIL  {full}: {short(error)}{note}")
            sys.stdout.flush()
        if hasattr(mod, "teardown"):
            try:
                mod.teardown(ctx)
            except Exception as e:  # noqa: BLE001
                print(f"# warning: {modname} teardown: {short(e)}", file=sys.stderr)
        ctx.drop_created()
    print(f"# run time {time.time() - started:.1f}s", file=sys.stderr)
    print(f"{gaps} known gaps")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
