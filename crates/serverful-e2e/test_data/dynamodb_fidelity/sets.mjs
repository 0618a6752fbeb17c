// Sets through a global index's projection with the AWS SDK for JavaScript v3's document
// client, for tests/it/dynamodb_fidelity.rs: the item goes in with JavaScript Sets and
// comes back out of the index as Sets. Also a request fault the SDK sends as is: an
// item over 400 KB into a table that does not exist. Prints what it saw as JSON.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { DynamoDBClient, CreateTableCommand } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient, PutCommand, QueryCommand } = require("@aws-sdk/lib-dynamodb");

const client = new DynamoDBClient({ maxAttempts: 1 });
const documents = DynamoDBDocumentClient.from(client);
const seen = {};
try {
  await documents.send(new PutCommand({ TableName: "no-such-table", Item: { pk: "a", blob: "x".repeat(400 * 1024 + 1) } }));
  seen.bigItem = "accepted";
} catch (error) {
  seen.bigItem = [error.name, error.message];
}
await client.send(new CreateTableCommand({
  TableName: "sets",
  BillingMode: "PAY_PER_REQUEST",
  AttributeDefinitions: [
    { AttributeName: "pk", AttributeType: "S" },
    { AttributeName: "team", AttributeType: "S" },
  ],
  KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
  GlobalSecondaryIndexes: [{
    IndexName: "by-team",
    KeySchema: [{ AttributeName: "team", KeyType: "HASH" }],
    Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["tags", "scores"] },
  }],
}));
await documents.send(new PutCommand({
  TableName: "sets",
  Item: { pk: "a", team: "red", tags: new Set(["b", "a"]), scores: new Set([3, 1]), secret: "s" },
}));
const found = await documents.send(new QueryCommand({
  TableName: "sets",
  IndexName: "by-team",
  KeyConditionExpression: "team = :t",
  ExpressionAttributeValues: { ":t": "red" },
}));
const item = found.Items[0];
seen.tagsIsSet = item.tags instanceof Set;
seen.tags = [...item.tags].sort();
seen.scoresIsSet = item.scores instanceof Set;
seen.scores = [...item.scores].map(Number).sort();
seen.keys = Object.keys(item).sort();
console.log(JSON.stringify(seen));
