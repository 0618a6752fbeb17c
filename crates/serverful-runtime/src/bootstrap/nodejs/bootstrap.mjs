// Serverful's Node.js bootstrap: loads the handler named by _HANDLER from LAMBDA_TASK_ROOT
// and serves invocations from the server at AWS_LAMBDA_RUNTIME_API, one at a time, like
// AWS's Node.js runtime (async and callback handlers, the context object, error
// objects and console log lines in AWS's format, and the global `awslambda` with
// `streamifyResponse` and `HttpResponseStream` for response streaming).

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import util from "node:util";
import { register } from "node:module";
import { pathToFileURL } from "node:url";

const env = process.env;

function splitHostPort(address) {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

// Serverful's frame channel to the server, on a connection to the Runtime API's address
// (the runtime crate's frames.rs documents it): a 9-byte prefix (kind, header length,
// body length, big-endian), the header, the body. The server writes an event (`E`); the
// answer (`r` response, `e` error, `s`/`c`/`t` a stream) also asks for the next one.
const PREFACE = Buffer.from("\0serverful-frames/1\n", "latin1");
const PREFIX = 9;
const FRAME = { next: 0x6e, response: 0x72, error: 0x65, initError: 0x69, streamStart: 0x73, chunk: 0x63, streamEnd: 0x74, event: 0x45 };

class Channel {
  constructor(address) {
    const [host, port] = splitHostPort(address);
    this.chunks = [];
    this.buffered = 0;
    this.waiting = undefined;
    this.broken = undefined;
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on("data", (chunk) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.deliver();
    });
    const fail = (error) => {
      this.broken = this.broken || error || new Error("the server closed the Runtime API connection");
      if (this.waiting) {
        const { reject } = this.waiting;
        this.waiting = undefined;
        reject(this.broken);
      }
    };
    this.socket.on("error", fail);
    this.socket.on("close", () => fail(undefined));
    this.socket.write(PREFACE);
  }

  // The next frame from the server. While a handler runs the connection does not keep the
  // process alive, so that `beforeExit` tells when the handler's own work is done.
  receive() {
    return new Promise((resolve, reject) => {
      if (this.broken) return reject(this.broken);
      this.waiting = { resolve, reject };
      this.socket.ref();
      this.deliver();
    });
  }

  deliver() {
    if (!this.waiting || this.buffered < PREFIX) return;
    if (this.chunks[0].length < PREFIX) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    const first = this.chunks[0];
    const headerLength = first.readUInt32BE(1);
    const end = PREFIX + headerLength + first.readUInt32BE(5);
    if (this.buffered < end) return;
    const all = this.chunks.length === 1 ? first : Buffer.concat(this.chunks, this.buffered);
    const rest = all.subarray(end);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    const { resolve } = this.waiting;
    this.waiting = undefined;
    this.socket.unref();
    resolve({ kind: all[0], header: all.subarray(PREFIX, PREFIX + headerLength), body: all.subarray(PREFIX + headerLength, end) });
  }

  // Writes one frame; `header` is a string, `body` a string or bytes. `written` is called
  // once the frame is handed to the kernel.
  send(kind, header = "", body = "", written = undefined) {
    const headerLength = Buffer.byteLength(header);
    const bodyLength = typeof body === "string" ? Buffer.byteLength(body) : body.length;
    const frame = Buffer.allocUnsafe(PREFIX + headerLength + bodyLength);
    frame[0] = kind;
    frame.writeUInt32BE(headerLength, 1);
    frame.writeUInt32BE(bodyLength, 5);
    if (headerLength) frame.write(header, PREFIX, "utf8");
    if (typeof body === "string") {
      if (bodyLength) frame.write(body, PREFIX + headerLength, "utf8");
    } else {
      frame.set(body, PREFIX + headerLength);
    }
    return this.socket.write(frame, written);
  }

  // Writes one frame and settles once it is handed to the kernel.
  sendAndFlush(kind, header, body) {
    return new Promise((resolve) => this.send(kind, header, body, () => resolve()));
  }
}

