// Search for the guide: a dependency-free ES module, no WASM.
//
// The index (built by `sportello`, see generator/src/index/) lives under
// `search/` next to this file. A query downloads meta.json, the dictionary
// shard(s) of its words, the postings of frequent words and the result
// fragments it shows: a few kilobytes. The text pipeline is the generator's:
// the same tables (from meta.json) and the same Snowball stemmers (Italian,
// and English for the English edition's index under `search/en/`), ported
// below and tested against rust-stemmers over the whole vocabulary.
//
// Without a `document` (Node) this module only exports the engine.

// ---------------------------------------------------------------------------
// Text pipeline

// Unicode property escapes (ES2018) are built at run time, so that the file
// parses as ES2017: a browser without them fails here, visibly (the page's
// loader reports that search cannot run), instead of failing to parse.
const WORD_CHAR = new RegExp('[\\p{Alphabetic}\\p{N}\\p{M}]+', 'gu');
const MARKS = new RegExp('\\p{M}', 'gu');
const DIGITS_ONLY = new RegExp('^\\p{N}*$', 'u');
const HAS_DIGIT = new RegExp('\\p{N}', 'u');
const ENDS_OPEN = new RegExp('[\\s\\p{P}]$', 'u');

/** Lowercase, NFC, accents folded (as `text::fold`). */
export function fold(token) {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(token)) return token.toLowerCase();
  return token.normalize('NFC').toLowerCase().normalize('NFD').replace(MARKS, '').normalize('NFC');
}

/** The raw words of a text (as `text::raw_words`). */
export function rawWords(text) {
  return text.match(WORD_CHAR) || [];
}

// Snowball Italian (snowballstem.org), for words already folded and lowercase.
const VOWELS = 'aeiouàèìòù';
const isV = (c) => c !== undefined && VOWELS.includes(c);
const AEIO = 'aeioàèìò';

const PRONOUNS = ('ci gli la le li lo mi ne si ti vi sene gliela gliele glieli glielo gliene ' +
  'mela mele meli melo mene tela tele teli telo tene cela cele celi celo cene vela vele veli velo vene').split(' ');
const STANDARD = {};
for (const [k, words] of [
  [1, 'anza anze ico ici ica ice iche ichi ismo ismi abile abili ibile ibili ista iste isti istà istè istì oso osi osa ose mente atrice atrici ante anti'],
  [2, 'azione azioni atore atori'],
  [3, 'logia logie'],
  [4, 'uzione uzioni usione usioni'],
  [5, 'enza enze'],
  [6, 'amento amenti imento imenti'],
  [7, 'amente'],
  [8, 'ità'],
  [9, 'ivo ivi iva ive'],
]) {
  for (const w of words.split(' ')) STANDARD[w] = k;
}
const VERB = new Set(('ammo ando ano are arono asse assero assi assimo ata ate ati ato ava avamo avano avate ' +
  'avi avo emmo enda ende endi endo erà erai eranno ere erebbe erebbero erei eremmo eremo ereste eresti ' +
  'erete erò erono essero ete eva evamo evano evate evi evo Yamo iamo immo irà irai iranno ire irebbe ' +
  'irebbero irei iremmo iremo ireste iresti irete irò irono isca iscano isce isci isco iscono issero ita ' +
  'ite iti ito iva ivamo ivano ivate ivi ivo ono uta ute uti uto ar ir').split(' '));

/** Longest suffix of `w` (ending at `end`, starting at or after `min`) found in `has`. */
function longest(w, end, has, maxLen, min = 0) {
  for (let n = Math.min(maxLen, end - min); n > 0; n--) {
    const s = w.slice(end - n, end);
    if (has(s)) return s;
  }
  return null;
}

export function snowball(word) {
  let w = word
    .replace(/á/g, 'à').replace(/é/g, 'è').replace(/í/g, 'ì').replace(/ó/g, 'ò').replace(/ú/g, 'ù')
    .replace(/qu/g, 'qU');
  // u and i between vowels are consonants
  const a = [...w];
  for (let p = 0; p + 2 < a.length; p++) {
    if (isV(a[p]) && (a[p + 1] === 'u' || a[p + 1] === 'i') && isV(a[p + 2])) {
      a[p + 1] = a[p + 1].toUpperCase();
    }
  }
  w = a.join('');
  const len = w.length;
  // regions
  let pV = len;
  if (len >= 2) {
    if (isV(w[0])) {
      if (!isV(w[1])) {
        for (let i = 2; i < len; i++) if (isV(w[i])) { pV = i + 1; break; }
      } else {
        for (let i = 2; i < len; i++) if (!isV(w[i])) { pV = i + 1; break; }
      }
    } else if (!isV(w[1])) {
      for (let i = 2; i < len; i++) if (isV(w[i])) { pV = i + 1; break; }
    } else if (len >= 3) {
      pV = 3;
    }
  }
  const after = (from) => {
    for (let i = from; i < len; i++) {
      if (isV(w[i])) {
        for (let j = i + 1; j < len; j++) if (!isV(w[j])) return j + 1;
        return len;
      }
    }
    return len;
  };
  const p1 = after(0);
  const p2 = after(p1);
  const inRV = (i) => i >= pV;
  const inR1 = (i) => i >= p1;
  const inR2 = (i) => i >= p2;

  // step 0: attached pronouns
  {
    const pr = longest(w, w.length, (s) => PRONOUNS.includes(s), 6);
    if (pr) {
      const start = w.length - pr.length;
      const before = longest(w, start, (s) => ['ando', 'endo', 'ar', 'er', 'ir'].includes(s), 4);
      if (before && inRV(start - before.length)) {
        w = before.length === 4 ? w.slice(0, start) : w.slice(0, start) + 'e';
      }
    }
  }
  // step 1: standard suffixes, else step 2: verb suffixes
  let done = false;
  {
    const suf = longest(w, w.length, (s) => s in STANDARD, 6);
    if (suf) {
      const k = STANDARD[suf];
      const at = w.length - suf.length;
      const ends = (s) => w.endsWith(s);
      const cut = (n) => { w = w.slice(0, w.length - n); };
      if (k === 1 && inR2(at)) { cut(suf.length); done = true; }
      else if (k === 2 && inR2(at)) {
        cut(suf.length); done = true;
        if (ends('ic') && inR2(w.length - 2)) cut(2);
      } else if (k === 3 && inR2(at)) { w = w.slice(0, at) + 'log'; done = true; }
      else if (k === 4 && inR2(at)) { w = w.slice(0, at) + 'u'; done = true; }
      else if (k === 5 && inR2(at)) { w = w.slice(0, at) + 'ente'; done = true; }
      else if (k === 6 && inRV(at)) { cut(suf.length); done = true; }
      else if (k === 7 && inR1(at)) {
        cut(suf.length); done = true;
        const s2 = longest(w, w.length, (s) => ['ic', 'abil', 'os', 'iv'].includes(s), 4);
        if (s2 && inR2(w.length - s2.length)) {
          cut(s2.length);
          if (s2 === 'iv' && ends('at') && inR2(w.length - 2)) cut(2);
        }
      } else if (k === 8 && inR2(at)) {
        cut(suf.length); done = true;
        const s2 = longest(w, w.length, (s) => ['ic', 'abil', 'iv'].includes(s), 4);
        if (s2 && inR2(w.length - s2.length)) cut(s2.length);
      } else if (k === 9 && inR2(at)) {
        cut(suf.length); done = true;
        if (ends('at') && inR2(w.length - 2)) {
          cut(2);
          if (ends('ic') && inR2(w.length - 2)) cut(2);
        }
      }
    }
  }
  if (!done && w.length >= pV) {
    const v = longest(w, w.length, (s) => VERB.has(s), 8, pV);
    if (v) w = w.slice(0, w.length - v.length);
  }
  // step 3a, 3b
  if (w.length && AEIO.includes(w[w.length - 1]) && inRV(w.length - 1)) {
    w = w.slice(0, -1);
    if (w.endsWith('i') && inRV(w.length - 1)) w = w.slice(0, -1);
  }
  if ((w.endsWith('ch') || w.endsWith('gh')) && inRV(w.length - 2)) w = w.slice(0, -1);
  return w.replace(/I/g, 'i').replace(/U/g, 'u');
}

