/**
 * Server processes for the benchmarks: each server runs in its own process, so the client
 * (this process) and the server do not share one event loop, and each can be measured (RSS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const benchDir = import.meta.dirname;
export const repoRoot = join(benchDir, '..');

export { freePort } from '../test/support/free-port.ts';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Resident memory now, in MiB (from /proc). */
  rssMiB(): number;
  /** CPU time (user + system) the process has used so far, in ms (from /proc). */
  cpuMs(): number;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `script` (a .ts file under bench/ or test/) with `env`; resolves once its standard
 * output shows `ready`, or, when its log level leaves that line out (LOG_LEVEL=warn), once it
 * accepts connections on `port`. Standard output goes to a file, as a container's goes to its log
 * driver: no benchmarked process reads a server's access lines.
 */
export async function startServer(
  script: string,
  port: number,
  env: Record<string, string>,
  ready: string,
): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'infra-bench-'));
  const outPath = join(dir, 'stdout');
  const out = openSync(outPath, 'w');
  const child = spawn(process.execPath, ['--conditions=source', script], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, 'pipe'],
  });
  closeSync(out);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let exitedNow = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exitedNow = true;
      rmSync(dir, { recursive: true, force: true });
      resolve();
    }),
  );
  for (const started = Date.now(); ;) {
    const text = readFileSync(outPath, 'utf8');
    if (text.includes(ready) || (env.LOG_LEVEL && env.LOG_LEVEL !== 'info' && (await accepts(port)))) break;
    if (exitedNow || Date.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`${script} ${exitedNow ? 'exited' : 'was not'} ready:\n${text}\n${err}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    rssMiB: () => rssMiB(child.pid!),
    cpuMs: () => cpuMs(child.pid!),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
  return kb / 1024;
}

/** utime + stime of a process, in ms (clock ticks of 10 ms, the Linux default). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
