// The terms of a text for full-text search (BM25, issue 14): the same function
// runs on every document added and on every query, so both meet on the same terms.
//
// A word is what Unicode's word segmentation (UAX #29, Intl.Segmenter) calls one,
// cut further at every character that is not a letter, mark or number, so that
// `sap.ui.core`, `fiori-tools`, `my_var` and `don't` give their parts. The
// segmenter costs microseconds a word, so it is asked only where it can change
// the answer: the text is first cut into runs of letters, marks and numbers
// (which no word crosses once it is cut at the rest), and a run is taken whole
// when UAX #29 cannot split it: ASCII, scripts whose letters, marks and digits
// always join (Latin, Greek, Cyrillic, Arabic, Hebrew, Indic, ...), or Hangul
// alone. Other runs (Chinese, Japanese, Thai, Lao, Khmer, Myanmar, mixed
// scripts, other numbers) go to the segmenter, which knows their words.
//
// 'english' then drops stop words and stems with Porter's algorithm (1980);
// 'none' keeps every word as it is.

/** How a text's words become terms: 'english' drops stop words and stems, 'none' keeps words as they are. */
export type TextLanguage = 'english' | 'none';
/** Every {@link TextLanguage}, for checking an option's value. */
/** By their index in stored stores; the first is the default. */
export const TEXT_LANGUAGES: readonly TextLanguage[] = ['english', 'none'];
/**
 * This tokenizer's version, kept with every store's terms (core/hybrid.h): a
 * change that makes different terms of the same text (stop words, stemming,
 * splitting) takes the next number, and stores whose terms an older version
 * made then refuse to load with UNSUPPORTED_VERSION instead of silently
 * missing documents.
 */
export const TOKENIZER_VERSION = 1;

// A run is letters, marks and numbers; it starts with a letter or number, as a
// mark with no base before it belongs to no word. ASCII is looked up in a table,
// the rest matched at its position (sticky) by these.
const ASCII_WORD = new Uint8Array(128).fill(1, 48, 58).fill(1, 97, 123); // 0-9 a-z (the text is lower case)
const RUN_START = /[\p{L}\p{N}]/uy;
const RUN_REST = /[\p{L}\p{M}\p{N}]*/uy;
// Runs that UAX #29 keeps as one word: letters of scripts that join with each
// other and with digits and marks (ALetter, Hebrew_Letter, Numeric, Extend), with
// no dictionary-segmented script among them ...
const ONE_WORD = new RegExp(`^[${[
  'Latin', 'Greek', 'Cyrillic', 'Armenian', 'Georgian', 'Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Nko',
  'Devanagari', 'Bengali', 'Gurmukhi', 'Gujarati', 'Oriya', 'Tamil', 'Telugu', 'Kannada', 'Malayalam',
  'Sinhala', 'Tibetan', 'Ethiopic', 'Cherokee', 'Canadian_Aboriginal', 'Mongolian', 'Inherited',
].map((s) => `\\p{Script=${s}}`).join('')}\\p{Nd}]+$`, 'u');
// ... but not their other numbers (Bengali or Tamil fractions ...), which UAX #29 does not join.
const OTHER_NUMBER = /\p{No}/u;
// Hangul joins with Hangul only (`sap의` is two words).
const HANGUL = /^[\p{Script=Hangul}\p{M}]+$/u;

let segmenter: Intl.Segmenter | null | undefined; // undefined: not made yet; null: the platform has none

function wordSegmenter(): Intl.Segmenter | null {
  if (segmenter === undefined) {
    segmenter = typeof Intl === 'object' && typeof Intl.Segmenter === 'function'
      ? new Intl.Segmenter(undefined, { granularity: 'word' }) : null;
  }
  return segmenter;
}

/**
 * The terms of `text` in order, repeats kept: NFKC, lower case, words cut at
 * every character that is not a letter, mark or number; numbers are terms.
 * With 'english', stop words are dropped (a possessive's `s` among them) and
 * words of ASCII letters are stemmed (Porter); other words are kept as they are.
 * Words longer than maxTermBytes UTF-8 bytes (before stemming) are dropped:
 * the core refuses longer terms, and says how long.
 */
export function tokenize(text: string, language: TextLanguage, maxTermBytes: number): string[] {
  const terms: string[] = [];
  const english = language === 'english';
  const t = text.normalize('NFKC').toLowerCase();
  const end = t.length;
  let i = 0;
  while (i < end) {
    const c = t.charCodeAt(i);
    if (c < 128 ? ASCII_WORD[c] === 0 : !startsRun(t, i)) {
      // Past the character; a surrogate pair is one (sticky matching must not start inside it).
      i += c >= 0xD800 && c < 0xDC00 && (t.charCodeAt(i + 1) & 0xFC00) === 0xDC00 ? 2 : 1;
      continue;
    }
    // The run's ASCII head, then (at the first other character) the rest by RUN_REST.
    let j = i;
    let letters = true;
    let d = c;
    while (d < 128 && ASCII_WORD[d] === 1) {
      if (d < 97) letters = false;
      if (++j === end) break;
      d = t.charCodeAt(j);
    }
    if (j < end && d >= 128) {
      RUN_REST.lastIndex = j;
      RUN_REST.test(t);
      j = RUN_REST.lastIndex;
      addRun(terms, t.slice(i, j), english, maxTermBytes);
    } else {
      addTerm(terms, t.slice(i, j), letters, english, maxTermBytes);
    }
    i = j;
  }
  return terms;
}

