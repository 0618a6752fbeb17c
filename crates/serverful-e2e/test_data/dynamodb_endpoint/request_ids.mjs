// Calls DynamoDB through the AWS SDK for JavaScript v3 and prints the request ids the SDK
// read from the answers, for tests/it/dynamodb_endpoint.rs: a ListTables that works and a
// DescribeTable of a table that does not exist. The endpoint, keys and region come from
// the environment.
import { createRequire } from "node:module";

// ES modules ignore NODE_PATH: resolve the SDK through require, which honours it.
const require = createRequire(import.meta.url);
const { DynamoDBClient, ListTablesCommand, DescribeTableCommand } = require("@aws-sdk/client-dynamodb");

const client = new DynamoDBClient({ maxAttempts: 1 });
const listed = await client.send(new ListTablesCommand({}));
const seen = { listRequestId: listed.$metadata.requestId, tableNames: listed.TableNames };
try {
  await client.send(new DescribeTableCommand({ TableName: "no-such-table" }));
  seen.describe = "succeeded";
} catch (error) {
  seen.describe = error.name;
  seen.describeRequestId = error.$metadata.requestId;
  seen.describeStatus = error.$metadata.httpStatusCode;
}
console.log(JSON.stringify(seen));
