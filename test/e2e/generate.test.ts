// Continue in the panel, as a person uses it: select a sentence of the TinyStories sample, Visualise
// attention, press Continue (3 tokens, greedy); the strip shows three generated tokens with their
// probabilities and alternatives, each equal to the CLI's `--generate 3 --json`; clicking the second
// moves the heatmap to the row of the query that chose it; Continue again continues from the end;
// Cancel stops a long one. The editor's text is never changed.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import { cliTrace, launch, openFile, panelFrame, rightClickMenu, selectLine, type Session } from './harness';
import type { GenerationJson } from '../../src/cliGenerate';
import { percentText } from '../../shared/generation';
import { tokenLabel } from '../../shared/tensorView';

const ROOT = path.resolve(__dirname, '..', '..');
// Line 1 of samples/prose.txt without its last words, so the story has somewhere to go.
const LINE = 'Once upon a time, there was a little girl named Mia. She loved to play in the park with her';
const DROPPED = ' red ball.';
let s: Session;
let frame: Frame;

/** The CLI's greedy continuation of LINE by n tokens (an independent process, the same weights). */
function cliGenerate(n: number): GenerationJson {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'attention-lens-gen-')), 'gen.json');
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'dist', 'cli.js'), '--model', 'tinystories-656k', '--generate', String(n), '--json', out, LINE],
    { stdio: 'pipe' },
  );
  return JSON.parse(readFileSync(out, 'utf8')) as GenerationJson;
}

const label = (piece: string): string => tokenLabel({ text: piece, id: 0, start: -1, end: -1 });
const texts = async (selector: string): Promise<string[]> =>
  frame.locator(selector).evaluateAll((els) => els.map((e) => e.textContent ?? ''));

async function pressContinue(n: number, count: number): Promise<void> {
  await frame.fill('[data-testid="gen-tokens"]', String(n));
  await frame.click('[data-testid="continue"]');
  await frame
    .locator('[data-testid="gen-token"]')
    .nth(count - 1)
    .waitFor({ timeout: 120_000 });
  await frame.locator('[data-testid="gen-status"]', { hasText: 'Generated' }).waitFor({ timeout: 30_000 });
}

before(async () => {
  s = await launch({ settings: { 'attentionLens.model': 'tinystories-656k' } });
  // Quick Open lists the file once the workbench has indexed the folder: a person on a busy machine tries again.
  for (let i = 0; ; i++) {
    try {
      await openFile(s.page, 'prose.txt');
      break;
    } catch (err) {
      if (i === 3) throw err;
      await s.page.keyboard.press('Escape');
      await s.page.waitForTimeout(2000);
    }
  }
  await selectLine(s.page, 1);
  for (let i = 0; i < DROPPED.length; i++) await s.page.keyboard.press('Shift+ArrowLeft');
  await rightClickMenu(s.page, 'Visualise attention');
  frame = await panelFrame(s.page, '[data-testid="tokens"]');
});
after(async () => {
  await s?.close();
});

test('Continue generates three tokens, each the CLI’s greedy token with its probability and alternatives', async () => {
  await frame.locator('[data-testid="continue"]').waitFor();
  assert.equal(await frame.inputValue('[data-testid="gen-tokens"]'), '3', 'attentionLens.generate.tokens’ default');
  await s.shot('generate-before');
  await pressContinue(3, 3);
  const cli = cliGenerate(3);
  assert.equal(await frame.locator('[data-testid="gen-token"]').count(), 3);
  assert.deepEqual(
    await texts('[data-testid="gen-text"]'),
    cli.tokens.map((t) => label(t.piece)),
  );
  assert.deepEqual(
    await texts('[data-testid="gen-p"]'),
    cli.tokens.map((t) => percentText(t.p)),
  );
  // The alternatives under each token: the CLI's top five with their probabilities, the chosen one first.
  const alts = await frame
    .locator('.gen-alts')
    .evaluateAll((lists) => lists.map((l) => [...l.querySelectorAll('li')].map((li) => li.textContent ?? '')));
  assert.deepEqual(
    alts,
    cli.tokens.map((t) => t.alternatives.map((a) => `${label(a.piece)} ${percentText(a.p)}`)),
  );
  assert.match((await frame.textContent('[data-testid="gen-status"]')) ?? '', /Generated 3 tokens \(greedy\)/);
  // The tokens stage lists the prompt's tokens, then the three generated ones, marked.
  const prompt = cliTrace('tinystories-656k', LINE).tokens;
  assert.equal(await frame.locator('[data-testid="tokens"] .token').count(), prompt.length + 3);
  assert.deepEqual(
    await texts('[data-testid="tokens"] .token.generated .tok-text'),
    cli.tokens.map((t) => label(t.piece)),
  );
  // The editor's text is not changed.
  const line = await s.page.locator('.monaco-editor .view-line').first().textContent();
  assert.equal(line?.replace(/\u00a0/g, ' '), LINE + DROPPED);
  assert.match(
    (await frame.textContent('.stage-info .explanation')) ?? '',
    /Then 3 tokens the model generated \(Continue\), drawn dashed/,
  );
  await s.shot('generate-three-tokens');
});

