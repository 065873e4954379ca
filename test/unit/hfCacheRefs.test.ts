// The Hugging Face cache's refs are read through the safe file layer (src/model/open/hfCache.ts →
// formats/files.ts readTextInside): a ref that is a link leading out of the cache, a FIFO (a raw
// read would hang), a link to /dev/zero (a raw read would never end), a directory link loop, an
// oversized file or one that holds no commit hash names nothing; the real refs still name their
// revisions, and the listing returns.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listCachedModels } from '../../src/model/open/hfCache';
import { addSnapshot } from './hfCacheTree';

const FIX = path.join(__dirname, '..', 'fixtures', 'hf');
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'al-refs-'));
after(() => fs.rmSync(WORK, { recursive: true, force: true }));

test('hostile refs name nothing; the real ones still name their revisions', { timeout: 60_000 }, async () => {
  const cache = path.join(WORK, 'hub');
  addSnapshot(cache, 'org/tiny', path.join(FIX, 'llama'), A, ['main']);
  addSnapshot(cache, 'org/tiny', path.join(FIX, 'llama'), B, ['v1']);
  const refs = path.join(cache, 'models--org--tiny', 'refs');
  // Outside the cache: a file naming revision B, which a read that escaped would attach as a ref.
  const outside = path.join(WORK, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'commit'), B);
  fs.symlinkSync(path.join(outside, 'commit'), path.join(refs, 'escape'));
  fs.symlinkSync(path.relative(refs, path.join(outside, 'commit')), path.join(refs, 'escape-relative'));
  execFileSync('mkfifo', [path.join(refs, 'fifo')]);
  fs.symlinkSync('/dev/zero', path.join(refs, 'zero'));
  fs.symlinkSync('.', path.join(refs, 'loop'));
  fs.writeFileSync(path.join(refs, 'big'), B + ' '.repeat(4096));
  fs.writeFileSync(path.join(refs, 'not-a-commit'), '../../../etc/passwd');
  // A link inside the repo folder is followed (the layer's rule): it names revision B.
  fs.symlinkSync('v1', path.join(refs, 'alias'));

  const started = Date.now();
  const models = await listCachedModels(cache);
  const elapsed = Date.now() - started;
  const byRev = new Map(models.map((m) => [m.revision, m]));
  assert.deepEqual([...byRev.keys()].sort(), [A, B]);
  assert.deepEqual(byRev.get(A)!.refs, ['main']);
  assert.deepEqual([...byRev.get(B)!.refs].sort(), ['alias', 'v1'], 'no outside, FIFO, device, oversized or bogus ref');
  assert.equal(models[0]!.revision, A, 'refs/main still ranks first');
  assert.ok(
    models.every((m) => m.supported),
    models.map((m) => m.reason).join('; '),
  );
  console.log(`listed ${models.length} revisions past 7 hostile refs in ${elapsed} ms`);
});
