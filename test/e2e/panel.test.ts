// The panel as a learner uses it: step through every stage, read exact values, switch views,
// what-if, export, reload; untrusted token text stays text. Screenshots in light and dark.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, mkdtempSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  answerSaveDialog,
  cliTrace,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  runCommand,
  selectLine,
  type Session,
} from './harness';
import { findTensor } from '../../shared/trace';

const TEXT = 'The black cat sat on the warm mat.';
let s: Session;
let frame: Frame;
before(async () => {
  s = await launch({ settings: { 'attentionLens.model': 'toy-self-attention' }, colorTheme: 'Default Light Modern' });
  await openFile(s.page, 'translation.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  frame = await panelFrame(s.page, '[data-testid="tokens"]');
});
after(async () => {
  await s?.close();
});

async function title(): Promise<string> {
  return (await frame.textContent('[data-testid="stage-title"]')) ?? '';
}

test('every stage is reachable with the panel’s buttons, each with its own title and shapes', async () => {
  const seen: string[] = [await title()];
  await s.shot('panel-light-tokens');
  for (let i = 0; i < 20; i++) {
    const before = await frame.textContent('[data-testid="stage-position"]');
    await frame.click('[data-testid="next-stage"]');
    const after = await frame.textContent('[data-testid="stage-position"]');
    if (after === before) break;
    seen.push(await title());
    await s.shot(`panel-light-stage-${seen.length}`);
  }
  const trace = cliTrace('toy-self-attention', TEXT);
  assert.deepEqual(
    seen,
    trace.stages.map((st) => st.title),
  );
  assert.match((await frame.textContent('[data-testid="shape-context"]')) ?? '', /\[2 head × 9 query × \d+ d_k\]/);
  for (let i = 0; i < 20; i++) await frame.click('[data-testid="prev-stage"]');
  assert.equal(await title(), trace.stages[0]!.title);
});

test('hovering a heatmap cell reads the exact value the model computed', async () => {
  const trace = cliTrace('toy-self-attention', TEXT);
  const stageIndex = trace.stages.findIndex((st) => st.kind === 'normalise');
  for (let i = 0; i < stageIndex; i++) await frame.click('[data-testid="next-stage"]');
  const canvas = frame.locator('[data-testid="heatmap-weights"]');
  await canvas.waitFor();
  // Keyboard: focus the heatmap and move the cell cursor to (query 3 "sat", key 2 "cat").
  await canvas.focus();
  for (const k of ['ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowRight', 'ArrowRight']) await canvas.press(k);
  const text = (await frame.textContent('[data-testid="readout-weights"]')) ?? '';
  const w = findTensor(trace.stages[stageIndex]!, 'weights')!;
  const n = w.shape[1]!;
  const expected = w.data[3 * n + 2]!;
  const shownValue = Number(/= (-?[\d.e-]+)$/.exec(text)?.[1]);
  assert.match(text, /sat \(#3\).*cat \(#2\)/);
  assert.ok(Math.abs(shownValue - expected) < 1e-4, `${text} vs ${expected}`);
  await s.shot('panel-light-heatmap-cursor');
});

test('what-if: sparsemax on the same scores gives exact zeros and a different heatmap', async () => {
  await frame.click('[data-testid="whatif-sparsemax"]');
  await frame.locator('[data-testid="heatmap-whatif-weights"]').waitFor({ timeout: 30_000 });
  await frame.locator('[data-testid="heatmap-whatif-diff"]').waitFor();
  assert.equal(await frame.getAttribute('[data-testid="whatif-sparsemax"]', 'aria-pressed'), 'true');
  // Read a row of the what-if weights with the keyboard cursor: sparsemax leaves exact zeros.
  const canvas = frame.locator('[data-testid="heatmap-whatif-weights"]');
  await canvas.focus();
  const values: number[] = [];
  for (let k = 0; k < 9; k++) {
    await canvas.press(k === 0 ? 'ArrowDown' : 'ArrowRight');
    if (k === 0) await canvas.press('ArrowUp');
    values.push(
      Number(/= (-?[\d.e-]+)$/.exec((await frame.textContent('[data-testid="readout-whatif-weights"]')) ?? '')?.[1]),
    );
  }
  assert.ok(
    values.some((v) => v === 0),
    `sparsemax row ${values.join(', ')} has no exact zero`,
  );
  assert.ok(Math.abs(values.reduce((a, b) => a + b, 0) - 1) < 1e-3, `row sums to ${values.reduce((a, b) => a + b, 0)}`);
  // The general and additive toggles are live for the toy model (it has W, W₁, W₂, v).
  assert.equal(await frame.isDisabled('[data-testid="whatif-additive"]'), false);
  await s.shot('panel-light-whatif-sparsemax');
});

test('export CSV through the save dialog writes the heatmap’s numbers', async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'attention-lens-export-')), 'weights.csv');
  await frame.click('[data-testid="export-csv"]');
  await answerSaveDialog(s.page, file);
  const deadline = Date.now() + 15_000;
  let csv = '';
  while (Date.now() < deadline) {
    // The file may still be being written: wait until two reads 300 ms apart agree.
    let now = '';
    try {
      now = readFileSync(file, 'utf8');
    } catch {
      /* not written yet */
    }
    if (now !== '' && now === csv) break;
    csv = now;
    await new Promise((r) => setTimeout(r, 300));
  }
  const trace = cliTrace('toy-self-attention', TEXT);
  const w = findTensor(trace.stages.find((st) => st.kind === 'normalise')!, 'weights')!;
  const n = w.shape[1]!;
  const rows = csv.trim().split('\n');
  assert.equal(rows.length, n + 1);
  assert.match(rows[0]!, /0:The,1:black,2:cat/);
  const got = rows.slice(1).flatMap((r) => r.split(',').slice(1).map(Number));
  got.forEach((v, i) => assert.ok(Math.abs(v - w.data[i]!) < 1e-6, `cell ${i}: ${v} vs ${w.data[i]}`));
});

