// The hooks half of recordModuleLoads.mjs (runs in Node's loader thread).
import { appendFileSync } from 'node:fs';

let log;
let pid;
export function initialize(data) {
  log = data.log;
  pid = data.pid;
}
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  appendFileSync(log, `${pid} esm ${result.url}\n`);
  return result;
}
