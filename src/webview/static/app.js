// podlab ui: the page's state and panels. Pods, nodes and events come from the Kubernetes API
// (list, then watch: the same calls kubectl makes, through `podlab ui`'s read-only proxy);
// kernel views come from /x/* (the daemon's own verbs). The page only reads.
'use strict';

const state = { pods: new Map(), nodes: new Map(), events: new Map(), topo: null, picked: null,
  trace: null, step: 0, live: new Set() };
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const key = (o) => `${o.metadata.namespace || ''}/${o.metadata.name}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getJSON(url) {
  const r = await fetch(url);
  const v = await r.json();
  if (!r.ok) throw new Error(v.error || v.message || r.statusText);
  return v;
}

// List then watch one collection; relist after an error or a closed stream.
async function watch(path, map, name) {
  for (;;) {
    try {
      const list = await getJSON(path);
      map.clear();
      for (const o of list.items) map.set(key(o), o);
      changed();
      const r = await fetch(`${path}?watch=1&allowWatchBookmarks=true&resourceVersion=${list.metadata.resourceVersion}`);
      state.live.add(name); setLive();
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim(); buf = buf.slice(i + 1);
          if (!line) continue;
          const ev = JSON.parse(line);
          if (ev.type === 'ERROR') throw new Error(ev.object && ev.object.message);
          if (ev.type === 'BOOKMARK') continue;
          if (ev.type === 'DELETED') map.delete(key(ev.object)); else map.set(key(ev.object), ev.object);
          changed();
        }
      }
    } catch (e) { console.warn(`watch ${path}:`, e); }
    state.live.delete(name); setLive();
    await sleep(1000);
  }
}

function setLive() {
  const on = state.live.size === 3;
  $('#live').className = `live${on ? '' : ' off'}`;
  $('#live').textContent = on ? 'live' : 'reconnecting…';
}

let topoTimer = null;
function changed() {
  render();
  clearTimeout(topoTimer);
  topoTimer = setTimeout(refreshTopology, 250);
}

async function refreshTopology() {
  try {
    state.topo = await getJSON('/x/topology');
    $('#source').textContent = state.topo.source;
    render();
  } catch (e) { $('#source').textContent = `topology: ${e.message}`; }
}

function render() {
  PodlabGraph.update(PodlabGraph.elements(state.topo, state.pods, state.nodes));
  if (state.trace) PodlabGraph.highlight(state.trace.hops, state.step);
  renderInventory();
  renderEndpoints();
  renderScheduler();
}

function podStatus(p) {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  const cs = (p.status && p.status.containerStatuses) || [];
  const waiting = cs.find((c) => c.state && c.state.waiting);
  return waiting ? waiting.state.waiting.reason : ((p.status && p.status.phase) || 'Pending');
}

function renderInventory() {
  const rows = [];
  for (const n of [...state.nodes.values()]) {
    const ready = PodlabGraph.nodeReady(n);
    const ip = ((n.status && n.status.addresses) || []).find((a) => a.type === 'InternalIP');
    rows.push(`<tr data-kind="node" data-name="${esc(n.metadata.name)}"><td>node</td><td>${esc(n.metadata.name)}</td><td></td>
      <td>${esc(ip && ip.address)}</td><td class="${ready ? '' : 'down'}" title="${esc(PodlabGraph.readyText(n))}">${ready ? 'Ready' : 'NotReady'}</td></tr>`);
  }
  for (const p of [...state.pods.values()]) {
    rows.push(`<tr data-kind="pod" data-name="${esc(p.metadata.name)}" data-namespace="${esc(p.metadata.namespace)}"><td>pod</td>
      <td>${esc(p.metadata.namespace)}/${esc(p.metadata.name)}</td><td>${esc(p.spec.nodeName)}</td>
      <td>${esc(p.status && p.status.podIP)}</td><td>${esc(podStatus(p))}</td></tr>`);
  }
  $('#inventory tbody').innerHTML = rows.join('');
}

function renderEndpoints() {
  const opts = [...state.pods.values()].filter((p) => p.metadata.namespace === 'default').map((p) => p.metadata.name)
    .concat([...state.nodes.keys()].map((k) => `node/${k.slice(1)}`));
  const html = opts.map((o) => `<option value="${esc(o)}">`).join('');
  if ($('#endpoints').innerHTML !== html) $('#endpoints').innerHTML = html;
}

// ---- details of a picked node or pod ----
async function pick(d) {
  if (d.kind === 'fabric') return;
  tab('details');
  const isPod = d.kind === 'pod';
  const target = isPod ? `pod/${d.name}` : `node/${d.name}`;
  const ns = isPod ? d.namespace : 'default';
  state.picked = { target, ns };
  const obj = isPod ? state.pods.get(d.key) : state.nodes.get(`/${d.name}`);
  const labels = Object.entries((obj && obj.metadata.labels) || {}).map(([k, v]) => `${esc(k)}=${esc(v)}`).join('<br>');
  const evs = [...state.events.values()].filter((e) => e.involvedObject && e.involvedObject.name === d.name
    && e.involvedObject.kind === (isPod ? 'Pod' : 'Node'))
    .sort((a, b) => String(a.lastTimestamp || a.eventTime).localeCompare(String(b.lastTimestamp || b.eventTime)))
    .map((e) => `<tr><td>${esc(e.type)}</td><td>${esc(e.reason)}</td><td>${esc(e.message)}</td></tr>`).join('');
  $('#details-hint').hidden = true;
  $('#details').innerHTML = `<h3 id="picked">${esc(isPod ? 'pod ' + d.key : 'node ' + d.name)}</h3>
    <h3>Labels</h3><div class="mono">${labels || '<span class="muted">none</span>'}</div>
    <h3>Routes</h3><table id="routes"><tbody><tr><td class="muted">reading…</td></tr></tbody></table>
    <h3>Neighbours (ARP)</h3><table id="neigh"><tbody><tr><td class="muted">reading…</td></tr></tbody></table>
    <h3>Events</h3><table id="pod-events"><tbody>${evs || '<tr><td class="muted">none</td></tr>'}</tbody></table>
    <h3>Capture</h3><button id="capture">Capture 3 s</button> <span class="muted">podlab's own packet capture (AF_PACKET) in this namespace</span>
    <table id="packets"><tbody></tbody></table>`;
  $('#capture').onclick = () => capture(target, ns);
  const q = `target=${encodeURIComponent(target)}&namespace=${encodeURIComponent(ns)}`;
  getJSON(`/x/routes?${q}`).then((r) => {
    $('#routes tbody').innerHTML = r.routes.map((x) => `<tr><td class="mono">${esc(x.route)}</td><td>${esc(x.why)}</td></tr>`).join('');
  }).catch((e) => { $('#routes tbody').innerHTML = `<tr><td>${esc(e.message)}</td></tr>`; });
  getJSON(`/x/neighbours?${q}`).then((r) => {
    $('#neigh tbody').innerHTML = r.neighbours.map((x) => `<tr><td class="mono">${esc(x.dst)}</td><td class="mono">${esc(x.lladdr || '')}</td>
      <td>${esc(x.dev)}</td><td>${esc((x.state || []).join(' '))}</td></tr>`).join('') || '<tr><td class="muted">empty</td></tr>';
  }).catch((e) => { $('#neigh tbody').innerHTML = `<tr><td>${esc(e.message)}</td></tr>`; });
}

async function capture(target, ns) {
  $('#capture').disabled = true;
  $('#packets tbody').innerHTML = '<tr><td class="muted">capturing…</td></tr>';
  try {
    const r = await getJSON(`/x/capture?target=${encodeURIComponent(target)}&namespace=${encodeURIComponent(ns)}&seconds=3`);
    $('#packets tbody').innerHTML = r.packets.map((p) => `<tr><td class="mono">${esc(p.src_mac)} → ${esc(p.dst_mac)}</td>
      <td class="mono">${esc(p.src)} → ${esc(p.dst)}</td><td>${esc(p.proto)}</td><td>ttl ${esc(p.ttl)}</td></tr>`).join('')
      || `<tr><td class="muted">no packets on ${esc(r.interface)} in ${r.seconds} s</td></tr>`;
  } catch (e) { $('#packets tbody').innerHTML = `<tr><td>${esc(e.message)}</td></tr>`; }
  $('#capture').disabled = false;
}

// ---- the packet stepper ----
async function runTrace(ev) {
  ev.preventDefault();
  const src = $('#src').value.trim();
  const dst = $('#dst').value.trim() + ($('#port').value ? `:${$('#port').value}` : '');
  const q = `src=${encodeURIComponent(src)}&dst=${encodeURIComponent(dst)}`;
  $('#trace-go').disabled = true;
  $('#why').className = 'verdict'; $('#why').textContent = 'asking the kernel…';
  $('#stepper').hidden = true;
  const [t, w] = await Promise.allSettled([getJSON(`/x/trace?${q}`), getJSON(`/x/why?${q}`)]);
  $('#trace-go').disabled = false;
  if (w.status === 'fulfilled') {
    $('#why').className = `verdict ${w.value.ok ? 'ok' : 'bad'}`;
    $('#why').dataset.ok = w.value.ok;
    $('#why').innerHTML = `<b>why:</b> <span id="why-verdict">${w.value.ok ? "" : "FAILS: "}${esc(w.value.verdict)}</span>`
      + (w.value.detail || []).map((x) => `<div class="muted">${esc(x)}</div>`).join('');
  } else { $('#why').className = 'verdict bad'; $('#why').textContent = w.reason.message; }
  if (t.status !== 'fulfilled') { state.trace = null; return; }
  state.trace = t.value;
  state.step = 0;
  $('#trace-verdict').textContent = t.value.trace.verdict || t.value.trace.broken_at || '';
  $('#trace-verdict').className = `verdict ${t.value.trace.complete ? 'ok' : 'bad'}`;
  $('#events').innerHTML = t.value.hops.map((h, i) => `<li data-i="${i}">${esc(h.namespace)} · ${esc(h.interface)} — ${esc(h.action)}</li>`).join('');
  document.querySelectorAll('#events li').forEach((li) => { li.onclick = () => step(Number(li.dataset.i)); });
  $('#stepper').hidden = false;
  step(0);
}

function step(i) {
  const hops = state.trace.hops;
  state.step = Math.max(0, Math.min(hops.length - 1, i));
  const h = hops[state.step];
  const prev = hops.slice(0, state.step).reverse().find((x) => x.frame);
  const f = h.frame;
  const diff = (a, b) => (prev && prev.frame && prev.frame[a] !== f[a] ? ' class="changed"' : '');
  const arp = h.arp ? `${h.arp.dst} lladdr ${h.arp.lladdr} dev ${h.arp.dev} ${(h.arp.state || []).join(' ')}` : '—';
  $('#step-pos').textContent = `hop ${state.step + 1} of ${hops.length}`;
  $('#back').disabled = state.step === 0;
  $('#fwd').disabled = state.step === hops.length - 1;
  document.querySelectorAll('#events li').forEach((li, j) => li.classList.toggle('current', j === state.step));
  const hop = $('#hop');
  hop.dataset.n = h.n;
  hop.dataset.namespace = h.namespace;
  hop.dataset.interface = h.interface;
  hop.dataset.ttl = f ? f.ttl : '';
  hop.dataset.srcMac = f ? f.src_mac : '';
  hop.dataset.dstMac = f ? f.dst_mac : '';
  hop.innerHTML = `<table>
    <tr><td>Namespace</td><td>${esc(h.namespace)}</td></tr>
    <tr><td>Interface</td><td class="mono">${esc(h.interface)}</td></tr>
    <tr><td>What happens</td><td>${esc(h.action)}</td></tr>
    <tr><td>Route chosen</td><td class="mono">${esc(h.route || '—')}</td></tr>
    <tr><td>ARP entry used</td><td class="mono">${esc(arp)}</td></tr>
    ${f ? `<tr><td>Ethernet</td><td class="mono"><span${diff('src_mac')}>${esc(f.src_mac)}</span> → <span${diff('dst_mac')}>${esc(f.dst_mac)}</span></td></tr>
    <tr><td>IP</td><td class="mono"><span${diff('src')}>${esc(f.src)}</span> → <span${diff('dst')}>${esc(f.dst)}</span> ${esc(f.proto)}</td></tr>
    <tr><td>TTL</td><td class="mono"><span${diff('ttl')} id="hop-ttl">${esc(f.ttl)}</span></td></tr>
    <tr><td>Captured</td><td><pre>${esc(f.text)}</pre></td></tr>`
    : `<tr><td>Captured</td><td class="muted">${esc(h.frame_error || 'no frame')}</td></tr>`}
    </table>`;
  PodlabGraph.highlight(hops, state.step);
}

// ---- scheduler ----
let schedKeys = '';
function renderScheduler() {
  const keys = [...state.pods.keys()].sort();
  if (keys.join() !== schedKeys) {
    const cur = $('#sched-pod').value;
    schedKeys = keys.join();
    $('#sched-pod').innerHTML = '<option value="">(pick a pod)</option>' + keys.map((k) => `<option${k === cur ? ' selected' : ''}>${esc(k)}</option>`).join('');
  }
  const rows = [...state.pods.values()].filter((p) => (p.status && p.status.phase) === 'Pending' && !p.spec.nodeName).map((p) => {
    const c = ((p.status && p.status.conditions) || []).find((x) => x.type === 'PodScheduled' && x.status === 'False');
    const ev = [...state.events.values()].filter((e) => e.reason === 'FailedScheduling' && e.involvedObject
      && e.involvedObject.name === p.metadata.name && e.involvedObject.namespace === p.metadata.namespace)
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion)).pop();
    return `<tr data-pod="${esc(key(p))}"><td>${esc(key(p))}</td><td>${esc(ev ? ev.reason : (c ? c.reason : ''))}</td><td>${esc(ev ? ev.message : (c ? c.message : ''))}</td></tr>`;
  });
  $('#pending tbody').innerHTML = rows.join('') || '<tr><td class="muted" colspan="3">none</td></tr>';
}

async function placement() {
  const k = $('#sched-pod').value;
  if (!k) return;
  const [ns, name] = k.split('/');
  $('#placement').innerHTML = '<p class="muted">asking the scheduler…</p>';
  try {
    const r = await getJSON(`/x/placement?pod=${encodeURIComponent(name)}&namespace=${encodeURIComponent(ns)}`);
    $('#placement').innerHTML = placementTable(r.text);
  } catch (e) { $('#placement').textContent = e.message; }
}

// `podlab explain-placement`'s lines as a table: one row per node, its filter verdict (the
// first plugin that filtered it out, and why) or its total and each score plugin's
// normalized score × weight; the chosen node(s) starred. The text itself stays underneath.
function placementTable(text) {
  const nodes = [];
  const plugins = [];
  const notes = [];
  for (const line of text.split('\n').slice(1)) {
    let m = line.match(/^ {2}(\S+)\s+filtered by (\S+): (.*)$/);
    if (m) { nodes.push({ node: m[1], filter: `${m[2]}: ${m[3]}`, scores: {} }); continue; }
    m = line.match(/^([* ]) (\S+)\s+total\s+(-?\d+)\s*(.*)$/);
    if (m) {
      const scores = {};
      for (const part of m[4].split(' ').filter(Boolean)) {
        const [plugin, v] = part.split('=');
        if (!plugins.includes(plugin)) plugins.push(plugin);
        scores[plugin] = v;
      }
      nodes.push({ node: m[2], best: m[1] === '*', total: m[3], filter: 'passed', scores });
      continue;
    }
    if (line.trim()) notes.push(line.trim());
  }
  const head = `<tr><th>NODE</th><th>FILTER</th><th>TOTAL</th>${plugins.map((p) => `<th>${esc(p)}</th>`).join('')}</tr>`;
  const rows = nodes.map((n) => `<tr data-node="${esc(n.node)}" class="${n.best ? 'best' : ''}${n.total === undefined ? ' filtered' : ''}">
    <td>${n.best ? '★ ' : ''}${esc(n.node)}</td><td>${esc(n.filter)}</td><td>${esc(n.total === undefined ? '—' : n.total)}</td>
    ${plugins.map((p) => `<td class="mono">${esc(n.scores[p] || '')}</td>`).join('')}</tr>`).join('');
  return `<table id="placement-table"><thead>${head}</thead><tbody>${rows}</tbody></table>
    ${notes.map((x) => `<p class="note">${esc(x)}</p>`).join('')}
    <details><summary>podlab explain-placement</summary><pre>${esc(text)}</pre></details>`;
}

function tab(name) {
  document.querySelectorAll('nav button').forEach((b) => b.classList.toggle('on', b.dataset.tab === name));
  document.querySelectorAll('.tab').forEach((t) => t.classList.toggle('on', t.id === `tab-${name}`));
}

async function main() {
  document.querySelectorAll('nav button').forEach((b) => { b.onclick = () => tab(b.dataset.tab); });
  $('#trace-form').onsubmit = runTrace;
  $('#back').onclick = () => step(state.step - 1);
  $('#fwd').onclick = () => step(state.step + 1);
  $('#sched-pod').onchange = placement;
  PodlabGraph.init($('#graph'), pick);
  const info = await getJSON('/x/info');
  $('#cluster').textContent = `cluster "${info.cluster}"`;
  document.title = `podlab ui · ${info.cluster}`;
  await refreshTopology();
  watch('/api/v1/nodes', state.nodes, 'nodes');
  watch('/api/v1/pods', state.pods, 'pods');
  watch('/api/v1/events', state.events, 'events');
  setInterval(refreshTopology, 10000);
}
main();
