// Drives Debian's headless Chromium (through playwright-core) against a running `podlab ui`.
// Usage: node ui.mjs URL SHOTS_DIR   (KUBECONFIG points at the cluster; kubectl on PATH)
// Prints one JSON report on stdout; tests/webview.rs asserts on it.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { launch } from './launch.mjs';

const [url, shots] = process.argv.slice(2);
const report = { errors: [], marks: {} };
const t0 = Date.now();
const mark = (m) => { report.marks[m] = Date.now() - t0; };
const { ctx, close } = await launch();
const kubectl = (...a) => execFileSync('kubectl', a, { encoding: 'utf8' });
const apply = (obj) => execFileSync('kubectl', ['apply', '-f', '-'], { input: JSON.stringify(obj) });
const podlab = (...a) => execFileSync(process.env.PODLAB_BIN, a, { encoding: 'utf8' });
const cellTexts = (page, sel) => page.$$eval(sel, (rs) => rs.map((r) => [...r.querySelectorAll('td')].map((d) => d.textContent.trim())));
// The graph's pods whose name starts with `prefix`, with the node box each is drawn in.
const drawnIn = (page, prefix) => page.evaluate((p) => window.PodlabGraph.cy.nodes('.pod')
  .filter((n) => n.data('name').startsWith(p)).map((n) => ({ name: n.data('name'), node: n.data('parent') || '' })), prefix);
const rows = (page, kind) => page.$$eval(`#inventory tr[data-kind=${kind}]`, (rs) => rs.map((r) => r.dataset.name));
const graphIds = (page) => page.evaluate(() => window.PodlabGraph.cy.nodes().map((n) => n.id()));

