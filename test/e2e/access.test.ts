// Access, as a person with a keyboard, a screen reader or a high contrast theme uses the panel, in
// code-server: Tab to the stage bar and arrow to a part, Tab into the heatmap and arrow to a cell
// (its announcement is the trace's number), arrow through the view tabs and the grid's thumbnails
// (the readout says the head and its first-key share, from the trace), PNG exports of the grid and
// the text view (a real PNG, opaque corner in the theme's background), both high contrast themes
// (the panel's borders and labels in the theme's own colours). And the standalone HTML in Chromium
// with prefers-color-scheme light and dark: its selectors and buttons contrast with the page.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Frame } from 'playwright-core';
import {
  answerSaveDialog,
  CHROMIUM,
  cliTrace,
  explorerRow,
  launch,
  openFile,
  panelFrame,
  RESULTS,
  rightClickMenu,
  selectLine,
  type Session,
} from './harness';
import { standaloneHtml } from '../../src/panel/standalone';
import { formatValue, toMatrix } from '../../shared/tensorView';
import type { Stage, Trace } from '../../shared/trace';

const ROOT = path.join(__dirname, '..', '..');
const LINE = 'Once upon a time, there was a little girl named Mia. She loved to play in the park.';
const MODEL = 'tinystories-656k';

// ---- colours (WCAG 2 relative luminance and contrast ratio)
function rgbOf(css: string): [number, number, number] {
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/.exec(css);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  const hex = /^#([0-9a-f]{6}|[0-9a-f]{3})/i.exec(css.trim())?.[1];
  if (!hex) throw new Error(`not a colour: ${css}`);
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
  return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16)) as [number, number, number];
}
function luminance(c: [number, number, number]): number {
  const [r, g, b] = c.map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(rgbOf(a)), luminance(rgbOf(b))].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

// ---- PNG: the signature, the header, and the top-left pixel (all five row filters leave the first pixel raw)
function pngCorner(buf: Buffer): { width: number; height: number; rgba: [number, number, number, number] } {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  let at = 8;
  let width = 0;
  let height = 0;
  let colourType = -1;
  const idat: Buffer[] = [];
  while (at < buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, '8 bits a channel');
      colourType = data[9]!;
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const px = raw.subarray(1, colourType === 6 ? 5 : 4);
  return { width, height, rgba: [px[0]!, px[1]!, px[2]!, colourType === 6 ? px[3]! : 255] };
}

