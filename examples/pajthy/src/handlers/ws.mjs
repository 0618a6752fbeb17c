// The WebSocket API's routes: $connect accepts, `subscribe` ({"action": "subscribe",
// "sessionId": "..."}) makes the connection follow a session and sends it the current
// view at once, $disconnect forgets the connection.
import { publicView } from "../core/session.mjs";
import { getSession } from "../adapters/sessions.mjs";
import { forget, subscribe as store } from "../adapters/connections.mjs";
import { pushTo } from "../adapters/push.mjs";

export const connect = async () => ({ statusCode: 200 });

export const disconnect = async (event) => {
  const { connectionId, disconnectStatusCode } = event.requestContext;
  console.log(`connection ${connectionId} closed (${disconnectStatusCode})`);
  await forget(connectionId);
  return { statusCode: 200 };
};

export const subscribe = async (event) => {
  const { connectionId } = event.requestContext;
  let sessionId;
  try {
    sessionId = JSON.parse(event.body).sessionId;
  } catch {
    sessionId = undefined;
  }
  if (typeof sessionId !== "string" || !(await getSession(sessionId))) {
    await pushTo(connectionId, { type: "error", message: "no such session" }, event.requestContext);
    return { statusCode: 404 };
  }
  await store(connectionId, sessionId);
  // Read after subscribing, so that no change falls between the view sent and the pushes.
  const session = await getSession(sessionId);
  await pushTo(connectionId, { type: "subscribed", connectionId, session: publicView(session) }, event.requestContext);
  return { statusCode: 200 };
};