// Snowball English ("Porter2", snowballstem.org) as rust-stemmers 1.2 has it,
// for the English edition's index; for words already folded and lowercase.
const EN_VOWEL = (c) => c !== undefined && 'aeiouy'.includes(c);
const EN_EXCEPTIONS = {
  skis: 'ski', skies: 'sky', dying: 'die', lying: 'lie', tying: 'tie', idly: 'idl', gently: 'gentl',
  ugly: 'ugli', early: 'earli', only: 'onli', singly: 'singl', sky: 'sky', news: 'news', howe: 'howe',
  atlas: 'atlas', cosmos: 'cosmos', bias: 'bias', andes: 'andes',
};
const EN_INVARIANT = new Set('inning outing canning herring earring proceed exceed succeed'.split(' '));
const EN_STEP2 = [['ization', 'ize'], ['ational', 'ate'], ['fulness', 'ful'], ['ousness', 'ous'],
  ['iveness', 'ive'], ['tional', 'tion'], ['biliti', 'ble'], ['lessli', 'less'], ['entli', 'ent'],
  ['ation', 'ate'], ['alism', 'al'], ['aliti', 'al'], ['ousli', 'ous'], ['iviti', 'ive'], ['fulli', 'ful'],
  ['enci', 'ence'], ['anci', 'ance'], ['abli', 'able'], ['izer', 'ize'], ['ator', 'ate'], ['alli', 'al'],
  ['bli', 'ble'], ['ogi', 'og'], ['li', '']];
const EN_STEP3 = [['ational', 'ate'], ['tional', 'tion'], ['alize', 'al'], ['icate', 'ic'], ['iciti', 'ic'],
  ['ative', ''], ['ical', 'ic'], ['ness', ''], ['ful', '']];
const EN_STEP4 = 'ement ment ance ence able ible ant ent ism ate iti ous ive ize ion al er ic'.split(' ');

