// The API client: the coordinator's API (this page's own origin) and the CRM's, with the
// bearer token the person gave, kept for this tab only. What the APIs answer is returned
// as they sent it; a refusal becomes an ApiError with the API's own words.

const CRM = document.querySelector('meta[name="crm-url"]').content;
const TOKEN_KEY = "billing-token"; // sessionStorage: this tab only, gone when it closes

export class Unauthorized extends Error {}
export class ApiError extends Error {}

let askToken = () => {}; // what a 401 does: app.js asks for the token

// ``ask(note)`` is called when an API refuses the token (or wants one).
export function whenUnauthorized(ask) {
  askToken = ask;
}

export const hasToken = () => Boolean(sessionStorage.getItem(TOKEN_KEY));
export const useToken = (token) => sessionStorage.setItem(TOKEN_KEY, token);
export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);

// The cursor a `Link: <...?after=...>; rel="next"` header names, or null.
function nextCursor(header) {
  const found = /<([^>]*)>;\s*rel="next"/.exec(header || "");
  return found ? new URL(found[1], location.origin).searchParams.get("after") : null;
}

// The file name a `Content-Disposition: ...; filename="..."` header gives, or null.
export function fileNameOf(header) {
  const found = /filename="([^"]*)"/.exec(header || "");
  return found ? found[1] : null;
}

async function call(base, path, { method = "GET", body, headers = {} } = {}) {
  // Without a token yet, ask anyway: a stack without auth answers, one with it says 401.
  const token = sessionStorage.getItem(TOKEN_KEY);
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(base + path, init);
  } catch (error) {
    throw new ApiError(`${base || location.origin} did not answer (${error.message})`);
  }
  if (response.status === 401) {
    forgetToken();
    askToken(token ? "That token was not accepted. Give the bearer token again." : "");
    throw new Unauthorized();
  }
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const data = isJson ? await response.json() : await response.text();
  if (!response.ok) {
    // A problem's detail (RFC 9457); an earlier version answered its error.
    const said = data && (data.detail || data.error);
    throw new ApiError(said || `${response.status} ${response.statusText}`);
  }
  return { data, next: nextCursor(response.headers.get("Link")), headers: response.headers };
}

export const coordinator = (path, options) => call("", path, options);
export const crm = (path, options) => call(CRM, path, options);
export const idempotencyKey = () => (crypto.randomUUID ? { "Idempotency-Key": crypto.randomUUID() } : {});
