# DynamoDB fidelity through boto3, for tests/it/dynamodb_fidelity.rs: request faults
# refused before the table is looked up, paths into key attributes, invalid placeholder
# values, size() of strings, sets through index projections and ConsumedCapacity per
# index. Prints one JSON object of what it saw. Endpoint and keys come from the
# environment.
import json

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Client-side validation off: the server must refuse these requests itself.
ddb = boto3.client("dynamodb", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
seen = {}


def error_of(label, call, **request):
    try:
        call(**request)
        seen[label] = "accepted"
    except ClientError as error:
        seen[label] = [error.response["Error"]["Code"], error.response["Error"]["Message"]]


big = {"pk": {"S": "a"}, "sk": {"S": "1"}, "blob": {"S": "x" * (400 * 1024 + 1)}}
error_of("big item, no table", ddb.put_item, TableName="no-such-table", Item=big)

ddb.create_table(
    TableName="fidelity",
    BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "team", "AttributeType": "S"},
    ],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    GlobalSecondaryIndexes=[
        {
            "IndexName": "by-team",
            "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["tags", "scores"]},
        }
    ],
)
error_of("big item", ddb.put_item, TableName="fidelity", Item=big)
key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
error_of(
    "projection into the key",
    ddb.get_item,
    TableName="fidelity",
    Key=key,
    ProjectionExpression="pk.nested",
)
error_of(
    "projection into an index key",
    ddb.get_item,
    TableName="fidelity",
    Key=key,
    ProjectionExpression="team[0]",
)
error_of(
    "empty placeholder value",
    ddb.put_item,
    TableName="fidelity",
    Item=key,
    ConditionExpression="attribute_not_exists(pk) OR n = :v",
    ExpressionAttributeValues={":v": {}},
)
error_of(
    "mistyped start key",
    ddb.scan,
    TableName="fidelity",
    ExclusiveStartKey={"pk": {"S": "a"}, "sk": {"N": "1"}},
)
seen["items after refusals"] = ddb.scan(TableName="fidelity", Select="COUNT")["Count"]

put = ddb.put_item(
    TableName="fidelity",
    Item={
        "pk": {"S": "a"},
        "sk": {"S": "1"},
        "team": {"S": "red"},
        "name": {"S": "Zoë"},
        "tags": {"SS": ["b", "a"]},
        "scores": {"NS": ["3", "1"]},
    },
    ReturnConsumedCapacity="INDEXES",
)
seen["put capacity"] = put["ConsumedCapacity"]
updated = ddb.update_item(
    TableName="fidelity",
    Key=key,
    UpdateExpression="ADD tags :more",
    ExpressionAttributeValues={":more": {"SS": ["c"]}},
    ReturnConsumedCapacity="TOTAL",
)
seen["update capacity"] = updated["ConsumedCapacity"]
found = ddb.query(
    TableName="fidelity",
    IndexName="by-team",
    KeyConditionExpression="team = :t",
    ExpressionAttributeValues={":t": {"S": "red"}},
    ReturnConsumedCapacity="INDEXES",
)
seen["index items"] = found["Items"]
seen["query capacity"] = found["ConsumedCapacity"]
seen["size(name) = 3"] = ddb.scan(
    TableName="fidelity",
    Select="COUNT",
    FilterExpression="size(#n) = :three",
    ExpressionAttributeNames={"#n": "name"},
    ExpressionAttributeValues={":three": {"N": "3"}},
)["Count"]
print(json.dumps(seen))
