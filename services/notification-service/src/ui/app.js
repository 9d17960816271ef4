// The operator page: alerts (HTTP catch-up, then socket.io live, resuming from the last alert shown),
// the routing table and one routing's history through this service's read-only proxy. No framework and
// no build step: the plant network has no internet and the page must load in a blink.
/* global io, document, window */

const TOKEN_KEY = 'mcms.operator.token';
const MAX_ALERTS = 200;
const PAGE_LIMIT = 500;
// After a burst of alerts the routing table is read once, not once per alert.
const ROUTINGS_REFRESH_DELAY_MS = 300;

const $ = (id) => document.getElementById(id);
const ui = {
  connection: $('connection'),
  signOut: $('sign-out'),
  signInPanel: $('sign-in-panel'),
  signInForm: $('sign-in-form'),
  token: $('token'),
  devSignIn: $('dev-sign-in'),
  signInError: $('sign-in-error'),
  workspace: $('workspace'),
  feed: $('feed'),
  feedEmpty: $('feed-empty'),
  urgent: $('urgent'),
  routings: $('routings'),
  routingsError: $('routings-error'),
  refreshRoutings: $('refresh-routings'),
  historyHeading: $('history-heading'),
  historyHint: $('history-hint'),
  historyError: $('history-error'),
  historyTable: document.querySelector('table.history'),
  history: $('history'),
};

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  /** Alerts shown, by id (a decimal string of an increasing bigint). */
  alerts: new Map(),
  /** The greatest id shown: the resume point of every (re)connect. */
  lastId: null,
  socket: null,
  selected: null,
  routingsTimer: undefined,
  session: 0,
};

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

// ── helpers ──────────────────────────────────────────────────────────────────────────────────────

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof window.Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function timeEl(iso) {
  if (!iso) return el('span', {}, '—');
  return el('time', { datetime: iso }, timeFormat.format(new Date(iso)));
}

