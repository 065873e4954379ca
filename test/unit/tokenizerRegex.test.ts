// Tokenizer regexes go through one guard (tokenizers/regexGuard.ts) before the library compiles them:
// a catastrophic pattern in a crafted tokenizer.json (Split / Replace pre-tokenizer, Replace
// normaliser or decoder, at any depth of a Sequence) is refused at load with a message naming the
// file and the pattern, instead of hanging the first encode; every tokenizer of the real families
// in the fixtures still loads and gives the ids the Python reference gave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HfTokenizer } from '../../src/model/tokenizers/hfTokenizer';
import { QWEN2_SPLIT } from '../../src/model/tokenizers/converters';
import { regexHazard, tokenizerRegexes } from '../../src/model/tokenizers/regexGuard';
import { AttentionInputError } from '../../shared/trace';

const ROOT = path.resolve(__dirname, '..', '..');
const HF = path.join(ROOT, 'test', 'fixtures', 'hf');
const LLAMA3 = path.join(HF, 'llama3');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'tokregex-'));
process.on('exit', () => fs.rmSync(WORK, { recursive: true, force: true }));

const isSub = (whole: readonly number[], part: readonly number[]): boolean => {
  if (part.length === 0) return true;
  for (let i = 0; i + part.length <= whole.length; i++) if (part.every((v, k) => whole[i + k] === v)) return true;
  return false;
};

test('every fixture tokenizer loads through the guard and gives the reference ids (special tokens aside)', async () => {
  const dirs = fs
    .readdirSync(HF)
    .map((d) => path.join(HF, d))
    .filter((d) => fs.existsSync(path.join(d, 'tokenizer.json')));
  assert.ok(dirs.length >= 20, `found ${dirs.length} fixture tokenizers`);
  let regexes = 0;
  let compared = 0;
  for (const dir of dirs) {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as unknown;
    regexes += tokenizerRegexes(json).length;
    const tok = await HfTokenizer.load(dir);
    const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as {
      cases: { text?: string; ids?: number[] }[];
      tokenizer_cases?: { text: string; ids: number[] }[];
    };
    for (const c of [...ref.cases, ...(ref.tokenizer_cases ?? [])]) {
      if (typeof c.text !== 'string' || !Array.isArray(c.ids)) continue;
      const ids = tok.encodeIds(c.text, false);
      assert.ok(ids.length > 0, `${path.basename(dir)}: ${JSON.stringify(c.text)} gives tokens`);
      // The reference adds BOS/EOS/CLS/SEP per family; the text's own ids are one run inside it.
      assert.ok(
        isSub(c.ids, ids),
        `${path.basename(dir)}: ids of ${JSON.stringify(c.text)}\n  ours ${ids.join(',')}\n  ref  ${c.ids.join(',')}`,
      );
      compared++;
    }
  }
  // Llama 3, SmolLM2/3, Qwen2/3 split regexes, T5, flan-T5 and mBART's ' {2,}': the guard really saw them.
  assert.ok(regexes >= 8, `${regexes} regexes checked`);
  assert.ok(compared >= dirs.length, `${compared} texts compared`);
  for (const dir of ['tinystories-656k', 'dates-transformer', 'english-encoder']) {
    const tok = await HfTokenizer.load(path.join(ROOT, 'models', dir));
    assert.ok(tok.encode('Once upon a time, 2024-01-05.').tokens.length > 0, dir);
  }
});

