"""`fail` always raises; `read` records each SQS record it gets in the seen table."""

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