export function snowballEnglish(word) {
  if (Object.prototype.hasOwnProperty.call(EN_EXCEPTIONS, word)) return EN_EXCEPTIONS[word];
  let w = [...word];
  if (w.length < 3) return word;
  if (w[0] === "'") w.shift();
  let yFound = false;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === 'y' && (i === 0 || EN_VOWEL(w[i - 1]))) {
      w[i] = 'Y';
      yFound = true;
    }
  }
  // R1 and R2: after the first non-vowel that follows a vowel (R1 after a few prefixes).
  const after = (from) => {
    let i = from;
    while (i < w.length && !EN_VOWEL(w[i])) i++;
    i++;
    while (i < w.length && EN_VOWEL(w[i])) i++;
    return i < w.length ? i + 1 : w.length;
  };
  const s0 = w.join('');
  const prefix = ['gener', 'commun', 'arsen'].find((p) => s0.startsWith(p));
  const p1 = prefix ? prefix.length : after(0);
  const p2 = p1 < w.length ? after(p1) : w.length;
  const ends = (s) => w.length >= s.length && w.slice(w.length - s.length).join('') === s;
  const hasVowel = (end) => w.slice(0, end).some(EN_VOWEL);
  const shortv = (end) =>
    (end >= 3 && !EN_VOWEL(w[end - 1]) && !'wxY'.includes(w[end - 1]) && EN_VOWEL(w[end - 2]) && !EN_VOWEL(w[end - 3])) ||
    (end === 2 && !EN_VOWEL(w[1]) && EN_VOWEL(w[0]));
  const replace = (n, by) => { w = w.slice(0, w.length - n).concat([...by]); };

  // Step 1a
  if (ends("'s'")) replace(3, '');
  else if (ends("'s")) replace(2, '');
  else if (ends("'")) replace(1, '');
  if (ends('sses')) replace(4, 'ss');
  else if (ends('ied') || ends('ies')) replace(3, w.length > 4 ? 'i' : 'ie');
  else if (ends('ss') || ends('us')) { /* kept */ }
  else if (ends('s') && hasVowel(w.length - 2)) replace(1, '');

  if (!EN_INVARIANT.has(w.join(''))) {
    // Step 1b
    const s1b = ['eedly', 'ingly', 'edly', 'eed', 'ing', 'ed'].find(ends);
    if (s1b === 'eed' || s1b === 'eedly') {
      if (w.length - s1b.length >= p1) replace(s1b.length, 'ee');
    } else if (s1b && hasVowel(w.length - s1b.length)) {
      replace(s1b.length, '');
      if (ends('at') || ends('bl') || ends('iz')) w.push('e');
      else if (['bb', 'dd', 'ff', 'gg', 'mm', 'nn', 'pp', 'rr', 'tt'].some(ends)) w.pop();
      else if (w.length === p1 && shortv(w.length)) w.push('e');
    }
    // Step 1c
    const n = w.length;
    if ((w[n - 1] === 'y' || w[n - 1] === 'Y') && n > 2 && !EN_VOWEL(w[n - 2])) w[n - 1] = 'i';
    // Steps 2 and 3: the longest suffix decides, then its condition
    for (const table of [EN_STEP2, EN_STEP3]) {
      const hit = table.find(([s]) => ends(s));
      if (!hit) continue;
      const [s, by] = hit;
      const start = w.length - s.length;
      if (start < p1) continue;
      if (s === 'ogi' && w[start - 1] !== 'l') continue;
      if (s === 'li' && !'cdeghkmnrt'.includes(w[start - 1] || '-')) continue;
      if (s === 'ative' && start < p2) continue;
      replace(s.length, by);
    }
    // Step 4
    const s4 = EN_STEP4.find(ends);
    if (s4) {
      const start = w.length - s4.length;
      if (start >= p2 && (s4 !== 'ion' || w[start - 1] === 's' || w[start - 1] === 't')) replace(s4.length, '');
    }
    // Step 5
    const last = w.length - 1;
    if (w[last] === 'e' && (last >= p2 || (last >= p1 && !shortv(last)))) w.pop();
    else if (w[last] === 'l' && last >= p2 && w[last - 1] === 'l') w.pop();
  }
  const out = w.join('');
  return yFound ? out.replace(/Y/g, 'y') : out;
}

/** Folded words to index terms, with the generator's tables (from meta.json). */
export class Pipeline {
  constructor(meta) {
    this.stop = new Set(meta.stopwords);
    this.acronyms = new Set(meta.acronyms);
    this.overrides = new Map(Object.entries(meta.overrides));
    // an index states its language when it is not the guide's Italian
    this.stem = meta.language === 'en' ? snowballEnglish : snowball;
    this.cache = new Map();
  }

  term(w) {
    let t = this.cache.get(w);
    if (t === undefined) {
      t = this._term(w);
      this.cache.set(w, t);
    }
    return t;
  }

  _term(w) {
    if (this.stop.has(w)) return null;
    const chars = [...w];
    if (chars.length < 2 && !DIGITS_ONLY.test(w)) return null;
    if (this.acronyms.has(w)) return w;
    const o = this.overrides.get(w);
    if (o !== undefined) return o;
    if (HAS_DIGIT.test(w)) return w;
    return this.stem(w);
  }

