// Logs each event it gets with the time it arrived, for the schedule tests to read.
exports.handler = async (event) => {
  console.log("TICK " + JSON.stringify({ receivedAt: Date.now(), event }));
  return {};
};
