// Long inputs stay legible (issue #16, item 11), as a person uses the panel in code-server: 600
// tokens on the toy self-attention model (TinyStories stops at its 512 positions and the english
// encoder at 128, so neither takes 600). The weights heatmap fits the panel, pooled and saying so;
// the +/− buttons, Ctrl+wheel and the keyboard zoom; the minimap and a drag pan; the labels drawn
// are the visible tokens' own text; a query range is chosen with the inputs and with a shift-drag;
// the next head keeps the window; a CSV export of the window says it is one; the lines and head
// views stay at most 480 px tall and scroll; the view tabs stay on one row in a narrow window.
// Dark and light themes, screenshots looked at.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Frame } from 'playwright-core';
import { traceFromJson } from '../../shared/codec';
import type { Trace } from '../../shared/trace';
import {
  answerSaveDialog,
  explorerRow,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  RESULTS,
  type Session,
} from './harness';
import { tokenLabel } from '../../shared/tensorView';

const WORDS = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog', 'ran', 'to', 'park', 'with', 'red', 'ball'];
// 600 words on 30 lines (one 3,000-character line would run off the screen to be right-clicked).
const TEXT = Array.from({ length: 30 }, (_, l) =>
  Array.from({ length: 20 }, (_, i) => WORDS[(l * 20 + i) % WORDS.length]).join(' '),
).join('\n');
const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-long-'));
writeFileSync(path.join(folder, 'long.txt'), TEXT);
const MODEL = 'toy-self-attention';
const ROOT = path.dirname(RESULTS);

let s: Session | undefined;
after(async () => {
  await s?.close();
});

interface Shown {
  view: [number, number, number, number];
  cell: number;
  cellH: number;
  left: number;
  top: number;
  rows: number[];
  cols: number[];
  rowText: string[];
  colText: string[];
  box: { x: number; y: number; width: number; height: number };
}

async function shown(frame: Frame): Promise<Shown> {
  const c = frame.locator('[data-testid="heatmap-weights"]');
  const d = await c.evaluate((el) => ({ ...(el as HTMLElement).dataset }));
  const nums = (x: string | undefined): number[] => (x ? x.split(',').map(Number) : []);
  return {
    view: nums(d.view) as Shown['view'],
    cell: Number(d.cell),
    cellH: Number(d.cellH),
    left: Number(d.plotLeft),
    top: Number(d.plotTop),
    rows: nums(d.rowLabels),
    cols: nums(d.colLabels),
    rowText: JSON.parse(d.rowLabelText ?? '[]') as string[],
    colText: JSON.parse(d.colLabelText ?? '[]') as string[],
    box: (await c.boundingBox())!,
  };
}

/** The heatmap (and its minimap) lie inside the panel, and nothing makes the panel scroll sideways. Returns the panel's width. */
async function fits(frame: Frame, what: string): Promise<number> {
  // No named helpers inside evaluate: tsx would wrap them in a __name the page does not have.
  const m = await frame.evaluate(() => ({
    width: document.documentElement.clientWidth,
    scroll: document.documentElement.scrollWidth,
    heatmap: document.querySelector('[data-testid="heatmap-weights"]')?.getBoundingClientRect().right ?? 0,
    minimap: document.querySelector('[data-testid="minimap-weights"]')?.getBoundingClientRect().right ?? 0,
  }));
  assert.ok(m.heatmap <= m.width && m.minimap <= m.width, `${what}: ${JSON.stringify(m)}`);
  assert.ok(m.scroll <= m.width, `${what}: the panel scrolls sideways ${JSON.stringify(m)}`);
  return m.width;
}

async function open(theme: 'Default Dark Modern' | 'Default Light Modern'): Promise<Frame> {
  await s?.close();
  for (let i = 0; ; i++) {
    try {
      s = await launch({
        folder,
        colorTheme: theme,
        settings: { 'attentionLens.model': MODEL, 'attentionLens.maxTokens': 2048 },
      });
      break;
    } catch (e) {
      if (i >= 2) throw e;
    }
  }
  await explorerRow(s.page, 'long.txt').waitFor({ timeout: 90_000 });
  for (let i = 0; ; i++) {
    try {
      await openFile(s.page, 'long.txt');
      break;
    } catch (e) {
      if (i >= 3) throw e;
      await s.page.keyboard.press('Escape');
    }
  }
  await s.page.click('.monaco-editor .view-lines');
  await s.page.keyboard.press('Control+A');
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="tokens"]', 180_000);
  // Next stage until the weights: each click waits for the title to change (600 tokens take a moment to draw).
  for (let i = 0; i < 20; i++) {
    const t = (await frame.textContent('[data-testid="stage-title"]')) ?? '';
    if (/Attention weights/.test(t)) break;
    await frame.click('[data-testid="next-stage"]');
    await frame.waitForFunction(
      (was) => document.querySelector('[data-testid="stage-title"]')?.textContent !== was,
      t,
      { timeout: 60_000 },
    );
  }
  await frame
    .locator('[data-testid="heatmap-weights"]')
    .waitFor({ timeout: 60_000 })
    .catch(async (e: unknown) => {
      await s!.shot('long-no-heatmap');
      throw e;
    });
  return frame;
}

