// Drives Debian's headless Chromium (through playwright-core) against a running `podlab ui`.
// Usage: node ui.mjs URL SHOTS_DIR   (KUBECONFIG points at the cluster; kubectl on PATH)
// Prints one JSON report on stdout; tests/webview.rs asserts on it.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, shots] = process.argv.slice(2);
const report = { errors: [], marks: {} };
const t0 = Date.now();
const mark = (m) => { report.marks[m] = Date.now() - t0; };
const profile = mkdtempSync(join(tmpdir(), 'podlab-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const kubectl = (...a) => execFileSync('kubectl', a, { encoding: 'utf8' });
const rows = (page, kind) => page.$$eval(`#inventory tr[data-kind=${kind}]`, (rs) => rs.map((r) => r.dataset.name));
const graphIds = (page) => page.evaluate(() => window.PodlabGraph.cy.nodes().map((n) => n.id()));

try {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => report.errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('#live:not(.off)', { timeout: 15000 });
  await page.waitForFunction(() => document.querySelectorAll('#inventory tr[data-kind=pod]').length >= 3);
    mark('report.pods = await ');
report.pods = await rows(page, 'pod');
  report.nodes = await rows(page, 'node');
  await page.waitForTimeout(500);
  report.graph = await graphIds(page);
  await page.screenshot({ path: join(shots, 'ui-topology.png') });

  mark('// A pod created wit');
  // A pod created with kubectl appears without a reload; deleted, it disappears.
  await page.evaluate(() => { window.notReloaded = true; });
  const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ui-new', labels: { app: 'ui' } },
    spec: { containers: [{ name: 'c', image: 'podlab/echo' }] } });
  let t = Date.now();
  execFileSync('kubectl', ['apply', '-f', '-'], { input: manifest });
  await page.waitForSelector('#inventory tr[data-kind=pod][data-name=ui-new]', { timeout: 5000 });
  report.appear_ms = Date.now() - t;
  await page.waitForFunction(() => window.PodlabGraph.cy.getElementById('pod:default/ui-new').nonempty());
  t = Date.now();
  kubectl('delete', 'pod', 'ui-new', '--wait=false', '--grace-period=1');
  await page.waitForSelector('#inventory tr[data-kind=pod][data-name=ui-new]', { state: 'detached', timeout: 15000 });
  report.disappear_ms = Date.now() - t;
  await page.waitForFunction(() => window.PodlabGraph.cy.getElementById('pod:default/ui-new').empty());
  report.not_reloaded = await page.evaluate(() => window.notReloaded === true);

  mark('// Click a pod');
  // Click a pod: its routes with reasons.
  await page.evaluate(() => window.PodlabGraph.cy.getElementById('pod:default/client-a').emit('tap'));
  await page.waitForSelector('#routes td:nth-child(2)');
  report.routes = await page.$$eval('#routes tr', (rs) => rs.map((r) => r.textContent.trim()));

  mark('// Step a packet');
  // Step a packet: client-a → db:8080, forward to the end, then back to the start.
  await page.click('nav button[data-tab=stepper]');
  await page.fill('#src', 'client-a');
  await page.fill('#dst', 'db');
  await page.fill('#port', '8080');
  await page.click('#trace-go');
  await page.waitForSelector('#stepper:not([hidden])', { timeout: 20000 });
  const hop = () => page.$eval('#hop', (h) => ({ ...h.dataset, ip: (h.querySelector('tr:nth-child(7) td:last-child') || {}).textContent }));
  report.forward = [await hop()];
  const total = await page.$$eval('#events li', (l) => l.length);
  for (let i = 1; i < total; i++) {
    await page.click('#fwd');
    report.forward.push(await hop());
    if (i === 4) await page.screenshot({ path: join(shots, 'ui-stepper.png') });
  }
  mark('report.back = [];');
  report.back = [];
  for (let i = 1; i < total; i++) {
    await page.click('#back');
    report.back.push(await hop());
  }
  report.why = await page.$eval('#why-verdict', (e) => e.textContent);
  report.why_ok = await page.$eval('#why', (e) => e.dataset.ok);
  mark('// A broken path');
  // A broken path: the page's `why` verdict for a port nothing listens on.
  await page.fill('#port', '9999');
  await page.click('#trace-go');
  await page.waitForFunction(() => document.querySelector('#why').dataset.ok === 'false', null, { timeout: 20000 });
  report.why_closed = await page.$eval('#why-verdict', (e) => e.textContent);

  mark('// A node going down');
  // A node going down shows at once (its Ready condition, watched); back up afterwards.
  const podlab = (...a) => execFileSync(process.env.PODLAB_BIN, a, { encoding: 'utf8' });
  t = Date.now();
  podlab('node', 'down', 'worker-2');
  await page.waitForSelector('#inventory tr[data-kind=node][data-name=worker-2] td.down', { timeout: 10000 });
  await page.waitForFunction(() => window.PodlabGraph.cy.getElementById('node:worker-2').hasClass('down'));
  report.node_down_ms = Date.now() - t;
  podlab('node', 'up', 'worker-2');
} catch (e) {
  report.errors.push(String(e && e.stack || e));
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
