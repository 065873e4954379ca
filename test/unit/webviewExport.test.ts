// Exports and derived views of the webview, in plain Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrixToCsv, heatmapSvg, stageToJson, fileSafe } from '../../webview/exporters';
import { downsample, headMean, rollout } from '../../shared/derived';
import { Rpc } from '../../webview/rpc';
import { toMatrix } from '../../shared/tensorView';
import { scriptSafeJson } from '../../src/panel/standalone';
import { traceFromJson, traceToJson } from '../../shared/codec';
import type { WebviewMessage } from '../../shared/protocol';
import { makeTrace } from './traceFixture';

test('CSV has token headers and values that round-trip float32 exactly', () => {
  const t = makeTrace(1, 1, 3);
  const w = t.stages.find((s) => s.kind === 'normalise')!.tensors[0]!;
  const csv = matrixToCsv(toMatrix(t, w, 0));
  const lines = csv.trim().split('\n');
  assert.equal(lines[0], 'query \\ key,0:The,1:cat,2:sat');
  const values = lines.slice(1).flatMap((l) => l.split(',').slice(1).map(Number));
  assert.deepEqual(values.map(Math.fround), [...w.data]);
});

test('CSV quotes cells that a spreadsheet would misread', () => {
  const t = makeTrace(1, 1, 3);
  const m = {
    ...toMatrix(t, t.stages.find((s) => s.kind === 'normalise')!.tensors[0]!, 0),
    rowLabels: ['=cmd', 'a,b', 'say "hi"'],
  };
  const csv = matrixToCsv(m);
  assert.match(csv, /^"0:=cmd"|\n0:=cmd/m);
  assert.match(csv, /"1:a,b"/);
  assert.match(csv, /"2:say ""hi"""/);
});

test('SVG escapes token text and draws every cell', () => {
  const t = makeTrace(1, 1, 3);
  const m = {
    ...toMatrix(t, t.stages.find((s) => s.kind === 'normalise')!.tensors[0]!, 0),
    colLabels: ['<img src=x onerror=alert(1)>', '</script>', '&'],
  };
  const svg = heatmapSvg(m, { title: 'a <b>', colourMap: 'viridis', fixedRange: { min: 0, max: 1 } });
  assert.ok(!svg.includes('<img'));
  assert.ok(!svg.includes('</script>'));
  assert.ok(svg.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 9 + 1);
});

test('JSON exports and trace files round-trip tensors exactly', () => {
  const t = makeTrace();
  const back = traceFromJson(JSON.parse(JSON.stringify(traceToJson(t))));
  assert.deepEqual([...back.stages[3]!.tensors[0]!.data], [...t.stages[3]!.tensors[0]!.data]);
  const parsed = JSON.parse(stageToJson(t.stages[3]!, { model: 'x' }));
  assert.equal(parsed.stage.tensors[0].dtype, 'float32');
  assert.equal(typeof parsed.stage.tensors[0].data, 'string');
  assert.equal(fileSafe('tiny/stories L0.weights h1'), 'tiny-stories-L0.weights-h1');
});

test('embedded JSON cannot close the script element', () => {
  const s = scriptSafeJson({ text: '</script><script>alert(1)</script>' });
  assert.ok(!s.includes('</script'));
  assert.equal(JSON.parse(s).text, '</script><script>alert(1)</script>');
});

test('head mean, rollout and downsampling', () => {
  const w = new Float32Array([1, 0, 0.5, 0.5, 0, 1, 0, 1]);
  assert.deepEqual([...headMean(w, 2, 2, 2)], [0.5, 0.5, 0.25, 0.75]);
  // One layer where every token attends to the first: rollout = ½A + ½I.
  const t = makeTrace(1, 1, 3);
  const r = rollout(t)!;
  assert.equal(r.n, 3);
  for (let i = 0; i < 3; i++) {
    let sum = 0;
    for (let j = 0; j < 3; j++) sum += r.data[i * 3 + j]!;
    assert.ok(Math.abs(sum - 1) < 1e-6);
  }
  assert.ok(Math.abs(r.data[0]! - 1) < 1e-6);
  assert.ok(Math.abs(r.data[1 * 3 + 1]! - (0.5 * 0.5 + 0.5)) < 1e-6);
  const d = downsample(
    new Float32Array(16).map((_, i) => i),
    4,
    4,
    2,
  );
  assert.deepEqual([d.rows, d.cols], [2, 2]);
  assert.deepEqual([...d.data], [2.5, 4.5, 10.5, 12.5]);
});

test('rpc settles each request once, rejects errors and times out', async () => {
  const sent: WebviewMessage[] = [];
  const rpc = new Rpc((m) => sent.push(m), 50);
  const p = rpc.request({ kind: 'save', format: 'csv', suggestedName: 'a.csv', content: 'x' });
  const msg = sent[0]!;
  assert.equal(msg.type, 'request');
  const id = msg.type === 'request' ? msg.id : -1;
  assert.equal(rpc.settle(id, true, { path: '/tmp/a.csv' }), true);
  assert.equal(rpc.settle(id, true, { path: 'again' }), false);
  assert.deepEqual(await p, { path: '/tmp/a.csv' });
  const q = rpc.request({ kind: 'save', format: 'csv', suggestedName: 'b.csv', content: 'x' });
  const id2 = (sent[1] as { id: number }).id;
  rpc.settle(id2, false, 'disk full');
  await assert.rejects(q, /disk full/);
  await assert.rejects(rpc.request({ kind: 'save', format: 'csv', suggestedName: 'c.csv', content: 'x' }), /timed out/);
  assert.equal(rpc.size, 0);
});
