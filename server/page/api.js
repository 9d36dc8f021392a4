// The page's way to the API: fetch with the API key as a Bearer header. The key is asked for once,
// when the server first answers 401 (it runs with --api-key), and kept for this tab only
// (sessionStorage); a wrong key is asked for again.

const KEY = 'ladle.key';
let asking = null;  // the dialog's promise while it is open

export function apiKey() {
  return sessionStorage.getItem(KEY) || '';
}

export function authHeaders(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : { ...headers };
}

// Shows the key dialog (once, however many requests wait for it); resolves with the key entered.
function askForKey() {
  asking ??= new Promise((resolve) => {
    const dialog = document.getElementById('key-dialog');
    const input = document.getElementById('key-input');
    const ok = document.getElementById('key-ok');
    const done = () => {
      sessionStorage.setItem(KEY, input.value.trim());
      ok.removeEventListener('click', done);
      input.removeEventListener('keydown', enter);
      dialog.close();
      asking = null;
      resolve(apiKey());
    };
    const enter = (e) => { if (e.key === 'Enter') done(); };
    ok.addEventListener('click', done);
    input.addEventListener('keydown', enter);
    dialog.showModal();
    input.focus();
  });
  return asking;
}

// fetch(path, init) with the key; on 401 asks for a key and tries again (unless askKey is false:
// the background polls must not pop a dialog up by themselves).
export async function apiFetch(path, init = {}, { askKey = true } = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { ...init, headers: authHeaders(init.headers) });
    if (res.status !== 401 || !askKey || attempt >= 3) return res;
    await askForKey();
  }
}

// A JSON POST through apiFetch.
export function postJson(path, body, init = {}) {
  return apiFetch(path, {
    ...init, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
}

// The error of a failed reply, with the message of its JSON body when there is one.
export async function apiError(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    message = body?.error?.message ?? message;
  } catch { /* not JSON */ }
  const error = new Error(message);
  error.status = res.status;
  return error;
}

// A WebSocket URL on this origin.
export function wsUrl(path) {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}
