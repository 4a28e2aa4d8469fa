/*! bankgate Connect web SDK. No dependencies.
 *
 *   <script src="https://YOUR-BANKGATE/connect.js"></script>
 *   var handler = Bankgate.create({
 *     appKey: "…", environment: "sandbox", countries: ["AE"], clientUserID: "user-42",
 *     state: "…",                         // opaque, random per session; handed back in the link
 *     mode: "modal",                      // or "popup"
 *     locale: "ar",                       // "en" or "ar"; default: the browser's languages
 *     theme: "auto",                      // "light", "dark" or "auto" (the browser's preference)
 *     onSuccessfulLogin: function (link) { // {accessCode, userSecret, connectionID, userID, tokenID, bankID, state}
 *       // check link.state is the one you gave, then send link.accessCode and link.connectionID
 *       // to your backend for POST /v2/auth/ExchangeToken
 *     },
 *     onFailedLogin: function (err) {},   // {type, msg}
 *     onExit: function () {},
 *     onReady: function () {}
 *   });
 *   handler.open();   // call from a click handler (popups need a user gesture)
 *   handler.close();
 *
 * The Connect page is served by the bankgate server this script was loaded
 * from; messages are accepted only from that origin and only from the
 * window this handler opened. The page posts to this page's origin only if
 * the app registered it (bankgate apps set --allowed-origin).
 */