async function readWhenWritten(file: string, ms = 20_000): Promise<Buffer> {
  let last = -1;
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    try {
      const b = readFileSync(file);
      if (b.length > 0 && b.length === last) return b;
      last = b.length;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${file} was not written`);
}

interface Faces {
  page: string;
  text: string;
  select: { bg: string; fg: string };
  primary: { bg: string; fg: string };
  secondary: { bg: string; fg: string };
}
/** In the page: the colours of the page, and of the first element with a background of its own in each control (its shadow tree). */
const FACES = `(() => {
  const face = (host) => {
    for (const e of [host, ...(host.shadowRoot ? host.shadowRoot.querySelectorAll('*') : [])]) {
      const cs = getComputedStyle(e);
      if (cs.backgroundColor !== 'rgba(0, 0, 0, 0)' && cs.backgroundColor !== 'transparent')
        return { bg: cs.backgroundColor, fg: cs.color };
    }
    return { bg: '', fg: getComputedStyle(host).color };
  };
  const q = (id) => document.querySelector('[data-testid="' + id + '"]');
  return {
    page: getComputedStyle(document.body).backgroundColor,
    text: getComputedStyle(document.body).color,
    select: face(q('head-select')),
    primary: face(q('next-stage')),
    secondary: face(q('prev-stage')),
  };
})()`;

const weightsOf = (st: Stage) => st.tensors.find((x) => x.name === 'weights')!;
const stageTitled = (t: Trace, title: string): Stage => t.stages.find((x) => x.title === title)!;

test('the standalone HTML: selectors and buttons contrast with the page, light and dark', async () => {
  const trace = cliTrace(MODEL, LINE);
  const stage = trace.stages.findIndex((x) => x.title === 'Layer 0: attention weights');
  const html = standaloneHtml(
    trace,
    { stage, head: 0, view: 'heatmap' },
    readFileSync(path.join(ROOT, 'dist', 'webview.js'), 'utf8'),
    readFileSync(path.join(ROOT, 'media', 'panel.css'), 'utf8'),
  );
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'attention-lens-standalone-')), 'panel.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ viewport: { width: 1200, height: 800 }, colorScheme: scheme });
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`file://${file}`);
      await page.waitForSelector('[data-testid="head-select"]');
      await page.waitForFunction(() => !!document.querySelector('[data-testid="head-select"]')?.shadowRoot);
      // A string, not a function: tsx would wrap a named inner function in a helper the page does not have.
      const c = (await page.evaluate(FACES)) as Faces;
      // The page itself is in the asked scheme.
      assert.equal(luminance(rgbOf(c.page)) > 0.5, scheme === 'light', `${scheme} page background ${c.page}`);
      assert.ok(contrast(c.text, c.page) >= 4.5, `${scheme}: page text ${c.text} on ${c.page}`);
      for (const [name, x] of Object.entries({ select: c.select, primary: c.primary, secondary: c.secondary })) {
        const bg = x.bg || c.page;
        assert.ok(contrast(x.fg, bg) >= 4.5, `${scheme} ${name}: ${x.fg} on ${bg} = ${contrast(x.fg, bg).toFixed(2)}`);
      }
      // The selector is drawn in the page's scheme (not a dark box on a light page): its text contrasts with the page too.
      assert.ok(
        contrast(c.select.fg, c.page) >= 4.5,
        `${scheme}: selector text ${c.select.fg} on the page ${c.page} = ${contrast(c.select.fg, c.page).toFixed(2)}`,
      );
      assert.ok(
        luminance(rgbOf(c.select.bg || c.page)) > 0.5 === (scheme === 'light'),
        `${scheme}: selector face ${c.select.bg}`,
      );
      await page.screenshot({ path: path.join(RESULTS, `access-standalone-${scheme}.png`) });
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

// ---- in code-server: one session for the keyboard, the exports and both high contrast themes
let s: Session | undefined;
after(async () => {
  await s?.close();
});

/** The focused element in the panel's frame, described: tag, classes, test id, text. */
const focused = (frame: Frame) =>
  frame.evaluate(`(() => {
    const e = document.activeElement;
    return e ? { tag: e.tagName, cls: e.className, id: e.getAttribute('data-testid') ?? '', role: e.getAttribute('role') ?? '', text: (e.textContent ?? '').trim() } : undefined;
  })()`) as Promise<{ tag: string; cls: string; id: string; role: string; text: string } | undefined>;

/** Presses `key` until the focused element matches, at most `times` times (as a person tabs through a page). */
async function pressUntil(
  frame: Frame,
  key: string,
  ok: (f: { tag: string; cls: string; id: string; role: string; text: string }) => boolean,
  times = 60,
): Promise<void> {
  for (let i = 0; i < times; i++) {
    await s!.page.keyboard.press(key);
    const f = await focused(frame);
    if (f && ok(f)) return;
  }
  throw new Error(`${key} × ${times} never reached the element (at ${JSON.stringify(await focused(frame))})`);
}

async function exportPng(frame: Frame, name: string): Promise<Buffer> {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'attention-lens-access-')), `${name}.png`);
  await frame.click('[data-testid="export-png"]');
  await answerSaveDialog(s!.page, file);
  const png = await readWhenWritten(file);
  // A copy beside the screenshots, to look at.
  writeFileSync(path.join(RESULTS, `access-export-${name}.png`), png);
  return png;
}

/** The panel's background (the PNG's corner must be it, opaque). */
const panelBackground = (frame: Frame) =>
  frame.evaluate(
    `getComputedStyle(document.body).getPropertyValue('--vscode-editor-background').trim()`,
  ) as Promise<string>;

function assertOpaqueCorner(png: Buffer, bg: string, what: string): void {
  const { width, height, rgba } = pngCorner(png);
  assert.ok(width > 100 && height > 60, `${what}: ${width} × ${height}`);
  assert.equal(rgba[3], 255, `${what}: the corner pixel is opaque`);
  assert.deepEqual(rgba.slice(0, 3), rgbOf(bg), `${what}: the corner is the panel's background ${bg}`);
}

async function chooseTheme(name: string): Promise<void> {
  // Ctrl+K Ctrl+T from the editor (the palette's "Color Theme" also matches "Browse Color Themes in Marketplace", offline here).
  await s!.page.click('.monaco-editor .view-lines');
  await s!.page.keyboard.press('Control+K');
  await s!.page.keyboard.press('Control+T');
  // Arrow down the installed themes to the one named, Enter.
  const active = s!.page.locator('.quick-input-list .monaco-list-row.focused');
  await active.first().waitFor({ timeout: 15_000 });
  const seen: string[] = [];
  for (let i = 0; i < 40; i++) {
    const label = (await active.first().getAttribute('aria-label')) ?? '';
    seen.push(label);
    // "Dark High Contrast, Default High Contrast, high contrast themes": the label, the theme's id, its group.
    if (label.split(', ')[1] === name) {
      await s!.page.keyboard.press('Enter');
      return;
    }
    await s!.page.keyboard.press('ArrowDown');
    await s!.page.waitForTimeout(150);
  }
  await s!.shot('access-theme-picker');
  throw new Error(`no theme "${name}" in the picker: ${JSON.stringify(seen)}`);
}

