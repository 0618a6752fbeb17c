// Exits the process in the middle of a request when asked to. `instance` tells processes
// apart even where every instance is pid 2 of its own pid namespace (the sandbox).
const instance = require("crypto").randomUUID();
exports.handler = async (event) => {
  if (event.pathParameters.how === "exit") {
    process.exit(3);
  }
  return { statusCode: 200, body: JSON.stringify({ pid: process.pid, instance }) };
};
