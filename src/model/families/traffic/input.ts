// Reads hourly traffic volumes out of selected CSV text: one column of numbers, or whole rows of the
// Metro Interstate dataset's format (the traffic_volume and date_time columns found by the header,
// or by the dataset's column order when the header is not selected). Each value keeps its UTF-16
// offsets in the text, so the editor can paint and hover it. Bad input is an AttentionInputError
// naming the line (counted from 1 at the first line of the selection). Pure: no tfjs.
import { AttentionInputError, type Token } from '../../../../shared/trace';

/** One volume read from the text. */
export interface HourValue {
  readonly value: number;
  /** As written, and where: UTF-16 offsets into the text. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** 1-based line of the selection. */
  readonly line: number;
  /** 'YYYY-MM-DD HH:MM' when the rows carry a timestamp. */
  readonly time?: string;
}

export interface TrafficInput {
  /** The first `window` values: the model's input. */
  readonly window: readonly HourValue[];
  /** Up to `horizon` values right after the window: the truth for the forecast hours. */
  readonly truth: readonly HourValue[];
  /** The characters covered by the values used (window and truth). */
  readonly coveredLength: number;
  readonly warnings: readonly string[];
  /** Where the values came from: 'a column of numbers' or 'the traffic_volume column (…)'. */
  readonly source: string;
}

export interface TrafficLimits {
  readonly window: number;
  readonly horizon: number;
  /** Volumes outside [minPeak, maxValue] over a window are the wrong scale. */
  readonly minPeak: number;
  readonly maxValue: number;
}

/** Defaults from the training data: I-94 westbound volumes lie in 0 … 7280, every week in the data peaks above 5,500. */
export const TRAFFIC_LIMITS = { minPeak: 1000, maxValue: 20000 } as const;

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DATASET_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(:(\d{2}))?$/;
/** The dataset's columns when no header is selected. */
const DATASET_COLUMNS = 9;
const DATASET_TIME_COL = 7;
const DATASET_VOLUME_COL = 8;

interface Cell {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

interface Line {
  readonly no: number;
  readonly cells: readonly Cell[];
}

/** Splits the text into lines and comma-separated cells (quotes honoured), trimmed, with offsets. */
function splitLines(text: string): Line[] {
  const out: Line[] = [];
  let no = 0;
  let pos = 0;
  while (pos <= text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    no++;
    const raw = text.slice(pos, nl).replace(/\r$/, '');
    if (raw.trim() !== '') {
      const cells: Cell[] = [];
      let a = 0;
      let quoted = false;
      for (let i = 0; i <= raw.length; i++) {
        const ch = raw[i];
        if (ch === '"') quoted = !quoted;
        if (i === raw.length || (ch === ',' && !quoted)) {
          const piece = raw.slice(a, i);
          const lead = piece.length - piece.trimStart().length;
          let t = piece.trim();
          let s = pos + a + lead;
          if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
            t = t.slice(1, -1);
            s += 1;
          }
          cells.push({ text: t, start: s, end: s + t.length });
          a = i + 1;
        }
      }
      out.push({ no, cells });
    }
    pos = nl + 1;
  }
  return out;
}

function parseTime(cell: Cell, line: number): number {
  const m = DATASET_TIME.exec(cell.text);
  if (!m)
    throw new AttentionInputError(
      'shape',
      `Line ${line}: "${cell.text}" is not a date and hour like 2018-01-03 05:00:00 (the date_time column).`,
    );
  const [y, mo, d, h, mi] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi);
  const back = new Date(t);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59)
    throw new AttentionInputError('shape', `Line ${line}: "${cell.text}" is not a real date and hour.`);
  return t / 3_600_000;
}

