"""Puts items `w-0`, `w-1`, ... into NotesTable one after another, printing each number
once its PutItem has been answered (acknowledged), until it is stopped. The backup test
(tests/it/backup.rs) reads these lines to know which writes were acknowledged when."""

import sys

import boto3
from botocore.config import Config

client = boto3.client("dynamodb", config=Config(retries={"max_attempts": 1}))
number = 0
while True:
    client.put_item(
        TableName="NotesTable",
        Item={"id": {"S": f"w-{number}"}, "text": {"S": "written during a backup"}},
    )
    sys.stdout.write(f"{number}\n")
    sys.stdout.flush()
    number += 1
