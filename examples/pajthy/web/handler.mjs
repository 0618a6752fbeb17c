// Serves the single-page app (public/) on its own HTTP API, so that it is another origin
// than the REST API and the browser really applies CORS. The page learns where the APIs
// are from a small config: their ids and stages, from which it builds their host names
// next to its own (`{api-id}.execute-api.{domain}`).
import { readFile } from "node:fs/promises";

const FILES = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
};
const cache = new Map();

async function file(name) {
  if (!cache.has(name)) cache.set(name, await readFile(new URL(`./public/${name}`, import.meta.url), "utf8"));
  return cache.get(name);
}

export const handler = async (event) => {
  const found = FILES[event.rawPath];
  if (!found) return { statusCode: 404, headers: { "Content-Type": "text/plain" }, body: "Not Found" };
  const [name, type] = found;
  let body = await file(name);
  if (name === "index.html") {
    const config = {
      webApiId: event.requestContext.apiId,
      restApiId: process.env.REST_API_ID,
      restStage: process.env.REST_STAGE,
      webSocketApiId: process.env.WEBSOCKET_API_ID,
      webSocketStage: process.env.WEBSOCKET_STAGE,
    };
    body = body.replace("/*CONFIG*/{}", JSON.stringify(config));
  }
  return { statusCode: 200, headers: { "Content-Type": type, "Cache-Control": "no-cache" }, body };
};
