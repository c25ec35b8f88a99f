/**
 * Where the personas' telemetry goes, as the build writes it: every persona named as its
 * telemetry's service in the app's namespace (compose and Kubernetes alike); `--otlp-endpoint`
 * for every persona, with a NetworkPolicy letting the personas (not the databases) reach it;
 * `--with-telemetry-ui`, a dashboard in compose on a network of its own that every persona joins
 * and no database does, its UI on the host's loopback only; and the options' mistakes refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { Ajv } from 'ajv';
import { detectResources, envDetector } from '@opentelemetry/resources';
import { onDeploy, rootId, type ID } from 'infra-generator';
import { resourceAttributesText } from 'infra-generator/internal/plan/plan';
import { checksumState } from 'infra-generator/internal/targets/hand-edits';
import { tempProject, type TempProject } from '../support/temp-project.ts';
import { readEnvFile } from '../support/env-file.ts';
import { buildInto, seedApp, API, CLIENT, DB } from '../support/seed-app.ts';
import { shopApp } from '../support/shop-app.ts';

const composeSchemaPath = join(import.meta.dirname, '..', 'fixtures', 'compose-spec', 'compose-spec.json');

/** The seed app's personas, by compose service. */
const SEED_PERSONAS = { [API]: 'my-app.customer-server.api', [CLIENT]: 'my-app.example-client' };
/** The shop app's (support/shop-app.ts), by compose service, and its one Store's. */
const SHOP_PERSONAS = ['shop--orders', 'shop--catalog', 'shop--catalog--indexer', 'shop--report'];
const SHOP_STORE = 'shop--catalog--stock';

type Service = {
  image: string;
  environment?: Record<string, string>;
  env_file?: string[];
  ports?: string[];
  networks?: string[];
};
type Compose = { services: Record<string, Service>; networks?: Record<string, { internal?: boolean }> };

const composeText = (project: TempProject) => readFileSync(join(project.root, 'compose.yaml'), 'utf8');
const composeOf = (project: TempProject) => YAML.parse(composeText(project)) as Compose;

/** What compose gives `service`: its env files' variables, then its inline ones. */
function composeEnvironment(project: TempProject, service: string): Record<string, string> {
  const s = composeOf(project).services[service];
  const fromFiles = (s.env_file ?? []).map((file) => readEnvFile(join(project.root, file)));
  return Object.assign({}, ...fromFiles, s.environment ?? {});
}

type Obj = { kind: string; metadata: { name: string }; spec?: any; stringData?: Record<string, string> };

function manifests(project: TempProject): Obj[] {
  const folder = join(project.buildDir, 'kubernetes');
  return readdirSync(folder)
    .filter((f) => f !== 'kustomization.yaml')
    .flatMap((f) => YAML.parseAllDocuments(readFileSync(join(folder, f), 'utf8')).map((d) => d.toJSON() as Obj));
}

/** What a workload's pod gets: its Secrets' variables, then its inline ones. */
function podEnvironment(objects: Obj[], workload: string): Record<string, string> {
  const secrets = new Map(objects.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, o.stringData]));
  const w = objects.find((o) => (o.kind === 'Deployment' || o.kind === 'Job') && o.metadata.name === workload);
  assert.ok(w, `a workload ${workload}`);
  const container = w!.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) Object.assign(env, secrets.get(from.secretRef.name));
  for (const e of container.env ?? []) env[e.name] = e.value;
  return env;
}

/** The seed app built into a fresh temporary project with `args`; the build must succeed. */
async function built(args: string[] = [], root: ID = seedApp()): Promise<{ project: TempProject; output: string }> {
  const project = tempProject();
  const { code, output } = await buildInto(root, project, args);
  if (code !== 0) project.remove();
  assert.is(code, 0, output);
  return { project, output };
}

const test = suite('build: telemetry');

