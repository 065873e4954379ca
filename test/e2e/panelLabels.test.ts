// The panel's labels as a learner reads them (issue 16): predictions with their decoded text and the
// token each row belongs to, the decoded output of an encoder–decoder, legends with a title and
// room for their numbers, axis titles. In dark, light and high-contrast themes; screenshots looked at.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  cliTrace,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  runCommand,
  selectLine,
  type Session,
  retry,
  chooseModel,
} from './harness';

let s: Session | undefined;
const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-labels-'));
writeFileSync(path.join(folder, 'dates.txt'), 'Monday 23rd of November 2026\n23/11/2026\n');
writeFileSync(path.join(folder, 'prose.txt'), 'Once upon a time, there was a little girl named Mia.\n');
after(async () => {
  await s?.close();
});

async function open(
  model: string,
  theme: 'Default Dark Modern' | 'Default Light Modern' | 'Default High Contrast',
  file: string,
  line: number,
): Promise<Frame> {
  await s?.close();
  s = await launch({ folder, settings: { 'attentionLens.model': model }, colorTheme: theme });
  await openFile(s.page, file);
  await selectLine(s.page, line);
  await rightClickMenu(s.page, 'Visualise attention');
  return panelFrame(s.page, '[data-testid="tokens"]');
}

/** Clicks Next stage until the title matches (or the last stage). */
async function goTo(frame: Frame, title: RegExp): Promise<string> {
  for (let i = 0; i < 80; i++) {
    const t = (await frame.textContent('[data-testid="stage-title"]')) ?? '';
    if (title.test(t)) return t;
    await frame.click('[data-testid="next-stage"]');
  }
  throw new Error(`no stage titled ${title}`);
}

test('dates-transformer (dark): output rows are decoder steps after the output they read; the decoded output is shown', async () => {
  const frame = await open('dates-transformer', 'Default Dark Modern', 'dates.txt', 2);
  const trace = cliTrace('dates-transformer', '23/11/2026');
  const decoded = trace
    .outputTokens!.filter((t) => !t.special)
    .map((t) => t.text)
    .join('');
  assert.equal(decoded, '2026-11-23');
  const chips = await frame.locator('nav.pipeline > .phase').allTextContents();
  for (const c of ['encoder self-attention', 'decoder self-attention', 'cross-attention', 'output'])
    assert.ok(chips.includes(c), `${c} in ${chips}`);
  assert.ok(!chips.includes('normalise'), 'the three attentions are no one "normalise" chip');
  await goTo(frame, /cross-attention: attention weights/);
  assert.equal(await frame.textContent('nav.pipeline > .phase.current'), 'cross-attention');
  assert.equal(await frame.textContent('nav.pipeline .step.current'), 'weights');
  assert.equal(await frame.textContent('[data-testid="decoded-output"]'), `Decoded output: ${decoded}`);
  const legend = (await frame.getAttribute('[data-testid="heatmap-weights"]', 'data-legend')) ?? '';
  assert.match(legend, /^attention weight α: 0 to 1$/);
  await s!.shot('labels-dark-dates-cross-weights');
  await goTo(frame, /attention scores/);
  assert.match(
    (await frame.getAttribute('[data-testid="heatmap-scores"]', 'data-legend')) ?? '',
    /^score S: -(\S+) to \1$/,
  );
  await goTo(frame, /^Output/);
  const rows = await frame.locator('[data-testid="predictions"] tbody tr td:first-child').allTextContents();
  assert.equal(rows[0], 'step 1, after the start token');
  assert.equal(rows[1], 'step 2, after 2');
  assert.equal(rows[4], 'step 5, after 6');
  const first = (await frame.textContent('[data-testid="predictions"] tbody tr td:nth-child(2)')) ?? '';
  assert.match(first, /^2 \d+\.\d%/);
  assert.equal(await frame.locator('[data-testid="heatmap-top_id"]').count(), 0, 'ids are no heatmap');
  await s!.shot('labels-dark-dates-output');
});