test('head view and all-heads grid', async () => {
  await frame.click('[data-testid="view-lines"]');
  await frame.locator('[data-testid="lines"]').waitFor();
  await s.shot('panel-light-lines');
  await frame.click('[data-testid="view-grid"]');
  await frame.locator('[data-testid="heads-grid-self"]').waitFor();
  await s.shot('panel-light-grid');
  await frame.locator('[data-testid="heads-grid-self"] button').nth(1).click();
  await frame.locator('[data-testid="heatmap-weights"]').waitFor();
});

test('the panel comes back after a window reload with the same stage, read from the restore cache', async () => {
  const before = await title();
  const header = async (): Promise<string> => (await frame.locator('header.model').textContent()) ?? '';
  // The run's own elapsed time is in the header: a run made again would (almost surely) differ.
  const ran = await header();
  const dir = path.join(s.userDataDir, 'User', 'globalStorage', 'attention-lens.attention-lens', 'restore');
  const kept = (): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.trace')) : []);
  for (const t0 = Date.now(); kept().length === 0 && Date.now() - t0 < 15_000; )
    await new Promise((r) => setTimeout(r, 200));
  assert.ok(kept().length > 0, `a run is kept in ${dir}`);
  const used = (): number => Math.max(...kept().map((f) => statSync(path.join(dir, f)).mtimeMs));
  const keptAt = used();
  await runCommand(s.page, 'Developer: Reload Window');
  await s.page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  frame = await panelFrame(s.page, '[data-testid="stage-title"]', 60_000);
  assert.equal(await title(), before);
  assert.equal(await header(), ran, 'the very run, not a new one');
  assert.ok(used() > keptAt, 'the kept run was read (reading marks it used)');
  await s.shot('panel-light-restored');
});

test('untrusted token text is shown as text, never run as HTML', async () => {
  const dialogs: string[] = [];
  s.page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await runCommand(s.page, 'File: New Untitled Text File');
  await s.page.waitForSelector('.monaco-editor.focused', { timeout: 10_000 });
  await s.page.keyboard.type('<img src=x onerror=alert(1)> </script><script>alert(2)</script>');
  await s.page.keyboard.press('Control+A');
  await runCommand(s.page, 'Attention Lens: Visualise attention');
  await s.page.waitForTimeout(3000);
  frame = await panelFrame(s.page, '[data-testid="tokens"]');
  for (let i = 0; i < 20 && !(await frame.$('[data-testid="tokens"]')); i++)
    await frame.click('[data-testid="prev-stage"]');
  const texts = await frame.$$eval('[data-testid="tokens"] .tok-text', (els) => els.map((e) => e.textContent ?? ''));
  assert.ok(texts.join('').includes('<img'), texts.join('|'));
  assert.equal(await frame.$$eval('#app img, #app script', (els) => els.length), 0);
  assert.deepEqual(dialogs, []);
  await s.shot('panel-xss-as-text');
});
