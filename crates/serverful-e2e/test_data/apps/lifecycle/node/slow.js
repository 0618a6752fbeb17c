// Sleeps for the number of milliseconds in the path, then answers with its process id and
// an id of its own (pids repeat across sandboxes: each instance has its own pid namespace).
const instance = require("crypto").randomUUID();
exports.handler = async (event) => {
  const ms = Number(event.pathParameters.ms);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { statusCode: 200, body: JSON.stringify({ slept: ms, pid: process.pid, instance }) };
};
