// The app shell: header with the signed-in user, the sign-in dialog (user and password, an
// API token, or guest), and a hash router between the session list and a dashboard.

import { ApiError, getJson, getToken, sendJson, setToken, type Me } from './api';
import { dashboardPage } from './dashboard';
import { $, h } from './dom';
import { sessionsPage } from './sessions';

let dispose: (() => void) | null = null;
let me: Me = { name: null, role: 'guest' };

function route(): void {
  dispose?.();
  dispose = null;
  const main = $('#main');
  main.removeAttribute('data-state');
  const m = /^#\/session\/([^/?]+)/.exec(location.hash);
  const page = h('div', { class: 'page' });
  main.replaceChildren(page);
  dispose = m ? dashboardPage(page, decodeURIComponent(m[1]!)) : sessionsPage(page, (hash) => (location.hash = hash));
  main.dataset.page = m ? 'dashboard' : 'sessions';
}

async function loadMe(): Promise<void> {
  try {
    me = await getJson<Me>('/api/me');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setToken(null); /* expired or revoked: fall back to guest */
      me = await getJson<Me>('/api/me');
    } else {
      throw e;
    }
  }
  const who = $('#who');
  const btn = $('#auth-button');
  if (me.name) {
    who.replaceChildren(h('span', { class: 'user', id: 'user-name' }, me.name), h('span', { class: 'muted' }, ` · ${me.role}`));
    btn.textContent = 'Sign out';
  } else {
    who.replaceChildren(h('span', { class: 'muted', id: 'user-name' }, 'guest'));
    btn.textContent = 'Sign in';
  }
}

function showSignIn(): void {
  const dlg = $<HTMLDialogElement>('#signin');
  $('#signin-msg').textContent = '';
  dlg.showModal();
}

async function signIn(e: Event): Promise<void> {
  e.preventDefault();
  const user = $<HTMLInputElement>('#signin-user').value.trim();
  const password = $<HTMLInputElement>('#signin-password').value;
  const token = $<HTMLInputElement>('#signin-token').value.trim();
  const out = $('#signin-msg');
  try {
    if (token) {
      setToken(token);
    } else {
      const r = await sendJson<{ token: string }>('POST', '/api/auth/login', { user, password });
      setToken(r.token);
    }
    await loadMe();
    if (!me.name) throw new Error('the token was not accepted');
    $<HTMLDialogElement>('#signin').close();
    $<HTMLInputElement>('#signin-password').value = '';
    $<HTMLInputElement>('#signin-token').value = '';
    route();
  } catch (err) {
    setToken(null);
    out.textContent = err instanceof ApiError && err.status === 401 ? 'Wrong user name, password or token.' : (err as Error).message;
  }
}

async function signOut(): Promise<void> {
  try {
    await sendJson('POST', '/api/auth/logout');
  } catch {
    /* an API token cannot be logged out; forgetting it is enough */
  }
  setToken(null);
  await loadMe();
  route();
}

function init(): void {
  $('#auth-button').addEventListener('click', () => (me.name ? void signOut() : showSignIn()));
  $('#signin-form').addEventListener('submit', (e) => void signIn(e));
  $('#signin-guest').addEventListener('click', () => {
    setToken(null);
    $<HTMLDialogElement>('#signin').close();
    void loadMe().then(route);
  });
  window.addEventListener('hashchange', route);
  void loadMe()
    .catch((e) => ($('#who').textContent = `server unreachable: ${(e as Error).message}`))
    .finally(() => {
      route();
      if (!getToken() && !localStorage.getItem('liveprof-seen')) {
        localStorage.setItem('liveprof-seen', '1');
        showSignIn();
      }
    });
}

init();