/** The CLI's trace of the same text with the same 2,048-token limit (the harness's cliTrace keeps the default 256). */
function longTrace(): Trace {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'attention-lens-long-cli-')), 'trace.json');
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'dist', 'cli.js'), '--model', MODEL, '--max-tokens', '2048', '--json', out, TEXT],
    { stdio: 'pipe' },
  );
  return traceFromJson(JSON.parse(readFileSync(out, 'utf8')));
}

const labelsOk = (sh: Shown, tokens: readonly string[], what: string): void => {
  assert.deepEqual(
    sh.rowText,
    sh.rows.map((i) => clip(tokens[i]!)),
    `${what}: row labels`,
  );
  assert.deepEqual(
    sh.colText,
    sh.cols.map((i) => clip(tokens[i]!)),
    `${what}: column labels`,
  );
  const [r0, nr, c0, nc] = sh.view;
  assert.ok(sh.rows.every((i) => i >= r0 && i < r0 + nr) && sh.cols.every((i) => i >= c0 && i < c0 + nc), what);
  for (const [list, size] of [
    [sh.rows, sh.cellH],
    [sh.cols, sh.cell],
  ] as const)
    for (let j = 1; j < list.length; j++)
      assert.ok((list[j]! - list[j - 1]!) * size >= 10, `${what}: labels ${list[j - 1]} and ${list[j]} overlap`);
};
const clip = (label: string): string => ([...label].length > 14 ? [...label].slice(0, 13).join('') + '…' : label);

