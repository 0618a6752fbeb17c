"""Handlers that leave a trace of every event they get in EVENTS_TABLE (boto3 reads
AWS_ENDPOINT_URL), so the tests can see what ran and how often."""

import json
import os
import time
import uuid

import boto3

table = boto3.resource("dynamodb").Table(os.environ["EVENTS_TABLE"])


def record(event, context):
    """Stores the event under its `id`, or a destination's record under its request id."""
    if "requestContext" in event:
        key = "record-" + event["requestContext"]["requestId"]
    else:
        key = event["id"]
    table.put_item(Item={"id": key, "body": json.dumps(event), "by": context.function_name})
    return {"stored": key}


def fail(event, context):
    """Records the attempt, then fails."""
    table.put_item(Item={"id": f"attempt-{event['id']}-{uuid.uuid4()}", "event": event["id"]})
    raise RuntimeError(f"cannot handle {event['id']}")


def slow(event, context):
    """Takes its time, then stores the event (one at a time: ReservedConcurrentExecutions 1)."""
    time.sleep(1.5)
    table.put_item(Item={"id": event["id"], "by": context.function_name})
    return {"stored": event["id"]}
