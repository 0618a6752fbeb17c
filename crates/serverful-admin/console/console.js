// Serverful's web console: one page over the admin API the CLI uses (the same token, sent
// as `Authorization: Bearer`). No framework and no network beyond the server: every
// value from the server is put into the page as text, never as HTML.
"use strict";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const TOKEN_KEY = "serverful-admin-token";

// ---------------------------------------------------------------- DOM and the admin API

// h("a", {href: "#/"}, "Stacks"): an element with attributes, properties (`on*`
// handlers) and children (strings become text nodes).
function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "value") element.value = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

function show(...children) {
  main.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(message, status, kind) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

// Calls the admin API. Actions answer NDJSON events ending in `done` (its `result`) or
// `failed` (its `error`); a refused token answers a JSON error.
async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token() || ""}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    let message = "the admin token is wrong";
    try { message = JSON.parse(text).error || message; } catch (_) { /* keep it */ }
    throw new ApiError(message, 401);
  }
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  let last;
  try {
    last = JSON.parse(lines[lines.length - 1] || "{}");
  } catch (_) {
    throw new ApiError(`the server answered ${response.status}: ${text.slice(0, 300)}`, response.status);
  }
  if (last.event === "done") return last.result;
  if (last.event === "failed") throw new ApiError(last.error.message, response.status, last.error.kind);
  if (!response.ok) throw new ApiError(last.error || `the server answered ${response.status}`, response.status);
  return last;
}

function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, error.message || String(error));
}

// Runs a page; a refused token goes back to the login page.
async function page(render) {
  try {
    await render();
  } catch (error) {
    if (error.status === 401) return login(error.message);
    show(errorBox(error));
  }
}

const when = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "");
const link = (href, text) => h("a", { href }, text);
const enc = encodeURIComponent;

function tableOf(headers, rows, empty) {
  if (rows.length === 0) return h("p", { class: "muted" }, empty || "None.");
  return h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", {}, name)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))))));
}

function pretty(text) {
  if (text === undefined || text === null) return "";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return String(text); }
}

function outcomeTag(outcome) {
  return h("span", { class: outcome === "success" ? "good" : "bad" }, outcome);
}

// ---------------------------------------------------------------- pages