test('600 tokens: fit, zoom, pan, minimap, labels, query range, head switch, export, lines and head views (dark)', async () => {
  const trace = longTrace();
  const T = trace.tokens.length;
  assert.equal(T, 600);
  const tokens = trace.tokens.map(tokenLabel);
  const frame = await open('Default Dark Modern');
  const page = s!.page;

  // ---- fits the panel, pooled, and the caption says how
  let sh = await shown(frame);
  const panelW = await fits(frame, 'fit');
  assert.deepEqual(sh.view, [0, T, 0, T]);
  assert.ok(sh.cell < 1, `${sh.cell} px cells`);
  const k = Math.ceil(1 / sh.cell - 1e-9);
  const kH = Math.ceil(1 / sh.cellH - 1e-9);
  assert.equal(
    ((await frame.textContent('[data-testid="pooling-weights"]')) ?? '').trim(),
    `· each pixel: max of ${kH}×${k} cells`,
  );
  assert.match(
    (await frame.textContent('[data-testid="window-weights"]')) ?? '',
    /^Showing the whole 600 × 600 matrix/,
  );
  assert.equal(await frame.locator('[data-testid="minimap-weights"]').isHidden(), true, 'no minimap when not zoomed');
  labelsOk(sh, tokens, 'fit');
  const fitMs = Number(await frame.getAttribute('[data-testid="heatmap-weights"]', 'data-draw-ms'));
  assert.ok(sh.rows.length >= 10, `${sh.rows.length} row labels`);
  await s!.shot('long-dark-fit');

  // ---- + button twice: a quarter of each axis, about the centre
  await frame.click('[data-testid="zoom-in-weights"]');
  await frame.click('[data-testid="zoom-in-weights"]');
  sh = await shown(frame);
  assert.deepEqual([sh.view[1], sh.view[3]], [150, 150]);
  assert.equal(await frame.locator('[data-testid="minimap-weights"]').isVisible(), true, 'the minimap appears');
  assert.match(
    (await frame.textContent('[data-testid="window-weights"]')) ?? '',
    new RegExp(
      `^Showing queries #${sh.view[0]}–#${sh.view[0] + 149}, keys #${sh.view[2]}–#${sh.view[2] + 149} of 600 × 600`,
    ),
  );
  labelsOk(sh, tokens, 'zoom ×4');
  await frame.click('[data-testid="zoom-out-weights"]');
  assert.deepEqual([(await shown(frame)).view[1], (await shown(frame)).view[3]], [300, 300], '− halves the zoom');

  // ---- Ctrl+wheel zooms about the pointer: the cell under it stays under it
  sh = await shown(frame);
  const px = sh.box.x + sh.left + 120.3;
  const py = sh.box.y + sh.top + 80.3;
  const under = (v: Shown): [number, number] => [
    v.view[0] + Math.floor((py - v.box.y - v.top) / v.cellH),
    v.view[2] + Math.floor((px - v.box.x - v.left) / v.cell),
  ];
  const before = under(sh);
  await page.mouse.move(px, py);
  await page.keyboard.down('Control');
  for (let i = 0; i < 3; i++) {
    await page.mouse.wheel(0, -100);
    await page.waitForTimeout(150);
  }
  await page.keyboard.up('Control');
  sh = await shown(frame);
  assert.ok(sh.view[3] < 300 && sh.view[3] >= 150, `Ctrl+wheel zoomed to ${sh.view[3]} columns`);
  const afterCell = under(sh);
  assert.ok(
    Math.abs(afterCell[0] - before[0]) <= 1 && Math.abs(afterCell[1] - before[1]) <= 1,
    `under the pointer: ${before} then ${afterCell}`,
  );
  // Hovering a cell's centre reads out that cell.
  const hr = sh.view[0] + 7;
  const hc = sh.view[2] + 11;
  await page.mouse.move(
    sh.box.x + sh.left + (hc - sh.view[2] + 0.5) * sh.cell,
    sh.box.y + sh.top + (hr - sh.view[0] + 0.5) * sh.cellH,
  );
  assert.match(
    (await frame.textContent('[data-testid="readout-weights"]')) ?? '',
    new RegExp(`^query ${tokens[hr]} \\(#${hr}\\) · key ${tokens[hc]} \\(#${hc}\\) = `),
  );

  // ---- keyboard: + until every token is labelled (cells ≥ 10 px), then 0 fits again
  await frame.focus('[data-testid="heatmap-weights"]');
  for (let i = 0; i < 6 && (await shown(frame)).cell < 10; i++) await page.keyboard.press('+');
  sh = await shown(frame);
  assert.ok(sh.cell >= 10, `${sh.cell} px`);
  assert.equal(sh.rows.length, sh.view[1], 'every visible query labelled');
  assert.equal(sh.cols.length, sh.view[3], 'every visible key labelled');
  labelsOk(sh, tokens, 'cells ≥ 10 px');
  const zoomedMs = Number(await frame.getAttribute('[data-testid="heatmap-weights"]', 'data-draw-ms'));
  const zoomedCells = `${sh.view[1]}×${sh.view[3]}`;
  await s!.shot('long-dark-zoomed-labels');

  // ---- the cell cursor scrolls into view when moved past the window's right edge
  const right = sh.view[2] + sh.view[3] - 1;
  await frame.focus('[data-testid="heatmap-weights"]');
  const start = await frame.textContent('[data-testid="readout-weights"]');
  assert.ok(start);
  for (let i = 0; i < sh.view[3] + 3; i++) await page.keyboard.press('ArrowRight');
  const moved = await shown(frame);
  assert.ok(moved.view[2] > sh.view[2], `the window followed the cursor: ${sh.view} → ${moved.view}`);
  const col = Number(
    /key .* \(#(\d+)\) = /.exec((await frame.textContent('[data-testid="readout-weights"]')) ?? '')?.[1],
  );
  assert.ok(col > right && col >= moved.view[2] && col < moved.view[2] + moved.view[3], `cursor at key ${col}`);

  // ---- drag the minimap's window rectangle: the window follows
  sh = moved;
  const mini = frame.locator('[data-testid="minimap-weights"]');
  const mb = (await mini.boundingBox())!;
  const rect = ((await mini.getAttribute('data-window')) ?? '').split(',').map(Number) as [
    number,
    number,
    number,
    number,
  ];
  const scale = mb.width / T;
  const cx = mb.x + rect[0] + rect[2] / 2;
  const cy = mb.y + rect[1] + rect[3] / 2;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx + 20, cy + 30, { steps: 5 });
  await page.mouse.up();
  const dragged = await shown(frame);
  assert.ok(
    Math.abs(dragged.view[2] - sh.view[2] - 20 / scale) <= 2 / scale + 1 &&
      Math.abs(dragged.view[0] - sh.view[0] - 30 / scale) <= 2 / scale + 1,
    `minimap drag by (20, 30) px at ${scale.toFixed(3)} px a cell: ${sh.view} → ${dragged.view}`,
  );
  labelsOk(dragged, tokens, 'after the minimap drag');

  // ---- drag the heatmap itself to pan
  const dx = 5 * dragged.cell;
  const hx = dragged.box.x + dragged.left + 100;
  const hy = dragged.box.y + dragged.top + 100;
  await page.mouse.move(hx, hy);
  await page.mouse.down();
  await page.mouse.move(hx - dx, hy, { steps: 4 });
  await page.mouse.up();
  const panned = await shown(frame);
  assert.equal(panned.view[2], Math.min(T - panned.view[3], dragged.view[2] + 5), 'dragged 5 cells left: 5 keys on');
  await s!.shot('long-dark-minimap');

  // ---- query range with the inputs, then with a shift-drag down the query axis
  await frame.fill('[data-testid="rows-from-weights"]', '100');
  await frame.fill('[data-testid="rows-to-weights"]', '119');
  await frame.click('[data-testid="rows-show-weights"]');
  sh = await shown(frame);
  assert.equal(sh.view[0], 100);
  assert.equal(sh.view[1], 20);
  assert.match((await frame.textContent('[data-testid="window-weights"]')) ?? '', /^Showing queries #100–#119, keys /);
  assert.deepEqual(
    sh.rows,
    Array.from({ length: 20 }, (_, i) => 100 + i),
    'each of the 20 queries labelled',
  );
  labelsOk(sh, tokens, 'queries 100–119');
  await frame.fill('[data-testid="rows-from-weights"]', '7');
  await frame.fill('[data-testid="rows-to-weights"]', '900');
  await frame.click('[data-testid="rows-show-weights"]');
  assert.equal(await frame.textContent('[data-testid="rows-error-weights"]'), 'Give two whole queries from 0 to 599.');
  assert.equal((await shown(frame)).view[0], 100, 'a bad range changes nothing');
  sh = await shown(frame);
  const ax = sh.box.x + sh.left / 2;
  const y0 = sh.box.y + sh.top + 2.5 * sh.cellH;
  await page.mouse.move(ax, y0);
  await page.keyboard.down('Shift');
  await page.mouse.down();
  await page.mouse.move(ax, y0 + 6 * sh.cellH, { steps: 4 });
  await page.mouse.up();
  await page.keyboard.up('Shift');
  const picked = await shown(frame);
  assert.deepEqual([picked.view[0], picked.view[1]], [102, 7], `shift-drag picked ${picked.view}`);
  await s!.shot('long-dark-query-range');

  // ---- the next head keeps the window (the figure is rebuilt for head 1)
  const canvasBefore = await frame.locator('[data-testid="heatmap-weights"]').elementHandle();
  await frame.click('vscode-button[aria-label="Next head"]');
  await frame.waitForFunction((old) => document.querySelector('[data-testid="heatmap-weights"]') !== old, canvasBefore);
  assert.match((await frame.textContent('figcaption')) ?? '', /head 1/);
  assert.deepEqual((await shown(frame)).view, picked.view, 'head 1 shows the same window');
  await frame.click('[data-testid="zoom-in-weights"]');
  const head1 = (await shown(frame)).view;
  assert.notDeepEqual(head1, picked.view);

  // ---- CSV of the zoomed window
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'attention-lens-long-csv-')), 'window.csv');
  await frame.click('[data-testid="export-csv"]');
  await answerSaveDialog(page, file);
  let csv = '';
  for (const deadline = Date.now() + 15_000; Date.now() < deadline && !csv.endsWith('\n'); ) {
    try {
      csv = readFileSync(file, 'utf8');
    } catch {
      /* not yet */
    }
    await page.waitForTimeout(300);
  }
  const lines = csv.trim().split('\n');
  const [r0, nr, c0, nc] = head1;
  assert.equal(lines.length, nr + 1);
  assert.ok(
    lines[0]!.startsWith(
      `"query \\ key (zoomed window: queries #${r0}–#${r0 + nr - 1}, keys #${c0}–#${c0 + nc - 1} of 600 × 600)"`,
    ),
    lines[0],
  );
  const w = trace.stages
    .find((x) => x.tensors.some((t) => t.name === 'weights'))!
    .tensors.find((t) => t.name === 'weights')!;
  const cells = lines[1]!.split(',');
  assert.equal(cells[0], `${r0}:${tokens[r0]}`);
  assert.equal(cells.length, nc + 1);
  for (const j of [0, nc - 1]) {
    const want = w.data[(1 * T + r0) * T + c0 + j]!;
    assert.ok(Math.abs(Number(cells[j + 1]) - want) < 1e-7, `query ${r0}, key ${c0 + j}: ${cells[j + 1]} vs ${want}`);
  }

  await s!.shot('long-dark-head1');

  // ---- lines view: every token labelled, at most 480 px, scrolls to the last token
  await frame.click('[data-testid="view-lines"]');
  const lc = frame.locator('canvas.lines');
  await lc.waitFor();
  assert.ok((await lc.boundingBox())!.height <= 480, 'the lines figure is bounded');
  assert.match((await frame.textContent('[data-testid="lines-note"]')) ?? '', /600 tokens: scroll inside the figure/);
  assert.match(
    (await frame.textContent('[data-testid="lines-heads"]')) ?? '',
    /query \(#0–#599\) ↓.*key \(#0–#599\) ↓/,
  );
  await frame.locator('[data-testid="lines-scroll"]').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await frame.waitForFunction(() => document.querySelector<HTMLElement>('canvas.lines')?.dataset.lastRow === '599');
  // The readout says so when no line in view reaches the drawing threshold (a long input spreads each row thin).
  const drawnLines = await lc.getAttribute('data-lines');
  const linesReadout = (await frame.textContent('[data-testid="lines-readout"]')) ?? '';
  assert.equal(
    drawnLines === '0',
    linesReadout.includes('No line in view: every weight here is under 0.01'),
    linesReadout,
  );
  await s!.shot('long-dark-lines-bottom');

  // ---- head view: bounded, both columns labelled, the last token reachable by scrolling
  await frame.click('[data-testid="view-heads"]');
  const hs = frame.locator('[data-testid="head-scroll"]');
  await hs.waitFor();
  assert.ok((await hs.boundingBox())!.height <= 484, 'the head view is bounded');
  assert.equal(await frame.locator('.hv-tok.query').count(), T);
  assert.match((await frame.textContent('[data-testid="hv-heads"]')) ?? '', /queries \(#0–#599\).*keys \(#0–#599\)/);
  await frame.hover('[data-testid="hv-query-3"]');
  assert.equal(await frame.getAttribute('[data-testid="head-lines"]', 'data-focus'), 'query:3');
  await page.mouse.move(5, 5);
  await frame.focus('[data-testid="hv-query-599"]');
  assert.ok(((await hs.evaluate((el) => el.scrollTop)) as number) > 0, 'focusing the last query scrolled to it');
  assert.equal(await frame.getAttribute('[data-testid="head-lines"]', 'data-focus'), 'query:599');
  await s!.shot('long-dark-head-view');

  // ---- a narrow window: the tabs stay on one row, and the current one is in view
  await page.setViewportSize({ width: 900, height: 1000 });
  await page.waitForTimeout(800);
  const tabs = await frame
    .locator('[data-testid="view-switch"] .tab')
    .evaluateAll((els) => els.map((e) => ({ top: (e as HTMLElement).offsetTop, h: (e as HTMLElement).offsetHeight })));
  assert.equal(new Set(tabs.map((t) => t.top)).size, 1, `tabs on one row: ${JSON.stringify(tabs)}`);
  const row = await frame.locator('[data-testid="view-switch"]').evaluate((el) => ({
    h: el.clientHeight,
    scroll: el.scrollWidth > el.clientWidth,
  }));
  assert.ok(row.h <= tabs[0]!.h + 2, `one row high: ${row.h} px`);
  assert.ok(row.scroll, 'the tabs are wider than the narrow panel: the row scrolls sideways');
  await frame.click('[data-testid="view-heatmap"]');
  await frame.locator('[data-testid="heatmap-weights"]').waitFor();
  sh = await shown(frame);
  await fits(frame, 'narrow window');
  await s!.shot('long-dark-narrow');
  console.log(
    `long inputs: panel ${panelW} px, fit pooled ${kH}×${k}, drawn in ${fitMs} ms; zoomed to ${zoomedCells} cells, drawn in ${zoomedMs} ms; tab row scrolls: ${row.scroll}`,
  );
});

test('600 tokens in the light theme: fit, zoomed with the minimap, lines view', async () => {
  const frame = await open('Default Light Modern');
  await s!.shot('long-light-fit');
  await frame.click('[data-testid="zoom-in-weights"]');
  await frame.click('[data-testid="zoom-in-weights"]');
  await frame.click('[data-testid="zoom-in-weights"]');
  const sh = await shown(frame);
  assert.deepEqual([sh.view[1], sh.view[3]], [75, 75]);
  assert.equal(await frame.locator('[data-testid="minimap-weights"]').isVisible(), true);
  await s!.shot('long-light-zoomed');
  await frame.click('[data-testid="view-lines"]');
  await frame.locator('canvas.lines').waitFor();
  await s!.shot('long-light-lines');
});
