// Runs the npm package aws-cron-parser over cron expressions for the differential test
// (differential.rs): one expression per line on stdin, one JSON answer per line on stdout,
// {"ok":true,"fires":[[ms,...],...]} with the next fire times after each start instant,
// or {"ok":false,"error":"..."} when it refuses the expression.
const awsCronParser = require("aws-cron-parser");
const starts = JSON.parse(process.argv[1]);
const count = Number(process.argv[2]);
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((line) => line.length > 0);
const answers = lines.map((expression) => {
  const inner = expression.slice("cron(".length, -1);
  try {
    const cron = awsCronParser.parse(inner);
    const fires = starts.map((start) => {
      const times = [];
      let at = new Date(start);
      while (times.length < count) {
        at = awsCronParser.next(cron, at);
        if (!at) break;
        if (Number.isNaN(at.getTime())) throw new Error("an invalid date");
        times.push(at.getTime());
      }
      return times;
    });
    return JSON.stringify({ ok: true, fires });
  } catch (error) {
    return JSON.stringify({ ok: false, error: String(error && error.message) });
  }
});
process.stdout.write(answers.join("\n") + "\n");