const channel = new Channel(env.AWS_LAMBDA_RUNTIME_API || "127.0.0.1:9001");

// Console output in the format of AWS's Node.js runtime. With the function's
// `LoggingConfig` at its default (`AWS_LAMBDA_LOG_FORMAT` Text):
// `2024-01-01T00:00:00.000Z\t{requestId}\tINFO\tmessage`, every level written. With
// `LogFormat: JSON`: one object per line (`timestamp`, `level`, `requestId`, `message`,
// and an error's `errorType`, `errorMessage` and `stackTrace`), only the levels at or
// above `AWS_LAMBDA_LOG_LEVEL` (its `ApplicationLogLevel`).
let currentRequestId = undefined;
const write = (line) => process.stdout.write(line);
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const jsonLogs = env.AWS_LAMBDA_LOG_FORMAT === "JSON";
const lowestLevel = Math.max(0, LEVELS.indexOf((env.AWS_LAMBDA_LOG_LEVEL || "INFO").toUpperCase()));

function jsonLine(level, message, error) {
  const record = { timestamp: new Date().toISOString(), level, requestId: currentRequestId, message };
  if (error) {
    record.errorType = error.errorType;
    record.errorMessage = error.errorMessage;
    record.stackTrace = error.stackTrace;
  }
  return JSON.stringify(record) + "\n";
}

for (const [method, level] of [
  ["log", "INFO"],
  ["info", "INFO"],
  ["debug", "DEBUG"],
  ["warn", "WARN"],
  ["error", "ERROR"],
  ["trace", "TRACE"],
  ["fatal", "FATAL"],
]) {
  if (!jsonLogs) {
    console[method] = (...args) => {
      write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}\n`);
    };
  } else if (LEVELS.indexOf(level) < lowestLevel) {
    console[method] = () => {};
  } else {
    console[method] = (...args) => {
      const error = args.find((arg) => arg instanceof Error);
      const described = error && {
        errorType: error.name || "Error",
        errorMessage: error.message,
        stackTrace: typeof error.stack === "string" ? error.stack.split("\n") : [],
      };
      write(jsonLine(level, util.format(...args), described));
    };
  }
}

// The runtime's own error lines (`Invoke Error`, `Uncaught Exception`): text as AWS's
// Node.js runtime writes them, or a JSON `ERROR` record carrying the error's fields.
function logError(label, body) {
  if (!jsonLogs) {
    console.error(label, "\t" + JSON.stringify(body));
  } else if (LEVELS.indexOf("ERROR") >= lowestLevel) {
    write(jsonLine("ERROR", label, {
      errorType: body.errorType,
      errorMessage: body.errorMessage,
      stackTrace: body.trace || [],
    }));
  }
}

// Response streaming, as AWS's Node.js runtime offers it through the global `awslambda`:
// a handler wrapped with `awslambda.streamifyResponse` gets `(event, responseStream,
// context)`, and what it writes goes to the Runtime API as it is written (the streaming
// response mode: a chunked POST whose error, if the handler fails midway, comes as
// trailers).
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HIGH_WATER_MARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const STREAM_RESPONSE = "response";
const HTTP_INTEGRATION_RESPONSE = "application/vnd.awslambda.http-integration-response";
// HttpResponseStream's prelude ends with this many NUL bytes.
const PRELUDE_DELIMITER_LENGTH = 8;

function streamifyResponse(handler, options) {
  if (typeof handler !== "function") throw new TypeError("streamifyResponse expects a handler function");
  handler[STREAMING] = STREAM_RESPONSE;
  if (options && Number.isInteger(options.highWaterMark) && options.highWaterMark > 0) {
    handler[HIGH_WATER_MARK] = options.highWaterMark;
  }
  return handler;
}

// The stream a streaming handler writes to. The stream starts (an `s` frame) with the first
// write, or at the end for an empty response, so that a handler that fails before writing
// anything reports an ordinary invocation error. Each write is a `c` frame; the end is a
// `t` frame, carrying the error JSON when the handler failed midway.
class ResponseStream extends Writable {
  constructor(requestId, highWaterMark) {
    super(highWaterMark ? { highWaterMark } : {});
    this.requestId = requestId;
    this.contentType = "application/octet-stream";
    this.begun = false;
    this.beforeFirstWrite = undefined;
    this.failure = undefined;
  }

  setContentType(contentType) {
    if (this.begun) throw new Error("Cannot set content-type, too late.");
    this.contentType = String(contentType);
  }

  get started() {
    return this.begun;
  }

  start() {
    if (this.begun) return;
    this.begun = true;
    activeStream = this;
    channel.send(FRAME.streamStart, this.requestId, this.contentType);
    const prelude = this.beforeFirstWrite;
    this.beforeFirstWrite = undefined;
    if (prelude) prelude((chunk) => channel.send(FRAME.chunk, "", typeof chunk === "string" ? chunk : Buffer.from(chunk)));
  }

  _write(chunk, encoding, callback) {
    this.start();
    channel.send(FRAME.chunk, "", chunk, (error) => callback(error || null));
  }

  _final(callback) {
    this.start();
    activeStream = undefined;
    channel.send(FRAME.streamEnd, "", this.failure ? JSON.stringify(this.failure) : "", (error) => callback(error || null));
  }

  // Ends a stream that has started with Lambda error JSON `body`, sent after every chunk
  // written so far.
  async fail(body) {
    if (this.writableEnded) return;
    this.failure = body;
    this.end();
    try {
      await finished(this);
    } catch (error) {
      process.stderr.write(`Serverful streamed response failed: ${error && error.message}\n`);
    }
  }
}

// The stream of the invocation in flight once it has started, for an error that ends the
// process midway.
let activeStream = undefined;

// Writes the HTTP prelude (status, headers, cookies) that function URLs read from a
// stream of content type application/vnd.awslambda.http-integration-response: its JSON,
// then eight NUL bytes, ahead of the first chunk of the body.
class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION_RESPONSE);
    const metadata = JSON.stringify(prelude === undefined ? {} : prelude);
    underlyingStream.beforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(PRELUDE_DELIMITER_LENGTH));
    };
    return underlyingStream;
  }
}

