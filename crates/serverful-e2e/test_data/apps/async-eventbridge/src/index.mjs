export const work = async (event) => {
  if (event.fail) throw new Error(`asked to fail: ${event.name}`);
  return { worked: event.name };
};

export const record = async (event) => {
  console.log(`RESULT ${JSON.stringify(event)}`);
};