(function (global) {
  "use strict";

  var script = document.currentScript;
  var base = null;
  try {
    if (script && script.src) base = new URL(".", script.src);
  } catch (e) { /* handled in create */ }

  var SUCCESS_CLOSE_DELAY = 1200; // ms the success screen stays up

  // The words this script puts on the app's page (for screen readers); the
  // Connect page itself has the full catalogue.
  var WORDS = {
    en: { dialog: "Connect your bank", frame: "Connect your bank with bankgate" },
    ar: { dialog: "ربط حسابك البنكي", frame: "ربط حسابك البنكي عبر bankgate" }
  };

  function words(locale) {
    var tags = [locale].concat(global.navigator && global.navigator.languages ? global.navigator.languages : []);
    for (var i = 0; i < tags.length; i++) {
      var base = String(tags[i] || "").toLowerCase().split(/[-_]/)[0];
      if (Object.prototype.hasOwnProperty.call(WORDS, base)) return WORDS[base];
    }
    return WORDS.en;
  }
  var LINK_FIELDS = ["accessCode", "userSecret", "connectionID", "userID", "tokenID", "bankID", "state"];

  function call(fn, arg) {
    if (typeof fn !== "function") return;
    try {
      fn(arg);
    } catch (e) {
      if (global.console) global.console.error("bankgate: callback failed", e);
    }
  }

  function css(node, props) {
    for (var k in props) if (Object.prototype.hasOwnProperty.call(props, k)) node.style.setProperty(k, props[k]);
  }

  function create(config) {
    config = config || {};
    if (!base) throw new Error("bankgate: load connect.js with a <script src> tag so it knows its server");
    if (typeof config.appKey !== "string" || !config.appKey) throw new Error("bankgate: appKey is required");
    var origin = base.origin;
    var mode = config.mode === "popup" ? "popup" : "modal";

    var state = null; // {win, frame, overlay, timer, inerted, focus, overflow}

    function pageURL() {
      var u = new URL("connect", base);
      var p = u.searchParams;
      p.set("appKey", config.appKey);
      if (config.environment) p.set("environment", String(config.environment));
      var c = config.countries;
      if (Array.isArray(c)) c = c.join(",");
      if (c) p.set("countries", String(c));
      if (config.clientUserID) p.set("clientUserID", String(config.clientUserID));
      if (config.state) p.set("state", String(config.state));
      if (config.locale) p.set("locale", String(config.locale));
      if (config.theme) p.set("theme", String(config.theme));
      p.set("origin", global.location.origin);
      return u.toString();
    }

    function onMessage(ev) {
      if (!state || ev.origin !== origin || ev.source !== state.win) return;
      var d = ev.data;
      if (!d || typeof d !== "object" || typeof d.type !== "string") return;
      switch (d.type) {
        case "ready":
          call(config.onReady);
          break;
        case "link":
          var link = {};
          for (var i = 0; i < LINK_FIELDS.length; i++) link[LINK_FIELDS[i]] = typeof d[LINK_FIELDS[i]] === "string" ? d[LINK_FIELDS[i]] : "";
          var s = state;
          s.finished = true;
          call(config.onSuccessfulLogin, link);
          global.setTimeout(function () { if (state === s) teardown(); }, SUCCESS_CLOSE_DELAY);
          break;
        case "error":
          var err = d.error && typeof d.error === "object" ? d.error : {};
          call(config.onFailedLogin, { type: String(err.type || "UNKNOWN_ERROR"), msg: String(err.msg || "") });
          break;
        case "exit":
          var finished = state.finished;
          teardown();
          if (!finished) call(config.onExit);
          break;
      }
    }

    function openModal(url) {
      var doc = global.document;
      var overlay = doc.createElement("div");
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-modal", "true");
      var w = words(config.locale);
      overlay.setAttribute("aria-label", w.dialog);
      overlay.setAttribute("data-bankgate", "overlay");
      css(overlay, {
        position: "fixed", inset: "0", "z-index": "2147483647", display: "flex",
        "align-items": "center", "justify-content": "center",
        background: "rgba(16, 24, 40, 0.55)", margin: "0", padding: "0"
      });
      var frame = doc.createElement("iframe");
      frame.src = url;
      frame.title = w.frame;
      frame.setAttribute("data-bankgate", "frame");
      frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox");
      frame.setAttribute("referrerpolicy", "origin");
      var phone = global.matchMedia && global.matchMedia("(max-width: 480px)").matches;
      // The frame's colour until the page paints: the page's own.
      var dark = config.theme === "dark" || (config.theme !== "light" && global.matchMedia && global.matchMedia("(prefers-color-scheme: dark)").matches);
      var bg = dark ? "#151a24" : "#fff";
      css(frame, phone ? {
        width: "100%", height: "100%", border: "0", "border-radius": "0", background: bg
      } : {
        width: "440px", "max-width": "calc(100vw - 32px)", height: "min(720px, calc(100vh - 32px))",
        border: "0", "border-radius": "16px", background: bg,
        "box-shadow": "0 24px 64px rgba(16, 24, 40, 0.3)"
      });
      overlay.appendChild(frame);
      overlay.addEventListener("click", function (e) {
        if (e.target === overlay) exitByUser();
      });
      // Keep keyboard focus inside the dialog: the rest of the page is inert.
      var inerted = [];
      var kids = doc.body.children;
      for (var i = 0; i < kids.length; i++) {
        if (!kids[i].inert) {
          kids[i].inert = true;
          inerted.push(kids[i]);
        }
      }
      var overflow = doc.documentElement.style.overflow;
      doc.documentElement.style.overflow = "hidden";
      doc.body.appendChild(overlay);
      frame.addEventListener("load", function () { try { frame.focus(); } catch (e) { /* ignore */ } });
      return { overlay: overlay, frame: frame, win: frame.contentWindow, inerted: inerted, overflow: overflow };
    }

    function openPopup(url) {
      var w = 440, h = 720;
      var left = Math.max(0, (global.screenX || 0) + ((global.outerWidth || w) - w) / 2);
      var top = Math.max(0, (global.screenY || 0) + ((global.outerHeight || h) - h) / 2);
      var win = global.open(url, "bankgate_connect", "popup=yes,width=" + w + ",height=" + h + ",left=" + Math.round(left) + ",top=" + Math.round(top));
      if (!win) return null;
      var s = { win: win };
      s.timer = global.setInterval(function () {
        if (state === s && win.closed) {
          var finished = s.finished;
          teardown();
          if (!finished) call(config.onExit);
        }
      }, 500);
      return s;
    }

    function exitByUser() {
      if (!state) return;
      var finished = state.finished;
      teardown();
      if (!finished) call(config.onExit);
    }

    function teardown() {
      var s = state;
      if (!s) return;
      state = null;
      global.removeEventListener("message", onMessage);
      global.removeEventListener("keydown", onKey, true);
      if (s.timer) global.clearInterval(s.timer);
      if (s.overlay) {
        if (s.overlay.parentNode) s.overlay.parentNode.removeChild(s.overlay);
        for (var i = 0; i < s.inerted.length; i++) s.inerted[i].inert = false;
        global.document.documentElement.style.overflow = s.overflow;
      } else if (s.win && !s.win.closed) {
        try { s.win.close(); } catch (e) { /* ignore */ }
      }
      if (s.focus && typeof s.focus.focus === "function") {
        try { s.focus.focus(); } catch (e) { /* ignore */ }
      }
    }

    function onKey(e) {
      if (e.key === "Escape" && state && state.overlay) {
        e.preventDefault();
        exitByUser();
      }
    }

    return {
      open: function () {
        if (state) {
          if (state.win && state.win.focus) try { state.win.focus(); } catch (e) { /* ignore */ }
          return this;
        }
        var url = pageURL();
        var focus = global.document.activeElement;
        global.addEventListener("message", onMessage);
        var s = mode === "popup" ? openPopup(url) : null;
        if (!s) s = openModal(url); // modal, or the popup was blocked
        s.focus = focus;
        state = s;
        if (s.overlay) global.addEventListener("keydown", onKey, true);
        return this;
      },
      close: function () {
        teardown();
        return this;
      },
      isOpen: function () { return !!state; }
    };
  }

  global.Bankgate = {
    create: create,
    environments: { sandbox: "sandbox", production: "production" },
    version: "1.0.0"
  };
})(window);
