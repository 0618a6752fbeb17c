//! DynamoDB Streams on the AWS endpoint (`DynamoDBStreams_20120810`), read with boto3.

use std::process::Command;

use serde_json::{json, Value};
use serverful_e2e::{test_app, Server};

const STREAMS_SCRIPT: &str = r#"
import json
import boto3

db = boto3.client("dynamodb")
db.create_table(
    TableName="events",
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
)
db.put_item(TableName="events", Item={"id": {"S": "a"}, "n": {"N": "1"}})
db.update_item(
    TableName="events",
    Key={"id": {"S": "a"}},
    UpdateExpression="SET n = n + :one",
    ExpressionAttributeValues={":one": {"N": "1"}},
)
db.delete_item(TableName="events", Key={"id": {"S": "a"}})
arn = db.describe_table(TableName="events")["Table"]["LatestStreamArn"]
streams = boto3.client("dynamodbstreams")
shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
records = streams.get_records(ShardIterator=iterator)["Records"]
print(json.dumps([
    [r["eventName"], r["dynamodb"].get("OldImage", {}).get("n"), r["dynamodb"].get("NewImage", {}).get("n")]
    for r in records
]))
"#;

#[test]
fn boto3_reads_a_tables_changes_from_its_stream() {
    let server = Server::start(&test_app("store-notes"), &[]);
    let output = Command::new("python3")
        .args(["-c", STREAMS_SCRIPT])
        .envs(server.aws_env())
        .output()
        .expect("run python3 (scripts/install-test-deps.sh installs boto3)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let records: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        records,
        json!([
            ["INSERT", null, {"N": "1"}],
            ["MODIFY", {"N": "1"}, {"N": "2"}],
            ["REMOVE", {"N": "2"}, null],
        ])
    );
}
