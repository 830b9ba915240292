// node-worker.js -- bullmq's Worker on N no-op jobs at concurrency C; prints
// {"jobs","seconds","jobs_per_sec"} timed from the first job to the Nth.
'use strict';
const { Worker } = require('bullmq');
const N = +(process.env.N || 20000), C = +(process.env.C || 1);
let done = 0, t0 = null, t1 = null;
const w = new Worker(process.env.QUEUE || 'bench', async () => {
  if (t0 === null) t0 = process.hrtime.bigint();
}, { connection: { host: '127.0.0.1', port: +process.env.PORT, maxRetriesPerRequest: null },
  concurrency: C, removeOnComplete: { count: 0 } });
w.on('completed', async () => {
  if (++done === N) {
    t1 = process.hrtime.bigint();
    const s = Number(t1 - t0) / 1e9;
    console.log(JSON.stringify({ jobs: N, seconds: +s.toFixed(3), jobs_per_sec: Math.round(N / s) }));
    await w.close();
    process.exit(0);
  }
});
