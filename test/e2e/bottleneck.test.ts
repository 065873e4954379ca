// The bottleneck by length, as a learner meets it (issue 18, part 3): the reversing sample visualised
// without attention, then with attention (Choose model… re-runs the same text), and the chart of
// accuracy against input length for both models, labelled, with both curves. Screenshots looked at.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  launch,
  openFileSoon,
  panelFrame,
  rightClickMenu,
  selectLine,
  type Session,
  retry,
  chooseModel,
} from './harness';

const ROOT = path.resolve(__dirname, '..', '..');
const ACC = JSON.parse(
  readFileSync(path.join(ROOT, 'models', 'seq2seq-reverse', 'accuracy-by-length.json'), 'utf8'),
) as {
  models: Record<'additive' | 'none', { exact: number[]; char: number[] }>;
};
let s: Session;
const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-bottleneck-'));
mkdirSync(path.join(folder, 'samples'));
copyFileSync(path.join(ROOT, 'samples', 'reverse.txt'), path.join(folder, 'reverse.txt'));
const LINE = readFileSync(path.join(ROOT, 'samples', 'reverse.txt'), 'utf8').split('\n')[0]!;
const REVERSED = [...LINE].reverse().join('');

before(async () => {
  // A loaded machine can miss the workbench's page load: try again (a fresh server each time).
  s = await retry(3, () => launch({ folder, settings: { 'attentionLens.model': 'seq2seq-reverse-none' } }));
});
after(async () => {
  const errors = s?.consoleLines.filter((l) => /error/i.test(l)) ?? [];
  if (errors.length) console.log(`webview console errors:\n${errors.slice(0, 10).join('\n')}`);
  await s?.close();
});

async function decodedOutput(frame: Frame): Promise<string> {
  const t = (await frame.textContent('[data-testid="decoded-output"]')) ?? '';
  return t.replace(/^Decoded output: /, '');
}

