// GET /destinations: the read model, every proposal with its status ("proposed",
// "validated" or "rejected" with the reason), oldest proposal first.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async () => {
  const destinations = [];
  let ExclusiveStartKey;
  do {
    const page = await documents.send(
      new ScanCommand({ TableName: process.env.DESTINATIONS_TABLE, ExclusiveStartKey }),
    );
    destinations.push(...page.Items);
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  destinations.sort((a, b) => (a.proposedAt ?? "").localeCompare(b.proposedAt ?? ""));
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ destinations }),
  };
};
