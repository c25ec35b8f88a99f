/**
 * The components `npx plop component` made, created in the order they use each other.
 * main.ts calls createComponents(id`components`, …) before runPersona(), so `npm start` and
 * `npm run infra:build` include them.
 * Its second argument hands them what main.ts makes itself and lets them use
 * (`provided` in components.json).
 *
 * Generated from components.json: edits here are lost. To remove a component, delete its
 * two files and its entry in components.json, then run `npx plop registry`.
 */
import type { ID } from 'infra-generator';
import type { CustomerServer } from '../customer-server.ts';

/** What main.ts gives the generated components to use. */
export interface Provided {
  customerServer: CustomerServer;
}

/** Each component's interface, by its camelCase name. None yet: `npx plop component` adds them. */
export type Components = Record<never, never>;

// An argument no component needs yet is named with a leading underscore, as unused ones are.
export function createComponents(_id: ID, _provided: Provided): Components {
  return {};
}
