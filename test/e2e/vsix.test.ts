// The shipped artifact: package a .vsix, install it with --install-extension, and use it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { launch, openFile, panelFrame, rightClickMenu, selectLine, type Session } from './harness';
// @ts-expect-error: plain ESM helper
import { ROOT } from '../../scripts/codeServer.mjs';

const VSIX = path.join(ROOT, 'test-results', 'attention-lens.vsix');
let s: Session | undefined;
before(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), '--production'], { cwd: ROOT, stdio: 'inherit' });
  execFileSync(
    path.join(ROOT, 'node_modules', '.bin', 'vsce'),
    ['package', '--no-dependencies', '--no-rewrite-relative-links', '--out', VSIX],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  // Leave a development build behind for the other suites.
  execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs')], { cwd: ROOT, stdio: 'inherit' });
});
after(async () => {
  await s?.close();
});

test('the packaged .vsix installs into code-server and visualises a selection', async () => {
  assert.ok(existsSync(VSIX));
  const mb = statSync(VSIX).size / 1e6;
  assert.ok(mb < 30, `vsix is ${mb.toFixed(1)} MB`);
  s = await launch({ vsix: VSIX });
  const { page } = s;
  await openFile(page, 'prose.txt');
  await selectLine(page, 1);
  await rightClickMenu(page, 'Visualise attention');
  const frame = await panelFrame(page, '[data-testid="tokens"]');
  const name = await frame.textContent('[data-testid="model-name"]');
  assert.match(name ?? '', /TinyStories/);
  const tokens = await frame.$$eval('[data-testid="tokens"] .tok-text', (els) => els.map((e) => e.textContent ?? ''));
  assert.ok(tokens.join('').replace(/▁/g, ' ').includes('Once upon a time'), tokens.join('|'));
  await s.shot('vsix-panel');
});
