// web_chat.js: holds a conversation on the dashboard's chat panel in headless Chromium (playwright-core):
// starts one, names attributes in words, answers each question "yes" until a recommendation list appears,
// checks every recommended item shows a title and its reasons, picks one, and checks a title with markup
// stays text. Usage: node web_chat.js URL SCREENSHOT.png USER_DATA_DIR (run by web_chat.sh).
'use strict';
const { openPage } = require('./lib/browser.js');

const [url, shot, userDir] = process.argv.slice(2);
const fail = (msg) => { throw new Error(msg); };

(async () => {
  const { ctx, page, errors } = await openPage(userDir, 1600);
  const checks = [];
  const sysCount = () => page.$$eval('#chat-log > li.sys', (l) => l.length);
  const say = async (text) => {
    const n = await sysCount();
    await page.fill('#chat-input', text);
    await page.click('#chat-send');
    await page.waitForFunction((k) => document.querySelectorAll('#chat-log > li.sys').length > k, n, { timeout: 10000 });
    return page.$eval('#chat-log > li.sys:last-child', (li) => li.className);
  };
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 15000 });
    await page.click('#chat-start');
    await page.waitForSelector('#chat-log > li.sys', { timeout: 10000 });
    const first = await page.textContent('#chat-log > li.sys');
    if (!/What are you looking for/.test(first)) fail(`first reply: ${first}`);
    checks.push('conversation started');
    let kind = await say('something with rock and female vocals');
    const noted = await page.$$eval('#chat-log li.noted .tag', (t) => t.map((x) => x.textContent));
    if (!noted.includes('Rock') || !noted.includes('Female Vocals')) fail(`noted: ${noted}`);
    checks.push('words understood');
    for (let n = 0; n < 12 && /question/.test(kind); n++) kind = await say('yes');
    if (!/recommendation/.test(kind)) fail(`no recommendation: last reply ${kind}`);
    const recs = await page.$$eval('#chat-log > li.sys:last-child li.rec', (lis) => lis.map((li) => ({
      id: li.dataset.id, title: li.querySelector('.title').textContent,
      why: [...li.querySelectorAll('.why .tag')].map((t) => t.textContent) })));
    if (!recs.length) fail('empty recommendation list');
    for (const r of recs) if (!r.title || !r.why.includes('Rock')) fail(`item without title/reasons: ${JSON.stringify(r)}`);
    if (await page.$$eval('#chat-log b, #chat-log script', (l) => l.length)) fail('markup from the server was rendered');
    checks.push(`recommendation of ${recs.length} with reasons`);
    await page.click('#chat-log > li.sys:last-child li.rec button');
    await page.waitForSelector('#chat-log > li.sys.done', { timeout: 10000 });
    if (!(await page.isDisabled('#chat-input'))) fail('input still enabled after the end');
    checks.push('picked; conversation finished');
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
