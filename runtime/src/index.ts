/**
 * infra-generator: describe a distributed system in one TypeScript program, then run it in
 * one process, as local processes, or in containers whose files the build writes.
 */
export { ID } from './id.ts';
export { App, rootId, appOf } from './app.ts';
export { Component } from './component.ts';
export { Persona, type Lifecycle, type PersonaOptions, type TaskOptions } from './persona-component.ts';
export { assertStartup, assertRuntime, assertBuildTime } from './phases.ts';
export { runPersona, type RunPersonaOptions } from './persona.ts';
export { startInProcess, type InProcessRun } from './testing.ts';
export { InfraError, type Phase } from './errors.ts';
export type { Json } from './json.ts';

export { Store, StoreIndex, type AllKeysOptions, type IndexGetOptions } from './components/store/store.ts';
export type { Indexer, IndexEntryInput, IndexHit } from './components/store/backend.ts';
export { ApiServer, type ApiServerOptions, type EndpointOptions, type CheckedEndpointOptions, type EndpointClient } from './components/api/server.ts';
export type { HttpMethod } from './components/api/endpoint.ts';
export { HttpError } from './components/api/http-error.ts';
export { onDeploy, DeployTask, type DeployFunction } from './components/deploy.ts';
export { Worker, type WorkerFunction } from './components/worker.ts';

export { BuildTimeValue, type BuildTimeValueOptions, type GenerateContext } from './secrets/build-time-value.ts';
export { Secret, Password } from './secrets/secret.ts';
export { Port } from './secrets/port.ts';
