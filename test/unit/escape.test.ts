// Sink-specific escaping (shared/escape.ts), on hostile token pieces generated here: every control,
// separator and bidi character is visible, and no sink can be made to render a link or HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { htmlText, labelText, markdownCode, markdownText, notificationText, visible } from '../../shared/escape';

const DANGEROUS = [
  ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)),
  ...Array.from({ length: 33 }, (_, i) => String.fromCharCode(0x7f + i)),
  '\u2028',
  '\u2029',
  '\u061c',
  '\u200e',
  '\u200f',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\ufeff',
];
const LINK = '[click](https://evil.example/x) [run](command:workbench.action.terminal.new?%5B%5D) <img src=x>';

test('every control, separator and bidi character becomes visible, each distinctly', () => {
  const seen = new Set<string>();
  for (const c of DANGEROUS) {
    const v = visible(`a${c}b`);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(v, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/, JSON.stringify(c));
    assert.ok(v.startsWith('a') && v.endsWith('b') && v.length > 2, JSON.stringify(v));
    seen.add(v);
  }
  assert.equal(seen.size, DANGEROUS.length, 'no two characters look the same');
  assert.equal(visible('a\rb'), 'a␍b');
  assert.equal(visible('\u202e'), '\\u{202E}');
  assert.equal(visible('plain ▁text Ġx é 猫'), 'plain ▁text Ġx é 猫', 'ordinary text is unchanged');
});

test('a token cannot leave its code span or table cell, nor make a link', () => {
  for (const c of ['\r', '\n', '\u2028', '\u0085', '\r\n']) {
    const md = markdownCode(`x${c}${LINK}\`|`);
    assert.doesNotMatch(md, /[\r\n\u2028\u0085]/);
    assert.equal((md.match(/`/g) ?? []).length, 2, 'only the span’s own backticks');
    assert.doesNotMatch(md, /(?<!\\)\|/, 'pipes are escaped');
  }
});

test('prose, HTML, labels and notifications', () => {
  const md = markdownText(`name\r${LINK}`);
  assert.doesNotMatch(md, /(?<!\\)[[\]()<>:]/, md);
  assert.doesNotMatch(md, /\r/);
  const html = htmlText(`<script>alert("x")</script>'&\u202e`);
  assert.doesNotMatch(html, /[<>"'\u202e]/);
  assert.match(html, /&lt;script&gt;/);
  assert.equal(labelText('$(alert) model'), '\\$(alert) model');
  const note = notificationText(`folder ${LINK}\r`);
  assert.doesNotMatch(note, /\]\(/, 'no [text](target) for VS Code to link');
  assert.doesNotMatch(note, /\r/);
});
