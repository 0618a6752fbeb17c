"""S3 event notifications' handler (tests/it/s3.rs): keeps each record it gets as an
object of the Processed bucket, named by the event's (decoded) key."""

import json
import os
import urllib.parse

import boto3

s3 = boto3.client("s3")


def on_upload(event, context):
    for record in event["Records"]:
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        s3.put_object(
            Bucket=os.environ["PROCESSED"],
            Key="seen/" + key,
            Body=json.dumps(record).encode(),
        )
