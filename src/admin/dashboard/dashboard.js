/* global document, window, sessionStorage, fetch, EventSource, IntersectionObserver */
// Switchyard's dashboard: one EventSource on GET /api/events, DOM nodes created once per service and endpoint and
// then updated in place (text only when it changed), charts redrawn only while visible. No build step, no library.
'use strict';

const tokenKey = 'switchyard.token';
const maxEvents = 100;
/** Points of the balance chart (one per stats interval) and how many intervals each point smooths over. */
const chartPoints = 180;
const smoothing = 5;
const minSpan = 60;
const svgNs = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
const ui = {
  login: $('login'),
  token: $('token'),
  loginError: $('login-error'),
  app: $('app'),
  services: $('services'),
  events: $('events'),
  notice: $('notice'),
  connection: $('connection'),
  summary: $('summary'),
  filter: $('filter'),
  role: $('role'),
  logout: $('logout'),
  fleetPanel: $('fleet-panel'),
  fleet: $('fleet'),
};

/**
 * service name → { root, tbody, meta, svg, rows: Map(endpoint id → row), colors, history: Map(id → number[]), last }.
 * Rows and charts are only rendered for services on screen (and open); the others keep their latest stats in `last`
 * and catch up when they scroll into view: with 50 services × 20 endpoints the page lays out a few tables, not 50.
 */
const services = new Map();
let source;
let role = 'read';
const visible = new Set();
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const name = entry.target.dataset.service;
    if (entry.isIntersecting) visible.add(name);
    else visible.delete(name);
    // Rows of a service that scrolled into view catch up with the latest stats at once.
    if (entry.isIntersecting) renderRows(services.get(name));
  }
});

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Sets text (and a data attribute) only when it changed: no layout work for values that stayed the same. */
function set(node, text, attr, value) {
  if (node.textContent !== text) node.textContent = text;
  if (attr !== undefined && node.dataset[attr] !== String(value)) node.dataset[attr] = String(value);
}

function showLogin(message) {
  if (source) source.close();
  source = undefined;
  ui.app.hidden = true;
  ui.filter.hidden = true;
  ui.logout.hidden = true;
  ui.role.hidden = true;
  ui.login.hidden = false;
  ui.loginError.textContent = message || '';
  ui.services.replaceChildren();
  ui.events.replaceChildren();
  services.clear();
  setConnection('offline');
  ui.summary.textContent = '';
  ui.token.focus();
}

function setConnection(status) {
  set(ui.connection, status, 'status', status);
}

