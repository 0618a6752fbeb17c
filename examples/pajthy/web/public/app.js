// pajthy's single-page app: plain JavaScript, no build step, served from a bucket's website
// endpoint. It calls the REST API on the API's own origin (so the browser applies CORS) and
// follows the session over the WebSocket API.
"use strict";

const $ = (id) => document.getElementById(id);

/** Where the APIs are: `config.json`, written beside the page when it is published
 * (`web/publish.sh`): `{"api": "https://…/api", "webSocket": "wss://…/live"}`. */
let urls = null;

const state = { sessionId: null, view: null, socket: null, retry: 0 };
const secretKey = (id) => `pajthy:secret:${id}`;
const voterKey = (id) => `pajthy:voter:${id}`;
const secret = () => sessionStorage.getItem(secretKey(state.sessionId));
const voter = () => JSON.parse(sessionStorage.getItem(voterKey(state.sessionId)) || "null");

function showError(message) {
  $("error").textContent = message || "";
}

async function api(method, path, body, headers = {}) {
  const response = await fetch(`${urls.api}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.message || `HTTP ${response.status}`);
  return answer;
}

const control = (action, body) =>
  api("POST", `/sessions/${state.sessionId}/${action}`, body, { "X-Pajthy-Secret": secret() });

function render() {
  const view = state.view;
  const me = voter();
  const controller = Boolean(secret());
  $("session-id").textContent = state.sessionId;
  $("controls").hidden = !controller;
  $("share").hidden = !controller;
  const link = `${location.origin}${location.pathname}#/s/${state.sessionId}`;
  $("share-link").href = link;
  $("share-link").textContent = link;
  if (!view) return;
  const stillIn = me && view.voters.some((v) => v.name === me.name);
  if (me && !stillIn) {
    sessionStorage.removeItem(voterKey(state.sessionId));
    showError("You were removed from this session.");
  }
  const joined = Boolean(me && stillIn);
  $("join-form").hidden = controller || joined;
  $("voting").hidden = !joined;
  $("status").textContent = view.open ? "Voting is open" : view.voters.some((v) => "choice" in v) ? "Votes revealed" : "Waiting for the vote to start";
  $("status").dataset.open = String(view.open);
  if (joined) {
    $("me").textContent = me.name;
    $("my-vote").textContent = me.choice ?? "none";
    const buttons = $("choice-buttons");
    buttons.replaceChildren(
      ...view.choices.map((choice) => {
        const button = document.createElement("button");
        button.textContent = choice;
        button.className = "choice" + (me.choice === choice ? " picked" : "");
        button.dataset.choice = choice;
        button.disabled = !view.open;
        button.addEventListener("click", () => castVote(choice));
        return button;
      }),
    );
  }
  $("voters").replaceChildren(
    ...view.voters.map((v) => {
      const item = document.createElement("li");
      item.dataset.name = v.name;
      item.dataset.voted = String(v.voted);
      const result = "choice" in v ? `: ${v.choice}` : v.voted ? " — voted" : " — thinking";
      item.textContent = v.name + result;
      if (controller) {
        const kick = document.createElement("button");
        kick.className = "kick";
        kick.textContent = "kick";
        kick.addEventListener("click", () => control("kick", { name: v.name }).catch((e) => showError(e.message)));
        item.append(kick);
      }
      return item;
    }),
  );
}

async function castVote(choice) {
  const me = voter();
  try {
    await api("POST", `/sessions/${state.sessionId}/vote`, { voterId: me.voterId, choice });
    sessionStorage.setItem(voterKey(state.sessionId), JSON.stringify({ ...me, choice }));
    showError("");
  } catch (error) {
    showError(error.message);
  }
  render();
}

function follow(sessionId) {
  if (state.socket) state.socket.close();
  const socket = new WebSocket(urls.webSocket);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.retry = 0;
    $("connection").textContent = "live";
    $("connection").classList.add("live");
    socket.send(JSON.stringify({ action: "subscribe", sessionId }));
  });
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "error") return showError(data.message);
    if (data.session && data.session.sessionId === state.sessionId) {
      // A new round clears my vote.
      const me = voter();
      if (me && data.session.open && state.view && !state.view.open) {
        sessionStorage.setItem(voterKey(sessionId), JSON.stringify({ ...me, choice: null }));
      }
      state.view = data.session;
      render();
    }
  });
  socket.addEventListener("close", () => {
    $("connection").textContent = "offline";
    $("connection").classList.remove("live");
    if (state.socket === socket && state.sessionId === sessionId) {
      // API Gateway closes idle connections after 10 minutes: come back.
      state.retry = Math.min(state.retry + 1, 5);
      setTimeout(() => state.sessionId === sessionId && follow(sessionId), 500 * state.retry);
    }
  });
}

function route() {
  const match = location.hash.match(/^#\/s\/([A-Za-z0-9_-]+)$/);
  showError("");
  if (!match) {
    state.sessionId = null;
    $("home").hidden = false;
    $("session").hidden = true;
    return;
  }
  state.sessionId = match[1];
  state.view = null;
  $("home").hidden = true;
  $("session").hidden = false;
  render();
  follow(state.sessionId);
}

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const choices = $("choices").value.split(",").map((c) => c.trim()).filter(Boolean);
  try {
    const created = await api("POST", "/sessions", { choices });
    sessionStorage.setItem(secretKey(created.sessionId), created.secret);
    location.hash = `#/s/${created.sessionId}`;
  } catch (error) {
    showError(error.message);
  }
});

$("goto-form").addEventListener("submit", (event) => {
  event.preventDefault();
  location.hash = `#/s/${$("goto-session").value.trim()}`;
});

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const joined = await api("POST", `/sessions/${state.sessionId}/join`, { name: $("name").value });
    sessionStorage.setItem(voterKey(state.sessionId), JSON.stringify({ voterId: joined.voterId, name: joined.name, choice: null }));
    state.view = joined.session;
    showError("");
    render();
  } catch (error) {
    showError(error.message);
  }
});

for (const action of ["start", "stop", "reset"]) {
  $(action).addEventListener("click", () => control(action).catch((error) => showError(error.message)));
}

async function start() {
  try {
    const response = await fetch("config.json", { cache: "no-cache" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    urls = await response.json();
  } catch (error) {
    showError(`config.json could not be read (${error.message}): publish the app with web/publish.sh`);
    return;
  }
  window.addEventListener("hashchange", route);
  route();
}
start();
