// app.js: the crec dashboard's behaviour: calls the /v1 API and draws the answers. No framework.
// Every string from the server goes into the page through textContent, never innerHTML, so a title
// cannot inject markup. The API key (for writes) is kept in localStorage.
'use strict';

const $ = (id) => document.getElementById(id);
const keyInput = $('api-key');
keyInput.value = localStorage.getItem('crec-api-key') || '';
keyInput.addEventListener('change', () => localStorage.setItem('crec-api-key', keyInput.value));

async function api(method, path, body) {
  const headers = {};
  if (keyInput.value) headers['Authorization'] = 'Bearer ' + keyInput.value;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error((data.error && data.error.message) || res.statusText);
    e.status = res.status;
    throw e;
  }
  return data;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// One list entry: title, id, optional score, attribute tags, optional action button.
function itemLi(it, opts = {}) {
  const li = el('li');
  li.dataset.id = it.id || it.item;
  if (opts.score !== undefined) li.append(el('span', 'score', opts.score));
  li.append(el('span', 'title', it.title || it.id || it.item));
  li.append(el('span', 'id', it.id || it.item));
  if (opts.extra) li.append(el('span', 'id', opts.extra));
  if (opts.action) {
    const b = el('button', 'small', opts.action.label);
    b.type = 'button';
    b.addEventListener('click', () => opts.action.run(li.dataset.id));
    li.append(' ', b);
  }
  const tags = el('span', 'tags');
  for (const a of it.attributes || []) tags.append(el('span', 'tag', a));
  li.append(tags);
  return li;
}

function fill(list, items, make) {
  list.replaceChildren(...items.map(make));
  if (!items.length) list.append(el('li', 'muted', 'nothing'));
}

async function loadStats() {
  try {
    const s = await api('GET', '/v1/stats');
    const cards = [['users', s.users], ['items', s.items], ['hidden items', s.hidden_items], ['events', s.events],
      ['event types', s.event_types], ['attributes', s.attributes], ['ingested since start', s.events_ingested],
      ['model items', s.model.n_items]];
    if (s.online) { // crec serve --online: the learner's figures
      const o = s.online;
      cards.push(['learned events', o.updates_applied], ['update lag ms (last)', Math.round(o.lag_last_s * 1000)],
        ['update lag ms (max)', Math.round(o.lag_max_s * 1000)], ['model users', o.users],
        ['table rows', o.table_rows], ['evictions', o.evictions], ['checkpoints', o.syncs]);
    }
    $('stats').replaceChildren(...cards.map(([k, v]) => {
      const c = el('div', 'card');
      c.append(el('div', 'v', Number(v).toLocaleString('en')), el('div', 'k', k));
      return c;
    }));
    $('model-badge').textContent = `model: ${s.model.name} v${s.model.version} (${s.model.trained_on})`;
  } catch (e) {
    $('stats').replaceChildren(el('div', 'error', 'stats: ' + e.message));
  }
  try {
    const h = await api('GET', '/healthz');
    $('health').textContent = h.status;
    $('health').className = 'badge ok';
  } catch (e) {
    $('health').textContent = 'down';
    $('health').className = 'badge down';
  }
}

// ---- activity: charts drawn from GET /v1/metrics/series, model figures from GET /metrics ----

const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#2f6fdf', '#d9822b', '#17803d', '#b3261e'];

// One line chart: series [{name, values}] over the same x (sample index); y from 0 to the largest value.
function chart(title, unit, series) {
  const box = el('div', 'chart');
  box.append(el('h3', null, title));
  const w = 400, h = 140, pad = 4;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const all = series.flatMap((s) => s.values.filter((v) => v !== null));
  const top = Math.max(1e-9, ...all);
  const n = Math.max(2, ...series.map((s) => s.values.length));
  series.forEach((s, k) => {
    const pts = [];
    s.values.forEach((v, i) => {
      if (v === null) return;
      pts.push(`${(pad + (w - 2 * pad) * i / (n - 1)).toFixed(1)},${(h - pad - (h - 2 * pad) * v / top).toFixed(1)}`);
    });
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('stroke', COLORS[k % COLORS.length]);
    line.dataset.series = s.name;
    svg.append(line);
  });
  box.append(svg);
  const legend = el('div', 'legend');
  series.forEach((s, k) => {
    const last = s.values.filter((v) => v !== null).slice(-1)[0];
    const sp = el('span', null, `${s.name}: ${last === undefined ? '-' : last.toFixed(last < 10 ? 2 : 0)} ${unit}`);
    sp.style.color = COLORS[k % COLORS.length];
    legend.append(sp);
  });
  legend.append(el('span', 'muted', `max ${top.toFixed(top < 10 ? 2 : 0)}`));
  box.append(legend);
  return box;
}

