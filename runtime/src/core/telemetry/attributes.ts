/**
 * The attribute and metric names the runtime writes: OpenTelemetry's semantic conventions
 * (the values of @opentelemetry/semantic-conventions' ATTR_* and METRIC_* constants, copied
 * here because loading that package costs every persona's cold start about 8 ms), and ours,
 * under `infra.`.
 */
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_ROUTE = 'http.route';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_URL_FULL = 'url.full';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
export const ATTR_DB_OPERATION_NAME = 'db.operation.name';
export const ATTR_DB_COLLECTION_NAME = 'db.collection.name';
export const ATTR_DB_CONNECTION_STATE = 'db.client.connection.state';
export const ATTR_DB_POOL_NAME = 'db.client.connection.pool.name';
/** `db.system.name` of a PostgreSQL store. */
export const DB_SYSTEM_POSTGRESQL = 'postgresql';
/** `db.system.name` of a store in this process's memory (one-process mode): no database the conventions list. */
export const DB_SYSTEM_MEMORY = 'infra-generator.memory';

export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME = 'messaging.destination.subscription.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
/** `messaging.system` of a Topic on PostgreSQL (pg-boss is the system the conventions would name). */
export const MESSAGING_SYSTEM_PG_BOSS = 'pg-boss';
/** `messaging.system` of a Topic in this process's memory (one-process mode). */
export const MESSAGING_SYSTEM_MEMORY = 'infra-generator.memory';

export const METRIC_HTTP_SERVER_REQUEST_DURATION = 'http.server.request.duration';
export const METRIC_HTTP_CLIENT_REQUEST_DURATION = 'http.client.request.duration';
export const METRIC_DB_CLIENT_OPERATION_DURATION = 'db.client.operation.duration';
/** Incubating in the conventions (no stable constant yet). */
export const METRIC_DB_CLIENT_CONNECTION_COUNT = 'db.client.connection.count';
/** Incubating in the conventions: a publish's duration, and a handler's. */
export const METRIC_MESSAGING_CLIENT_OPERATION_DURATION = 'messaging.client.operation.duration';
export const METRIC_MESSAGING_PROCESS_DURATION = 'messaging.process.duration';

/** The component (Store, ApiServer, deploy task, Worker) a span or metric is about. */
export const ATTR_COMPONENT_ID = 'infra.component.id';
/** The persona whose code made the span (in one process, where every persona shares one service). */
export const ATTR_PERSONA_ID = 'infra.persona.id';
/** Which attempt at a message a handler's span is (1, 2, … up to the subscription's maxAttempts). */
export const ATTR_MESSAGE_ATTEMPT = 'infra.message.attempt';
/** The tick a Cron's run is for (ISO 8601): a late or skipped tick shows against its schedule. */
export const ATTR_CRON_TICK = 'infra.cron.tick';
/** The Index an index lookup's span is about (its store is the component). */
export const ATTR_INDEX_ID = 'infra.index.id';
/** The app's root ID, a resource attribute of every persona. */
export const ATTR_APP_ID = 'infra.app.id';