test("the real families' patterns are judged safe", () => {
  const patterns = [
    // GPT-2 / RoBERTa / GPT-NeoX (ByteLevel's own regex, also written out as a Split)
    String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
    // Llama 3 (cl100k-style)
    String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    QWEN2_SPLIT,
    // o200k-style (GPT-4o, Phi-4)
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    // DeepSeek's splits
    String.raw`\p{N}{1,3}`,
    String.raw`[一-龥぀-ゟ゠-ヿ]+`,
    String.raw`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_\`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    // BLOOM's (a nested class the library rewrites), T5 / mBART's space collapse, Falcon's digits
    String.raw` ?[^(\s|[.,!?…。，、।۔،])]+`,
    ' {2,}',
    '[0-9][0-9][0-9]',
  ];
  for (const p of patterns) assert.equal(regexHazard(p), undefined, p);
});

test('catastrophic and unbounded shapes are named for what they are', () => {
  const cases: [string, RegExp][] = [
    ['(a+)+$', /nested repetition/],
    ['(a*)*b', /nested repetition/],
    [String.raw`(?:\s+)*$`, /nested repetition/],
    ['(?:x{1,9})+', /nested repetition/],
    ['(a?){30}a{30}', /nested repetition/],
    ['((a+)b?)+', /nested repetition/],
    ['(a|a)+$', /alternation/],
    ['(?:ab|a)*c', /alternation/],
    ['(a|aa){40}$', /alternation/],
    [String.raw`(\w+)\s\1`, /backreference/],
    [String.raw`(?<w>a)\k<w>`, /backreference/],
    ['a*a*a*$', /more than 2 unbounded repetitions/],
    [String.raw`\s*(?:\s*\s+)x`, /more than 2 unbounded repetitions/],
    ['(a', /not closed/],
    ['[abc', /not closed/],
    ['a)', /unmatched/],
  ];
  for (const [p, why] of cases) {
    const hazard = regexHazard(p);
    assert.ok(hazard !== undefined && why.test(hazard), `${p}: ${hazard}`);
  }
});

/** A folder with Llama 3's tokenizer whose pre-tokenizer / normaliser / decoder is replaced. */
function craftedFolder(name: string, edit: (json: Record<string, unknown>) => void): string {
  const dir = path.join(WORK, name);
  fs.mkdirSync(dir);
  const json = JSON.parse(fs.readFileSync(path.join(LLAMA3, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  edit(json);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  fs.copyFileSync(path.join(LLAMA3, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
  return dir;
}

const split = (pattern: string) => ({
  type: 'Split',
  pattern: { Regex: pattern },
  behavior: 'Isolated',
  invert: false,
});

test('a crafted tokenizer.json with a catastrophic regex is refused at load, naming the file and the pattern', async () => {
  const evil = '(a+)+$';
  const crafted: [string, (json: Record<string, unknown>) => void, RegExp][] = [
    [
      'split',
      (j) => (j['pre_tokenizer'] = { type: 'Sequence', pretokenizers: [split(evil), { type: 'ByteLevel' }] }),
      /Split pre-tokenizer pattern "\(a\+\)\+\$"/,
    ],
    [
      'replace-normaliser',
      (j) =>
        (j['normalizer'] = {
          type: 'Sequence',
          normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '(x|xx)+y' }, content: 'z' }],
        }),
      /Replace normalizer pattern "\(x\|xx\)\+y".*alternation/,
    ],
    [
      'replace-decoder',
      (j) => (j['decoder'] = { type: 'Replace', pattern: { Regex: String.raw`(\w)\1` }, content: '' }),
      /Replace decoder pattern .*backreference/,
    ],
    [
      'deep-sequence',
      (j) =>
        (j['pre_tokenizer'] = {
          type: 'Sequence',
          pretokenizers: [
            { type: 'Sequence', pretokenizers: [{ type: 'Sequence', pretokenizers: [split('(?:\\s*)*!')] }] },
          ],
        }),
      /Split pre-tokenizer pattern .*nested repetition/,
    ],
  ];
  for (const [name, edit, message] of crafted) {
    const dir = craftedFolder(name, edit);
    const file = path.join(dir, 'tokenizer.json');
    await assert.rejects(HfTokenizer.load(dir), (e: unknown) => {
      assert.ok(e instanceof AttentionInputError, `${name}: ${String(e)}`);
      assert.equal(e.code, 'file');
      assert.ok(e.message.startsWith(file + ':'), `${name} names the file: ${e.message}`);
      assert.match(e.message, message);
      return true;
    });
  }
  // The same folder with Llama 3's own split loads and tokenizes (the refusal is the pattern's, nothing else).
  const good = craftedFolder('good', () => {});
  const text = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaab';
  const ids = (await HfTokenizer.load(good)).encodeIds(text, false);
  assert.ok(ids.length > 0);
  assert.deepEqual(ids, (await HfTokenizer.load(LLAMA3)).encodeIds(text, false));
});

test('an inline tokenizer.json (the constructor every loader uses) goes through the same guard', () => {
  const json = JSON.parse(fs.readFileSync(path.join(LLAMA3, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  json['pre_tokenizer'] = split('(a+)+$');
  assert.throws(
    () => new HfTokenizer(json, {}, 'crafted/tokenizer.json'),
    (e: unknown) => e instanceof AttentionInputError && /^crafted\/tokenizer\.json: the Split/.test(e.message),
  );
});
