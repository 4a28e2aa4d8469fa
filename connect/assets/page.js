// bankgate Connect page. Vanilla JS, no dependencies, no network access but
// the Connect JSON API and the bank logos on this origin. The DOM is built
// with createElement and textContent only (the page runs under Trusted
// Types with no policy). Credentials and MFA answers are sent with fetch
// (credentials: "omit"), never logged and never stored. Every text the
// user sees comes from the locale's message catalogue (the bg-messages
// block); the developer's message of an error goes to the app only.
(function () {
  "use strict";

  var doc = document;
  var cfg, M;
  try {
    cfg = JSON.parse(doc.getElementById("bg-config").textContent);
    M = JSON.parse(doc.getElementById("bg-messages").textContent);
  } catch (e) {
    return;
  }
  var lang = doc.documentElement.lang || "en";
  var main = doc.getElementById("bg-main");
  var statusEl = doc.getElementById("bg-status");
  var backBtn = doc.getElementById("bg-back");
  var closeBtn = doc.getElementById("bg-close");
  var framed = window.parent !== window;
  if (framed) doc.documentElement.classList.add("framed");

  var SVGNS = "http://www.w3.org/2000/svg";
  var sandbox = cfg.environment === "sandbox";
  var st = { banks: null, bank: null, query: "", username: "", operationID: "", busy: false, done: false, back: null };

  // --- Talking to the app ------------------------------------------------

  // host is the window that opened or embeds this page, if any.
  function host() {
    try {
      if (window.opener && window.opener !== window && !window.opener.closed) return window.opener;
    } catch (e) { /* cross-origin access is limited; fall through */ }
    return framed ? window.parent : null;
  }

  // nativeBridge is the message handler a mobile app's webview injected.
  function nativeBridge() {
    if (!cfg.isWebview) return null;
    if (window.ReactNativeWebView && typeof window.ReactNativeWebView.postMessage === "function") {
      return function (m) { window.ReactNativeWebView.postMessage(JSON.stringify(m)); };
    }
    var wk = window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.bankgate;
    if (wk && typeof wk.postMessage === "function") return function (m) { wk.postMessage(m); };
    if (window.BankgateAndroid && typeof window.BankgateAndroid.postMessage === "function") {
      return function (m) { window.BankgateAndroid.postMessage(JSON.stringify(m)); };
    }
    return null;
  }

  function registered(o) { return cfg.allowedOrigins.indexOf(o) >= 0; }

  // targetOrigins lists the origins a message may go to: only ever origins
  // the app registered. postMessage itself then delivers a message only if
  // the receiving window really has that origin; "*" is never used.
  function targetOrigins() {
    if (cfg.origin) return [cfg.origin]; // checked against the registered list by the server
    if (framed && location.ancestorOrigins && location.ancestorOrigins.length) {
      var parent = location.ancestorOrigins[0];
      return registered(parent) ? [parent] : [];
    }
    if (doc.referrer) {
      try {
        var ref = new URL(doc.referrer).origin;
        if (registered(ref)) return [ref];
      } catch (e) { /* not a URL */ }
    }
    return cfg.allowedOrigins.slice();
  }

  // send posts msg to the app; it reports whether anyone could receive it.
  function send(msg) {
    var bridge = nativeBridge();
    if (bridge) {
      try { bridge(msg); } catch (e) { /* the native side went away */ }
      return true;
    }
    var w = host();
    if (!w) return false;
    var origins = targetOrigins();
    for (var i = 0; i < origins.length; i++) {
      try { w.postMessage(msg, origins[i]); } catch (e) { /* window closed */ }
    }
    return origins.length > 0;
  }

  function canClose() { return !!(nativeBridge() || host() || cfg.redirectUri); }

  // withState adds the app's state, when it gave one, to a result.
  function withState(values) {
    if (cfg.state) values.state = String(cfg.state);
    return values;
  }

  function fragment(values) {
    var p = new URLSearchParams();
    for (var k in values) if (Object.prototype.hasOwnProperty.call(values, k)) p.set(k, values[k]);
    return "#" + p.toString();
  }

  function exit() {
    if (st.done) return;
    st.done = true;
    if (cfg.redirectUri) {
      location.replace(cfg.redirectUri + fragment(withState({ exit: "true" })));
      return;
    }
    send(withState({ type: "exit" }));
    if (window.opener && !framed) {
      try { window.close(); } catch (e) { /* not script-closable */ }
    }
  }

  // --- Messages -------------------------------------------------------------

  // msg returns the catalogue's text for key, or "" when it has none.
  function msg(key) {
    var v = Object.prototype.hasOwnProperty.call(M, key) ? M[key] : "";
    return typeof v === "string" ? v : "";
  }

  // t returns the text of key with its {placeholders} filled from params.
  function t(key, params) {
    return fill(msg(key) || key, params).join("");
  }

  // tn is t for text with nodes in it: it returns the parts, strings and
  // the nodes given in params, for el's kids.
  function tn(key, params) { return fill(msg(key) || key, params); }

  function fill(text, params) {
    var out = [];
    var parts = String(text).split(/\{(\w+)\}/);
    for (var i = 0; i < parts.length; i++) {
      if (i % 2 === 0) {
        if (parts[i]) out.push(parts[i]);
        continue;
      }
      var v = params && Object.prototype.hasOwnProperty.call(params, parts[i]) ? params[parts[i]] : "{" + parts[i] + "}";
      out.push(typeof v === "number" ? String(v) : v);
    }
    return out;
  }

  // plural returns the text of a count in the locale's plural form. Numbers
  // stay in Latin digits.
  function plural(key, n) {
    var forms = M[key] || {};
    var cat = "other";
    try { cat = new Intl.PluralRules(lang).select(n); } catch (e) { /* old browser: "other" */ }
    if (n === 0 && forms.zero) cat = "zero";
    return fill(forms[cat] || forms.other || key, { n: String(n) }).join("");
  }

  // isolate returns bank-provided text with amounts and IBANs in
  // left-to-right <bdi> elements, so that right-to-left text around them
  // does not reorder their parts.
  var LTR_RUN = /([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?|(?:AED|SAR|USD|EUR|GBP|BHD|KWD|OMR|QAR|EGP|JOD) ?[0-9][0-9,]*(?:\.[0-9]+)?|[0-9][0-9,]*(?:\.[0-9]+)? ?(?:AED|SAR|USD|EUR|GBP|BHD|KWD|OMR|QAR|EGP|JOD))/;
  function isolate(text) {
    var parts = String(text).split(LTR_RUN);
    var out = [];
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) continue;
      out.push(i % 2 ? el("bdi", { dir: "ltr", class: "ltr", text: parts[i] }) : parts[i]);
    }
    return out;
  }

  // prompt returns a bank's question in the page's language when the
  // catalogue knows it, else as the bank wrote it.
  function prompt(query) { return msg("prompt." + query) || query; }

  // name is an app's or bank's name inside a text: isolated, so that a
  // Latin name in Arabic text (or the reverse) keeps its own direction.
  function name(text, strong) {
    var b = el("bdi", { text: text });
    return strong ? el("strong", null, b) : b;
  }

  // --- DOM helpers --------------------------------------------------------

  function el(tag, props, kids) {
    var n = doc.createElement(tag);
    if (props) {
      for (var k in props) {
        if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
        var v = props[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === "text") n.textContent = v;
        else if (k === "class") n.className = v;
        else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), v);
        else if (k === "style" || k === "srcdoc" || k.indexOf("HTML") >= 0) throw new Error("el: " + k);
        else n.setAttribute(k, v === true ? "" : String(v));
      }
    }
    append(n, kids);
    return n;
  }

  function append(n, kids) {
    if (kids === null || kids === undefined) return;
    if (!Array.isArray(kids)) kids = [kids];
    for (var i = 0; i < kids.length; i++) {
      var c = kids[i];
      if (c === null || c === undefined || c === false) continue;
      n.appendChild(typeof c === "string" ? doc.createTextNode(c) : c);
    }
  }

  // icon draws a 24×24 stroke icon from path data.
  function icon(paths, size, extra) {
    var s = doc.createElementNS(SVGNS, "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("width", size || 20);
    s.setAttribute("height", size || 20);
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("focusable", "false");
    // Icons that point along the reading direction are mirrored in
    // right-to-left pages (page.css).
    if (extra && extra.flip) s.setAttribute("class", "flip");
    for (var i = 0; i < paths.length; i++) {
      var p = doc.createElementNS(SVGNS, "path");
      p.setAttribute("d", paths[i]);
      p.setAttribute("fill", "none");
      p.setAttribute("stroke", "currentColor");
      p.setAttribute("stroke-width", (extra && extra.width) || "2");
      p.setAttribute("stroke-linecap", "round");
      p.setAttribute("stroke-linejoin", "round");
      s.appendChild(p);
    }
    return s;
  }
  var ICON = {
    chevron: ["M9 5l7 7-7 7"],
    search: ["M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14z", "M20 20l-4-4"],
    alert: ["M12 8v5", "M12 16.5v.01", "M12 3l9.5 17h-19z"],
    check: ["M5 12.5l4.5 4.5L19 7.5"],
    lock: ["M7 11V8a5 5 0 0 1 10 0v3", "M6 11h12v9H6z"],
    bank: ["M3 10l9-6 9 6", "M5 10v8M9.5 10v8M14.5 10v8M19 10v8", "M3 20h18"],
    key: ["M14 10a4 4 0 1 0-3.5 3.97L9 15.5V18h2.5v-2h2l.9-.9A4 4 0 0 0 14 10z"]
  };

  function announce(msg) {
    statusEl.textContent = "";
    window.setTimeout(function () { statusEl.textContent = msg; }, 60);
  }

  // show replaces the step on screen and moves focus to its heading (or
  // to focusEl), so keyboard and screen-reader users start at the top.
  function show(nodes, opts) {
    opts = opts || {};
    main.replaceChildren.apply(main, nodes.filter(function (n) { return n; }));
    st.back = opts.back || null;
    backBtn.hidden = !st.back;
    closeBtn.hidden = !canClose() || st.done;
    var f = opts.focus || main.querySelector("h1");
    if (f) {
      try { f.focus({ preventScroll: true }); } catch (e) { f.focus(); }
    }
    window.scrollTo(0, 0);
  }

  function heading(text) { return el("h1", { tabindex: "-1", text: text }); }

  // --- Bank branding ------------------------------------------------------

  function hex(c) { return typeof c === "string" && /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(c) ? c : null; }

  function luminance(c) {
    c = c.slice(1);
    if (c.length === 3) c = c[0] + c[0] + c[1] + c[1] + c[2] + c[2];
    var rgb = [0, 2, 4].map(function (i) {
      var v = parseInt(c.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }

  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }

  // bankName and bankShort are a bank's names in the page's language: the
  // catalogue's (bank.<bankID>.name and .short), else the bank's own.
  function apiName(b) { return String(b.name || b.shortName || b.bankID).replace(/\s*\(sandbox\)\s*$/i, ""); }
  function bankName(b) { return msg("bank." + b.bankID + ".name") || apiName(b); }
  function bankShort(b) { return msg("bank." + b.bankID + ".short") || String(b.shortName || bankName(b)); }

  // countryName is the bank's country in the page's language: the
  // catalogue's (country.<code>), else the bank's own, where "UNITED ARAB
  // EMIRATES" becomes "United Arab Emirates".
  function countryName(b) {
    var known = msg("country." + String(b.country || "").toUpperCase());
    if (known) return known;
    var c = String(b.countryName || b.country || "");
    if (c.length > 3 && c === c.toUpperCase()) {
      c = c.toLowerCase().replace(/(^|[\s-])(\S)/g, function (all, sep, ch) { return sep + ch.toUpperCase(); });
    }
    return c;
  }

  function monogram(name) {
    var s = String(name || "?").trim();
    if (/^[A-Z0-9&]{2,4}$/.test(s)) return s;
    var words = s.split(/\s+/).filter(function (w) { return /^[A-Za-z0-9]/.test(w); });
    if (words.length >= 2) return (words[0][0] + words[1][0]).toUpperCase();
    return s.slice(0, 2).toUpperCase();
  }

  // logoURL returns the bank's logo as a URL on this server, or null: the
  // page loads nothing from other origins. A logo path ("/connect/logos/…")
  // is relative to the server's root, which is the directory this page is
  // served from, so that a server behind a path prefix still works.
  function logoURL(b) {
    var l = typeof b.logo === "string" ? b.logo : "";
    if (!/^\/connect\/logos\/[a-z0-9-]+\.svg$/.test(l)) return null;
    try {
      var u = new URL(l.slice(1), new URL(".", location.href));
      return u.origin === location.origin ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  // tile is the bank's logo, or a coloured monogram standing in for one.
  // It is decorative: the bank's name is always beside it.
  function tile(b, large) {
    var src = logoURL(b);
    if (src) {
      var img = el("img", { class: "tile logo" + (large ? " lg" : ""), src: src, alt: "", width: large ? 52 : 42, height: large ? 52 : 42, decoding: "async" });
      img.addEventListener("error", function () { if (img.parentNode) img.parentNode.replaceChild(monogramTile(b, large), img); });
      return img;
    }
    return monogramTile(b, large);
  }

  function monogramTile(b, large) {
    var m = monogram(String(b.shortName || apiName(b)));
    var n = el("span", { class: "tile" + (large ? " lg" : "") + (m.length > 3 ? " m4" : ""), "aria-hidden": "true", text: m });
    var bg = hex(b.primaryColor) || "#344054";
    var fg = hex(b.secondaryColor);
    if (!fg || contrast(bg, fg) < 4.5) fg = contrast(bg, "#ffffff") >= contrast(bg, "#101828") ? "#ffffff" : "#101828";
    n.style.setProperty("--tile-bg", bg);
    n.style.setProperty("--tile-fg", fg);
    return n;
  }

  function appTile() {
    return el("span", { class: "tile lg app", "aria-hidden": "true", text: monogram(cfg.appName) });
  }

  // --- API ------------------------------------------------------------------

  var NETWORK = { success: false, type: "NETWORK_ERROR", msg: "The Connect API could not be reached." };

  function api(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        return j && typeof j === "object" ? j : NETWORK;
      }, function () {
        return { success: false, type: r.status === 429 ? "RATE_LIMIT_EXCEEDED" : "UNKNOWN_ERROR", msg: "" };
      });
    }, function () { return NETWORK; });
  }

  // --- Errors -------------------------------------------------------------

  // The end user reads the catalogue's words for an error type
  // (error.<TYPE>.title and .body: what happened and what to do); the
  // server's message is for the app's developer and goes only to the app,
  // in the error message. Types with the same advice share words.
  var SAME_AS = {
    INVALID_OPERATION_ID: "SESSION_EXPIRED",
    SESSION_INVALIDATED: "SESSION_EXPIRED"
  };

  function errorKey(err) {
    var type = SAME_AS[err.type] || err.type;
    return msg("error." + type + ".title") ? "error." + type : "error.UNKNOWN_ERROR";
  }

  function explain(err, bank) {
    return t(errorKey(err) + ".title", { bank: bank ? bankShort(bank) : msg("bank.yours") });
  }

  function advise(err, bank) {
    return t(errorKey(err) + ".body", { bank: bank ? bankShort(bank) : msg("bank.yours") });
  }

  function alertBox(err, bank) {
    return el("div", { class: "alert", id: "bg-error", role: "alert", tabindex: "-1", "data-type": err.type }, [
      icon(ICON.alert, 20),
      el("div", null, [
        el("strong", { text: explain(err, bank) }),
        el("p", { class: "alert-msg", text: advise(err, bank) })
      ])
    ]);
  }

  function failure(res) {
    return { type: String(res.type || "UNKNOWN_ERROR"), msg: String(res.msg || "") };
  }

  function setBusy(btn, busy, label) {
    st.busy = busy;
    btn.setAttribute("aria-disabled", busy ? "true" : "false");
    if (busy) {
      btn.dataset.label = btn.textContent;
      btn.replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }), el("span", { text: label }));
    } else if (btn.dataset.label) {
      btn.replaceChildren(doc.createTextNode(btn.dataset.label));
    }
  }

  // --- Step 1: bank list ----------------------------------------------------

  function loadBanks() {
    show([el("div", { class: "loading" }, [el("span", { class: "spinner", "aria-hidden": "true" }), el("span", { text: t("loading.banks") })])]);
    api("v2/connect/banks/get", { appKey: cfg.appKey, countries: cfg.countries }).then(function (res) {
      if (!res.success || !Array.isArray(res.banks)) {
        var err = failure(res);
        renderState("warn", t("banks.loadFailed.title"), advise(err, null), { label: t("action.retry"), run: loadBanks });
        return;
      }
      st.banks = res.banks.filter(function (b) { return b && b.bankID && (sandbox ? b.sandbox === true : b.sandbox !== true); });
      if (!comeBack()) renderBanks();
      send({ type: "ready" });
    });
  }

  function renderBanks() {
    var banks = st.banks;
    var h = heading(t("banks.title"));
    var lead = el("p", { class: "lead" }, tn("banks.lead", { app: name(cfg.appName, true) }));
    if (!banks.length) {
      var none = sandbox ? t("banks.empty.sandbox") : t("banks.empty.live");
      var kids = [el("div", { class: "state-icon info", "aria-hidden": "true" }, icon(ICON.bank, 28)),
        heading(t("banks.empty.title")), el("p", { class: "lead", text: none })];
      if (!sandbox) kids.push(el("p", { class: "dev" }, [el("strong", { text: t("dev.label") }), " "].concat(
        tn("banks.empty.dev", { param: el("code", { dir: "ltr", text: "environment=sandbox" }) }))));
      show([el("div", { class: "state" }, kids)]);
      return;
    }
    var count = el("p", { class: "sr-only", id: "bg-count", "aria-live": "polite" });
    var search = el("input", {
      type: "search", id: "bg-search", name: "bank-search", autocomplete: "off", spellcheck: "false", dir: "auto",
      placeholder: t("banks.search.placeholder"), "aria-controls": "bg-banks", "aria-describedby": "bg-count", value: st.query
    });
    var list = el("ul", { class: "banks", id: "bg-banks", "aria-label": t("banks.list.label") });
    var shown = [];
    function fill() {
      var q = search.value.trim().toLowerCase();
      st.query = search.value;
      shown = banks.filter(function (b) {
        return !q || [b.name, b.shortName, b.countryName, b.country, b.swiftCode, bankName(b), bankShort(b), countryName(b)].some(function (f) {
          return f && String(f).toLowerCase().indexOf(q) >= 0;
        });
      });
      var items = shown.map(function (b) {
        return el("li", null, el("button", {
          type: "button", class: "bank", "data-bank-id": b.bankID,
          onclick: function () { pick(b); }
        }, [
          tile(b),
          el("span", { class: "bank-text" }, [
            el("span", { class: "bank-name", text: bankName(b) }),
            el("span", { class: "bank-meta", text: countryName(b) })
          ]),
          el("span", { class: "chev" }, icon(ICON.chevron, 18, { flip: true }))
        ]));
      });
      if (!items.length) items = [el("li", { class: "none" }, tn("banks.noMatch", { query: el("strong", null, el("bdi", { text: search.value.trim() })) }))];
      list.replaceChildren.apply(list, items);
      count.textContent = plural("banks.count", shown.length);
    }
    search.addEventListener("input", fill);
    search.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && shown.length === 1) { e.preventDefault(); pick(shown[0]); }
    });
    fill();
    show([h, lead,
      el("div", { class: "search" }, [el("label", { for: "bg-search", class: "sr-only", text: t("banks.search.label") }), icon(ICON.search, 18), search]),
      count, list]);
  }

  // --- Step 2: log in --------------------------------------------------------

  function pick(bank) {
    if (st.bank !== bank) st.username = "";
    if (bank.redirect === true) renderRedirect(bank);
    else renderLogin(bank);
  }

  // --- Step 2b: a bank where the user logs in at the bank ------------------

  // The login leaves this page for the bank, which sends the user to
  // /connect/callback. On its own tab the page goes to the bank itself and
  // the callback brings the user back here (to returnQuery, with
  // #bg-resume=<operationID>&bank=<bankID>); embedded in another page
  // (banks refuse to be framed) it opens the bank in a new window and
  // waits for the login to finish.
  var POLL_MS = 1500;

  function renderRedirect(bank, err) {
    st.bank = bank;
    st.operationID = "";
    var short = bankShort(bank);
    var go = el("button", { type: "button", class: "btn", id: "bg-continue", text: t("redirect.continue", { bank: short }) });
    go.addEventListener("click", function () {
      if (st.busy) return;
      // A window opened now, in the click, is not a blocked popup.
      var win = framed ? window.open("", "_blank") : null;
      setBusy(go, true, t("redirect.starting", { bank: short }));
      announce(t("redirect.starting", { bank: short }));
      var body = { appKey: cfg.appKey, bankID: bank.bankID, clientUserID: cfg.clientUserID };
      if (!framed) body.returnQuery = location.search;
      api("v2/connect/login", body).then(function (res) {
        setBusy(go, false);
        if (!(res.success && res.status === "redirect_required" && res.operationID && res.redirectURL)) {
          if (win) win.close();
          handleLogin(res);
          return;
        }
        st.operationID = res.operationID;
        if (!framed) {
          location.assign(res.redirectURL);
          return;
        }
        if (win) win.location.href = res.redirectURL;
        renderWaiting(bank, res.redirectURL);
      });
    });
    var kids = [
      el("div", { class: "pair" }, [appTile(), el("span", { class: "pair-line" }, el("span", { class: "pair-lock" }, icon(ICON.lock, 13, { width: "2.2" }))), tile(bank, true)]),
      heading(t("redirect.title", { bank: short })),
      el("p", { class: "lead" }, tn("redirect.lead", { bank: name(bankName(bank), true), app: name(cfg.appName, true) })),
      err ? alertBox(err, bank) : null,
      el("div", { class: "actions" }, go)
    ];
    show(kids, { back: function () { renderBanks(); }, focus: null });
  }

  // renderWaiting waits, polling the login, while the user is at the bank
  // in another window.
  function renderWaiting(bank, redirectURL) {
    var op = st.operationID;
    var link = el("a", { href: redirectURL, target: "_blank", rel: "noopener", id: "bg-bank-link", text: t("redirect.open", { bank: bankShort(bank) }) });
    show([
      el("div", { class: "loading" }, [el("span", { class: "spinner", "aria-hidden": "true" }), el("span", { text: t("redirect.waiting", { bank: bankShort(bank) }) })]),
      el("p", { class: "hint" }, link)
    ], { back: function () { st.operationID = ""; renderRedirect(bank); } });
    (function poll() {
      window.setTimeout(function () {
        if (st.done || st.operationID !== op) return;
        resumeRedirect(bank, op, true);
      }, POLL_MS);
      st.pollNext = poll;
    })();
  }

  // resumeRedirect asks for the login's outcome.
  function resumeRedirect(bank, op, waiting) {
    api("v2/connect/login", { appKey: cfg.appKey, bankID: bank.bankID, clientUserID: cfg.clientUserID, operationID: op }).then(function (res) {
      if (st.done || st.operationID !== op) return;
      if (res.success && res.status === "redirect_required") {
        if (waiting && st.pollNext) st.pollNext();
        else renderRedirect(bank);
        return;
      }
      handleLogin(res);
    });
  }

  // comeBack resumes a login the user left this page for, when the
  // callback brought them back here (#bg-resume=<operationID>&bank=<bankID>).
  function comeBack() {
    var m = /^#bg-resume=([^&]+)&bank=([^&]+)$/.exec(location.hash);
    if (!m) return false;
    var op, bankID;
    try {
      op = decodeURIComponent(m[1]);
      bankID = decodeURIComponent(m[2]);
    } catch (e) { return false; }
    try { history.replaceState(null, "", location.pathname + location.search); } catch (e) { /* ignore */ }
    var bank = (st.banks || []).filter(function (b) { return b.bankID === bankID && b.redirect === true; })[0];
    if (!bank) return false;
    st.bank = bank;
    st.operationID = op;
    show([el("div", { class: "loading" }, [el("span", { class: "spinner", "aria-hidden": "true" }), el("span", { text: t("redirect.finishing", { bank: bankShort(bank) }) })])]);
    resumeRedirect(bank, op, false);
    return true;
  }

  function renderLogin(bank, err) {
    st.bank = bank;
    st.operationID = "";
    var short = bankShort(bank);
    var user = el("input", {
      type: "text", id: "bg-username", name: "username", autocomplete: "username", autocapitalize: "none", dir: "auto",
      autocorrect: "off", spellcheck: "false", required: true, maxlength: "256", value: st.username,
      "aria-invalid": err && err.type === "INVALID_CREDENTIALS" ? "true" : null
    });
    var pass = el("input", {
      type: "password", id: "bg-password", name: "password", autocomplete: "current-password", dir: "ltr",
      required: true, maxlength: "256", "aria-invalid": err && err.type === "INVALID_CREDENTIALS" ? "true" : null
    });
    var toggle = el("button", {
      type: "button", class: "toggle", "aria-controls": "bg-password", "aria-pressed": "false", "aria-label": t("login.showPassword"), text: t("login.show"),
      onclick: function () {
        var showing = pass.type === "text";
        pass.type = showing ? "password" : "text";
        toggle.textContent = showing ? t("login.show") : t("login.hide");
        toggle.setAttribute("aria-pressed", showing ? "false" : "true");
      }
    });
    var submit = el("button", { type: "submit", class: "btn", id: "bg-submit", text: t("login.submit") });
    var form = el("form", { method: "post", id: "bg-login", novalidate: true }, [
      el("div", { class: "field" }, [el("label", { for: "bg-username", text: t("login.username") }), user]),
      el("div", { class: "field" }, [el("label", { for: "bg-password", text: t("login.password") }), el("div", { class: "pw" }, [pass, toggle])]),
      el("div", { class: "actions" }, submit)
    ]);
    var alert = err ? alertBox(err, bank) : null;
    var problem = el("p", { class: "inline-error", role: "alert", id: "bg-problem" });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (st.busy) return;
      var u = user.value.trim();
      if (!u || !pass.value) {
        var missing = !u ? user : pass;
        missing.setAttribute("aria-invalid", "true");
        missing.focus();
        problem.textContent = !u ? t("login.missingUsername") : t("login.missingPassword");
        return;
      }
      st.username = u;
      var connecting = t("login.connecting", { bank: short });
      setBusy(submit, true, connecting);
      announce(connecting);
      var body = { appKey: cfg.appKey, bankID: bank.bankID, username: u, password: pass.value, clientUserID: cfg.clientUserID };
      api("v2/connect/login", body).then(function (res) {
        body = null;
        pass.value = "";
        setBusy(submit, false);
        handleLogin(res);
      });
    });
    var kids = [
      el("div", { class: "pair" }, [appTile(), el("span", { class: "pair-line" }, el("span", { class: "pair-lock" }, icon(ICON.lock, 13, { width: "2.2" }))), tile(bank, true)]),
      heading(t("login.title", { bank: short })),
      el("p", { class: "lead" }, tn("login.lead", { bank: name(bankName(bank), true), app: name(cfg.appName, true) })),
      alert, problem, form
    ];
    if (sandbox) {
      kids.push(el("p", { class: "hint" }, tn("login.sandboxHint", {
        user: code("user_good"), password: code("pass_good"), mfaUser: code("user_mfa"), otp: code("123456")
      })));
    }
    show(kids, { back: function () { renderBanks(); }, focus: alert || null });
  }

  function handleLogin(res) {
    if (st.done) return; // the user closed the page while the bank was answering
    if (res.success && res.status === "user_input_required" && res.operationID && Array.isArray(res.userInputs) && res.userInputs.length) {
      st.operationID = res.operationID;
      renderInputs(res.userInputs);
      return;
    }
    if (res.success && res.status === "done" && res.accessCode) {
      succeed(res);
      return;
    }
    var err = failure(res);
    if (res.success) err = { type: "UNKNOWN_ERROR", msg: "The Connect API answered a login in a way the page did not expect." };
    send({ type: "error", error: err });
    announce(explain(err, st.bank));
    if (st.bank && st.bank.redirect === true) renderRedirect(st.bank, err);
    else renderLogin(st.bank, err);
  }

  // --- Step 3: user inputs (MFA) -------------------------------------------

  // Inputs whose answer is a code are typed left to right in every
  // locale.
  var CODES = { otp: true, pin: true, token: true, captcha: true };

  function label(id) { return msg("mfa.label." + id) || msg("mfa.label.answer"); }

  function code(text) { return el("code", { dir: "ltr", text: text }); }

  // imageSrc returns a data: URI for a base64 image, or null: the page
  // shows no image from anywhere else.
  function imageSrc(q) {
    q = String(q || "").replace(/\s+/g, "");
    if (/^data:image\/(png|jpe?g|gif|webp|bmp);base64,[A-Za-z0-9+/]+=*$/i.test(q)) return q;
    if (/^[A-Za-z0-9+/]{16,}=*$/.test(q)) return "data:image/png;base64," + q;
    return null;
  }

  function renderInputs(inputs) {
    var bank = st.bank;
    inputs = inputs.slice().sort(function (a, b) { return (a.index || 0) - (b.index || 0); });
    var onlyConfirm = inputs.length === 1 && inputs[0].id === "confirmation";
    var readers = [];
    var fields = inputs.map(function (u, i) {
      var id = "bg-in-" + i;
      var query = String(u.query || "");
      switch (u.id) {
        case "confirmation":
          if (onlyConfirm) {
            readers.push(function (submitter) { return submitter && submitter.value === "false" ? "false" : "true"; });
            return el("fieldset", { class: "confirm" }, [
              el("legend", null, query ? isolate(prompt(query)) : t("mfa.confirmDefault")),
              el("div", { class: "btns" }, [
                el("button", { type: "submit", class: "btn secondary", name: "confirm", value: "false", text: t("mfa.no") }),
                el("button", { type: "submit", class: "btn", name: "confirm", value: "true", text: t("mfa.yes") })
              ])
            ]);
          }
          readers.push(function () {
            var c = form.querySelector("input[name=" + id + "]:checked");
            return c ? c.value : "";
          });
          return el("fieldset", null, [el("legend", null, query ? isolate(prompt(query)) : t("mfa.confirmDefault")), el("div", { class: "choices" }, [
            el("label", { class: "choice" }, [el("input", { type: "radio", name: id, value: "true", required: true }), t("mfa.yes")]),
            el("label", { class: "choice" }, [el("input", { type: "radio", name: id, value: "false", required: true }), t("mfa.no")])
          ])]);
        case "multiple_choice":
          var opts = Array.isArray(u.queryOptions) && u.queryOptions.length ? u.queryOptions : (u.queryChoices || []);
          readers.push(function () {
            var c = form.querySelector("input[name=" + id + "]:checked");
            return c ? c.value : "";
          });
          return el("fieldset", null, [el("legend", null, query ? isolate(prompt(query)) : t("mfa.chooseDefault")), el("div", { class: "choices" }, opts.map(function (o, j) {
            var content = String(o.content || "");
            var src = o.type === "img" ? imageSrc(content) : null;
            return el("label", { class: "choice" }, [
              el("input", { type: "radio", name: id, value: String(o.index !== undefined ? o.index : j), required: true }),
              src ? el("img", { src: src, alt: t("mfa.optionAlt", { n: j + 1 }) }) : el("span", null, isolate(prompt(content)))
            ]);
          }))]);
        default:
          var captcha = u.id === "captcha" ? imageSrc(query) : null;
          // The label is the catalogue's name of the input; the bank's
          // own words (translated when the catalogue knows them) help
          // below it. A security question is its own label.
          var image = u.id === "captcha" || u.queryType === "img";
          var asked = image ? "" : prompt(query);
          var text = image ? label("captcha") : u.id === "secret_question" && asked ? asked : label(u.id);
          var attrs = {
            type: u.id === "pin" ? "password" : "text", id: id, name: u.id, required: true, maxlength: "256",
            autocomplete: u.id === "otp" || u.id === "token" ? "one-time-code" : "off",
            autocapitalize: "none", autocorrect: "off", spellcheck: "false", dir: CODES[u.id] || image ? "ltr" : "auto"
          };
          if (u.id === "otp" || u.id === "pin") {
            attrs.inputmode = "numeric";
            attrs.class = "code";
          }
          var input = el("input", attrs);
          readers.push(function () { return input.value.trim(); });
          var help = asked && asked !== text ? el("span", { class: "help", id: id + "-help" }, isolate(asked)) : null;
          if (help) input.setAttribute("aria-describedby", id + "-help");
          return el("div", { class: "field" }, [
            captcha ? el("img", { class: "captcha", src: captcha, alt: t("mfa.captchaAlt") }) : null,
            el("label", { for: id }, isolate(text)), help, input
          ]);
      }
    });
    var submit = onlyConfirm ? null : el("button", { type: "submit", class: "btn", id: "bg-submit", text: t("mfa.continue") });
    var problem = el("p", { class: "inline-error", role: "alert" });
    var form = el("form", { method: "post", id: "bg-mfa", novalidate: true }, fields.concat([submit ? el("div", { class: "actions" }, submit) : null]));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (st.busy) return;
      var answers = [];
      for (var i = 0; i < inputs.length; i++) {
        var a = readers[i](e.submitter);
        if (a === "") {
          var target = form.querySelector("#bg-in-" + i) || form.querySelector("input[name=bg-in-" + i + "]");
          if (target) {
            target.setAttribute("aria-invalid", "true");
            target.focus();
          }
          problem.textContent = t("mfa.missing");
          return;
        }
        answers.push({ id: inputs[i].id, index: inputs[i].index || 0, answer: a });
      }
      var btn = submit || e.submitter;
      if (btn) setBusy(btn, true, t("mfa.verifying"));
      announce(t("mfa.verifying"));
      api("v2/connect/login", {
        appKey: cfg.appKey, bankID: bank.bankID, clientUserID: cfg.clientUserID,
        operationID: st.operationID, userInputs: answers
      }).then(function (res) {
        answers = null;
        if (btn) setBusy(btn, false);
        handleLogin(res);
      });
    });
    var first = inputs[0] && inputs[0].id;
    var title = t(first === "confirmation" ? "mfa.title.confirm" : first === "multiple_choice" ? "mfa.title.question" : "mfa.title.verify");
    show([
      el("div", { class: "pair" }, [appTile(), el("span", { class: "pair-line" }, el("span", { class: "pair-lock" }, icon(ICON.lock, 13, { width: "2.2" }))), tile(bank, true)]),
      heading(title),
      el("p", { class: "lead" }, tn("mfa.lead", { bank: name(bankName(bank), true) })),
      problem, form,
      sandbox && first === "otp" ? el("p", { class: "hint" }, tn("mfa.sandboxHint", { otp: code("123456") })) : null
    ], { back: function () { renderLogin(bank); } });
  }

  // --- Step 4: success ----------------------------------------------------

  function succeed(res) {
    st.done = true;
    var bank = st.bank;
    var link = {
      type: "link",
      accessCode: String(res.accessCode || ""),
      userSecret: String(res.userSecret || ""),
      connectionID: String(res.connectionID || ""),
      userID: String(res.userID || ""),
      tokenID: String(res.tokenID || ""),
      bankID: String(res.bankID || bank.bankID)
    };
    withState(link);
    var next;
    if (cfg.redirectUri) next = t("success.redirecting", { app: cfg.appName });
    else if (nativeBridge() || host()) next = t("success.returning", { app: cfg.appName });
    else next = t("success.close");
    show([el("div", { class: "state", id: "bg-success" }, [
      el("div", { class: "state-icon ok", "aria-hidden": "true" }, icon(ICON.check, 30, { width: "2.4" })),
      heading(t("success.title")),
      el("p", { class: "lead" }, tn("success.lead", { app: name(cfg.appName, true) })),
      el("div", { class: "summary" }, [tile(bank), el("span", { class: "bank-text" }, [
        el("span", { class: "bank-name", text: bankName(bank) }), el("span", { class: "bank-meta", text: t("success.connected") })])]),
      el("p", { class: "hint", text: next })
    ])]);
    announce(t("success.title") + ". " + next);
    if (cfg.redirectUri) {
      var frag = fragment(withState({
        accessCode: link.accessCode, userSecret: link.userSecret, connectionID: link.connectionID,
        userID: link.userID, tokenID: link.tokenID, bankID: link.bankID
      }));
      window.setTimeout(function () { location.replace(cfg.redirectUri + frag); }, 400);
      return;
    }
    send(link);
  }

  // --- Other states --------------------------------------------------------

  function renderState(kind, title, body, action) {
    var kids = [el("div", { class: "state-icon " + kind, "aria-hidden": "true" }, icon(kind === "warn" ? ICON.alert : ICON.bank, 28)),
      heading(title), el("p", { class: "lead", text: body })];
    if (action) kids.push(el("button", { type: "button", class: "btn secondary", text: action.label, onclick: action.run }));
    show([el("div", { class: "state" }, kids)]);
  }

  // --- Wiring ----------------------------------------------------------------

  backBtn.addEventListener("click", function () { if (st.back && !st.busy) st.back(); });
  closeBtn.addEventListener("click", exit);
  doc.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || !canClose() || st.done) return;
    var target = e.target;
    if (target && target.type === "search" && target.value) return; // Escape clears the search first
    e.preventDefault();
    exit();
  });
  loadBanks();
})();
