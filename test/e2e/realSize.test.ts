// A real-sized model at its full length, as a person meets it: a GPT-2-small-sized checkpoint
// (12 layers × 12 heads, 768 wide, 1,024 positions, F32; random weights from a seed, generated into
// os.tmpdir() by scripts/bench/checkpoints.ts and reused) set as attentionLens.modelFile, a text of
// more than 1,024 tokens selected and right-clicked. The panel shows layer 0's 1,024 × 1,024
// attention; the panel's own controls switch head, stage and layer; a window reload brings back
// the same stage and head; the whole trace exported as safetensors reads back equal, bit for bit
// and tensor by tensor, to the CLI's eager run on the same folder and text. Timings are logged.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, closeSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Frame } from 'playwright-core';
import {
  answerSaveDialog,
  extensionLog,
  launch,
  openFile,
  panelFrame,
  runCommand,
  selectAllMenu,
  type Session,
} from './harness';
import { ensureScaleCheckpoint, GPT2_SMALL } from '../../scripts/bench/checkpoints';
import { indexPathFor, readTraceExport, type TraceIndex } from '../../src/model/formats/safetensorsWriter';
import { readSafetensorsHeader } from '../../src/model/formats/safetensors';
// @ts-expect-error: plain ESM helper
import { ROOT } from '../../scripts/codeServer.mjs';

/** GPT-2's stages: tokens, embedding, six per layer, the output. */
const STAGES = 2 + 6 * GPT2_SMALL.layers + 1;
/** A run at 1,024 tokens takes 60–160 s here, more when the machine is shared. */
const RUN_MS = 420_000;
const WORDS = ['once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'girl', 'named', 'Mia', 'who'];
// Twenty lines of 60 words: about 6,400 characters, far more than 1,024 tokens of the fixture vocabulary.
const TEXT =
  Array.from({ length: 20 }, (_, l) => Array.from({ length: 60 }, (_, i) => WORDS[(l * 60 + i) % 12]).join(' ')).join(
    '\n',
  ) + '\n';

let s: Session;
let frame: Frame;
let folder: string;
let cliExport: string;
let cliDone: Promise<void>;
let cli: ChildProcess | undefined;
const timings: Record<string, number> = {};

function log(what: string, ms: number): void {
  timings[what] = ms;
  console.log(`real size (GPT-2-small-sized, 1024 tokens): ${what} ${(ms / 1000).toFixed(2)} s`);
}

before(async () => {
  const model = ensureScaleCheckpoint(GPT2_SMALL);
  folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-realsize-'));
  writeFileSync(path.join(folder, 'long.txt'), TEXT);
  // The CLI's eager run of the same folder and text, started now: it overlaps code-server's start.
  cliExport = path.join(folder, 'cli.safetensors');
  const t0 = performance.now();
  cliDone = new Promise((resolve, reject) => {
    const child = (cli = spawn(
      process.execPath,
      [
        path.join(ROOT, 'dist', 'cli.js'),
        '--model',
        model,
        '--max-tokens',
        '1024',
        '--file',
        path.join(folder, 'long.txt'),
        '--export',
        cliExport,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ));
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      cli = undefined;
      log('CLI eager run + export', performance.now() - t0);
      if (code === 0) resolve();
      else reject(new Error(`the CLI exited with ${code}: ${err.slice(-2000)}`));
    });
  });
  cliDone.catch(() => undefined);
  s = await launch({
    folder,
    settings: {
      'security.workspace.trust.enabled': false,
      'attentionLens.modelFile': path.join(model, 'config.json'),
      'attentionLens.maxTokens': 1024,
      'attentionLens.memoryBudgetMB': 8192,
      'attentionLens.runTimeoutSeconds': 900,
    },
  });
});
after(async () => {
  if (cli?.pid) process.kill(cli.pid);
  await s?.close();
  // Two 1.6 GB exports: not left in the temporary folder (the checkpoint is kept for the next run).
  if (folder) rmSync(folder, { recursive: true, force: true });
});

const title = async (): Promise<string> => (await frame.textContent('[data-testid="stage-title"]')) ?? '';
const caption = async (testid: string): Promise<string> =>
  ((await frame.textContent(`figure:has([data-testid="heatmap-${testid}"]) figcaption`)) ?? '').trim();
