import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["NOTIFICATIONS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        table.put_item(
            Item={"id": record["Sns"]["MessageId"], "body": json.dumps(event)}
        )
    return {"stored": len(event["Records"])}
