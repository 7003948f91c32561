import { Api, ApiError } from './api.js';
import { CallAudio } from './audio.js';
import { CallList } from './call-list.js';
import { CallView, liveStatuses } from './call-view.js';
import { CallControls } from './controls.js';
import { OutboundList } from './outbound-list.js';
import { StatsView } from './stats-view.js';
import { byId } from './dom.js';
import { language, languageChosen, setLanguage, setTimeZone, t, timeZone } from './i18n.js';
import { callQuery, callEventsSubscription, callAudioSubscription, liveCallsSubscription, outboundJobsQuery, outboundJobsSubscription, recentCallsQuery, viewerQuery } from './queries.js';
import { statusKey } from './call-list.js';

/**
 * The supervisor console: sign in with an API key, watch the business's calls live, open
 * one to follow its transcript, details, actions and audio, steer it, and see its
 * post-call pipeline finish. The key lives in session storage (this tab only) and is
 * removed on sign-out or when Callwatch refuses it.
 */

const keyStorage = 'callwatch.monitor.key';

/**
 * @typedef {{
 *   api: Api; role: string; list: CallList; outbound: OutboundList; controls: CallControls;
 *   stopLiveCalls: () => void; stopOutbound: () => void; timers: number[];
 *   selected?: { id: string; stop: (() => void)[]; stopAudio?: () => void };
 * }} Session
 */

/** @type {Session | undefined} */
let session;
/** The open call's events since a `refresh` query went out (see there); undefined when none is out. */
/** @type {any[] | undefined} */
let replay;
let refreshing = 0;
const view = new CallView();
const audio = new CallAudio();
const stats = new StatsView(() => session?.api);

setLanguage(language());
byId('language').addEventListener('click', () => {
  setLanguage(language() === 'he' ? 'en' : 'he', { remember: true });
  rerender();
});
byId('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = /** @type {HTMLInputElement} */ (byId('api-key')).value.trim();
  if (key) void signIn(key);
});
byId('sign-out').addEventListener('click', () => signOut('signIn.signedOut'));
byId('listen').addEventListener('click', () => void toggleListening());
// The address names the view: #stats, #calls, or the open call (#call=…).
window.addEventListener('hashchange', () => void followAddress());

const savedKey = sessionStorage.getItem(keyStorage);
if (savedKey) void signIn(savedKey);
else showSignIn();

/** @param {string} key */
async function signIn(key) {
  showSignIn(t('signIn.checking'));
  const api = new Api(key, {
    onState: (state) => {
      if (state === 'rejected') return signOut('signIn.rejected');
      setConnection(state);
    },
    onReconnected: () => void resync(),
  });
  let viewer;
  try {
    ({ viewer } = await api.request(viewerQuery));
  } catch (error) {
    api.close();
    if (error instanceof ApiError && error.kind === 'rejected') {
      sessionStorage.removeItem(keyStorage);
      return showSignIn(t('signIn.rejected'), 'error');
    }
    return showSignIn(t('signIn.unreachable', { error: error instanceof Error ? error.message : String(error) }), 'error');
  }
  if (!viewer.business) {
    api.close();
    return showSignIn(t('signIn.platform'), 'error');
  }
  sessionStorage.setItem(keyStorage, key);
  /** @type {HTMLInputElement} */ (byId('api-key')).value = '';
  setTimeZone(viewer.business.timezone);
  if (!languageChosen()) setLanguage(viewer.business.locale.startsWith('he') ? 'he' : 'en');

  const list = new CallList(
    { live: byId('live-calls'), liveEmpty: byId('live-empty'), recent: byId('recent-calls'), recentEmpty: byId('recent-empty') },
    (call) => void select(call.id),
  );
  const stopLiveCalls = api.subscribe(liveCallsSubscription, {}, ({ liveCalls: event }) => onLiveCall(event), () => {});
  const outbound = new OutboundList({ list: byId('outbound-jobs'), empty: byId('outbound-empty') }, (callId) => void select(callId));
  const stopOutbound = api.subscribe(outboundJobsSubscription, {}, ({ outboundCallJobUpdated: job }) => outbound.upsert(job), () => {});
  session = {
    api,
    role: viewer.role,
    list,
    outbound,
    stopOutbound,
    controls: new CallControls(api, () => session?.selected?.id),
    stopLiveCalls,
    timers: [window.setInterval(() => list.render(), 1_000)],
  };
  byId('business-name').textContent = viewer.business.name;
  byId('role').dataset.role = viewer.role;
  document.body.dataset.screen = 'console';
  rerender();
  void loadRecent();
  drawMeters();
  // The view in the address opens again after a reload, or from a shared link.
  void followAddress();
}

