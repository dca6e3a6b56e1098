// The topology's layout at class size, read back through cytoscape's own API in the page:
// every node box (with its title) apart from every other, every pod box inside its node's box.
// Usage: node layout.mjs URL SHOT.png NODES PODS   Prints one JSON report; tests/webview.rs
// asserts on it.
import { launch } from './launch.mjs';

const [url, shot, nodes, pods] = process.argv.slice(2);
const report = { errors: [] };
const { ctx, close } = await launch({ width: 1600, height: 1000 });
try {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => report.errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('#live:not(.off)', { timeout: 15000 });
  await page.waitForFunction(([n, p]) => {
    const cy = window.PodlabGraph.cy;
    return cy.nodes('.k8snode').length === n && cy.nodes('.pod').filter((x) => x.isChild()).length === p;
  }, [Number(nodes), Number(pods)], { timeout: 30000 });
  await page.waitForTimeout(800); // the kernel view's refresh, and its relayout
  Object.assign(report, await page.evaluate(() => {
    const cy = window.PodlabGraph.cy;
    const inside = (a, b) => a.x1 >= b.x1 && a.x2 <= b.x2 && a.y1 >= b.y1 && a.y2 <= b.y2;
    const apart = (a, b) => a.x2 <= b.x1 || b.x2 <= a.x1 || a.y2 <= b.y1 || b.y2 <= a.y1;
    const boxes = cy.nodes('.k8snode').map((n) => ({ id: n.id(), bb: n.boundingBox({ includeLabels: true }) }));
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        if (!apart(boxes[i].bb, boxes[j].bb)) overlaps.push(`${boxes[i].id} ${boxes[j].id}`);
      }
    }
    const outside = cy.nodes('.pod, .uplink, .bridge').filter((n) => n.isChild()
      && !inside(n.boundingBox({ includeLabels: true }), n.parent().boundingBox({ includeLabels: false })))
      .map((n) => n.id());
    const podsOverlapping = cy.nodes('.pod').filter((a) => cy.nodes('.pod').some((b) => a !== b
      && !apart(a.boundingBox({ includeLabels: false }), b.boundingBox({ includeLabels: false })))).map((n) => n.id());
    const fabric = cy.getElementById('fabric').boundingBox();
    return {
      nodes: boxes.length,
      pods: cy.nodes('.pod').filter((n) => n.isChild()).length,
      overlaps,
      outside,
      pods_overlapping: podsOverlapping,
      fabric_on_top: boxes.every((b) => fabric.y2 <= b.bb.y1),
      zoom: cy.zoom(),
    };
  }));
  // Deterministic: laying out again moves nothing.
  report.stable = await page.evaluate(() => {
    const cy = window.PodlabGraph.cy;
    // Once so the layout has the settled view size (fonts and panes load after the first
    // draw), then again: the same inputs must give the same positions.
    window.PodlabGraph.relayout();
    const before = cy.nodes().map((n) => `${n.id()}@${n.position('x').toFixed(1)},${n.position('y').toFixed(1)}`).join();
    window.PodlabGraph.relayout();
    return before === cy.nodes().map((n) => `${n.id()}@${n.position('x').toFixed(1)},${n.position('y').toFixed(1)}`).join();
  });
  await page.screenshot({ path: shot });
} catch (e) {
  report.errors.push(String(e && e.stack || e));
} finally {
  await close();
}
console.log(JSON.stringify(report));