function startsRun(t: string, i: number): boolean {
  RUN_START.lastIndex = i;
  return RUN_START.test(t);
}

/** A run with characters beyond ASCII: one word, or the segmenter's words. */
function addRun(terms: string[], run: string, english: boolean, maxTermBytes: number): void {
  const words = (ONE_WORD.test(run) && !OTHER_NUMBER.test(run)) || HANGUL.test(run) ? null : wordSegmenter();
  if (words === null) {
    addTerm(terms, run, false, english, maxTermBytes);
    return;
  }
  for (const s of words.segment(run)) {
    if (s.isWordLike) addTerm(terms, s.segment, isLowerAscii(s.segment), english, maxTermBytes);
  }
}

function addTerm(terms: string[], word: string, letters: boolean, english: boolean, maxTermBytes: number): void {
  // A UTF-16 unit is at most 3 UTF-8 bytes (a surrogate pair, 2 units, is 4).
  if (word.length * 3 > maxTermBytes && utf8Length(word) > maxTermBytes) return;
  if (english) {
    if (STOP_WORDS.has(word)) return;
    if (letters) word = stem(word);
  }
  terms.push(word);
}

function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x800) n += c >= 0xD800 && c < 0xE000 ? 1 : 2; // each surrogate: 2 bytes
    else if (c >= 0x80) n += 1;
  }
  return n;
}

function isLowerAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 97 || c > 122) return false;
  }
  return true;
}

// English function words, with the parts that contractions split into
// (don't: don, t; we've: ve; user's: s). Compared before stemming.
const STOP_WORDS = new Set((
  'a about above after again against all am an and any are as at be because been before being below between ' +
  'both but by can could did do does doing down during each few for from further had has have having he her ' +
  'here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not ' +
  'now of off on once only or other our ours ourselves out over own same she should so some such than that the ' +
  'their theirs them themselves then there these they this those through to too under until up very was we ' +
  'were what when where which while who whom why will with would you your yours yourself yourselves ' +
  's t d ll m re ve don doesn didn isn aren wasn weren hasn haven hadn won wouldn shouldn couldn'
).split(' '));

// Porter's stemmer, as published: M. F. Porter, "An algorithm for suffix
// stripping", Program 14(3), 1980, pp. 130-137. Like his reference
// implementation, it leaves words of one or two letters alone ("is", "us", "os").
// It works on `w`, the word, whose stem is w[0, k); a step shortens k or
// replaces the end of w.

let w = '';
let k = 0;

/** Whether w[i] is a consonant: not a, e, i, o, u, nor a y after a consonant. */
function isConsonant(i: number): boolean {
  switch (w.charCodeAt(i)) {
    case 97: case 101: case 105: case 111: case 117: return false;
    case 121: return i === 0 || !isConsonant(i - 1);
    default: return true;
  }
}

/** m, the number of vowel-consonant sequences in w[0, n) = [C](VC)^m[V]. */
function measure(n: number): number {
  let m = 0;
  let i = 0;
  while (i < n && isConsonant(i)) i++;
  for (;;) {
    while (i < n && !isConsonant(i)) i++;
    if (i === n) return m;
    while (i < n && isConsonant(i)) i++;
    m++;
  }
}

/** *v*: w[0, n) contains a vowel. */
function hasVowel(n: number): boolean {
  for (let i = 0; i < n; i++) if (!isConsonant(i)) return true;
  return false;
}

/** *d: w[0, n) ends with a double consonant. */
function endsDouble(n: number): boolean {
  return n >= 2 && w.charCodeAt(n - 1) === w.charCodeAt(n - 2) && isConsonant(n - 1);
}

/** *o: w[0, n) ends consonant, vowel, consonant, the last not w, x or y. */
function endsCvc(n: number): boolean {
  if (n < 3 || !isConsonant(n - 1) || isConsonant(n - 2) || !isConsonant(n - 3)) return false;
  const c = w.charCodeAt(n - 1);
  return c !== 119 && c !== 120 && c !== 121;
}

/** w[0, k) ends with `suffix` (compared here: a call to startsWith costs more than the loop). */
function endsWith(suffix: string): boolean {
  const n = suffix.length;
  if (k < n) return false;
  for (let i = 1; i <= n; i++) if (w.charCodeAt(k - i) !== suffix.charCodeAt(n - i)) return false;
  return true;
}