globalThis.awslambda = { streamifyResponse, HttpResponseStream };

// Runs a streaming handler for one invocation and answers it: the stream ends when the
// handler's promise settles (if the handler has not ended it); an error before the first
// write is an ordinary invocation error, one after it goes out as trailers.
async function runStreamingHandler(handler, event, context, requestId) {
  const stream = new ResponseStream(requestId, handler[HIGH_WATER_MARK]);
  stream.on("error", () => {});
  let failure;
  try {
    await handler(event, stream, context);
  } catch (error) {
    failure = error === undefined || error === null ? new Error("Promise rejected") : error;
  }
  if (failure === undefined) {
    if (!stream.writableEnded) stream.end();
    try {
      await finished(stream);
      return;
    } catch (error) {
      failure = error;
    }
  }
  const body = toLambdaError(failure);
  logError("Invoke Error", body);
  if (!stream.started) {
    channel.send(FRAME.error, requestId, JSON.stringify(body));
  } else {
    await stream.fail(body);
  }
}

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

function toLambdaError(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name || (error.constructor && error.constructor.name) || "Error",
      errorMessage: error.message,
      trace: typeof error.stack === "string" ? error.stack.split("\n") : [],
    };
  }
  if (typeof error === "string") return { errorType: "string", errorMessage: error, trace: [] };
  let message;
  try {
    message = JSON.stringify(error);
  } catch {
    message = String(error);
  }
  return { errorType: typeof error, errorMessage: message === undefined ? String(error) : message, trace: [] };
}

function resolveExport(target, exportPath) {
  let value = target;
  for (const part of exportPath.split(".")) {
    if (value === undefined || value === null) return undefined;
    value = value[part];
  }
  return value;
}

