/*! LogDig clickTracker.js — one tag, no dependencies. See README "Tracker". */
(function (w, d) {
  'use strict';
  // Everything runs inside try/catch (here and in safe()): the tracker must never throw into the host page.
  try {
    var nav = navigator, loc = location, de = d.documentElement, P = 'logdig_', mem = {};
    var tag = d.currentScript || d.createElement('p'); // currentScript: set while a classic script runs
    var attr = function (k) { return tag.getAttribute('data-' + k); };
    var num = function (k, dflt) { var v = parseFloat(attr(k)); return v >= 0 ? v : dflt; };
    var debug = attr('debug') != null;
    var log = function (m, x) { if (debug) console.log('[logdig]', m, x === undefined ? '' : x); };
    var safe = function (f) {
      return function () { try { return f.apply(this, arguments); } catch (x) { log('error', x); } };
    };
    var prev = w.logdig;
    // A loaded tracker sets .l; a second copy of the script must not count everything twice.
    if (prev && prev.l) return log('already loaded');

    var endpoint = attr('endpoint') || new URL('/v1/logs', tag.src || loc.href).href;
    var token = attr('token');
    var sel = 'a,button,input,span,[href],[reactid],[data-reactid]' + (attr('selector') ? ',' + attr('selector') : '');
    var heartbeatMs = num('heartbeat', 30) * 1e3, batchMs = num('batch-ms', 1e3), maxQueue = num('max-queue', 1e3);
    var SESSION_MS = 18e5, LEASE_MS = 6e4, BATCH_CHARS = 2e4; // 2e4 UTF-16 units <= 60 KB UTF-8 < 64 KiB keepalive cap

    // Storage: localStorage when it works, memory otherwise (disabled storage, quota, sandboxed frames).
    var load = function (k) {
      try { var v = localStorage.getItem(P + k); if (v != null) return JSON.parse(v); } catch (x) { /* memory */ }
      return mem[k];
    };
    var save = function (k, v) {
      mem[k] = v;
      try { localStorage.setItem(P + k, JSON.stringify(v)); } catch (x) {
        try { localStorage.removeItem(P + k); } catch (y) { /* memory only */ }
      }
    };
    var rid = function (n) { // n random chars of [0-9A-Za-z]
      var s = '';
      crypto.getRandomValues(new Uint8Array(n)).forEach(function (b) {
        b %= 62;
        s += String.fromCharCode(b + (b < 10 ? 48 : b < 36 ? 55 : 61));
      });
      return s;
    };
    var off = function () {
      return load('optout') || attr('respect-dnt') != null &&
        (nav.doNotTrack == '1' || w.doNotTrack == '1' || nav.globalPrivacyControl);
    };
    var clamp = function (n, hi) { return Math.min(Math.max(Math.round(n) || 0, 0), hi || 1e5); };
    // Empty and missing strings are left out of the event.
    var cut = function (s, n) { return s ? String(s).slice(0, n) : undefined; };
    // The collector takes only these schemes (a page's own address is always http(s) there).
    var url = function (u) { return /^(https?|android-app|ios-app):/.test(u) ? cut(u, 2048) : undefined; };

    var loadCount = 0, lastUrl, referrer = d.referrer, engaged = 0, visibleSince = 0, left = 0, depth = 0;
    var busy = 0, timer = 0, backoff = 0, down = 0, inflight = {}, mine = {}, me = rid(9);

    var sessionId = function () {
      var now = Date.now(), s = load('session');
      // Whatever else is stored there (another script, an old version) makes a new session.
      if (!s || !/^\w{16}$/.test(s.i) || !(now - s.t < SESSION_MS)) s = { i: rid(16) };
      s.t = now;
      save('session', s);
      return s.i;
    };
    var userKey = function () {
      var k = load('user_key');
      if (!/^[A-Za-z0-9]{20}$/.test(k)) save('user_key', k = rid(20));
      return k;
    };

    var build = function (type, extra) {
      var e = {
        v: 1, event_id: rid(22), event_type: type, timestamp: new Date().toISOString(), token: cut(token, 128),
        user_key: userKey(), session_id: sessionId(), current_page: url(loc.href),
        referrer: url(referrer),
        user_agent: cut(nav.userAgent, 512), language: cut(nav.language, 35), page_title: cut(d.title, 512),
        viewport_width: clamp(w.innerWidth), viewport_height: clamp(w.innerHeight),
        document_width: clamp(de.scrollWidth), document_height: clamp(de.scrollHeight),
        screen_width: clamp(screen.width), screen_height: clamp(screen.height),
        spent_milli_sec: clamp(performance.now(), 1e12), load_count: loadCount,
        // A member id from logdig('identify', id); automation (webdriver) marks the events a bot's.
        user_id: load('user_id') || undefined, is_bot: nav.webdriver
      };
      for (var k in extra) e[k] = extra[k];
      return e;
    };

    // Queue records: {e: event, o: the page that owns it (0 once that page is hidden or gone),
    // l: lease-until ms while a fetch carries it, h: 1 once handed to the browser on hide/unload
    // (beacon) — confirmed by the next 2xx, revived by a failure}.
    // localStorage has no transactions: another tab's read-modify-write can overwrite ours, so this
    // page keeps its unsent events in memory too (mine) and puts back any that went missing.
    var queue = function () {
      var q = load('queue'), have = {};
      q = Array.isArray(q) ? q : [];
      q.forEach(function (r) { have[r.e.event_id] = 1; });
      for (var id in mine) if (!have[id]) q.push(mine[id]);
      return q;
    };
    var send = function (type, extra) {
      if (off()) return;
      var q = queue(), e = build(type, extra), over;
      q.push(mine[e.event_id] = { e: e, o: me });
      over = q.length - maxQueue;
      if (over > 0) {
        q.splice(0, over).forEach(function (r) { delete mine[r.e.event_id]; });
        save('dropped', (load('dropped') || 0) + over);
      }
      save('queue', q);
      log(type, e);
      schedule(batchMs);
    };
    // A page sends its own events and orphans (or those of a page that vanished an hour ago).
    var pick = function (q, now) {
      var out = [], len = 0;
      if (off()) return out; // an opt-out in another tab stops this one too
      q.forEach(function (r) {
        var s = JSON.stringify(r.e);
        if (!r.h && !(r.l > now) && len + s.length < BATCH_CHARS &&
          (!r.o || r.o == me || now - Date.parse(r.e.timestamp) > 36e5)) { out.push(r); len += s.length + 1; }
      });
      return out;
    };
    var body = function (b) { return JSON.stringify({ events: b.map(function (r) { return r.e; }) }); };
    var schedule = function (ms) { if (!timer) timer = setTimeout(safe(flush), Math.max(ms, backoff)); };

    var flush = function () {
      clearTimeout(timer);
      timer = 0;
      var now = Date.now(), q = queue(), b = pick(q, now), ids = {};
      // One fetch at a time; one that hangs past its lease is given up (its events are leasable again).
      if (now - busy < LEASE_MS || !b.length) return;
      b.forEach(function (r) { r.l = now + LEASE_MS; ids[r.e.event_id] = inflight[r.e.event_id] = 1; });
      save('queue', q);
      busy = now;
      fetch(endpoint, {
        method: 'POST', body: body(b), keepalive: true, credentials: 'omit',
        headers: { 'Content-Type': 'text/plain' }
      }).then(function (res) { return res.status; }, function () { return 0; }).then(safe(function (st) {
        done(ids, st);
      }));
    };
    var done = function (ids, st) {
      var ok = st > 199 && st < 300, retry = !st || st > 499 || st == 408 || st == 429, q, n;
      busy = 0;
      // Unloading aborts the page's side of a keepalive fetch that still goes out: not a failure.
      if (left && !st) return;
      inflight = {};
      down = retry;
      if (!retry) for (n in ids) delete mine[n];
      // A 2xx also proves the collector took what the last hide/unload beacons carried.
      q = queue().filter(function (r) { return !(ids[r.e.event_id] ? !retry : ok && r.h); });
      q.forEach(function (r) { if (ids[r.e.event_id] || retry && r.h) r.l = r.h = 0; });
      save('queue', q);
      if (retry) {
        backoff = Math.min(backoff * 2 || 1e3, 3e5);
        log('retry, status', st);
        return schedule(0);
      }
      if (!ok) log('dropped, status', st);
      backoff = 0;
      n = load('dropped');
      if (ok && n) { save('dropped', 0); send('tracker_dropped', { props: { count: n } }); }
      if (pick(q, Date.now()).length) schedule(0);
    };

    // How far down the page the visitor has seen, in percent (a page that fits the window: 100).
    var scrolled = function () {
      depth = Math.max(depth, clamp((w.scrollY + w.innerHeight) / de.scrollHeight * 100, 100));
    };
    // Page hidden or unloading: count engaged time once, then hand everything left to sendBeacon.
    var hide = function () {
      var now = Date.now(), q, b;
      if (visibleSince) engaged += now - visibleSince;
      visibleSince = 0;
      scrolled();
      if (!left) {
        left = 1;
        send('page_leave', { engaged_milli_sec: clamp(engaged, 1e12), scroll_depth: depth });
        engaged = 0;
      }
      q = queue();
      q.forEach(function (r) { if (inflight[r.e.event_id]) r.h = 1; }); // keepalive fetch outlives the page
      // While the collector is known to be down a beacon would be lost: the next page load resends instead.
      while (!down && (b = pick(q, now)).length && nav.sendBeacon && nav.sendBeacon(endpoint, body(b))) {
        b.forEach(function (r) { r.h = 1; });
      }
      // What is left is the next page's (or this one's, if it comes back) to send.
      q.forEach(function (r) { if (r.o == me) r.o = 0; });
      mine = {};
      save('queue', q);
    };
    var show = function () { visibleSince = Date.now(); left = 0; schedule(0); };

    // how: 0 navigation, 1 forced (API, bfcache restore), 2 replaceState (a new path only).
    var view = function (how) {
      var h = loc.href, p = lastUrl, base = function (u) { return u.split(/[?#]/)[0]; };
      if (how != 1 && (h == p || how == 2 && p && base(p) == base(h))) return lastUrl = h;
      lastUrl = h;
      if (p && p != h) referrer = p;
      depth = 0;
      var q = new URLSearchParams(loc.search), extra = {};
      ['source', 'medium', 'campaign', 'term', 'content'].forEach(function (k) {
        var v = q.get('utm_' + k);
        if (v) extra['utm_' + k] = cut(v, 256);
      });
      send('page_view', extra);
    };

    var click = function (ev) {
      var el = ev.target.closest && ev.target.closest(sel), a, link, u, text;
      if (!el) return;
      a = el.closest('[href]');
      link = a && (typeof a.href == 'string' ? a.href : a.getAttribute('href'));
      try { u = link && new URL(link, loc.href); } catch (x) { /* not a URL: no outbound flag */ }
      // Input values may be personal data: only buttons' captions are kept.
      text = el.tagName == 'INPUT' ? (/^(submit|button|reset)$/.test(el.type) ? el.value : '') : el.textContent;
      send('click', {
        x: Math.round(ev.pageX), y: Math.round(ev.pageY), link: cut(link, 2048),
        outbound: !!u && /^https?:$/.test(u.protocol) && u.host != loc.host,
        target_tag: cut(el.tagName.toLowerCase(), 32), target_id: cut(el.id, 256),
        target_classes: cut(el.getAttribute('class'), 512),
        target_text: cut((text || '').replace(/\s+/g, ' ').trim(), 256)
      });
    };

    var cleanProps = function (p) {
      var o = {}, n = 0;
      Object.keys(p || {}).forEach(function (k) {
        var v = p[k], t = typeof v;
        if (n > 31 || !/^[A-Za-z_]\w{0,49}$/.test(k)) return log('prop dropped', k);
        if (t == 'string') v = v.slice(0, 512);
        else if (t == 'number' ? Math.abs(v) > 1e15 : t != 'boolean' && v !== null) return log('prop dropped', k);
        o[k] = v;
        n++;
      });
      // Measured as the collector does: JSON with ASCII escapes (6 chars a unit) and ", "/": " separators.
      return JSON.stringify(o).replace(/[^\0-~]/g, '\\u0000').length + 2 * n > 4096 ?
        log('props over 4096 B') : o;
    };

    var api = safe(function (cmd, name, props) {
      if (cmd == 'track') {
        if (!/^[a-z][a-z0-9_]{0,49}$/.test(name)) return log('bad name', name);
        send(name, props ? { props: cleanProps(props) } : {});
      } else if (cmd == 'pageview') view(1);
      else if (cmd == 'flush') { backoff = 0; flush(); }
      else if (cmd == 'optout') { save('optout', 1); save('queue', mine = []); }
      else if (cmd == 'optin') save('optout', 0);
      // identify: a member id (1-128 chars, no control characters) on this and every later event.
      else if (cmd == 'identify') /^[^\0-\x1f\x7f-\x9f]{1,128}$/.test(name) ? save('user_id', name) : log('bad id', name);
      else if (cmd == 'reset') save('user_id', 0);
      else log('bad command', cmd);
    });
    api.l = 1;

    safe(function () {
      // Free: unset, or the queueing snippet (its .q holds the calls, or its source pushes to .q).
      if (!prev || prev.q || /\.q\b/.test(prev)) w.logdig = api; else log('name taken');
      if (!off()) save('load_count', loadCount = (load('load_count') | 0) + 1);
      if (d.visibilityState == 'visible') visibleSince = Date.now();
      view(0);
      ['pushState', 'replaceState'].forEach(function (m, i) {
        var orig = history[m];
        history[m] = function () {
          var r = orig.apply(this, arguments);
          safe(view)(i * 2);
          return r;
        };
      });
      var on = function (t, f, o) { (o || w).addEventListener(t, safe(f), true); };
      on('popstate', function () { view(0); });
      on('hashchange', function () { view(0); });
      on('click', click, d);
      on('scroll', scrolled);
      on('pagehide', hide);
      on('pageshow', function (e) { if (e.persisted) { busy = 0; show(); view(1); } });
      on('visibilitychange', function () { d.visibilityState == 'hidden' ? hide() : show(); }, d);
      on('online', function () { backoff = 0; flush(); });
      if (heartbeatMs) {
        setInterval(safe(function () { if (d.visibilityState == 'visible') send('heartbeat'); }), heartbeatMs);
      }
      (prev && prev.q || []).forEach(function (args) { api.apply(null, args); });
    })();
  } catch (x) { /* silent: nothing was set up */ }
})(window, document);
