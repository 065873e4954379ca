// The command line's --generate as a user runs it (a child process): greedy ids equal torch's
// (generate.json), sampling repeatable by --seed, each step's alternatives and attention printed,
// bad flags exit 2 naming the flag, a model that is not a decoder exits 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'hf');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

const stepIds = (stdout: string): number[] =>
  [...stdout.matchAll(/^step \d+: .* \(id (\d+)\)/gm)].map((m) => Number(m[1]));

for (const family of ['gpt2', 'mistral', 'gemma2']) {
  test(`${family}: --generate 5 prints torch's greedy tokens, each with its alternatives and the predicting query's attention`, async () => {
    const text = (
      JSON.parse(fs.readFileSync(path.join(FIX, family, 'reference.json'), 'utf8')) as { cases: { text: string }[] }
    ).cases[0]!.text;
    const ref = JSON.parse(fs.readFileSync(path.join(FIX, family, 'generate.json'), 'utf8')) as {
      steps: { id: number }[];
    };
    const r = await cli(['--model', path.join(FIX, family), '--generate', '5', text]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      stepIds(r.stdout),
      ref.steps.slice(0, 5).map((s) => s.id),
    );
    assert.match(r.stdout, /greedy, key\/value cache/);
    assert.equal([...r.stdout.matchAll(/^ {4}top: /gm)].length, 5, 'five alternatives lines');
    assert.equal([...r.stdout.matchAll(/most-attended key per head: h0→\d+/gm)].length, 5, 'five attention lines');
    assert.match(r.stdout, /^5 tokens in [\d.]+ s \([\d.]+ tokens\/s\)$/m);
    assert.doesNotMatch(r.stderr, /leaked/);
  });
}

test('sampling: the same --seed prints the same tokens, another seed other ones', async () => {
  const args = [
    '--model',
    path.join(FIX, 'qwen2'),
    '--generate',
    '8',
    '--temperature',
    '1.5',
    '--top-k',
    '40',
    '--top-p',
    '0.95',
  ];
  const a = await cli([...args, '--seed', '3', 'The cat sat']);
  const b = await cli([...args, '--seed', '3', 'The cat sat']);
  const c = await cli([...args, '--seed', '4', 'The cat sat']);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /sampled: temperature 1.5, top-k 40, top-p 0.95, seed 3/);
  assert.match(a.stdout, /drawn with [\d.]+%/);
  assert.deepEqual(stepIds(a.stdout), stepIds(b.stdout));
  assert.equal(stepIds(a.stdout).length, 8);
  assert.notDeepEqual(stepIds(a.stdout), stepIds(c.stdout));
});

test('bad generation flags exit 2 naming the flag and the value; a model that is not a decoder exits 1', async () => {
  const gpt2 = path.join(FIX, 'gpt2');
  for (const [args, message] of [
    [['--generate', '0'], /--generate must be a positive whole number; received "0"/],
    [['--generate', '3', '--top-p', '1.5'], /--top-p must be a number in \(0, 1\]; received "1.5"/],
    [['--generate', '3', '--temperature', '-1'], /--temperature must be a number ≥ 0/],
    [['--generate', '3', '--seed', 'x'], /--seed must be a whole number/],
    [['--temperature', '0.7'], /need --generate N/],
    [['--generate', '3', '--temperature', '0', '--seed', '1'], /--temperature 0 is greedy decoding/],
  ] as const) {
    const r = await cli(['--model', gpt2, ...args, 'Hello']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const bert = await cli(['--model', path.join(FIX, 'bert'), '--generate', '3', 'Hello there']);
  assert.equal(bert.code, 1, bert.stderr);
  assert.match(bert.stderr, /--generate needs a decoder-only language model/);
});
