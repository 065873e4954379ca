// Runs the mocha suites in test/suite inside code-server's real Node extension host, loaded
// through the workbench's extension-development URL payload (see ../shared/E2E.md).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { launch, type Session } from './harness';
// @ts-expect-error: plain ESM helper
import { ROOT } from '../../scripts/codeServer.mjs';

const PREFIX = 'ATTENTION_LENS_MOCHA_SUMMARY ';
let s: Session;
before(async () => {
  s = await launch({
    query: (port) => {
      const remote = (p: string): string => `vscode-remote://127.0.0.1:${port}${p}`;
      const payload = [
        ['extensionDevelopmentPath', remote(ROOT)],
        ['extensionTestsPath', remote(path.join(ROOT, 'out', 'test', 'suite', 'index.js'))],
      ];
      return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    },
  });
});
after(async () => {
  await s?.close();
});

test('mocha suites pass inside the real extension host', async (t) => {
  const deadline = Date.now() + 240_000;
  let exitedAt: number | undefined;
  let summary: string | undefined;
  while (!summary && Date.now() < deadline) {
    // The host exits when run() settles; give its last console lines a moment to arrive.
    if (exitedAt === undefined && /Extension Host Process exited/.test(s.serverOutput())) exitedAt = Date.now();
    if (exitedAt !== undefined && Date.now() - exitedAt > 5000) break;
    summary =
      s.consoleLines.find((l) => l.includes(PREFIX)) ??
      s
        .serverOutput()
        .split('\n')
        .find((l) => l.includes(PREFIX));
    if (!summary) await new Promise((r) => setTimeout(r, 500));
  }
  // Report each extension-host test as a test of its own, so the totals count them.
  for (const l of s.consoleLines.filter((l) => /ATTENTION_LENS_MOCHA_(PASS|FAIL) /.test(l))) {
    const [, kind, rest] = /ATTENTION_LENS_MOCHA_(PASS|FAIL) (.*)$/s.exec(l)!;
    await t.test(`[extension host] ${rest!.split(': ')[0]}`, () => {
      if (kind === 'FAIL') throw new Error(rest);
    });
  }
  await s.shot('extension-host-suite');
  // Keep the whole console for diagnosis.
  (await import('node:fs')).writeFileSync(
    path.join(ROOT, 'test-results', 'extension-host-console.txt'),
    s.consoleLines.join('\n'),
  );
  assert.ok(summary, `no mocha summary; server log tail:\n${s.serverOutput().slice(-3000)}`);
  const { passed, failed } = JSON.parse(summary.slice(summary.indexOf(PREFIX) + PREFIX.length)) as {
    passed: number;
    failed: number;
  };
  assert.equal(failed, 0, s.consoleLines.filter((l) => l.includes('MOCHA_FAIL')).join('\n'));
  assert.ok(passed >= 5, `only ${passed} extension-host tests passed`);
});
