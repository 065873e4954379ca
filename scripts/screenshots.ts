// `npm run screenshots`: the README's pictures of each view, light and dark, made the way a person
// sees them — code-server in Chromium (test/e2e/harness.ts), the text selected, Visualise attention,
// the panel's editor group maximised — cropped to the panel, into docs/screenshots/.
// Needs `npm run build` first (the script runs it) and code-server set up (scripts/setup-code-server.sh).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  chooseModel,
  explorerRow,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  runCommand,
  selectLine,
  type Session,
} from '../test/e2e/harness';

const ROOT = path.join(__dirname, '..');
const OUT = path.join(ROOT, 'docs', 'screenshots');
const STORY = 'Once upon a time, there was a little girl named Mia. She loved to play in the park.';
const DATE = 'Monday 23rd of November 2026';

type Theme = 'Default Light Modern' | 'Default Dark Modern';

async function goTo(frame: Frame, title: RegExp): Promise<void> {
  for (let i = 0; i < 80; i++) {
    const t = (await frame.textContent('[data-testid="stage-title"]')) ?? '';
    if (title.test(t)) return;
    await frame.click('[data-testid="next-stage"]');
  }
  throw new Error(`no stage titled ${title}`);
}

/** The panel's webview (the outer iframe of its nested pair), scrolled so `selector` starts near the top. */
async function shoot(s: Session, frame: Frame, name: string, selector?: string): Promise<void> {
  await s.page.mouse.move(2, 2);
  if (selector) {
    await frame.locator(selector).first().waitFor({ timeout: 60_000 });
    await frame.evaluate(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (e) window.scrollTo(0, Math.max(0, e.getBoundingClientRect().top + window.scrollY - 160)); })()`,
    );
  } else await frame.evaluate('window.scrollTo(0, 0)');
  await s.page.waitForTimeout(600);
  // The workbench's own iframe of the webview (the panel's frame is nested in it): the largest on screen, clipped from the page.
  let box: { x: number; y: number; width: number; height: number } | undefined;
  for (const el of await s.page.locator('iframe').all()) {
    const b = await el.boundingBox();
    if (b && b.width * b.height > (box ? box.width * box.height : 0)) box = b;
  }
  if (!box) throw new Error('the panel is not on screen');
  const file = path.join(OUT, `${name}.png`);
  await s.page.screenshot({ path: file, clip: box });
  console.log(`${name}.png  ${(statSync(file).size / 1024).toFixed(0)} KB`);
}

/** Maximises the panel's editor group (its tab focused first: the command maximises the focused group). */
async function maximise(s: Session): Promise<void> {
  await s.page.locator('.tab', { hasText: 'Attention Lens' }).first().click();
  await runCommand(s.page, 'View: Toggle Maximize Editor Group');
  await s.page.waitForTimeout(1000);
}

async function visualise(s: Session, file: string, line: number): Promise<Frame> {
  await openFile(s.page, file);
  await selectLine(s.page, line);
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="tokens"]', 180_000);
  return frame;
}

async function views(theme: Theme, tag: string, folder: string): Promise<void> {
  const s = await launch({ folder, colorTheme: theme });
  // ~1200 × 800: the panel alone fills the window once its group is maximised.
  await s.page.setViewportSize({ width: 1200, height: 800 });
  try {
    await explorerRow(s.page, 'story.txt').waitFor({ timeout: 90_000 });
    let frame = await visualise(s, 'story.txt', 1);
    await maximise(s);
    await shoot(s, frame, `tokens-${tag}`);
    await goTo(frame, /^Layer 0: attention weights$/);
    await shoot(s, frame, `heatmap-${tag}`, '[data-testid="view-switch"]');
    for (const [view, name, sel] of [
      ['grid', 'grid', '[data-testid="view-switch"]'],
      ['heads', 'head-view', '[data-testid="view-switch"]'],
      ['text', 'text-view', '[data-testid="view-switch"]'],
      ['neuron', 'neuron-view', '[data-testid="view-switch"]'],
    ] as const) {
      await frame.click(`[data-testid="view-${view}"]`);
      await s.page.waitForTimeout(500);
      if (view === 'heads') await frame.hover('[data-testid="hv-query-5"]').catch(() => undefined);
      await shoot(s, frame, `${name}-${tag}`, sel);
    }
    await frame.click('[data-testid="view-heatmap"]');
    await shoot(s, frame, `what-if-${tag}`, '[data-testid="whatif"]');
    // Generation: Continue three tokens.
    await frame.click('[data-testid="continue"]');
    await frame.locator('[data-testid="gen-status"]', { hasText: 'Generated' }).waitFor({ timeout: 120_000 });
    await shoot(s, frame, `generation-${tag}`, '[data-testid="gen-text"]');
    // An encoder–decoder's decoder (cross-attention), then a seq2seq model's alignment: said, not fatal, when they fail.
    try {
      await runCommand(s.page, 'View: Toggle Maximize Editor Group');
      await chooseModel(s.page, 'dates transformer', 'ates');
      frame = await visualise(s, 'dates.txt', 1);
      await maximise(s);
      await goTo(frame, /^Decoder layer 0, cross-attention: attention weights/);
      await shoot(s, frame, `encoder-decoder-${tag}`, '[data-testid="view-switch"]');
      await runCommand(s.page, 'View: Toggle Maximize Editor Group');
      await chooseModel(s.page, 'seq2seq dates: dot', 'dot');
      frame = await visualise(s, 'dates.txt', 1);
      await maximise(s);
      await goTo(frame, /^Alignment/);
      await shoot(s, frame, `seq2seq-alignment-${tag}`, '[data-testid="view-switch"]');
    } catch (err) {
      console.error(`the encoder–decoder and seq2seq pictures were not made: ${(err as Error).message.split('\n')[0]}`);
    }
  } finally {
    await s.close();
  }
}

async function main(): Promise<void> {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(OUT, { recursive: true });
  const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-screens-'));
  writeFileSync(path.join(folder, 'story.txt'), `${STORY}\n`);
  writeFileSync(path.join(folder, 'dates.txt'), `${DATE}\n`);
  const only = process.argv[2];
  for (const [theme, tag] of [
    ['Default Light Modern', 'light'],
    ['Default Dark Modern', 'dark'],
  ] as const)
    if (!only || only === tag) await views(theme, tag, folder);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