const firstCaption = async (): Promise<string> =>
  ((await frame.textContent('figure:has(canvas.heatmap) figcaption')) ?? '').trim();
/** A checksum of the heatmap's pixels (a different head or stage draws different ones). */
const pixels = (testid: string): Promise<number> =>
  frame.$eval(`[data-testid="heatmap-${testid}"]`, (c) => {
    const cv = c as HTMLCanvasElement;
    const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]!) >>> 0;
    return h;
  });

/** Waits until the stage title matches and its heatmap `testid` is drawn; the time it took. */
async function until(re: RegExp, testid: string, timeout = 60_000): Promise<void> {
  await frame.waitForFunction(
    ([src, id]) =>
      new RegExp(src!).test(document.querySelector('[data-testid="stage-title"]')?.textContent ?? '') &&
      document.querySelector(`[data-testid="heatmap-${id}"]`) !== null,
    [re.source, testid],
    { timeout },
  );
}

/** Opens the all-heads grid, times it until a thumbnail is painted, then goes back to layer 5, head 1 by its thumbnail. */
async function openGrid(what: string, shot: string): Promise<void> {
  const t = performance.now();
  await frame.click('[data-testid="view-grid"]');
  await frame.waitForFunction(
    () => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="heads-grid-self"] canvas.thumb');
      if (!c) return false;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
      return false;
    },
    undefined,
    { timeout: 120_000 },
  );
  log(what, performance.now() - t);
  // The host's account of its slow fetches so far (the grid's, and any prefetch it waited behind).
  for (const line of extensionLog(s)
    .split('\n')
    .filter((l) => /the panel's fetch of/.test(l))
    .slice(-8))
    console.log(`host log: ${line}`);
  assert.equal(await frame.locator('[data-testid="heads-grid-self"] canvas.thumb').count(), 12 * 13);
  assert.match(
    (await frame.textContent('[data-testid="grid-note-self"]')) ?? '',
    /Pooled: each pixel is the mean of 15 × 15 weights of the 1024 × 1024 matrix\./,
  );
  await s.shot(shot);
  // A thumbnail opens its head.
  await frame.click('[aria-label^="self-attention, layer 5 head 1:"]');
  await until(/Layer 5: attention weights/, 'weights');
  assert.match(await caption('weights'), /· head 1( ·|$)/);
}

test(
  'right-click on 1,024 tokens → layer 0’s 1,024 × 1,024 attention weights in the panel',
  { timeout: 600_000 },
  async () => {
    await openFile(s.page, 'long.txt');
    const item = await selectAllMenu(s.page, 'Visualise attention');
    await s.shot('real-size-menu');
    const t0 = performance.now();
    await item.click();
    frame = await panelFrame(s.page, '[data-testid="stage-position"]', RUN_MS);
    log('right-click → panel (first partial trace)', performance.now() - t0);
    // As a learner would, while later layers still run: the bar's "decoder layers", then "weights".
    const layers = frame.locator('nav.pipeline button.phase', { hasText: 'decoder layers' });
    await layers.waitFor({ timeout: RUN_MS });
    await layers.click();
    // The section opens on layer 0's input, with that layer's attention steps beside it.
    await frame.waitForFunction(() =>
      /^Layer 0/.test(document.querySelector('[data-testid="stage-title"]')?.textContent ?? ''),
    );
    const weights = frame.locator('nav.pipeline .steps button', { hasText: 'weights' });
    await weights.waitFor({ state: 'visible', timeout: 60_000 });
    await weights.click();
    await until(/Layer 0: attention weights/, 'weights', RUN_MS);
    log('right-click → first heatmap (layer 0)', performance.now() - t0);
    const midRun = (await frame.textContent('nav.pipeline .stream-note')) ?? '';
    console.log(`real size: with layer 0's heatmap painted, the stage bar said “${midRun}”`);
    await s.shot('real-size-L0-weights-mid-run');
    await frame.waitForFunction(
      (n) => document.querySelector('[data-testid="stage-position"]')?.textContent?.endsWith(`/ ${n}`),
      STAGES,
      { timeout: RUN_MS },
    );
    log('right-click → panel with every stage', performance.now() - t0);
    assert.match(await title(), /Layer 0: attention weights/, 'the user is where they were when the run ends');
    const aria = (await frame.getAttribute('[data-testid="heatmap-weights"]', 'aria-label')) ?? '';
    assert.match(aria, /^weights \[12 head × 1024 query × 1024 key\]/, aria);
    assert.match(await caption('weights'), /· head 0( ·|$)/);
    await s.shot('real-size-L0-weights-head0');
  },
);

