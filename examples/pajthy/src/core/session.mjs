// The planning-poker rules, as pure functions over a session value: no store, no network,
// no clock and no randomness (ids, hashes and times come in as arguments), so the same
// rules run in a Lambda handler, a test or any other host.
//
// A session is a plain object:
//   { sessionId, secretHash, choices: [string], open: boolean,
//     voters: { [voterId]: { name, choice: string | null, joinedAt } }, createdAt }
// Every change returns { ok: true, session } with a new session value, or
// { ok: false, status, message } with the HTTP status that describes the refusal.

export const DEFAULT_CHOICES = ["0", "1", "2", "3", "5", "8", "13", "21", "?"];
export const MAX_NAME_LENGTH = 40;
export const MAX_VOTERS = 50;

const refuse = (status, message) => ({ ok: false, status, message });
const done = (session) => ({ ok: true, session });

/** A new, closed session. `choices` is what the client asked for (or nothing). */
export function createSession({ sessionId, secretHash, choices, now }) {
  let picked = DEFAULT_CHOICES;
  if (choices !== undefined) {
    if (
      !Array.isArray(choices) ||
      choices.length < 2 ||
      choices.length > 20 ||
      !choices.every((choice) => typeof choice === "string" && choice.trim() !== "" && choice.length <= 10)
    ) {
      return refuse(400, '"choices" must be a list of 2 to 20 non-empty strings of at most 10 characters');
    }
    picked = [...new Set(choices.map((choice) => choice.trim()))];
    if (picked.length !== choices.length) {
      return refuse(400, '"choices" must not repeat a choice');
    }
  }
  return done({ sessionId, secretHash, choices: picked, open: false, voters: {}, createdAt: now });
}

/** Whether `secretHash` (the hash of what the caller presented) is the controller's. */
export function isController(session, secretHash) {
  return typeof secretHash === "string" && secretHash === session.secretHash;
}

const nameKey = (name) => name.trim().toLowerCase();

/** Adds a voter called `name` under the new id `voterId`. */
export function join(session, { voterId, name, now }) {
  if (typeof name !== "string" || name.trim() === "") {
    return refuse(400, '"name" must be a non-empty string');
  }
  const trimmed = name.trim();
  if (trimmed.length > MAX_NAME_LENGTH) {
    return refuse(400, `"name" may have at most ${MAX_NAME_LENGTH} characters`);
  }
  const voters = Object.values(session.voters);
  if (voters.some((voter) => nameKey(voter.name) === nameKey(trimmed))) {
    return refuse(409, `"${trimmed}" is already taken in this session`);
  }
  if (voters.length >= MAX_VOTERS) {
    return refuse(409, `a session has at most ${MAX_VOTERS} voters`);
  }
  return done({
    ...session,
    voters: { ...session.voters, [voterId]: { name: trimmed, choice: null, joinedAt: now } },
  });
}

/** The voter `voterId` picks `choice`; only while the vote is open. */
export function vote(session, { voterId, choice }) {
  const voter = typeof voterId === "string" ? session.voters[voterId] : undefined;
  if (!voter) {
    // Also what a kicked voter gets.
    return refuse(404, "you are not a voter in this session");
  }
  if (!session.open) {
    return refuse(409, "the vote is not open");
  }
  if (!session.choices.includes(choice)) {
    return refuse(400, `"choice" must be one of ${session.choices.join(", ")}`);
  }
  return done({ ...session, voters: { ...session.voters, [voterId]: { ...voter, choice } } });
}

const clearVotes = (voters) =>
  Object.fromEntries(Object.entries(voters).map(([id, voter]) => [id, { ...voter, choice: null }]));

/** Opens a new round: every vote is cleared. */
export function start(session) {
  return done({ ...session, open: true, voters: clearVotes(session.voters) });
}

/** Closes the round: the votes are revealed. */
export function stop(session) {
  return done({ ...session, open: false });
}

/** Closes the round and clears every vote. */
export function reset(session) {
  return done({ ...session, open: false, voters: clearVotes(session.voters) });
}

/** Removes the voter called `name`. */
export function kick(session, { name }) {
  if (typeof name !== "string") {
    return refuse(400, '"name" must be a string');
  }
  const entry = Object.entries(session.voters).find(([, voter]) => nameKey(voter.name) === nameKey(name));
  if (!entry) {
    return refuse(404, `no voter called "${name.trim()}" in this session`);
  }
  const voters = { ...session.voters };
  delete voters[entry[0]];
  return done({ ...session, voters });
}

/**
 * What everyone may see: voter names, whether each has voted, and the choices only once
 * the vote is closed (planning poker reveals them together). Voter ids stay private: they
 * are what a voter votes with.
 */
export function publicView(session) {
  const voters = Object.values(session.voters)
    .sort((a, b) => (a.joinedAt === b.joinedAt ? a.name.localeCompare(b.name) : a.joinedAt < b.joinedAt ? -1 : 1))
    .map((voter) => ({
      name: voter.name,
      voted: voter.choice !== null,
      ...(session.open || voter.choice === null ? {} : { choice: voter.choice }),
    }));
  return { sessionId: session.sessionId, choices: session.choices, open: session.open, voters };
}
