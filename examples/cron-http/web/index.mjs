// GET /ticks?limit=N&ticker=node|go: the last N ticks of a ticker (10 by default, the
// Node.js one by default), newest first.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  const limit = Number(event.queryStringParameters?.limit ?? "10");
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    return { statusCode: 400, body: JSON.stringify({ message: "limit is a number from 1 to 100" }) };
  }
  const result = await documents.send(
    new QueryCommand({
      TableName: process.env.TICKS_TABLE,
      KeyConditionExpression: "ticker = :ticker",
      ExpressionAttributeValues: { ":ticker": event.queryStringParameters?.ticker ?? "node" },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ticks: result.Items }),
  };
};
