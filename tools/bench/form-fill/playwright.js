#!/usr/bin/env node
// playwright.js -- the Playwright side of the form-fill benchmark: one
// headless Debian chromium launched by playwright-core (tests/node), then
// ROUNDS times the same sequence as recipe.lua (goto, fill, select, check,
// click, wait for the UUID), timed with performance.now() from the
// navigation to the result being visible. Browser start is not timed.
// Usage: node playwright.js URL TICKET.json PROFILE.json ROUNDS
// Prints one line per form on stdout: {"form": I, "ms": T, "uuid": U}.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const nodeDir = path.resolve(__dirname, '../../../tests/node');
const { chromium } = createRequire(path.join(nodeDir, 'package.json'))('playwright-core');

const [url, ticketPath, profilePath, roundsArg] = process.argv.slice(2);
if (!url || !ticketPath || !profilePath) {
  process.stderr.write('usage: node playwright.js URL TICKET.json PROFILE.json [ROUNDS]\n');
  process.exit(2);
}
const rounds = Number(roundsArg || 1);
const t = JSON.parse(fs.readFileSync(ticketPath, 'utf8'));
const p = JSON.parse(fs.readFileSync(profilePath, 'utf8'));

// The flags autofactura gives chromium (core/browser.c), less the two that
// Playwright owns: it talks over a pipe and makes its own profile directory.
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--no-default-browser-check', '--disable-dev-shm-usage', '--disable-quic',
  '--password-store=basic', '--window-size=1280,900'];

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.AF_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    for (let i = 1; i <= rounds; i++) {
      const t0 = performance.now();
      await page.goto(url);
      await page.fill('#folio', t.folio);
      await page.fill('#total', t.amount.toFixed(2));
      await page.fill('#fecha', t.date);
      await page.fill('#rfc', p.rfc);
      await page.fill('#nombre', p.full_name);
      await page.fill('#cp', p.postal_code);
      await page.selectOption('#regimen', { value: p.fiscal_regime });
      await page.selectOption('#uso', { value: p.cfdi_use });
      await page.fill('#email', p.email);
      await page.check('#acepto');
      await page.click('#enviar');
      await page.waitForSelector('#uuid', { state: 'visible' });
      const ms = performance.now() - t0;
      const uuid = await page.textContent('#uuid');
      process.stdout.write(JSON.stringify({ form: i, ms: Math.round(ms * 10) / 10, uuid }) + '\n');
    }
  } finally {
    await browser.close();
  }
})().catch((e) => {
  process.stderr.write(`playwright.js: ${e.message}\n`);
  process.exit(1);
});
