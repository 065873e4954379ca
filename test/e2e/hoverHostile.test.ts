// Hostile text in the real hover, as a person meets it: a document holding a markdown link to a
// command, an HTML image with an onerror handler, a right-to-left override (U+202E) and a CRLF,
// visualised with the built-in TinyStories model and then with the sample character model (whose
// tokens carry the raw characters: a lone CR, the override itself). Hovering a token after them
// lists every earlier token; the hover must show each label escaped (the literal characters, the
// controls as visible symbols), hold no link but our own "Show in panel", no image, and leave the
// window working.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Locator } from 'playwright-core';
import {
  cliTrace,
  explorerMenu,
  explorerRow,
  hoverText,
  launch,
  panelFrame,
  rightClickMenu,
  selectLine,
  type Session,
} from './harness';
import { tokenLabel } from '../../shared/tensorView';
import { visible } from '../../shared/escape';
// @ts-expect-error: plain ESM helper
import { ROOT } from '../../scripts/codeServer.mjs';

const RLO = '\u202E';
// Line 1 of each file; line 2 is what the mouse hovers, after everything hostile.
const STORY = `[x](command:workbench.action.quit) <img src=x onerror=alert(1)> ${RLO}no`;
const STORY_END = 'The end.';
const CHARS = `[x](command:a) <img src=x> ${RLO}no`;
const CHARS_END = 'zz';

let s: Session;
const dialogs: string[] = [];
before(async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-hostile-hover-'));
  // CRLF line ends: the selection's text holds a CR that the character model makes a token of its own.
  writeFileSync(path.join(folder, 'story.txt'), `${STORY}\r\n${STORY_END}\r\n`);
  writeFileSync(path.join(folder, 'chars.txt'), `${CHARS}\r\n${CHARS_END}\r\n`);
  cpSync(path.join(ROOT, 'samples', 'models', 'tfjs-mha-charlm'), path.join(folder, 'charlm'), { recursive: true });
  s = await launch({
    folder,
    settings: { 'security.workspace.trust.enabled': false, 'attentionLens.hover.topK': 50 },
  });
  s.page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
});
after(async () => {
  await s?.close();
});

/** Opens a file of the folder from the explorer (Quick Open may still be indexing on a busy machine). */
async function openFromExplorer(name: string): Promise<void> {
  const row = explorerRow(s.page, name);
  await row.waitFor({ timeout: 30_000 });
  await row.click();
  await s.page.locator('.tab.active', { hasText: name }).first().waitFor({ timeout: 30_000 });
  await s.page.waitForSelector('.monaco-editor .view-lines');
}

/** Selects line 1 and line 2 (the CRLF between them included). */
async function selectTwoLines(): Promise<void> {
  await selectLine(s.page, 1);
  await s.page.keyboard.press('Shift+ArrowDown');
  await s.page.keyboard.press('Shift+End');
}

async function hoverBox(): Promise<Locator> {
  const hover = s.page.locator('.monaco-hover-content', { hasText: 'Attention Lens' }).first();
  await hover.waitFor({ timeout: 20_000 });
  return hover;
}

/** The hover holds our one command link, no image, no element with an event handler; returns its text. */
async function checkHover(hover: Locator): Promise<string> {
  const links = await hover
    .locator('a')
    .evaluateAll((as) =>
      as.map((a) => ({ text: a.textContent ?? '', href: a.getAttribute('data-href') ?? a.getAttribute('href') ?? '' })),
    );
  assert.equal(links.length, 1, `links: ${JSON.stringify(links)}`);
  assert.equal(links[0]!.text, 'Show in panel');
  assert.match(links[0]!.href, /^command:attentionLens\.showInPanel\?/);
  assert.equal(await hover.locator('img').count(), 0, 'no image element');
  assert.equal(await hover.locator('[onerror], [onload], [onclick]').count(), 0, 'no event handler attributes');
  const text = await hover.innerText();
  assert.ok(!text.includes(RLO), 'the override is shown as a symbol, never applied');
  assert.ok(!text.includes('\r'), 'no raw CR');
  return text;
}

/** Every token before and at `upTo` appears in the hover as its escaped label. */
function assertLabels(text: string, labels: readonly string[]): void {
  for (const label of labels) assert.ok(text.includes(label), `the hover lacks ${JSON.stringify(label)}:\n${text}`);
}

