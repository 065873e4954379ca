// `npm test`: typecheck, lint, build, unit tests (plain Node), then end-to-end tests in a real
// VS Code (code-server) driven through Debian's Chromium, including the mocha suites that run
// inside the real extension host. Ends with one line: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './codeServer.mjs';

const only = process.argv.slice(2); // e.g. `npm test -- unit` or `npm test -- e2e`
const want = (step) => only.length === 0 || only.includes(step);
// Every test's temporary files (folders, user data dirs, sockets) go under one directory that is
// removed at the end, so no run leaves litter in /tmp; the generated real-size checkpoints are
// reused across runs and live outside it.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-tests-'));
const env = {
  ...process.env,
  TMPDIR: tmp,
  ATTENTION_LENS_BENCH_CACHE: process.env.ATTENTION_LENS_BENCH_CACHE ?? path.join(os.tmpdir(), 'attention-lens-bench'),
};
let passed = 0;
let failed = 0;
const failures = [];

function run(name, cmd, args, opts = {}) {
  console.log(`\n▶ ${name}: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env, ...opts });
  const ok = r.status === 0;
  if (!ok) failures.push(`${name} (exit ${r.status ?? r.signal})`);
  return ok;
}

/** A check that is not a test file (typecheck, lint, build) counts as one test. */
function check(name, cmd, args) {
  if (run(name, cmd, args)) passed++;
  else failed++;
}

function nodeTests(name, dir, extra = []) {
  const files = readdirSync(path.join(ROOT, dir))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => path.join(dir, f));
  if (files.length === 0) return;
  const tap = path.join(ROOT, 'test-results', `${name}.tap`);
  mkdirSync(path.dirname(tap), { recursive: true });
  rmSync(tap, { force: true });
  run(name, process.execPath, [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...extra,
    ...files,
  ]);
  let text = '';
  try {
    text = readFileSync(tap, 'utf8');
  } catch {
    failed++;
    failures.push(`${name}: no test report`);
    return;
  }
  const count = (key) => Number([...text.matchAll(new RegExp(`^# ${key} (\\d+)$`, 'gm'))].pop()?.[1] ?? 0);
  const p = count('pass');
  const f = count('fail') + count('cancelled');
  if (p + f === 0) {
    failed++;
    failures.push(`${name}: ran no test`);
  }
  passed += p;
  failed += f;
  if (f > 0) failures.push(`${name}: ${f} failing`);
}

const npx = (bin) => path.join(ROOT, 'node_modules', '.bin', bin);
if (want('static')) {
  check('typecheck', npx('tsc'), ['--noEmit', '-p', '.']);
  check('lint', npx('eslint'), ['.', '--max-warnings=0']);
  check('format', npx('prettier'), ['--check', '.']);
}
check('build', process.execPath, ['esbuild.mjs']);
if (want('unit')) nodeTests('unit', 'test/unit');
if (want('e2e')) {
  if (run('install code-server and chromium', 'bash', ['scripts/setup-code-server.sh'])) {
    nodeTests('e2e', 'test/e2e', ['--test-concurrency=1', '--test-timeout=600000']);
  } else failed++;
}

rmSync(tmp, { recursive: true, force: true });
if (failures.length) console.log(`\nFailures:\n  ${failures.join('\n  ')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
