// Follows the events table's stream (only destinationProposed inserts reach it, by the
// mapping's FilterCriteria) and decides each proposal: a name of 3 to 100 characters that
// no earlier proposal of the same name got validated for. It appends destinationValidated
// or destinationRejected (with the reason) to the same stream.
import { randomUUID } from "node:crypto";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const TABLE = process.env.EVENTS_TABLE;

// Every event of a stream (one destination name), oldest first.
const streamEvents = async (streamName) => {
  const events = [];
  let ExclusiveStartKey;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: "StreamName = :stream",
        ExpressionAttributeValues: { ":stream": streamName },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    events.push(...page.Items);
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return events;
};

const DECISIONS = new Set(["destinationValidated", "destinationRejected"]);

// Why the proposal is rejected, or null when it is valid. `earlier` is what the stream
// held when the proposal was decided.
const rejection = (proposal, earlier) => {
  const length = [...proposal.name].length;
  if (length < 3) return `the name has ${length} characters; it needs at least 3`;
  if (length > 100) return `the name has ${length} characters; it may have at most 100`;
  const taken = earlier.find(
    (event) => event.Type === "destinationValidated" && event.destinationId !== proposal.destinationId,
  );
  if (taken) return `"${taken.name}" was already proposed by ${taken.proposedBy}`;
  return null;
};

export const handler = async (event) => {
  // Records arrive in order per stream name; deciding them one after the other lets each
  // decision see the ones before it.
  for (const record of event.Records) {
    const proposal = unmarshall(record.dynamodb.NewImage);
    if (proposal.Type !== "destinationProposed") {
      throw new Error(`the filter let through a ${proposal.Type} event: ${JSON.stringify(proposal)}`);
    }
    const earlier = await streamEvents(proposal.StreamName);
    // Delivery is at least once: a proposal decided before a retry is not decided again.
    if (earlier.some((e) => DECISIONS.has(e.Type) && e.destinationId === proposal.destinationId)) {
      continue;
    }
    const reason = rejection(proposal, earlier);
    const now = new Date().toISOString();
    const decision = {
      StreamName: proposal.StreamName,
      EventTime: `${now}#${randomUUID()}`,
      Type: reason === null ? "destinationValidated" : "destinationRejected",
      destinationId: proposal.destinationId,
      name: proposal.name,
      proposedBy: proposal.proposedBy,
      at: now,
      ...(reason === null ? {} : { reason }),
    };
    await documents.send(
      new PutCommand({ TableName: TABLE, Item: decision, ConditionExpression: "attribute_not_exists(EventTime)" }),
    );
    console.log(`${decision.Type} ${decision.destinationId} ${JSON.stringify(proposal.name)}${reason ? `: ${reason}` : ""}`);
  }
};