test('clicking the second generated token focuses the row of the query that chose it', async () => {
  const prompt = cliTrace('tinystories-656k', LINE);
  const T = prompt.tokens.length;
  const cli = cliGenerate(3);
  await frame.locator('[data-testid="gen-token"]').nth(1).click();
  const heatmap = frame.locator('[data-testid="heatmap-weights"]');
  await heatmap.waitFor();
  // The second new token is #T+1; the query that chose it is the first new token, row T.
  assert.equal(await heatmap.getAttribute('data-focus-row'), String(T));
  const aria = (await heatmap.getAttribute('aria-label')) ?? '';
  assert.ok(
    aria.includes(`focused row: query ${label(cli.tokens[0]!.piece)} (#${T}), largest: `),
    `aria-label: ${aria}`,
  );
  assert.match(aria, /^weights \[8 head × \d+ query × \d+ key\]/);
  assert.equal(await frame.getAttribute('[data-testid="gen-token"] >> nth=1', 'aria-pressed'), 'true');
  assert.equal(await frame.getAttribute('[data-testid="gen-token"] >> nth=0', 'aria-pressed'), 'false');
  // The stage is the last layer's weights (the cursor was on Tokens), and the note names the row.
  const title = (await frame.textContent('[data-testid="stage-title"]')) ?? '';
  const lastWeights = prompt.stages.filter((st) => st.kind === 'normalise').at(-1)!;
  assert.equal(title, lastWeights.title);
  const note = (await frame.textContent('[data-testid="gen-focus"]')) ?? '';
  assert.ok(
    note.includes(
      `the outlined row is ${label(cli.tokens[0]!.piece)} (#${T}), the query that chose ${label(cli.tokens[1]!.piece)} (#${T + 1})`,
    ),
    note,
  );
  // The readout says the same row until a cell is hovered.
  assert.match((await frame.textContent('[data-testid="readout-weights"]')) ?? '', new RegExp(`\\(#${T}\\), largest`));
  await heatmap.scrollIntoViewIfNeeded();
  await s.shot('generate-second-token-row');
  await heatmap.screenshot({ path: path.join(ROOT, 'test-results', 'generate-second-token-heatmap.png') });
});

test('Continue again continues from the end: five tokens, the CLI’s --generate 5', async () => {
  await pressContinue(2, 5);
  const cli = cliGenerate(5);
  assert.deepEqual(
    await texts('[data-testid="gen-text"]'),
    cli.tokens.map((t) => label(t.piece)),
  );
  // The stage and head stay; the heatmap now has the longer text's rows.
  const heatmap = frame.locator('[data-testid="heatmap-weights"]');
  const T = cliTrace('tinystories-656k', LINE).tokens.length;
  assert.match((await heatmap.getAttribute('aria-label')) ?? '', new RegExp(`× ${T + 5} query × ${T + 5} key`));
  await s.shot('generate-five-tokens');
});

test('sampling with a seed, and Cancel during a long Continue adds nothing', async () => {
  await frame.click('[data-testid="gen-sampling"]');
  assert.equal(await frame.isVisible('[data-testid="gen-temperature"]'), true);
  await frame.fill('[data-testid="gen-topP"]', '1.5');
  await frame.click('[data-testid="continue"]');
  assert.match(
    (await frame.textContent('[data-testid="gen-status"]')) ?? '',
    /Top-p must be a number in \(0, 1\] \(1: no limit\), not "1.5"\./,
  );
  await frame.fill('[data-testid="gen-topP"]', '0.9');
  await frame.fill('[data-testid="gen-seed"]', '42');
  await frame.fill('[data-testid="gen-tokens"]', '64');
  await frame.click('[data-testid="continue"]');
  // Cancel at once: 64 tokens of this small model take about a second, less than a screenshot.
  await frame.locator('[data-testid="gen-cancel"]').waitFor({ state: 'visible' });
  await frame.click('[data-testid="gen-cancel"]');
  await s.shot('generate-cancelled');
  await frame.locator('[data-testid="gen-status"]', { hasText: 'Cancelled' }).waitFor({ timeout: 30_000 });
  assert.equal(await frame.locator('[data-testid="gen-token"]').count(), 5, 'nothing was added');
  // A short sampled Continue: one more token, drawn with its probability shown.
  await pressContinue(1, 6);
  assert.match(
    (await frame.textContent('[data-testid="gen-status"]')) ?? '',
    /sampling: temperature 1, top-p 0.9, seed 42/,
  );
  assert.match((await frame.locator('.gen-drawn').last().textContent()) ?? '', /^drawn with \d+(\.\d+)?%$/);
  await s.shot('generate-sampled');
});
