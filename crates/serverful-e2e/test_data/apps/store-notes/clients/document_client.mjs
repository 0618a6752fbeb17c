// Puts, gets and queries items with numbers and nested maps through the AWS SDK for
// JavaScript v3's DocumentClient, and prints what came back as JSON for
// tests/it/store.rs. The endpoint, keys and region come from the environment.
import { createRequire } from "node:module";

// ES modules ignore NODE_PATH: resolve the SDK through require, which honours it.
const require = createRequire(import.meta.url);
const { DynamoDBClient, CreateTableCommand, GetItemCommand } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient, PutCommand, GetCommand, QueryCommand } = require("@aws-sdk/lib-dynamodb");

const client = new DynamoDBClient({ maxAttempts: 1 });
const documents = DynamoDBDocumentClient.from(client);

await client.send(new CreateTableCommand({
  TableName: "Readings",
  KeySchema: [
    { AttributeName: "device", KeyType: "HASH" },
    { AttributeName: "at", KeyType: "RANGE" },
  ],
  AttributeDefinitions: [
    { AttributeName: "device", AttributeType: "S" },
    { AttributeName: "at", AttributeType: "N" },
  ],
  BillingMode: "PAY_PER_REQUEST",
}));

const readings = [
  {
    device: "thermo-1",
    at: 100,
    celsius: 21.5,
    location: { room: "kitchen", floor: 0, position: { x: -3.25, y: 1e-7 } },
    history: [20, 20.5, { min: -40, max: 85 }],
    calibrated: true,
    note: null,
  },
  { device: "thermo-1", at: 20, celsius: -0.125, location: { room: "attic", floor: 2 } },
  { device: "thermo-1", at: 3, celsius: 1234567890.5, location: {} },
  { device: "thermo-2", at: 50, celsius: 18 },
];
for (const item of readings) {
  await documents.send(new PutCommand({ TableName: "Readings", Item: item }));
}

const got = await documents.send(new GetCommand({
  TableName: "Readings",
  Key: { device: "thermo-1", at: 100 },
}));
const raw = await client.send(new GetItemCommand({
  TableName: "Readings",
  Key: { device: { S: "thermo-1" }, at: { N: "100" } },
}));
const queried = await documents.send(new QueryCommand({
  TableName: "Readings",
  KeyConditionExpression: "device = :device AND #at BETWEEN :from AND :to",
  ExpressionAttributeNames: { "#at": "at" },
  ExpressionAttributeValues: { ":device": "thermo-1", ":from": 3, ":to": 100 },
}));

console.log(JSON.stringify({
  put: readings,
  got: got.Item,
  rawLocation: raw.Item.location,
  queried: queried.Items,
}));
