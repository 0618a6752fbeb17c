"""Copies each stream record's item into the copies table: per key, the list of `n`
values in the order the records arrived. Fails the whole batch while the copies table
holds the item `__fail__`."""

import json
import os
import time

import boto3

TABLE = os.environ["COPIES_TABLE"]
db = boto3.client("dynamodb")


def handler(event, context):
    flag = db.get_item(TableName=TABLE, Key={"key": {"S": "__fail__"}}, ConsistentRead=True)
    if "Item" in flag:
        raise RuntimeError("failing on purpose while __fail__ exists")
    records = event["Records"]
    db.put_item(
        TableName=TABLE,
        Item={"key": {"S": "__last_batch__"}, "event": {"S": json.dumps(event)}},
    )
    for record in records:
        image = record["dynamodb"]["NewImage"]
        db.update_item(
            TableName=TABLE,
            Key={"key": image["key"]},
            UpdateExpression="SET seen = list_append(if_not_exists(seen, :empty), :n)",
            ExpressionAttributeValues={":empty": {"L": []}, ":n": {"L": [image["n"]]}},
        )
    # Slow enough that a kill -9 lands in the middle of the stream's processing.
    time.sleep(0.1)