  terms(text) {
    const out = [];
    for (const raw of rawWords(text)) {
      const t = this.term(fold(raw));
      if (t !== null) out.push(t);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Index files

const utf8 = new TextDecoder();

function varint(buf, st) {
  let v = 0;
  let shift = 0;
  for (;;) {
    const b = buf[st.pos++];
    if (b === undefined) throw new Error('truncated index file');
    v += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return v;
    shift += 7;
  }
}

function frontCoded(buf, st, base) {
  const shared = varint(buf, st);
  const len = varint(buf, st);
  const out = new Uint8Array(shared + len);
  out.set(base.subarray(0, shared));
  out.set(buf.subarray(st.pos, st.pos + len), shared);
  st.pos += len;
  return out;
}

/** A dictionary shard: sorted terms, their written forms, df and inline postings. */
export function decodeShard(buf) {
  const st = { pos: 0 };
  const n = varint(buf, st);
  const terms = [];
  const surfaces = [];
  const df = [];
  const inline = [];
  let prev = new Uint8Array(0);
  for (let i = 0; i < n; i++) {
    const term = frontCoded(buf, st, prev);
    const surface = frontCoded(buf, st, term);
    terms.push(utf8.decode(term));
    surfaces.push(utf8.decode(surface));
    df.push(varint(buf, st));
    const len = varint(buf, st);
    inline.push(len ? buf.subarray(st.pos, st.pos + len) : null);
    st.pos += len;
    prev = term;
  }
  const index = new Map(terms.map((t, i) => [t, i]));
  return { terms, surfaces, df, inline, index };
}

/** An ending shard: terms written backwards, sorted. */
export function decodeEndings(buf) {
  const st = { pos: 0 };
  const n = varint(buf, st);
  const keys = [];
  let prev = new Uint8Array(0);
  for (let i = 0; i < n; i++) {
    prev = frontCoded(buf, st, prev);
    keys.push(utf8.decode(prev));
  }
  return keys;
}

/** A string written backwards, by characters (as `shard::reversed`). */
export function reversed(s) {
  return [...s].reverse().join('');
}

/** Postings: doc ids and payload bytes. */
export function decodePostings(buf) {
  const docs = [];
  const pay = [];
  const st = { pos: 0 };
  let doc = 0;
  while (st.pos < buf.length) {
    doc += varint(buf, st);
    docs.push(doc);
    pay.push(buf[st.pos++]);
  }
  return { docs: Uint32Array.from(docs), pay: Uint8Array.from(pay) };
}

/** File name of a term: itself when [a-z0-9]+, else `_` and its UTF-8 in hex. */
export function fileName(term) {
  if (/^[a-z0-9]+$/.test(term)) return term;
  let s = '_';
  for (const b of new TextEncoder().encode(term)) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Damerau-Levenshtein distance (optimal string alignment), or max+1 when larger. */
export function distance(a, b, max) {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const n = a.length;
  const m = b.length;
  let pp = new Array(m + 1).fill(0);
  let p = Array.from({ length: m + 1 }, (_, j) => j);
  for (let i = 1; i <= n; i++) {
    const c = new Array(m + 1);
    c[0] = i;
    let rowMin = i;
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(p[j] + 1, c[j - 1] + 1, p[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, pp[j - 2] + 1);
      }
      c[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    pp = p;
    p = c;
  }
  return p[m];
}

const AGE = /(?:^|[^0-9])(([0-9]{1,3}) ?(?:anni|enne|years?|yo))(?![a-z])/;
const ISEE = /isee[^0-9]{0,24}(([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?: ?(?:euro|€))?)/;
const PERCENT = /(([0-9]{1,3}) ?(?:%|per ?cento))/;
const INVALIDITY = /invalid[a-z]*[^0-9]{0,8}(([0-9]{1,3}))(?![0-9])/;

/** The age a query states ("ho 70 anni", "76enne", "70 years old"), or null. */
export function statedAge(query) {
  return statedConditions(query).age;
}

/** The ISEE amount a query states ("ISEE di 5.000 euro", "isee sotto 9000"), or null. */
export function statedIsee(query) {
  return statedConditions(query).isee;
}

/** The invalidity percentage a query states ("invalidità al 70%", "invalido 100 per cento"), or null. */
export function statedInvalidity(query) {
  return statedConditions(query).invalidity;
}

/**
 * What a query states of a person, as the conditions of meta.json hold them: age, isee and
 * invalidity, each a number or null; and `words`, the folded words that state them (the
 * number and its unit), which are conditions rather than content.
 */
export function statedConditions(query) {
  const f = fold(query);
  const words = new Set();
  const take = (m, max) => {
    if (!m) return null;
    const v = Number(m[2].replace(/\./g, ''));
    if (v > max) return null;
    for (const w of rawWords(m[1])) words.add(w);
    return v;
  };
  const age = take(f.match(AGE), 120);
  const isee = take(f.match(ISEE), 1e7);
  const invalidity = /invalid|%|per ?cento/.test(f) ? take(f.match(PERCENT) || f.match(INVALIDITY), 100) : null;
  return { age, isee, invalidity, words };
}

/** An amount in euro as Italian offices write it: 9.530, 12.000. */
function euro(n) {
  return String(n).replace(/\B(?=([0-9]{3})+(?![0-9]))/g, '.');
}

/**
 * Which stated conditions a service's [age_min, age_max, isee_max, invalidity_min] (null: none)
 * bears on: [{kind, fits, vars}], kind one of ageMin, ageMax, ageRange, isee, invalidity.
 */
export function conditionsOf([ageMin, ageMax, iseeMax, invMin], stated) {
  const out = [];
  const { age, isee, invalidity } = stated;
  if (age !== null && (ageMin !== null || ageMax !== null)) {
    const kind = ageMin !== null && ageMax !== null ? 'ageRange' : ageMin !== null ? 'ageMin' : 'ageMax';
    const fits = (ageMin === null || age >= ageMin) && (ageMax === null || age <= ageMax);
    out.push({ kind, fits, vars: { min: ageMin, max: ageMax } });
  }
  if (isee !== null && iseeMax !== null) {
    out.push({ kind: 'isee', fits: isee <= iseeMax, vars: { max: euro(iseeMax) } });
  }
  if (invalidity !== null && invMin !== null) {
    out.push({ kind: 'invalidity', fits: invalidity >= invMin, vars: { min: invMin } });
  }
  return out;
}

const K1 = 1.2;
const B = 0.75;
const EXACT = 0;
const PREFIX = 1;
const TYPO = 2;
const LEX = 3;
// a term brought by the lexicon weighs less than the same term typed, and
// ranks like a prefix match: below a service that has the typed word itself
const KIND_WEIGHT = [1, 0.6, 0.45, 0.5];
const KIND_PENALTY = [0, 1, 2, 1];
const PREFIX_TERMS = 6;

// ---------------------------------------------------------------------------
// Engine

/** Index of the shard holding `key`: the number of shard starts <= key. */
function position(starts, key) {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The shards holding `keys`, and their neighbours that may hold keys of the same first letter. */
function around(starts, keys) {
  const out = new Set();
  for (const key of keys) {
    const at = position(starts, key);
    out.add(at);
    if (at > 0 && starts[at - 1][0] === key[0]) out.add(at - 1);
    else if (at > 0 && at - 1 === 0) out.add(0);
    if (at < starts.length && starts[at][0] === key[0]) out.add(at + 1);
  }
  return out;
}

async function fetchBytes(url) {
  // meta.json is revalidated every time: it names the version of the other
  // files (`?v=`), which caches may then keep without mixing two builds.
  const res = await fetch(url, /\/meta\.json$/.test(url) ? { cache: 'no-cache' } : {});
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export class SearchEngine {
  /**
   * @param {string|URL} base  URL of the index directory (ending in `/`)
   * @param {(url: string) => Promise<Uint8Array>} [load]  fetches a file (every URL but
   *   meta.json's ends in `?v=<version of the index>`)
   */
  constructor(base, load = fetchBytes) {
    this.base = String(base);
    this.load = load;
    this.files = new Map();
  }

  _file(path) {
    let p = this.files.get(path);
    if (!p) {
      p = this.load(this.base + path + (this.version ? `?v=${this.version}` : ''));
      this.files.set(path, p);
      p.catch(() => this.files.delete(path));
    }
    return p;
  }

  async _json(path) {
    return JSON.parse(utf8.decode(await this._file(path)));
  }

  meta() {
    if (!this.metaP) {
      this.metaP = this._json('meta.json').then((m) => {
        if (m.format !== 1) throw new Error(`unknown index format ${m.format}`);
        this.pipeline = new Pipeline(m);
        this.version = m.version;
        return m;
      });
      this.metaP.catch(() => { this.metaP = null; });
    }
    return this.metaP;
  }

  _shardIndex(meta, term) {
    return position(meta.shards, term);
  }

  /** A file decoded once: `key` names the decoded form in the cache. */
  _decoded(key, path, decode) {
    let d = this.files.get(key);
    if (!d) {
      d = this._file(path).then(decode);
      this.files.set(key, d);
      d.catch(() => this.files.delete(key));
    }
    return d;
  }

  /** Dictionary shard `i`. */
  _shard(meta, i) {
    return this._decoded('t' + i, `t/${fileName(i === 0 ? '' : meta.shards[i - 1])}.bin`, decodeShard);
  }

  /** Ending shard `i`. */
  _ending(meta, i) {
    return this._decoded('e' + i, `e/${fileName(i === 0 ? '' : meta.ends[i - 1])}.bin`, decodeEndings);
  }

  async _postings(shard, i) {
    if (!shard.decoded) shard.decoded = new Map();
    let p = shard.decoded.get(i);
    if (!p) {
      p = shard.inline[i]
        ? Promise.resolve(decodePostings(shard.inline[i]))
        : this._file(`p/${fileName(shard.terms[i])}.bin`).then(decodePostings);
      shard.decoded.set(i, p);
    }
    return p;
  }

  /** Lexicon file `i`: entries by their first term. */
  _lexShard(meta, i) {
    return this._decoded('l' + i, `l/${fileName(i === 0 ? '' : meta.lexicon[i - 1])}.json`,
      (b) => JSON.parse(utf8.decode(b)));
  }

  /**
   * Applies the lexicon (generator/src/index/lexicon.rs) to the parsed words. A key that
   * starts at a word, its other terms following, gives that word the key's targets (`lex`:
   * term lists) and spares the key's words the typo search; a frame ("come si fa a") marks
   * its words, which are left out when the query has other words. Reads only the lexicon
   * files of the query's own terms.
   */
  async _lexicon(meta, words) {
    if (!Array.isArray(meta.lexicon)) return words;
    const files = await Promise.all(words.map((w) => (w.term === null
      ? null
      : this._lexShard(meta, position(meta.lexicon, w.term)))));
    words.forEach((w, k) => {
      const file = files[k];
      const list = file && Object.prototype.hasOwnProperty.call(file, w.term) ? file[w.term] : null;
      if (!list) return;
      for (const [rest, targets] of list) {
        if (!rest.every((t, j) => words[k + 1 + j] !== undefined && words[k + 1 + j].term === t)) continue;
        const span = words.slice(k, k + 1 + rest.length);
        if (targets.length === 0) {
          for (const x of span) x.frame = true;
        } else {
          w.lex = (w.lex || []).concat(targets);
          // a key of several words is the words' meaning together: it stands for the first
          // word ("sedia" of "sedia a rotelle" is no "sede"), and ranks like an exact match
          if (rest.length) w.phrase = true;
          for (const x of span) x.noTypo = true;
          for (const x of span.slice(1)) x.tail = true;
        }
      }
    });
    // a word of a key after its first stands in the first word's targets, unless it has its own
    for (const w of words) if (w.tail && !w.lex) w.covered = true;
    const content = words.filter((w) => !w.frame);
    return content.length ? content : words;
  }

  /** Candidate terms of one query word: [{shard, i, kind}] (lexicon targets: also phrase, n) */
  async _candidates(meta, word) {
    const out = [];
    // a word of a lexicon key after its first stands in the first word's targets
    if (word.covered) return out;
    const seen = new Set();
    const add = (shard, i, kind) => {
      const t = shard.terms[i];
      if (!seen.has(t)) {
        seen.add(t);
        out.push({ shard, i, kind });
      }
    };
    if (word.term !== null && !word.phrase) {
      const shard = await this._shard(meta, this._shardIndex(meta, word.term));
      const i = shard.index.get(word.term);
      if (i !== undefined) add(shard, i, EXACT);
    }
    if (word.prefix && !word.phrase && word.folded.length >= 2) {
      const from = this._shardIndex(meta, word.folded);
      const to = this._shardIndex(meta, word.folded + '\uffff');
      const found = [];
      const range = Array.from({ length: to - from + 1 }, (_, k) => this._shard(meta, from + k));
      for (const shard of await Promise.all(range)) {
        shard.terms.forEach((t, i) => {
          if (t.startsWith(word.folded) && t !== word.term) found.push({ shard, i });
        });
      }
      found.sort((a, b) => b.shard.df[b.i] - a.shard.df[a.i]);
      for (const f of found.slice(0, PREFIX_TERMS)) add(f.shard, f.i, PREFIX);
    }
    if (word.lex) {
      const terms = [...new Set([].concat(...word.lex))];
      const shards = await Promise.all(terms.map((t) => this._shard(meta, this._shardIndex(meta, t))));
      word.lex.forEach((list, p) => {
        const phrase = new Set(list);
        for (const t of phrase) {
          const shard = shards[terms.indexOf(t)];
          const i = shard.index.get(t);
          if (i !== undefined) out.push({ shard, i, kind: word.phrase ? EXACT : LEX, lex: true, phrase: p, n: phrase.size });
        }
      });
    }
    const letters = [...word.folded].length;
    if (out.length === 0 && !word.noTypo && word.term !== null && letters >= 4 && !HAS_DIGIT.test(word.folded)) {
      const max = letters >= 8 ? 2 : 1;
      // rank: distance, then a match of the written word before a match of the stem
      let best = [];
      let bestKey = Infinity;
      const considered = new Set();
      const consider = (shard, i) => {
        const t = shard.terms[i];
        if (considered.has(t)) return;
        considered.add(t);
        const dw = distance(word.folded, fold(shard.surfaces[i]), max);
        const dt = distance(word.term, t, max);
        const d = Math.min(dw, dt);
        if (d > max) return;
        const key = 2 * d + (dw <= dt ? 0 : 1);
        if (key < bestKey) {
          bestKey = key;
          best = [{ shard, i }];
        } else if (key === bestKey) {
          best.push({ shard, i });
        }
      };
      // The shard of the word and its neighbours that hold words of the same
      // first letter; and, since a typo in the first letters puts the word in
      // another part of the dictionary, the ending shards around it written
      // backwards. Fetched together: on a slow phone every round trip counts.
      const shards = [...around(meta.shards, [word.term, word.folded])].map((s) => this._shard(meta, s));
      const ends = meta.ends
        ? [...around(meta.ends, [reversed(word.term), reversed(word.folded)])].map((e) => this._ending(meta, e))
        : [];
      for (const shard of await Promise.all(shards)) shard.terms.forEach((t, i) => consider(shard, i));
      const near = [];
      for (const keys of await Promise.all(ends)) {
        for (const key of keys) {
          const t = reversed(key);
          if (!considered.has(t) && Math.min(distance(word.folded, t, max), distance(word.term, t, max)) <= max) {
            near.push(t);
          }
        }
      }
      const nearShards = await Promise.all(near.map((t) => this._shard(meta, this._shardIndex(meta, t))));
      near.forEach((t, k) => {
        const i = nearShards[k].index.get(t);
        if (i !== undefined) consider(nearShards[k], i);
      });
      best.sort((a, b) => b.shard.df[b.i] - a.shard.df[a.i]);
      for (const c of best.slice(0, 3)) add(c.shard, c.i, TYPO);
      if (best.length) word.suggestion = best[0].shard.surfaces[best[0].i];
    }
    return out;
  }

  /** Splits a query into words; the last one is a prefix while typing. */
  parse(query, typing) {
    const raws = rawWords(query);
    const partial = typing && raws.length > 0 && !ENDS_OPEN.test(query);
    const words = [];
    const seen = new Set();
    raws.forEach((raw, k) => {
      const folded = fold(raw);
      const term = this.pipeline.term(folded);
      const prefix = partial && k === raws.length - 1 && (term !== null || folded.length >= 3);
      if (term === null && !prefix) return;
      const key = (term === null ? '' : term) + (prefix ? '*' + folded : '');
      if (seen.has(key)) return;
      seen.add(key);
      words.push({ raw, folded, term, prefix });
    });
    return words;
  }

  /**
   * Ranks the services for `query`.
   * @param {string} query
   * @param {{typing?: boolean, category?: string, audience?: string}} [opts]
   * @returns {Promise<{ids: number[], words: object[], suggestion: string|null}>}
   */
  async search(query, opts = {}) {
    const meta = await this.meta();
    const stated = statedConditions(query);
    let words = await this._lexicon(meta, this.parse(query, !!opts.typing));
    // the words that state a condition ("70 anni", "5.000 euro") rank by it, not as content
    const content = words.filter((w) => !stated.words.has(w.folded));
    if (content.length) words = content;
    const n = meta.docs;
    if (words.length === 0 || n === 0) return { ids: [], words, suggestion: null };
    const cands = await Promise.all(words.map((w) => this._candidates(meta, w)));
    const matched = new Uint8Array(n);
    const kinds = new Uint8Array(n);
    const titles = new Uint8Array(n);
    const score = new Float64Array(n);
    const best = new Float64Array(n);
    const bestKind = new Uint8Array(n);
    const bestTitle = new Uint8Array(n);
    const avgdl = meta.avgdl || 1;
    for (let w = 0; w < words.length; w++) {
      best.fill(0);
      const touched = [];
      const lists = await Promise.all(cands[w].map((c) => this._postings(c.shard, c.i)));
      const take = (d, s, kind, title) => {
        if (best[d] === 0) touched.push(d);
        // a service that has the word itself keeps its kind when a lexicon target scores higher
        if (kind === LEX && best[d] > 0 && bestKind[d] !== LEX) {
          if (s > best[d]) best[d] = s;
          return;
        }
        const first = best[d] === 0;
        if (s > best[d] || (s === best[d] && KIND_PENALTY[kind] < KIND_PENALTY[bestKind[d]])) {
          best[d] = s;
          if (first || KIND_PENALTY[kind] < KIND_PENALTY[bestKind[d]]) bestKind[d] = kind;
          bestTitle[d] = Math.max(first ? 0 : bestTitle[d], title);
        } else if (KIND_PENALTY[kind] < KIND_PENALTY[bestKind[d]]) {
          // a service that has the word as typed is no prefix match because a longer word of
          // it ("carer" for "care") scores more
          bestKind[d] = kind;
          bestTitle[d] = Math.max(bestTitle[d], title);
        }
      };
      // a lexicon target phrase matches a service that has all its terms, and scores the
      // mean of their scores
      const phrases = new Map();
      cands[w].forEach((c, k) => {
        const df = c.shard.df[c.i];
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        const kw = KIND_WEIGHT[c.kind];
        const { docs, pay } = lists[k];
        for (let j = 0; j < docs.length; j++) {
          const d = docs[j];
          const p = pay[j];
          const tf = 2 ** (((p >> 3) & 15) / 2) - 1;
          const dl = 50 * 2 ** ((p & 7) / 2);
          const s = kw * idf * (tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * dl) / avgdl));
          if (c.lex) {
            let m = phrases.get(c.phrase);
            if (!m) phrases.set(c.phrase, (m = { kind: c.kind, n: c.n, docs: new Map() }));
            const x = m.docs.get(d) || { s: 0, titles: 0, terms: 0 };
            x.s += s / c.n;
            x.titles += p >> 7;
            x.terms++;
            m.docs.set(d, x);
          } else {
            take(d, s, c.kind, p >> 7);
          }
        }
      });
      for (const m of phrases.values()) {
        for (const [d, x] of m.docs) if (x.terms === m.n) take(d, x.s, m.kind, x.titles === m.n ? 1 : 0);
      }
      // a word found in more than half of the services (BM25's idf <= 0) does
      // not tell them apart: it ranks, but does not count as a matched word
      const informative = cands[w].some((c) => c.shard.df[c.i] <= n / 2);
      for (const d of touched) {
        if (informative) matched[d]++;
        // a word that does not tell services apart does not rank them by kind either
        if (informative || bestKind[d] !== LEX) kinds[d] += KIND_PENALTY[bestKind[d]];
        titles[d] += bestTitle[d];
        score[d] += best[d];
      }
    }
    let filter = null;
    for (const [kind, slug] of [['c', opts.category], ['a', opts.audience]]) {
      if (!slug) continue;
      const bits = await this._file(`f/${kind}-${slug}.bin`).catch(() => new Uint8Array(0));
      const f = (d) => (bits[d >> 3] >> (d & 7)) & 1;
      const prev = filter;
      filter = prev ? (d) => prev(d) && f(d) : f;
    }
    // a stated age, ISEE or invalidity: a service whose conditions admit the person comes before
    // the others that match as many words; one whose conditions exclude the person comes after
    // every other
    const conditions = new Map();
    if (Array.isArray(meta.conditions)) {
      for (const [d, ...c] of meta.conditions) {
        const found = conditionsOf(c, stated);
        if (found.length) conditions.set(d, found);
      }
    }
    const ids = [];
    const key = new Float64Array(n);
    const q = words.length;
    for (let d = 0; d < n; d++) {
      if (!score[d] || (filter && !filter(d))) continue;
      ids.push(d);
      const boost = 1 + titles[d] / q; // title coverage
      key[d] = matched[d] * 1e9 - kinds[d] * 1e7 + Math.min(score[d] * boost, 9e6);
      for (const c of conditions.get(d) || []) key[d] += c.fits ? 5e8 : -1e13;
    }
    ids.sort((a, b) => key[b] - key[a] || a - b);
    const typos = words.filter((w) => w.suggestion);
    let suggestion = null;
    if (typos.length) {
      suggestion = words
        .map((w) => w.suggestion || w.raw)
        .join(' ');
    }
    return { ids, words, suggestion, stated, conditions };
  }

  /** Title, URL, summary and category of documents. */
  async fragments(ids) {
    const meta = await this.meta();
    const g = meta.group;
    const files = await Promise.all(ids.map((d) => this._json(`r/${Math.floor(d / g)}.json`)));
    return ids.map((d, k) => {
      const [title, url, summary, cat] = files[k][d % g];
      return { id: d, title, url, summary, category: meta.categories[cat] ? meta.categories[cat].name : '' };
    });
  }
}

// ---------------------------------------------------------------------------
// User interface (browser only)
//
// sportello.js (a classic script, run on every page) loads this module on the
// first focus of a search box, so a page costs nothing of it before then.
// Results, the status line and the filters are created on the first query:
// before it the page holds no empty list and nothing is inserted late.

const PAGE = 10;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children);
  return e;
}

function label(form, name, vars = {}) {
  const s = form.dataset['t' + name[0].toUpperCase() + name.slice(1)] || '';
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined || vars[k] === null ? '' : vars[k]));
}

function enhance(form, engine) {
  const input = form.querySelector('input[name="q"]');
  if (!input || form.dataset.enhanced) return;
  form.dataset.enhanced = '1';
  // "page": the search page (filters, address in sync); "home": filters; "compact": the header
  const kind = form.dataset.search;
  const full = kind !== 'compact';
  const isPage = kind === 'page';
  const params = new URLSearchParams(location.search);
  const id = (s) => `${input.id}-${s}`;
  const selects = {};
  let ui = null; // built on the first query
  let filtersFilled = null;

  // The results box: over the page under the box (header and home, so that
  // nothing below moves), in the flow on the search page.
  const build = () => {
    if (ui) return ui;
    const box = el('div', { class: `search-results${isPage ? '' : ' search-overlay'}`, id: id('results') });
    const status = el('p', { class: 'search-status', role: 'status', id: id('status') });
    const suggest = el('p', { class: 'search-suggest', hidden: true });
    const list = el('ul', { class: 'search-list', id: id('list'), 'aria-label': label(form, 'resultsLabel') });
    const more = el('button', { type: 'button', class: 'search-more', hidden: true, text: label(form, 'more') });
    const allLink = full
      ? null
      : el('p', { class: 'search-all', hidden: true }, el('a', { href: form.action, text: label(form, 'all') }));
    // The count comes after the list: the first result sits right under the box (with a
    // phone's keyboard open), and nothing moves when the count is announced.
    box.append(suggest, list, status, more);
    if (allLink) box.append(allLink);
    let filters = null;
    if (full) {
      // After the results, and only once there are some; collapsed on the
      // home page, open on the search page (or when the address sets one).
      filters = el('details', { class: 'search-filters', hidden: true });
      filters.append(el('summary', { text: label(form, 'filters') }));
      const row = el('div', { class: 'search-filter-row' });
      for (const [key, k] of [['category', 'c'], ['audience', 'a']]) {
        const sel = el('select', { id: id(key), name: k });
        sel.append(el('option', { value: '', text: label(form, 'any') }));
        row.append(el('div', { class: 'search-filter' },
          el('label', { for: sel.id, text: label(form, key) }), sel));
        selects[key] = sel;
        sel.addEventListener('change', () => run(false));
      }
      filters.append(row);
      if (isPage || params.get('c') || params.get('a')) filters.open = true;
      box.append(filters);
      filtersFilled = engine.meta().then((meta) => {
        for (const [key, terms] of [['category', meta.categories], ['audience', meta.audiences]]) {
          for (const f of terms) if (f.n > 0) selects[key].append(el('option', { value: f.slug, text: f.name }));
        }
        if (isPage) {
          selects.category.value = params.get('c') || '';
          selects.audience.value = params.get('a') || '';
        }
      }).catch(() => {});
    }
    // inside the form (its search landmark), so the overlay sits right under the box
    form.append(box);
    input.setAttribute('aria-controls', list.id);
    list.addEventListener('keydown', (e) => {
      const links = [...list.querySelectorAll('a')];
      const i = links.indexOf(document.activeElement);
      if (i < 0) return;
      if (e.key === 'Escape') {
        // close the list and go back to the box, the words kept
        e.preventDefault();
        close();
        input.focus();
        return;
      }
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      e.preventDefault();
      if (e.key === 'ArrowDown') links[Math.min(i + 1, links.length - 1)].focus();
      else if (i === 0) input.focus();
      else links[i - 1].focus();
    });
    more.addEventListener('click', async () => {
      if (!current) return;
      const before = shown.length;
      await render(current.res, current.query, false);
      const next = list.children[before];
      const a = next && next.querySelector('a');
      if (a) a.focus();
    });
    ui = { box, status, suggest, list, more, allLink, filters };
    return ui;
  };

  let timer = 0;
  let announceTimer = 0;
  let seq = 0;
  let shown = [];
  let current = null;

  const close = () => {
    if (!ui) return;
    // a search still waiting for its keystroke pause or its files must not reopen the list
    clearTimeout(timer);
    seq++;
    ui.box.hidden = true;
  };

  // `fresh`: a new result list replaces the shown one in a single step, once its fragments
  // have arrived (the list never flashes empty while typing); else the next page is added.
  const render = async (res, query, typing, fresh = false) => {
    const my = seq;
    const { status, suggest, list, more, allLink, filters } = ui;
    const from = fresh ? 0 : shown.length;
    const ids = res.ids.slice(0, from + PAGE);
    const frags = await engine.fragments(ids.slice(from));
    if (my !== seq) return;
    const items = frags.map((f) => {
      const li = el('li', { class: 'search-item' },
        el('a', { href: f.url, class: 'search-title', text: f.title }),
        el('p', { class: 'search-summary', text: f.summary }),
        el('p', { class: 'meta', text: f.category }));
      // the query states an age, ISEE or invalidity the service has a condition on: say it
      for (const c of (res.conditions && res.conditions.get(f.id)) || []) {
        li.append(el('p', { class: 'search-condition meta', text: label(form, c.kind, c.vars) }));
      }
      return li;
    });
    if (fresh) list.replaceChildren(...items);
    else list.append(...items);
    shown = ids;
    more.hidden = res.ids.length <= shown.length;
    if (allLink) {
      allLink.hidden = res.ids.length === 0;
      allLink.firstChild.href = `${form.action}?q=${encodeURIComponent(query)}`;
    }
    // filters only make sense once there is something to filter (or a filter is set)
    if (filters) filters.hidden = res.ids.length === 0 && !selects.category.value && !selects.audience.value;
    suggest.replaceChildren();
    suggest.hidden = !res.suggestion;
    if (res.suggestion) {
      const a = el('a', { href: `${form.action}?q=${encodeURIComponent(res.suggestion)}`, text: res.suggestion });
      a.addEventListener('click', (e) => {
        e.preventDefault();
        input.value = res.suggestion;
        run(false);
        input.focus();
      });
      suggest.append(label(form, 'didYouMean') + ' ', a, '?');
    }
    const count = res.ids.length;
    const msg = label(form, count === 0 ? 'none' : count === 1 ? 'one' : 'many', { n: count, q: query.trim() });
    clearTimeout(announceTimer);
    // announce once typing has stopped, not at every keystroke
    announceTimer = setTimeout(() => { status.textContent = msg; }, typing ? 700 : 50);
  };

  const run = async (typing) => {
    const my = ++seq;
    const query = input.value;
    if (!query.trim()) {
      clearTimeout(announceTimer);
      if (ui) {
        ui.box.hidden = true;
        ui.list.replaceChildren();
        ui.status.textContent = '';
      }
      shown = [];
      if (isPage) syncAddress(query);
      return;
    }
    const { box, status } = build();
    if (filtersFilled) await filtersFilled;
    if (my !== seq) return;
    if (isPage) syncAddress(query);
    box.hidden = false;
    try {
      const res = await engine.search(query, {
        typing,
        category: full ? selects.category.value : '',
        audience: full ? selects.audience.value : '',
      });
      if (my !== seq) return;
      current = { res, query, typing };
      await render(res, query, typing, true);
    } catch (err) {
      if (my !== seq) return;
      status.textContent = label(form, 'error');
      console.error(err);
    }
  };

  const syncAddress = (query) => {
    const url = new URL(location.href);
    url.searchParams.set('q', query);
    for (const [k, sel] of [['c', selects.category], ['a', selects.audience]]) {
      if (sel && sel.value) url.searchParams.set(k, sel.value);
      else url.searchParams.delete(k);
    }
    history.replaceState(null, '', url);
  };

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(true), 150);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && ui && ui.list.firstElementChild && input.value.trim()) {
      e.preventDefault();
      ui.box.hidden = false;
      ui.list.querySelector('a').focus();
    } else if (e.key === 'Escape') {
      if (ui && !ui.box.hidden) close();
      else if (input.value) {
        input.value = '';
        run(false);
      }
    }
  });
  // A click in the box shows the results again (after Escape or leaving);
  // coming back to it with Escape does not.
  input.addEventListener('click', () => {
    if (ui && ui.box.hidden && input.value.trim() && ui.list.firstElementChild) ui.box.hidden = false;
  });
  // An overlay closes when the focus leaves the form and its results.
  if (!isPage) {
    form.parentElement.addEventListener('focusout', (e) => {
      const to = e.relatedTarget;
      if (to && (form.contains(to) || (ui && ui.box.contains(to)))) return;
      if (to) close();
    });
  }
  if (isPage) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      clearTimeout(timer);
      run(false);
    });
    const q = params.get('q');
    if (q) {
      input.value = q;
      run(false);
      return;
    }
  }
  // Words typed while this module was loading.
  if (input.value.trim()) run(document.activeElement === input);
}

function init() {
  const forms = document.querySelectorAll('form[data-search]');
  if (!forms.length) return;
  // The index lives next to this file; the loader marks the script tag.
  const tag = document.querySelector('script[data-search-module]');
  const here = tag ? tag.src : location.href;
  // An edition in another language names its own index (`data-index`).
  const own = forms[0].getAttribute('data-index');
  const engine = new SearchEngine(own ? new URL(own, location.href) : new URL('search/', here));
  forms.forEach((form) => enhance(form, engine));
  document.documentElement.classList.add('search-ready');
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}
