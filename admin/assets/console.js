// bankgate admin console. The admin token lives in this closure only:
// never in a cookie or in storage. The DOM is built with createElement and
// textContent only (the page's CSP allows no HTML from strings).
"use strict";
(function () {
  let token = "";
  const $ = (id) => document.getElementById(id);

  // el builds an element: el("td", {class: "x"}, "text", child, ...).
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }

  class APIError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  async function api(method, path, body) {
    const init = { method, headers: { "Authorization": "Bearer " + token }, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch("/admin/v1" + path, init);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const err = (data && data.error) || { code: "internal", message: "The server answered " + res.status + "." };
      if (res.status === 401) signOut("The admin token was refused; sign in again.");
      throw new APIError(res.status, err.code, err.message);
    }
    return data;
  }

  function fmtTime(s) {
    if (!s) return "—";
    const d = new Date(s);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/:00Z$/, ":00Z");
  }

  function say(text, secret) {
    const box = $("status");
    box.replaceChildren();
    if (!text) return;
    const note = el("div", { class: "note" }, text);
    if (secret) note.append(" ", el("span", { class: "secret", id: "new-secret" }, secret));
    box.append(note);
  }

  function showError(e) {
    say("");
    const box = $("status");
    box.replaceChildren(el("p", { class: "error", role: "alert" }, e.message || String(e)));
  }

  // --- sign in and out ---

  function signOut(message) {
    token = "";
    $("nav").hidden = true;
    $("view").hidden = true;
    $("view").replaceChildren();
    $("signin").hidden = false;
    $("token").value = "";
    const err = $("signin-error");
    err.hidden = !message;
    err.textContent = message || "";
    if (location.hash) history.replaceState(null, "", location.pathname);
    $("token").focus();
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("signin-error");
    token = $("token").value.trim();
    $("token").value = "";
    try {
      const who = await api("GET", "/whoami");
      err.hidden = true;
      $("signin").hidden = true;
      $("nav").hidden = false;
      $("view").hidden = false;
      say("Signed in with admin token " + who.tokenID + ".");
      if (!location.hash || location.hash === "#") location.hash = "#/apps";
      else route();
    } catch (e) {
      token = "";
      err.hidden = false;
      err.textContent = e.status === 401 ? "That is not the admin token." : e.message;
      $("token").focus();
    }
  });
  $("signout").addEventListener("click", () => signOut(""));

  // --- dialog ---

  // confirmDialog shows a modal dialog and resolves with what onOK returns,
  // or null when cancelled; onOK may throw to keep the dialog open.
  function confirmDialog(title, body, okLabel, onOK, danger) {
    const dlg = $("dialog");
    const opener = document.activeElement;
    $("dialog-title").textContent = title;
    $("dialog-body").replaceChildren(...body);
    $("dialog-ok").textContent = okLabel;
    $("dialog-ok").className = danger === false ? "primary" : "danger";
    const err = $("dialog-error");
    err.hidden = true;
    return new Promise((resolve) => {
      let done = false;
      const finish = (v) => {
        if (done) return;
        done = true;
        $("dialog-form").removeEventListener("submit", submit);
        $("dialog-cancel").removeEventListener("click", cancel);
        dlg.removeEventListener("close", cancel);
        if (dlg.open) dlg.close();
        if (opener && opener.focus && document.contains(opener)) opener.focus();
        resolve(v);
      };
      const submit = async (ev) => {
        ev.preventDefault();
        $("dialog-ok").disabled = true;
        try {
          finish(await onOK());
        } catch (e) {
          err.hidden = false;
          err.textContent = e.message;
        } finally {
          $("dialog-ok").disabled = false;
        }
      };
      const cancel = () => finish(null);
      $("dialog-form").addEventListener("submit", submit);
      $("dialog-cancel").addEventListener("click", cancel);
      dlg.addEventListener("close", cancel);
      dlg.showModal();
      const first = $("dialog-body").querySelector("input, select");
      (first || $("dialog-cancel")).focus();
    });
  }

  function field(id, label, attrs) {
    return el("div", {}, el("label", { for: id }, label), el("input", Object.assign({ id, name: id }, attrs || {})));
  }

  // --- views ---

  const view = () => $("view");

  function page(title, ...kids) {
    view().replaceChildren(el("h1", { id: "view-title", tabindex: "-1" }, title), ...kids);
    $("view-title").focus();
  }

  function setNav(name) {
    for (const a of document.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  function table(headers, rows, attrs) {
    return el("div", { class: "table" }, el("table", attrs || {},
      el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", class: h.cls }, h.text || h)))),
      el("tbody", {}, ...rows)));
  }

  function badge(text) { return el("span", { class: "badge " + text }, text); }

  async function appsView() {
    setNav("apps");
    const data = await api("GET", "/apps");
    const rows = data.apps.map((a) => el("tr", { "data-app-row": a.appKey },
      el("td", {}, el("a", { href: "#/apps/" + encodeURIComponent(a.appKey), "data-app-key": a.appKey }, a.name)),
      el("td", {}, a.environment),
      el("td", {}, badge(a.disabled ? "disabled" : "enabled")),
      el("td", {}, String(a.connections)),
      el("td", {}, String(a.tokens)),
      el("td", { class: "mono hide-narrow" }, a.appKey.slice(0, 12) + "…")));
    page("Apps",
      el("p", { class: "muted" }, data.apps.length + " apps. Counts are live connections and unrevoked tokens."),
      table(["Name", "Environment", "Status", "Connections", "Tokens", { text: "App key", cls: "hide-narrow" }], rows, { id: "apps-table" }));
  }

  async function appView(key) {
    setNav("apps");
    const a = await api("GET", "/apps/" + encodeURIComponent(key));
    const enc = encodeURIComponent(key);
    const kv = el("dl", { class: "kv" });
    const add = (k, v) => kv.append(el("dt", {}, k), el("dd", {}, v));
    add("App key", el("span", { class: "mono" }, a.appKey));
    add("Environment", a.environment);
    add("Status", badge(a.disabled ? "disabled" : "enabled"));
    add("Live connections", String(a.connections));
    add("Unrevoked tokens", String(a.tokens));
    add("Created", fmtTime(a.createdAt));
    add("Secret rotated", fmtTime(a.secretRotatedAt));
    if (a.previousSecretValidUntil) add("Previous secret works until", fmtTime(a.previousSecretValidUntil));
    add("Allowed origins", a.allowedOrigins.join(" ") || "—");
    add("Redirect URIs", a.redirectURIs.join(" ") || "—");
    add("Bundle IDs", a.bundleIDs.join(" ") || "—");
    add("Server URL", a.serverURL || "—");
    add("SDK forwarding", a.forwarding ? "on" : "off");
    if (a.environment === "sandbox") add("Sandbox", "clock offset " + a.sandboxClockOffset + ", world " + a.sandboxEpoch);

    const actions = el("div", { class: "toolbar" },
      el("a", { href: "#/apps/" + enc + "/connections", id: "connections-link" }, "Connections"),
      el("a", { href: "#/audit?appKey=" + enc, id: "audit-link" }, "Audit"));
    const buttons = el("div", { class: "toolbar" });
    buttons.append(
      el("button", { type: "button", id: "kill", class: "danger", onclick: () => killSwitch(a) }, "Revoke all tokens…"),
      el("button", { type: "button", id: "rotate", onclick: () => rotate(a) }, "Rotate secret…"),
      a.disabled
        ? el("button", { type: "button", id: "enable", class: "primary", onclick: () => setDisabled(a, false) }, "Enable app")
        : el("button", { type: "button", id: "disable", onclick: () => setDisabled(a, true) }, "Disable app…"));
    if (a.environment === "sandbox") {
      buttons.append(el("button", { type: "button", id: "reset-sandbox", onclick: () => resetSandbox(a) }, "Reset sandbox world…"));
    }
    page(a.name, actions, el("div", { class: "card" }, kv), buttons);
  }

  async function killSwitch(a) {
    const fresh = await api("GET", "/apps/" + encodeURIComponent(a.appKey));
    const n = fresh.tokens;
    const r = await confirmDialog("Revoke every token of " + fresh.name + "?", [
      el("p", { id: "kill-summary" }, "This revokes all " + n + " unrevoked token" + (n === 1 ? "" : "s") + " of the app " + fresh.name +
        " and its access codes not yet exchanged, on every instance within a second. Users must connect again."),
      field("d-reason", "Reason (recorded in the audit)", { required: true, maxlength: "200" }),
    ], "Revoke " + n + " token" + (n === 1 ? "" : "s"), () =>
      api("POST", "/apps/" + encodeURIComponent(a.appKey) + "/revoke-tokens", { reason: $("d-reason").value }));
    if (r) {
      await appView(a.appKey);
      say("Revoked " + r.revoked + " token" + (r.revoked === 1 ? "" : "s") + " of " + fresh.name + ".");
    }
  }

  async function rotate(a) {
    const r = await confirmDialog("Rotate the secret of " + a.name + "?", [
      el("p", {}, "The new appSecret is shown once. With an overlap, the old secret keeps working until it ends."),
      field("d-overlap", "Overlap (e.g. 24h; empty: the old secret stops now)", { placeholder: "0s", spellcheck: "false" }),
      field("d-reason", "Reason", { maxlength: "200" }),
    ], "Rotate", () => api("POST", "/apps/" + encodeURIComponent(a.appKey) + "/rotate-secret",
      { overlap: $("d-overlap").value.trim(), reason: $("d-reason").value }));
    if (r) {
      await appView(a.appKey);
      say("New appSecret (shown only now" + (r.previousSecretValidUntil ? "; the old one works until " + fmtTime(r.previousSecretValidUntil) : "") + "):", r.appSecret);
    }
  }

  async function setDisabled(a, disabled) {
    const path = "/apps/" + encodeURIComponent(a.appKey) + (disabled ? "/disable" : "/enable");
    if (disabled) {
      const r = await confirmDialog("Disable " + a.name + "?", [
        el("p", {}, "Every call of the app will answer INVALID_APP_CREDENTIALS and its logins are refused until you enable it again."),
        field("d-reason", "Reason", { maxlength: "200" }),
      ], "Disable", () => api("POST", path, { reason: $("d-reason").value }));
      if (!r) return;
    } else {
      await api("POST", path);
    }
    await appView(a.appKey);
    say(a.name + (disabled ? " is disabled." : " is enabled."));
  }

  async function resetSandbox(a) {
    const r = await confirmDialog("Reset the sandbox world of " + a.name + "?", [
      el("p", {}, "Its test clock goes back to zero and its sandbox payments, beneficiaries and users are gone."),
      field("d-reason", "Reason", { maxlength: "200" }),
    ], "Reset", () => api("POST", "/apps/" + encodeURIComponent(a.appKey) + "/sandbox/reset", { reason: $("d-reason").value }));
    if (r) {
      await appView(a.appKey);
      say("The sandbox world of " + a.name + " was reset (world " + r.epoch + ").");
    }
  }

  async function connectionsView(key, params) {
    setNav("apps");
    const enc = encodeURIComponent(key);
    const app = await api("GET", "/apps/" + enc);
    const q = new URLSearchParams();
    for (const k of ["clientUserID", "bankID", "state", "cursor"]) if (params.get(k)) q.set(k, params.get(k));
    q.set("limit", "25");
    const data = await api("GET", "/apps/" + enc + "/connections?" + q.toString());

    const form = el("form", { class: "filters", id: "conn-filters", role: "search" },
      field("f-client", "clientUserID", { value: params.get("clientUserID") || "", spellcheck: "false" }),
      field("f-bank", "Bank ID", { value: params.get("bankID") || "", spellcheck: "false" }),
      el("div", {}, el("label", { for: "f-state" }, "State"),
        el("select", { id: "f-state" }, ...["", "active", "delinked", "revoked"].map((s) =>
          el("option", { value: s, selected: (params.get("state") || "") === s }, s || "any")))),
      el("div", {}, el("button", { type: "submit", class: "primary", id: "f-search" }, "Search")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      if ($("f-client").value.trim()) p.set("clientUserID", $("f-client").value.trim());
      if ($("f-bank").value.trim()) p.set("bankID", $("f-bank").value.trim());
      if ($("f-state").value) p.set("state", $("f-state").value);
      location.hash = "#/apps/" + enc + "/connections" + (p.toString() ? "?" + p.toString() : "");
    });

    const rows = data.connections.map((c) => {
      const tr = el("tr", { "data-connection-id": c.connectionID, "data-client-user-id": c.clientUserID },
        el("td", {}, c.clientUserID || "—"),
        el("td", { class: "hide-narrow" }, c.bankID),
        el("td", {}, badge(c.state)),
        el("td", { class: "hide-narrow" }, fmtTime(c.createdAt)),
        el("td", { class: "hide-narrow" }, fmtTime(c.lastUsedAt)),
        el("td", {},
          el("button", { type: "button", class: "link", "data-details": c.connectionID, "aria-label": "Details of connection " + c.connectionID,
            onclick: () => connectionDetails(app, c.connectionID) }, "Details"),
          c.state === "active" ? el("button", { type: "button", "data-revoke": c.connectionID, "aria-label": "Revoke connection of " + (c.clientUserID || c.connectionID),
            onclick: () => revokeConnection(app, c) }, "Revoke") : null));
      return tr;
    });
    const kids = [
      el("p", {}, el("a", { href: "#/apps/" + enc }, "← " + app.name)),
      form,
      data.connections.length ? table(["clientUserID", { text: "Bank", cls: "hide-narrow" }, "State", { text: "Created", cls: "hide-narrow" }, { text: "Last used", cls: "hide-narrow" }, ""], rows, { id: "connections-table" })
        : el("p", { id: "no-connections" }, "No connections match."),
    ];
    if (data.next) {
      const p = new URLSearchParams(params);
      p.set("cursor", data.next);
      kids.push(el("div", { class: "toolbar" }, el("a", { href: "#/apps/" + enc + "/connections?" + p.toString(), id: "next" }, "Next page →")));
    }
    page("Connections of " + app.name, ...kids);
  }

  async function connectionDetails(app, id) {
    const c = await api("GET", "/apps/" + encodeURIComponent(app.appKey) + "/connections/" + encodeURIComponent(id));
    const kv = el("dl", { class: "kv", id: "connection-details" });
    const add = (k, v) => kv.append(el("dt", {}, k), el("dd", {}, v));
    add("Connection", el("span", { class: "mono" }, c.connectionID));
    add("clientUserID", c.clientUserID || "—");
    add("Bank", c.bankID);
    add("userID", el("span", { class: "mono" }, c.userID));
    add("State", badge(c.state));
    add("Created", fmtTime(c.createdAt));
    add("Last used", fmtTime(c.lastUsedAt));
    if (c.delinkedAt) add("Delinked", fmtTime(c.delinkedAt));
    if (c.revokedAt) add("Revoked", fmtTime(c.revokedAt));
    for (const t of c.tokens) add("Token", el("span", { class: "mono" }, t.tokenID + (t.revokedAt ? " — revoked " + fmtTime(t.revokedAt) + " (" + t.revokeReason + ")" : " — valid")));
    await confirmDialog("Connection", [kv, el("p", {}, el("a", { href: "#/audit?connectionID=" + encodeURIComponent(c.connectionID) }, "Its audit trail"))], "Close", async () => true, false);
  }

  async function revokeConnection(app, c) {
    const r = await confirmDialog("Revoke this connection?", [
      el("p", {}, "The token of " + (c.clientUserID || c.connectionID) + " at " + c.bankID + " stops working on every instance within a second."),
      field("d-reason", "Reason", { maxlength: "200" }),
    ], "Revoke", () => api("POST", "/apps/" + encodeURIComponent(app.appKey) + "/connections/" + encodeURIComponent(c.connectionID) + "/revoke",
      { reason: $("d-reason").value }));
    if (r) {
      await route();
      say("Revoked the connection of " + (c.clientUserID || c.connectionID) + ".");
    }
  }

  const auditTypes = ["", "app_created", "app_updated", "admin_action", "secret_rotated", "app_disabled", "app_enabled", "connection_created",
    "code_issued", "code_exchanged", "code_reused", "token_revoked", "user_delinked", "connection_revoked", "tokens_revoked",
    "login_failed", "payment", "clock_advanced", "sandbox_reset", "key_retired"];

  async function auditView(params) {
    setNav("audit");
    const apps = (await api("GET", "/apps")).apps;
    const q = new URLSearchParams();
    for (const k of ["appKey", "connectionID", "type", "cursor"]) if (params.get(k)) q.set(k, params.get(k));
    q.set("limit", "50");
    const data = await api("GET", "/audit?" + q.toString());
    const names = {};
    for (const a of apps) names[a.appKey] = a.name;

    const form = el("form", { class: "filters", id: "audit-filters", role: "search" },
      el("div", {}, el("label", { for: "a-app" }, "App"),
        el("select", { id: "a-app" }, el("option", { value: "" }, "all apps"),
          ...apps.map((a) => el("option", { value: a.appKey, selected: params.get("appKey") === a.appKey }, a.name)))),
      field("a-conn", "Connection ID", { value: params.get("connectionID") || "", spellcheck: "false" }),
      el("div", {}, el("label", { for: "a-type" }, "Type"),
        el("select", { id: "a-type" }, ...auditTypes.map((t) => el("option", { value: t, selected: (params.get("type") || "") === t }, t || "any")))),
      el("div", {}, el("button", { type: "submit", class: "primary", id: "a-search" }, "Filter")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      if ($("a-app").value) p.set("appKey", $("a-app").value);
      if ($("a-conn").value.trim()) p.set("connectionID", $("a-conn").value.trim());
      if ($("a-type").value) p.set("type", $("a-type").value);
      location.hash = "#/audit" + (p.toString() ? "?" + p.toString() : "");
    });
    const rows = data.events.map((e) => el("tr", { "data-event-type": e.type },
      el("td", {}, fmtTime(e.at)),
      el("td", {}, e.type),
      el("td", {}, names[e.appKey] || e.appKey.slice(0, 8)),
      el("td", { class: "mono hide-narrow" }, e.connectionID ? e.connectionID.slice(0, 12) + "…" : ""),
      el("td", { class: "mono" }, e.detail)));
    const kids = [form, data.events.length
      ? table(["Time", "Type", "App", { text: "Connection", cls: "hide-narrow" }, "Detail"], rows, { id: "audit-table" })
      : el("p", {}, "No events match.")];
    if (data.next) {
      const p = new URLSearchParams(params);
      p.set("cursor", data.next);
      kids.push(el("div", { class: "toolbar" }, el("a", { href: "#/audit?" + p.toString(), id: "older" }, "Older events →")));
    }
    page("Audit", el("p", { class: "muted" }, "Newest first."), ...kids);
  }

  async function requestsView() {
    setNav("requests");
    const data = await api("GET", "/requests");
    const byRoute = {};
    for (const r of data.requests) {
      const b = byRoute[r.route] || (byRoute[r.route] = { ok: 0, err: 0 });
      if (r.result === "ok") b.ok += r.count; else b.err += r.count;
    }
    const routes = Object.keys(byRoute).sort((x, y) => (byRoute[y].ok + byRoute[y].err) - (byRoute[x].ok + byRoute[x].err));
    const max = Math.max(1, ...routes.map((r) => byRoute[r].ok + byRoute[r].err));
    const chart = el("div", { class: "chart", id: "requests-chart", role: "img", "aria-label": "Requests and errors by route" });
    for (const r of routes) {
      const b = byRoute[r];
      const ok = el("span", { class: "ok" });
      const err = el("span", { class: "err" });
      ok.style.width = (100 * b.ok / max) + "%";
      err.style.width = (100 * b.err / max) + "%";
      chart.append(el("div", { class: "bar-row" },
        el("span", { class: "label" }, r + " — " + b.ok + " ok, " + b.err + " errors"),
        el("div", { class: "bar", "aria-hidden": "true" }, ok, err)));
    }
    page("Requests",
      el("p", { class: "muted" }, "API requests since this instance started, by route, from its metrics (not split by app: the metrics carry no app label)."),
      el("div", { class: "legend" }, el("span", {}, el("span", { class: "swatch ok" }), "ok"), el("span", {}, el("span", { class: "swatch err" }), "errors")),
      routes.length ? chart : el("p", {}, "No requests yet."));
  }

  // --- routing ---

  async function route() {
    if (!token) return;
    const h = location.hash.replace(/^#/, "") || "/apps";
    const [path, query] = h.split("?");
    const params = new URLSearchParams(query || "");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    try {
      if (parts[0] === "apps" && parts.length === 1) await appsView();
      else if (parts[0] === "apps" && parts.length === 2) await appView(parts[1]);
      else if (parts[0] === "apps" && parts[2] === "connections") await connectionsView(parts[1], params);
      else if (parts[0] === "audit") await auditView(params);
      else if (parts[0] === "requests") await requestsView();
      else await appsView();
    } catch (e) {
      if (token) showError(e);
    }
  }

  window.addEventListener("hashchange", () => { say(""); route(); });
  signOut("");
})();
