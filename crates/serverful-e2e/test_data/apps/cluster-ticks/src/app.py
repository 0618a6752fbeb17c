"""Records every schedule event it gets as an item of its own (a tick delivered twice
leaves two items), and logs the tick for the test to see which node ran it."""

import os
import uuid

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TICKS_TABLE"])


def tick(event, context):
    table.put_item(Item={"id": f"{event['time']}/{uuid.uuid4()}", "time": event["time"]})
    print("TICK " + event["time"], flush=True)
    return {}
