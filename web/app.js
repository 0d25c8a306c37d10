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

let searchNext = null, usersNext = null, usersMode = 'list';

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

function userLi(u) {
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
}

// Users page by page (GET /v1/users), or those whose id starts with a prefix (GET /v1/search/users: ids in byte
// order, next_cursor the last id of the page).
async function browseUsers(more, mode) {
  if (mode) usersMode = mode;
  try {
    let users, next;
    if (usersMode === 'search') {
      const p = $('users-q').value.trim();
      const d = await api('GET', `/v1/search/users?n=20&prefix=${encodeURIComponent(p)}` +
        (more && usersNext !== null ? `&cursor=${encodeURIComponent(usersNext)}` : ''));
      users = d.users;
      next = d.next_cursor;
    } else {
      const d = await api('GET', '/v1/users?limit=20' + (more && usersNext !== null ? `&after=${usersNext}` : ''));
      users = d.users;
      next = d.next_after;
    }
    const lis = users.map(userLi);
    if (more) $('users-list').append(...lis);
    else $('users-list').replaceChildren(...(lis.length ? lis : [el('li', 'muted', 'nothing')]));
    usersNext = next;
    $('users-more').hidden = usersNext === null;
  } catch (e) {
    $('users-list').replaceChildren(el('li', 'error', e.message + (e.status === 401 ? ' (type an API key)' : '')));
  }
}

$('search-form').addEventListener('submit', (e) => { e.preventDefault(); searchItems(false); });
$('search-more').addEventListener('click', () => searchItems(true));
$('users-search-form').addEventListener('submit', (e) => { e.preventDefault(); browseUsers(false, 'search'); });
$('users-browse').addEventListener('click', () => browseUsers(false, 'list'));
$('users-more').addEventListener('click', () => browseUsers(true));

// ---- import / export: items, users and events as JSONL or CSV, through the API ----
// Export pages through GET /v1/export/items, GET /v1/users and GET /v1/export/events; every line is what the
// write routes take back. Import posts batches (POST /v1/items/batch, POST /v1/events; PUT /v1/users/{id} one
// by one, a few at a time); a line the server refuses is reported as FILE:LINE and left out of its batch, which
// is then sent again without it.

const IO_COLUMNS = {
  items: ['id', 'title', 'text', 'attributes', 'visible', 'timestamp'],
  users: ['id', 'labels'],
  events: ['user', 'item', 'type', 'value', 'ts'],
};

function csvCell(v) {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : (Array.isArray(v) ? JSON.stringify(v) : String(v));
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// RFC 4180 records of text: [{line, cells}], line = the 1-based line where the record starts.
function csvRecords(text) {
  const out = [];
  let cells = [], cell = '', q = false, line = 1, start = 1, i = 0, any = false;
  const endCell = () => { cells.push(cell); cell = ''; };
  const endRec = () => { endCell(); if (any || cells.length > 1 || cells[0] !== '') out.push({ line: start, cells }); cells = []; any = false; };
  for (; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') q = false;
      else { if (c === '\n') line++; cell += c; }
      continue;
    }
    if (c === '"' && cell === '') { q = true; any = true; } else if (c === ',') { endCell(); any = true; } else if (c === '\r') {
      // part of \r\n
    } else if (c === '\n') { endRec(); line++; start = line; } else { cell += c; any = true; }
  }
  if (q) throw new Error(`line ${start}: a quoted field is not closed`);
  if (cell !== '' || cells.length) endRec();
  return out;
}

function listCell(s) {
  if (s === '') return [];
  if (s.startsWith('[')) {
    const v = JSON.parse(s);
    if (!Array.isArray(v)) throw new Error('not a JSON array');
    return v;
  }
  return s.split('|');
}

// One CSV record as the object its JSONL line would be.
function csvObject(kind, head, cells) {
  const o = {};
  head.forEach((h, k) => {
    const v = cells[k] === undefined ? '' : cells[k];
    if (v === '') return;
    if (h === 'attributes' || h === 'labels') o[h] = listCell(v);
    else if (h === 'visible') {
      if (v !== 'true' && v !== 'false') throw new Error(`visible must be true or false, not '${v}'`);
      o[h] = v === 'true';
    } else if (h === 'value' || h === 'ts' || h === 'timestamp') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`${h} must be a number, not '${v}'`);
      o[h] = n;
    } else o[h] = v;
  });
  return o;
}

