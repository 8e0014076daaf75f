/* GoFly chat core: the GoFly namespace, DOM building, strings, storage, HTTP, error texts by code. */
(function (global) {
  "use strict";

  // Shared by the visitor page and the agent console; plain ES2017, no build step, no dependencies. Message
  // text is data: everything user-provided goes through textContent or setAttribute on attributes we choose,
  // never innerHTML. The later core files add to the GoFly namespace made here.

  var GoFly = (global.GoFly = global.GoFly || {});

  function uuid() {
    var c = global.crypto;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID();
      } catch (e) {
        /* insecure context: fall through */
      }
    }
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    });
    return (
      hex.slice(0, 4).join("") + "-" + hex.slice(4, 6).join("") + "-" + hex.slice(6, 8).join("") + "-" +
      hex.slice(8, 10).join("") + "-" + hex.slice(10, 16).join("")
    );
  }

  /** el("div", {className, text, attrs, on, dataset}, children): the only way we build DOM. */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    if (props.className) node.className = props.className;
    if (props.text != null) node.textContent = String(props.text);
    if (props.attrs) {
      Object.keys(props.attrs).forEach(function (k) {
        var v = props.attrs[k];
        if (v === false || v == null) return;
        node.setAttribute(k, v === true ? "" : String(v));
      });
    }
    if (props.dataset) {
      Object.keys(props.dataset).forEach(function (k) {
        node.dataset[k] = String(props.dataset[k]);
      });
    }
    if (props.on) {
      Object.keys(props.on).forEach(function (k) {
        node.addEventListener(k, props.on[k]);
      });
    }
    (children || []).forEach(function (child) {
      if (child == null || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function readJSONScript(id, fallback) {
    var node = document.getElementById(id);
    if (!node) return fallback;
    try {
      return JSON.parse(node.textContent);
    } catch (e) {
      return fallback;
    }
  }

  // Translated strings come from the page (a json_script rendered with {% trans %}); "{name}" placeholders.
  var strings = {};
  function t(key, params) {
    var s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return params[name] != null ? String(params[name]) : m;
      });
    }
    return s;
  }

  // localStorage that never throws (Safari private mode, third-party iframes with storage blocked).
  var memoryStore = {};
  var store = {
    get: function (key) {
      try {
        var v = global.localStorage.getItem(key);
        return v == null ? (memoryStore[key] != null ? memoryStore[key] : null) : v;
      } catch (e) {
        return memoryStore[key] != null ? memoryStore[key] : null;
      }
    },
    set: function (key, value) {
      memoryStore[key] = value;
      try {
        global.localStorage.setItem(key, value);
      } catch (e) {
        /* memory only */
      }
    },
    remove: function (key) {
      delete memoryStore[key];
      try {
        global.localStorage.removeItem(key);
      } catch (e) {
        /* ignore */
      }
    },
    /** Every stored key that starts with `prefix`. */
    keys: function (prefix) {
      var found = {};
      Object.keys(memoryStore).forEach(function (key) {
        if (key.indexOf(prefix) === 0) found[key] = true;
      });
      try {
        for (var i = 0; i < global.localStorage.length; i++) {
          var key = global.localStorage.key(i);
          if (key && key.indexOf(prefix) === 0) found[key] = true;
        }
      } catch (e) {
        /* memory only */
      }
      return Object.keys(found);
    },
    getJSON: function (key, fallback) {
      var raw = store.get(key);
      if (!raw) return fallback;
      try {
        return JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    setJSON: function (key, value) {
      store.set(key, JSON.stringify(value));
    },
  };

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return "";
  }

  /** fetch JSON; resolves {ok, status, data}; network failures resolve with status 0. */
  function api(method, url, body, headers, fetchOptions) {
    var opts = Object.assign({ method: method, headers: Object.assign({ Accept: "application/json" }, headers || {}) }, fetchOptions || {});
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET" && !opts.headers.Authorization) {
      var csrf = cookie("csrftoken");
      if (csrf) opts.headers["X-CSRFToken"] = csrf;
      opts.credentials = "same-origin";
    }
    return fetch(url, opts).then(
      function (res) {
        return res
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            return { ok: res.ok, status: res.status, data: data };
          });
      },
      function () {
        return { ok: false, status: 0, data: null };
      }
    );
  }

  /** An HTTP error ({ok, status, data} from api()) as the page words it; `context` as in codeText(). */
  function errorText(result, context) {
    var err = result && result.data && result.data.error;
    var text = err ? codeText(err.code, err.message, context) : "";
    if (text) return text;
    if (err && err.message && typeof err.message !== "string") return JSON.stringify(err.message); // "invalid"
    return result && result.status === 0 ? t("Network error, retrying…") : t("Something went wrong.");
  }

  function wsURL(path, query) {
    var proto = global.location.protocol === "https:" ? "wss://" : "ws://";
    return proto + global.location.host + path + (query ? "?" + query : "");
  }

  function backoffDelay(attempt, base, cap) {
    // "Full jitter" between half and all of the exponential delay, so clients do not reconnect in lockstep.
    var exp = Math.min(cap, base * Math.pow(2, attempt));
    return Math.round(exp / 2 + (Math.random() * exp) / 2);
  }

  // Error texts by code, when the page hands them over (its "gofly-errors" block): such a page words every error
  // by its stable code in its own language (docs/protocol.md 3: the server's `message` is in the server's
  // language on websockets). "<context>:<code>" words a code that means something else there (e.g.
  // "upload:too_large"); an empty text there keeps the server's. Without an entry, the server's text is
  // shown; "" when there is none.
  var errorTexts = {};
  function codeText(code, message, context) {
    var has = function (key) {
      return Object.prototype.hasOwnProperty.call(errorTexts, key);
    };
    var key = code && context && has(context + ":" + code) ? context + ":" + code : code && has(code) ? code : "";
    return (key && errorTexts[key]) || (typeof message === "string" ? message : "");
  }

  Object.assign(GoFly, {
    uuid: uuid,
    el: el,
    t: t,
    setStrings: function (dict) {
      strings = Object.assign(strings, dict || {});
    },
    setErrorTexts: function (dict) {
      errorTexts = Object.assign(errorTexts, dict || {});
    },
    codeText: codeText,
    readJSONScript: readJSONScript,
    /** What templates/chat/_boot.html handed the page: loads the strings, returns {cfg, assets}. */
    boot: function () {
      GoFly.setStrings(readJSONScript("gofly-i18n", {}));
      GoFly.setStrings(readJSONScript("gofly-i18n-page", {}));
      GoFly.setErrorTexts(readJSONScript("gofly-errors", {}));
      return { cfg: readJSONScript("gofly-config", {}), assets: readJSONScript("gofly-assets", {}) };
    },
    store: store,
    cookie: cookie,
    api: api,
    errorText: errorText,
    wsURL: wsURL,
    backoffDelay: backoffDelay,
  });
})(window);
