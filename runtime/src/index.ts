/**
 * infra-generator: describe a distributed system in one TypeScript program, then run it in
 * one process, as local processes, or in containers whose files the build writes.
 */
export { ID } from './core/id.ts';
export { App, rootId, appOf } from './core/app.ts';
export { Component } from './core/component.ts';
export { Persona, type Lifecycle, type PersonaOptions, type TaskOptions } from './core/persona.ts';
export { assertStartup, assertRuntime, assertBuildTime } from './core/phases.ts';
export { log, type AppLog } from './core/telemetry/log.ts';
export { runPersona, type RunPersonaOptions } from './modes/run-persona.ts';
export { startInProcess, type InProcessRun } from './modes/in-process/testing.ts';
export {
  InfraError,
  errorCodes,
  messageOf,
  type ErrorCode,
  type InfraErrorOptions,
  type Phase,
} from './core/errors.ts';
export type { Json } from './core/json.ts';

export {
  Store,
  StoreIndex,
  type AllKeysOptions,
  type EntriesOptions,
  type IndexGetOptions,
  type IndexOptions,
  type StoreOptions,
} from './components/store/store.ts';
export type { Indexer, IndexEntryInput, IndexHit } from './components/store/backend.ts';
export {
  ApiServer,
  type ApiServerOptions,
  type EndpointOptions,
  type CheckedEndpointOptions,
  type EndpointClient,
} from './components/api/server.ts';
export type { HttpMethod, EndpointContext } from './components/api/endpoint.ts';
export { HttpError } from './components/api/http-error.ts';
export { onDeploy, DeployTask, type DeployFunction } from './components/deploy/deploy.ts';
export { Worker, type WorkerFunction } from './components/worker/worker.ts';
export { Topic, type TopicOptions } from './components/topic/topic.ts';
export {
  Subscription,
  type SubscriptionOptions,
  type MessageHandler,
  type MessageContext,
  type DeadLetter,
} from './components/topic/subscription.ts';
export type { DeliveryOptions, BackoffOptions } from './components/topic/delivery.ts';
export { Cron, type CronOptions, type CronFunction, type CronContext } from './components/cron/cron.ts';

export { BuildTimeValue, type BuildTimeValueOptions, type GenerateContext } from './values/build-time-value.ts';
export { Secret, Password } from './values/secret.ts';
export { Port } from './values/port.ts';
