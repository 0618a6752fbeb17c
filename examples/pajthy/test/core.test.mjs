// The planning-poker rules on their own: no AWS, no store, no network. Run with
// `node --test examples/pajthy/test/` (the end-to-end tests do).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as core from "../src/core/session.mjs";
import { hashSecret } from "../src/core/secret.mjs";

const now = "2026-01-01T00:00:00.000Z";
const session = () =>
  core.createSession({ sessionId: "s1", secretHash: hashSecret("sesame"), choices: ["1", "2", "3"], now }).session;
const joined = (s, ...names) =>
  names.reduce((acc, name, index) => core.join(acc, { voterId: `id-${name}`, name, now: `${now}${index}` }).session, s);

test("a new session is closed, with the default choices unless others are given", () => {
  const created = core.createSession({ sessionId: "s", secretHash: "h", now });
  assert.equal(created.ok, true);
  assert.equal(created.session.open, false);
  assert.deepEqual(created.session.choices, core.DEFAULT_CHOICES);
  assert.equal(core.createSession({ sessionId: "s", secretHash: "h", choices: ["1"], now }).status, 400);
  assert.equal(core.createSession({ sessionId: "s", secretHash: "h", choices: ["1", " 1"], now }).status, 400);
});

test("names are unique without regard to case and spaces", () => {
  const s = joined(session(), "Ana");
  assert.deepEqual(core.join(s, { voterId: "x", name: " ana ", now }), {
    ok: false,
    status: 409,
    message: '"ana" is already taken in this session',
  });
  assert.equal(core.join(s, { voterId: "x", name: "  ", now }).status, 400);
});

test("votes count only while the vote is open, and only for voters still in", () => {
  let s = joined(session(), "ana", "bo");
  assert.deepEqual(core.vote(s, { voterId: "id-ana", choice: "2" }), {
    ok: false,
    status: 409,
    message: "the vote is not open",
  });
  s = core.start(s).session;
  assert.equal(core.vote(s, { voterId: "id-ana", choice: "9" }).status, 400);
  s = core.vote(s, { voterId: "id-ana", choice: "2" }).session;
  assert.deepEqual(core.publicView(s).voters, [
    { name: "ana", voted: true },
    { name: "bo", voted: false },
  ]);
  s = core.kick(s, { name: "BO" }).session;
  assert.equal(core.vote(s, { voterId: "id-bo", choice: "1" }).status, 404);
  assert.deepEqual(core.publicView(core.stop(s).session).voters, [{ name: "ana", voted: true, choice: "2" }]);
});

test("start and reset clear the votes; only the secret's hash controls", () => {
  let s = core.start(joined(session(), "ana")).session;
  s = core.vote(s, { voterId: "id-ana", choice: "3" }).session;
  assert.deepEqual(core.publicView(core.reset(s).session).voters, [{ name: "ana", voted: false }]);
  assert.equal(core.publicView(core.start(core.stop(s).session).session).voters[0].voted, false);
  assert.equal(core.isController(s, hashSecret("sesame")), true);
  assert.equal(core.isController(s, hashSecret("guess")), false);
  assert.equal(core.isController(s, hashSecret(undefined)), false);
});
