#!/usr/bin/env node
// stats.js -- bookkeeping for run.sh.
//   node stats.js ours RESULT.json BATCH   per-form times of one autofactura run
//                                          (from the "form I start/done" log steps)
//   node stats.js theirs BATCH             per-form lines of playwright.js on stdin
//   node stats.js report FORMS.jsonl       medians and the ratio ours/Playwright
// Form 1 of every batch is a warm-up and is dropped on both sides.
'use strict';
const fs = require('fs');

const [cmd, a, b] = process.argv.slice(2);
const out = (side, batch, form, ms) => {
  if (form > 1) process.stdout.write(JSON.stringify({ side, batch, form, ms }) + '\n');
};
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

if (cmd === 'ours') {
  const r = JSON.parse(fs.readFileSync(a, 'utf8'));
  if (r.status !== 'COMPLETED') throw new Error(`autofactura run ended ${r.status}: ${r.failure_reason}`);
  const start = {};
  for (const s of r.steps) {
    const m = /^form (\d+) (start|done)$/.exec(s.type === 'log' ? s.detail : '');
    if (!m) continue;
    if (m[2] === 'start') start[m[1]] = s.at_ms;
    else out('ours', Number(b), Number(m[1]), s.at_ms - start[m[1]]);
  }
} else if (cmd === 'theirs') {
  for (const line of fs.readFileSync(0, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const f = JSON.parse(line);
    if (!/^[0-9A-F-]{36}$/.test(f.uuid || '')) throw new Error('playwright.js: form without a UUID');
    out('theirs', Number(a), f.form, f.ms);
  }
} else if (cmd === 'report') {
  const rows = fs.readFileSync(a, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const side = (s) => rows.filter((r) => r.side === s).map((r) => r.ms);
  const ours = side('ours'), theirs = side('theirs');
  if (!ours.length || !theirs.length) throw new Error('no measurements for one side');
  const fmt = (xs) => `median ${median(xs).toFixed(1)} ms  (n=${xs.length}, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
  const batches = [...new Set(rows.map((r) => r.batch))];
  const perBatch = batches.map((bt) => {
    const m = (s) => median(rows.filter((r) => r.batch === bt && r.side === s).map((r) => r.ms));
    return m('ours') / m('theirs');
  });
  const ratio = median(ours) / median(theirs);
  process.stdout.write(
    `form fill, ms per form (navigation to result visible; browser start excluded)\n` +
    `  autofactura : ${fmt(ours)}\n` +
    `  playwright  : ${fmt(theirs)}\n` +
    `  ratio ours/Playwright (of medians): ${ratio.toFixed(2)}  ` +
    `(median of per-batch ratios: ${median(perBatch).toFixed(2)}; target <= 0.80)\n`);
} else {
  process.stderr.write('usage: node stats.js ours RESULT.json BATCH | theirs BATCH | report FORMS.jsonl\n');
  process.exit(2);
}
