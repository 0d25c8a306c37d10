// browser.js: headless Debian chromium through playwright-core for the browser tests (web_dashboard.js,
// web_chat.js): the flags that keep it off the network, one page, and its script errors and console errors
// collected in `errors` (a test fails when any appear).
'use strict';
const { chromium } = require('playwright-core');

async function openPage(userDir, height) {
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height },
  });
  const errors = [];
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  return { ctx, page, errors };
}

module.exports = { openPage };
