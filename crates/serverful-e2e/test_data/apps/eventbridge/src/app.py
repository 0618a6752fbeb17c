"""Stores every event it gets in EVENTS_TABLE under the event's `id` (boto3 reads
AWS_ENDPOINT_URL), so the tests can see exactly what each rule delivered."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["EVENTS_TABLE"])


def record(event, context):
    table.put_item(Item={"id": event["id"], "body": json.dumps(event)})
    return {"stored": event["id"]}