test('every persona is its own telemetry service in the app namespace, in compose and in Kubernetes; no Store is', async () => {
  const { project } = await built(['--target', 'kubernetes']);
  try {
    const objects = manifests(project);
    for (const [service, id] of Object.entries(SEED_PERSONAS)) {
      for (const [where, env] of [
        ['compose', composeEnvironment(project, service)],
        ['kubernetes', podEnvironment(objects, service)],
      ] as const) {
        assert.is(env.OTEL_SERVICE_NAME, id, `${where} ${service}`);
        assert.is(env.OTEL_RESOURCE_ATTRIBUTES, 'service.namespace=my-app,infra.app.id=my-app', `${where} ${service}`);
        assert.not.ok('OTEL_EXPORTER_OTLP_ENDPOINT' in env, `${where} ${service}: no receiver unless asked for`);
      }
    }
    // Not secrets: inline in compose.yaml and the pod specs.
    assert.is(composeOf(project).services[API].environment!.OTEL_SERVICE_NAME, SEED_PERSONAS[API]);
    assert.not.ok('OTEL_SERVICE_NAME' in composeEnvironment(project, DB), 'a database is no persona');
  } finally {
    project.remove();
  }
});

test('resource attributes are percent-encoded where the format needs it, and read back as written', async () => {
  const odd = 'shop, 100% = fun; "ünï"\\';
  const text = resourceAttributesText({ 'service.namespace': odd, 'infra.app.id': 'plain.id-1' });
  assert.is(text, 'service.namespace=shop%2C%20100%25%20%3D%20fun%3B%20%22%C3%BCn%C3%AF%22%5C,infra.app.id=plain.id-1');
  // As the OpenTelemetry SDK reads the variable.
  const saved = process.env.OTEL_RESOURCE_ATTRIBUTES;
  process.env.OTEL_RESOURCE_ATTRIBUTES = text;
  try {
    const { attributes } = detectResources({ detectors: [envDetector] });
    assert.is(attributes['service.namespace'], odd);
    assert.is(attributes['infra.app.id'], 'plain.id-1');
  } finally {
    if (saved === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    else process.env.OTEL_RESOURCE_ATTRIBUTES = saved;
  }

  // And in a build, for an app whose root ID needs it.
  const root = rootId('Shop, 100%');
  onDeploy(root`task`, async () => {});
  const { project } = await built([], root);
  try {
    const [service] = Object.keys(composeOf(project).services);
    const env = composeEnvironment(project, service);
    assert.is(env.OTEL_SERVICE_NAME, 'Shop, 100%.task');
    assert.is(env.OTEL_RESOURCE_ATTRIBUTES, 'service.namespace=Shop%2C%20100%25,infra.app.id=Shop%2C%20100%25');
  } finally {
    project.remove();
  }
});

test('--otlp-endpoint: every persona sends there, in compose and Kubernetes; only the personas may reach it', async () => {
  const endpoint = 'http://otel-collector.observability:4318';
  const { project, output } = await built(['--target', 'kubernetes', '--otlp-endpoint', endpoint], shopApp());
  try {
    const objects = manifests(project);
    for (const service of SHOP_PERSONAS) {
      assert.is(composeEnvironment(project, service).OTEL_EXPORTER_OTLP_ENDPOINT, endpoint, `compose ${service}`);
      assert.is(podEnvironment(objects, service).OTEL_EXPORTER_OTLP_ENDPOINT, endpoint, `kubernetes ${service}`);
    }
    assert.not.ok('OTEL_EXPORTER_OTLP_ENDPOINT' in composeEnvironment(project, SHOP_STORE));
    assert.not.ok('telemetry-ui' in composeOf(project).services, 'no dashboard unless asked for');

    // Every persona's pod, and no database's, is selected by a policy letting it out to port 4318.
    const labelsOf = (name: string) =>
      objects.find((o) => o.kind !== 'Service' && o.metadata.name === name && o.spec?.template)!.spec.template.metadata
        .labels as Record<string, string>;
    const exporting = objects.filter(
      (o) => o.kind === 'NetworkPolicy' && o.spec.egress?.some((r: any) => r.ports?.some((p: any) => p.port === 4318)),
    );
    assert.is(exporting.length, 1, 'one policy for every persona');
    const selector = exporting[0].spec.podSelector.matchLabels as Record<string, string>;
    const selects = (name: string) => Object.entries(selector).every(([k, v]) => labelsOf(name)[k] === v);
    for (const service of SHOP_PERSONAS) assert.ok(selects(service), `${service} may reach the collector`);
    assert.not.ok(selects(SHOP_STORE), 'the database may not');
    assert.match(output, 'kubectl apply -k');
  } finally {
    project.remove();
  }
});

test('--with-telemetry-ui: a dashboard sharing an internal network with each persona, none with a database or two personas, its UI on loopback only', async () => {
  const plain = await built([], shopApp());
  const { project, output } = await built(['--with-telemetry-ui'], shopApp());
  try {
    const file = composeOf(project);
    const ui = file.services['telemetry-ui'];
    assert.ok(ui, 'the dashboard service');
    assert.match(ui.image, /^mcr\.microsoft\.com\/dotnet\/aspire-dashboard:9\.\d+$/);
    assert.equal(ui.ports, ['127.0.0.1:18888:18888'], 'the UI on the host loopback only, no OTLP port published');
    assert.equal([...ui.networks!].sort(), ['telemetry', ...SHOP_PERSONAS.map((s) => `telemetry--${s}`)].sort());
    assert.is(ui.environment!.ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL, 'http://0.0.0.0:18890');
    assert.is(ui.environment!.DASHBOARD__OTLP__AUTHMODE, 'Unsecured');
    assert.is(ui.environment!.DASHBOARD__FRONTEND__AUTHMODE, 'BrowserToken', 'its login stays on');
    // The network the UI is published through: no persona on it.
    assert.equal(file.networks!.telemetry, {});
    assert.equal(
      Object.entries(file.services)
        .filter(([, s]) => s.networks?.includes('telemetry'))
        .map(([name]) => name),
      ['telemetry-ui'],
    );

    for (const service of SHOP_PERSONAS) {
      const own = `telemetry--${service}`;
      assert.equal(file.networks![own], { internal: true }, own);
      const members = Object.entries(file.services)
        .filter(([, s]) => s.networks?.includes(own))
        .map(([name]) => name)
        .sort();
      assert.equal(members, [service, 'telemetry-ui'].sort(), `${own}: the persona and the dashboard only`);
      const env = composeEnvironment(project, service);
      assert.is(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://telemetry-ui:18890', service);
      assert.is(env.OTEL_EXPORTER_OTLP_PROTOCOL, 'http/protobuf', service);
    }
    // Apart from their telemetry networks, the services share exactly the networks they shared without the option.
    const sharing = (f: typeof file) =>
      Object.entries(f.services)
        .filter(([name]) => name !== 'telemetry-ui')
        .map(([name, s]) => [name, (s.networks ?? []).filter((n) => !n.startsWith('telemetry')).sort()]);
    assert.equal(sharing(file), sharing(composeOf(plain.project)));
    // The Store stays on its owners' internal network alone.
    assert.equal(file.services[SHOP_STORE].networks, [`${SHOP_STORE}-net`]);
    assert.equal(file.networks![`${SHOP_STORE}-net`], { internal: true });

    const schema = JSON.parse(readFileSync(composeSchemaPath, 'utf8'));
    delete schema.$schema;
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    assert.ok(validate(file), JSON.stringify(validate.errors, null, 2));

    assert.match(output, /^Next: docker compose up --build/m);
    assert.match(output, /Telemetry UI \(traces, metrics\): http:\/\/127\.0\.0\.1:18888, on this machine only/);
    assert.match(output, 'docker compose logs telemetry-ui');

    // The checksum covers the dashboard too: a build without it replaces the file as unedited.
    assert.is(checksumState(readFileSync(join(project.root, 'compose.yaml'))), 'intact');
    const again = await buildInto(shopApp(), project);
    assert.is(again.code, 0, again.output);
    assert.not.ok(again.output.includes('was changed since the build wrote it'), again.output);
    assert.not.ok(existsSync(join(project.buildDir, 'compose.yaml.bak')));
    assert.not.ok('telemetry-ui' in composeOf(project).services, 'the option holds for its build only');
  } finally {
    project.remove();
    plain.project.remove();
  }
});

test('--with-telemetry-ui with --otlp-endpoint: the personas send to the endpoint, and the build says so', async () => {
  const endpoint = 'https://collector.example.com:4318';
  const { project, output } = await built(['--with-telemetry-ui', '--otlp-endpoint', endpoint]);
  try {
    const env = composeEnvironment(project, CLIENT);
    assert.is(env.OTEL_EXPORTER_OTLP_ENDPOINT, endpoint);
    assert.not.ok('OTEL_EXPORTER_OTLP_PROTOCOL' in env, "the receiver's protocol is the SDK's default");
    assert.ok(composeOf(project).services['telemetry-ui']);
    assert.match(output, `Warning: with --otlp-endpoint, the personas send their telemetry to ${endpoint}`);
  } finally {
    project.remove();
  }
});

test('an --otlp-endpoint on the loopback builds, with a warning: in a container it is the persona itself', async () => {
  const { project, output } = await built(['--otlp-endpoint', 'http://localhost:4318']);
  try {
    assert.match(output, /Warning: --otlp-endpoint http:\/\/localhost:4318 names the loopback/);
  } finally {
    project.remove();
  }
});

test('refused with exit 1, naming the option, and nothing written: a bad --otlp-endpoint, --with-telemetry-ui for Kubernetes or over a component of its name', async () => {
  const project = tempProject();
  try {
    for (const [args, message] of [
      [['--otlp-endpoint', 'collector:4318'], /^--otlp-endpoint needs an http:\/\/ or https:\/\/ URL, not collector:/],
      [['--otlp-endpoint', 'not a url'], /^--otlp-endpoint needs an http:\/\/ or https:\/\/ URL \(the OTLP receiver/],
      [
        ['--otlp-endpoint', 'grpc://collector:4317'],
        /^--otlp-endpoint needs an http:\/\/ or https:\/\/ URL, not grpc:/,
      ],
      [['--otlp-endpoint', 'http://me:s3cret@collector:4318'], /^--otlp-endpoint may not hold a user or password/],
      [
        ['--target', 'kubernetes', '--with-telemetry-ui'],
        /^--with-telemetry-ui runs a dashboard in compose only, not with --target kubernetes: use --otlp-endpoint with the cluster's OpenTelemetry collector/,
      ],
    ] as const) {
      const refused = await buildInto(seedApp(), project, [...args]);
      assert.is(refused.code, 1, `${args.join(' ')}: ${refused.output}`);
      assert.match(refused.output, message);
      assert.match(refused.output, /\nUsage: npm run infra:build -- .*\[--otlp-endpoint URL\] \[--with-telemetry-ui\]/);
      assert.not.ok(refused.output.includes('s3cret'), 'the URL given is not repeated');
      assert.not.ok(existsSync(project.buildDir), 'a refused build writes nothing');
    }
    // A component whose compose service would be the dashboard's.
    const named = rootId('telemetry-ui');
    onDeploy(named, async () => {});
    const clash = await buildInto(named, project, ['--with-telemetry-ui']);
    assert.is(clash.code, 1, clash.output);
    assert.match(clash.output, /DeployTask telemetry-ui would be written to the service telemetry-ui of compose\.yaml/);
    assert.not.ok(existsSync(project.buildDir), 'a refused build writes nothing');

    const help = await buildInto(seedApp(), project, ['--help']);
    assert.is(help.code, 0);
    assert.match(help.output, /--otlp-endpoint URL\s+send every persona's traces and metrics/);
    assert.match(help.output, /--with-telemetry-ui\s+compose only: also run a dashboard/);
  } finally {
    project.remove();
  }
});

test.run();
