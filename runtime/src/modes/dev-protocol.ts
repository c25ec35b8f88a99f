/**
 * What `npm run dev` (modes/dev/) and the app it runs in one process (modes/in-process/dev-agent.ts)
 * say to each other over the Node IPC channel of the app's process. The app tells what it is (its
 * tree, once started) and what becomes of its personas; the dev loop asks it, for the dashboard,
 * to call an endpoint or to read a page of a Store. Logs travel as JSON lines on standard output
 * and spans over OTLP/HTTP, as they would from a deployed persona, not here.
 */
import type {
  CallRequest,
  CallResult,
  DiagramView,
  EndpointView,
  IndexPage,
  PersonaState,
  StorePage,
  StoreView,
} from './dev-dashboard-api.ts';

/** Set (to `1`) in the environment of the app process `npm run dev` starts, which also has an IPC channel. */
export const DEV_AGENT_ENV = 'INFRA_DEV_AGENT';

/** The app's tree, as the dashboard shows it. */
export interface StartedMessage {
  readonly type: 'started';
  readonly app: string;
  readonly personas: readonly { id: string; kind: string }[];
  readonly diagram: DiagramView;
  readonly mermaid: string;
  readonly endpoints: readonly EndpointView[];
  readonly stores: readonly StoreView[];
}

export interface PersonaMessage {
  readonly type: 'persona';
  readonly id: string;
  readonly state: PersonaState;
  readonly error?: string;
  readonly exitCode?: number;
}

export type DevQuery =
  | { readonly op: 'call'; readonly call: CallRequest }
  | { readonly op: 'entries'; readonly store: string; readonly after?: string; readonly limit: number }
  | {
      readonly op: 'index';
      readonly store: string;
      readonly index: string;
      readonly after?: string;
      readonly limit: number;
    };

export interface DevRequest {
  readonly type: 'request';
  readonly id: number;
  readonly query: DevQuery;
}

/** The answer to request `id`: its value, or (`status` 404 for an unknown store, say) why not. */
export type ReplyMessage =
  | { readonly type: 'reply'; readonly id: number; readonly value: CallResult | StorePage | IndexPage }
  | { readonly type: 'reply'; readonly id: number; readonly status: number; readonly error: string };

export type AgentMessage = StartedMessage | PersonaMessage | ReplyMessage;
