export const fail = async (event) => {
  console.log(`ATTEMPT ${event.time}`);
  throw new Error(`the tick of ${event.time} fails`);
};

export const record = async (record) => {
  console.log(`RECORD ${JSON.stringify(record)}`);
};