const fmtTime = (hours: number): string => new Date(hours * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');

function readNumber(cell: Cell, line: number, what: string): number {
  if (!NUMBER.test(cell.text))
    throw new AttentionInputError(
      'shape',
      cell.text === ''
        ? `Line ${line}: the ${what} cell is empty; every hour needs a volume (vehicles/hour).`
        : `Line ${line}: "${cell.text}" is not a number; the ${what} must be a traffic volume in vehicles/hour.`,
    );
  const v = Number(cell.text);
  if (!Number.isFinite(v))
    throw new AttentionInputError('shape', `Line ${line}: "${cell.text}" is not a finite number.`);
  if (v < 0)
    throw new AttentionInputError('shape', `Line ${line}: ${cell.text} is negative; a traffic volume cannot be.`);
  return v;
}

/** Reads the volumes (and timestamps) of the text; throws AttentionInputError for bad input. */
export function parseTrafficInput(text: string, limits: TrafficLimits): TrafficInput {
  const { window: M, horizon: H } = limits;
  const lines = splitLines(text);
  if (lines.length === 0)
    throw new AttentionInputError(
      'empty',
      `Select ${M} or more hourly traffic volumes (one per line, or rows of the Metro Interstate CSV).`,
    );
  const warnings: string[] = [];
  let body = lines;
  let volCol = 0;
  let timeCol: number | undefined;
  let source = 'a column of numbers';
  const header = lines[0]!.cells.map((c) => c.text.toLowerCase());
  if (header.includes('traffic_volume')) {
    volCol = header.indexOf('traffic_volume');
    const tc = header.indexOf('date_time');
    timeCol = tc >= 0 ? tc : undefined;
    body = lines.slice(1);
    source = `the traffic_volume column (column ${volCol + 1})${timeCol !== undefined ? ', hours from date_time' : ''}`;
  } else if (lines[0]!.cells.length > 1) {
    const first = lines[0]!;
    if (
      first.cells.length === DATASET_COLUMNS &&
      DATASET_TIME.test(first.cells[DATASET_TIME_COL]!.text) &&
      NUMBER.test(first.cells[DATASET_VOLUME_COL]!.text)
    ) {
      volCol = DATASET_VOLUME_COL;
      timeCol = DATASET_TIME_COL;
      source = 'the Metro Interstate rows (traffic_volume, the last column; hours from date_time)';
    } else {
      const hasWord = first.cells.some((c) => c.text !== '' && !NUMBER.test(c.text));
      throw new AttentionInputError(
        'shape',
        `Line ${first.no}: ${first.cells.length} columns${hasWord ? ' without a traffic_volume header' : ''}, so the volumes cannot be told apart. Select one column of volumes, or include the header line naming traffic_volume (and date_time).`,
      );
    }
  }
  const values: HourValue[] = [];
  let prevTime: number | undefined;
  let duplicates = 0;
  for (const line of body) {
    if (line.cells.length <= volCol || (timeCol !== undefined && line.cells.length <= timeCol))
      throw new AttentionInputError(
        'shape',
        `Line ${line.no}: ${line.cells.length} column${line.cells.length === 1 ? '' : 's'}, but the volume is in column ${volCol + 1}.`,
      );
    if (timeCol === undefined && line.cells.length > 1)
      throw new AttentionInputError(
        'shape',
        `Line ${line.no}: ${line.cells.length} values on one line; select one volume per line (one column).`,
      );
    const cell = line.cells[volCol]!;
    const value = readNumber(cell, line.no, timeCol === undefined ? 'line' : 'traffic_volume');
    let time: string | undefined;
    if (timeCol !== undefined) {
      const t = parseTime(line.cells[timeCol]!, line.no);
      if (prevTime !== undefined) {
        if (t === prevTime) {
          // The dataset repeats an hour once per extra weather condition, with the same volume.
          const last = values[values.length - 1]!;
          if (last.value !== value)
            throw new AttentionInputError(
              'shape',
              `Line ${line.no}: the hour ${fmtTime(t)} appears again (line ${last.line}) with another volume (${cell.text}, not ${last.text}).`,
            );
          duplicates++;
          continue;
        }
        if (t < prevTime)
          throw new AttentionInputError(
            'shape',
            `Line ${line.no}: ${fmtTime(t)} comes before the previous row's ${fmtTime(prevTime)}; the rows must be in time order.`,
          );
        if (t - prevTime !== 1) {
          const gap = t - prevTime - 1;
          throw new AttentionInputError(
            'shape',
            Number.isInteger(gap)
              ? `Line ${line.no}: ${fmtTime(t)} follows ${fmtTime(prevTime)}: ${gap} hour${gap === 1 ? ' is' : 's are'} missing. The model reads consecutive hours; select a range without a gap (or fill it).`
              : `Line ${line.no}: ${fmtTime(t)} is not a whole number of hours after ${fmtTime(prevTime)}; the model reads hourly values.`,
          );
        }
      }
      prevTime = t;
      time = fmtTime(t);
    }
    values.push({
      value,
      text: cell.text,
      start: cell.start,
      end: cell.end,
      line: line.no,
      ...(time ? { time } : {}),
    });
    if (values.length === M + H) break;
  }
  if (values.length < M)
    throw new AttentionInputError(
      'shape',
      `${values.length} hourly volume${values.length === 1 ? '' : 's'} selected; the model reads a window of ${M} consecutive hours (one week). Select at least ${M} (and up to ${H} more to compare the forecast with the truth).`,
    );
  const window = values.slice(0, M);
  let peak = window[0]!;
  let over: HourValue | undefined;
  for (const v of window) {
    if (v.value > peak.value) peak = v;
    if (!over && v.value > limits.maxValue) over = v;
  }
  if (over)
    throw new AttentionInputError(
      'shape',
      `Line ${over.line}: ${over.text} vehicles/hour is far above anything this road carries (the training data never exceeds 7,280). Is this the traffic_volume column?`,
    );
  if (peak.value < limits.minPeak)
    throw new AttentionInputError(
      'shape',
      `Lines ${window[0]!.line}–${window[M - 1]!.line}: the largest value is ${peak.text} (line ${peak.line}), but every week of I-94 traffic in the data peaks above 5,000 vehicles/hour; these look like another quantity (temperatures, rainfall?) or another scale. Select the traffic_volume column.`,
    );
  const truth = values.slice(M, M + H);
  const last = values[values.length - 1]!;
  const remaining = body.filter((l) => l.no > last.line).length;
  if (remaining > 0)
    warnings.push(
      `The model reads ${M} hours and forecasts ${H}; the selection's first ${values.length} values were used and the ${remaining} line${remaining === 1 ? '' : 's'} after line ${last.line} ignored.`,
    );
  if (duplicates > 0)
    warnings.push(
      `${duplicates} row${duplicates === 1 ? ' repeats an hour' : 's repeat hours'} already read (the dataset has one row per weather condition); the first row of each hour was used.`,
    );
  return { window, truth, coveredLength: last.end, warnings, source };
}

/** The window's values as tokens with their document offsets (id = the hour's index). */
export function hourTokens(values: readonly HourValue[]): Token[] {
  return values.map((v, i) => ({ text: v.text, id: i, start: v.start, end: v.end }));
}