/** The stem becomes w[0, at) followed by `tail`. */
function replaceEnd(at: number, tail: string): void {
  w = w.slice(0, at) + tail;
  k = w.length;
}

type Rule = readonly [suffix: string, replacement: string];

// A step's rules by their suffix's next-to-last letter, longest first: of the
// suffixes that match, only the longest is tried (if its condition fails, the step does nothing).
function rulesByLetter(rules: Rule[]): Rule[][] {
  const table: Rule[][] = Array.from({ length: 123 }, () => []);
  for (const rule of rules.sort((a, b) => b[0].length - a[0].length)) {
    table[rule[0].charCodeAt(rule[0].length - 2)]!.push(rule);
  }
  return table;
}

const STEP2 = rulesByLetter([
  ['ational', 'ate'], ['tional', 'tion'], ['enci', 'ence'], ['anci', 'ance'], ['izer', 'ize'],
  ['abli', 'able'], ['alli', 'al'], ['entli', 'ent'], ['eli', 'e'], ['ousli', 'ous'],
  ['ization', 'ize'], ['ation', 'ate'], ['ator', 'ate'], ['alism', 'al'], ['iveness', 'ive'],
  ['fulness', 'ful'], ['ousness', 'ous'], ['aliti', 'al'], ['iviti', 'ive'], ['biliti', 'ble'],
]);
const STEP3 = rulesByLetter([
  ['icate', 'ic'], ['ative', ''], ['alize', 'al'], ['iciti', 'ic'], ['ical', 'ic'], ['ful', ''], ['ness', ''],
]);
const STEP4 = rulesByLetter([
  'al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'ion', 'ou',
  'ism', 'ate', 'iti', 'ous', 'ive', 'ize',
].map((suffix): Rule => [suffix, '']));

/** Steps 2, 3 and 4: (m > minMeasure) suffix -> replacement; step 4's ion also needs an s or t before it. */
function replaceSuffix(rules: Rule[][], minMeasure: number): void {
  if (k < 2) return;
  const group = rules[w.charCodeAt(k - 2)];
  if (group === undefined) return;
  for (let r = 0; r < group.length; r++) {
    const [suffix, replacement] = group[r]!;
    if (!endsWith(suffix)) continue;
    const stemEnd = k - suffix.length;
    if (measure(stemEnd) > minMeasure && (suffix !== 'ion' || w[stemEnd - 1] === 's' || w[stemEnd - 1] === 't')) {
      replaceEnd(stemEnd, replacement);
    }
    return;
  }
}

function stem(word: string): string {
  if (word.length <= 2) return word;
  w = word;
  k = word.length;
  // Step 1a: sses -> ss, ies -> i, ss -> ss, s -> .
  if (w.charCodeAt(k - 1) === 115) {
    if (endsWith('sses') || endsWith('ies')) k -= 2;
    else if (w.charCodeAt(k - 2) !== 115) k--;
  }
  // Step 1b: (m > 0) eed -> ee; (*v*) ed -> ; (*v*) ing -> ; then tidy the stem.
  let cut = 0;
  const last = w.charCodeAt(k - 1);
  if (last === 100 && w.charCodeAt(k - 2) === 101) { // ed
    if (w.charCodeAt(k - 3) !== 101) cut = 2;
    else if (measure(k - 3) > 0) k--;
  } else if (last === 103 && endsWith('ing')) {
    cut = 3;
  }
  if (cut > 0 && hasVowel(k - cut)) {
    k -= cut;
    if (endsWith('at') || endsWith('bl') || endsWith('iz')) {
      replaceEnd(k, 'e');
    } else if (endsDouble(k)) {
      const c = w.charCodeAt(k - 1);
      if (c !== 108 && c !== 115 && c !== 122) k--; // not l, s, z
    } else if (measure(k) === 1 && endsCvc(k)) {
      replaceEnd(k, 'e');
    }
  }
  // Step 1c: (*v*) y -> i.
  if (w.charCodeAt(k - 1) === 121 && hasVowel(k - 1)) replaceEnd(k - 1, 'i');
  replaceSuffix(STEP2, 0);
  replaceSuffix(STEP3, 0);
  replaceSuffix(STEP4, 1);
  // Step 5a: (m > 1) e -> ; (m = 1 and not *o) e -> .
  if (w.charCodeAt(k - 1) === 101) {
    const m = measure(k - 1);
    if (m > 1 || (m === 1 && !endsCvc(k - 1))) k--;
  }
  // Step 5b: (m > 1 and *d and *L) -> single letter.
  if (w.charCodeAt(k - 1) === 108 && endsDouble(k) && measure(k) > 1) k--;
  return k === w.length ? w : w.slice(0, k);
}
