const { execFileSync } = require("node:child_process");
const shout = require("shout");

exports.handler = async () => ({
  statusCode: 200,
  body: JSON.stringify({
    shouted: shout("layers"),
    shoutFile: require.resolve("shout"),
    tool: execFileSync("layer-hello", { encoding: "utf8" }).trim(),
    nodePath: process.env.NODE_PATH || "",
  }),
});