function login(message) {
  nav.hidden = true;
  const input = h("input", { type: "password", id: "token", autocomplete: "current-password", required: true });
  const form = h("form", {
    class: "login",
    onsubmit: async (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      try {
        await api("GET", "/v1/stacks");
        nav.hidden = false;
        if (location.hash === "" || location.hash === "#/login") location.hash = "#/";
        else route();
      } catch (error) {
        login(error.message);
      }
    },
  },
  h("section", {},
    h("h1", {}, "Log in"),
    h("p", { class: "muted" }, "The admin token: `serverful up` and `serve` print where it is kept (DATA/admin-token), or SERVERFUL_ADMIN_TOKEN."),
    message ? h("div", { class: "error", role: "alert", id: "login-error" }, message) : null,
    h("label", {}, "Admin token", input),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit", id: "login-button" }, "Log in"))));
  show(form);
  input.focus();
}

async function stacksPage() {
  const result = await api("GET", "/v1/stacks");
  show(h("h1", {}, "Stacks"), h("section", {}, tableOf(
    ["Stack", "Version", "Deployed", "Status", "Functions", "URLs"],
    result.stacks.map((stack) => [
      link(`#/stack/${enc(stack.name)}`, stack.name),
      String(stack.version),
      stack.deployed_at,
      stack.status,
      String(stack.functions.length),
      h("span", {}, stack.urls.map((url) => h("div", {}, url.url))),
    ]),
    "No stack is deployed. Deploy one with `serverful deploy`.")));
}

async function stackPage(name) {
  const { stack } = await api("GET", `/v1/stacks/${enc(name)}`);
  show(
    h("h1", {}, `Stack ${stack.name}`),
    h("section", {}, h("h2", {}, "Functions"), tableOf(
      ["Function", "Runtime", "Memory", "Timeout", "Triggers"],
      stack.functions.map((fn) => [
        link(`#/function/${enc(stack.name)}/${enc(fn.logical_id)}`, fn.logical_id),
        fn.runtime,
        `${fn.memory_mb} MB`,
        `${fn.timeout_secs} s`,
        h("span", {}, fn.triggers.map((trigger) => h("span", { class: "tag" }, trigger))),
      ]))),
    h("section", {}, h("h2", {}, "Routes"), tableOf(
      ["API", "Method", "Path", "Function"],
      stack.routes.map((route) => [route.api, route.method, route.path,
        route.function ? link(`#/function/${enc(stack.name)}/${enc(route.function)}`, route.function) : h("span", { class: "muted" }, "mock")]))),
    h("section", {}, h("h2", {}, "Tables"), tableOf(["Table"],
      stack.tables.map((table) => [link(`#/table/${enc(table)}`, table)]))),
    h("section", {}, h("h2", {}, "Queues and topics"), tableOf(["Kind", "Name"],
      [...stack.queues.map((queue) => ["queue", link(`#/queue/${enc(queue)}`, queue)]),
        ...stack.topics.map((topic) => ["topic", link(`#/topic/${enc(topic)}`, topic)])])),
    h("section", {}, h("h2", {}, "Deploy history"), tableOf(
      ["Version", "Deployed", "Source", ""],
      stack.history.map((entry) => [String(entry.version), entry.deployed_at, entry.source,
        entry.current ? h("span", { class: "good" }, "serving") : ""]))));
}

function invocationRows(records) {
  return records.map((record) => [
    link(`#/invocation/${enc(record.id)}`, when(record.atMs)),
    record.function,
    record.trigger,
    outcomeTag(record.outcome),
    record.errorType || "",
    record.durationMs === null || record.durationMs === undefined ? "" : `${record.durationMs.toFixed(2)} ms`,
  ]);
}

async function invocationList(query, errorsOnly) {
  const params = new URLSearchParams(query);
  if (errorsOnly) params.set("errors", "true");
  params.set("limit", "50");
  const result = await api("GET", `/v1/invocations?${params}`);
  return tableOf(["Time", "Function", "Trigger", "Outcome", "Error", "Duration"],
    invocationRows(result.records), "No invocation recorded yet.");
}

// The recent invocations of `query` with an "errors only" switch.
function invocationsSection(query) {
  const holder = h("div", { id: "invocations" });
  const errorsOnly = h("input", { type: "checkbox", id: "errors-only" });
  const load = async () => {
    try { holder.replaceChildren(await invocationList(query, errorsOnly.checked)); } catch (error) { holder.replaceChildren(errorBox(error)); }
  };
  errorsOnly.addEventListener("change", load);
  load();
  return h("section", {}, h("h2", {}, "Recent invocations"),
    h("div", { class: "row" }, h("label", { class: "check" }, errorsOnly, " errors only"),
      h("button", { class: "action secondary", type: "button", onclick: load }, "Refresh")),
    holder);
}

let stopTail = () => {};

// Follows a function's log lines, polling the admin API's cursor.
function logTail(stack, fn) {
  const out = h("pre", { id: "log-tail" }, "");
  let cursor = null;
  let stopped = false;
  const poll = async () => {
    if (stopped) return;
    const params = new URLSearchParams({ function: fn, stack, limit: "200" });
    if (cursor) params.set("after", cursor);
    else params.set("since_ms", String(Date.now() - 15 * 60 * 1000));
    try {
      const page = await api("GET", `/v1/logs?${params}`);
      for (const line of page.lines) out.append(`${line.timestamp || when(line.timestamp_ms)} ${line.message || line.text || ""}\n`);
      cursor = page.cursor || cursor;
      out.scrollTop = out.scrollHeight;
    } catch (error) {
      if (!/no log|has not logged|no lines/i.test(error.message)) out.append(`[${error.message}]\n`);
    }
    if (!stopped) setTimeout(poll, 2000);
  };
  poll();
  stopTail = () => { stopped = true; };
  return h("section", {}, h("h2", {}, "Live log"), out);
}

async function functionPage(stack, fn) {
  const { stack: detail } = await api("GET", `/v1/stacks/${enc(stack)}`);
  const info = detail.functions.find((candidate) => candidate.logical_id === fn);
  if (!info) throw new Error(`stack ${stack} has no function ${fn}`);
  show(
    h("h1", {}, `${fn}`),
    h("section", {}, tableOf(["Name", "Runtime", "Handler", "Memory", "Timeout"],
      [[info.name, info.runtime, info.handler, `${info.memory_mb} MB`, `${info.timeout_secs} s`]]),
    h("p", {}, "Triggers: ", info.triggers.length ? info.triggers.map((trigger) => h("span", { class: "tag" }, trigger)) : h("span", { class: "muted" }, "none (invoked by name)"))),
    invocationsSection({ stack, function: fn }),
    logTail(stack, fn));
}

async function allInvocationsPage() {
  show(h("h1", {}, "Invocations"), invocationsSection({}));
}

function payloadBlock(title, payload) {
  if (!payload) return null;
  return h("div", {}, h("h2", {}, title,
    payload.truncated ? h("span", { class: "bad" }, ` (truncated: ${payload.bytes} bytes)`) : ""),
  h("pre", {}, pretty(payload.text)));
}

async function invocationPage(id) {
  const { record } = await api("GET", `/v1/invocations/${enc(id)}`);
  const t = record.timings || {};
  const replayOut = h("div", { id: "replay-result" });
  const replay = async () => {
    replayOut.replaceChildren(h("p", { class: "muted" }, "Replaying…"));
    try {
      const answer = await api("POST", `/v1/invocations/${enc(id)}/replay`);
      const now = answer.replay;
      replayOut.replaceChildren(h("section", {}, h("h2", {}, "Replay"),
        h("div", { class: "cols" },
          h("div", {}, h("h2", {}, "Recorded ", outcomeTag(record.outcome)),
            h("pre", {}, pretty((record.error || record.result || {}).text))),
          h("div", {}, h("h2", {}, "Now ", outcomeTag(now.outcome), ` (deploy ${now.deploy ?? "?"})`),
            h("pre", { id: "replay-payload" }, pretty(now.payload)))),
        now.recordId ? h("p", {}, "Recorded as ", link(`#/invocation/${enc(now.recordId)}`, now.recordId)) : null));
    } catch (error) {
      replayOut.replaceChildren(errorBox(error));
    }
  };
  show(
    h("h1", {}, `Invocation ${record.id}`),
    h("section", {}, tableOf(["Time", "Function", "Trigger", "Outcome", "Version", "Instance"],
      [[when(record.atMs), link(`#/function/${enc(record.stack)}/${enc(record.function)}`, record.function), record.trigger,
        outcomeTag(record.outcome), `deploy ${record.deploy ?? "?"}, ${record.executedVersion || "$LATEST"}`, record.instance || ""]]),
    tableOf(["Init", "Duration", "Billed", "Memory", "Max used"],
      [[t.initMs ? `${t.initMs.toFixed(2)} ms` : "warm", t.durationMs !== undefined && t.durationMs !== null ? `${t.durationMs.toFixed(2)} ms` : "",
        t.billedMs ? `${t.billedMs} ms` : "", t.memoryMb ? `${t.memoryMb} MB` : "", t.maxMemoryUsedMb ? `${t.maxMemoryUsedMb} MB` : ""]]),
    h("div", { class: "row" }, h("button", { class: "primary", id: "replay", type: "button", onclick: replay,
      disabled: record.event && record.event.truncated ? true : undefined }, "Replay against the current version"),
    record.event && record.event.truncated ? h("span", { class: "muted" }, "the event was truncated; it cannot be replayed") : null)),
    replayOut,
    h("section", {}, payloadBlock("Event", record.event), payloadBlock("Result", record.result), payloadBlock("Error", record.error)),
    h("section", {}, h("h2", {}, "Logs"), h("pre", { id: "invocation-logs" }, (record.logs || []).join("\n"))));
}

// ------------------------------------------------------------ the item browser

// A DynamoDB attribute value as short text: `{"S": "x"}` → `x`, maps and lists as JSON.
function attributeText(value) {
  const [type, inner] = Object.entries(value)[0] || ["", ""];
  if (type === "S" || type === "N" || type === "B") return String(inner);
  if (type === "BOOL") return String(inner);
  if (type === "NULL") return "null";
  return JSON.stringify(value);
}

async function tablePage(table) {
  const description = (await api("POST", `/v1/tables/${enc(table)}/DescribeTable`, {})).answer.Table;
  const keys = description.KeySchema.map((key) => key.AttributeName);
  const types = Object.fromEntries(description.AttributeDefinitions.map((d) => [d.AttributeName, d.AttributeType]));
  const [hashKey, rangeKey] = [keys[0], keys[1]];
  const results = h("div", { id: "items" });
  const editor = h("div", { id: "editor" });
  let lastRequest = null;

  const keyValue = (name, text) => ({ [types[name]]: text });
  const render = (answer, operation, request) => {
    const items = answer.Items || [];
    const columns = [...new Set([...keys, ...items.flatMap((item) => Object.keys(item))])];
    const next = answer.LastEvaluatedKey;
    results.replaceChildren(
      h("p", { class: "muted" }, `${operation}: ${items.length} item(s)`),
      tableOf(["", ...columns], items.map((item) => [
        h("button", { class: "action secondary", type: "button", onclick: () => edit(item) }, "Edit"),
        ...columns.map((column) => (item[column] ? attributeText(item[column]) : "")),
      ]), "No items."),
      ...(next ? [h("button", { class: "action secondary", type: "button", onclick: () => run(operation, { ...request, ExclusiveStartKey: next }) }, "Next page")] : []));
  };
  const run = async (operation, request) => {
    lastRequest = [operation, request];
    try {
      render((await api("POST", `/v1/tables/${enc(table)}/${operation}`, request)).answer, operation, request);
    } catch (error) {
      results.replaceChildren(errorBox(error));
    }
  };
  const edit = (item) => {
    const text = h("textarea", { id: "item-json", spellcheck: "false" });
    text.value = JSON.stringify(item, null, 2);
    const status = h("div", {});
    const save = async () => {
      try {
        const parsed = JSON.parse(text.value);
        await api("POST", `/v1/tables/${enc(table)}/PutItem`, { Item: parsed });
        status.replaceChildren(h("div", { class: "notice", id: "item-saved" }, "Saved."));
        if (lastRequest) run(...lastRequest);
      } catch (error) {
        status.replaceChildren(errorBox(error));
      }
    };
    const remove = async () => {
      if (!confirm("Delete this item?")) return;
      try {
        const parsed = JSON.parse(text.value);
        const key = Object.fromEntries(keys.map((name) => [name, parsed[name]]));
        await api("POST", `/v1/tables/${enc(table)}/DeleteItem`, { Key: key });
        status.replaceChildren(h("div", { class: "notice" }, "Deleted."));
        if (lastRequest) run(...lastRequest);
      } catch (error) {
        status.replaceChildren(errorBox(error));
      }
    };
    editor.replaceChildren(h("section", {}, h("h2", {}, "Item (DynamoDB JSON)"), text,
      h("div", { class: "row" },
        h("button", { class: "primary", type: "button", id: "save-item", onclick: save }, "Save (PutItem)"),
        item ? h("button", { class: "danger", type: "button", id: "delete-item", onclick: remove }, "Delete") : null),
      status));
    editor.scrollIntoView();
  };

  const hashInput = h("input", { type: "text", id: "hash-key", placeholder: `${hashKey} (${types[hashKey]})` });
  const rangeOperator = h("select", { id: "range-op" }, ["=", "<", "<=", ">", ">=", "begins_with"].map((op) => h("option", { value: op }, op)));
  const rangeInput = h("input", { type: "text", id: "range-key", placeholder: rangeKey ? `${rangeKey} (${types[rangeKey]})` : "" });
  const filterInput = h("input", { type: "text", id: "scan-filter", placeholder: "FilterExpression, e.g. #s = :v" });
  const valuesInput = h("input", { type: "text", id: "scan-values", placeholder: '{":v": {"S": "open"}}' });
  const namesInput = h("input", { type: "text", id: "scan-names", placeholder: '{"#s": "status"}' });

  const query = (event) => {
    event.preventDefault();
    const request = {
      KeyConditionExpression: "#h = :h",
      ExpressionAttributeNames: { "#h": hashKey },
      ExpressionAttributeValues: { ":h": keyValue(hashKey, hashInput.value) },
    };
    if (rangeKey && rangeInput.value !== "") {
      const op = rangeOperator.value;
      request.KeyConditionExpression += op === "begins_with" ? " AND begins_with(#r, :r)" : ` AND #r ${op} :r`;
      request.ExpressionAttributeNames["#r"] = rangeKey;
      request.ExpressionAttributeValues[":r"] = keyValue(rangeKey, rangeInput.value);
    }
    run("Query", request);
  };
  const scan = (event) => {
    event.preventDefault();
    const request = { Limit: 50 };
    try {
      if (filterInput.value.trim()) request.FilterExpression = filterInput.value.trim();
      if (valuesInput.value.trim()) request.ExpressionAttributeValues = JSON.parse(valuesInput.value);
      if (namesInput.value.trim()) request.ExpressionAttributeNames = JSON.parse(namesInput.value);
    } catch (error) {
      results.replaceChildren(errorBox(new Error(`the attribute values or names are not JSON: ${error.message}`)));
      return;
    }
    run("Scan", request);
  };

  show(
    h("h1", {}, `Table ${table}`),
    h("section", {},
      h("p", { class: "muted" }, `Key: ${keys.map((key) => `${key} (${types[key]})`).join(", ")} · ${description.ItemCount ?? "?"} items`),
      h("form", { class: "inline", id: "query-form", onsubmit: query },
        h("label", {}, `${hashKey} =`, hashInput),
        rangeKey ? h("label", {}, rangeKey, h("span", { class: "row" }, rangeOperator, rangeInput)) : null,
        h("button", { class: "primary", type: "submit", id: "query-button" }, "Query")),
      h("form", { class: "inline", id: "scan-form", onsubmit: scan },
        h("label", {}, "Filter", filterInput), h("label", {}, "Values", valuesInput), h("label", {}, "Names", namesInput),
        h("button", { class: "action", type: "submit", id: "scan-button" }, "Scan")),
      h("div", { class: "row" }, h("button", { class: "action secondary", type: "button", onclick: () => edit(null) }, "New item"))),
    results, editor);
  run("Scan", { Limit: 50 });
}

// ---------------------------------------------------------------- queues and topics

async function queuePage(queue) {
  const list = h("div", { id: "messages" });
  const status = h("div", { id: "queue-status" });
  const peek = async () => {
    try {
      const answer = await api("GET", `/v1/queues/${enc(queue)}/messages?limit=50`);
      list.replaceChildren(tableOf(["Sent", "Message id", "Body", "State", "Receives"],
        answer.messages.map((message) => [when(message.sent_at_ms), h("code", {}, message.message_id),
          h("pre", {}, pretty(message.body)), message.visible ? "visible" : "in flight or delayed", String(message.receive_count)]),
        "The queue is empty."));
    } catch (error) {
      list.replaceChildren(errorBox(error));
    }
  };
  const body = h("textarea", { id: "message-body", spellcheck: "false" });
  body.value = '{"hello": "from the console"}';
  const send = async () => {
    try {
      const answer = await api("POST", `/v1/queues/${enc(queue)}/messages`, body.value);
      status.replaceChildren(h("div", { class: "notice", id: "sent" }, `Sent ${answer.sent}.`));
      peek();
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  const purge = async () => {
    if (!confirm(`Delete every message of ${queue}?`)) return;
    try {
      const answer = await api("POST", `/v1/queues/${enc(queue)}/purge`);
      status.replaceChildren(h("div", { class: "notice" }, `Purged ${answer.purged} message(s).`));
      peek();
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  show(h("h1", {}, `Queue ${queue}`),
    h("section", {}, h("h2", {}, "Messages"), h("p", { class: "muted" }, "A peek reads the messages without receiving them: nothing changes."),
      h("div", { class: "row" }, h("button", { class: "action secondary", type: "button", id: "peek", onclick: peek }, "Peek again"),
        h("button", { class: "danger", type: "button", id: "purge", onclick: purge }, "Purge")), list),
    h("section", {}, h("h2", {}, "Send a message"), body,
      h("div", { class: "row" }, h("button", { class: "primary", type: "button", id: "send", onclick: send }, "Send")), status));
  peek();
}

async function topicPage(topic) {
  const subject = h("input", { type: "text", id: "subject" });
  const body = h("textarea", { id: "topic-message", spellcheck: "false" });
  const status = h("div", {});
  const publish = async () => {
    try {
      const query = subject.value ? `?subject=${enc(subject.value)}` : "";
      const answer = await api("POST", `/v1/topics/${enc(topic)}/publish${query}`, body.value);
      status.replaceChildren(h("div", { class: "notice", id: "published" }, `Published ${answer.sent}.`));
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  show(h("h1", {}, `Topic ${topic}`), h("section", {}, h("h2", {}, "Publish"),
    h("label", {}, "Subject (optional)", subject), body,
    h("div", { class: "row" }, h("button", { class: "primary", type: "button", id: "publish", onclick: publish }, "Publish")), status));
}

// ---------------------------------------------------------------- metrics charts

// Prometheus text: `name{a="b"} value` lines into [{name, labels, value}].
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    // Label values may hold `}` (a route key such as `GET /items/{id}`): quoted strings
    // are skipped whole.
    const match = /^([a-zA-Z_:][\w:]*)(\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[4]) });
  }
  return samples;
}

const CHARTS = [
  { title: "Invocations per second, by function", metric: "serverful_lambda_invocations_total", by: "function", rate: true },
  { title: "Errors per second, by function", metric: "serverful_lambda_errors_total", by: "function", rate: true },
  { title: "Gateway requests per second, by status", metric: "serverful_gateway_requests_total", by: "status", rate: true },
  { title: "DynamoDB operations per second", metric: "serverful_dynamodb_operations_total", by: "operation", rate: true },
  { title: "Concurrent executions", metric: "serverful_lambda_concurrent_executions", by: "function", rate: false },
  { title: "Server memory (MB)", metric: "process_resident_memory_bytes", by: null, rate: false, scale: 1 / (1024 * 1024) },
];
const COLORS = ["#2357c5", "#b3261e", "#1e7d32", "#8e44ad", "#d35400", "#16a085", "#7f8c8d"];
let stopMetrics = () => {};

async function metricsPage() {
  const history = []; // [{at, samples}]
  const grid = h("div", { class: "charts", id: "charts" });
  const status = h("p", { class: "muted", id: "metrics-status" }, "Reading /metrics…");
  show(h("h1", {}, "Metrics"), status, grid);
  let stopped = false;
  stopMetrics = () => { stopped = true; };
  const sample = async () => {
    if (stopped) return;
    try {
      const response = await fetch("/metrics", { headers: { Authorization: `Bearer ${token() || ""}` } });
      const text = await response.text();
      if (!response.ok) throw new Error(`/metrics answered ${response.status}: ${text.slice(0, 200)}`);
      history.push({ at: Date.now(), samples: parseMetrics(text) });
      if (history.length > 60) history.shift();
      status.textContent = `Sampled every 5 s; ${history.length} sample(s). The same numbers Prometheus scrapes.`;
      grid.replaceChildren(...CHARTS.map((chart) => drawChart(chart, history)));
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
    if (!stopped) setTimeout(sample, 5000);
  };
  sample();
}

function drawChart(chart, history) {
  // series key → [value per sample]
  const series = new Map();
  history.forEach((snapshot, index) => {
    const sums = new Map();
    for (const s of snapshot.samples) {
      if (s.name !== chart.metric) continue;
      const key = chart.by ? (s.labels[chart.by] || "") : chart.metric;
      sums.set(key, (sums.get(key) || 0) + s.value);
    }
    for (const [key, value] of sums) {
      if (!series.has(key)) series.set(key, new Array(history.length).fill(null));
      series.get(key)[index] = value * (chart.scale || 1);
    }
  });
  const lines = [...series.entries()].slice(0, COLORS.length).map(([key, values]) => {
    const points = chart.rate
      ? values.map((value, i) => (i === 0 || value === null || values[i - 1] === null ? null
        : Math.max(0, (value - values[i - 1]) / ((history[i].at - history[i - 1].at) / 1000))))
      : values;
    return { key, points };
  });
  const all = lines.flatMap((line) => line.points.filter((p) => p !== null));
  const top = Math.max(1e-9, ...all);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 300 100");
  svg.setAttribute("preserveAspectRatio", "none");
  lines.forEach((line, n) => {
    const coords = line.points.map((p, i) => (p === null ? null : `${(i / Math.max(1, history.length - 1)) * 300},${100 - (p / top) * 95}`)).filter(Boolean);
    const poly = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    poly.setAttribute("points", coords.join(" "));
    poly.setAttribute("stroke", COLORS[n]);
    svg.append(poly);
  });
  const latest = (line) => {
    const values = line.points.filter((p) => p !== null);
    return values.length ? values[values.length - 1] : null;
  };
  return h("section", { class: "chart" }, h("h2", {}, chart.title), svg,
    h("div", { class: "legend" }, lines.length === 0 ? h("span", { class: "muted" }, "no data yet")
      : lines.map((line, n) => h("span", { style: `color:${COLORS[n]}` }, `${line.key || "all"}: ${latest(line) === null ? "…" : Number(latest(line).toFixed(2))}`))),
    h("p", { class: "muted" }, `max ${Number(top.toFixed(2))}`));
}

// ---------------------------------------------------------------- routing

function route() {
  stopTail();
  stopMetrics();
  if (!token()) return login();
  nav.hidden = false;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  switch (parts[0]) {
    case "":
      return page(stacksPage);
    case "stack":
      return page(() => stackPage(parts[1]));
    case "function":
      return page(() => functionPage(parts[1], parts[2]));
    case "invocations":
      return page(allInvocationsPage);
    case "invocation":
      return page(() => invocationPage(parts[1]));
    case "table":
      return page(() => tablePage(parts[1]));
    case "metrics":
      return page(metricsPage);
    case "queue":
      return page(() => queuePage(parts[1]));
    case "topic":
      return page(() => topicPage(parts[1]));
    default:
      show(errorBox(new Error(`no page ${location.hash}`)));
  }
}

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = "#/login";
  login();
});
window.addEventListener("hashchange", route);
route();
