/**
 * This browser profile's device token: a random value kept in localStorage and presented when
 * joining, so that a host's ban refuses this browser rather than everyone behind its network
 * address (docs/threat-model.md, "Bans"). It identifies nothing else and is never shown to anyone;
 * the server keeps only its hash, for the meeting's bans. Clearing the site's data makes a new one.
 */
const KEY = "conclave.deviceToken";

export function deviceToken(): string {
  try {
    const stored = localStorage.getItem(KEY);
    if (stored && /^[A-Za-z0-9_-]{16,128}$/.test(stored)) return stored;
    const fresh = newToken();
    localStorage.setItem(KEY, fresh);
    return fresh;
  } catch {
    // Storage disabled: a token for this page only (a ban then lasts until the page is reloaded).
    return (sessionToken ??= newToken());
  }
}

let sessionToken: string | undefined;

function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
