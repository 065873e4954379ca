// Drives a real VS Code (code-server) in Debian's Chromium the way a person does.
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// prettier-ignore
// @ts-expect-error: plain ESM helper shared with `npm start`
import { ROOT, linkedExtensionsDir, makeProfile, startCodeServer, installVsix, removeQuietly } from '../../scripts/codeServer.mjs';

export const RESULTS = path.join(ROOT, 'test-results');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Session {
  readonly page: Page;
  readonly browser: Browser;
  readonly url: string;
  readonly serverOutput: () => string;
  readonly consoleLines: string[];
  /** code-server's user data folder (settings, the extensions' global storage). */
  readonly userDataDir: string;
  shot(name: string): Promise<string>;
  close(): Promise<void>;
}

export interface LaunchOptions {
  readonly vsix?: string;
  readonly settings?: Record<string, unknown>;
  readonly colorTheme?: 'Default Dark Modern' | 'Default Light Modern' | 'Default High Contrast';
  /** Extra query string for the workbench URL (e.g. the extension-development payload). */
  readonly query?: (port: number) => string;
  readonly folder?: string;
}

/** Runs `attempt` until it succeeds, at most `times` times (a loaded machine misses a timeout now and then); `recover` runs between tries. */
export async function retry<T>(times: number, attempt: () => Promise<T>, recover?: () => Promise<void>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= times) throw err;
      await recover?.();
    }
  }
}

export async function launch(opts: LaunchOptions = {}): Promise<Session> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-e2e-'));
  const userDataDir = makeProfile(path.join(tmp, 'user-data'), {
    'workbench.colorTheme': opts.colorTheme ?? 'Default Dark Modern',
    ...opts.settings,
  });
  const extensionsDir = path.join(tmp, 'extensions');
  if (opts.vsix) {
    mkdirSync(extensionsDir, { recursive: true });
    installVsix(opts.vsix, userDataDir, extensionsDir);
  } else if (!opts.query) {
    linkedExtensionsDir(extensionsDir);
  } else {
    mkdirSync(extensionsDir, { recursive: true });
  }
  const server = await startCodeServer({ userDataDir, extensionsDir, folder: opts.folder });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await context.newPage();
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(m.text()));
    const url = opts.query ? `${server.url}&${opts.query(server.port)}` : server.url;
    // A loaded machine (other test runs, builds) can take well over Playwright's default 30 s to serve the workbench.
    await page.goto(url, { timeout: 180_000 });
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
    mkdirSync(RESULTS, { recursive: true });
    const b = browser;
    return {
      page,
      browser: b,
      url,
      consoleLines,
      userDataDir,
      serverOutput: server.output,
      shot: async (name) => {
        const file = path.join(RESULTS, `${name}.png`);
        await page.screenshot({ path: file });
        return file;
      },
      close: async () => {
        await b.close().catch(() => {});
        server.stop();
        removeQuietly(tmp);
      },
    };
  } catch (err) {
    await browser?.close().catch(() => {});
    server.stop();
    removeQuietly(tmp);
    throw err;
  }
}

/**
 * Opens the quick input with `shortcut`; false when it had to fall back to the command palette
 * through F1 (focus in a notification or a webview may swallow the shortcut; F1 is always forwarded).
 */
async function openQuickInput(page: Page, shortcut: string): Promise<boolean> {
  const input = '.quick-input-widget:not([style*="display: none"]) input';
  await page.keyboard.press(shortcut);
  const opened = await page
    .waitForSelector(input, { timeout: 10_000 })
    .then(() => true)
    .catch(() => false);
  if (opened) return true;
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.waitForSelector(input, { timeout: 30_000 });
  return false;
}

/** What the extension wrote to its Attention Lens output channel, over every extension host of the session (a reload starts another). */
export function extensionLog(s: Session): string {
  const logs = path.join(s.userDataDir, 'logs');
  const files = (readdirSync(logs, { recursive: true }) as string[])
    .filter((f) => f.endsWith(path.join('attention-lens.attention-lens', 'Attention Lens.log')))
    .sort();
  return files.map((f) => readFileSync(path.join(logs, f), 'utf8')).join('\n');
}

