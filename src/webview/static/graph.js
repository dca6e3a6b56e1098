// podlab ui: the topology drawn with cytoscape.js (vendored, MIT). The elements are computed
// from the kernel's topology (/x/topology) merged with the pods and nodes the Kubernetes API
// watch reports (so a new pod shows at once, before the kernel view is re-read); layout is
// cytoscape's own "cose" (force-directed, compound nodes: each node holds its bridge and pods).
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
      'text-background-color': '#fff', 'text-background-opacity': 0.8 } },
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
  // `down(node)`: whether a node is NotReady (its Ready condition, or its latest node event).
  function elements(topo, pods, apiNodes, down) {
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
      const ready = an ? nodeReady(an) && !down(name) : true;
      const port = fab.ports.find((p) => p.node === name);
      els.push({ data: { id: `node:${name}`, kind: 'node', name, label: `${name}${ready ? '' : '  NotReady'}${kn ? '  ' + kn.pod_cidr : ''}` },
        classes: `k8snode${ready ? '' : ' down'}` });
      els.push({ data: { id: `up:${name}`, parent: `node:${name}`, kind: 'node', name,
        label: `${kn && kn.eth0 ? kn.eth0.name : 'eth0'} ${addrs(kn && kn.eth0)}` }, classes: 'uplink' });
      els.push({ data: { id: `e-fab:${name}`, source: 'fabric', target: `up:${name}`,
        label: `${port ? port.name : (kn ? kn.uplink : '')} ⇄ ${kn && kn.eth0 ? kn.eth0.name : 'eth0'}` } });
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

  function nodeReady(n) {
    const c = ((n.status && n.status.conditions) || []).find((x) => x.type === 'Ready');
    return !c || c.status === 'True';
  }

  // Brings the graph to `els`: adds, removes and relabels; lays out again when the set changed.
  function update(els) {
    let changed = false;
    const want = new Set(els.map((e) => e.data.id));
    cy.batch(() => {
      cy.elements().forEach((e) => { if (!want.has(e.id())) { cy.remove(e); changed = true; } });
      for (const e of els.filter((x) => !x.data.source).concat(els.filter((x) => x.data.source))) {
        const cur = cy.getElementById(e.data.id);
        if (cur.empty()) { cy.add(e); changed = true; continue; }
        if (!e.data.source && (cur.data('parent') || undefined) !== e.data.parent) {
          cur.move({ parent: e.data.parent || null }); changed = true;
        }
        cur.data(e.data);
        const keep = ['path', 'current'].filter((c) => cur.hasClass(c));
        cur.classes(`${e.classes || ''} ${keep.join(' ')}`);
      }
    });
    if (changed) {
      cy.layout({ name: 'cose', animate: false, randomize: false, nodeDimensionsIncludeLabels: true,
        componentSpacing: 60, nodeRepulsion: () => 60000, idealEdgeLength: () => 60, nestingFactor: 0.8,
        gravity: 0.5, numIter: 1500, fit: true, padding: 20 }).run();
    }
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

  return { init, elements, update, highlight, nodeReady, get cy() { return cy; } };
})();
window.PodlabGraph = PodlabGraph;
