// The REST API (API Gateway payload format 1.0): translates requests into the core's
// functions, stores the result and pushes the new public view to every subscriber.
import { randomBytes, randomUUID } from "node:crypto";
import * as core from "../core/session.mjs";
import { hashSecret } from "../core/secret.mjs";
import * as store from "../adapters/sessions.mjs";
import { pushToSession } from "../adapters/push.mjs";

// With a Lambda proxy integration the function sets the CORS headers of actual responses;
// the API's `Cors` setting answers only the preflight (OPTIONS).
const CORS = { "Access-Control-Allow-Origin": "*" };
const SECRET_HEADER = "x-pajthy-secret";

const reply = (statusCode, body) => ({
  statusCode,
  headers: { "Content-Type": "application/json", ...CORS },
  body: JSON.stringify(body),
});
const refused = (result) => reply(result.status, { message: result.message });

function parseBody(event) {
  if (!event.body) return {};
  const text = event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  try {
    const body = JSON.parse(text);
    return body !== null && typeof body === "object" && !Array.isArray(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

function header(event, name) {
  const found = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return found?.[1];
}

/** Applies a change, then tells every subscriber. */
async function change(sessionId, apply) {
  const result = await store.changeSession(sessionId, apply);
  if (!result.ok) return refused(result);
  const view = core.publicView(result.session);
  await pushToSession(sessionId, { type: "session", session: view });
  return reply(200, view);
}

/** A controller action: the session's secret must come in the X-Pajthy-Secret header. */
function controlled(event, action) {
  const presented = hashSecret(header(event, SECRET_HEADER));
  return change(event.pathParameters.sessionId, (session) =>
    core.isController(session, presented)
      ? action(session)
      : { ok: false, status: 403, message: "this needs the session's controller secret (X-Pajthy-Secret)" },
  );
}

const routes = {
  "POST /sessions": async (event, body) => {
    const secret = randomBytes(24).toString("base64url");
    const result = core.createSession({
      sessionId: randomBytes(6).toString("base64url"),
      secretHash: hashSecret(secret),
      choices: body.choices,
      now: new Date().toISOString(),
    });
    if (!result.ok) return refused(result);
    if (!(await store.createSession(result.session))) {
      return reply(503, { message: "could not find a free session id; try again" });
    }
    return reply(201, { ...core.publicView(result.session), secret });
  },
  "GET /sessions/{sessionId}": async (event) => {
    const session = await store.getSession(event.pathParameters.sessionId);
    return session ? reply(200, core.publicView(session)) : reply(404, { message: "no such session" });
  },
  "POST /sessions/{sessionId}/join": async (event, body) => {
    const voterId = randomUUID();
    const response = await change(event.pathParameters.sessionId, (session) =>
      core.join(session, { voterId, name: body.name, now: new Date().toISOString() }),
    );
    if (response.statusCode !== 200) return response;
    return reply(201, { voterId, name: body.name.trim(), session: JSON.parse(response.body) });
  },
  "POST /sessions/{sessionId}/vote": (event, body) =>
    change(event.pathParameters.sessionId, (session) =>
      core.vote(session, { voterId: body.voterId, choice: body.choice }),
    ),
  "POST /sessions/{sessionId}/start": (event) => controlled(event, core.start),
  "POST /sessions/{sessionId}/stop": (event) => controlled(event, core.stop),
  "POST /sessions/{sessionId}/reset": (event) => controlled(event, core.reset),
  "POST /sessions/{sessionId}/kick": (event, body) =>
    controlled(event, (session) => core.kick(session, { name: body.name })),
};

export const handler = async (event) => {
  const route = routes[`${event.httpMethod} ${event.resource}`];
  if (!route) return reply(404, { message: "Not Found" });
  const body = parseBody(event);
  if (body === undefined) return reply(400, { message: "the body must be a JSON object" });
  return route(event, body);
};
