"""Sends hand-made DynamoDB requests to the endpoint: signed with botocore's SigV4 signer
but with bodies and targets no SDK would send, plus one without any signature.

Prints one JSON object: for each case the status, the parsed error body, the request ID
header and whether `x-amz-crc32` matches the body; tests/it/store.rs asserts on it.
The notes table's name comes in `NOTES_TABLE`, as the app's `NotesTableName` output gives it.
"""

import json
import os
import urllib.error
import urllib.request
import zlib

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

endpoint = os.environ["AWS_ENDPOINT_URL"]
region = os.environ["AWS_REGION"]
notes_table = os.environ["NOTES_TABLE"]
credentials = botocore.session.get_session().get_credentials()


def send(operation, body, sign=True):
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810." + operation,
    }
    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    if sign:
        SigV4Auth(credentials, "dynamodb", region).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(raw, timeout=30) as response:
            status, headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, payload = error.code, error.headers, error.read()
    crc_header = headers.get("x-amz-crc32")
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = {"unparsed": payload.decode("utf-8", "replace")}
    return {
        "status": status,
        "body": parsed,
        "request_id": headers.get("x-amzn-RequestId"),
        "crc32_header": crc_header,
        "crc32_of_body": str(zlib.crc32(payload) & 0xFFFFFFFF),
    }


seen = {}
table = json.dumps({"TableName": notes_table}).encode()
seen["describe"] = send("DescribeTable", table)
malformed = '{"TableName": "%s", "Item": {' % notes_table
seen["malformed_json"] = send("PutItem", malformed.encode())
seen["unknown_operation"] = send("Nope", b"{}")
seen["unsigned"] = send("ListTables", b"{}", sign=False)

# One string attribute of 410 KB: over DynamoDB's 400 KB item limit.
too_big = {
    "TableName": notes_table,
    "Item": {"id": {"S": "too-big"}, "text": {"S": "x" * (410 * 1024)}},
}
seen["too_big"] = send("PutItem", json.dumps(too_big).encode())
key = {"TableName": notes_table, "Key": {"id": {"S": "too-big"}}, "ConsistentRead": True}
seen["too_big_after"] = send("GetItem", json.dumps(key).encode())

print(json.dumps(seen))
