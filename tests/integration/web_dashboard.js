// web_dashboard.js: drives the dashboard in headless Chromium (playwright-core): opens it, looks up a user,
// checks the recommendations carry titles, sends an event with the form, checks the list changed (the item
// just sent leaves the recommendations and joins the history), opens an item's similar items, sees the activity
// charts (from /v1/metrics/series) and the model's figures (from /metrics) with the event counted, and takes a
// screenshot. Usage: node web_dashboard.js URL SCREENSHOT.png USER_DATA_DIR (run by web.sh).
'use strict';
const { openPage } = require('./lib/browser.js');

const [url, shot, userDir] = process.argv.slice(2);
const fail = (msg) => { throw new Error(msg); };

(async () => {
  const { ctx, page, errors } = await openPage(userDir, 1300);
  const checks = [];
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 15000 });
    await page.waitForSelector('#stats .card', { timeout: 10000 });
    const users = await page.textContent('#stats .card .v');
    if (users !== '200') fail(`stats: first card shows ${users} users, want 200`);
    checks.push('stats cards');
    await page.waitForSelector('#popular li[data-id]', { timeout: 10000 });
    checks.push('popular list');

    await page.fill('#user-id', 'u1');
    await page.click('#lookup');
    await page.waitForSelector('#recs li[data-id]', { timeout: 10000 });
    const recs = await page.$$eval('#recs li[data-id]', (lis) => lis.map((li) => ({
      id: li.dataset.id, title: li.querySelector('.title').textContent, tags: li.querySelectorAll('.tag').length })));
    if (recs.length !== 10) fail(`want 10 recommendations, got ${recs.length}`);
    for (const r of recs) if (!r.title || r.title === r.id || r.tags === 0) fail(`recommendation without title/attributes: ${JSON.stringify(r)}`);
    const histBefore = await page.$$eval('#history li[data-id]', (lis) => lis.length);
    if (histBefore === 0) fail('u1 shows no history');
    checks.push(`user u1: ${recs.length} recommendations with titles, ${histBefore} history rows`);

    const sent = recs[0].id;
    await page.fill('#event-item', sent);
    await page.click('#send-event');
    await page.waitForFunction((id) => {
      const first = document.querySelector('#recs li[data-id]');
      return document.querySelector('#event-status').textContent.startsWith('sent') && first && first.dataset.id !== id;
    }, sent, { timeout: 10000 });
    const after = await page.$$eval('#recs li[data-id]', (lis) => lis.map((li) => li.dataset.id));
    if (after.includes(sent)) fail(`${sent} is still recommended after the event`);
    const newRows = await page.$$eval('#recs li.new', (lis) => lis.length);
    if (newRows < 1) fail('no recommendation is marked new after the event');
    const histIds = await page.$$eval('#history li[data-id]', (lis) => lis.map((li) => li.dataset.id));
    if (histIds[histIds.length - 1] !== sent) fail(`the history does not end with ${sent}: ${histIds}`);
    checks.push(`event u1 -> ${sent}: the list changed (${newRows} new), history ends with it`);

    await page.fill('#item-id', 'i1');
    await page.click('#item-lookup');
    await page.waitForSelector('#similar li[data-id]', { timeout: 10000 });
    const sim = await page.$$eval('#similar li[data-id]', (lis) => lis.map((li) => li.dataset.id));
    if (sim.length !== 10 || sim.includes('i1')) fail(`similar to i1: ${sim}`);
    checks.push('similar items of i1');

    // browse: items by title words or id prefix, paged; a result's button opens its similar items; users paged and
    // searched by id prefix
    await page.fill('#search-q', 'i1');
    await page.click('#search');
    await page.waitForSelector('#search-results li[data-id]', { timeout: 10000 });
    const found = await page.$$eval('#search-results li[data-id]', (lis) => lis.map((li) => li.dataset.id));
    if (found.length !== 11 || found[0] !== 'i1' || !found.every((id) => id.startsWith('i1'))) fail(`search i1: ${found}`);
    await page.click('#search-results li[data-id="i10"] button');
    await page.waitForFunction(() => document.querySelector('#item-id').value === 'i10' &&
      document.querySelector('#similar li[data-id]') !== null, null, { timeout: 10000 });
    await page.click('#users-browse');
    await page.waitForSelector('#users-list li[data-id]', { timeout: 10000 });
    const page1 = await page.$$eval('#users-list li[data-id]', (lis) => lis.length);
    await page.click('#users-more');
    await page.waitForFunction((n) => document.querySelectorAll('#users-list li[data-id]').length > n, page1,
      { timeout: 10000 });
    // users by id prefix (GET /v1/search/users): u1, u10..u19, u100..u199 of 200 users, 20 a page
    await page.fill('#users-q', 'u19');
    await page.click('#users-search');
    await page.waitForFunction(() => document.querySelector('#users-list li[data-id="u19"]') !== null &&
      document.querySelectorAll('#users-list li[data-id]').length === 11, null, { timeout: 10000 });
    const u19 = await page.$$eval('#users-list li[data-id]', (lis) => lis.map((li) => li.dataset.id));
    if (u19.join(',') !== 'u19,u190,u191,u192,u193,u194,u195,u196,u197,u198,u199') fail(`users u19*: ${u19}`);
    await page.fill('#users-q', 'u1');
    await page.click('#users-search');
    await page.waitForFunction(() => document.querySelectorAll('#users-list li[data-id]').length === 20 &&
      document.querySelector('#users-list li[data-id="u108"]') !== null, null, { timeout: 10000 });
    await page.click('#users-more');
    await page.waitForFunction(() => document.querySelectorAll('#users-list li[data-id]').length === 40, null,
      { timeout: 10000 });
    const u1 = await page.$$eval('#users-list li[data-id]', (lis) => lis.map((li) => li.dataset.id));
    if (!u1.every((id) => id.startsWith('u1')) || new Set(u1).size !== 40) fail(`users u1*: ${u1}`);
    checks.push(`browse: search i1 -> ${found.length} items, i10's similar items, users paged (${page1} + more), ` +
      `users by prefix (u19 -> ${u19.length}, u1 -> 20 + 20 more)`);

    // the activity charts: drawn from /v1/metrics/series (the server samples every 0.5 s here), redrawn every 5 s
    await page.waitForFunction(() => {
      const l = document.querySelector('#activity polyline[data-series="requests"]');
      return l && l.getAttribute('points').trim().split(' ').length >= 2 &&
        /events ingested 1\b/.test(document.querySelector('#model-metrics').textContent);
    }, null, { timeout: 15000 });
    const lines = await page.$$eval('#activity polyline', (ls) => ls.map((l) => l.dataset.series));
    if (lines.join(',') !== 'requests,recommendations,events,errors,p50,p99') fail(`chart lines: ${lines}`);
    const mm = await page.textContent('#model-metrics');
    if (!/model name=itemknn/.test(mm) || !/events ingested 1\b/.test(mm)) fail(`model metrics: ${mm}`);
    checks.push(`activity charts (${lines.length} lines), model metrics: ${mm}`);

    await page.screenshot({ path: shot, fullPage: true });
    if (errors.length) fail(errors.join('; '));
    console.log(JSON.stringify({ ok: true, checks }));
    await ctx.close();
  } catch (e) {
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log(JSON.stringify({ ok: false, error: e.message, checks, errors }));
    await ctx.close();
    process.exit(1);
  }
})();