export async function openFile(page: Page, name: string): Promise<void> {
  // Deleting the palette's '>' turns it into the same file picker.
  if (!(await openQuickInput(page, 'Control+P'))) await page.keyboard.press('Backspace');
  await page.keyboard.type(name);
  // File search spawns ripgrep: slow on a loaded machine.
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${name}"]`, { timeout: 60_000 });
  await page.keyboard.press('Enter');
  await page
    .waitForSelector(`.tab.active[aria-label*="${name}"], .tab.active [aria-label*="${name}"]`, { timeout: 15_000 })
    .catch(() => {});
  await page.waitForSelector('.monaco-editor .view-lines');
}

/** openFile after a pause, once more if the file index was not ready yet (a freshly started, loaded machine). */
export async function openFileSoon(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(5000);
  await retry(
    2,
    () => openFile(page, name),
    async () => {
      await page.keyboard.press('Escape');
      await page.waitForTimeout(5000);
    },
  );
}

/** Selects line `line` (1-based) completely, like a person pressing Ctrl+G, Home, Shift+End. */
export async function selectLine(page: Page, line: number): Promise<void> {
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+G');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
  await page.keyboard.press('Home');
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+End');
}

/** Right-clicks the middle of the current selection (the text layer sits above the overlay). */
export async function rightClickSelection(page: Page): Promise<void> {
  const sel = page.locator('.monaco-editor .view-overlays .selected-text');
  await sel.first().waitFor({ state: 'attached', timeout: 10_000 });
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (const el of await sel.all()) {
      const box = await el.boundingBox();
      if (box && box.width > 2) {
        await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2, { button: 'right' });
        return;
      }
    }
    if (Date.now() > deadline) throw new Error('the selection is not visible');
    await page.waitForTimeout(200);
  }
}

export async function rightClickMenu(page: Page, title: string): Promise<void> {
  await rightClickSelection(page);
  const item = page.locator('.monaco-menu .action-label', { hasText: title }).first();
  await item.waitFor({ timeout: 10_000 });
  await clickMenuItem(page, item);
}

/**
 * Selects the whole document (its lines may run past the editor's right edge) and opens the
 * editor's context menu inside line 1's visible part, trying again until the menu lists `title`
 * (the workbench may not have read the extension yet). Returns the item, hovered, for the caller to click.
 */
export async function selectAllMenu(page: Page, title: string): Promise<Locator> {
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+A');
  const item = page.locator('.monaco-menu .action-label', { hasText: title }).first();
  for (let i = 0; i < 20; i++) {
    const box = await page
      .locator('.monaco-editor .view-overlays .selected-text')
      .first()
      .boundingBox({ timeout: 5000 })
      .catch(() => null);
    if (box) await page.mouse.click(box.x + Math.min(box.width / 2, 300), box.y + box.height / 2, { button: 'right' });
    if (await item.isVisible({ timeout: 2000 }).catch(() => false)) break;
    await page.keyboard.press('Escape');
    await page.waitForTimeout(1000);
  }
  await item.hover();
  await page.waitForTimeout(300);
  return item;
}

/** The explorer row whose label is exactly `name`. */
export function explorerRow(page: Page, name: string): Locator {
  return page
    .locator('.explorer-folders-view .monaco-list-row', {
      hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
    })
    .first();
}

/** Right-clicks an explorer row and picks `title` from its context menu. */
export async function explorerMenu(
  page: Page,
  rowName: string,
  title: string,
  shot?: (name: string) => Promise<string>,
): Promise<void> {
  const row = explorerRow(page, rowName);
  await row.waitFor({ timeout: 20_000 });
  const item = page.locator('.monaco-menu .action-label', { hasText: title }).first();
  // Menus fill in once the workbench has scanned the extensions; a person would simply try again.
  for (let i = 0; i < 20; i++) {
    await closeMenus(page);
    await row.click({ button: 'right', timeout: 5000 }).catch(() => undefined);
    if (await item.isVisible({ timeout: 1500 }).catch(() => false)) break;
    await page.waitForTimeout(1000);
  }
  await item.waitFor({ timeout: 5000 });
  if (shot) await shot(`explorer-menu-${rowName.replace(/\W+/g, '-')}`);
  await clickMenuItem(page, item);
}

/** Presses Escape until no context menu is open (one can open late, after the first Escape). */
async function closeMenus(page: Page): Promise<void> {
  for (let i = 0; i < 5 && (await page.locator('.context-view .monaco-menu, .context-view-block').count()) > 0; i++) {
    await page.keyboard.press('Escape');
    await page.waitForTimeout(300);
  }
}

