// The all-heads grid as an encoder–decoder's user reads it (issue 16, items 9, 10 and 14): one
// labelled section per kind of attention, each head's share on the first key, a colour scale
// that says which it is and can be shared, and the rollout opened full size with labels.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import { cliTrace, hoverText, launch, openFile, panelFrame, rightClickMenu, selectLine, type Session } from './harness';

let s: Session;
let frame: Frame;
const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-grid-'));
writeFileSync(path.join(folder, 'dates.txt'), '23/11/2026\n');

before(async () => {
  s = await launch({
    folder,
    settings: { 'attentionLens.model': 'dates-transformer' },
    colorTheme: 'Default Dark Modern',
  });
  await openFile(s.page, 'dates.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  frame = await panelFrame(s.page, '[data-testid="tokens"]');
  await frame.click('[data-testid="next-stage"]');
  await frame.click('[data-testid="view-grid"]');
  await frame.locator('[data-testid="heads-grid-cross"]').waitFor();
});
after(async () => {
  await s?.close();
});

test('one labelled section per kind of attention, with each head’s share on the first key', async () => {
  const titles = await frame.locator('.grid-section > h3').allTextContents();
  assert.deepEqual(titles, [
    'Encoder self-attention',
    'Decoder masked self-attention',
    'Cross-attention (output → input)',
  ]);
  const label =
    (await frame.locator('[data-testid="heads-grid-cross"] button').first().getAttribute('aria-label')) ?? '';
  assert.match(label, /^cross-attention \(output → input\), layer 0 head 0: mean weight on the first key \d+%/);
  assert.match(
    (await frame.textContent('[data-testid="grid-note-cross"]')) ?? '',
    /^\d+ layers? × \d+ heads; .*“% on 1st” is the mean weight on the first key/,
  );
  await s.shot('grid-dark-dates-sections');
});

test('the colour scale says what it is, and one scale can be shared', async () => {
  assert.match(
    (await frame.textContent('[data-testid="grid-scale-note"]')) ?? '',
    /each thumbnail from 0 to its own maximum/,
  );
  await frame.click('[data-testid="grid-scale-shared"]');
  assert.match((await frame.textContent('[data-testid="grid-scale-note"]')) ?? '', /one scale per kind of attention/);
  assert.equal(await frame.getAttribute('[data-testid="grid-scale-shared"]', 'aria-pressed'), 'true');
  await s.shot('grid-dark-dates-shared-scale');
});

test('the rollout opens full size, with token labels and a titled legend', async () => {
  await frame.locator('.grid-extra button').first().click();
  await frame.locator('[data-testid="heatmap-rollout"]').waitFor();
  assert.match(
    (await frame.getAttribute('[data-testid="heatmap-rollout"]', 'data-legend')) ?? '',
    /^rollout share: 0 to \S+$/,
  );
  // hover() scrolls the figure into view first; the readout names the cell under the mouse.
  await frame.locator('[data-testid="heatmap-rollout"]').hover();
  await frame.waitForFunction(() =>
    /query .* · key .* = /.test(document.querySelector('[data-testid="readout-rollout"]')?.textContent ?? ''),
  );
  await s.shot('grid-dark-dates-rollout');
});

test('on cross-attention, hovering an input character lists the output tokens that read it', async () => {
  await frame.click('[data-testid="view-heatmap"]');
  for (let i = 0; i < 80; i++) {
    const t = (await frame.textContent('[data-testid="stage-title"]')) ?? '';
    if (/cross-attention: attention weights/.test(t)) break;
    await frame.click('[data-testid="next-stage"]');
  }
  await hoverText(s.page, '23/11/2026', 3); // the first "1" of the month
  const hover = s.page.locator('.monaco-hover-content', { hasText: 'Attention Lens' }).first();
  await hover.waitFor({ timeout: 30_000 });
  const text = (await hover.innerText()).replace(/\s+/g, ' ');
  assert.match(
    text,
    /Output steps whose cross-attention reads 1 \(input #\d+\) most; the output is the model's, not text in this document/,
  );
  // The top reader and its weight are the trace's own (the CLI runs the same model on the same text).
  const trace = cliTrace('dates-transformer', '23/11/2026');
  const st = trace.stages.find(
    (x) => x.kind === 'normalise' && x.attention?.queries === 'output' && x.attention.keys === 'input' && x.layer === 0,
  )!;
  const w = st.tensors.find((x) => x.name === 'weights')!;
  const [, Q, K] = w.shape as [number, number, number];
  const key = Number(/input #(\d+)/.exec(text)![1]);
  const col = Array.from({ length: Q }, (_, q) => w.data[q * K + key]!);
  const best = Math.max(...col);
  assert.ok(text.includes(best.toFixed(4)), `${text} lacks ${best.toFixed(4)}`);
  await s.shot('grid-dark-dates-cross-hover');
});