async function windowStillWorks(name: string): Promise<void> {
  await s.page.mouse.move(5, 500);
  await s.page.keyboard.press('Escape');
  assert.equal(s.page.isClosed(), false);
  assert.equal(await s.page.locator('.monaco-workbench').count(), 1);
  // Quick Open still opens and closes: the workbench answers.
  await s.page.keyboard.press('Control+P');
  await s.page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: 10_000 });
  await s.page.keyboard.press('Escape');
  assert.deepEqual(dialogs, [], 'no alert or dialog was raised');
  await s.shot(`${name}-after`);
}

test('the built-in model: markdown, HTML and the override are shown as text in the hover', async () => {
  await openFromExplorer('story.txt');
  await selectTwoLines();
  await rightClickMenu(s.page, 'Visualise attention');
  await panelFrame(s.page, '[data-testid="tokens"]');
  await s.page.locator('.monaco-editor .view-lines').first().click();
  await hoverText(s.page, STORY_END, STORY_END.indexOf('end') + 1);
  const hover = await hoverBox();
  await s.page.waitForTimeout(500);
  await s.shot('hover-hostile-builtin');
  const text = await checkHover(hover);
  // The same run through the CLI: every token up to "end" (fewer than top-k) is listed, escaped.
  const trace = cliTrace('tinystories-656k', `${STORY}\r\n${STORY_END}`);
  const end = trace.tokens.findIndex((t) => t.text === 'end');
  assert.ok(end > 40, `"end" is token ${end}`);
  assertLabels(
    text,
    trace.tokens.slice(0, end + 1).map((t) => visible(tokenLabel(t))),
  );
  // The unknown-token pieces look like HTML tags: they are there as text.
  assert.match(text, /<unk>/);
  assert.match(text, /<\|start_story\|>/);
  await windowStillWorks('hover-hostile-builtin');
});

test('the character model: a lone CR and the override itself are tokens, shown as ␍ and \\u{202E}', async () => {
  // Load the sample model once from the explorer, then keep it for selections.
  const row = explorerRow(s.page, 'charlm');
  await row.waitFor({ timeout: 20_000 });
  if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
  await explorerMenu(s.page, 'model.json', 'Visualise attention with this model');
  const input = s.page.locator('.quick-input-widget:not([style*="display: none"]) input');
  await input.waitFor({ timeout: 15_000 });
  await input.fill('once');
  await input.press('Enter');
  const keep = s.page.locator('.notification-toast .monaco-button', { hasText: 'Use for selections' }).first();
  await keep.waitFor({ timeout: 60_000 });
  await keep.click();

  await openFromExplorer('chars.txt');
  await selectTwoLines();
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="model-name"]');
  // The panel re-renders for the selection's run (the first run's text had no "z").
  await frame.waitForFunction(
    () =>
      document.querySelector('[data-testid="model-name"]')?.textContent === 'charlm' &&
      (document.querySelector('[data-testid="tokens"]')?.textContent ?? '').includes('z'),
    undefined,
    { timeout: 60_000 },
  );
  await s.page.locator('.monaco-editor .view-lines').first().click();
  await hoverText(s.page, CHARS_END, 1);
  const hover = await hoverBox();
  await s.page.waitForTimeout(500);
  await s.shot('hover-hostile-chars');
  const text = await checkHover(hover);
  const trace = cliTrace(
    path.join(ROOT, 'samples', 'models', 'tfjs-mha-charlm', 'model.json'),
    `${CHARS}\r\n${CHARS_END}`,
  );
  const raw = trace.tokens.map((t) => t.text);
  assert.ok(raw.includes('\r') && raw.includes(RLO), `the model's tokens: ${JSON.stringify(raw)}`);
  assert.match(text, /␍/, 'the lone CR token is the ␍ symbol');
  assert.match(text, /\\u\{202E\}/, 'the override token is shown as \\u{202E}');
  assert.match(text, /↵/, 'the LF token is ↵');
  const last = trace.tokens.length - 1;
  assertLabels(
    text,
    trace.tokens
      .slice(0, last + 1)
      .map((t) => visible(tokenLabel(t)))
      .filter((l) => l.trim() !== ''),
  );
  await windowStillWorks('hover-hostile-chars');
});
