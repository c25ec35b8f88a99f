/**
 * The components `npx plop component` made, created in the order they use each other.
 * main.ts calls createComponents(id`components`) before runPersona(), so `npm start` and
 * `npm run infra:build` include them.
 *
 * Generated from components.json: edits here are lost. To remove a component, delete its
 * two files and its entry in components.json, then run `npx plop registry`.
 */
import type { ID } from 'infra-generator';

/** Each component's interface, by its camelCase name. */
export interface Components {
  // None yet: `npx plop component` adds them.
}

export function createComponents(id: ID): Components {
  return {};
}
