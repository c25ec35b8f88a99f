/**
 * What more than one target names the same way: the images, the PostgreSQL data folder, and
 * the name shared by the personas that call every API. A target imports these from here, never
 * from another target.
 */
import type { DeploymentPlan } from '../plan/plan.ts';

export const POSTGRES_IMAGE = 'postgres:17-bookworm';
export const POSTGRES_DATA = '/var/lib/postgresql/data';

/**
 * The network (compose) or label and Secret (Kubernetes) that joins the personas that call
 * every API (declared no `uses`) with the APIs that also declared none, and the env file those
 * personas share: one each instead of one per persona and API. An API that declared its `uses`
 * stays off it (it would reach the others through it); the callers of every API join that API's
 * own network instead. The build refuses a component whose files would take these names.
 */
export const EVERY_API = 'every-api';

/** The one image every persona runs. */
export function appImage(plan: DeploymentPlan): string {
  return `${plan.app.root.dnsLabel}-app:latest`;
}
