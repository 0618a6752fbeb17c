import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export const handler = async () => {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  return { statusCode: 200, body: typeof client.send };
};