try {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => report.errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('#live:not(.off)', { timeout: 15000 });
  await page.waitForFunction(() => document.querySelectorAll('#inventory tr[data-kind=pod]').length >= 3);
  mark('loaded');
  report.pods = await rows(page, 'pod');
  report.nodes = await rows(page, 'node');
  await page.waitForTimeout(500);
  report.graph = await graphIds(page);
  await page.screenshot({ path: join(shots, 'ui-topology.png') });

  mark('created');
  // A pod created with kubectl appears without a reload; deleted, it disappears.
  await page.evaluate(() => { window.notReloaded = true; });
  let t = Date.now();
  apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ui-new', labels: { app: 'ui' } },
    spec: { containers: [{ name: 'c', image: 'podlab/echo' }] } });
  await page.waitForSelector('#inventory tr[data-kind=pod][data-name=ui-new]', { timeout: 5000 });
  report.appear_ms = Date.now() - t;
  await page.waitForFunction(() => window.PodlabGraph.cy.getElementById('pod:default/ui-new').nonempty());
  t = Date.now();
  kubectl('delete', 'pod', 'ui-new', '--wait=false', '--grace-period=1');
  await page.waitForSelector('#inventory tr[data-kind=pod][data-name=ui-new]', { state: 'detached', timeout: 15000 });
  report.disappear_ms = Date.now() - t;
  await page.waitForFunction(() => window.PodlabGraph.cy.getElementById('pod:default/ui-new').empty());
  report.not_reloaded = await page.evaluate(() => window.notReloaded === true);

  mark('details');
  // Click a pod: its routes with reasons.
  await page.evaluate(() => window.PodlabGraph.cy.getElementById('pod:default/client-a').emit('tap'));
  await page.waitForSelector('#routes td:nth-child(2)');
  report.routes = await page.$$eval('#routes tr', (rs) => rs.map((r) => r.textContent.trim()));
  mark('routes');
  // Its capture button, while client-a asks db over HTTP: the packets are listed.
  const dbIp = kubectl('get', 'pod', 'db', '-o', 'jsonpath={.status.podIP}').trim();
  mark('capture');
  await page.click('#capture');
  mark('clicked');
  await page.waitForSelector('#packets td:has-text("capturing")');
  mark('capturing');
  try { podlab('exec', 'client-a', '--', 'curl', '-s', '-m', '2', `http://${dbIp}:8080/`); } catch (e) { report.curl_error = e.message; }
  mark('curl');
  await page.waitForSelector('#capture:not([disabled])', { timeout: 15000 });
  report.capture = await cellTexts(page, '#packets tr');
  report.db_ip = dbIp;

  mark('scheduler');
  // The scheduler tab: db's per-node filter verdicts and scores; a pod no node can take is
  // listed as Pending with the scheduler's FailedScheduling message.
  await page.click('nav button[data-tab=scheduler]');
  await page.selectOption('#sched-pod', 'default/db');
  await page.waitForSelector('#placement-table tbody tr', { timeout: 10000 });
  report.placement = await page.$$eval('#placement-table tbody tr', (rs) => rs.map((r) => ({ node: r.dataset.node,
    best: r.classList.contains('best'), cells: [...r.querySelectorAll('td')].map((d) => d.textContent.trim()) })));
  report.placement_head = await page.$$eval('#placement-table th', (hs) => hs.map((h) => h.textContent));
  apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ui-pending' },
    spec: { nodeSelector: { gpu: 'true' }, containers: [{ name: 'c', image: 'podlab/echo' }] } });
  await page.waitForSelector('#pending tr[data-pod="default/ui-pending"] td:nth-child(3):not(:empty)', { timeout: 10000 });
  report.pending = (await cellTexts(page, '#pending tr[data-pod="default/ui-pending"]'))[0];
  await page.screenshot({ path: join(shots, 'ui-scheduler.png') });
  const evs = JSON.parse(kubectl('get', 'events', '-o', 'json')).items
    .filter((e) => e.reason === 'FailedScheduling' && e.involvedObject.name === 'ui-pending');
  report.pending_event = evs.length ? evs[evs.length - 1].message : null;
  kubectl('delete', 'pod', 'ui-pending', '--wait=false');

  mark('stepper');
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
  report.back = [];
  for (let i = 1; i < total; i++) {
    await page.click('#back');
    report.back.push(await hop());
  }
  report.why = await page.$eval('#why-verdict', (e) => e.textContent);
  report.why_ok = await page.$eval('#why', (e) => e.dataset.ok);
  mark('broken');
  // A broken path: the page's `why` verdict for a port nothing listens on.
  await page.fill('#port', '9999');
  await page.click('#trace-go');
  await page.waitForFunction(() => document.querySelector('#why').dataset.ok === 'false', null, { timeout: 20000 });
  report.why_closed = await page.$eval('#why-verdict', (e) => e.textContent);

  mark('node down');
  // A Deployment's pod that prefers worker-2 is drawn there.
  apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'mover' }, spec: { replicas: 1,
    selector: { matchLabels: { app: 'mover' } }, template: { metadata: { labels: { app: 'mover' } }, spec: {
      affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100,
        preference: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['worker-2'] }] } }] } },
      containers: [{ name: 'c', image: 'podlab/echo' }] } } } });
  await page.waitForFunction(() => window.PodlabGraph.cy.nodes('.pod').some((n) => n.data('name').startsWith('mover-')
    && n.data('parent') === 'node:worker-2'), null, { timeout: 15000 });
  report.mover_before = await drawnIn(page, 'mover-');
  // A node going down shows at once (its Ready condition, watched: the Node object says
  // Unknown); back up afterwards.
  t = Date.now();
  podlab('node', 'down', 'worker-2');
  await page.waitForSelector('#inventory tr[data-kind=node][data-name=worker-2] td.down', { timeout: 10000 });
  await page.waitForFunction(() => window.PodlabGraph.cy.getElementById('node:worker-2').hasClass('down'));
  report.node_down_ms = Date.now() - t;
  report.node_down_title = await page.$eval('#inventory tr[data-kind=node][data-name=worker-2] td.down', (d) => d.title);
  // Its pod deleted, the replacement is scheduled onto worker-1 and drawn in it.
  const old = report.mover_before[0].name;
  t = Date.now();
  kubectl('delete', 'pod', old, '--wait=false', '--grace-period=1');
  await page.waitForFunction((o) => window.PodlabGraph.cy.nodes('.pod').some((n) => n.data('name').startsWith('mover-')
    && n.data('name') !== o && n.data('parent') === 'node:worker-1'), old, { timeout: 15000 });
  report.moved_ms = Date.now() - t;
  report.mover_after = await drawnIn(page, 'mover-');
  await page.screenshot({ path: join(shots, 'ui-node-down.png') });
  t = Date.now();
  podlab('node', 'up', 'worker-2');
  await page.waitForSelector('#inventory tr[data-kind=node][data-name=worker-2] td:not(.down):last-child', { timeout: 10000 });
  report.node_up_ms = Date.now() - t;
  mark('done');
} catch (e) {
  report.errors.push(String(e && e.stack || e));
} finally {
  await close();
}
console.log(JSON.stringify(report));
