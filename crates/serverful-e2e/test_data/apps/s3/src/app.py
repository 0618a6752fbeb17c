import os

import boto3
import botocore.exceptions

s3 = boto3.client("s3")


def error_of(call):
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"]
    return None


def handler(event, context):
    """Writes event["Key"] to the stack's bucket, then tries what its keys may not do."""
    bucket = os.environ["BUCKET"]
    put = s3.put_object(Bucket=bucket, Key=event["Key"], Body=event["Body"].encode(), ContentType="text/plain")
    listed = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {
        "ETag": put["ETag"],
        "Listed": listed,
        "Buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "OtherBucket": error_of(lambda: s3.put_object(Bucket=event["Other"], Key="x", Body=b"x")),
        "DeleteOwn": error_of(lambda: s3.delete_bucket(Bucket=bucket)),
    }