/** Monaco ignores a click in the first instants after a menu opens: rest, click, and if the menu is still up press Enter on the highlighted entry, as a person would. */
async function clickMenuItem(page: Page, item: Locator): Promise<void> {
  await item.hover();
  await page.waitForTimeout(300);
  await item.click();
  try {
    await page.locator('.monaco-menu').first().waitFor({ state: 'detached', timeout: 2000 });
  } catch {
    await item.hover();
    await page.keyboard.press('Enter');
    await page.locator('.monaco-menu').first().waitFor({ state: 'detached', timeout: 5000 });
  }
}

export async function runCommand(page: Page, title: string): Promise<void> {
  await openQuickInput(page, 'Control+Shift+P');
  await page.keyboard.type(title);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${title}"]`, { timeout: 15_000 });
  await page.keyboard.press('Enter');
}

/**
 * Choose model…, then the row whose text has `rowText` after typing `filter`. Waits for this
 * command's own list before typing (typed keys would otherwise go to whatever had focus), and
 * clicks the row: Enter takes the active row, which a list still filling in may not have moved to.
 */
export async function chooseModel(page: Page, filter: string, rowText: string): Promise<void> {
  const widget = page.locator('.quick-input-widget:not([style*="display: none"])');
  await retry(
    3,
    async () => {
      await runCommand(page, 'Attention Lens: Choose model…');
      await widget.locator('.quick-input-title', { hasText: 'choose a model' }).waitFor({ timeout: 15_000 });
      await page.keyboard.type(filter);
      const row = widget.locator('.quick-input-list .monaco-list-row', { hasText: rowText }).first();
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      await row.click();
    },
    async () => {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Escape');
    },
  );
}

/** The webview frame that holds our panel (webviews are nested iframes). */
export async function panelFrame(page: Page, selector = '#app', timeoutMs = 90_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const f of page.frames()) {
      try {
        if (await f.$(selector)) return f;
      } catch {
        /* frame navigating */
      }
    }
    if (Date.now() > deadline) {
      await page
        .screenshot({ path: path.join(RESULTS, `no-frame-${selector.replace(/\W+/g, '_')}.png`) })
        .catch(() => {});
      throw new Error(`no webview frame with ${selector} within ${timeoutMs} ms`);
    }
    await page.waitForTimeout(250);
  }
}

/** Runs the CLI on the same model and text, for an independent copy of the trace the panel shows. */
export function cliTrace(model: string, text: string): import('../../shared/trace').Trace {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { traceFromJson } = require('../../shared/codec') as typeof import('../../shared/codec');
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'attention-lens-cli-')), 'trace.json');
  execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--model', model, '--json', out, text], {
    stdio: 'pipe',
  });
  return traceFromJson(JSON.parse(readFileSync(out, 'utf8')));
}

/** Types a path into VS Code's own (simple) save dialog and accepts it. */
export async function answerSaveDialog(page: Page, file: string): Promise<void> {
  const input = page.locator('.quick-input-widget input').first();
  await input.waitFor({ timeout: 15_000 });
  // The dialog fills in its suggested path a moment after it opens; replace it only after that.
  const deadline = Date.now() + 10_000;
  while (!(await input.inputValue()).includes('.') && Date.now() < deadline) await page.waitForTimeout(100);
  for (let i = 0; i < 5; i++) {
    await input.fill(file);
    await page.waitForTimeout(300);
    if ((await input.inputValue()) === file) break;
  }
  if ((await input.inputValue()) !== file)
    throw new Error(`the save dialog shows ${await input.inputValue()}, not ${file}`);
  await page.keyboard.press('Enter');
}

/** Hovers the mouse over character `index` of the text `lineText` in the visible editor. */
export async function hoverText(page: Page, lineText: string, index: number): Promise<void> {
  const line = page.locator('.monaco-editor .view-line', { hasText: lineText }).first();
  const box = await line.boundingBox();
  if (!box) throw new Error(`line "${lineText}" not visible`);
  const full = (await line.textContent()) ?? '';
  const at = full.indexOf(lineText) + index;
  const span = line.locator('span').first();
  const sb = (await span.boundingBox())!;
  const charW = sb.width / Math.max(1, (await span.textContent())!.length);
  const x = box.x + (at + 0.5) * charW;
  const y = box.y + box.height / 2;
  // Monaco shows a hover after the mouse rests on a word: arrive in small steps, then rest.
  await page.mouse.move(x - 3, y);
  await page.mouse.move(x, y, { steps: 3 });
}