// Lambda's runtime ships the AWS SDK, and handlers find it whether they `require` or
// `import` it. `require` honours NODE_PATH (where Serverful puts its shared SDK); ES
// modules do not, so a resolve hook retries a bare specifier that was not found from each
// NODE_PATH folder, after the function's own node_modules.
function resolveBareImportsFromNodePath() {
  const folders = (env.NODE_PATH || "").split(path.delimiter).filter((folder) => path.basename(folder) === "node_modules");
  if (folders.length === 0 || typeof register !== "function") return;
  // Resolving as if from a file next to a node_modules folder searches that folder.
  const parents = folders.map((folder) => pathToFileURL(path.join(path.dirname(folder), "serverful-resolve.mjs")).href);
  const hooks = `
    let parents = [];
    export async function initialize(data) { parents = data.parents; }
    export async function resolve(specifier, context, nextResolve) {
      try {
        return await nextResolve(specifier, context);
      } catch (error) {
        const bare = !specifier.startsWith(".") && !specifier.startsWith("/") && !specifier.includes(":");
        if (!bare || !error || error.code !== "ERR_MODULE_NOT_FOUND") throw error;
        for (const parentURL of parents) {
          try { return await nextResolve(specifier, { ...context, parentURL }); } catch {}
        }
        throw error;
      }
    }`;
  register("data:text/javascript," + encodeURIComponent(hooks), { data: { parents } });
}

