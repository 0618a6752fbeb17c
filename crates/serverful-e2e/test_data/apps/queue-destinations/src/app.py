"""`fail` always raises; `read` records each SQS record it gets in the seen table;
`crash` records each body it handles and, the first time it meets the body `crash`, kills
its own process in the middle of the batch."""

import json
import os

import boto3

TABLE = os.environ["SEEN_TABLE"]
db = boto3.client("dynamodb")


def fail(event, context):
    raise RuntimeError("failing on purpose")


def read(event, context):
    for record in event["Records"]:
        db.put_item(
            TableName=TABLE,
            Item={"id": {"S": record["messageId"]}, "record": {"S": json.dumps(record)}},
        )


def crash(event, context):
    for record in event["Records"]:
        body = record["body"]
        db.update_item(
            TableName=TABLE,
            Key={"id": {"S": "work-" + body}},
            UpdateExpression="ADD handled :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        if body == "crash" and not _crashed():
            db.put_item(TableName=TABLE, Item={"id": {"S": "crashed"}})
            os._exit(1)


def _crashed():
    return "Item" in db.get_item(TableName=TABLE, Key={"id": {"S": "crashed"}}, ConsistentRead=True)
