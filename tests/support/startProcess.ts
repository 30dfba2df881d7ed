import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** A free loopback port (bound, then released) for a child process that needs a fixed one. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface StartedProcess extends AsyncDisposable {
  child: ChildProcess;
  output(): string;
  /** Milliseconds from spawn until `readyLine` appeared. */
  readyAfterMs: number;
}

/**
 * Spawns a real process and waits until it prints `readyLine`; fails with its output if it
 * exits first or does not become ready in `timeoutMs`. Disposal sends SIGTERM, then SIGKILL.
 */
export async function startProcess(
  command: string,
  args: string[],
  {
    env,
    readyLine,
    timeoutMs = 60_000,
    cwd,
  }: { env: NodeJS.ProcessEnv; readyLine: RegExp; timeoutMs?: number; cwd?: string },
): Promise<StartedProcess> {
  const started = Date.now();
  // Its own process group: `npm start` runs sh → tsx → node, and signals must reach all of them.
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const readyAfterMs = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not ready after ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (readyLine.test(output)) {
        clearTimeout(timer);
        resolve(Date.now() - started);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    child,
    output: () => output,
    readyAfterMs,
    async [Symbol.asyncDispose]() {
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          // the group is already gone
        }
      };
      if (child.exitCode !== null) return;
      // Killed by a signal already (a crash test): its 'exit' has fired, so waiting for it would
      // hang; only members of its group may be left.
      if (child.signalCode !== null) return signalGroup('SIGKILL');
      const exited = new Promise((r) => child.once('exit', r));
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      // The leader can exit before its children; make sure nothing of the group outlives us.
      await new Promise((r) => setTimeout(r, 200));
      signalGroup('SIGKILL');
    },
  };
}
