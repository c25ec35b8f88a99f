/**
 * What `npm run infra:local` passes of its own environment to each persona for logs and
 * telemetry: every OTEL_* variable, LOG_LEVEL and LOG_FORMAT (so that one
 * OTEL_EXPORTER_OTLP_ENDPOINT traces the whole app), the persona's own planned variables
 * winning; readable log lines when the runner writes to a terminal; nothing else of the shell.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { personaProcessEnvironment } from 'infra-generator/internal/modes/local/local';

const test = suite('local processes: logs and telemetry settings');

/** What the plan gives a persona of its own (plan.ts): its name as a service, the app's namespace. */
const own = {
  PERSONA: 'my-app.customer-server.api',
  OTEL_SERVICE_NAME: 'my-app.customer-server.api',
  OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=my-app,infra.app.id=my-app',
};

test("the runner's OTEL_*, LOG_LEVEL and LOG_FORMAT reach the persona; its own service name wins", () => {
  const runner = {
    PATH: '/usr/bin',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.5',
    OTEL_SERVICE_NAME: 'the-whole-shell',
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'json',
    // Not passed: nothing else of the shell, however near the names.
    INFRA_LOCAL_PG_URL: 'postgres://postgres:admin@127.0.0.1:5432/postgres',
    MY_SHELL_SECRET: 'from the shell',
    OTELX_ENDPOINT: 'http://elsewhere',
    LOG_FILE: '/tmp/log',
    PERSONA: 'local',
  };
  assert.equal(personaProcessEnvironment(runner, own), {
    PATH: '/usr/bin',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.5',
    OTEL_SERVICE_NAME: 'my-app.customer-server.api',
    OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=my-app,infra.app.id=my-app',
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'json',
    PERSONA: 'my-app.customer-server.api',
  });
});

test("the runner's resource attributes are kept before the persona's, whose keys win", () => {
  const runner = { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=dev,service.namespace=other' };
  assert.is(
    personaProcessEnvironment(runner, own).OTEL_RESOURCE_ATTRIBUTES,
    'deployment.environment.name=dev,service.namespace=other,service.namespace=my-app,infra.app.id=my-app',
  );
  assert.is(
    personaProcessEnvironment({ OTEL_RESOURCE_ATTRIBUTES: ' ' }, own).OTEL_RESOURCE_ATTRIBUTES,
    own.OTEL_RESOURCE_ATTRIBUTES,
  );
});

test("readable log lines when the runner's stdout is a terminal, unless LOG_FORMAT says otherwise", () => {
  assert.is(personaProcessEnvironment({}, own, { terminal: true }).LOG_FORMAT, 'pretty');
  assert.is(personaProcessEnvironment({ LOG_FORMAT: '' }, own, { terminal: true }).LOG_FORMAT, 'pretty');
  assert.is(personaProcessEnvironment({ LOG_FORMAT: 'json' }, own, { terminal: true }).LOG_FORMAT, 'json');
  // Piped (CI, a test, `| tee`): the persona decides, as anywhere else (JSON, its stdout being a pipe).
  assert.not.ok('LOG_FORMAT' in personaProcessEnvironment({}, own, { terminal: false }));
  assert.not.ok('LOG_FORMAT' in personaProcessEnvironment({}, own));
});

test.run();
