/**
 * The persistent resources of a build (each Store's compose volume and local database),
 * kept in <build>/resources.json so the next build can tell which ones the code no longer
 * names: their data would otherwise linger unnoticed. An orphan stays in the record until
 * `npm run infra:prune` removes it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { DeploymentPlan } from '../plan/plan.ts';
import { localDatabaseName } from './databases.ts';
import { writeFileAtomic } from '../private/atomic-write.ts';

export interface Resource {
  /** The ID of the Store (or Topic) whose data it holds. */
  readonly store: string;
  /** `Store` or `Topic`; absent in records written before topics (all Stores then). */
  readonly kind?: string;
  /** The named volume in compose.yaml (docker prefixes it with the compose project name). */
  readonly volume: string;
  /** The Store's database in the local-processes mode. */
  readonly database: string;
}

export interface ResourceRecord {
  readonly resources: readonly Resource[];
  readonly orphaned: readonly Resource[];
}

export const resourcesPath = (buildDir: string) => join(buildDir, 'resources.json');

/** The resources `plan` uses when built into `buildDir`. */
export function currentResources(plan: DeploymentPlan, buildDir: string): Resource[] {
  return plan.stores.map((s) => ({
    store: s.store.id.value,
    kind: s.store.kind,
    volume: s.volume,
    database: localDatabaseName(s.database, buildDir),
  }));
}

export function readRecord(buildDir: string): ResourceRecord {
  const path = resourcesPath(buildDir);
  if (!existsSync(path)) return { resources: [], orphaned: [] };
  const data = JSON.parse(readFileSync(path, 'utf8')) as Partial<ResourceRecord>;
  return { resources: data.resources ?? [], orphaned: data.orphaned ?? [] };
}

export function writeRecord(buildDir: string, record: ResourceRecord): void {
  writeFileAtomic(resourcesPath(buildDir), JSON.stringify(record, null, 2) + '\n');
}

const key = (r: Resource) => `${r.volume}\n${r.database}`;

/** The record after a build: what the code uses now, and every earlier resource it no longer names. */
export function nextRecord(previous: ResourceRecord, current: readonly Resource[]): ResourceRecord {
  const now = new Set(current.map(key));
  const orphaned = new Map<string, Resource>();
  for (const r of [...previous.orphaned, ...previous.resources]) if (!now.has(key(r))) orphaned.set(key(r), r);
  return { resources: [...current], orphaned: [...orphaned.values()] };
}

/**
 * The compose project name docker gives a project folder (its default: the folder's name,
 * lowercased, without characters compose does not allow), unless COMPOSE_PROJECT_NAME says otherwise.
 */
export function composeProjectName(projectRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.COMPOSE_PROJECT_NAME ||
    basename(projectRoot)
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '')
  );
}
