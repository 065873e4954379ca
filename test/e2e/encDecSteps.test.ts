// A Transformer encoder–decoder step by step, as a learner follows it (issue 16, item 9): the
// dates-transformer on a date, the "By output step" view on a cross-attention stage, stepped with
// the buttons, the keyboard and the "Next decoder step" command; what each step reads and produces,
// its rows' labels and numbers against the CLI's trace and the heatmap's focused row; the grid's
// three labelled sections; the editor hover over an input character. Dark and light screenshots.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  cliTrace,
  hoverText,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  runCommand,
  selectLine,
  type Session,
} from './harness';
import { tokenLabel } from '../../shared/tensorView';
import type { Trace } from '../../shared/trace';

const TEXT = '23/11/2026';
let s: Session | undefined;
const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-steps-'));
writeFileSync(path.join(folder, 'dates.txt'), `${TEXT}\n`);
after(async () => {
  await s?.close();
});

async function open(theme: 'Default Dark Modern' | 'Default Light Modern'): Promise<Frame> {
  await s?.close();
  s = await launch({ folder, settings: { 'attentionLens.model': 'dates-transformer' }, colorTheme: theme });
  await openFile(s.page, 'dates.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  return panelFrame(s.page, '[data-testid="tokens"]');
}

async function goTo(frame: Frame, title: RegExp): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (title.test((await frame.textContent('[data-testid="stage-title"]')) ?? '')) return;
    await frame.click('[data-testid="next-stage"]');
  }
  throw new Error(`no stage titled ${title}`);
}

const sentence = async (frame: Frame): Promise<string> =>
  (await frame.textContent('[data-testid="step-sentence"]')) ?? '';

async function waitStep(frame: Frame, n: number): Promise<string> {
  await frame.waitForFunction(
    (k) => (document.querySelector('[data-testid="step-sentence"]')?.textContent ?? '').startsWith(`Output step ${k} `),
    n,
  );
  return sentence(frame);
}

/** The row of head `h` at step t of a [H, T, K] weights tensor of the CLI's trace. */
function rowOf(trace: Trace, id: string, h: number, t: number): number[] {
  const w = trace.stages.find((x) => x.id === id)!.tensors.find((x) => x.name === 'weights')!;
  const [, T, K] = w.shape as [number, number, number];
  return Array.from(w.data.subarray((h * T + t) * K, (h * T + t + 1) * K));
}

function close(a: readonly number[], b: readonly number[], what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-5, `${what}[${i}]: ${x} vs ${b[i]}`));
}