async function loadActivity() {
  try {
    const d = await api('GET', '/v1/metrics/series');
    const s = d.samples;
    $('activity-note').textContent = `(${s.length} intervals of ${d.interval_s} s)`;
    const col = (k) => s.map((x) => x[k]);
    $('activity').replaceChildren(
      chart('requests and events per second', '/s', [{ name: 'requests', values: col('requests_per_s') },
        { name: 'recommendations', values: col('recommendations_per_s') },
        { name: 'events', values: col('events_per_s') }, { name: 'errors', values: col('errors_per_s') }]),
      chart('latency', 'ms', [{ name: 'p50', values: col('p50_ms') }, { name: 'p99', values: col('p99_ms') }]));
  } catch (e) {
    $('activity').replaceChildren(el('div', 'error', 'activity: ' + e.message +
      (e.status === 401 ? ' (the series is private: type an API key)' : '')));
  }
  try {
    const headers = keyInput.value ? { Authorization: 'Bearer ' + keyInput.value } : {};
    const res = await fetch('/metrics', { headers });
    if (!res.ok) throw new Error(res.statusText);
    const text = await res.text();
    const val = (name) => { const m = text.match(new RegExp('^' + name + ' ([0-9.e+-]+)$', 'm')); return m ? Number(m[1]) : null; };
    const info = text.match(/^crec_model_info\{([^}]*)\} 1$/m);
    const parts = [];
    if (info) parts.push('model ' + info[1].replace(/"/g, ''));
    for (const [k, label] of [['crec_model_version', 'version'], ['crec_model_items', 'items'],
      ['crec_model_reloads_total', 'reloads'], ['crec_model_reload_failures_total', 'failed reloads'],
      ['crec_events_ingested_total', 'events ingested'], ['crec_requests_timed_out_total', 'slow requests closed']]) {
      const v = val(k);
      if (v !== null) parts.push(`${label} ${v.toLocaleString('en')}`);
    }
    $('model-metrics').textContent = parts.join(' · ');
  } catch (e) {
    $('model-metrics').textContent = 'metrics: ' + e.message;
  }
}

// ---- browse: items by id prefix or title words (GET /v1/search/items), users page by page (GET /v1/users) ----

let searchNext = null, usersNext = null;

async function searchItems(more) {
  const q = $('search-q').value.trim();
  try {
    const d = await api('GET', `/v1/search/items?limit=20&q=${encodeURIComponent(q)}` +
      (more && searchNext !== null ? `&after=${searchNext}` : ''));
    const lis = d.items.map((it) => itemLi(it, { action: { label: 'similar', run: (id) => {
      $('item-id').value = id;
      loadItem();
    } } }));
    if (more) $('search-results').append(...lis);
    else $('search-results').replaceChildren(...(lis.length ? lis : [el('li', 'muted', 'nothing')]));
    searchNext = d.next_after;
    $('search-more').hidden = searchNext === null;
  } catch (e) {
    $('search-results').replaceChildren(el('li', 'error', e.message));
  }
}

async function browseUsers(more) {
  try {
    const d = await api('GET', '/v1/users?limit=20' + (more && usersNext !== null ? `&after=${usersNext}` : ''));
    const lis = d.users.map((u) => {
      const li = el('li');
      li.dataset.id = u.id;
      li.append(el('span', 'title', u.id));
      const b = el('button', 'small', 'look up');
      b.type = 'button';
      b.addEventListener('click', () => { $('user-id').value = u.id; lastRecs = []; loadUser(false); });
      li.append(' ', b);
      const tags = el('span', 'tags');
      for (const l of u.labels || []) tags.append(el('span', 'tag', l));
      li.append(tags);
      return li;
    });
    if (more) $('users-list').append(...lis);
    else $('users-list').replaceChildren(...(lis.length ? lis : [el('li', 'muted', 'nothing')]));
    usersNext = d.next_after;
    $('users-more').hidden = usersNext === null;
  } catch (e) {
    $('users-list').replaceChildren(el('li', 'error', e.message + (e.status === 401 ? ' (type an API key)' : '')));
  }
}

$('search-form').addEventListener('submit', (e) => { e.preventDefault(); searchItems(false); });
$('search-more').addEventListener('click', () => searchItems(true));
$('users-browse').addEventListener('click', () => browseUsers(false));
$('users-more').addEventListener('click', () => browseUsers(true));

let lastRecs = [];

async function loadUser(markChanges) {
  const user = $('user-id').value.trim();
  if (!user) return;
  const k = $('user-k').value || 10;
  const cat = $('user-cat').value.trim();
  const q = `k=${encodeURIComponent(k)}` + (cat ? `&category=${encodeURIComponent(cat)}` : '');
  const u = encodeURIComponent(user);
  try {
    const [hist, recs] = await Promise.all([
      api('GET', `/v1/users/${u}?limit=20`).catch((e) => (e.status === 404 ? { n_events: 0, history: [] } : Promise.reject(e))),
      api('GET', `/v1/users/${u}/recommendations?${q}`),
    ]);
    $('user-summary').textContent = `${user}: ${hist.n_events} events` +
      (recs.known_user ? ', known to the model' : ', not in the model\'s training data');
    fill($('history'), hist.history, (h) => itemLi(h, { extra: h.type !== 'interaction' ? h.type : undefined }));
    $('rec-source').textContent = `(${recs.source}, model v${recs.model_version})`;
    const before = new Set(lastRecs);
    fill($('recs'), recs.items, (it) => {
      const li = itemLi(it, {
        score: it.score.toFixed(3),
        action: { label: '+ event', run: (id) => { $('event-item').value = id; sendEvent(); } },
      });
      if (markChanges && !before.has(it.id)) li.classList.add('new');
      return li;
    });
    lastRecs = recs.items.map((it) => it.id);
  } catch (e) {
    $('user-summary').replaceChildren(el('span', 'error', e.message));
  }
}

async function sendEvent() {
  const user = $('user-id').value.trim();
  const item = $('event-item').value.trim();
  if (!user || !item) {
    $('event-status').textContent = 'look up a user and give an item id first';
    return;
  }
  const ev = { user, item };
  if ($('event-type').value.trim()) ev.type = $('event-type').value.trim();
  if ($('event-value').value !== '') ev.value = Number($('event-value').value);
  try {
    const r = await api('POST', '/v1/events', [ev]);
    $('event-status').className = 'muted';
    $('event-status').textContent = `sent (${r.accepted} accepted): ${user} → ${item}`;
    await loadUser(true);
    loadStats();
  } catch (e) {
    $('event-status').className = 'error';
    $('event-status').textContent = `not sent: ${e.message}`;
  }
}

async function loadItem() {
  const id = $('item-id').value.trim();
  if (!id) return;
  try {
    const it = await api('GET', `/v1/items/${encodeURIComponent(id)}`);
    const sim = await api('GET', `/v1/items/${encodeURIComponent(id)}/similar?k=10`);
    $('item-detail').replaceChildren(el('strong', '', it.title || it.id),
      el('span', '', ` · ${it.n_events} events · ${it.in_model ? 'in the model' : 'not in the model'}` +
        (it.visible ? '' : ' · hidden') + (it.attributes.length ? ' · ' + it.attributes.join(', ') : '')));
    fill($('similar'), sim.items, (s) => itemLi(s, { score: s.score.toFixed(3) }));
  } catch (e) {
    $('item-detail').replaceChildren(el('span', 'error', e.message));
    $('similar').replaceChildren();
  }
}

async function loadPopular() {
  const cat = $('pop-cat').value.trim();
  try {
    const p = await api('GET', '/v1/popular?k=10' + (cat ? `&category=${encodeURIComponent(cat)}` : ''));
    fill($('popular'), p.items, (it) => itemLi(it, { score: `${it.score} events` }));
  } catch (e) {
    $('popular').replaceChildren(el('li', 'error', e.message));
  }
}

$('user-form').addEventListener('submit', (e) => { e.preventDefault(); lastRecs = []; loadUser(false); });
$('event-form').addEventListener('submit', (e) => { e.preventDefault(); sendEvent(); });
$('item-form').addEventListener('submit', (e) => { e.preventDefault(); loadItem(); });
$('pop-form').addEventListener('submit', (e) => { e.preventDefault(); loadPopular(); });
loadStats();
loadPopular();
loadActivity();
setInterval(loadActivity, 5000);

// ---- chat: a conversation with the recommender (POST /v1/conversations, .../{id}/turns) ----
let chatId = null;

function chatEntity(a) {
  return el('span', 'tag', a.name);
}

// One system reply: its text, the attribute asked, or the recommended items with their reasons.
function chatReply(reply) {
  const li = el('li', 'sys ' + (reply.kind || ''));
  li.append(el('div', 'text', reply.text));
  if (reply.attribute) li.append(el('div', 'about')), li.lastChild.append('about ', chatEntity(reply.attribute));
  if (reply.suggestions && reply.suggestions.length) {
    const d = el('div', 'about');
    for (const a of reply.suggestions) {
      const b = el('button', 'small', a.name);
      b.type = 'button';
      b.addEventListener('click', () => chatSay(a.name));
      d.append(b, ' ');
    }
    li.append(d);
  }
  if (reply.items) {
    const ol = el('ol', 'list recs');
    for (const it of reply.items) {
      const r = el('li', 'rec');
      r.dataset.id = it.id;
      const pick = el('button', 'small', String(it.rank));
      pick.type = 'button';
      pick.title = 'this one';
      pick.addEventListener('click', () => chatSay(String(it.rank)));
      r.append(pick, ' ', el('span', 'title', it.title), el('span', 'id', it.id));
      if (it.reasons && it.reasons.length) {
        const why = el('span', 'why', 'because you like ');
        for (const a of it.reasons) why.append(chatEntity(a));
        r.append(why);
      }
      ol.append(r);
    }
    li.append(ol);
  }
  if (reply.item) li.append(el('div', 'about picked', reply.item.title));
  return li;
}

function chatDone(done) {
  $('chat-input').disabled = done || !chatId;
  $('chat-send').disabled = done || !chatId;
  if (done) $('chat-status').textContent = 'conversation finished';
  else $('chat-input').focus();
}

async function chatStart() {
  const user = $('chat-user').value.trim();
  $('chat-log').replaceChildren();
  try {
    const r = await api('POST', '/v1/conversations', user ? { user } : {});
    chatId = r.id;
    $('chat-status').className = 'muted';
    $('chat-status').textContent = `conversation ${r.id}` + (user ? (r.known_user ? ` with ${user}` : ` (${user} is new)`) : '');
    $('chat-log').append(chatReply(r.reply));
    chatDone(r.done);
  } catch (e) {
    chatId = null;
    $('chat-status').className = 'error';
    $('chat-status').textContent = e.message;
    chatDone(true);
  }
}

async function chatSay(text) {
  if (!chatId || !text) return;
  $('chat-log').append(el('li', 'me', text));
  $('chat-input').value = '';
  try {
    const r = await api('POST', `/v1/conversations/${encodeURIComponent(chatId)}/turns`, { utterance: text });
    if (r.understood && r.understood.length) {
      const u = el('li', 'noted', 'noted: ');
      for (const x of r.understood) u.append(el('span', 'tag ' + (x.liked ? 'yes' : 'no'), (x.liked ? '' : 'not ') + x.attribute.name));
      $('chat-log').append(u);
    }
    $('chat-log').append(chatReply(r.reply));
    chatDone(r.done);
  } catch (e) {
    $('chat-log').append(el('li', 'error', e.message));
    if (e.status === 409 || e.status === 404) chatDone(true);
  }
}

$('chat-start-form').addEventListener('submit', (e) => { e.preventDefault(); chatStart(); });
$('chat-form').addEventListener('submit', (e) => { e.preventDefault(); chatSay($('chat-input').value.trim()); });