async function exportKind(kind, format) {
  const lines = [];
  if (format === 'csv') lines.push(IO_COLUMNS[kind].join(','));
  const put = (o) => lines.push(format === 'csv' ? IO_COLUMNS[kind].map((c) => csvCell(o[c])).join(',') : JSON.stringify(o));
  let cur = null, n = 0;
  for (;;) {
    let d, rows, next;
    if (kind === 'items') {
      d = await api('GET', '/v1/export/items?limit=1000' + (cur !== null ? `&after=${cur}` : ''));
      rows = d.items; next = d.next_after;
    } else if (kind === 'users') {
      d = await api('GET', '/v1/users?limit=1000' + (cur !== null ? `&after=${cur}` : ''));
      rows = d.users; next = d.next_after;
    } else {
      d = await api('GET', '/v1/export/events?limit=10000' + (cur !== null ? `&cursor=${encodeURIComponent(cur)}` : ''));
      rows = d.events; next = d.next_cursor;
    }
    rows.forEach(put);
    n += rows.length;
    $('export-status').textContent = `${n.toLocaleString('en')} ${kind}…`;
    if (next === null || next === undefined) break;
    cur = next;
  }
  return { text: lines.join('\n') + (lines.length ? '\n' : ''), n };
}

async function doExport() {
  const kind = $('io-kind').value, format = $('io-format').value;
  $('export-status').className = 'muted';
  try {
    const { text, n } = await exportKind(kind, format);
    const a = $('export-link');
    if (a.href) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(new Blob([text], { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' }));
    a.download = `${kind}.${format}`;
    a.hidden = false;
    a.click();
    $('export-status').textContent = `exported ${n.toLocaleString('en')} ${kind} to ${a.download}`;
  } catch (e) {
    $('export-status').className = 'error';
    $('export-status').textContent = `export failed: ${e.message}` + (e.status === 401 ? ' (type an API key)' : '');
  }
}

// The lines of a file as [{line, obj}] plus per-line errors [{line, msg}].
function parseImport(kind, name, text, format) {
  const rows = [], errors = [];
  if (format === 'csv') {
    let recs;
    try { recs = csvRecords(text); } catch (e) { errors.push({ line: 1, msg: e.message }); return { rows, errors }; }
    if (!recs.length) return { rows, errors };
    const head = recs[0].cells.map((h) => h.trim());
    const bad = head.filter((h) => !IO_COLUMNS[kind].includes(h));
    if (bad.length) {
      errors.push({ line: recs[0].line, msg: `unknown column(s) ${bad.join(', ')} for ${kind} (columns: ${IO_COLUMNS[kind].join(', ')})` });
      return { rows, errors };
    }
    for (const r of recs.slice(1)) {
      try { rows.push({ line: r.line, obj: csvObject(kind, head, r.cells) }); } catch (e) { errors.push({ line: r.line, msg: e.message }); }
    }
  } else {
    text.split('\n').forEach((l, k) => {
      if (!l.trim()) return;
      try {
        const o = JSON.parse(l);
        if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('not a JSON object');
        rows.push({ line: k + 1, obj: o });
      } catch (e) { errors.push({ line: k + 1, msg: e.message }); }
    });
  }
  const need = kind === 'events' ? ['user', 'item'] : ['id'];
  const ok = rows.filter((r) => {
    const miss = need.filter((f) => typeof r.obj[f] !== 'string' || !r.obj[f]);
    if (miss.length) errors.push({ line: r.line, msg: `missing ${miss.join(', ')} (a non-empty string)` });
    return !miss.length;
  });
  return { rows: ok, errors };
}

// Post rows (one batch route) in batches of at most maxN rows and about 512 KiB; a refused row (the server names
// its index: "item 3", "event 3") is reported and left out, the rest of its batch sent again.
async function postBatches(path, rows, maxN, report, progress) {
  let written = 0;
  for (let i = 0; i < rows.length;) {
    let batch = [], bytes = 2;
    while (i < rows.length && batch.length < maxN && (batch.length === 0 || bytes < 512 * 1024)) {
      bytes += JSON.stringify(rows[i].obj).length + 1;
      batch.push(rows[i++]);
    }
    while (batch.length) {
      try {
        await api('POST', path, batch.map((r) => r.obj));
        written += batch.length;
        break;
      } catch (e) {
        const m = /^(?:item|event) (\d+)\b/.exec(e.message || '');
        if (!m || e.status >= 500 || e.status === 401 || e.status === 403 || +m[1] >= batch.length) throw e;
        const k = +m[1];
        report(batch[k].line, e.message.replace(/^(?:item|event) \d+:?\s*/, '').replace(/ \(nothing was written\)$/, ''));
        batch.splice(k, 1);
      }
    }
    progress(i);
  }
  return written;
}

async function doImport() {
  const f = $('import-file').files[0];
  const kind = $('io-kind').value;
  const list = $('import-errors');
  list.replaceChildren();
  $('import-status').className = 'muted';
  if (!f) { $('import-status').textContent = 'choose a file first'; return; }
  $('import-status').textContent = `reading ${f.name}…`;
  const format = /\.csv$/i.test(f.name) ? 'csv' : /\.(jsonl|ndjson|json)$/i.test(f.name) ? 'jsonl' : $('io-format').value;
  let nerr = 0;
  const errs = [];
  const report = (line, msg) => {
    nerr++;
    errs.push({ line, msg });
    if (nerr <= 200) list.append(el('li', null, `${f.name}:${line}: ${msg}`));
    else if (nerr === 201) list.append(el('li', 'muted', 'more errors are not shown'));
  };
  // at the end, in line order (the page's own checks come first, the server's as their batches are answered)
  const sortErrors = () => {
    errs.sort((x, y) => x.line - y.line);
    list.replaceChildren(...errs.slice(0, 200).map((e) => el('li', null, `${f.name}:${e.line}: ${e.msg}`)));
    if (errs.length > 200) list.append(el('li', 'muted', `${errs.length - 200} more errors are not shown`));
  };
  const { rows, errors } = parseImport(kind, f.name, await f.text(), format);
  errors.sort((a, b) => a.line - b.line).forEach((e) => report(e.line, e.msg));
  const total = rows.length;
  const bar = $('import-progress');
  bar.max = Math.max(1, total);
  bar.value = 0;
  const progress = (done) => {
    bar.value = done;
    $('import-status').textContent = `${kind}: ${done.toLocaleString('en')} of ${total.toLocaleString('en')} lines sent, ${nerr} errors`;
  };
  progress(0);
  let written = 0;
  try {
    if (kind === 'items') written = await postBatches('/v1/items/batch', rows, 1000, report, progress);
    else if (kind === 'events') written = await postBatches('/v1/events', rows, 5000, report, progress);
    else {
      let next = 0, done = 0;
      const worker = async () => {
        while (next < rows.length) {
          const r = rows[next++];
          const extra = Object.keys(r.obj).filter((k) => k !== 'id' && k !== 'labels');
          try {
            if (extra.length) throw new Error(`unknown field(s) ${extra.join(', ')} (users have id and labels)`);
            await api('PUT', `/v1/users/${encodeURIComponent(r.obj.id)}`, { labels: r.obj.labels || [] });
            written++;
          } catch (e) {
            if (e.status === 401 || e.status === 403 || e.status >= 500) throw e;
            report(r.line, e.message);
          }
          progress(++done);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    }
    bar.value = bar.max;
    sortErrors();
    $('import-status').textContent = `done: ${written.toLocaleString('en')} ${kind} imported from ${f.name}, ` +
      `${nerr} line${nerr === 1 ? '' : 's'} refused`;
    loadStats();
  } catch (e) {
    sortErrors();
    $('import-status').className = 'error';
    $('import-status').textContent = `import stopped after ${written} ${kind}: ${e.message}` +
      (e.status === 401 ? ' (type an API key)' : '');
  }
}

$('export').addEventListener('click', doExport);
$('import').addEventListener('click', doImport);

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