async function showChart(frame: Frame): Promise<void> {
  await frame.locator('nav.pipeline > .phase', { hasText: 'accuracy by length' }).click();
  await frame.waitForSelector('[data-testid="chart-exact match"]');
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

test('without attention: the reversing sample’s first line, and the chart of both models’ accuracy by length', async () => {
  await openFileSoon(s.page, 'reverse.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="tokens"]');
  const chips = await frame.locator('nav.pipeline > .phase').allTextContents();
  assert.equal(chips[chips.length - 1], 'accuracy by length', `the chart is the last part: ${chips}`);
  // The last decoder step (just before the chart) shows the decoded output.
  await showChart(frame);
  await frame.click('[data-testid="prev-stage"]');
  const out = await decodedOutput(frame);
  console.log(`none:     ${LINE} → ${out} (right: ${REVERSED})`);
  assert.notEqual(out, REVERSED, 'without attention the 50-letter line comes out wrong');
  await s.shot('bottleneck-none-output');
  await showChart(frame);
  assert.equal(
    await frame.textContent('[data-testid="stage-title"]'),
    'Accuracy against input length: attention against no attention',
  );
  for (const name of ['exact match', 'per-character accuracy']) {
    const chart = frame.locator(`[data-testid="chart-${name}"]`);
    assert.match((await chart.locator('figcaption').textContent()) ?? '', new RegExp(`^${name} against input length`));
    const legend = await frame.locator(`[data-testid="legend-${name}"] .series`).allTextContents();
    assert.deepEqual(legend, ['● additive attention', '■ no attention']);
    const label = (await frame.getAttribute(`[data-testid="curves-${name}"]`, 'aria-label')) ?? '';
    const key = name === 'exact match' ? 'exact' : 'char';
    // Both curves, every bucket, with the measured numbers.
    const [withAttn, without] = label.replace(/^.*?: /, '').split('; ') as [string, string];
    assert.ok(withAttn.startsWith(`additive attention 5–10 ${pct(ACC.models.additive[key][0]!)}`), label);
    assert.ok(without.startsWith('no attention 5–10'), label);
    assert.ok(without.endsWith(`51–60 ${pct(ACC.models.none[key][5]!)}`), label);
    assert.ok(await chart.locator('canvas').isVisible());
    // Both curves are on the canvas: pixels in each series' colour (blue #1f77b4, orange #ff7f0e).
    const count = (): Promise<{ blue: number; orange: number }> =>
      frame.evaluate((id) => {
        const c = document.querySelector<HTMLCanvasElement>(`[data-testid="${id}"]`)!;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let blue = 0;
        let orange = 0;
        // (no named helpers in here: the page does not have tsx's __name)
        for (let i = 0; i < d.length; i += 4) {
          if (Math.abs(d[i]! - 0x1f) + Math.abs(d[i + 1]! - 0x77) + Math.abs(d[i + 2]! - 0xb4) < 60) blue++;
          if (Math.abs(d[i]! - 0xff) + Math.abs(d[i + 1]! - 0x7f) + Math.abs(d[i + 2]! - 0x0e) < 60) orange++;
        }
        return { blue, orange };
      }, `curves-${name}`);
    // (a loaded machine paints late: look again for up to 15 s)
    let counts = await count();
    for (let i = 0; i < 30 && !(counts.blue > 200 && counts.orange > 200); i++) {
      await s.page.waitForTimeout(500);
      counts = await count();
    }
    assert.ok(counts.blue > 200 && counts.orange > 200, `${name}: both curves drawn ${JSON.stringify(counts)}`);
  }
  // Hovering a point reads its value out.
  const canvas = frame.locator('[data-testid="curves-exact match"]');
  const box = (await canvas.boundingBox())!;
  const width = Math.max(360, Math.min(640, box.width));
  // The last bucket's point of the no-attention curve (layoutCurves: x from left+24 to right−24, y from 16 to height−52).
  const x = 56 + 24 + (width - 16 - 56 - 48);
  const y = 16 + (300 - 52 - 16) * (1 - ACC.models.none.exact[5]!);
  await s.page.mouse.move(box.x + x, box.y + y);
  const readout = (await frame.textContent('[data-testid="readout-exact match"]')) ?? '';
  assert.ok(readout.startsWith('no attention · input length 51–60:'), readout);
  await s.page.waitForTimeout(1000);
  await s.shot('bottleneck-chart');
});

test('with attention: Choose model… re-runs the same line; it reverses it and its alignment is the anti-diagonal', async () => {
  await chooseModel(s.page, 'Reverse strings: GRU with additive', 'with additive attention');
  let frame = await panelFrame(s.page, '[data-testid="stage-title"]');
  for (let i = 0; i < 120; i++) {
    frame = await panelFrame(s.page, '[data-testid="stage-title"]');
    if ((await frame.locator('nav.pipeline > .phase', { hasText: 'cross-attention' }).count()) > 0) break;
    await s.page.waitForTimeout(500);
  }
  // The alignment is the stage just before the chart, the last decoder step the one before it.
  await showChart(frame);
  await frame.click('[data-testid="prev-stage"]');
  assert.match((await frame.textContent('[data-testid="stage-title"]')) ?? '', /^Alignment/);
  await s.page.waitForTimeout(3000);
  // Every cell painted (the numbers of all 51 steps reached the panel: once, the later steps' arrived empty).
  const painted = await frame.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('[data-testid="heatmap-weights"]')!;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let opaque = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 200) opaque++;
    return opaque / (d.length / 4);
  });
  assert.ok(painted > 0.4, `the alignment heatmap's cells are painted (${(painted * 100).toFixed(0)}% of the canvas)`);
  const readout = await frame.locator('[data-testid="heatmap-weights"]').boundingBox();
  await s.page.mouse.move(readout!.x + readout!.width / 2, readout!.y + readout!.height / 2);
  assert.match((await frame.textContent('[data-testid="readout-weights"]')) ?? '', /= \d\.\d{4}$/);
  await s.shot('bottleneck-additive-alignment');
  await frame.click('[data-testid="prev-stage"]');
  const out = await decodedOutput(frame);
  console.log(`additive: ${LINE} → ${out} (right: ${REVERSED})`);
  assert.equal(out, REVERSED, 'the attention model reverses the 50-letter line');
  await showChart(frame);
  assert.equal(await frame.locator('[data-testid="legend-exact match"] .series').count(), 2);
  await s.page.waitForTimeout(3000);
  await s.shot('bottleneck-additive-chart');
});
