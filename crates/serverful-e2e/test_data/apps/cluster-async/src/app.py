"""Logs that it started on an event, takes its time, then records the finished run as an
item of its own (an event run to the end twice leaves two items)."""

import os
import time
import uuid

import boto3

table = boto3.resource("dynamodb").Table(os.environ["RUNS_TABLE"])


def slow(event, context):
    print("STARTED " + event["id"], flush=True)
    time.sleep(4)
    table.put_item(Item={"id": f"{event['id']}/{uuid.uuid4()}", "event": event["id"]})
    print("FINISHED " + event["id"], flush=True)
    return {"finished": event["id"]}
