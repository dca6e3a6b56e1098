// podlab ui: the topology drawn with cytoscape.js (vendored, MIT). The elements are computed
// from the kernel's topology (/x/topology) merged with the pods and nodes the Kubernetes API
// watch reports (so a new pod shows at once, before the kernel view is re-read). Layout: the
// structure is known, so positions are computed (cytoscape's "preset" layout), not searched for:
// the fabric on top, the nodes as a grid of compound boxes (each holding its uplink, its bridge
// and its pods in a grid of their own), unscheduled pods in a row underneath. Deterministic:
// the same cluster is drawn the same way every time, and no two node boxes overlap.
'use strict';

const PodlabGraph = (() => {
  let cy = null;
  let onPick = () => {};

  // A box around a node's label (cytoscape's 'label' sizing is deprecated).
  const labelSize = (n) => {
    const lines = String(n.data('label') || '').split('\n');
    return { w: Math.max(...lines.map((l) => l.length)) * 5.4 + 6, h: lines.length * 11 + 4 };
  };
  const style = [
    { selector: 'node', style: { 'label': 'data(label)', 'text-wrap': 'wrap', 'font-size': 9,
      'text-valign': 'center', 'text-halign': 'center', 'background-color': '#e7f5ff',
      'border-width': 1, 'border-color': '#4dabf7', 'shape': 'round-rectangle',
      'width': (n) => labelSize(n).w, 'height': (n) => labelSize(n).h, 'padding': 5 } },
    { selector: 'node.fabric', style: { 'background-color': '#fff4e6', 'border-color': '#f08c00', 'font-size': 11 } },
    { selector: 'node.k8snode', style: { 'background-color': '#f8f9fa', 'border-color': '#868e96',
      'text-valign': 'top', 'font-size': 11, 'font-weight': 'bold', 'padding': 10 } },
    { selector: 'node.k8snode.down', style: { 'border-color': '#c92a2a', 'border-style': 'dashed', 'border-width': 3,
      'background-color': '#fff5f5', 'color': '#c92a2a' } },
    { selector: 'node.uplink', style: { 'background-color': '#f3f0ff', 'border-color': '#7950f2' } },
    { selector: 'node.bridge', style: { 'background-color': '#fff9db', 'border-color': '#fab005' } },
    { selector: 'node.pod', style: { 'background-color': '#ebfbee', 'border-color': '#2f9e44' } },
    { selector: 'node.pod.pending', style: { 'background-color': '#f8f9fa', 'border-style': 'dashed', 'border-color': '#adb5bd' } },
    { selector: 'edge', style: { 'width': 1.5, 'line-color': '#adb5bd', 'label': 'data(label)',
      'font-size': 7, 'text-rotation': 'autorotate', 'color': '#495057', 'curve-style': 'bezier',
      'text-background-color': '#fff', 'text-background-opacity': 0.8, 'min-zoomed-font-size': 7 } },
    // Fabric links run under the node boxes they cross (each box hides what is behind it).
    { selector: 'edge.fabric-link', style: { 'z-compound-depth': 'bottom', 'line-color': '#ced4da' } },
    { selector: 'node.path', style: { 'border-color': '#f03e3e', 'border-width': 3 } },
    { selector: 'edge.path', style: { 'line-color': '#f03e3e', 'width': 4 } },
    { selector: 'node.current', style: { 'background-color': '#ffe066', 'border-color': '#f59f00', 'border-width': 4 } },
    { selector: 'edge.current', style: { 'line-color': '#f59f00', 'width': 6 } },
    { selector: ':selected', style: { 'border-color': '#1c7ed6', 'border-width': 3 } },
  ];

  function init(container, pick) {
    onPick = pick;
    cy = cytoscape({ container, style, elements: [], minZoom: 0.1, maxZoom: 3 });
    cy.on('tap', 'node', (e) => onPick(e.target.data()));
    return cy;
  }

  const addrs = (i) => (i && i.addresses && i.addresses.length ? i.addresses.join(' ') : '');

  // Desired elements from the kernel topology `topo` and the API's `pods`, `nodes` (maps by key).
  // A node is NotReady when its Ready condition (watched) is not True.
  function elements(topo, pods, apiNodes) {
    const els = [];
    const nodes = new Map([...apiNodes.values()].map((n) => [n.metadata.name, n]));
    const fab = topo ? topo.fabric : { bridge: 'podlab0', addresses: [], ports: [] };
    els.push({ data: { id: 'fabric', kind: 'fabric', label: `fabric ${fab.bridge}\n${fab.addresses.join(' ')}` }, classes: 'fabric' });
    const kernelNodes = new Map((topo ? topo.nodes : []).map((n) => [n.name, n]));
    const names = new Set([...kernelNodes.keys(), ...nodes.keys()]);
    const kernelPods = new Map();
    for (const n of kernelNodes.values()) for (const p of n.pods) kernelPods.set(`${p.namespace}/${p.name}`, { p, node: n.name });
    for (const name of [...names].sort()) {
      const kn = kernelNodes.get(name);
      const an = nodes.get(name);
      const ready = an ? nodeReady(an) : true;
      const port = fab.ports.find((p) => p.node === name);
      els.push({ data: { id: `node:${name}`, kind: 'node', name, label: `${name}${ready ? '' : '  NotReady'}${kn ? '  ' + kn.pod_cidr : ''}` },
        classes: `k8snode${ready ? '' : ' down'}` });
      els.push({ data: { id: `up:${name}`, parent: `node:${name}`, kind: 'node', name,
        label: `${kn && kn.eth0 ? kn.eth0.name : 'eth0'} ${addrs(kn && kn.eth0)}` }, classes: 'uplink' });
      els.push({ data: { id: `e-fab:${name}`, source: 'fabric', target: `up:${name}`,
        label: `${port ? port.name : (kn ? kn.uplink : '')} ⇄ ${kn && kn.eth0 ? kn.eth0.name : 'eth0'}` }, classes: 'fabric-link' });
      if (kn && kn.bridge) {
        els.push({ data: { id: `br:${name}`, parent: `node:${name}`, kind: 'node', name,
          label: `${kn.bridge.name} ${addrs(kn.bridge)}` }, classes: 'bridge' });
        els.push({ data: { id: `e-route:${name}`, source: `up:${name}`, target: `br:${name}`, label: 'routed' } });
      }
    }
    for (const [key, ap] of pods) {
      const kp = kernelPods.get(key);
      const node = (ap.spec && ap.spec.nodeName) || (kp && kp.node);
      const phase = (ap.status && ap.status.phase) || 'Pending';
      const p = kp ? kp.p : null;
      const ip = (p && p.ip) || (ap.status && ap.status.podIP) || '';
      const ctrs = (p ? p.containers : (ap.spec.containers || []).map((c) => ({ name: c.name,
        ports: (c.ports || []).map((x) => `${x.containerPort}/${x.protocol || 'TCP'}`) })))
        .map((c) => `${c.name}${c.ports.length ? ' :' + c.ports.join(',') : ''}`).join('\n');
      const pending = !p || !p.ip;
      const el = { data: { id: `pod:${key}`, kind: 'pod', key, name: ap.metadata.name, namespace: ap.metadata.namespace,
        label: `${ap.metadata.name}\n${ip || phase}\n${ctrs}` }, classes: `pod${pending ? ' pending' : ''}` };
      if (node && names.has(node)) el.data.parent = `node:${node}`;
      els.push(el);
      if (node && kernelNodes.get(node) && kernelNodes.get(node).bridge && p && p.host_veth) {
        els.push({ data: { id: `e-veth:${key}`, source: `br:${node}`, target: `pod:${key}`,
          label: `${p.host_veth.name} ⇄ ${p.eth0 ? p.eth0.name : 'eth0'}` } });
      }
    }
    return els;
  }

  const readyCondition = (n) => ((n.status && n.status.conditions) || []).find((x) => x.type === 'Ready');
  function nodeReady(n) {
    const c = readyCondition(n);
    return !c || c.status === 'True';
  }
  // "Ready=Unknown NodeStatusUnknown: Kubelet stopped posting node status."
  function readyText(n) {
    const c = readyCondition(n);
    return c ? `Ready=${c.status} ${c.reason || ''}: ${c.message || ''}` : '';
  }

  // Brings the graph to `els`: adds, removes and relabels; lays out again when anything changed.
  function update(els) {
    let changed = false;
    let relabeled = false;
    const want = new Set(els.map((e) => e.data.id));
    cy.batch(() => {
      cy.elements().forEach((e) => { if (!want.has(e.id())) { cy.remove(e); changed = true; } });
      for (const e of els.filter((x) => !x.data.source).concat(els.filter((x) => x.data.source))) {
        const cur = cy.getElementById(e.data.id);
        if (cur.empty()) { cy.add(e); changed = true; continue; }
        if (!e.data.source && (cur.data('parent') || undefined) !== e.data.parent) {
          cur.move({ parent: e.data.parent || null }); changed = true;
        }
        if (cur.data('label') !== e.data.label) relabeled = true;
        cur.data(e.data);
        const keep = ['path', 'current'].filter((c) => cur.hasClass(c));
        cur.classes(`${e.classes || ''} ${keep.join(' ')}`);
      }
    });
    // Boxes are sized by their labels: a new label (an IP, NotReady) places them again, in
    // place; a new element also fits the drawing to the view.
    if (changed || relabeled) layout(changed);
  }

  // Spacing of the structured layout, in model pixels.
  const GAP = 14; // between pods in a node
  const LINK = 34; // vertical room for an edge and its label (uplink → bridge)
  const VETH = 64; // room for the veth links fanning out from the bridge to the pods
  const PAD = 10; // a node box's padding (style 'padding' of node.k8snode)
  const COL_GAP = 40; // between node boxes side by side
  const ROW_GAP = 56; // between rows of node boxes (their title sits above each box)
  const TITLE = 18; // height of a node box's title

  // The positions of one node's children, relative to the box's top-left content corner, and
  // the content's size.
  function placeNode(box) {
    const kids = box.children();
    const up = kids.filter('.uplink');
    const br = kids.filter('.bridge');
    const pods = kids.filter('.pod').sort((a, b) => a.id().localeCompare(b.id()));
    const size = (n) => ({ w: n.outerWidth(), h: n.outerHeight() });
    const cellW = Math.max(0, ...pods.map((p) => size(p).w)) + GAP;
    const cellH = Math.max(0, ...pods.map((p) => size(p).h)) + GAP;
    const cols = Math.max(1, Math.min(pods.length, Math.ceil(Math.sqrt(pods.length * 1.6))));
    const titleW = String(box.data('label') || '').length * 6.8;
    const w = Math.max(titleW - 2 * PAD, ...up.map((n) => size(n).w), ...br.map((n) => size(n).w),
      pods.length ? cols * cellW - GAP : 0);
    const pos = {};
    let y = 0;
    for (const n of [...up, ...br]) {
      pos[n.id()] = { x: w / 2, y: y + size(n).h / 2 };
      y += size(n).h + (n.hasClass('bridge') ? VETH : LINK);
    }
    const rowW = Math.min(cols, pods.length) * cellW - GAP;
    pods.forEach((p, i) => {
      const c = i % cols;
      const r = Math.floor(i / cols);
      pos[p.id()] = { x: (w - rowW) / 2 + c * cellW + (cellW - GAP) / 2, y: y + r * cellH + size(p).h / 2 };
    });
    const h = pods.length ? y + Math.ceil(pods.length / cols) * cellH - GAP : Math.max(0, y - (br.nonempty() ? VETH : LINK));
    return { pos, w, h };
  }

  const sum = (a, n) => a.slice(0, n).reduce((x, y) => x + y, 0);

  // Column widths and row heights of `placed` node boxes in `cols` columns, and the size.
  function grid(placed, cols) {
    const colW = [];
    const rowH = [];
    placed.forEach((p, i) => {
      const c = i % cols;
      const r = Math.floor(i / cols);
      colW[c] = Math.max(colW[c] || 0, p.w + 2 * PAD);
      rowH[r] = Math.max(rowH[r] || 0, p.h + 2 * PAD);
    });
    const w = sum(colW, colW.length) + COL_GAP * Math.max(0, colW.length - 1);
    const h = sum(rowH, rowH.length) + (ROW_GAP + TITLE) * rowH.length;
    return { colW, rowH, w: Math.max(w, 1), h: Math.max(h, 1) };
  }

  // Fabric on top, node boxes in a grid below it (columns as wide as their widest box, rows as
  // tall as their tallest), unscheduled pods in a row under the grid.
  function positions() {
    const boxes = cy.nodes('.k8snode').sort((a, b) => a.id().localeCompare(b.id()));
    const placed = boxes.map((b) => ({ b, ...placeNode(b) }));
    const fabric = cy.getElementById('fabric');
    const top = fabric.outerHeight() + ROW_GAP;
    // As many columns as draw the grid largest in the view (the view's shape decides).
    let best = null;
    for (let n = 1; n <= Math.max(1, placed.length); n++) {
      const g = grid(placed, n);
      const zoom = Math.min(cy.width() / g.w, cy.height() / (g.h + top));
      if (!best || zoom > best.zoom + 1e-9) best = { ...g, zoom, cols: n };
    }
    const { colW, rowH, cols } = best;
    const totalW = best.w;
    const pos = { fabric: { x: totalW / 2, y: fabric.outerHeight() / 2 } };
    placed.forEach((p, i) => {
      const c = i % cols;
      const r = Math.floor(i / cols);
      const x0 = sum(colW, c) + COL_GAP * c + (colW[c] - p.w - 2 * PAD) / 2 + PAD;
      const y0 = top + TITLE + sum(rowH, r) + (ROW_GAP + TITLE) * r + PAD;
      for (const [id, q] of Object.entries(p.pos)) pos[id] = { x: x0 + q.x, y: y0 + q.y };
    });
    const loose = cy.nodes('.pod').filter((n) => !n.isChild()).sort((a, b) => a.id().localeCompare(b.id()));
    let x = 0;
    let y = top + sum(rowH, rowH.length) + (ROW_GAP + TITLE) * rowH.length;
    let lineH = 0;
    loose.forEach((n) => {
      const [w, h] = [n.outerWidth(), n.outerHeight()];
      if (x > 0 && x + w > Math.max(totalW, 400)) { x = 0; y += lineH + GAP; lineH = 0; }
      pos[n.id()] = { x: x + w / 2, y: y + h / 2 };
      x += w + GAP;
      lineH = Math.max(lineH, h);
    });
    return pos;
  }

  function layout(fit = true) {
    const pos = positions();
    cy.layout({ name: 'preset', positions: (n) => pos[n.id()], animate: false, fit, padding: 20 }).run();
  }

  // The graph elements a trace hop touches (its namespace, and its interface's edge).
  function hopIds(h) {
    const ns = h.namespace || '';
    if (ns === 'fabric') return ['fabric'];
    if (ns.startsWith('node ')) {
      const n = ns.slice(5);
      const b = cy.getElementById(`br:${n}`);
      if (b.nonempty() && b.data('label').split(' ')[0] === h.interface) return [`br:${n}`];
      if (h.interface.startsWith('veth') || h.interface.startsWith('pl')) {
        const e = cy.edges(`[source = "br:${n}"]`).filter((x) => x.data('label').startsWith(h.interface + ' '));
        if (e.nonempty()) return [e.id()];
      }
      return [`up:${n}`];
    }
    if (ns.startsWith('pod ')) return [`pod:${ns.slice(4)}`];
    return [];
  }

  function highlight(hops, current) {
    cy.elements().removeClass('path current');
    hops.forEach((h, i) => hopIds(h).forEach((id) => {
      const e = cy.getElementById(id);
      e.addClass(i === current ? 'current' : 'path');
      if (e.isEdge()) { e.source().addClass('path'); e.target().addClass('path'); }
    }));
  }

  return { init, elements, update, highlight, nodeReady, readyText, relayout: layout, get cy() { return cy; } };
})();
window.PodlabGraph = PodlabGraph;