test(
  'the panel’s controls switch head, stage and layer, each with its title and heatmap',
  { timeout: 300_000 },
  async () => {
    const head0 = await pixels('weights');
    let t = performance.now();
    await frame.click('[aria-label="Next head"]');
    await frame.waitForFunction(
      () =>
        / · head 1( ·|$)/.test(
          document.querySelector('figure:has([data-testid="heatmap-weights"]) figcaption')?.textContent ?? '',
        ),
      undefined,
      { timeout: 60_000 },
    );
    log('head switch (0 → 1)', performance.now() - t);
    assert.notEqual(await pixels('weights'), head0, 'head 1 draws the same pixels as head 0');
    assert.match(await title(), /Layer 0: attention weights/);
    await s.shot('real-size-L0-weights-head1');

    t = performance.now();
    await frame.click('[data-testid="next-stage"]');
    await until(/Layer 0: context vectors/, 'context');
    log('stage switch (weights → context)', performance.now() - t);
    assert.match(
      (await frame.getAttribute('[data-testid="heatmap-context"]', 'aria-label')) ?? '',
      /^context \[12 head × 1024 query × 64 d_head\]/,
    );
    assert.match(await caption('context'), /· head 1( ·|$)/);
    await s.shot('real-size-L0-context-head1');

    t = performance.now();
    await frame.click('[data-testid="prev-stage"]');
    await until(/Layer 0: attention weights/, 'weights');
    log('stage switch (context → weights)', performance.now() - t);

    // The layer picker, as a person uses it: open it, click "Layer 5".
    t = performance.now();
    await frame.click('[data-testid="layer-select"]');
    await frame
      .locator('[data-testid="layer-select"]')
      .getByText('Layer 5', { exact: true })
      .filter({ visible: true })
      .first()
      .click();
    await until(/Layer 5: attention weights/, 'weights');
    log('layer switch (0 → 5)', performance.now() - t);
    assert.match(await caption('weights'), /· head 1( ·|$)/);
    assert.match(
      (await frame.getAttribute('[data-testid="heatmap-weights"]', 'aria-label')) ?? '',
      /^weights \[12 head × 1024 query × 1024 key\]/,
    );
    await s.shot('real-size-L5-weights-head1');

    // The all-heads grid: 12 layers × 12 heads pooled as the run went, painted at once.
    await openGrid('grid (12 layers × 12 heads) painted', 'real-size-grid');
  },
);

