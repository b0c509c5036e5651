// The review page's script, shared by the static page (`--review`, `review --html`) and
// the server's desk: it renders a record (TranslationRecord or ReviewRecord JSON),
// lets an editor fix the English in place, re-checks what was edited, keeps reviewed
// marks and edits in localStorage, and exports text, JSON and XLIFF 2.0. No network
// except the desk's own server (`data-api`).
(function () {
  'use strict';
  var body = document.body;
  var API = body.hasAttribute('data-api') ? body.getAttribute('data-api') : null;
  var T = JSON.parse(document.getElementById('anuvad-tables').textContent);

  // ------------------------------------------------------------------ the checks
  // Ports of src/facts/numbers.rs and src/review/checks.rs, with the Rust tables
  // (embedded by html.rs). tests/desk.rs compares them with the Rust checks.

  function isAsciiDigit(c) { return c >= '0' && c <= '9'; }
  function isWs(c) { return /\s/.test(c); }
  function isAsciiPunct(c) { return /[!-\/:-@\[-`{-~]/.test(c); }
  function isDevanagari(c) {
    var n = c.codePointAt(0);
    return (n >= 0x0900 && n <= 0x097F) || (n >= 0xA8E0 && n <= 0xA8FF);
  }
  function same(a, b) { return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1); }
  function lookup(table, w) {
    for (var i = 0; i < table.length; i++) if (table[i][0] === w) return table[i];
    return null;
  }
  function asciiDigits(s) {
    return s.replace(/[\u0966-\u096F]/g, function (c) { return String(c.charCodeAt(0) - 0x0966); });
  }
  // Rust's f64 parse of our digit strings: digits with at most one decimal point.
  function parseNum(s, fallback) {
    return /^(\d+\.?\d*|\.\d+)$/.test(s) ? parseFloat(s) : fallback;
  }

  function digitNumbers(text, scales) {
    var b = Array.from(asciiDigits(text));
    var out = [], i = 0, lastEnd = -2;
    while (i < b.length) {
      if (!isAsciiDigit(b[i])) { i++; continue; }
      var start = i, j = i;
      while (j < b.length && (isAsciiDigit(b[j]) || (b[j] === ',' && j + 1 < b.length && isAsciiDigit(b[j + 1])))) j++;
      if (j + 1 < b.length && (b[j] === '.' || b[j] === ':') && isAsciiDigit(b[j + 1])) {
        j++;
        while (j < b.length && isAsciiDigit(b[j])) j++;
      }
      var raw = b.slice(start, j).join('');
      var value = parseNum(raw.replace(/,/g, '').replace(/:/g, '.'), 0);
      var textOf = raw;
      if (j + 1 < b.length && b[j] === '/' && isAsciiDigit(b[j + 1])) {
        var k = j + 1;
        while (k < b.length && isAsciiDigit(b[k])) k++;
        var den = parseNum(b.slice(j + 1, k).join(''), 1);
        if (den !== 0) value /= den;
        textOf = b.slice(start, k).join('');
        j = k;
        var prev = out[out.length - 1];
        if (prev && lastEnd + 1 === start && b[lastEnd] === ' ' && /^[0-9]+$/.test(prev.text)) {
          prev.text = prev.text + ' ' + textOf;
          prev.values = [prev.values[0] + value];
          lastEnd = j; i = j;
          continue;
        }
      }
      var values = [value];
      var rest = b.slice(j, j + 16).join('').replace(/^\s+/, '');
      var next = rest.split(/[\s!-\/:-@\[-`{-~]/)[0].toLowerCase();
      var sc = lookup(scales, next);
      if (sc) { values = [value * sc[1]]; textOf = textOf + ' ' + sc[0]; }
      out.push({ text: textOf, values: values });
      lastEnd = j; i = j;
    }
    return out;
  }

  function wordNumbers(text, table, scales) {
    var tokens = [], cur = '';
    Array.from(text).forEach(function (c) {
      if (isWs(c) || (isAsciiPunct(c) && c !== '-')) { if (cur) tokens.push(cur); cur = ''; }
      else cur += c;
    });
    if (cur) tokens.push(cur);
    tokens = tokens.map(function (w) { return w.toLowerCase(); });
    var out = [];
    tokens.forEach(function (tok, i) {
      var value = 0, ok = true;
      tok.split('-').forEach(function (p) {
        var e = lookup(table, p);
        if (e) value += e[1]; else ok = false;
      });
      if (!ok) return;
      var values = [value], text = tok;
      var sc = i + 1 < tokens.length ? lookup(scales, tokens[i + 1]) : null;
      if (sc) { values = [value * sc[1]]; text = tok + ' ' + sc[0]; }
      out.push({ text: text, values: values });
    });
    return out;
  }

  function group(digits, indian) {
    var n = digits.length, out = '';
    for (var i = 0; i < n; i++) {
      var left = n - i;
      var boundary = indian ? ((left > 3 && (left - 3) % 2 === 0) || left === 3) : left % 3 === 0;
      if (i > 0 && boundary) out += ',';
      out += digits[i];
    }
    return out;
  }
  function forms(x) {
    if (!isFinite(x) || x < 0) return [];
    var plain = x.toFixed(3).replace(/0+$/, '').replace(/\.+$/, '');
    var out = [plain];
    if (plain.length >= 4 && plain.indexOf('.') < 0) { out.push(group(plain, false)); out.push(group(plain, true)); }
    return out;
  }
  function nice(x) { return x >= 1 && Math.abs(Math.round(x * 1000) - x * 1000) < 1e-6; }
  function amountForms(value) {
    var out = forms(value);
    if (value >= 1e4) {
      [1e3, 1e5, 1e6, 1e7, 1e9].forEach(function (s) { if (nice(value / s)) out = out.concat(forms(value / s)); });
    }
    return out;
  }
  function renderings(hindi) {
    var out = {};
    function add(list) { list.forEach(function (x) { out[x] = true; }); }
    digitNumbers(hindi, T.hindi_scales).forEach(function (n) {
      var sp = n.text.lastIndexOf(' ');
      var mantissa = n.text;
      if (sp >= 0 && lookup(T.hindi_scales, n.text.slice(sp + 1))) mantissa = n.text.slice(0, sp);
      var value = n.values[0];
      if (mantissa.indexOf('/') >= 0) add(mantissa.split(/[^0-9]/).filter(Boolean));
      add([mantissa]);
      if (/[.:]/.test(mantissa)) add([mantissa.replace(/\./g, ':'), mantissa.replace(/:/g, '.')]);
      var written = parseNum(mantissa.replace(/,/g, '').replace(/:/g, '.'), value);
      add(forms(written));
      add(amountForms(value));
    });
    wordNumbers(hindi, T.hindi_words, T.hindi_scales).forEach(function (n) {
      n.values.forEach(function (v) { add(amountForms(v)); });
    });
    var words = asciiDigits(hindi).split(/\s+/).filter(Boolean);
    for (var i = 0; i + 2 < words.length; i++) {
      if (words[i + 1].indexOf('बजकर') === 0 && /^[0-9]+$/.test(words[i])) {
        var minutes = (words[i + 2].match(/^[0-9]*/) || [''])[0];
        if (minutes) {
          if (minutes.length < 2) minutes = '0' + minutes;
          add([words[i] + ':' + minutes, words[i] + '.' + minutes]);
        }
      }
    }
    return out;
  }
  function matches(n, pool) {
    return pool.some(function (m) {
      return n.values.some(function (a) { return m.values.some(function (b) { return same(a, b); }); });
    });
  }
  function compare(hindi, english) {
    var hiDigits = digitNumbers(hindi, T.hindi_scales);
    var enDigits = digitNumbers(english, T.english_scales);
    var hiPool = hiDigits.concat(wordNumbers(hindi, T.hindi_words, T.hindi_scales));
    var enPool = enDigits.concat(wordNumbers(english, T.english_words, T.english_scales));
    var forms = renderings(hindi);
    return {
      missing: hiDigits.filter(function (n) { return !matches(n, enPool); }),
      invented: enDigits.filter(function (n) { return !matches(n, hiPool) && !forms[n.text]; })
    };
  }
  function numbers(src, en) {
    var flags = [];
    if (!en.trim()) return flags;
    var c = compare(src, en);
    var text = function (n) { return n.text; };
    if (c.missing.length) flags.push({ check: 'numbers', message: 'in the Hindi but not in the English: ' + c.missing.map(text).join(', ') });
    if (c.invented.length && src.trim()) flags.push({ check: 'numbers', message: 'in the English but not in the Hindi: ' + c.invented.map(text).join(', ') });
    return flags;
  }
  function untranslated(en) {
    var words = en.split(/\s+/).filter(function (w) { return w && Array.from(w).some(isDevanagari); });
    return words.length ? { check: 'untranslated', message: 'Hindi left in the English: ' + words.join(' ') } : null;
  }
  function chars(s) { return Array.from(s).filter(function (c) { return !isWs(c); }).length; }
  function typicalRatio(pairs) {
    var m = T.min_chars_for_ratio;
    var r = pairs.filter(function (p) { return chars(p.source) >= m && chars(p.english) >= m; })
      .map(function (p) { return chars(p.english) / chars(p.source); });
    if (r.length < 3) return 1.1;
    r.sort(function (a, b) { return a - b; });
    return r[Math.floor(r.length / 2)];
  }
  function length(src, en, typical) {
    var s = chars(src), e = chars(en), m = T.min_chars_for_ratio;
    if (s < m || e === 0) return null;
    var ratio = e / s, what;
    if (ratio < typical / T.ratio_factor) what = 'much shorter';
    else if (ratio > typical * T.ratio_factor && e >= m) what = 'much longer';
    else return null;
    return { check: 'length', message: 'the English is ' + what + ' than the Hindi suggests (' + e + ' vs ' + s +
      " characters; this article's usual ratio is " + typical.toFixed(2) + '); something may be missing or added' };
  }
  function words(s) {
    return s.split(/[^\p{Alphabetic}\p{N}']/u).filter(Boolean).map(function (w) { return w.toLowerCase(); });
  }
  function contentful(gram) {
    return gram.filter(function (w) { return T.stopwords.indexOf(w) < 0 && !/^[0-9]+$/.test(w); }).length >= 2;
  }
  function eq(a, i, b, j, n) {
    for (var k = 0; k < n; k++) if (a[i + k] !== b[j + k]) return false;
    return true;
  }
  function repeatedPhrase(a, b, min) {
    for (var n = Math.min(a.length, 12); n >= min; n--) {
      for (var i = 0; i + n <= a.length; i++) {
        var gram = a.slice(i, i + n);
        if (!contentful(gram)) continue;
        var found = false;
        if (b === null) { for (var j = i + n; j + n <= a.length && !found; j++) found = eq(a, i, a, j, n); }
        else { for (var j2 = 0; j2 + n <= b.length && !found; j2++) found = eq(a, i, b, j2, n); }
        if (found) return gram.join(' ');
      }
    }
    return null;
  }
  function repetition(en, previous) {
    var w = words(en);
    var p = repeatedPhrase(w, null, 4);
    if (p !== null) return { check: 'repetition', message: '"' + p + '" is repeated within the sentence' };
    if (previous === null || previous === undefined) return null;
    p = repeatedPhrase(w, words(previous), 6);
    return p === null ? null : { check: 'repetition', message: '"' + p + '" repeats the previous sentence' };
  }
  // The checks of check_all that need no model, for pair i of `pairs` ({source,
  // english}): names need the gazetteer and low_confidence the model.
  var CLIENT_CHECKS = ['added', 'dropped', 'numbers', 'untranslated', 'length', 'repetition'];
  function checkPair(pairs, i) {
    var p = pairs[i], src = p.source.trim(), en = p.english.trim(), flags = [];
    if (!src && en) flags.push({ check: 'added', message: 'this English has no Hindi sentence behind it' });
    if (src && !en) flags.push({ check: 'dropped', message: 'this Hindi sentence has no English' });
    flags = flags.concat(numbers(src, en));
    var u = untranslated(en); if (u) flags.push(u);
    var l = length(src, en, typicalRatio(pairs)); if (l) flags.push(l);
    var q = i > 0 ? pairs[i - 1] : null;
    var r = repetition(en, q && q.source.trim() !== src ? q.english : null); if (r) flags.push(r);
    return flags;
  }

  // ------------------------------------------------------------------ the record
  var CHECK_ORDER = ['numbers', 'names', 'untranslated', 'dropped', 'added', 'length', 'repetition', 'low_confidence'];
  var state = null; // { record, rows: [{p, s, el, text, flags, edited, reviewed, stale}], key }

  function hash(s) {
    var h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
    return ('0000000' + h.toString(16)).slice(-8);
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // Confidence in words, from the card's threshold t (negative): low below t (the
  // low_confidence flag), check between t and t/2, high above.
  function level(c, t) {
    if (!c) return 'none';
    var th = -Math.max(Math.abs(t), 0.1);
    if (c.mean_logprob < th) return 'low';
    if (c.mean_logprob < th / 2) return 'check';
    return 'high';
  }
  var WORDS = { high: 'high', check: 'check', low: 'low', none: '–', edited: 'edited' };

  function storageKey(record) {
    var s = record.paragraphs.map(function (p) {
      return p.sentences.map(function (x) { return x.source + '\u0000' + x.translation; }).join('\u0001');
    }).join('\u0002');
    return 'anuvad-review:' + hash((record.model && record.model.id || '') + '\u0003' + s);
  }
  function save() {
    if (!state) return;
    var data = { reviewed: [], edits: {} };
    state.rows.forEach(function (r, i) {
      if (r.reviewed) data.reviewed.push(i);
      if (r.edited) data.edits[i] = r.text;
    });
    try { localStorage.setItem(state.key, JSON.stringify(data)); } catch (e) { /* private mode: marks last the visit */ }
  }
  function load(key) {
    try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch (e) { return null; }
  }

  function pairs() {
    return state.rows.map(function (r) { return { source: r.s.source, english: r.text }; });
  }
  function sortFlags(flags) {
    return flags.slice().sort(function (a, b) { return CHECK_ORDER.indexOf(a.check) - CHECK_ORDER.indexOf(b.check); });
  }

  var seq = 0;
  // Re-run the checks on row i's edited English: on the server when served, else here.
  function recheck(i) {
    var r = state.rows[i], mine = ++seq;
    r.pending = mine;
    var local = function (note) {
      var kept = r.s.flags.filter(function (f) { return f.check === 'names'; });
      r.flags = sortFlags(checkPair(pairs(), i).concat(kept));
      r.stale = kept.length > 0;
      r.pending = 0;
      setWhere(note);
      paint(i);
    };
    if (!r.edited) { r.flags = r.s.flags; r.stale = false; r.pending = 0; paint(i); return Promise.resolve(); }
    if (API === null) { local(null); return Promise.resolve(); }
    return fetch(API + '/check', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: r.s.source, translation: r.text })
    }).then(function (res) {
      if (!res.ok) throw new Error('the server answered ' + res.status);
      return res.json();
    }).then(function (j) {
      if (r.pending !== mine) return;
      r.flags = j.flags || []; r.stale = false; r.pending = 0;
      paint(i);
    }).catch(function (e) {
      if (r.pending !== mine) return;
      local('The server could not check (' + e.message + '); checked in the page instead: ' + CLIENT_CHECKS.join(', ') + '.');
    });
  }

  function paint(i) {
    var r = state.rows[i], e = r.el;
    e.classList.toggle('flagged', r.flags.length > 0);
    e.classList.toggle('reviewed', r.reviewed);
    e.classList.toggle('edited', r.edited);
    e.dataset.flags = r.flags.map(function (f) { return f.check; }).join(' ');
    var lv = r.edited ? 'edited' : level(r.s.confidence, state.threshold);
    e.classList.remove('c-high', 'c-check', 'c-low');
    if (!r.edited && lv !== 'none') e.classList.add('c-' + lv);
    var conf = e.querySelector('.conf');
    conf.className = 'conf ' + lv;
    conf.textContent = WORDS[lv];
    conf.title = r.s.confidence
      ? 'mean token log-probability ' + r.s.confidence.mean_logprob.toFixed(2) + ', lowest ' + r.s.confidence.min_logprob.toFixed(2) +
        (r.edited ? ' (of the model\'s English, before your edit)' : '')
      : 'no model confidence for this sentence';
    e.querySelector('.reviewed-box input').checked = r.reviewed;
    var ul = e.querySelector('.flags');
    ul.textContent = '';
    r.flags.forEach(function (f) {
      var li = el('li');
      var stale = r.edited && r.stale && f.check === 'names';
      if (stale) li.className = 'stale';
      li.appendChild(el('code', '', f.check));
      li.appendChild(document.createTextNode(' ' + f.message + (stale ? ' (from the model\'s English; names are checked by the server or the CLI, not here)' : '')));
      ul.appendChild(li);
    });
    summarize();
  }

  function summarize() {
    var n = state.rows.length, flagged = 0, reviewed = 0, edited = 0, by = {};
    state.rows.forEach(function (r) {
      if (r.flags.length) flagged++;
      if (r.reviewed) reviewed++;
      if (r.edited) edited++;
      var seen = {};
      r.flags.forEach(function (f) { if (!seen[f.check]) { seen[f.check] = 1; by[f.check] = (by[f.check] || 0) + 1; } });
    });
    var counts = CHECK_ORDER.filter(function (k) { return by[k]; }).map(function (k) { return k + ' ' + by[k]; });
    var s = n + ' rows, ' + flagged + ' flagged' + (counts.length ? ' (' + counts.join(', ') + ')' : '') +
      (edited ? '; ' + edited + ' edited' : '');
    var sum = document.querySelector('.summary');
    sum.textContent = s;
    var m = state.record.checks && state.record.checks.mean_logprob;
    sum.title = m !== null && m !== undefined ? 'mean token log-probability ' + m.toFixed(2) + ' (low-confidence threshold ' + state.threshold.toFixed(2) + ')' : '';
    document.querySelector('.progress').textContent = reviewed + ' of ' + n + ' reviewed';
    var chips = document.querySelector('.chips');
    chips.textContent = '';
    CHECK_ORDER.filter(function (k) { return by[k]; }).forEach(function (k) {
      var c = el('span', 'chip', k + ' ');
      c.appendChild(el('b', '', String(by[k])));
      chips.appendChild(c);
    });
  }

  function setWhere(note) {
    var w = document.querySelector('.where');
    if (!w) return;
    w.textContent = note || (API === null
      ? 'Edited sentences are re-checked in this page: ' + CLIENT_CHECKS.join(', ') +
        '. Names and low confidence need the model\'s data: their flags stay as the CLI found them.'
      : 'Edited sentences are re-checked by the server (every check but low confidence, which is about the model\'s own English).');
  }

  function header(title) {
    var h = document.querySelector('header.review');
    if (h) h.remove();
    h = el('header', 'review');
    h.appendChild(el('h1', '', 'Translation review: ' + title));
    var rec = state.record, model = (rec.model && rec.model.id) || body.dataset.model || 'unknown model';
    var date = body.dataset.date || new Date().toISOString().slice(0, 10);
    h.appendChild(el('p', 'meta', 'model ' + model + ' · anuvad ' + (body.dataset.version || '?') + ' · ' + date));
    h.appendChild(el('p', 'summary'));
    h.appendChild(el('div', 'chips'));
    var t = state.threshold, lg = el('div', 'legend');
    lg.appendChild(el('span', '', 'Confidence:'));
    [['high', 'the model was sure'], ['check', 'less sure: read it closely'], ['low', 'below the model card\'s threshold: likely wrong']].forEach(function (x) {
      var s = el('span');
      s.appendChild(el('span', 'conf ' + x[0], x[0]));
      s.appendChild(document.createTextNode(' ' + x[1]));
      lg.appendChild(s);
    });
    lg.title = 'mean token log-probability: high at or above ' + (t / 2).toFixed(2) + ', check from ' + t.toFixed(2) + ', low below ' + t.toFixed(2);
    h.appendChild(lg);
    var bar = el('div', 'toolbar');
    bar.appendChild(el('span', 'progress'));
    [['txt', 'Export .txt'], ['json', 'Export JSON'], ['xlf', 'Export XLIFF']].forEach(function (x) {
      var b = el('button', 'export', x[1]);
      b.dataset.format = x[0];
      b.addEventListener('click', function () { download(x[0]); });
      bar.appendChild(b);
    });
    h.appendChild(bar);
    h.appendChild(el('p', 'where'));
    h.appendChild(el('p', 'help', 'Click an English sentence to edit it. Keys outside the text: j/n next flagged, k/p previous, r mark the focused row reviewed, Escape leaves the text.'));
    return h;
  }

  function render(record, title) {
    var main = document.querySelector('main.review');
    if (main) main.remove();
    var threshold = record.checks && typeof record.checks.low_confidence_below === 'number' ? record.checks.low_confidence_below : -1.5;
    state = { record: record, rows: [], threshold: threshold, title: title, key: storageKey(record) };
    var h = header(title);
    body.appendChild(h);
    main = el('main', 'review');
    var cols = el('div', 'cols');
    ['line', 'Hindi', 'English', 'confidence'].forEach(function (c) { cols.appendChild(el('span', '', c)); });
    main.appendChild(cols);
    var saved = load(state.key) || { reviewed: [], edits: {} };
    record.paragraphs.forEach(function (p) {
      if (!p.sentences.length) return;
      var para = el('div', 'para ' + (p.kind || 'body'));
      p.sentences.forEach(function (s) {
        var i = state.rows.length;
        var row = el('div', 'row');
        row.id = 'r' + (i + 1);
        row.tabIndex = -1;
        row.appendChild(el('span', 'line', String(s.line || p.line || '')));
        var hi = el('div', 'hi');
        hi.lang = 'hi';
        if (s.source.trim()) hi.appendChild(el('span', 'src', s.source)); else hi.appendChild(el('span', 'empty', '(no Hindi)'));
        row.appendChild(hi);
        var en = el('div', 'en');
        en.lang = 'en';
        // Plain text only where the browser has it (older ones throw on the value).
        try { en.contentEditable = 'plaintext-only'; } catch (err) { en.contentEditable = 'true'; }
        if (en.contentEditable !== 'plaintext-only') en.contentEditable = 'true';
        en.spellcheck = true;
        var text = Object.prototype.hasOwnProperty.call(saved.edits, i) ? saved.edits[i] : s.translation;
        en.textContent = text;
        row.appendChild(en);
        var side = el('div', 'side');
        side.appendChild(el('span', 'conf'));
        var box = el('label', 'reviewed-box');
        var cb = el('input');
        cb.type = 'checkbox';
        box.appendChild(cb);
        box.appendChild(document.createTextNode('reviewed'));
        side.appendChild(box);
        row.appendChild(side);
        row.appendChild(el('ul', 'flags'));
        para.appendChild(row);
        var r = { p: p, s: s, el: row, text: text, flags: s.flags || [], edited: text !== s.translation,
          reviewed: saved.reviewed.indexOf(i) >= 0, stale: false, pending: 0 };
        state.rows.push(r);
        var timer = null;
        en.addEventListener('input', function () {
          r.text = en.textContent.replace(/\n/g, ' ');
          r.edited = r.text !== s.translation;
          save();
          clearTimeout(timer);
          timer = setTimeout(function () { recheck(i); }, 250);
        });
        en.addEventListener('keydown', function (e) {
          if (e.key === 'Enter') e.preventDefault(); // a sentence is one line
          if (e.key === 'Escape') { en.blur(); row.focus(); }
        });
        cb.addEventListener('change', function () { r.reviewed = cb.checked; save(); paint(i); });
        row.addEventListener('focusin', function () { at = i; });
      });
      main.appendChild(para);
    });
    body.appendChild(main);
    setWhere(null);
    state.rows.forEach(function (r, i) { if (r.edited) recheck(i); else paint(i); });
    summarize();
  }

  // ------------------------------------------------------------------ keys
  var at = -1;
  function go(d) {
    if (!state) return;
    var flagged = [];
    state.rows.forEach(function (r, i) { if (r.flags.length) flagged.push(i); });
    if (!flagged.length) return;
    var k = flagged.indexOf(at);
    k = k < 0 ? (d > 0 ? 0 : flagged.length - 1) : (k + d + flagged.length) % flagged.length;
    at = flagged[k];
    var row = state.rows[at].el;
    row.focus();
    row.scrollIntoView({ block: 'center' });
  }
  document.addEventListener('keydown', function (e) {
    var t = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey || !state) return;
    if (t && (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'INPUT' && t.type !== 'checkbox')) return;
    if (e.key === 'j' || e.key === 'n') { go(1); e.preventDefault(); }
    if (e.key === 'k' || e.key === 'p') { go(-1); e.preventDefault(); }
    if (e.key === 'r' && at >= 0) {
      var r = state.rows[at];
      r.reviewed = !r.reviewed; save(); paint(at); e.preventDefault();
    }
  });

  // ------------------------------------------------------------------ export
  // The record's own layout: record.translation is every paragraph's English followed
  // by the newline run that followed it in the input (record.rs, Translation::new).
  function separators(record) {
    var text = record.translation || '', pos = 0, seps = [];
    for (var i = 0; i < record.paragraphs.length; i++) {
      var t = record.paragraphs[i].translation;
      if (text.substr(pos, t.length) !== t) return null;
      pos += t.length;
      var run = /^\n*/.exec(text.slice(pos))[0];
      seps.push(run);
      pos += run.length;
    }
    return pos === text.length ? seps : null;
  }
  function paragraphText(p) {
    return state.rows.filter(function (r) { return r.p === p; })
      .map(function (r) { return r.text.trim(); }).filter(Boolean).join(' ');
  }
  function exportText() {
    var paras = state.record.paragraphs;
    var seps = separators(state.record) || paras.map(function (_, i) { return i + 1 < paras.length ? '\n\n' : ''; });
    return paras.map(function (p, i) { return (p.sentences.length ? paragraphText(p) : p.translation) + seps[i]; }).join('');
  }
  function exportRecord() {
    var rec = JSON.parse(JSON.stringify(state.record));
    var k = 0, flagged = 0, by = {};
    rec.paragraphs.forEach(function (p, pi) {
      p.sentences.forEach(function (s) {
        var r = state.rows[k++];
        s.translation = r.text.trim();
        s.flags = r.flags;
        s.edited = r.edited;
        s.reviewed = r.reviewed;
        if (r.flags.length) flagged++;
        var seen = {};
        r.flags.forEach(function (f) { if (!seen[f.check]) { seen[f.check] = 1; by[f.check] = (by[f.check] || 0) + 1; } });
      });
      if (p.sentences.length) p.translation = paragraphText(state.record.paragraphs[pi]);
    });
    rec.translation = exportText();
    if (rec.checks) {
      rec.checks.flagged = flagged;
      rec.checks.by_check = {};
      Object.keys(by).sort().forEach(function (c) { rec.checks.by_check[c] = by[c]; });
    }
    return JSON.stringify(rec, null, 2) + '\n';
  }
  function xml(s) {
    return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
      .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }
  // XLIFF 2.0 for CAT tools: one unit per paragraph, one segment per sentence; state
  // reviewed for rows marked reviewed, translated for the rest, initial with no English.
  function exportXliff() {
    var out = ['<?xml version="1.0" encoding="UTF-8"?>',
      '<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="hi" trgLang="en">',
      '  <file id="f1" original="' + xml(state.title) + '">'];
    var k = 0, n = 0;
    state.record.paragraphs.forEach(function (p, pi) {
      if (!p.sentences.length) return;
      var rows = state.rows.slice(k, k + p.sentences.length);
      k += p.sentences.length;
      out.push('    <unit id="u' + (pi + 1) + '" name="line ' + (p.line || rows[0].s.line || '') + '">');
      var notes = [];
      rows.forEach(function (r, si) {
        r.flags.forEach(function (f) { notes.push('        <note category="' + xml(f.check) + '">sentence ' + (si + 1) + ': ' + xml(f.message) + '</note>'); });
      });
      if (notes.length) out.push('      <notes>', notes.join('\n'), '      </notes>');
      rows.forEach(function (r) {
        n++;
        var en = r.text.trim();
        var st = !en ? 'initial' : (r.reviewed ? 'reviewed' : 'translated');
        out.push('      <segment id="s' + n + '" state="' + st + '">');
        out.push('        <source>' + xml(r.s.source) + '</source>');
        if (en) out.push('        <target>' + xml(en) + '</target>');
        out.push('      </segment>');
      });
      out.push('    </unit>');
    });
    out.push('  </file>', '</xliff>', '');
    return out.join('\n');
  }
  function stem() {
    var t = (state.title || 'article').replace(/^.*[\/\\]/, '').replace(/\.[^.]*$/, '');
    return (t || 'article').replace(/[^\w.\-\u0900-\u097F]+/g, '_');
  }
  function download(format) {
    var made = format === 'txt' ? [exportText(), 'text/plain', '.en.txt']
      : format === 'json' ? [exportRecord(), 'application/json', '.review.json']
      : [exportXliff(), 'application/xliff+xml', '.xlf'];
    var url = URL.createObjectURL(new Blob([made[0]], { type: made[1] + ';charset=utf-8' }));
    var a = el('a');
    a.href = url;
    a.download = stem() + made[2];
    body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  // ------------------------------------------------------------------ the desk
  var MAX_UPLOAD = 2 * 1024 * 1024;
  function status(text, isError) {
    var s = document.querySelector('.status');
    s.textContent = text;
    s.classList.toggle('error', !!isError);
    return s;
  }
  function errorOf(res) {
    return res.text().then(function (t) {
      var m = t;
      try { var j = JSON.parse(t); m = j.error || j.message || t; } catch (e) { /* plain text */ }
      throw new Error(m || ('the server answered ' + res.status));
    });
  }
  // Server-sent events: `progress` events while it works, then `result` (or `error`).
  function readEvents(res) {
    var reader = res.body.getReader(), dec = new TextDecoder(), buf = '';
    return new Promise(function (resolve, reject) {
      function handle(block) {
        var ev = 'message', data = [];
        block.split(/\r?\n/).forEach(function (l) {
          if (l.indexOf('event:') === 0) ev = l.slice(6).trim();
          else if (l.indexOf('data:') === 0) data.push(l.slice(5).replace(/^ /, ''));
        });
        if (!data.length) return;
        var d; try { d = JSON.parse(data.join('\n')); } catch (e) { d = data.join('\n'); }
        if (ev === 'result') resolve(d);
        else if (ev === 'error') reject(new Error((d && (d.error || d.message)) || String(d)));
        else if (ev === 'progress') showProgress(d);
      }
      function pump() {
        reader.read().then(function (x) {
          if (x.done) { if (buf.trim()) handle(buf); reject(new Error('the server closed the stream without a result')); return; }
          buf += dec.decode(x.value, { stream: true });
          var parts = buf.split(/\r?\n\r?\n/);
          buf = parts.pop();
          parts.forEach(handle);
          pump();
        }, reject);
      }
      pump();
    });
  }
  function showProgress(d) {
    var s = status('');
    if (d && typeof d.done === 'number' && typeof d.total === 'number' && d.total > 0) {
      var bar = el('progress');
      bar.max = d.total; bar.value = d.done;
      s.appendChild(bar);
      s.appendChild(document.createTextNode(d.done + ' of ' + d.total + (d.unit ? ' ' + d.unit : '') + (d.stage ? ' · ' + d.stage : '')));
    } else {
      s.textContent = typeof d === 'string' ? d : (d && (d.message || d.stage || d.event)) || 'working…';
    }
  }
  function post(path, payload) {
    return fetch(API + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'text/event-stream, application/json' },
      body: JSON.stringify(payload)
    }).then(function (res) {
      if (!res.ok) return errorOf(res);
      var type = res.headers.get('Content-Type') || '';
      return type.indexOf('text/event-stream') === 0 && res.body ? readEvents(res) : res.json();
    });
  }
  function deskForm() {
    var h = el('header', 'desk-only');
    h.appendChild(el('h1', '', 'anuvad review desk'));
    h.appendChild(el('p', 'meta', 'model ' + (body.dataset.model || '?') + ' · anuvad ' + (body.dataset.version || '?')));
    var grid = el('div', 'input');
    function area(id, label, accept) {
      var d = el('div');
      var l = el('label', '', label);
      l.htmlFor = id;
      d.appendChild(l);
      var ta = el('textarea');
      ta.id = id;
      d.appendChild(ta);
      var f = el('input');
      f.type = 'file';
      f.accept = accept;
      f.id = id + '-file';
      f.addEventListener('change', function () {
        var file = f.files && f.files[0];
        if (!file) return;
        if (file.size > MAX_UPLOAD) { status(file.name + ' is ' + file.size + ' bytes; the desk takes files up to ' + MAX_UPLOAD + ' bytes: split the article', true); return; }
        if (!/\.(txt|md)$/i.test(file.name)) { status(file.name + ' is not a .txt or .md file: save the article as plain text', true); return; }
        file.text().then(function (t) { ta.value = t; if (id === 'hindi') title = file.name; });
      });
      d.appendChild(f);
      grid.appendChild(d);
      return ta;
    }
    var title = 'pasted article';
    var hindi = area('hindi', 'Hindi article (paste, or upload a .txt or .md file)', '.txt,.md,text/plain,text/markdown');
    var english = area('english', 'English made elsewhere (only for Review)', '.txt,.md,text/plain,text/markdown');
    hindi.addEventListener('input', function () { title = 'pasted article'; });
    h.appendChild(grid);
    var bar = el('div', 'toolbar');
    var tr = el('button', 'primary', 'Translate');
    tr.id = 'translate';
    var rv = el('button', '', 'Review');
    rv.id = 'review';
    bar.appendChild(tr);
    bar.appendChild(rv);
    h.appendChild(bar);
    h.appendChild(el('div', 'status'));
    body.appendChild(h);
    function run(path, payload) {
      if (!hindi.value.trim()) { status('Paste or upload the Hindi article first', true); return; }
      tr.disabled = rv.disabled = true;
      status('sent to the server…');
      post(path, payload).then(function (record) {
        status('');
        render(record, title);
      }, function (e) {
        status(e.message, true);
      }).then(function () { tr.disabled = rv.disabled = false; });
    }
    tr.addEventListener('click', function () { run('/translate', { text: hindi.value }); });
    rv.addEventListener('click', function () {
      if (!english.value.trim()) { status('Paste or upload the English to review beside the Hindi', true); return; }
      run('/review', { source: hindi.value, translation: english.value });
    });
  }

  window.anuvad = {
    checks: { numbers: numbers, untranslated: untranslated, repetition: repetition, check: checkPair, clientChecks: CLIENT_CHECKS },
    exportText: function () { return exportText(); },
    exportRecord: function () { return exportRecord(); },
    exportXliff: function () { return exportXliff(); },
    render: render
  };

  var embedded = document.getElementById('anuvad-record');
  if (embedded) render(JSON.parse(embedded.textContent), body.dataset.title || 'article');
  if (API !== null) deskForm();
})();