/** Shows the view the address names: the Stats view (#stats), or the calls (a call for #call=…). */
async function followAddress() {
  if (!session) return;
  const showStats = location.hash === '#stats';
  byId('console').hidden = showStats;
  byId('stats-view').hidden = !showStats;
  for (const [id, current] of /** @type {const} */ ([['view-calls', !showStats], ['view-stats', showStats]])) {
    if (current) byId(id).setAttribute('aria-current', 'page');
    else byId(id).removeAttribute('aria-current');
  }
  if (showStats) return stats.load();
  const linked = /^#call=([0-9a-f-]{36})$/.exec(location.hash)?.[1];
  if (linked && linked !== session.selected?.id) return select(linked);
  // Back from the stats: the address names the call still open.
  if (session.selected) history.replaceState(null, '', `#call=${session.selected.id}`);
}

/** @param {'signIn.signedOut' | 'signIn.rejected'} reason */
function signOut(reason) {
  sessionStorage.removeItem(keyStorage);
  history.replaceState(null, '', location.pathname);
  if (session) {
    deselect();
    session.stopLiveCalls();
    session.stopOutbound();
    session.api.close();
    for (const timer of session.timers) clearInterval(timer);
    session = undefined;
  }
  view.clear();
  setConnection('rejected');
  showSignIn(t(reason), reason === 'signIn.rejected' ? 'error' : 'info');
}

/**
 * @param {string} [message]
 * @param {'info' | 'error'} [tone]
 */
function showSignIn(message, tone = 'info') {
  document.body.dataset.screen = 'sign-in';
  const status = byId('sign-in-status');
  status.textContent = message ?? '';
  status.dataset.tone = tone;
  byId('api-key').focus();
}

/** @param {{ type: string; callId: string; at: string; call: any }} event */
function onLiveCall(event) {
  if (!session) return;
  if (event.type === 'call.ended') return session.list.end(event.callId, event.at);
  if (event.call && liveStatuses.has(statusKey(event.call.status))) session.list.upsertLive(event.call);
  else if (event.call) session.list.end(event.callId, event.at);
}

async function loadRecent() {
  if (!session) return;
  const current = session;
  try {
    const [{ calls }, { outboundCallJobs }] = await Promise.all([current.api.request(recentCallsQuery), current.api.request(outboundJobsQuery)]);
    current.list.setRecent(calls.edges.map((/** @type {{ node: any }} */ edge) => edge.node));
    current.outbound.set(outboundCallJobs.nodes);
  } catch {
    // The live lists still work; the next reconnect tries again.
  }
}

/**
 * Opens a call: its events are subscribed to before the snapshot is read, so nothing
 * falls between the two; events that arrive first wait for the snapshot.
 *
 * @param {string} callId
 */
async function select(callId) {
  if (!session) return;
  deselect();
  const current = session;
  /** @type {NonNullable<Session['selected']>} */
  const selected = { id: callId, stop: [] };
  current.selected = selected;
  // A query still out for the previous call must not replay its events onto this one.
  replay = refreshing > 0 ? [] : undefined;
  current.list.select(callId);
  history.replaceState(null, '', `#call=${callId}`);
  audio.reset();
  /** @type {any[] | undefined} */
  let early = [];
  const onEvent = (/** @type {any} */ event) => {
    if (early) return void early.push(event);
    replay?.push(event);
    if (view.apply(event)) void refresh(callId);
    if (event.type === 'call.ended') afterEnd();
    updateControls();
  };
  selected.stop.push(current.api.subscribe(callEventsSubscription, { id: callId }, ({ callEvents }) => onEvent({ ...callEvents.data, type: callEvents.type, at: callEvents.at }), () => {}));
  try {
    const { call } = await current.api.request(callQuery, { id: callId });
    if (current.selected !== selected) return;
    view.show(call);
  } catch (error) {
    byId('call-empty').textContent = t('call.loadFailed', { error: error instanceof Error ? error.message : String(error) });
    return;
  }
  const pending = early;
  early = undefined;
  for (const event of pending) onEvent(event);
  if (!view.ended && mayAct()) {
    selected.stopAudio = current.api.subscribe(callAudioSubscription, { id: callId }, ({ callAudio }) => audio.accept(callAudio), () => {});
  }
  updateControls();
  byId('call-section').focus();
}

