// Colour by the value-weighted norm ‖αᵢⱼ vⱼ W_O^h‖ (Kobayashi et al., 2020) as a person does in
// code-server on the default model (TinyStories): on a layer's attention-weights heatmap toggle
// “colour by”, read the legend and caption, move the cell cursor with the keyboard and read both
// numbers of the cell, compared with the CLI's trace; then the same toggle in the all-heads grid.
// Screenshots looked at.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import { findTensor } from '../../shared/trace';
import {
  cliTrace,
  explorerRow,
  hoverText,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  retry,
  selectLine,
  type Session,
} from './harness';

const LINE = 'Once upon a time, there was a little girl named Mia.';
const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-norms-'));
writeFileSync(path.join(folder, 'story.txt'), `${LINE}\n`);

let s: Session | undefined;
after(async () => {
  await s?.close();
});

async function goTo(frame: Frame, title: string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if ((await frame.textContent('[data-testid="stage-title"]')) === title) return;
    await frame.click('[data-testid="next-stage"]');
  }
  throw new Error(`no stage titled ${title}`);
}

const number = (text: string, label: string): number => {
  const m = new RegExp(`${label.replace(/[|\\{}()[\]^$+*?.]/g, '\\$&')} = (-?[\\d.e+-]+)`).exec(text);
  assert.ok(m, `${label} in “${text}”`);
  return Number(m[1]);
};

