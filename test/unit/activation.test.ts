// Lazy activation: VS Code activates the extension on a command, the panel's restore or a JSON
// file (the config diagnostics), never at start-up; activating starts no worker and loads no tfjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { timeActivation } from '../../scripts/bench/activation';

const ROOT = path.resolve(__dirname, '..', '..');
const BUNDLE = path.join(ROOT, 'dist', 'extension.js');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  activationEvents: string[];
  contributes: { commands: { command: string }[] };
};

test('no start-up activation event', () => {
  assert.ok(
    !pkg.activationEvents.includes('onStartupFinished'),
    'onStartupFinished starts the extension on every VS Code start',
  );
  assert.ok(!pkg.activationEvents.includes('*'));
  assert.ok(
    pkg.activationEvents.includes('onWebviewPanel:attentionLens.panel'),
    'a panel restored after a reload activates it',
  );
  // Commands activate by themselves (VS Code ≥ 1.74): none is listed twice.
  assert.ok(!pkg.activationEvents.some((e) => e.startsWith('onCommand:')));
});

test(
  'activate() of the built bundle starts no worker and loads no tfjs',
  { skip: !existsSync(BUNDLE) && 'run `npm run build` first' },
  () => {
    const t = timeActivation(BUNDLE);
    assert.equal(t.workerStarted, false);
    assert.equal(t.tfjsLoaded, false);
    assert.ok(Number.isFinite(t.activateMs));
  },
);
