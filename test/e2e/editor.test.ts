// In the editor, as a person: hover a token after a run, step with keybindings and watch the
// status bar and panel follow, change a setting, open the walkthrough, cancel a long run.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
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
import { findTensor } from '../../shared/trace';

const LINE = 'Once upon a time, there was a little girl named Mia. She loved to play in the park with her red ball.';
let s: Session;
before(async () => {
  s = await launch();
  await openFile(s.page, 'prose.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  await panelFrame(s.page, '[data-testid="tokens"]');
});
after(async () => {
  await s?.close();
});

async function hoverContent(): Promise<string> {
  const hover = s.page.locator('.monaco-hover-content', { hasText: 'Attention Lens' }).first();
  await hover.waitFor({ timeout: 15_000 });
  return (await hover.innerText()).replace(/\s+/g, ' ');
}

test('hovering a token lists what it attends to, matching the trace', async () => {
  // The editor has focus back after the run; hover "girl".
  await s.page.locator('.monaco-editor .view-lines').first().click();
  await hoverText(s.page, LINE, LINE.indexOf('girl') + 1);
  const text = await hoverContent();
  await s.shot('editor-hover');
  assert.match(text, /Attention Lens/);
  assert.match(text, /girl/);
  const trace = cliTrace('tinystories-656k', LINE);
  const q = trace.tokens.findIndex((t) => t.start <= LINE.indexOf('girl') + 1 && LINE.indexOf('girl') + 1 < t.end);
  const w = findTensor(trace.stages.find((st) => st.kind === 'normalise')!, 'weights')!;
  const n = w.shape[1]!;
  const row = Array.from({ length: n }, (_, k) => w.data[q * n + k]!);
  const best = row.indexOf(Math.max(...row));
  assert.ok(
    text.includes(Math.max(...row).toFixed(4)),
    `hover "${text}" lacks top weight ${Math.max(...row).toFixed(4)} (key ${best})`,
  );
});

test('the caret on a token paints what it attends to onto the text', async () => {
  await s.page.keyboard.press('Escape');
  const line = s.page.locator('.monaco-editor .view-line', { hasText: LINE }).first();
  const box = (await line.boundingBox())!;
  const span = line.locator('span').first();
  const sb = (await span.boundingBox())!;
  const charW = sb.width / Math.max(1, (await span.textContent())!.length);
  // Click inside "Mia": the caret's token is outlined, the tokens it attends to get a background.
  await s.page.mouse.click(box.x + (LINE.indexOf('Mia') + 1.5) * charW, box.y + box.height / 2);
  await s.page.waitForTimeout(800);
  const painted = await s.page.locator('.monaco-editor .view-overlays .cdr').count();
  await s.shot('editor-decorations');
  assert.ok(painted >= 2, `only ${painted} decorated ranges`);
});

test('keybindings step through stages; the status bar and panel follow', async () => {
  await s.page.mouse.move(5, 500);
  await s.page.locator('.monaco-editor .view-lines').first().click();
  const status = s.page
    .locator(
      '.statusbar-item[id="attention-lens.attention-lens.attentionLens.status"], .statusbar-item:has-text("tinystories-656k")',
    )
    .first();
  await status.waitFor({ timeout: 15_000 });
  const before = await status.innerText();
  await s.page.keyboard.press('Control+Alt+Period');
  await s.page.keyboard.press('Control+Alt+Period');
  await s.page.waitForTimeout(500);
  const after = await status.innerText();
  assert.notEqual(after, before);
  const frame = await panelFrame(s.page, '[data-testid="stage-title"]');
  assert.equal(
    await frame.textContent('[data-testid="stage-position"]'),
    `3 / ${cliTrace('tinystories-656k', LINE).stages.length}`,
  );
  await s.page.keyboard.press('Control+Alt+BracketRight');
  await s.page.waitForTimeout(300);
  assert.match(await status.innerText(), /head 1/);
  await s.shot('editor-statusbar-after-keys');
});

test('a setting applies without reload: hover top-k', async () => {
  await runCommand(s.page, 'Preferences: Open Settings (UI)');
  const search = s.page
    .locator('.settings-editor .suggest-input-container textarea, .settings-editor .search-container input')
    .first();
  // The settings search box has focus when the editor opens, as for a person.
  await search.waitFor({ state: 'attached', timeout: 20_000 });
  await s.page.waitForTimeout(800);
  await s.page.keyboard.type('attentionLens.hover.topK');
  // Wait for the search to filter down to our setting (its title reads "Hover: Top K").
  const input = s.page
    .locator('.settings-editor .setting-item-contents', { hasText: 'Top K' })
    .locator('input')
    .first();
  await input.waitFor({ timeout: 20_000 });
  await s.shot('settings-ui-topk');
  await input.fill('2');
  await input.press('Tab');
  await s.page.waitForTimeout(1000);
  await s.page.locator('.tab', { hasText: 'Settings' }).locator('.codicon-close').first().click();
  await openFile(s.page, 'prose.txt');
  await s.page.locator('.monaco-editor .view-lines').first().click();
  await hoverText(s.page, LINE, LINE.indexOf('girl') + 1);
  const text = await hoverContent();
  const rows = (text.match(/#\d+/g) ?? []).length;
  assert.equal(rows, 2, text);
});

test('the walkthrough opens from the palette and a step completes on its command', async () => {
  await s.page.keyboard.press('Escape');
  await runCommand(s.page, 'Welcome: Open Walkthrough...');
  await s.page.keyboard.type('Learn attention');
  await s.page.waitForSelector('.quick-input-list .monaco-list-row', { timeout: 15_000 });
  await s.page.keyboard.press('Enter');
  await s.page.waitForSelector('.getting-started-step', { timeout: 30_000 });
  await s.page.locator('.getting-started-step', { hasText: 'Queries, keys and values' }).first().click();
  await s.shot('walkthrough');
  const step = s.page.locator('.getting-started-step', { hasText: 'Queries, keys and values' }).first();
  const frame = await panelFrame(s.page, '[data-testid="stage-position"]');
  const before = await frame.textContent('[data-testid="stage-position"]');
  await step.getByText('Next stage', { exact: true }).first().click();
  await s.page.waitForTimeout(1500);
  assert.notEqual(await frame.textContent('[data-testid="stage-position"]'), before, 'the step button moved the panel');
  const html = await step.evaluate((el) => el.outerHTML.slice(0, 400));
  const done = await s.page.locator('.getting-started-step[aria-checked="true"]').count();
  assert.ok(done >= 1, `no walkthrough step completed: ${html}`);
  await s.shot('walkthrough-step-done');
});
