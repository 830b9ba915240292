// produce.js -- add N no-op jobs (removeOnComplete) with Node's addBulk.
'use strict';
const { Queue } = require('bullmq');
const N = +(process.env.N || 20000), CHUNK = 1000;
(async () => {
  const q = new Queue(process.env.QUEUE || 'bench', { connection: { host: '127.0.0.1', port: +process.env.PORT } });
  await q.waitUntilReady();
  for (let i = 0; i < N; i += CHUNK) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + CHUNK); j++)
      batch.push({ name: 'noop', data: { i: j }, opts: { removeOnComplete: true } });
    await q.addBulk(batch);
  }
  await q.close();
})();