/** Trades the token for the event stream's session cookie (EventSource cannot send an Authorization header). */
async function signIn(token) {
  let res;
  try {
    res = await fetch('/api/session', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  } catch {
    setConnection('reconnecting');
    window.setTimeout(() => void signIn(token), 2000);
    return;
  }
  if (res.status === 401 || res.status === 403) {
    sessionStorage.removeItem(tokenKey);
    showLogin('That token was not accepted (401).');
    return;
  }
  if (!res.ok) {
    showLogin(`The admin API answered ${res.status}.`);
    return;
  }
  role = (await res.json()).role;
  sessionStorage.setItem(tokenKey, token);
  document.body.classList.toggle('read-only', role !== 'admin');
  ui.login.hidden = true;
  ui.app.hidden = false;
  ui.filter.hidden = false;
  ui.logout.hidden = false;
  ui.role.hidden = false;
  ui.role.textContent = role === 'admin' ? 'admin' : 'read only';
  connect(token);
  void showFleet(token);
  void showCertificates(token);
}

/** The ACME section (read-only): GET /api/acme every 15 s while signed in; hidden when nothing is managed. */
async function showCertificates(token) {
  window.clearTimeout(showCertificates.timer);
  if (ui.app.hidden) return;
  const res = await fetch('/api/acme', { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
  const certificates = res && res.ok ? (await res.json()).certificates : [];
  $('acme-panel').hidden = certificates.length === 0;
  $('acme').replaceChildren(
    ...certificates.map((c) => {
      const row = el('tr');
      const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
      const state = el('td', 'badge', c.ordering ? `${c.state}, ordering` : c.state);
      state.dataset.value = c.state === 'valid' ? 'ready' : 'drain';
      row.append(el('td', '', c.domains.join(', ')), state, el('td', '', when(c.validUntil)));
      row.append(el('td', '', when(c.nextAttemptAt)), el('td', '', c.lastError ? c.lastError.message : '—'));
      return row;
    }),
  );
  showCertificates.timer = window.setTimeout(() => void showCertificates(token), 15_000);
}

let fleetTimer;
/** The fleet panel (etcd store only): every node with its version, config hash, revision and refusals, every 5 s. */
async function showFleet(token) {
  window.clearTimeout(fleetTimer);
  fleetTimer = window.setTimeout(() => void showFleet(token), 5000);
  const res = await fetch('/api/nodes', { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
  if (!res || !res.ok) return;
  const body = await res.json();
  ui.fleetPanel.hidden = body.store !== 'etcd';
  if (body.store !== 'etcd') return window.clearTimeout(fleetTimer);
  const head = el('tr');
  for (const title of ['Node', 'Version', 'Config', 'Revision', 'etcd', 'Refused']) head.append(el('th', '', title));
  const rows = body.nodes.map((n) => {
    const row = el('tr', n.behind ? 'behind' : '');
    const refused = n.refused ? `revision ${n.refused.revision}: ${n.refused.problems.join('; ')}` : '';
    for (const text of [
      `${n.name}${n.self ? ' (this node)' : ''}`,
      n.version,
      n.configHash,
      `${n.revision}${n.behind ? ' (behind)' : ''}`,
      n.registryUp ? 'up' : 'down',
      refused,
    ])
      row.append(el('td', '', String(text)));
    return row;
  });
  ui.fleet.replaceChildren(head, ...rows);
}

function connect(token) {
  if (source) source.close();
  source = new EventSource('/api/events');
  source.addEventListener('open', () => setConnection('live'));
  source.addEventListener('snapshot', (e) => onSnapshot(JSON.parse(e.data)));
  source.addEventListener('stats', (e) => onStats(JSON.parse(e.data), false));
  source.addEventListener('change', (e) => onChange(JSON.parse(e.data), true));
  source.addEventListener('error', () => {
    setConnection('reconnecting');
    // CLOSED: the stream was refused (the session ended, say after a restart): sign in again with the same token.
    if (source && source.readyState === EventSource.CLOSED) {
      source = undefined;
      window.setTimeout(() => void signIn(token), 2000);
    }
  });
}

function onSnapshot(snapshot) {
  ui.events.replaceChildren();
  for (const event of snapshot.events) onChange(event, false);
  for (const service of snapshot.services) {
    const entry = serviceEntry(service);
    const history = snapshot.history[service.name] || {};
    entry.history.clear();
    for (const endpoint of service.endpoints) entry.history.set(endpoint.id, (history[endpoint.id] || []).slice());
  }
  onStats(snapshot, true);
}

function onStats(view, fromSnapshot) {
  const seen = new Set();
  let endpoints = 0;
  let healthy = 0;
  let rate = 0;
  for (const service of view.services) {
    seen.add(service.name);
    const entry = serviceEntry(service);
    updateService(entry, service, fromSnapshot, view.at);
    for (const e of service.endpoints) {
      endpoints++;
      if (e.health === 'up' && e.state === 'ready') healthy++;
      rate += e.requestRate;
    }
  }
  for (const [name, entry] of services) {
    if (seen.has(name)) continue;
    observer.unobserve(entry.root);
    entry.root.remove();
    services.delete(name);
  }
  const time = new Date(view.at).toLocaleTimeString();
  ui.summary.textContent = `${view.services.length} services · ${healthy}/${endpoints} endpoints ready and up · ${fmt(rate)} req/s · ${time}`;
}

function serviceEntry(service) {
  let entry = services.get(service.name);
  if (entry) return entry;
  const root = el('details', 'service');
  root.open = true;
  root.dataset.service = service.name;
  const summary = el('summary');
  const title = el('h2', '', service.name);
  const meta = el('span', 'meta');
  const panic = el('span', 'panic');
  summary.append(title, meta, panic);
  const body = el('div', 'service-body');
  const table = el('table', 'endpoints');
  const head = el('tr');
  const columns = ['Endpoint', 'State', 'Health', 'Last check', 'Weight', service.l4 ? 'Open conns' : 'In flight'];
  for (const name of [...columns, 'Requests', 'Req/s', 'Errors', 'p50', 'p99', 'Sticky', 'Share', 'Actions']) {
    head.append(el('th', name === 'Actions' ? 'actions' : '', name));
  }
  const tbody = el('tbody');
  table.append(el('thead'), tbody);
  table.tHead.append(head);
  const figure = el('figure', 'balance');
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', `0 0 ${chartPoints} 100`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `share of requests per endpoint of ${service.name}`);
  const axis = el('div', 'axis');
  axis.setAttribute('aria-hidden', 'true');
  figure.append(
    svg,
    axis,
    el(
      'figcaption',
      '',
      'Balance: each endpoint’s share of the requests over time (clock time below), newest on the right (up to 3 minutes)',
    ),
  );
  const wrap = el('div', 'table-wrap');
  wrap.append(table);
  body.append(figure, wrap);
  root.append(summary, body);
  root.hidden = !matchesFilter(service.name);
  ui.services.append(root);
  entry = {
    root,
    tbody,
    meta,
    panic,
    svg,
    axis,
    rows: new Map(),
    colors: new Map(),
    history: new Map(),
    times: [],
    ticks: new Map(),
  };
  services.set(service.name, entry);
  observer.observe(root);
  return entry;
}

function updateService(entry, service, fromSnapshot, at) {
  let total = 0;
  let healthy = 0;
  const ids = new Set();
  for (const e of service.endpoints) {
    ids.add(e.id);
    total += e.requestRate;
    if (e.health === 'up' && e.state === 'ready') healthy++;
    if (fromSnapshot) continue;
    const history = entry.history.get(e.id) || [];
    history.push(e.recent);
    if (history.length > chartPoints + smoothing) history.shift();
    entry.history.set(e.id, history);
  }
  if (!fromSnapshot) {
    // When each point was taken: the chart's time axis (the histories end together, at the latest stats event).
    const taken = new Date(at).getTime();
    entry.times.push(Number.isFinite(taken) ? taken : Date.now());
    if (entry.times.length > chartPoints + smoothing) entry.times.shift();
  }
  for (const id of entry.history.keys()) if (!ids.has(id)) entry.history.delete(id);
  entry.last = service;
  entry.total = total;
  const algorithm = service.algorithm || '';
  set(entry.meta, `${algorithm} · ${healthy}/${service.endpoints.length} ready and up · ${fmt(total)} req/s`);
  set(entry.panic, service.panic ? 'PANIC: no healthy endpoint, using all' : '');
  if (visible.has(service.name)) renderRows(entry);
}

/** Brings a service's rows and chart up to its latest stats (only while it is on screen and open). */
function renderRows(entry) {
  if (!entry || !entry.last || !entry.root.open) return;
  const seen = new Set();
  for (const e of entry.last.endpoints) {
    seen.add(e.id);
    const row = entry.rows.get(e.id) || addRow(entry, e);
    updateRow(row, e, entry.total);
  }
  for (const [id, row] of entry.rows) {
    if (seen.has(id)) continue;
    row.tr.remove();
    entry.rows.delete(id);
  }
  drawChart(entry);
}

function addRow(entry, e) {
  const tr = el('tr');
  tr.dataset.endpoint = e.id;
  const color = `hsl(${(210 + entry.colors.size * 137.508) % 360} 62% 50%)`;
  entry.colors.set(e.id, color);
  const cells = {};
  for (const name of ['id', 'state', 'health', 'check', 'weight', 'inflight', 'requests', 'rate', 'errors']) {
    cells[name] = el('td', name);
  }
  for (const name of ['p50', 'p99', 'sticky', 'share', 'actions']) cells[name] = el('td', name);
  const swatch = el('span', 'swatch');
  swatch.style.background = color;
  cells.idText = el('span', '', e.id);
  cells.url = el('small', '', e.url);
  cells.id.append(swatch, cells.idText, cells.url);
  cells.stateBadge = el('span', 'badge');
  cells.state.append(cells.stateBadge);
  cells.healthBadge = el('span', 'badge');
  cells.health.append(cells.healthBadge);
  cells.checkText = el('span');
  cells.checkAt = el('small');
  cells.check.append(cells.checkText, cells.checkAt);
  cells.weightText = el('span');
  cells.ramp = el('small');
  cells.weight.append(cells.weightText, cells.ramp);
  const bar = el('span', 'bar');
  cells.shareBar = el('span');
  bar.append(cells.shareBar);
  cells.shareText = el('span');
  cells.share.append(bar, cells.shareText);
  for (const state of ['ready', 'drain', 'maint']) {
    const button = el('button', '', state);
    button.type = 'button';
    button.dataset.action = 'state';
    button.dataset.value = state;
    cells.actions.append(button, ' ');
  }
  cells.weightInput = el('input');
  cells.weightInput.type = 'number';
  cells.weightInput.min = '0';
  cells.weightInput.max = '10000';
  cells.weightInput.setAttribute('aria-label', `weight of ${e.id}`);
  const setWeight = el('button', '', 'set weight');
  setWeight.type = 'button';
  setWeight.dataset.action = 'weight';
  cells.actions.append(cells.weightInput, setWeight);
  tr.append(
    ...['id', 'state', 'health', 'check', 'weight', 'inflight', 'requests', 'rate', 'errors'].map((n) => cells[n]),
  );
  tr.append(cells.p50, cells.p99, cells.sticky, cells.share, cells.actions);
  entry.tbody.append(tr);
  const row = { tr, cells, service: entry.root.dataset.service };
  entry.rows.set(e.id, row);
  return row;
}

function updateRow(row, e, total) {
  const c = row.cells;
  set(c.url, e.url);
  set(c.stateBadge, e.state, 'value', e.state);
  set(c.healthBadge, e.health, 'value', e.health);
  if (e.lastCheck) {
    set(c.checkText, e.lastCheck.detail);
    set(c.checkAt, `${ago(e.lastCheck.at)} · ${e.lastCheck.durationMs} ms`);
    if (c.check.dataset.ok !== String(e.lastCheck.ok)) c.check.dataset.ok = String(e.lastCheck.ok);
  } else {
    set(c.checkText, e.health === 'ejected' ? 'ejected by outlier detection' : 'no active check');
    set(c.checkAt, '');
  }
  set(c.weightText, String(e.weight));
  const ramp = e.weight > 0 && e.effectiveWeight < e.weight;
  set(c.ramp, ramp ? `slow start ${Math.round((e.effectiveWeight / e.weight) * 100)}%` : '');
  if (document.activeElement !== c.weightInput && c.weightInput.dataset.shown !== String(e.weight)) {
    c.weightInput.value = String(e.weight);
    c.weightInput.dataset.shown = String(e.weight);
  }
  set(c.inflight, String(e.inFlight));
  set(c.requests, String(e.requests));
  set(c.rate, fmt(e.requestRate));
  set(c.errors, e.errorRate === null ? '–' : pct(e.errorRate), 'bad', (e.errorRate || 0) >= 0.01);
  set(c.p50, e.latencyMs ? ms(e.latencyMs.p50) : '–');
  set(c.p99, e.latencyMs ? ms(e.latencyMs.p99) : '–');
  set(c.sticky, e.stickyShare === null ? '–' : pct(e.stickyShare));
  const share = total > 0 ? e.requestRate / total : 0;
  const width = `${Math.round(share * 100)}%`;
  if (c.shareBar.style.width !== width) c.shareBar.style.width = width;
  set(c.shareText, total > 0 ? pct(share) : '–');
}

/** A stacked area per endpoint: its share of the service's requests, smoothed over `smoothing` intervals. */
function drawChart(entry) {
  if (!entry || !entry.root.open) return;
  const ids = [...entry.rows.keys()];
  const series = ids.map((id) => entry.history.get(id) || []);
  const length = Math.max(0, ...series.map((s) => s.length));
  const points = Math.min(chartPoints, length);
  // A short history still spans at least a minimum width, so a young balancer's chart is not a sliver.
  const span = Math.max(minSpan, points);
  const sums = ids.map(() => new Array(points).fill(0));
  for (let p = 0; p < points; p++) {
    const t = length - points + p;
    for (let i = 0; i < ids.length; i++) {
      const s = series[i];
      const offset = length - s.length;
      let n = 0;
      for (let k = Math.max(0, t - smoothing + 1); k <= t; k++) n += s[k - offset] || 0;
      sums[i][p] = n;
    }
  }
  const scale = chartPoints / Math.max(1, span - 1);
  const x = (p) => ((span - points + p) * scale).toFixed(1);
  const lower = new Array(points).fill(0);
  const paths = [];
  for (let i = 0; i < ids.length; i++) {
    const upper = lower.slice();
    for (let p = 0; p < points; p++) {
      let all = 0;
      for (let j = 0; j < ids.length; j++) all += sums[j][p];
      upper[p] = lower[p] + (all > 0 ? (sums[i][p] / all) * 100 : 0);
    }
    let d = '';
    for (let p = 0; p < points; p++) d += `${p === 0 ? 'M' : 'L'}${x(p)} ${(100 - upper[p]).toFixed(2)}`;
    for (let p = points - 1; p >= 0; p--) d += `L${x(p)} ${(100 - lower[p]).toFixed(2)}`;
    paths.push([ids[i], points > 0 ? `${d}Z` : '']);
    for (let p = 0; p < points; p++) lower[p] = upper[p];
  }
  const existing = new Map([...entry.svg.children].map((node) => [node.dataset.endpoint, node]));
  for (const [id, d] of paths) {
    let path = existing.get(id);
    if (!path) {
      path = document.createElementNS(svgNs, 'path');
      path.dataset.endpoint = id;
      path.setAttribute('fill', entry.colors.get(id) || '#999');
      entry.svg.append(path);
    }
    existing.delete(id);
    path.setAttribute('d', d);
  }
  for (const node of existing.values()) node.remove();
  drawAxis(entry, points, span, scale);
}

/**
 * The time axis under a balance chart: clock times every 5 to 60 s (at most six labels over what the chart spans), placed
 * where the points taken at those times are drawn. The interval between points is measured from their times.
 */
function drawAxis(entry, points, span, scale) {
  const times = entry.times;
  const labels = new Map();
  if (points > 0 && times.length > 0) {
    const last = times[times.length - 1];
    const first = times[Math.max(0, times.length - points)];
    const interval = points > 1 && last > first ? (last - first) / (points - 1) : 1000;
    const spanMs = (span - 1) * interval;
    const step = [5_000, 10_000, 15_000, 30_000, 60_000].find((ms) => spanMs / ms <= 6) ?? 60_000;
    for (let at = Math.floor(last / step) * step; at >= last - spanMs; at -= step) {
      const left = ((chartPoints - ((last - at) / interval) * scale) / chartPoints) * 100;
      if (left >= 4 && left <= 96) labels.set(at, left);
    }
  }
  for (const [at, tick] of entry.ticks) {
    if (labels.has(at)) continue;
    tick.remove();
    entry.ticks.delete(at);
  }
  for (const [at, left] of labels) {
    let tick = entry.ticks.get(at);
    if (!tick) {
      const time = new Date(at);
      tick = el('time', 'tick', time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }));
      tick.dateTime = time.toISOString();
      entry.ticks.set(at, tick);
      entry.axis.append(tick);
    }
    const style = `${left.toFixed(2)}%`;
    if (tick.style.left !== style) tick.style.left = style;
  }
}

function onChange(event, live) {
  const item = el('li');
  const time = el('time', '', new Date(event.at).toLocaleTimeString());
  time.dateTime = new Date(event.at).toISOString();
  item.append(time, describe(event));
  item.dataset.type = event.type;
  if (event.type === 'health') item.dataset.kind = event.to === 'up' ? 'good' : 'bad';
  if (event.type === 'config') item.dataset.kind = event.ok ? 'good' : 'bad';
  ui.events.prepend(item);
  while (ui.events.children.length > maxEvents) ui.events.lastElementChild.remove();
  if (!live) return;
  // Show state, weight and health changes at once rather than at the next stats event.
  const row = services.get(event.service) && services.get(event.service).rows.get(event.endpoint);
  if (!row) return;
  if (event.type === 'state') set(row.cells.stateBadge, event.to, 'value', event.to);
  if (event.type === 'health') set(row.cells.healthBadge, event.to, 'value', event.to);
  if (event.type === 'weight') set(row.cells.weightText, String(event.to));
}

function describe(event) {
  const who = `${event.service}/${event.endpoint}`;
  switch (event.type) {
    case 'endpoint-added':
      return `${who} ${event.source === 'api' ? 'registered' : 'added'} (${event.source}) at ${event.url}`;
    case 'endpoint-removed':
      return `${who} ${event.source === 'api' ? 'deregistered' : 'removed'}${event.reason ? ` (${event.reason})` : ''}`;
    case 'health':
      return `${who} health ${event.from} → ${event.to}${event.detail ? `: ${event.detail}` : ''}`;
    case 'state':
      return `${who} state ${event.from} → ${event.to}`;
    case 'weight':
      return `${who} weight ${event.from} → ${event.to}`;
    case 'config':
      return event.ok
        ? `configuration applied (snapshot ${event.version})`
        : `configuration refused: ${(event.problems || []).join('; ')}`;
    default:
      return JSON.stringify(event);
  }
}

/** Calls the admin API with the token (drain / maintenance / ready, weight); the result shows at once. */
async function act(service, endpoint, action, value) {
  const token = sessionStorage.getItem(tokenKey);
  const path = `/api/services/${encodeURIComponent(service)}/endpoints/${encodeURIComponent(endpoint)}/${action}`;
  const body = action === 'state' ? { state: value } : { weight: Number(value) };
  const res = await fetch(path, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status === 401) return showLogin('The token is no longer accepted (401).');
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    ui.notice.textContent = `${endpoint}: ${answer.title || res.status}${answer.detail ? ` (${answer.detail})` : ''}`;
    return;
  }
  ui.notice.textContent = '';
  const row = services.get(service) && services.get(service).rows.get(endpoint);
  if (row && answer.state) set(row.cells.stateBadge, answer.state, 'value', answer.state);
  if (row && answer.weight !== undefined) set(row.cells.weightText, String(answer.weight));
}

function matchesFilter(name) {
  const text = ui.filter.value.trim().toLowerCase();
  return text === '' || name.toLowerCase().includes(text);
}

const fmt = (n) => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));
const pct = (share) => `${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)}%`;
const ms = (n) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`);
function ago(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 60 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

ui.login.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = ui.token.value.trim();
  ui.token.value = '';
  if (token !== '') void signIn(token);
});
ui.logout.addEventListener('click', () => {
  sessionStorage.removeItem(tokenKey);
  void fetch('/api/session', { method: 'DELETE' });
  showLogin('');
});
ui.filter.addEventListener('input', () => {
  for (const [name, entry] of services) entry.root.hidden = !matchesFilter(name);
});
ui.services.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-action]');
  if (!button) return;
  const tr = button.closest('tr[data-endpoint]');
  const service = button.closest('[data-service]').dataset.service;
  const value = button.dataset.action === 'state' ? button.dataset.value : tr.querySelector('input').value;
  void act(service, tr.dataset.endpoint, button.dataset.action, value).catch((error) => {
    ui.notice.textContent = `request failed: ${error.message}`;
  });
});
ui.services.addEventListener('toggle', (e) => renderRows(services.get(e.target.dataset.service)), true);
const saved = sessionStorage.getItem(tokenKey);
if (saved) void signIn(saved);
else showLogin('');
