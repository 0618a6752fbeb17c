"""Puts items `w-0`, `w-1`, ... into the template's NotesTable (named by $NOTES_TABLE) one after another, printing each number
once its PutItem has been answered (acknowledged), until it is stopped. The backup test
(tests/it/backup.rs) reads these lines to know which writes were acknowledged when.

With an argument N, it first batch-writes N filler items of 4 KiB (`filler-0`, ...), so
that a backup has enough to copy to take a while, and prints `preloaded`."""

import sys

import os

import boto3
from botocore.config import Config

TABLE = os.environ["NOTES_TABLE"]
client = boto3.client("dynamodb", config=Config(retries={"max_attempts": 1}))

preload = int(sys.argv[1]) if len(sys.argv) > 1 else 0
for first in range(0, preload, 25):
    requests = [
        {"PutRequest": {"Item": {"id": {"S": f"filler-{n}"}, "text": {"S": "f" * 4096}}}}
        for n in range(first, min(first + 25, preload))
    ]
    unprocessed = {TABLE: requests}
    while unprocessed:
        unprocessed = client.batch_write_item(RequestItems=unprocessed)["UnprocessedItems"]
if preload:
    print("preloaded", flush=True)

number = 0
while True:
    client.put_item(
        TableName=TABLE,
        Item={"id": {"S": f"w-{number}"}, "text": {"S": "written during a backup"}},
    )
    sys.stdout.write(f"{number}\n")
    sys.stdout.flush()
    number += 1