test('keyboard, announcements, PNG exports of the grid and the text view, both high contrast themes', async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-access-'));
  writeFileSync(path.join(folder, 'story.txt'), `${LINE}\n`);
  s = await launch({ folder, colorTheme: 'Default Dark Modern' });
  await explorerRow(s.page, 'story.txt').waitFor({ timeout: 90_000 });
  await openFile(s.page, 'story.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="tokens"]', 180_000);
  const trace = cliTrace(MODEL, LINE);

  // ---- Tab to the stage bar (one tab stop), arrows to "decoder layers", Enter
  await frame.click('[data-testid="model-name"]');
  await pressUntil(frame, 'Tab', (f) => f.cls.includes('phase'));
  assert.equal((await focused(frame))!.text.replace(/\s*→$/, ''), 'tokens', 'the tab stop is the current part');
  await pressUntil(frame, 'ArrowRight', (f) => f.text.startsWith('decoder layers'), 6);
  await s.page.keyboard.press('Enter');
  await frame.waitForSelector('.phase.current:has-text("decoder layers")');
  assert.match((await frame.textContent('[data-testid="stage-title"]'))!, /^Layer 0: RMSNorm/);
  // Tab to "Next stage", Enter: the layer's Q/K/V, where the attention steps appear.
  await pressUntil(frame, 'Tab', (f) => f.id === 'next-stage');
  await s.page.keyboard.press('Enter');
  await frame.waitForSelector('[data-testid="stage-title"]:has-text("queries, keys, values")');
  // Back to the stage bar (its tab stop is the current part), arrows to the step "weights", Enter.
  await pressUntil(frame, 'Shift+Tab', (f) => f.cls.includes('phase'));
  assert.match((await focused(frame))!.text, /^decoder layers/);
  await pressUntil(frame, 'ArrowRight', (f) => f.text.startsWith('weights'), 10);
  await s.page.keyboard.press('Enter');
  await frame.waitForSelector('[data-testid="stage-title"]:has-text("attention weights")');
  const title = (await frame.textContent('[data-testid="stage-title"]'))!;
  await s.shot('access-dark-stage-bar-keyboard');

  // ---- Tab to the heatmap, arrows to a cell: the announcement is the trace's number
  await pressUntil(frame, 'Tab', (f) => f.id === 'heatmap-weights');
  const readout = frame.locator('[data-testid="readout-weights"]');
  assert.equal(await readout.getAttribute('aria-live'), 'polite');
  for (const k of ['ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowRight']) await s.page.keyboard.press(k);
  const w = weightsOf(stageTitled(trace, title));
  const m = toMatrix(trace, w, 0);
  assert.equal(
    await readout.textContent(),
    `query ${m.rowLabels[3]} (#3) · key ${m.colLabels[1]} (#1) = ${formatValue(m.data[3 * m.cols + 1]!)}`,
  );
  await s.shot('access-dark-heatmap-cell');

  // ---- Shift+Tab back to the view tabs (the current one is the tab stop), arrows to the grid
  await pressUntil(frame, 'Shift+Tab', (f) => f.role === 'tab');
  assert.equal((await focused(frame))!.id, 'view-heatmap');
  await s.page.keyboard.press('ArrowRight');
  await s.page.keyboard.press('ArrowRight');
  await frame.waitForSelector('[data-testid="heads-grid-self"]');
  assert.equal(await frame.getAttribute('[data-testid="view-grid"]', 'aria-selected'), 'true');
  // Tab into the grid, arrows: right to head 1, down to layer 1; the readout says which and its first-key share.
  await pressUntil(frame, 'Tab', (f) => f.cls.includes('grid-cell'));
  await s.page.keyboard.press('ArrowRight');
  await s.page.keyboard.press('ArrowDown');
  const said = (await frame.textContent('[data-testid="grid-readout"]')) ?? '';
  const w1 = weightsOf(stageTitled(trace, 'Layer 1: attention weights'));
  const [, T] = w1.shape as [number, number];
  let first = 0;
  for (let q = 0; q < T; q++) first += w1.data[(1 * T + q) * T]!;
  assert.match(
    said,
    new RegExp(`layer 1 head 1 \\(K/V head \\d+\\): mean weight on the first key ${((first / T) * 100).toFixed(0)}%`),
  );
  await s.shot('access-dark-grid-keyboard');

  // ---- PNG of the grid, then of the text view: real PNGs on the panel's opaque background
  const bgDark = await panelBackground(frame);
  assertOpaqueCorner(await exportPng(frame, 'grid'), bgDark, 'grid PNG');
  await frame.click('[data-testid="view-text"]');
  await frame.waitForSelector('[data-testid="text-view"]');
  assertOpaqueCorner(await exportPng(frame, 'text'), bgDark, 'text view PNG');
  await s.shot('access-dark-text-view');

  // ---- both high contrast themes: the panel re-renders in the theme's own colours
  await frame.click('[data-testid="view-heatmap"]');
  for (const [theme, cls, tag] of [
    ['Default High Contrast', 'vscode-high-contrast', 'hc-dark'],
    ['Default High Contrast Light', 'vscode-high-contrast-light', 'hc-light'],
  ] as const) {
    await chooseTheme(theme);
    await frame.waitForFunction((c) => document.body.classList.contains(c), cls, { timeout: 30_000 });
    const colours = (await frame.evaluate(`(() => {
      const v = (n) => getComputedStyle(document.body).getPropertyValue(n).trim();
      const chip = getComputedStyle(document.querySelector('.phase:not(.current)'));
      const current = getComputedStyle(document.querySelector('.phase.current:not(.step)'));
      const tab = getComputedStyle(document.querySelector('.tab.current'));
      return { contrastBorder: v('--vscode-contrastBorder'), active: v('--vscode-contrastActiveBorder'),
        focus: v('--vscode-focusBorder'), fg: v('--vscode-editor-foreground'), bg: v('--vscode-editor-background'),
        chip: chip.borderTopColor, current: current.borderTopColor, tab: tab.borderTopColor, tabWidth: tab.borderTopWidth };
    })()`)) as Record<string, string>;
    assert.ok(colours.contrastBorder, `${theme} defines contrastBorder`);
    assert.deepEqual(
      rgbOf(colours.chip!),
      rgbOf(colours.contrastBorder!),
      `${theme}: a stage chip has the contrast border`,
    );
    assert.deepEqual(
      rgbOf(colours.current!),
      rgbOf(colours.active!),
      `${theme}: the current chip has the active border`,
    );
    assert.deepEqual(rgbOf(colours.tab!), rgbOf(colours.active!), `${theme}: the current tab has the active border`);
    // The heatmap's labels are repainted in the theme's foreground (exact pixels of that colour on the canvas).
    const [fr, fg, fb] = rgbOf(colours.fg!);
    const count = async (): Promise<number> =>
      (await frame.$eval(
        '[data-testid="heatmap-weights"]',
        (c, [r, g, b]) => {
          const d = (c as HTMLCanvasElement)
            .getContext('2d')!
            .getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4)
            if (d[i] === r && d[i + 1] === g && d[i + 2] === b && d[i + 3] === 255) n++;
          return n;
        },
        [fr, fg, fb],
      )) as number;
    const deadline = Date.now() + 15_000;
    while ((await count()) < 30 && Date.now() < deadline) await s.page.waitForTimeout(250);
    assert.ok((await count()) >= 30, `${theme}: labels drawn in ${colours.fg}`);
    assert.ok(contrast(colours.fg!, colours.bg!) >= 7, `${theme}: labels ${colours.fg} on ${colours.bg}`);
    // Keyboard focus on a chip: a 2 px ring in the theme's focus colour.
    await frame.click('[data-testid="model-name"]');
    await pressUntil(frame, 'Tab', (f) => f.cls.includes('phase'));
    const ring = (await frame.evaluate(
      `(() => { const cs = getComputedStyle(document.activeElement); return { w: cs.outlineWidth, c: cs.outlineColor, st: cs.outlineStyle }; })()`,
    )) as { w: string; c: string; st: string };
    assert.equal(ring.w, '2px', `${theme}: focus ring width`);
    assert.deepEqual(rgbOf(ring.c), rgbOf(colours.focus!), `${theme}: focus ring colour`);
    await s.shot(`access-${tag}-panel`);
    // A PNG exported in high contrast: opaque, in the theme's background.
    assertOpaqueCorner(await exportPng(frame, `heatmap-${tag}`), colours.bg!, `${theme} heatmap PNG`);
  }
});