test('english-encoder (light): masked-LM predictions are words with probabilities, at their token', async () => {
  const frame = await open('english-encoder', 'Default Light Modern', 'prose.txt', 1);
  const chips = await frame.locator('nav.pipeline > .phase').allTextContents();
  assert.deepEqual(chips, ['tokens', 'embedding', 'encoder layers', 'masked-token output']);
  await goTo(frame, /Layer 0: queries, keys, values/);
  const legend = (await frame.getAttribute('[data-testid="heatmap-Q"]', 'data-legend')) ?? '';
  assert.match(legend, /^query component: -(\S+) to \1$/);
  await s!.shot('labels-light-encoder-qkv');
  await goTo(frame, /Masked-token predictions/);
  assert.equal(await frame.locator('[data-testid="heatmap-top_id"]').count(), 0, 'ids are no heatmap');
  const head = (await frame.textContent('[data-testid="predictions"] thead')) ?? '';
  assert.match(head, /at token.*top-5 predictions for the token/);
  const rows = await frame.locator('[data-testid="predictions"] tbody tr td:first-child').allTextContents();
  assert.equal(rows[0], '[CLS]');
  assert.equal(rows[1], 'once');
  await s!.shot('labels-light-encoder-output');
});

test('seq2seq (high contrast): a step’s row reads the previous output; logits columns are characters', async () => {
  const frame = await open('seq2seq-dates-dot', 'Default High Contrast', 'dates.txt', 2);
  await goTo(frame, /Decoder step 2: output/);
  assert.equal(await frame.textContent('[data-testid="predictions"] tbody tr td:first-child'), 'step 2, after 2');
  assert.match((await frame.textContent('[data-testid="decoded-output"]')) ?? '', /^Decoded output: 2026-11-23$/);
  await s!.shot('labels-hc-seq2seq-output');
  await goTo(frame, /Decoder step 3: attention weights/);
  await s!.shot('labels-hc-seq2seq-weights');
});

test('choosing a model re-runs the last text and keeps the stage', async () => {
  const frame = await open('seq2seq-dates-dot', 'Default Light Modern', 'dates.txt', 2);
  const title = await goTo(frame, /Decoder step 3: attention weights/);
  await chooseModel(s!.page, 'Seq2seq dates: additive', 'Seq2seq dates: additive');
  const deadline = Date.now() + 60_000;
  while (!/additive/i.test((await frame.textContent('[data-testid="model-name"]')) ?? '') && Date.now() < deadline)
    await s!.page.waitForTimeout(250);
  assert.match((await frame.textContent('[data-testid="model-name"]')) ?? '', /additive/i);
  assert.equal(await frame.textContent('[data-testid="stage-title"]'), title);
  await s!.shot('labels-light-rerun-chosen-model');
});

test('a theme switch redraws the heatmap in the new theme’s colours', async () => {
  const frame = await open('toy-self-attention', 'Default Dark Modern', 'prose.txt', 1);
  await goTo(frame, /weights/);
  const pixels = () => frame.$eval('[data-testid="heatmap-weights"]', (c) => (c as HTMLCanvasElement).toDataURL());
  const dark = await pixels();
  await runCommand(s!.page, 'Preferences: Toggle between Light/Dark Themes');
  const deadline = Date.now() + 15_000;
  while ((await pixels()) === dark && Date.now() < deadline) await s!.page.waitForTimeout(250);
  assert.notEqual(await pixels(), dark, 'the labels are repainted in the light theme’s foreground');
  await s!.shot('labels-theme-switched-to-light');
});

test('Open sample opens the prose beside, with its first sentence selected, not the installed copy', async () => {
  await s?.close();
  s = await launch({
    folder,
    settings: { 'attentionLens.model': 'toy-self-attention' },
    colorTheme: 'Default Light Modern',
  });
  // Right after a fresh launch the palette may not list the extension's commands yet (lazy activation,
  // extensions still being scanned): ask again, as a person would.
  await retry(
    3,
    () => runCommand(s!.page, 'Attention Lens: Open sample'),
    async () => {
      await s!.page.keyboard.press('Escape');
      await s!.page.waitForTimeout(3000);
    },
  );
  await s.page.locator('.tab.active', { hasText: 'Untitled' }).waitFor({ timeout: 15_000 });
  await s.page.waitForSelector('.monaco-editor .view-overlays .selected-text');
  // The selection is the first sentence: visualising it gives its tokens.
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="tokens"]');
  const tokens = (await frame.textContent('[data-testid="tokens"]')) ?? '';
  assert.match(tokens, /Mia/);
  assert.doesNotMatch(tokens, /loved/, 'the second sentence is not selected');
  await s.shot('labels-open-sample');
});