test('a window reload brings the panel back at the same stage and head', { timeout: 600_000 }, async () => {
  const before = await title();
  const shown = await firstCaption();
  assert.match(shown, /· head 1( ·|$)/);
  const header = async (): Promise<string> => (await frame.locator('header.model').textContent()) ?? '';
  // The run's own elapsed time is in the header: a run made again would (almost surely) differ.
  const ran = await header();
  // The run is kept in light form (each layer's input) once the panel shows it.
  for (const t0 = Date.now(); !/kept the run for a reload/.test(extensionLog(s)) && Date.now() - t0 < 60_000; )
    await new Promise((r) => setTimeout(r, 500));
  assert.match(extensionLog(s), /kept the run for a reload of the panel \(light form/);
  const t0 = performance.now();
  await runCommand(s.page, 'Developer: Reload Window');
  await s.page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
  log('reload → workbench', performance.now() - t0);
  // The saved state holds the run's reference and the cursor: the worker adopts the kept light form
  // (no run) and makes the shown layer again from its input.
  frame = await panelFrame(s.page, '[data-testid="stage-title"]', RUN_MS);
  await frame.waitForFunction(
    (t) =>
      document.querySelector('[data-testid="stage-title"]')?.textContent === t &&
      document.querySelector('figure:has(canvas.heatmap) figcaption') !== null,
    before,
    { timeout: RUN_MS },
  );
  log('reload → panel restored', performance.now() - t0);
  const restored = /restored the panel's run from the cache in (\d+) ms/.exec(extensionLog(s));
  assert.ok(restored, 'read from the restore cache, not run again');
  log('reload: cache read + model loaded + adopted (host log)', Number(restored[1]));
  // The host's own account of the reload, with its times, for whoever reads the CI log.
  const lines = extensionLog(s).split('\n');
  const from = lines.map((l) => /restoring the panel's run/.test(l)).lastIndexOf(true);
  for (const line of lines.slice(Math.max(0, from))) console.log(`host log: ${line}`);
  assert.equal(await title(), before);
  assert.equal(await firstCaption(), shown);
  const now = await header();
  assert.match(now, /Restored from the cache/);
  // Name, tokens, backend and the run's own time: the very run, not a new one.
  const runPart = (text: string): string | undefined => /^[^]*? ms /.exec(text)?.[0];
  assert.ok(runPart(ran), ran);
  assert.equal(runPart(now), runPart(ran));
  await s.shot('real-size-restored');
  // The grid was kept with the run: read back, not pooled from 12 layers made again.
  await openGrid('grid after the reload (kept with the run)', 'real-size-restored-grid');
});

test(
  'the whole trace exported as safetensors equals the CLI’s eager run, tensor by tensor, bit for bit',
  { timeout: 600_000 },
  async () => {
    const file = path.join(folder, 'panel.safetensors');
    const t0 = performance.now();
    await runCommand(s.page, 'Attention Lens: Export the run as safetensors…');
    await answerSaveDialog(s.page, file);
    await s.page.locator('.notifications-toasts', { hasText: 'exported' }).first().waitFor({ timeout: 300_000 });
    log('whole-trace export', performance.now() - t0);
    await s.shot('real-size-exported');
    assert.ok(existsSync(indexPathFor(file)));
    await cliDone;
    // The panel's export through the reader a user would use (one 1.6 GB copy in memory); the CLI's
    // file is read one tensor at a time beside it.
    const got = await readTraceExport(file);
    const want = JSON.parse(readFileSync(indexPathFor(cliExport), 'utf8')) as TraceIndex;
    assert.equal(got.tokens.length, 1024);
    assert.deepEqual(
      got.tokens.map((tk) => tk.text),
      want.tokens.map((tk) => tk.text),
    );
    assert.deepEqual(
      got.stages.map((st) => st.id),
      want.stages.map((st) => st.id),
    );
    const header = await readSafetensorsHeader(cliExport);
    const entries = new Map(header.tensors.map((e) => [e.name, e]));
    const fd = openSync(cliExport, 'r');
    let compared = 0;
    let bytes = 0;
    const keys = new Set<string>();
    try {
      for (const [i, st] of want.stages.entries())
        for (const wt of st.tensors) {
          const g = got.stages[i]!.tensors.find((x) => x.name === wt.name);
          assert.ok(g, `${st.id}/${wt.name} missing from the panel's export`);
          assert.deepEqual(g.shape, wt.shape, `${st.id}/${wt.name}`);
          const e = entries.get(wt.key)!;
          assert.equal(e.dtype, 'F32');
          const buf = Buffer.allocUnsafe(e.end - e.begin);
          assert.equal(readSync(fd, buf, 0, buf.length, e.begin), buf.length);
          const mine = Buffer.from(g.data.buffer, g.data.byteOffset, g.data.byteLength);
          assert.ok(mine.equals(buf), `${st.id}/${wt.name} differs from the CLI's eager run`);
          compared++;
          keys.add(wt.key);
          bytes += buf.length;
        }
    } finally {
      closeSync(fd);
    }
    // The export stores a tensor the trace repeats (a layer's input is the previous layer's output) once.
    assert.equal(keys.size, header.tensors.length);
    assert.equal(
      compared,
      want.stages.reduce((n, st) => n + st.tensors.length, 0),
    );
    console.log(
      `real size: ${compared} tensors, ${(bytes / 2 ** 20).toFixed(0)} MB compared bit for bit; timings ${JSON.stringify(timings)}`,
    );
  },
);
