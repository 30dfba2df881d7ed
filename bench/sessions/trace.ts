// Profiling marks for bench/sessions (one-off instrumentation, only loaded by the bench's platform
// process with --trace; nothing here is in the product). Every mark is an absolute time in ms
// (performance.timeOrigin + performance.now(), comparable across the two bench processes).
//
// Ports are wrapped (the database, the model, the stream log); HTTP starts/finishes come from
// node:diagnostics_channel; graphql-ws frames from patching the one `ws` module in the tree.
import diagnostics from 'node:diagnostics_channel';
import { PerformanceObserver } from 'node:perf_hooks';
import type { ChatModel, SqlDatabase, StreamLog } from '@somaagent/ports';
import WebSocket from 'ws';

export type MarkName =
  | 'router.http.start'
  | 'router.http.finish'
  | 'subgraph.http.start'
  | 'subgraph.http.finish'
  | 'db.tx.asked'
  | 'db.tx.begin'
  | 'db.tx.commit'
  | 'model.request'
  | 'model.fetch'
  | 'model.sent'
  | 'model.headers'
  | 'model.firstChunk'
  | 'log.append'
  | 'log.yield'
  | 'subgraph.ws.send'
  | 'router.ws.recv'
  | 'router.ws.send';

export const now = () => performance.timeOrigin + performance.now();

export class Marks {
  readonly all: { name: MarkName; at: number }[] = [];
  /** Every SQL statement run through withScope: when, how long until its result, and its first words. */
  readonly statements: { at: number; ms: number; sql: string }[] = [];
  /** Garbage-collection pauses of the platform process (start, duration). */
  readonly gc: { at: number; ms: number }[] = [];
  ports = { router: -1, sessions: -1 };
  mark(name: MarkName, at = now()) {
    this.all.push({ name, at });
  }
}

const hasToken = (data: unknown) => {
  const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : '';
  return text.includes('"TOKEN"');
};

/** Installs the HTTP and WebSocket probes; ports are filled in once the servers listen. */
export function installProbes(marks: Marks) {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      marks.gc.push({ at: performance.timeOrigin + entry.startTime, ms: entry.duration });
  }).observe({ entryTypes: ['gc'] });
  const portOf = (server: { address(): unknown }) => (server.address() as { port?: number } | null)?.port;
  diagnostics.subscribe('http.server.request.start', (message) => {
    const { request, server } = message as {
      request: { method?: string };
      server: { address(): unknown };
    };
    if (request.method !== 'POST') return;
    const port = portOf(server);
    if (port === marks.ports.router) marks.mark('router.http.start');
    else if (port === marks.ports.sessions) marks.mark('subgraph.http.start');
  });
  diagnostics.subscribe('http.server.response.finish', (message) => {
    const { request, server } = message as {
      request: { method?: string };
      server: { address(): unknown };
    };
    if (request.method !== 'POST') return;
    const port = portOf(server);
    if (port === marks.ports.router) marks.mark('router.http.finish');
    else if (port === marks.ports.sessions) marks.mark('subgraph.http.finish');
  });
  // The model request on the wire and its response headers are marked by the traced fetch
  // (platformProcess.ts), as fromUrl sends it: node:http, not undici.
  type Raw = WebSocket & { _socket?: { localPort?: number; remotePort?: number } };
  const proto = WebSocket.prototype as unknown as {
    send: (this: Raw, data: unknown, ...rest: unknown[]) => void;
    emit: (this: Raw, event: string | symbol, ...args: unknown[]) => boolean;
  };
  const send = proto.send;
  proto.send = function (this: Raw, data: unknown, ...rest: unknown[]) {
    if (hasToken(data)) {
      const local = this._socket?.localPort;
      if (local === marks.ports.sessions) marks.mark('subgraph.ws.send');
      else if (local === marks.ports.router) marks.mark('router.ws.send');
    }
    return send.call(this, data, ...rest);
  };
  const emit = proto.emit;
  proto.emit = function (this: Raw, event: string | symbol, ...args: unknown[]) {
    if (event === 'message' && this._socket?.remotePort === marks.ports.sessions && hasToken(args[0])) {
      marks.mark('router.ws.recv');
    }
    return emit.call(this, event, ...args);
  };
}

export function traceDatabase(db: SqlDatabase, marks: Marks): SqlDatabase {
  return new Proxy(db, {
    get(target, key, receiver) {
      if (key === 'withScope') {
        return async (scope: unknown, fn: (tx: unknown) => Promise<unknown>) => {
          marks.mark('db.tx.asked');
          const result = await (target.withScope as (s: unknown, f: typeof fn) => Promise<unknown>)(
            scope,
            (tx) => {
              marks.mark('db.tx.begin');
              const counted = {
                query: async (sql: string, params?: readonly unknown[], options?: { name?: string }) => {
                  const at = now();
                  const result = await (
                    tx as {
                      query: (s: string, p?: readonly unknown[], o?: { name?: string }) => Promise<unknown>;
                    }
                  ).query(sql, params, options);
                  marks.statements.push({
                    at,
                    ms: now() - at,
                    sql: sql.replace(/\s+/g, ' ').trim().slice(0, 60),
                  });
                  return result;
                },
              };
              return fn(counted);
            },
          );
          marks.mark('db.tx.commit');
          return result;
        };
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export function traceModel(model: ChatModel, marks: Marks): ChatModel {
  return {
    kind: model.kind,
    stream(request) {
      const inner = model.stream(request)[Symbol.asyncIterator]();
      let first = true;
      let sent = false;
      return {
        [Symbol.asyncIterator]: () => ({
          async next() {
            if (!sent) {
              sent = true;
              marks.mark('model.request');
            }
            const r = await inner.next();
            if (first && !r.done && r.value.type === 'delta') {
              first = false;
              marks.mark('model.firstChunk');
            }
            return r;
          },
          return: async (value?: unknown) =>
            inner.return?.(value) ?? { done: true as const, value: undefined },
        }),
      };
    },
    [Symbol.asyncDispose]: () => model[Symbol.asyncDispose](),
  };
}

export function traceStreamLog(log: StreamLog, marks: Marks): StreamLog {
  return new Proxy(log, {
    get(target, key, receiver) {
      if (key === 'append') {
        return async (name: string, payload: { type?: string }, options?: { floor?: number }) => {
          const entry = await target.append(name, payload, options);
          if (payload.type === 'TOKEN') marks.mark('log.append');
          return entry;
        };
      }
      if (key === 'subscribe') {
        return (name: string, after: number, signal?: AbortSignal) => {
          const it = target.subscribe<{ type?: string }>(name, after, signal);
          const wrapped = {
            next: async () => {
              const r = await it.next();
              if (!r.done && r.value.payload.type === 'TOKEN') marks.mark('log.yield');
              return r;
            },
            return: () => it.return?.() ?? Promise.resolve({ done: true as const, value: undefined }),
            [Symbol.asyncIterator]: () => wrapped,
          };
          return wrapped;
        };
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