test('TinyStories: colour the weights heatmap by ‖αvW_O‖; a cell reads both numbers, as the CLI computed them', async () => {
  s = await retry(3, () => launch({ folder, colorTheme: 'Default Light Modern' }));
  await explorerRow(s.page, 'story.txt').waitFor({ timeout: 90_000 });
  await openFile(s.page, 'story.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="tokens"]');
  const trace = cliTrace('tinystories-656k', LINE);
  const stage = trace.stages.find((x) => x.title === 'Layer 1: attention weights');
  assert.ok(stage, 'the CLI trace has layer 1’s weights stage');
  const weights = findTensor(stage, 'weights')!;
  const norms = findTensor(stage, 'value_norms')!;
  assert.ok(norms, 'the CLI trace has the value-weighted norms');
  const [, T, K] = weights.shape as [number, number, number];

  await goTo(frame, 'Layer 1: attention weights');
  // Default: coloured by α, the toggle offered and saying which is on.
  assert.equal(await frame.getAttribute('[data-testid="colour-by-weights"]', 'aria-pressed'), 'true');
  assert.equal(await frame.getAttribute('[data-testid="colour-by-value_norms"]', 'aria-pressed'), 'false');
  assert.deepEqual(await frame.locator('[data-testid="colour-by"] vscode-button').allTextContents(), [
    'attention weight α',
    'value-weighted norm ‖αvW_O‖',
  ]);
  assert.equal(await frame.textContent('[data-testid="colour-by"] span'), 'Colour by:');
  assert.match(
    (await frame.getAttribute('[data-testid="heatmap-weights"]', 'data-legend')) ?? '',
    /^attention weight α: 0 to 1$/,
  );
  assert.match((await frame.textContent('.stage-info .explanation')) ?? '', /b_O is not part of it/);

  await frame.click('[data-testid="colour-by-value_norms"]');
  const canvas = frame.locator('[data-testid="heatmap-value_norms"]');
  await canvas.waitFor({ timeout: 15_000 });
  assert.equal(await frame.locator('[data-testid="heatmap-weights"]').count(), 0, 'one colouring at a time');
  assert.equal(await frame.getAttribute('[data-testid="colour-by-value_norms"]', 'aria-pressed'), 'true');
  // Sequential, 0 to the head's largest norm, titled with what it measures.
  let max = 0;
  for (let i = 0; i < T * K; i++) max = Math.max(max, norms.data[i]!);
  const legend = (await canvas.getAttribute('data-legend')) ?? '';
  const m = /^value-weighted norm ‖αvW_O‖: 0 to (\S+)$/.exec(legend);
  assert.ok(m, legend);
  assert.ok(Math.abs(Number(m[1]) - max) <= 0.006 * max, `legend max ${m[1]} vs head 0's largest norm ${max}`);
  assert.match(
    (await frame.textContent('[data-testid="caption-value_norms"]')) ?? '',
    /^‖α·v·W_O‖ \(value-weighted norm\): .*W_O’s bias left out/,
  );

  // Keyboard cell cursor to (query 7, key 3) of head 0.
  await canvas.focus();
  for (let i = 0; i < 7; i++) await canvas.press('ArrowDown');
  for (let i = 0; i < 3; i++) await canvas.press('ArrowRight');
  const readout = (await frame.textContent('[data-testid="readout-value_norms"]')) ?? '';
  assert.match(readout, /\(#7\) · key .* \(#3\) = /);
  const both = (await frame.textContent('[data-testid="readout-both-value_norms"]')) ?? '';
  const wantNorm = norms.data[7 * K + 3]!;
  const wantAlpha = weights.data[7 * K + 3]!;
  assert.ok(wantNorm > 0, 'a cell the query may attend to');
  const shownNorm = number(both, '‖αvW_O‖');
  const shownAlpha = number(both, 'α');
  assert.ok(Math.abs(shownNorm - wantNorm) <= 1e-4 * Math.max(1, wantNorm), `${both} vs ‖αvW_O‖ ${wantNorm}`);
  assert.ok(Math.abs(shownAlpha - wantAlpha) <= 1e-4, `${both} vs α ${wantAlpha}`);
  assert.ok(Math.abs(number(readout, '') - wantNorm) <= 1e-4 * Math.max(1, wantNorm), readout);
  await s.shot('value-norms-heatmap');
  // The figure itself, with its two readouts, for a closer look.
  await frame
    .locator('figure', { has: canvas })
    .screenshot({ path: path.join(__dirname, '..', '..', 'test-results', 'value-norms-figure.png') });

  // Back to α: the same cell reads α as its colour and the norm beside it.
  await frame.click('[data-testid="colour-by-weights"]');
  const wCanvas = frame.locator('[data-testid="heatmap-weights"]');
  await wCanvas.waitFor();
  await wCanvas.focus();
  for (let i = 0; i < 7; i++) await wCanvas.press('ArrowDown');
  for (let i = 0; i < 3; i++) await wCanvas.press('ArrowRight');
  const wBoth = (await frame.textContent('[data-testid="readout-both-weights"]')) ?? '';
  assert.match(wBoth, /^α = \S+ \(colour\) · ‖αvW_O‖ = /);
  assert.ok(Math.abs(number(wBoth, '‖αvW_O‖') - wantNorm) <= 1e-4 * Math.max(1, wantNorm), wBoth);

  // The grid: the same toggle, its note saying what the thumbnails measure.
  await frame.click('[data-testid="view-grid"]');
  await frame.locator('[data-testid="grid-scale-note"]').waitFor();
  assert.match((await frame.textContent('[data-testid="grid-scale-note"]')) ?? '', /^Colour: weight, each thumbnail/);
  await frame.click('[data-testid="colour-by-value_norms"]');
  const deadline = Date.now() + 10_000;
  while (
    !/value-weighted norm/.test((await frame.textContent('[data-testid="grid-scale-note"]')) ?? '') &&
    Date.now() < deadline
  )
    await s.page.waitForTimeout(200);
  assert.match(
    (await frame.textContent('[data-testid="grid-scale-note"]')) ?? '',
    /^Colour: value-weighted norm ‖αvW_O‖, each thumbnail from 0 to its own maximum/,
  );
  assert.equal(await frame.getAttribute('[data-testid="colour-by-value_norms"]', 'aria-pressed'), 'true');
  await s.shot('value-norms-grid');

  // The editor hover on “girl” (layer 1, head 0: the cursor's) lists α and ‖αvW_O‖ of its strongest key.
  await s.page.locator('.monaco-editor .view-lines').first().click();
  await hoverText(s.page, LINE, LINE.indexOf('girl') + 1);
  const hover = s.page.locator('.monaco-hover-content', { hasText: 'Attention Lens' }).first();
  await hover.waitFor({ timeout: 15_000 });
  const text = (await hover.innerText()).replace(/\s+/g, ' ');
  const at = LINE.indexOf('girl') + 1;
  const q = trace.tokens.findIndex((t) => t.start <= at && at < t.end);
  const row = Array.from({ length: K }, (_, k) => weights.data[q * K + k]!);
  const best = row.indexOf(Math.max(...row));
  assert.match(text, /weight α ‖αvW_O‖/);
  assert.ok(
    text.includes(`${row[best]!.toFixed(4)} ${norms.data[q * K + best]!.toFixed(4)}`),
    `hover “${text}” lacks α ${row[best]!.toFixed(4)} and ‖αvW_O‖ ${norms.data[q * K + best]!.toFixed(4)} of key ${best}`,
  );
  await s.shot('value-norms-editor-hover');
});
