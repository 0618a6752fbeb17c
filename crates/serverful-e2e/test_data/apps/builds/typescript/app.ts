import { readdirSync } from 'fs';
import isNumber from 'is-number';
import { greeting } from './greeting';

interface HttpEvent {
  pathParameters?: { name?: string };
}

interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export const lambdaHandler = async (event: HttpEvent): Promise<HttpResult> => {
  const name: string = event.pathParameters?.name ?? 'world';
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      message: greeting(name),
      numeric: isNumber(name),
      // What the function was deployed with: the bundle only.
      files: readdirSync(__dirname).sort(),
    }),
  };
};
