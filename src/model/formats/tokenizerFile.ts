// Numbers in a tokenizer.json checked against the vocabulary actually present, before the library
// (or anything else) sizes an array by them: one id of 4e9 otherwise never finishes loading.
import { AttentionInputError } from '../../../shared/trace';
import { showName } from './files';

/** The most tokens any vocabulary has, with room (the largest real ones: ~262k). */
export const MAX_TOKEN_ID = 1 << 24;

/** Ids may leave gaps (added tokens after a reserved range), but not run far past the entries present. */
export function idBound(entries: number): number {
  return Math.min(MAX_TOKEN_ID, Math.max(2 * entries, entries + 65_536));
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * Every id in model.vocab (an object of piece → id; Unigram's list has implicit ids) and in
 * added_tokens must be a non-negative integer below idBound(entries). Throws AttentionInputError('file').
 */
export function checkTokenizerIds(tokenizerJson: unknown, where: string): void {
  const json = asRecord(tokenizerJson);
  const vocab = asRecord(json['model'])['vocab'];
  const added = Array.isArray(json['added_tokens']) ? (json['added_tokens'] as unknown[]) : [];
  const ids: [piece: string, id: unknown][] = [];
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab))
    for (const [piece, id] of Object.entries(vocab)) ids.push([piece, id]);
  const listed = Array.isArray(vocab) ? vocab.length : ids.length;
  for (const a of added) ids.push([String(asRecord(a)['content']), asRecord(a)['id']]);
  const bound = idBound(listed + added.length);
  for (const [piece, id] of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= bound) {
      throw new AttentionInputError(
        'file',
        `${where}: token ${showName(piece)} has id ${typeof id === 'number' ? id : JSON.stringify(id)?.slice(0, 40)}, but with ${listed + added.length} tokens listed ids must be integers from 0 to ${bound - 1}; the file is corrupted or crafted.`,
      );
    }
  }
}
