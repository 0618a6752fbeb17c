"""A tour of DynamoDB through boto3's low-level client: tables with a GSI, conditional
writes, updates, queries, a paginated filtered scan, batches and a cancelled transaction.

Prints one JSON object with what each step saw; tests/it/store.rs asserts on it. The
endpoint, keys and region come from the environment (AWS_ENDPOINT_URL, ...).
"""

import json

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

client = boto3.client("dynamodb", config=Config(retries={"max_attempts": 1}))
seen = {}


def error_response(call, **request):
    """The error response of a call that should fail, or None when it succeeded."""
    try:
        call(**request)
    except ClientError as error:
        return error.response
    return None


def order(customer, order_id, status, total):
    return {
        "customer": {"S": customer},
        "order": {"S": order_id},
        "status": {"S": status},
        "total": {"N": str(total)},
    }


client.create_table(
    TableName="Orders",
    KeySchema=[
        {"AttributeName": "customer", "KeyType": "HASH"},
        {"AttributeName": "order", "KeyType": "RANGE"},
    ],
    AttributeDefinitions=[
        {"AttributeName": "customer", "AttributeType": "S"},
        {"AttributeName": "order", "AttributeType": "S"},
        {"AttributeName": "status", "AttributeType": "S"},
        {"AttributeName": "total", "AttributeType": "N"},
    ],
    GlobalSecondaryIndexes=[
        {
            "IndexName": "by-status",
            "KeySchema": [
                {"AttributeName": "status", "KeyType": "HASH"},
                {"AttributeName": "total", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    BillingMode="PAY_PER_REQUEST",
)
client.get_waiter("table_exists").wait(
    TableName="Orders", WaiterConfig={"Delay": 1, "MaxAttempts": 10}
)
described = client.describe_table(TableName="Orders")["Table"]
seen["table_status"] = described["TableStatus"]
seen["index_names"] = [index["IndexName"] for index in described["GlobalSecondaryIndexes"]]

# status, total and order are DynamoDB reserved words: expressions name them through
# ExpressionAttributeNames.
orders = [
    order("alice", "o1", "open", 25),
    order("alice", "o2", "shipped", 5),
    order("alice", "o3", "open", 100),
    order("bob", "o1", "open", 7),
    order("bob", "o2", "shipped", 60),
]
for item in orders:
    client.put_item(TableName="Orders", Item=item)

# A conditional put on an existing key fails and returns the item when asked to.
conditional = error_response(
    client.put_item,
    TableName="Orders",
    Item=order("alice", "o1", "open", 0),
    ConditionExpression="attribute_not_exists(customer)",
    ReturnValuesOnConditionCheckFailure="ALL_OLD",
)
seen["conditional_put_error"] = conditional and {
    "Code": conditional["Error"]["Code"],
    "Message": conditional["Error"]["Message"],
    "Item": conditional.get("Item"),
}
seen["after_conditional_put"] = client.get_item(
    TableName="Orders", Key={"customer": {"S": "alice"}, "order": {"S": "o1"}}
)["Item"]

seen["update_all_new"] = client.update_item(
    TableName="Orders",
    Key={"customer": {"S": "alice"}, "order": {"S": "o1"}},
    UpdateExpression="SET #status = :shipped, notes = list_append(if_not_exists(notes, :empty), :note) ADD #total :extra",
    ExpressionAttributeNames={"#status": "status", "#total": "total"},
    ExpressionAttributeValues={
        ":shipped": {"S": "shipped"},
        ":empty": {"L": []},
        ":note": {"L": [{"S": "gift wrap"}]},
        ":extra": {"N": "2.5"},
    },
    ReturnValues="ALL_NEW",
)["Attributes"]

seen["query_alice"] = client.query(
    TableName="Orders",
    KeyConditionExpression="customer = :customer AND begins_with(#order, :prefix)",
    ExpressionAttributeNames={"#order": "order"},
    ExpressionAttributeValues={":customer": {"S": "alice"}, ":prefix": {"S": "o"}},
)["Items"]

seen["query_open_over_10"] = client.query(
    TableName="Orders",
    IndexName="by-status",
    KeyConditionExpression="#status = :open AND #total > :floor",
    ExpressionAttributeNames={"#status": "status", "#total": "total"},
    ExpressionAttributeValues={":open": {"S": "open"}, ":floor": {"N": "10"}},
)["Items"]

# A filtered scan, two items a page: Limit counts items read before the filter.
pages = []
request = {
    "TableName": "Orders",
    "Limit": 2,
    "FilterExpression": "#total >= :floor",
    "ExpressionAttributeNames": {"#total": "total"},
    "ExpressionAttributeValues": {":floor": {"N": "10"}},
}
while True:
    page = client.scan(**request)
    pages.append(
        {
            "Count": page["Count"],
            "ScannedCount": page["ScannedCount"],
            "Items": page["Items"],
            "LastEvaluatedKey": page.get("LastEvaluatedKey"),
        }
    )
    if "LastEvaluatedKey" not in page or len(pages) > 10:
        break
    request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
seen["scan_pages"] = pages

# Thirty orders for carol in two batches (25 is BatchWriteItem's limit).
carol = [order("carol", "c%02d" % n, "open", n) for n in range(30)]
unprocessed = 0
for start in (0, 25):
    written = client.batch_write_item(
        RequestItems={
            "Orders": [{"PutRequest": {"Item": item}} for item in carol[start : start + 25]]
        }
    )
    unprocessed += len(written.get("UnprocessedItems", {}).get("Orders", []))
seen["batch_unprocessed"] = unprocessed
seen["carol_count"] = client.query(
    TableName="Orders",
    KeyConditionExpression="customer = :carol",
    ExpressionAttributeValues={":carol": {"S": "carol"}},
    Select="COUNT",
)["Count"]
got = client.batch_get_item(
    RequestItems={
        "Orders": {
            "Keys": [
                {"customer": {"S": "carol"}, "order": {"S": "c07"}},
                {"customer": {"S": "bob"}, "order": {"S": "o2"}},
                {"customer": {"S": "nobody"}, "order": {"S": "x"}},
            ],
            "ProjectionExpression": "customer, #order, #total",
            "ExpressionAttributeNames": {"#order": "order", "#total": "total"},
        }
    }
)
seen["batch_get"] = got["Responses"]["Orders"]
seen["batch_get_unprocessed"] = got.get("UnprocessedKeys", {})

# A transaction whose condition check fails writes nothing and says which part failed.
cancelled = error_response(
    client.transact_write_items,
    TransactItems=[
        {"Put": {"TableName": "Orders", "Item": order("dave", "d1", "open", 1)}},
        {
            "ConditionCheck": {
                "TableName": "Orders",
                "Key": {"customer": {"S": "bob"}, "order": {"S": "o1"}},
                "ConditionExpression": "#status = :cancelled",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":cancelled": {"S": "cancelled"}},
            }
        },
    ],
)
seen["transaction_error"] = cancelled and {
    "Code": cancelled["Error"]["Code"],
    "Message": cancelled["Error"]["Message"],
    "CancellationReasons": cancelled.get("CancellationReasons"),
}
seen["dave_after_transaction"] = client.get_item(
    TableName="Orders", Key={"customer": {"S": "dave"}, "order": {"S": "d1"}}
).get("Item")

seen["delete_all_old"] = client.delete_item(
    TableName="Orders",
    Key={"customer": {"S": "bob"}, "order": {"S": "o2"}},
    ReturnValues="ALL_OLD",
)["Attributes"]
seen["bob_o2_after_delete"] = client.get_item(
    TableName="Orders", Key={"customer": {"S": "bob"}, "order": {"S": "o2"}}
).get("Item")

print(json.dumps(seen))
