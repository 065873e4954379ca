// A person opens the shipped week of I-94 traffic, selects a week and six more hours, right-clicks
// Visualise attention with the traffic model chosen, and reads the time-axis view: the series, the
// forecast beside the truth, and the attention of one forecast hour as shading under the line.
// Data: samples/traffic (John Hogue, Metro Interstate Traffic Volume, UCI ML Repository, CC BY 4.0).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cliTrace, explorerRow, launch, panelFrame, rightClickMenu, type Session } from './harness';
import { findTensor } from '../../shared/trace';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = readFileSync(path.join(ROOT, 'samples', 'traffic', 'i94-westbound-3-weeks.csv'), 'utf8').split('\n');
const MODEL = 'traffic-lstm-attention';
const int = (v: number): string => Math.round(v).toLocaleString('en-US');

let s: Session;
before(async () => {
  s = await launch({
    settings: { 'attentionLens.model': MODEL, 'editor.hover.delay': 300 },
    folder: path.join(ROOT, 'samples', 'traffic'),
  });
});
after(async () => {
  await s?.close();
});

test('select a week of the traffic sample → the time-axis view with forecast, truth and attention shading', async () => {
  const { page } = s;
  // Open it from the Explorer, as a person does (Ctrl+P's file search can lag on a loaded machine).
  const row = explorerRow(page, 'i94-westbound-3-weeks.csv');
  await row.waitFor({ timeout: 60_000 }).catch(async () => {
    await page.keyboard.press('Control+Shift+E');
    await row.waitFor({ timeout: 60_000 });
  });
  await row.click();
  await page.waitForSelector('.tab.active[aria-label*="i94-westbound-3-weeks.csv"]', { timeout: 30_000 });
  await page.waitForSelector('.monaco-editor .view-lines');
  // The header and 174 rows: 168 hours in, 6 hours of truth. Go to line 176, then Shift+Ctrl+Home
  // selects up to the top (and scrolls there, so the right-click lands on a visible selected line).
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+G');
  await page.keyboard.type('176');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+Control+Home');
  await s.shot('traffic-01-selection');
  await rightClickMenu(page, 'Visualise attention');
  const frame = await panelFrame(page, '[data-testid="time-axis"]', 180_000);
  const caption = await frame.textContent('[data-testid="time-axis-caption"]');
  assert.equal(caption, 'Time axis 168 h in → 6 h out · Mon 10 Sep 00:00 – Sun 16 Sep 23:00');
  const legend = await frame.textContent('[data-testid="time-axis-legend"]');
  assert.match(legend ?? '', /input: 168 hours.*forecast: 6 hours.*truth: 6 hours/);
  await s.shot('traffic-02-panel-tokens');

  // The same run through the CLI: an independent copy of the numbers the panel must show.
  const text = SAMPLE.slice(0, 175).join('\n') + '\n';
  const trace = cliTrace(MODEL, text);
  const forecast = findTensor(trace.stages.find((x) => x.id === 'forecast')!, 'forecast')!.data;
  const truth = SAMPLE.slice(169, 175).map((l) => Number(l.split(',')[8]));
  const start = await frame.textContent('[data-testid="time-axis-summary"]');
  assert.equal(start, `Forecast for the next 6 hours: ${Array.from(forecast, int).join(', ')} vehicles/hour.`);

  // Forecast hour +3: its attention weights stage, shading under the line, the summary sentence.
  await frame.click('[data-testid="time-axis-hour-3"]');
  await frame.locator('[data-testid="time-axis-hour-3"][aria-pressed="true"]').waitFor({ timeout: 30_000 });
  assert.equal(
    await frame.textContent('[data-testid="stage-title"]'),
    'Forecast hour +3: attention over the past hours',
  );
  const weights = findTensor(trace.stages.find((x) => x.id === 'fc2.weights')!, 'weights')!.data;
  const keyHours = findTensor(trace.stages.find((x) => x.id === 'tokens')!, 'key_hour')!.data; // 1-based hours of the window
  const top = Array.from(weights, (w, j) => [keyHours[j]! - 1, w] as const).sort((a, b) => b[1] - a[1])[0]!;
  const summary = (await frame.textContent('[data-testid="time-axis-summary"]')) ?? '';
  assert.ok(
    summary.startsWith(
      `Forecast hour +3: ${int(forecast[2]!)} vehicles/hour, truth ${int(truth[2]!)} (error ${int(forecast[2]! - truth[2]!)}). Largest weights: ${170 - top[0]} h before (${top[1].toFixed(3)})`,
    ),
    summary,
  );
  // The shading is drawn: the canvas has the attention colour under the line.
  const coloured = await frame.$eval('[data-testid="time-axis"]', (c) => {
    const canvas = c as HTMLCanvasElement;
    const g = canvas.getContext('2d')!;
    const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4)
      if (d[i + 3]! > 0 && d[i + 1]! > d[i]! + 40 && d[i + 1]! > d[i + 2]! - 20) n++;
    return n;
  });
  assert.ok(coloured > 200, `attention shading pixels: ${coloured}`);
  // The usual heatmap stays: the weights of this hour under the time axis.
  await frame.locator('[data-testid="heatmap-weights"]').waitFor();
  await frame.locator('[data-testid="time-axis"]').scrollIntoViewIfNeeded();
  await s.shot('traffic-03-time-axis-hour-3');

  // Hover a position of the plot: the readout names the hour and its weight.
  // Hover the last input hour (hour 168 of 174 on the axis: plot from x = 62 to width − 16).
  const box = (await frame.locator('[data-testid="time-axis"]').boundingBox())!;
  await page.mouse.move(box.x + 62 + (167.5 / 174) * (box.width - 78), box.y + 100);
  const readout = (await frame.textContent('[data-testid="time-axis-readout"]')) ?? '';
  assert.match(
    readout,
    /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d+ Sep \d\d:00: [\d,]+ vehicles\/hour, weight 0\.\d{4} \(\d+ h before \+3\)$/,
  );
  await s.shot('traffic-04-time-axis-readout');
});
