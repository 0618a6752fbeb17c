"""Prints the ids of every item in NotesTable as one JSON list (every page of a Scan)."""

import json

import boto3

client = boto3.client("dynamodb")
ids = []
for page in client.get_paginator("scan").paginate(
    TableName="NotesTable", ProjectionExpression="id"
):
    ids.extend(item["id"]["S"] for item in page["Items"])
print(json.dumps(sorted(ids)))