const newer = (a, b) => b === null || BigInt(a) > BigInt(b);

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function getJson(url) {
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${state.token}`, accept: 'application/json' },
  });
  const body = await response.json().catch(() => undefined);
  if (response.status === 401) {
    signOut('Your sign-in was refused or has expired. Sign in again.');
    throw new HttpError(401, 'unauthorized');
  }
  if (!response.ok) throw new HttpError(response.status, body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

function setConnection(stateName, text) {
  ui.connection.dataset.state = stateName;
  ui.connection.textContent = text;
}

// ── badges ───────────────────────────────────────────────────────────────────────────────────────

const ROUTING_STATUS = {
  Draft: 'neutral',
  PendingApproval: 'warning',
  Approved: 'ok',
  Rejected: 'error',
};
const GENERATION_STATUS = {
  Queued: 'neutral',
  InProgress: 'info',
  Completed: 'ok',
  Failed: 'error',
};
const SEVERITY = { error: 'error', warning: 'warning', info: 'ok' };
const ALERT_TITLE = {
  'generation.failed': 'Generation failed',
  'generation.completed': 'Generation completed',
  'job.requeued': 'Job requeued',
};

function badge(text, kind) {
  return el('span', { class: `badge badge--${kind ?? 'neutral'}` }, text);
}

// ── alerts ───────────────────────────────────────────────────────────────────────────────────────

function showAlert(alert) {
  if (state.alerts.has(alert.id)) return;
  state.alerts.set(alert.id, alert);
  if (newer(alert.id, state.lastId)) state.lastId = alert.id;

  const title = ALERT_TITLE[alert.type] ?? alert.type;
  const item = el(
    'li',
    {
      class: `alert alert--${alert.severity}`,
      'data-id': alert.id,
      'data-type': alert.type,
      'data-severity': alert.severity,
      'data-job-id': alert.jobId,
    },
    el(
      'div',
      { class: 'alert-head' },
      badge(
        alert.severity === 'error' ? 'FAILED' : alert.severity === 'warning' ? 'WARNING' : 'OK',
        SEVERITY[alert.severity],
      ),
      el('span', { class: 'alert-title' }, `${title}: ${alert.routingCode}`),
    ),
    el('p', { class: 'alert-message' }, alert.message),
    el(
      'div',
      { class: 'alert-meta' },
      timeEl(alert.createdAt),
      el('span', {}, 'job ', el('code', {}, alert.jobId)),
      el(
        'button',
        {
          type: 'button',
          'aria-label': `Show the history of routing ${alert.routingCode}`,
          onclick: () => selectRouting(alert.routingId, alert.routingCode),
        },
        'History',
      ),
    ),
  );

  // Newest first: insert before the first shown alert with a smaller id (replay and live arrive in order,
  // so this is almost always the top).
  let before = ui.feed.firstElementChild;
  while (before && BigInt(before.dataset.id) > BigInt(alert.id)) before = before.nextElementSibling;
  ui.feed.insertBefore(item, before);
  while (ui.feed.childElementCount > MAX_ALERTS) {
    const last = ui.feed.lastElementChild;
    state.alerts.delete(last.dataset.id);
    last.remove();
  }
  ui.feedEmpty.hidden = true;
  return item;
}

function announce(alert) {
  if (alert.severity !== 'error') return;
  ui.urgent.textContent = `Generation failed for routing ${alert.routingCode}: ${alert.message}`;
}

/** Everything after the last alert shown, page by page (oldest first), before the socket takes over. */
async function catchUp(session) {
  for (;;) {
    const query = new URLSearchParams({ limit: String(PAGE_LIMIT) });
    if (state.lastId !== null) query.set('after', state.lastId);
    const page = await getJson(`/api/notifications?${query}`);
    if (session !== state.session) return;
    for (const alert of page.items) showAlert(alert);
    if (page.nextCursor === null || page.items.length === 0) return;
    if (state.lastId === null || newer(page.nextCursor, state.lastId)) state.lastId = page.nextCursor;
  }
}

function connectSocket(session) {
  // The auth callback runs on every (re)connect, so a reconnect resumes from the last alert shown and the
  // server replays what was missed before going live.
  const socket = io({
    transports: ['websocket'],
    auth: (send) =>
      send(
        state.lastId === null
          ? { token: state.token }
          : { token: state.token, lastNotificationId: state.lastId },
      ),
  });
  state.socket = socket;
  setConnection('connecting', 'Connecting…');
  socket.on('connect', () => setConnection('live', 'Live'));
  socket.on('disconnect', (reason) => {
    if (session !== state.session) return;
    setConnection('offline', 'Reconnecting…');
    // The server ended it on purpose (e.g. a restart): socket.io waits for us to ask again.
    if (reason === 'io server disconnect') socket.connect();
  });
  socket.on('connect_error', (err) => {
    if (session !== state.session) return;
    if (err?.message === 'unauthorized') {
      signOut('Your sign-in was refused or has expired. Sign in again.');
      return;
    }
    setConnection('offline', 'Offline — retrying…');
  });
  socket.on('notification', (alert) => {
    if (session !== state.session) return;
    if (showAlert(alert)) {
      announce(alert);
      scheduleRoutingsRefresh(alert.routingId);
    }
  });
}

// ── routings and history ─────────────────────────────────────────────────────────────────────────

async function loadRoutings() {
  try {
    const page = await getJson('/proxy/routing-worker/api/routings?limit=50');
    ui.routingsError.textContent = '';
    renderRoutings(page.items);
  } catch (err) {
    if (err.status !== 401) ui.routingsError.textContent = `Routings could not be loaded: ${err.message}`;
  }
}

function renderRoutings(routings) {
  const rows = routings.map((r) =>
    el(
      'tr',
      { 'data-routing-id': r.id, 'aria-current': r.id === state.selected?.id ? 'true' : undefined },
      el(
        'th',
        { scope: 'row' },
        el(
          'button',
          {
            type: 'button',
            class: 'routing-code',
            'aria-label': `${r.routingCode}: show history`,
            onclick: () => selectRouting(r.id, r.routingCode),
          },
          r.routingCode,
        ),
      ),
      el('td', {}, `${r.itemCode} / ${r.revisionCode}`),
      el('td', {}, badge(r.status, ROUTING_STATUS[r.status])),
      el(
        'td',
        {},
        r.lastGenerationStatus
          ? badge(r.lastGenerationStatus, GENERATION_STATUS[r.lastGenerationStatus])
          : '—',
      ),
      el('td', {}, r.camRevision),
      el('td', {}, timeEl(r.updatedAt)),
    ),
  );
  ui.routings.replaceChildren(...rows);
}

function scheduleRoutingsRefresh(routingId) {
  clearTimeout(state.routingsTimer);
  state.routingsTimer = setTimeout(() => {
    void loadRoutings();
    if (state.selected && state.selected.id === routingId) void loadHistory();
  }, ROUTINGS_REFRESH_DELAY_MS);
}

function selectRouting(id, code) {
  state.selected = { id, code };
  for (const row of ui.routings.querySelectorAll('tr')) {
    if (row.dataset.routingId === id) row.setAttribute('aria-current', 'true');
    else row.removeAttribute('aria-current');
  }
  ui.historyHeading.textContent = `History of ${code}`;
  ui.historyHeading.focus();
  void loadHistory();
}

const OUTCOME = { Approved: 'ok', Succeeded: 'ok', Pending: 'warning', Rejected: 'error', Failed: 'error' };

async function loadHistory() {
  const selected = state.selected;
  if (!selected) return;
  try {
    const entries = await getJson(
      `/proxy/history-service/api/routings/${encodeURIComponent(selected.id)}/history`,
    );
    if (state.selected !== selected) return;
    ui.historyError.textContent = '';
    ui.historyHint.hidden = true;
    ui.historyTable.hidden = false;
    ui.history.replaceChildren(
      ...entries.map((e) =>
        el(
          'tr',
          {},
          el('td', {}, timeEl(e.createdAt)),
          el('td', {}, e.changeType),
          el('td', {}, e.outcome ? badge(e.outcome, OUTCOME[e.outcome]) : '—'),
          el('td', {}, e.jobId ? el('code', {}, e.jobId.slice(0, 8)) : '—'),
          el('td', {}, e.createdBy),
          el('td', { class: 'comment' }, e.comment ?? ''),
        ),
      ),
    );
  } catch (err) {
    if (err.status !== 401) ui.historyError.textContent = `History could not be loaded: ${err.message}`;
  }
}

// ── session ──────────────────────────────────────────────────────────────────────────────────────

async function start() {
  const session = ++state.session;
  ui.signInPanel.hidden = true;
  ui.workspace.hidden = false;
  ui.signOut.hidden = false;
  ui.signInError.textContent = '';
  setConnection('connecting', 'Loading…');
  void loadRoutings();
  try {
    await catchUp(session);
  } catch (err) {
    if (err.status === 401 || session !== state.session) return;
    // The socket's replay covers what the catch-up missed; the page still goes live.
    ui.routingsError.textContent = `Past alerts could not be loaded: ${err.message}`;
  }
  if (session === state.session) connectSocket(session);
}

function signIn(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  void start();
}

function signOut(reason = '') {
  state.session += 1;
  state.socket?.disconnect();
  state.socket = null;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  ui.workspace.hidden = true;
  ui.signOut.hidden = true;
  ui.signInPanel.hidden = false;
  ui.signInError.textContent = reason;
  setConnection('signed-out', 'Signed out');
  ui.token.focus();
}

ui.signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.token.value.trim().replace(/^Bearer\s+/i, '');
  ui.token.value = '';
  if (token) signIn(token);
});
ui.devSignIn?.addEventListener('click', async () => {
  try {
    const response = await fetch('/dev/sign-in', { method: 'POST' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    signIn((await response.json()).token);
  } catch (err) {
    ui.signInError.textContent = `Development sign-in failed: ${err.message}`;
  }
});
ui.signOut.addEventListener('click', () => signOut());
ui.refreshRoutings.addEventListener('click', () => void loadRoutings());

if (state.token) void start();
else signOut();
