// web_io.js: the dashboard's import/export page in headless Chromium (playwright-core): exports items (JSONL),
// users and events (CSV) from server A through the page's downloads, imports those files into server B (a fresh
// store) through B's page, then exports all three as JSONL from both and requires the same lines (sorted: row
// order may differ). Then a file with bad lines is imported into B: each bad line is listed as FILE:LINE with the
// reason, in line order, the good lines are written. Both servers have an API key, typed into each page.
// Usage: node web_io.js URL_A URL_B KEY DIR USER_DATA_DIR (run by web_io.sh).
'use strict';
const fs = require('fs');
const path = require('path');
const { openPage } = require('./lib/browser.js');

const [urlA, urlB, key, dir, userDir] = process.argv.slice(2);
const fail = (msg) => { throw new Error(msg); };

async function exportTo(page, kind, format, file) {
  await page.selectOption('#io-kind', kind);
  await page.selectOption('#io-format', format);
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20000 }), page.click('#export')]);
  if (dl.suggestedFilename() !== `${kind}.${format}`) fail(`download named ${dl.suggestedFilename()}`);
  await dl.saveAs(file);
  await page.waitForFunction(() => /^exported/.test(document.querySelector('#export-status').textContent), null,
    { timeout: 20000 });
  return fs.readFileSync(file, 'utf8');
}

async function importFrom(page, kind, file) {
  await page.selectOption('#io-kind', kind);
  await page.evaluate(() => { document.querySelector('#import-status').textContent = ''; });
  await page.setInputFiles('#import-file', file);
  await page.click('#import');
  await page.waitForFunction(() => /^(done|import stopped)/.test(document.querySelector('#import-status').textContent),
    null, { timeout: 60000 });
  const status = await page.textContent('#import-status');
  const errors = await page.$$eval('#import-errors li', (lis) => lis.map((li) => li.textContent));
  const bar = await page.$eval('#import-progress', (p) => [p.value, p.max]);
  return { status, errors, bar };
}

const sorted = (text) => text.split('\n').filter((l) => l).sort();

(async () => {
  const { ctx, page: a, errors } = await openPage(userDir, 1300);
  const b = await ctx.newPage();
  b.on('pageerror', (e) => errors.push('page B error: ' + e.message));
  b.on('console', (m) => { if (m.type() === 'error') errors.push('B console: ' + m.text()); });
  const checks = [];
  try {
    for (const [p, u] of [[a, urlA], [b, urlB]]) {
      await p.goto(u, { waitUntil: 'load', timeout: 15000 });
      await p.fill('#api-key', key);
    }
    const itemsA = await exportTo(a, 'items', 'jsonl', path.join(dir, 'items.jsonl'));
    const usersCsv = await exportTo(a, 'users', 'csv', path.join(dir, 'users.csv'));
    const eventsCsv = await exportTo(a, 'events', 'csv', path.join(dir, 'events.csv'));
    if (!usersCsv.startsWith('id,labels\n') || !eventsCsv.startsWith('user,item,type,value,ts\n')) fail('CSV headers');
    checks.push(`exported from A: ${sorted(itemsA).length} items (JSONL), ${sorted(usersCsv).length - 1} users and ` +
      `${sorted(eventsCsv).length - 1} events (CSV)`);

    for (const [kind, f] of [['items', 'items.jsonl'], ['users', 'users.csv'], ['events', 'events.csv']]) {
      const r = await importFrom(b, kind, path.join(dir, f));
      if (!/^done/.test(r.status) || r.errors.length || !/ 0 lines refused/.test(r.status) || r.bar[0] !== r.bar[1])
        fail(`import ${f} into B: ${r.status} ${r.errors.join('; ')} progress ${r.bar}`);
      checks.push(`B imported ${f}: ${r.status}`);
    }

    for (const kind of ['items', 'users', 'events']) {
      const ta = await exportTo(a, kind, 'jsonl', path.join(dir, `a-${kind}.jsonl`));
      const tb = await exportTo(b, kind, 'jsonl', path.join(dir, `b-${kind}.jsonl`));
      const la = sorted(ta), lb = sorted(tb);
      if (la.length === 0) fail(`A exported no ${kind}`);
      if (JSON.stringify(la) !== JSON.stringify(lb)) {
        const diff = la.filter((l) => !lb.includes(l)).slice(0, 3).concat(['--'], lb.filter((l) => !la.includes(l)).slice(0, 3));
        fail(`${kind}: B holds other lines than A (${la.length} vs ${lb.length}): ${diff.join(' | ')}`);
      }
      checks.push(`${kind}: B's export equals A's (${la.length} lines)`);
    }

    // a file with bad lines: each one reported as FILE:LINE, the good ones written
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, [
      '{"user": "imp1", "item": "i1", "ts": 100}',
      '{not json',
      '',
      '{"user": "imp1", "item": "nope", "ts": 101}',
      '{"user": "imp1"}',
      '{"user": "imp1", "item": "i2", "type": "buy", "value": 2, "ts": 102}',
      '{"user": "imp1", "item": "i3", "ts": -5}',
    ].join('\n') + '\n');
    const r = await importFrom(b, 'events', bad);
    const want = [/^bad\.jsonl:2: /, /^bad\.jsonl:4: item 'nope' does not exist/, /^bad\.jsonl:5: missing item/,
      /^bad\.jsonl:7: .*ts/];
    if (r.errors.length !== want.length || !want.every((re, k) => re.test(r.errors[k])))
      fail(`bad lines: ${JSON.stringify(r.errors)}`);
    if (!/^done: 2 events imported from bad\.jsonl, 4 lines refused/.test(r.status)) fail(`bad file status: ${r.status}`);
    const hist = await b.evaluate(async (k) => {
      const res = await fetch('/v1/users/imp1/feedback', { headers: { 'X-API-Key': k } });
      return (await res.json()).feedback.map((f) => `${f.item}:${f.type}:${f.ts}`);
    }, key);
    if (hist.join(',') !== 'i1:interaction:100,i2:buy:102') fail(`imp1's events on B: ${hist}`);
    checks.push(`bad file: ${r.errors.length} lines refused (${r.errors.map((e) => e.split(': ')[0]).join(', ')}), 2 written`);

    await b.screenshot({ path: path.join(dir, 'import.png'), fullPage: true });
    // requests refused on purpose (a 401 before the key is typed, a 404 for the bad file) log "Failed to load
    // resource"; any other console error or page error fails the test
    const real = errors.filter((e) => !/Failed to load resource/.test(e));
    if (real.length) fail(real.join('; '));
    console.log(JSON.stringify({ ok: true, checks }));
    await ctx.close();
  } catch (e) {
    await b.screenshot({ path: path.join(dir, 'import.png'), fullPage: true }).catch(() => {});
    console.log(JSON.stringify({ ok: false, error: e.message, checks, errors }));
    await ctx.close();
    process.exit(1);
  }
})();
