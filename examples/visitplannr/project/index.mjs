// Follows the events table's stream and keeps the read model: one item per proposal in
// the destinations table, "proposed" until the validator decided, then "validated" or
// "rejected" with the reason.
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const TABLE = process.env.DESTINATIONS_TABLE;

const STATUS = { destinationValidated: "validated", destinationRejected: "rejected" };

const project = async (event) => {
  if (event.Type === "destinationProposed") {
    try {
      await documents.send(
        new PutCommand({
          TableName: TABLE,
          Item: {
            destinationId: event.destinationId,
            name: event.name,
            proposedBy: event.proposedBy,
            proposedAt: event.at,
            status: "proposed",
          },
          // A redelivered proposal must not undo a decision projected since.
          ConditionExpression: "attribute_not_exists(destinationId)",
        }),
      );
    } catch (error) {
      if (error.name !== "ConditionalCheckFailedException") throw error;
    }
    return;
  }
  const status = STATUS[event.Type];
  if (status === undefined) {
    throw new Error(`the filter let through a ${event.Type} event: ${JSON.stringify(event)}`);
  }
  await documents.send(
    new UpdateCommand({
      TableName: TABLE,
      Key: { destinationId: event.destinationId },
      UpdateExpression:
        "SET #status = :status, #name = :name, proposedBy = :by, decidedAt = :at" +
        (event.reason === undefined ? " REMOVE reason" : ", reason = :reason"),
      ExpressionAttributeNames: { "#status": "status", "#name": "name" },
      ExpressionAttributeValues: {
        ":status": status,
        ":name": event.name,
        ":by": event.proposedBy,
        ":at": event.at,
        ...(event.reason === undefined ? {} : { ":reason": event.reason }),
      },
    }),
  );
};

export const handler = async (event) => {
  for (const record of event.Records) {
    await project(unmarshall(record.dynamodb.NewImage));
  }
};
