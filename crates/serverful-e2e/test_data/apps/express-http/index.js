// An ordinary Express server: nothing in it knows about Lambda.
const express = require("express");
// Tells servers apart even where each is the same pid of its own pid namespace.
const instance = require("crypto").randomUUID();

const app = express();
app.use(express.json());

app.get("/healthz", (req, res) => res.send("ok"));
app.get("/", (req, res) => res.send("express root"));

app.get("/users/:id", (req, res) => {
  res.set("x-powered-by-test", "express");
  res.cookie("visited", "yes");
  res.json({
    id: req.params.id,
    path: req.path,
    sort: req.query.sort || null,
    cookie: req.headers.cookie || null,
    custom: req.headers["x-custom"] || null,
    forwardedFor: req.headers["x-forwarded-for"] || null,
    forwardedProto: req.headers["x-forwarded-proto"] || null,
    forwardedPort: req.headers["x-forwarded-port"] || null,
    greeting: process.env.GREETING,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    port: process.env.PORT,
    requestContext: JSON.parse(req.headers["x-amzn-request-context"] || "null"),
    lambdaContext: JSON.parse(req.headers["x-amzn-lambda-context"] || "null"),
  });
});

app.post("/users", (req, res) => res.status(201).json({ created: req.body.name }));

// Counts the bytes of a (large) request body as they stream in.
app.post("/upload", (req, res) => {
  let bytes = 0;
  req.on("data", (chunk) => (bytes += chunk.length));
  req.on("end", () => res.json({ bytes }));
});

app.get("/sleep", (req, res) => {
  const ms = Number(req.query.ms || 300);
  setTimeout(() => res.json({ pid: process.pid, instance, slept: ms }), ms);
});

// A response of `mb` megabytes, written in 64 KB chunks.
app.get("/big", (req, res) => {
  const total = Number(req.query.mb || 5) * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = 97 + (i % 26);
  res.set("content-type", "application/octet-stream");
  let sent = 0;
  const write = () => {
    while (sent < total) {
      const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += piece.length;
      if (!res.write(piece)) return res.once("drain", write);
    }
    res.end();
  };
  write();
});

// Events invoked directly (not through API Gateway) arrive here, as with the adapter.
app.post("/events", (req, res) => res.json({ passedThrough: req.body }));

app.get("/crash", (req, res) => {
  console.log("about to crash");
  process.exit(3);
});

// Allocates and touches `mb` megabytes outside the JavaScript heap, past MemorySize if
// asked: the sandbox's memory cgroup kills the server.
const hogged = [];
app.get("/hog", (req, res) => {
  const megabytes = Number(req.query.mb || 1);
  for (let i = 0; i < megabytes; i++) {
    hogged.push(Buffer.alloc(1024 * 1024, 1));
  }
  res.json({ hogged: hogged.length });
});

app.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`listening on ${process.env.PORT}`);
});
