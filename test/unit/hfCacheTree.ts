// Builds a Hugging Face hub cache tree at test time from a fixture folder, as huggingface_hub
// writes it: blobs/<sha256 or git-sha1>, snapshots/<commit>/<file> as relative links, refs/<name>.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** git's blob id (the Hub's ETag for a file not in LFS). */
export function gitBlobSha(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** The blob id huggingface_hub names a file by: sha256 for LFS files (weights), git's sha1 otherwise. */
export function blobId(name: string, bytes: Uint8Array): string {
  return /\.safetensors$/.test(name) ? sha256(bytes) : gitBlobSha(bytes);
}

/** Adds `fixtureDir`'s files as revision `commit` of `repoId` in `cacheDir`; `refs` names point at it. */
export function addSnapshot(
  cacheDir: string,
  repoId: string,
  fixtureDir: string,
  commit: string,
  refs: readonly string[] = ['main'],
  only?: (name: string) => boolean,
): string {
  const repo = path.join(cacheDir, `models--${repoId.replace('/', '--')}`);
  const snap = path.join(repo, 'snapshots', commit);
  fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
  fs.mkdirSync(snap, { recursive: true });
  for (const name of fs.readdirSync(fixtureDir).sort()) {
    if (name === 'reference.json' || (only && !only(name))) continue;
    const bytes = fs.readFileSync(path.join(fixtureDir, name));
    const id = blobId(name, bytes);
    fs.writeFileSync(path.join(repo, 'blobs', id), bytes);
    fs.symlinkSync(path.join('..', '..', 'blobs', id), path.join(snap, name));
  }
  for (const ref of refs) {
    fs.mkdirSync(path.dirname(path.join(repo, 'refs', ref)), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', ref), commit);
  }
  return snap;
}
