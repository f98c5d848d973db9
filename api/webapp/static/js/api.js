// The public API, as any third-party client uses it: OAuth2 bearer tokens kept in
// sessionStorage (gone when the tab closes), renewed with POST /auth/refresh on a 401.

const KEY = "bandhub.tokens";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code || "http_" + status;
  }
}

export const tokens = {
  get: () => JSON.parse(sessionStorage.getItem(KEY) || "null"),
  set: (t) => sessionStorage.setItem(KEY, JSON.stringify(t)),
  clear: () => sessionStorage.removeItem(KEY),
};

let renewing = null;

async function renew() {
  // one renewal at a time: the refresh token is spent by its first use
  renewing ??= (async () => {
    const t = tokens.get();
    if (!t?.refresh_token) return false;
    const r = await fetch("/auth/refresh", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: t.refresh_token }),
    });
    if (!r.ok) { tokens.clear(); return false; }
    tokens.set(await r.json());
    return true;
  })().finally(() => { renewing = null; });
  return renewing;
}

/** fetch() with the bearer token; one renewal and retry on 401. */
export async function authFetch(path, init = {}, retry = true) {
  const t = tokens.get();
  const headers = new Headers(init.headers || {});
  if (t) headers.set("Authorization", `Bearer ${t.access_token}`);
  const r = await fetch(path, { ...init, headers });
  if (r.status === 401 && retry && (await renew())) return authFetch(path, init, false);
  if (r.status === 401) window.dispatchEvent(new Event("bandhub:signed-out"));
  return r;
}

/** JSON in, JSON out; throws ApiError with the API's error code. */
export async function api(path, { method = "GET", body, query } = {}) {
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  const init = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "Content-Type": "application/json" };
  }
  const r = await authFetch(url, init);
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export async function signIn(email, password) {
  const r = await fetch("/auth/token", {
    method: "POST",
    body: new URLSearchParams({ username: email, password }),
  });
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  tokens.set(data);
}

export async function signUp(email, password, displayName) {
  const r = await fetch("/auth/signup", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password, display_name: displayName }),
  });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  await signIn(email, password);
}

export async function signOut() {
  await authFetch("/auth/logout", { method: "POST" }, false).catch(() => {});
  tokens.clear();
}

/**
 * The live alert stream. EventSource cannot send an Authorization header, so this reads
 * the Server-Sent Events with fetch() and a ReadableStream; it reconnects after a drop
 * until `signal` aborts. `onEvent` gets each event's parsed JSON data; `onOpen` runs on
 * every (re)connection, once the server listens, so the caller can catch up on what a
 * gap may have missed.
 */
export async function alertStream(onEvent, signal, onOpen = () => {}) {
  while (!signal.aborted) {
    try {
      const r = await authFetch("/alerts/stream", { signal, headers: { Accept: "text/event-stream" } });
      if (!r.ok) throw new ApiError(r.status, null);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let opened = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // the server's first line (": connected") comes once it listens: catching up
        // from then on misses nothing
        if (!opened) { opened = true; await onOpen(); }
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart()).join("\n");
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status === 401) return;
    }
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}