/** The (#key) value pairs of a "largest: …" readout, in order. */
const largest = (text: string): string[] =>
  [...text.matchAll(/\(#(\d+)\) (\S+?)(?:,|$)/g)].map((m) => `${m[1]}=${m[2]}`);

test('dark: step through the cross-attention stage; what each step reads and produces, its rows and their labels', async () => {
  const trace = cliTrace('dates-transformer', TEXT);
  const out = trace.outputTokens!;
  const topP = trace.stages.find((x) => x.id === 'output')!.tensors.find((x) => x.name === 'top_p')!;
  const p = (t: number): string => (topP.data[t * topP.shape[1]!]! * 100).toFixed(2);
  const frame = await open('Default Dark Modern');
  await goTo(frame, /^Decoder layer 0, cross-attention: attention weights/);
  await frame.click('[data-testid="view-steps"]');
  await frame.locator('[data-testid="step-view"]').waitFor();
  assert.equal(
    await waitStep(frame, 1),
    `Output step 1 of ${out.length} reads ‘‹start›’ and produces ‘${tokenLabel(out[0]!)}’ (${p(0)}%).`,
  );
  await frame.click('[data-testid="step-next"]');
  assert.equal(
    await waitStep(frame, 2),
    `Output step 2 of ${out.length} reads ‘${tokenLabel(out[0]!)}’ and produces ‘${tokenLabel(out[1]!)}’ (${p(1)}%).`,
  );
  await frame.click('[data-testid="step-next"]');
  const third = await waitStep(frame, 3);
  assert.equal(
    third,
    `Output step 3 of ${out.length} reads ‘${tokenLabel(out[1]!)}’ and produces ‘${tokenLabel(out[2]!)}’ (${p(2)}%).`,
  );
  // The decoded output marks the token of this step.
  assert.equal(await frame.textContent('[data-testid="decoded-current"]'), out[2]!.text);
  assert.equal(await frame.getAttribute('[data-testid="decoded-current"]', 'title'), 'output step 3');
  assert.match(
    (await frame.textContent('[data-testid="step-topk"]')) ?? '',
    /^Top \d+ at this step: ‘\S+’ \d+\.\d\d%, /,
  );

  // The rows are the trace's own (head 0, the cursor's), labelled by what each key really is.
  const values = async (id: string): Promise<number[]> =>
    JSON.parse((await frame.getAttribute(`[data-testid="${id}-section"]`, 'data-values')) ?? '[]') as number[];
  close(await values('step-cross'), rowOf(trace, 'dec0.cross.weights', 0, 2), 'cross row 3');
  const self = await values('step-self');
  close(self, rowOf(trace, 'dec0.self.weights', 0, 2), 'self row 3');
  assert.ok(self.slice(3).every((x) => x === 0));
  const labels = async (id: string): Promise<string[]> =>
    JSON.parse((await frame.getAttribute(`[data-testid="heatmap-${id}"]`, 'data-col-label-text')) ?? '[]') as string[];
  assert.deepEqual(await labels('step-cross'), trace.tokens.map(tokenLabel));
  assert.deepEqual(await labels('step-self'), ['‹start›', ...out.slice(0, -1).map(tokenLabel)]);
  const rowLabels = JSON.parse(
    (await frame.getAttribute('[data-testid="heatmap-step-cross"]', 'data-row-label-text')) ?? '[]',
  ) as string[];
  assert.deepEqual(rowLabels, ['0']);
  assert.match(
    (await frame.locator('.step-section h4').nth(1).textContent()) ?? '',
    /^Decoder masked self-attention: step 3 over decoder positions 1…3$/,
  );
  assert.match(
    (await frame.textContent('.step-section h4')) ?? '',
    new RegExp(`^Cross-attention \\(output → input\\): step 3 over the ${trace.tokens.length} input tokens$`),
  );
  const crossTop = (await frame.textContent('[data-testid="step-cross-top"]')) ?? '';
  assert.match(crossTop, /^head 0, largest: /);
  await frame.locator('[data-testid="step-self-section"]').scrollIntoViewIfNeeded();
  await s!.shot('encdec-steps-dark-step3');

  // The keyboard: → and ← on the focused view; the command palette's "Next decoder step".
  await frame.focus('[data-testid="step-view"]');
  await s!.page.keyboard.press('ArrowRight');
  assert.match(await waitStep(frame, 4), /^Output step 4 /);
  await s!.page.keyboard.press('ArrowLeft');
  await waitStep(frame, 3);
  await runCommand(s!.page, 'Attention Lens: Next decoder step');
  assert.match(await waitStep(frame, 4), new RegExp(`produces ‘${tokenLabel(out[3]!)}’`));
  await runCommand(s!.page, 'Attention Lens: Previous decoder step');
  await waitStep(frame, 3);

  // All heads: a row per head and their mean.
  await frame.click('[data-testid="step-all-heads"]');
  await frame.waitForFunction(() =>
    (
      JSON.parse(
        document.querySelector('[data-testid="heatmap-step-cross"]')?.getAttribute('data-row-label-text') ?? '[]',
      ) as string[]
    ).includes('mean'),
  );
  const all = await values('step-cross');
  const H = trace.stages.find((x) => x.id === 'dec0.cross.weights')!.tensors[0]!.shape[0]!;
  for (let h = 0; h < H; h++)
    close(
      all.slice(h * trace.tokens.length, (h + 1) * trace.tokens.length),
      rowOf(trace, 'dec0.cross.weights', h, 2),
      `head ${h}`,
    );
  await frame.locator('[data-testid="step-cross-section"]').scrollIntoViewIfNeeded();
  await s!.shot('encdec-steps-dark-all-heads');
  await frame.click('[data-testid="step-all-heads"]');

  // The matrix view's focused row (the same step) reads out the same largest weights.
  await frame.click('[data-testid="view-heatmap"]');
  await frame.locator('[data-testid="heatmap-weights"]').waitFor();
  assert.equal(await frame.getAttribute('[data-testid="heatmap-weights"]', 'data-focus-row'), '2');
  // Its queries are labelled by the token each decoder position reads, as the step view's are.
  assert.deepEqual(
    JSON.parse((await frame.getAttribute('[data-testid="heatmap-weights"]', 'data-row-label-text')) ?? '[]'),
    ['‹start›', ...out.slice(0, -1).map(tokenLabel)],
  );
  const heat = (await frame.textContent('[data-testid="readout-weights"]')) ?? '';
  assert.deepEqual(largest(heat), largest(crossTop), `${heat} vs ${crossTop}`);
  assert.match(heat, /^query 0 \(#2\), largest: /, 'row 3 reads the 0 produced at step 2');
  await s!.shot('encdec-steps-dark-heatmap-row3');
});

test('dark: the editor hover on cross-attention names the panel’s step and the steps that read an input character', async () => {
  const trace = cliTrace('dates-transformer', TEXT);
  const frame = (await panelFrame(s!.page, '[data-testid="view-switch"]'))!;
  assert.ok(frame);
  await hoverText(s!.page, TEXT, 3); // the first "1" of the month, input #3
  const hover = s!.page.locator('.monaco-hover-content', { hasText: 'Attention Lens' }).first();
  await hover.waitFor({ timeout: 30_000 });
  const text = (await hover.innerText()).replace(/\s+/g, ' ');
  const out = trace.outputTokens!;
  const w = rowOf(trace, 'dec0.cross.weights', 0, 2)[3]!;
  assert.match(
    text,
    new RegExp(
      `Output step 3 \\(${out[2]!.text}\\) attends to 1 \\(input #3\\) with weight ${w.toFixed(4)}, the \\d+(st|nd|rd|th) largest of its ${trace.tokens.length} input tokens`,
    ),
  );
  assert.match(
    text,
    /Output steps whose cross-attention reads 1 \(input #3\) most; the output is the model's, not text in this document/,
  );
  assert.match(text, /output step reads produces weight/);
  await s!.shot('encdec-steps-dark-hover');
  await s!.page.mouse.move(5, 5);
});

test('dark: the grid has the three kinds of attention, each labelled, rows by layer', async () => {
  const frame = await panelFrame(s!.page, '[data-testid="view-switch"]');
  await frame.click('[data-testid="view-grid"]');
  await frame.locator('[data-testid="heads-grid-cross"]').waitFor();
  assert.deepEqual(await frame.locator('.grid-section > h3').allTextContents(), [
    'Encoder self-attention',
    'Decoder masked self-attention',
    'Cross-attention (output → input)',
  ]);
  for (const kind of ['encoder-self', 'decoder-self', 'cross'])
    assert.deepEqual(
      await frame.locator(`[data-testid="heads-grid-${kind}"] .grid-row-label`).allTextContents(),
      ['layer 0', 'layer 1'],
      kind,
    );
  assert.match(
    (await frame.textContent('[data-testid="grid-note-cross"]')) ?? '',
    /^2 layers × 4 heads; a row is one output step attending over the input tokens\./,
  );
  assert.match(
    (await frame.textContent('[data-testid="grid-note-decoder-self"]')) ?? '',
    /a row is one output step attending over the decoder positions up to it \(the later ones are masked; the first holds the start token\)/,
  );
  assert.match(
    (await frame.locator('.grid-view > p.muted').last().textContent()) ?? '',
    /encoder’s self-attention layers.*decoder’s masked self-attention and the cross-attention are not in it/,
  );
  await frame.locator('[data-testid="heads-grid-cross"]').scrollIntoViewIfNeeded();
  await s!.shot('encdec-steps-dark-grid');
});

test('light: the step view and the grid', async () => {
  const frame = await open('Default Light Modern');
  await goTo(frame, /^Decoder layer 1, masked self-attention: attention weights/);
  await frame.click('[data-testid="view-steps"]');
  await frame.locator('[data-testid="step-view"]').waitFor();
  await frame.fill('[data-testid="step-number"]', '5');
  await frame.press('[data-testid="step-number"]', 'Enter');
  assert.match(await waitStep(frame, 5), /^Output step 5 of \d+ reads ‘/);
  await frame.fill('[data-testid="step-number"]', '99');
  await frame.press('[data-testid="step-number"]', 'Enter');
  assert.match(
    (await frame.textContent('[data-testid="step-error"]')) ?? '',
    /^Give a whole output step from 1 to \d+\.$/,
  );
  await frame.locator('[data-testid="step-self-section"]').scrollIntoViewIfNeeded();
  await s!.shot('encdec-steps-light-step5');
  await frame.click('[data-testid="view-grid"]');
  await frame.locator('[data-testid="heads-grid-cross"]').waitFor();
  await frame.locator('[data-testid="heads-grid-decoder-self"]').scrollIntoViewIfNeeded();
  await s!.shot('encdec-steps-light-grid');
});