function deselect() {
  const selected = session?.selected;
  if (!selected) return;
  for (const stop of selected.stop) stop();
  selected.stopAudio?.();
  if (session) session.selected = undefined;
  void audio.stop();
}

/** The call ended: no more audio to listen to. */
function afterEnd() {
  const selected = session?.selected;
  selected?.stopAudio?.();
  if (selected) selected.stopAudio = undefined;
  void audio.stop().then(updateControls);
}

/** @param {string} callId */
async function refresh(callId) {
  if (!session) return;
  // Events that arrive while a query is out may be newer than its answer (a webhook
  // delivered after the row was read): they are applied again on top of each answer,
  // until no query is out.
  replay ??= [];
  refreshing += 1;
  try {
    const { call } = await session.api.request(callQuery, { id: callId });
    if (session?.selected?.id !== callId) return;
    view.show(call);
    for (const event of replay ?? []) view.apply(event);
    if (!liveStatuses.has(statusKey(call.status))) session?.list.updateRecent(call);
  } catch {
    // The events keep the panel close to current; the next one retries.
  } finally {
    refreshing -= 1;
    if (refreshing === 0) replay = undefined;
  }
}

/** After a dropped connection: whatever happened meanwhile comes from the queries. */
async function resync() {
  if (!session) return;
  session.list.clearLive();
  await loadRecent();
  const selected = session?.selected;
  if (selected) await refresh(selected.id);
}

async function toggleListening() {
  try {
    if (audio.listening) await audio.stop();
    else await audio.listen();
    byId('audio-error').hidden = true;
  } catch (error) {
    const message = byId('audio-error');
    message.hidden = false;
    message.textContent = t('audio.unavailable', { error: error instanceof Error ? error.message : String(error) });
  }
  updateControls();
}

function mayAct() {
  return session?.role === 'SUPERVISOR' || session?.role === 'ADMIN';
}

function updateControls() {
  const live = view.call !== undefined && !view.ended;
  session?.controls.update({ live, mayAct: mayAct() });
  const listen = byId('listen');
  listen.toggleAttribute('disabled', !(live && mayAct()));
  listen.setAttribute('aria-pressed', String(audio.listening));
  listen.textContent = t(audio.listening ? 'audio.stop' : 'audio.listen');
  byId('audio-note').hidden = mayAct();
}

/** The meters and counters follow the audio once per frame, not once per chunk. */
function drawMeters() {
  if (!session) return;
  audio.decay();
  for (const [track, id] of /** @type {const} */ ([['CALLER', 'meter-caller'], ['AGENT', 'meter-agent']])) {
    const meter = byId(id);
    const level = Math.round(audio.levels[track] * 100);
    meter.style.setProperty('--level', String(level / 100));
    meter.setAttribute('aria-valuenow', String(level));
  }
  const played = byId('played-count');
  if (played.dataset.count !== String(audio.played)) {
    played.dataset.count = String(audio.played);
    played.textContent = t('audio.played', { count: audio.played });
  }
  const lost = byId('lost-count');
  lost.hidden = audio.lost === 0;
  lost.textContent = t('audio.lost', { count: audio.lost });
  requestAnimationFrame(drawMeters);
}

/** @param {import('./api.js').ConnectionState} state */
function setConnection(state) {
  const badge = byId('connection');
  badge.dataset.state = state;
  badge.textContent = t(state === 'rejected' ? 'conn.signedOut' : state === 'live' ? 'conn.live' : state === 'reconnecting' ? 'conn.reconnecting' : 'conn.connecting');
}

/** Everything drawn from code, again (after sign-in and a language change). */
function rerender() {
  setConnection(/** @type {any} */ (byId('connection').dataset.state ?? 'connecting'));
  const role = byId('role');
  role.textContent = role.dataset.role ? t(/** @type {any} */ (`role.${role.dataset.role.toLowerCase()}`)) : '';
  byId('timezone').textContent = session ? t('timezone', { zone: timeZone() }) : '';
  session?.list.render();
  session?.outbound.render();
  view.relabel();
  stats.render();
  // A status line speaks the language it was written in; after a switch it would be stale.
  byId('controls-status').textContent = '';
  byId('played-count').textContent = t('audio.played', { count: audio.played });
  updateControls();
}
