const express = require("express");
const serverless = require("serverless-http");

const app = express();
app.use(express.json());

app.get("/", (req, res) => res.send("express root"));
app.get("/users/:id", (req, res) => {
  res.set("x-powered-by-test", "express");
  res.cookie("visited", "yes");
  res.json({ id: req.params.id, sort: req.query.sort || null });
});
app.post("/users", (req, res) => res.status(201).json({ created: req.body.name }));

module.exports.handler = serverless(app);
