/**
 * The dev dashboard in a real browser (playwright-core driving Debian's Chromium), on the starter
 * under `npm run dev`: the map, the task's log line and its trace, an endpoint called from the API
 * explorer (and a bad argument's 400), a Store's entries, a wrong token, and the page following
 * a saved edit and a startup that throws. `npm run test:browser` (CI installs Chromium first).
 *
 * UPDATE_SCREENSHOTS=1 writes the README's screenshots (docs/images/dev-*.png); otherwise they go
 * to a temporary folder.
 */
/// <reference lib="dom" />
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDevLoop, type DevLoop } from './support/dev-loop.ts';
import { repoRoot } from './support/temp-project.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const API = 'my-app.customer-server.api';
const CLIENT = 'my-app.example-client';
const DB = 'my-app.customer-server.db';
const LOADED = 'Loaded customer: {"id":"1","name":"John Doe"}';
const shots =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? join(repoRoot, 'docs', 'images')
    : mkdtempSync(join(tmpdir(), 'dashboard-shots-'));

const test = suite<{ dev: DevLoop; browser: Browser; page: Page; problems: string[] }>('the dev dashboard in Chromium');

test.before(async (context) => {
  if (!existsSync(CHROMIUM))
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  context.dev = await startDevLoop();
  context.browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context.page = await context.browser.newPage({ viewport: { width: 1280, height: 800 } });
  context.problems = [];
  context.page.on('pageerror', (err) => context.problems.push(err.message));
  await context.dev.until('the task has finished', async () =>
    (await context.dev.overview()).personas.some((p) => p.id === CLIENT && p.state === 'finished'),
  );
});
test.after(async ({ dev, browser }) => {
  await browser?.close();
  await dev?.stop();
});

/** The text of the first match of `selector` ('' when it has none). */
const text = async (page: Page, selector: string) => (await page.textContent(selector)) ?? '';

const dataOf = (page: Page, selector: string, key: string) =>
  page.locator(selector).evaluateAll((nodes, k) => nodes.map((n) => (n as HTMLElement).dataset[k]), key);

test('the map: the three components, their edges, each persona with its state', async ({ dev, page }) => {
  await page.goto(`${dev.base}/?token=${dev.token}#map`);
  await page.waitForSelector('[data-tab="map"] svg');
  // The token leaves the address bar (and the history) at once; a reload still has it.
  assert.not.match(page.url(), 'token');
  await page.reload();
  await page.waitForSelector('[data-tab="map"] svg');
  // Each persona's node coloured by its state (the server's key for the node in the Mermaid text).
  await page.waitForSelector('[data-tab="map"] svg g.node.healthy');
  assert.is(await page.locator('[data-tab="map"] svg g.node.healthy', { hasText: API }).count(), 1);
  assert.is(await page.locator('[data-tab="map"] svg g.node.finished', { hasText: CLIENT }).count(), 1);
  for (const id of [API, CLIENT, DB])
    assert.ok(await page.locator('[data-tab="map"] svg', { hasText: id }).count(), id);
  assert.equal((await dataOf(page, '[data-testid="edges"] li', 'edge')).sort(), [
    `${API} uses ${DB}`,
    `${CLIENT} calls ${API}`,
  ]);
  assert.equal(await dataOf(page, '[data-persona]', 'state'), ['healthy', 'finished']);
  assert.is(await text(page, '[data-testid="app-state"]'), 'running');
  await page.screenshot({ path: join(shots, 'dev-map.png') });
});

test("the logs: the client's line; its trace holds the POST and GET spans with the store spans below", async ({
  page,
}) => {
  await page.click('[data-tab-button="logs"]');
  const line = page.locator('.log-line', { hasText: LOADED });
  await line.first().waitFor();
  assert.match((await line.first().textContent()) ?? '', CLIENT);
  await page.screenshot({ path: join(shots, 'dev-logs.png') });
  await line.first().locator('[data-testid="log-trace"]').click();
  await page.waitForSelector('[data-tab="traces"] .span-row[data-span-name="set my-app.customer-server.db"]');
  const rows = await page
    .locator('.span-row')
    .evaluateAll((nodes) =>
      nodes.map(
        (n) =>
          `${(n as HTMLElement).dataset.depth} ${(n as HTMLElement).dataset.spanKind} ${(n as HTMLElement).dataset.spanName}`,
      ),
    );
  assert.equal(rows, [
    `0 internal deploy ${CLIENT}`,
    '1 client POST /api/customer',
    '2 server POST /api/customer',
    `3 client set ${DB}`,
    '1 client GET /api/customer',
    '2 server GET /api/customer',
    `3 client get ${DB}`,
  ]);
  await page.locator('.span-row[data-span-name="get my-app.customer-server.db"]').click();
  assert.match(await text(page, '[data-testid="span-details"]'), 'db.operation.name');
  await page.screenshot({ path: join(shots, 'dev-trace.png') });
});

