// *.attention.json: every sample validates; broken configs give the expected diagnostics at the
// right place in the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseAttentionConfig } from '../../src/model/formats/attentionConfig';

const SAMPLES = path.join(__dirname, '..', '..', 'samples', 'configs');

test('every shipped sample config validates', () => {
  const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.attention.json'));
  assert.ok(files.length >= 6);
  for (const f of files) {
    const r = parseAttentionConfig(readFileSync(path.join(SAMPLES, f), 'utf8'));
    assert.deepEqual(r.problems, [], f);
    assert.ok(r.config, f);
  }
});

function problemAt(text: string, needle: string): { message: string; at: string } {
  const r = parseAttentionConfig(text);
  assert.equal(r.config, undefined);
  const p = r.problems[0]!;
  assert.ok(p, 'a problem is reported');
  return {
    message: p.message,
    at: text.slice(p.offset, p.offset + p.length).includes(needle) ? needle : text.slice(p.offset, p.offset + p.length),
  };
}

const base = {
  kind: 'hand-built',
  tokens: ['a', 'b'],
  embeddings: [
    [1, 0, 0],
    [0, 1, 0],
  ],
  W_q: [
    [1, 0],
    [0, 1],
    [1, 1],
  ],
  W_k: [
    [1, 0],
    [0, 1],
    [1, 1],
  ],
  W_v: [
    [1, 0],
    [0, 1],
    [1, 1],
  ],
};

test('a matrix of the wrong size names both sizes and points at the matrix', () => {
  const text = JSON.stringify(
    {
      ...base,
      W_q: [
        [1, 0],
        [0, 1],
        [1, 1],
        [0, 0],
      ],
    },
    null,
    2,
  );
  const p = problemAt(text, '"W_q"');
  assert.equal(p.at, '"W_q"');
  assert.match(p.message, /"W_q" is 4×2 but .* must be 3×2/);
  assert.match(p.message, /d_model = 3/);
});

test('W_k must match W_q so that q·k is defined', () => {
  const text = JSON.stringify({ ...base, W_k: [[1], [0], [1]] }, null, 2);
  const p = problemAt(text, '"W_k"');
  assert.match(p.message, /"W_k" is 3×1 but .* 3×2/);
});

test('ragged rows, non-numbers, unknown enums and missing parameters are all reported', () => {
  assert.match(
    problemAt(
      JSON.stringify({
        ...base,
        embeddings: [
          [1, 0, 0],
          [0, 1],
        ],
      }),
      'x',
    ).message,
    /Row 1 of "embeddings" has 2 numbers but row 0 has 3/,
  );
  assert.match(
    problemAt(
      JSON.stringify({
        ...base,
        W_v: [
          [1, 0],
          [0, 'x'],
          [1, 1],
        ],
      }),
      'x',
    ).message,
    /W_v\[1\]\[1\] must be a finite number/,
  );
  assert.match(
    problemAt(JSON.stringify({ ...base, normaliser: 'softmin' }), 'x').message,
    /"normaliser" must be one of "softmax", "sparsemax", "sigmoid"/,
  );
  assert.match(
    problemAt(JSON.stringify({ ...base, score: 'general' }), 'x').message,
    /"W" is required: d_k × d_k = 2×2/,
  );
  assert.match(
    problemAt(JSON.stringify({ ...base, score: 'additive', W1: [[1, 0]], W2: [[1, 0]], v: [1, 2] }), 'x').message,
    /"v" has 2 numbers but d_a = 1/,
  );
  assert.match(
    problemAt(JSON.stringify({ ...base, embeddings: [[1, 0, 0]] }), 'x').message,
    /"embeddings" is 1×3 but one embedding row per token must be 2×3/,
  );
});

test('syntax errors and truncated files are diagnostics, not exceptions', () => {
  const text = JSON.stringify(base, null, 2);
  for (const cut of [1, 10, text.length / 2, text.length - 1]) {
    const r = parseAttentionConfig(text.slice(0, cut));
    assert.equal(r.config, undefined);
    assert.ok(r.problems.length > 0);
    assert.match(r.problems[0]!.message, /JSON syntax error|required|must/);
  }
  assert.match(parseAttentionConfig('[]').problems[0]!.message, /JSON object/);
});

test('model references need a model and an input, and warn on absolute paths', () => {
  const r = parseAttentionConfig(
    JSON.stringify({ kind: 'model', architecture: 'transformer-decoder', path: '/etc/models', input: { text: 'hi' } }),
  );
  assert.equal(r.problems[0]!.severity, 'warning');
  assert.ok(r.config);
  assert.match(
    parseAttentionConfig(JSON.stringify({ kind: 'model', architecture: 'transformer-decoder', input: { text: 'hi' } }))
      .problems[0]!.message,
    /"builtin" .* or "path"/,
  );
  assert.match(
    parseAttentionConfig(JSON.stringify({ kind: 'model', architecture: 'lstm', builtin: 'x', input: { text: 'hi' } }))
      .problems[0]!.message,
    /"architecture" must be one of/,
  );
});
