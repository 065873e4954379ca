// A text each built-in model reads: forecasters a week of hourly volumes (the shipped sample's
// header and first 168 rows), the date and reverse models a date, the language models a sentence.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export const TRAFFIC_WEEK = readFileSync(path.join(ROOT, 'samples', 'traffic', 'i94-westbound-3-weeks.csv'), 'utf8')
  .split('\n')
  .slice(0, 169)
  .join('\n');

export function sampleTextFor(id: string): string {
  if (id.startsWith('traffic-')) return TRAFFIC_WEEK;
  if (id.startsWith('seq2seq') || id === 'dates-transformer') return 'Monday 23rd of November 2026';
  return 'The cat sat on the mat.';
}
