/** The Stores' docker volumes, through the docker command line (one call for many volumes). */
import { spawnSync } from 'node:child_process';
import { errors } from '../core/errors.ts';

/** Whether a Docker engine answers. */
export function dockerAvailable(): boolean {
  return spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'ignore' }).status === 0;
}

/** The names of docker's volumes (one call, however many stores ask). */
export function volumeNames(): Set<string> {
  const result = spawnSync('docker', ['volume', 'ls', '-q'], { encoding: 'utf8' });
  return new Set(result.status === 0 ? result.stdout.split('\n').filter(Boolean) : []);
}

/** Removes the docker volume `name`; one that does not exist counts as removed. */
export function removeVolume(name: string): void {
  const result = spawnSync('docker', ['volume', 'rm', name], { encoding: 'utf8' });
  if (result.status !== 0 && !/no such volume/i.test(result.stderr))
    throw errors.pruneFailed(`docker volume ${name}`, result.stderr.trim());
}
