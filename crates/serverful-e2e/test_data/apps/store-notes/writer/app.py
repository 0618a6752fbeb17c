"""Stores the request body as a note under the path's id, in the table the template
names in NOTES_TABLE, through the AWS endpoint (boto3 reads AWS_ENDPOINT_URL)."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["NOTES_TABLE"])


def handler(event, context):
    note_id = event["pathParameters"]["id"]
    table.put_item(
        Item={
            "id": note_id,
            "text": event.get("body") or "",
            "writtenBy": context.function_name,
        }
    )
    return {
        "statusCode": 201,
        "body": json.dumps({"id": note_id, "table": os.environ["NOTES_TABLE"]}),
    }
