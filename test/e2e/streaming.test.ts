// Layers stream in as they finish, as a person sees it: a BERT-base-sized checkpoint (12 layers ×
// 12 heads, 768 wide; random weights from a seed, generated into os.tmpdir() by
// scripts/bench/checkpoints.ts and reused) set as attentionLens.modelFile, 512 tokens selected and
// right-clicked. The panel opens on the first partial trace; the person goes to layer 0's attention
// weights with the stage bar's own buttons while the bar still says later layers are running; then
// every layer arrives and the cursor stays where they put it. The times are printed: first partial,
// first heatmap, every stage, and the model's own run time (the finished trace's, in the header).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Frame } from 'playwright-core';
import { launch, openFile, panelFrame, selectAllMenu, type Session } from './harness';
import { ensureScaleCheckpoint, BERT_BASE } from '../../scripts/bench/checkpoints';

/** BERT's stages: tokens, embedding, five per layer (Q/K/V, scores, weights, context, output), the masked-token output. */
const STAGES = 2 + 5 * BERT_BASE.layers + 1;
const RUN_MS = 300_000;
const WORDS = ['once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'girl', 'named', 'mia', 'who'];
// Ten lines of 60 words: far more than 512 tokens.
const TEXT =
  Array.from({ length: 10 }, (_, l) => Array.from({ length: 60 }, (_, i) => WORDS[(l * 60 + i) % 12]).join(' ')).join(
    '\n',
  ) + '\n';

let s: Session;
let folder: string;

function log(what: string, ms: number): void {
  console.log(`streaming (BERT-base-sized, 512 tokens): ${what} ${(ms / 1000).toFixed(2)} s`);
}

before(async () => {
  const model = ensureScaleCheckpoint(BERT_BASE);
  folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-streaming-'));
  writeFileSync(path.join(folder, 'long.txt'), TEXT);
  s = await launch({
    folder,
    settings: {
      'security.workspace.trust.enabled': false,
      'attentionLens.modelFile': path.join(model, 'config.json'),
      'attentionLens.maxTokens': 512,
      'attentionLens.memoryBudgetMB': 8192,
      'attentionLens.runTimeoutSeconds': 600,
    },
  });
});
after(async () => {
  await s?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

const note = (f: Frame): Promise<string | null> => f.textContent('nav.pipeline .stream-note');

test(
  'layer 0’s heatmap is on screen while later layers still run; then every layer arrives where the user is',
  { timeout: 600_000 },
  async () => {
    await openFile(s.page, 'long.txt');
    const item = await selectAllMenu(s.page, 'Visualise attention');
    await s.shot('streaming-menu');
    const t0 = performance.now();
    await item.click();

    // The first partial trace: the panel opens with the tokens and the note of the layers running.
    const frame = await panelFrame(s.page, 'nav.pipeline .stream-note', RUN_MS);
    const firstPartial = performance.now() - t0;
    log('right-click → first partial trace in the panel', firstPartial);
    assert.match((await note(frame)) ?? '', /of 12 layers done · layer \d+ running…/);
    await s.shot('streaming-first-partial');

    // As a person would: the bar's "encoder layers" once layer 0 is there, then its "weights" step.
    const layers = frame.locator('nav.pipeline button.phase', { hasText: 'encoder layers' });
    await layers.waitFor({ timeout: RUN_MS });
    await layers.click();
    const weights = frame.locator('nav.pipeline .steps button', { hasText: 'weights' });
    await weights.waitFor({ state: 'visible', timeout: 60_000 });
    await weights.click();
    await frame.waitForFunction(
      () =>
        /Layer 0: attention weights/.test(document.querySelector('[data-testid="stage-title"]')?.textContent ?? '') &&
        document.querySelector('[data-testid="heatmap-weights"]') !== null,
      undefined,
      { timeout: 60_000 },
    );
    const firstHeatmap = performance.now() - t0;
    // Read at once, with the heatmap painted: the bar must still say later layers are running.
    const midRun = (await note(frame)) ?? '';
    const position = (await frame.textContent('[data-testid="stage-position"]')) ?? '';
    await s.shot('streaming-L0-weights-mid-run');
    log('right-click → layer 0’s heatmap painted', firstHeatmap);
    console.log(`streaming: the stage bar then said “${midRun}”, position ${position}`);
    const running = /(\d+) of 12 layers done · layer (\d+) running…/.exec(midRun);
    assert.ok(running, `the stage bar shows later layers running while layer 0 is drawn: “${midRun}”`);
    assert.ok(Number(running[1]) < 12);
    // A partial trace's time so far is not presented as the run's time.
    assert.match((await frame.textContent('header')) ?? '', /· running… /);
    const aria = (await frame.getAttribute('[data-testid="heatmap-weights"]', 'aria-label')) ?? '';
    assert.match(aria, /^weights \[12 head × 512 query × 512 key\]/, aria);

    // Every layer arrives; the note goes; the user is where they were.
    await frame.waitForFunction(
      (n) =>
        document.querySelector('nav.pipeline .stream-note') === null &&
        (document.querySelector('[data-testid="stage-position"]')?.textContent ?? '').endsWith(`/ ${n}`),
      STAGES,
      { timeout: RUN_MS },
    );
    const allStages = performance.now() - t0;
    log('right-click → every stage (the finished trace)', allStages);
    assert.match((await frame.textContent('[data-testid="stage-title"]')) ?? '', /Layer 0: attention weights/);
    assert.ok(await frame.$('[data-testid="heatmap-weights"]'), 'the heatmap is still drawn');
    await s.shot('streaming-finished');
    // The model's own run, as the finished trace's header says it (the worker's run time).
    const header = (await frame.textContent('header')) ?? (await frame.textContent('#app')) ?? '';
    const ms = /· (\d+) ms/.exec(header);
    assert.ok(ms, `the header names the run's time: ${header.slice(0, 200)}`);
    const runMs = Number(ms[1]);
    log('the model’s run in the worker', runMs);
    console.log(
      `streaming: from the first partial (the run's tokens and embedding, after the model's load) to every stage ${((allStages - firstPartial) / 1000).toFixed(2)} s = ${((allStages - firstPartial) / runMs).toFixed(2)}× the model's run; layer 0's heatmap ${((firstHeatmap - firstPartial) / 1000).toFixed(2)} s after the first partial`,
    );
    // The run started before its first partial: the whole trace is on screen within 1.2× of the run from there.
    assert.ok((allStages - firstPartial) / runMs < 1.2, 'every stage within 1.2× the model’s run time');
  },
);
