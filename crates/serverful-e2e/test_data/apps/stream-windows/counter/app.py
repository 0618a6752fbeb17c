"""Counts stream records. With a tumbling window it carries the count in the window's
state and writes the window's total when Lambda closes the window; without one it
records each batch's size. Every invocation's event is kept for the test to inspect."""

import json
import os
import uuid

import boto3

TABLE = os.environ["RESULTS_TABLE"]
db = boto3.client("dynamodb")


def handler(event, context):
    db.put_item(
        TableName=TABLE,
        Item={"id": {"S": "call-" + uuid.uuid4().hex}, "event": {"S": json.dumps(event)}},
    )
    if "window" not in event:
        return None
    state = dict(event.get("state") or {})
    state["count"] = state.get("count", 0) + len(event["Records"])
    state["batches"] = state.get("batches", 0) + (1 if event["Records"] else 0)
    if event["isFinalInvokeForWindow"]:
        db.put_item(
            TableName=TABLE,
            Item={
                "id": {"S": "window-" + event["window"]["start"]},
                "count": {"N": str(state["count"])},
                "batches": {"N": str(state["batches"])},
            },
        )
        return {"state": {}}
    return {"state": state}