async function loadHandler(taskRoot, handlerString) {
  resolveBareImportsFromNodePath();
  const slash = handlerString.lastIndexOf("/");
  const directory = handlerString.slice(0, slash + 1);
  const base = handlerString.slice(slash + 1);
  const dot = base.indexOf(".");
  if (dot <= 0 || dot === base.length - 1) {
    throw new RuntimeError("Runtime.MalformedHandlerName", `Bad handler ${handlerString}`);
  }
  const moduleName = directory + base.slice(0, dot);
  const exportPath = base.slice(dot + 1);
  const modulePath = path.resolve(taskRoot, moduleName);
  const file = [".js", ".mjs", ".cjs"].map((ext) => modulePath + ext).find((candidate) => fs.existsSync(candidate));
  if (!file) {
    throw new RuntimeError("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`);
  }
  let loaded;
  try {
    loaded = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new RuntimeError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message}`);
    }
    if (error && (error.code === "ERR_MODULE_NOT_FOUND" || error.code === "MODULE_NOT_FOUND")) {
      throw new RuntimeError("Runtime.ImportModuleError", `Error: ${error.message}`);
    }
    throw error;
  }
  // ES modules export names directly; CommonJS modules sit behind `default` when Node cannot
  // detect their named exports.
  let handler = resolveExport(loaded, exportPath);
  if (handler === undefined && loaded.default !== undefined) handler = resolveExport(loaded.default, exportPath);
  if (handler === undefined) {
    throw new RuntimeError("Runtime.HandlerNotFound", `${handlerString} is undefined or not exported`);
  }
  if (typeof handler !== "function") {
    throw new RuntimeError("Runtime.HandlerNotFound", `${handlerString} is not a function`);
  }
  return handler;
}

function parseJsonHeader(value) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function makeContext(invocation) {
  const deadline = Number(invocation.deadlineMs);
  const identity = parseJsonHeader(invocation.cognitoIdentity);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: invocation.invokedFunctionArn,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: invocation.requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: identity
      ? { cognitoIdentityId: identity.cognitoIdentityId, cognitoIdentityPoolId: identity.cognitoIdentityPoolId }
      : undefined,
    clientContext: parseJsonHeader(invocation.clientContext),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

// Runs the handler and settles with its result, whichever way it reports it: a returned
// promise, a returned value, the callback, or context.succeed/fail/done.
function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    // As on AWS, an answer given through the callback waits for the event loop to empty
    // (timers, sockets the handler left behind) unless the handler opted out. The channel
    // to the server is unreferenced while a handler runs and does not count.
    const callback = (error, result) => {
      if (settled) return;
      if (context.callbackWaitsForEmptyEventLoop) {
        process.once("beforeExit", () => settle(error, result));
      } else {
        settle(error, result);
      }
    };
    context.done = settle;
    context.succeed = (result) => settle(null, result);
    context.fail = (error) => settle(error === undefined || error === null ? "handled" : error);
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (error) {
      settle(error);
      return;
    }
    if (returned && typeof returned.then === "function") {
      returned.then((result) => settle(null, result), (error) => settle(error === undefined || error === null ? new Error("Promise rejected") : error));
    } else if (handler.length < 3) {
      // A synchronous handler without a callback parameter answers with its return value.
      settle(null, returned);
    }
  });
}

async function reportInitError(error) {
  const body = toLambdaError(error);
  logError("Uncaught Exception", body);
  await channel.sendAndFlush(FRAME.initError, "", JSON.stringify(body));
  process.exit(1);
}

function postError(requestId, error) {
  const body = toLambdaError(error);
  logError("Invoke Error", body);
  channel.send(FRAME.error, requestId, JSON.stringify(body));
}

// The request a handler is working on, for errors that escape it.
let inFlightRequestId = undefined;

// An exception nobody caught or a promise rejection nobody handled ends the process, as on
// AWS; the invocation in flight gets the error first.
async function dieOf(error, unhandledRejection) {
  let body = toLambdaError(error);
  if (unhandledRejection) {
    body = {
      errorType: "Runtime.UnhandledPromiseRejection",
      errorMessage: `${body.errorType}: ${body.errorMessage}`,
      trace: body.trace,
    };
  }
  logError(unhandledRejection ? "Unhandled Promise Rejection" : "Uncaught Exception", body);
  if (activeStream !== undefined) {
    await channel.sendAndFlush(FRAME.streamEnd, "", JSON.stringify(body));
  } else if (inFlightRequestId !== undefined) {
    await channel.sendAndFlush(FRAME.error, inFlightRequestId, JSON.stringify(body));
  }
  process.exit(1);
}
process.on("uncaughtException", (error) => dieOf(error, false));
process.on("unhandledRejection", (reason) => dieOf(reason, true));

async function main() {
  let handler;
  try {
    handler = await loadHandler(env.LAMBDA_TASK_ROOT || process.cwd(), env._HANDLER || "");
  } catch (error) {
    await reportInitError(error);
    return;
  }
  channel.send(FRAME.next);
  for (;;) {
    const frame = await channel.receive();
    if (frame.kind !== FRAME.event) {
      process.stderr.write(`Serverful runtime channel: unexpected frame ${frame.kind}\n`);
      process.exit(1);
    }
    const invocation = JSON.parse(frame.header.toString("utf8"));
    const requestId = invocation.requestId;
    currentRequestId = requestId;
    if (invocation.traceId) env._X_AMZN_TRACE_ID = invocation.traceId;
    else delete env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(frame.body.toString("utf8"));
    } catch (error) {
      postError(requestId, new RuntimeError("Runtime.UnmarshalError", `Unable to unmarshal input: ${error.message}`));
      continue;
    }
    const context = makeContext(invocation);
    let result;
    inFlightRequestId = requestId;
    if (handler[STREAMING] === STREAM_RESPONSE) {
      await runStreamingHandler(handler, event, context, requestId);
      inFlightRequestId = undefined;
      continue;
    }
    try {
      result = await runHandler(handler, event, context);
    } catch (error) {
      inFlightRequestId = undefined;
      postError(requestId, error);
      continue;
    }
    inFlightRequestId = undefined;
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (error) {
      postError(requestId, new RuntimeError("Runtime.MarshalError", `Unable to stringify response body: ${error.message}`));
      continue;
    }
    channel.send(FRAME.response, requestId, body);
  }
}

main().catch((error) => {
  process.stderr.write(`Serverful bootstrap failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