test("the API explorer: GET customer 1 answers John Doe; a wrong argument shows the endpoint's 400", async ({
  page,
}) => {
  await page.click('[data-tab-button="api"]');
  await page.click('[data-endpoint="GET /api/customer"]');
  await page.fill('[data-testid="call-arg"]', '"1"');
  await page.click('[data-testid="call-send"]');
  await page.waitForSelector('[data-testid="call-status"]');
  assert.match(await text(page, '[data-testid="call-status"]'), '200');
  assert.equal(JSON.parse(await text(page, '[data-testid="call-result"]')), { id: '1', name: 'John Doe' });
  assert.ok(await page.locator('[data-testid="call-trace"]').count(), 'a link to the call’s trace');
  await page.screenshot({ path: join(shots, 'dev-api.png') });
  await page.fill('[data-testid="call-arg"]', '1');
  await page.click('[data-testid="call-send"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="call-status"]')?.textContent?.includes('400'));
  assert.match(await text(page, '[data-testid="call-result"]'), `Invalid argument to ${API} (GET /api/customer)`);
});

test("the Stores: the customer store's entries", async ({ page }) => {
  await page.click('[data-tab-button="stores"]');
  await page.click(`[data-store="${DB}"]`);
  const entry = page.locator('.store-entry[data-key="1"]');
  await entry.waitFor();
  assert.match((await entry.textContent()) ?? '', 'John Doe');
  await page.screenshot({ path: join(shots, 'dev-stores.png') });
});

test('a wrong token: told to open the printed address, and no data', async ({ dev, browser }) => {
  const other = await browser.newPage();
  const asked: number[] = [];
  other.on('response', (r) => r.url().includes('/api/') && asked.push(r.status()));
  await other.goto(`${dev.base}/?token=not-the-token`);
  await other.waitForSelector('[data-testid="no-access"]');
  assert.match(await text(other, '[data-testid="no-access"]'), 'npm run dev');
  assert.not.match(await text(other, 'body'), 'John Doe');
  assert.ok(asked.length > 0 && asked.every((s) => s === 401), `every API request refused: ${asked}`);
  await other.close();
});

test('a saved edit restarts the app and the page follows; a crash at start shows, and the fix runs again', async ({
  dev,
  page,
  problems,
}) => {
  const main = join(dev.project.starter, 'src', 'main.ts');
  const original = readFileSync(main, 'utf8');
  await page.click('[data-tab-button="logs"]');
  writeFileSync(main, original.replace('Loaded customer: ', 'Loaded the customer: '));
  await page
    .locator('.log-line', { hasText: 'Loaded the customer: {"id":"1","name":"John Doe"}' })
    .first()
    .waitFor({ timeout: 20_000 });
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="app-generation"]')?.textContent?.includes('2'),
  );
  assert.match(await text(page, '[data-testid="app-changed"]'), 'src/main.ts');

  appendFileSync(main, '\nthrow new Error("half-way through an edit");\n');
  await page.waitForSelector('[data-testid="app-error"]', { timeout: 20_000 });
  assert.match(await text(page, '[data-testid="app-error"]'), 'half-way through an edit');
  await page.click('[data-tab-button="map"]');
  await page.waitForFunction(() => document.querySelector('[data-persona]')?.getAttribute('data-state') === 'stopped');
  await page.screenshot({ path: join(shots, 'dev-failed.png') });

  writeFileSync(main, original);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="app-state"]')?.textContent === 'running',
    undefined,
    { timeout: 20_000 },
  );
  await page.waitForSelector('[data-testid="app-error"]', { state: 'detached' });
  assert.equal(problems, [], 'no script errors in the page');
});

test.run();
