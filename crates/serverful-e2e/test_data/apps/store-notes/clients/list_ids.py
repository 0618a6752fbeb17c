"""Prints the ids of every item in the template's NotesTable (named by $NOTES_TABLE) as
one JSON list (every page of a Scan)."""

import json
import os

import boto3

TABLE = os.environ["NOTES_TABLE"]
client = boto3.client("dynamodb")
ids = []
for page in client.get_paginator("scan").paginate(
    TableName=TABLE, ProjectionExpression="id"
):
    ids.extend(item["id"]["S"] for item in page["Items"])
print(json.dumps(sorted(ids)))
