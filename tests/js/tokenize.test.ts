// The terms full-text search sees (issue 14): words in any script, as Unicode
// word segmentation finds them, cut at punctuation; English stop words and
// Porter's stemmer only with 'english'; terms the core would refuse dropped.
import { describe, expect, it, vi } from 'vitest';
import { TEXT_LANGUAGES, tokenize } from '../../js/src/tokenize.js';

const MAX = 64;
const english = (text: string, max = MAX): string[] => tokenize(text, 'english', max);
const none = (text: string, max = MAX): string[] => tokenize(text, 'none', max);

describe('Porter stemmer (1980)', () => {
  // The examples of Porter's paper (Program 14(3), 1980) and a few more, through
  // all five steps; the stems agree with NLTK's PorterStemmer(mode=ORIGINAL_ALGORITHM).
  const TABLE: [string, string][] = [
    ['caresses', 'caress'], ['ponies', 'poni'], ['ties', 'ti'], ['caress', 'caress'], ['cats', 'cat'],
    ['feed', 'feed'], ['agreed', 'agre'], ['plastered', 'plaster'], ['bled', 'bled'], ['motoring', 'motor'],
    ['sing', 'sing'], ['conflated', 'conflat'], ['troubled', 'troubl'], ['sized', 'size'], ['hopping', 'hop'],
    ['tanned', 'tan'], ['falling', 'fall'], ['hissing', 'hiss'], ['fizzed', 'fizz'], ['failing', 'fail'],
    ['filing', 'file'], ['happy', 'happi'], ['sky', 'sky'], ['relational', 'relat'], ['conditional', 'condit'],
    ['rational', 'ration'], ['valenci', 'valenc'], ['hesitanci', 'hesit'], ['digitizer', 'digit'],
    ['conformabli', 'conform'], ['radicalli', 'radic'], ['differentli', 'differ'], ['vileli', 'vile'],
    ['analogousli', 'analog'], ['vietnamization', 'vietnam'], ['predication', 'predic'], ['operator', 'oper'],
    ['feudalism', 'feudal'], ['decisiveness', 'decis'], ['hopefulness', 'hope'], ['callousness', 'callous'],
    ['formaliti', 'formal'], ['sensitiviti', 'sensit'], ['sensibiliti', 'sensibl'], ['triplicate', 'triplic'],
    ['formative', 'form'], ['formalize', 'formal'], ['electriciti', 'electr'], ['electrical', 'electr'],
    ['hopeful', 'hope'], ['goodness', 'good'], ['revival', 'reviv'], ['allowance', 'allow'],
    ['inference', 'infer'], ['airliner', 'airlin'], ['gyroscopic', 'gyroscop'], ['adjustable', 'adjust'],
    ['defensible', 'defens'], ['irritant', 'irrit'], ['replacement', 'replac'], ['adjustment', 'adjust'],
    ['dependent', 'depend'], ['adoption', 'adopt'], ['homologous', 'homolog'], ['communism', 'commun'],
    ['activate', 'activ'], ['angulariti', 'angular'], ['effective', 'effect'], ['bowdlerize', 'bowdler'],
    ['probate', 'probat'], ['rate', 'rate'], ['cease', 'ceas'], ['controlling', 'control'], ['rolling', 'roll'],
    ['generalization', 'gener'], ['generalizations', 'gener'], ['oscillators', 'oscil'],
    ['connection', 'connect'], ['connections', 'connect'], ['connected', 'connect'], ['connecting', 'connect'],
    // y is a vowel after a consonant, a consonant at the start or after a vowel.
    ['crying', 'cry'], ['flying', 'fly'], ['typing', 'type'], ['enjoying', 'enjoi'], ['syzygy', 'syzygi'],
    ['employment', 'employ'], ['deployer', 'deploy'],
    // The published step 2 has abli -> able; Porter's reference code later took bli -> ble (possibl).
    ['possibly', 'possibli'],
  ];

  it.each(TABLE)('%s -> %s', (word, stem) => {
    expect(english(word)).toEqual([stem]);
    expect(english(word.toUpperCase())).toEqual([stem]);
    expect(none(word)).toEqual([word]);
  });

  it('stems only words of ASCII letters, and leaves words of one or two letters alone', () => {
    expect(english('running running2 cafés naïve os js')).toEqual(['run', 'running2', 'cafés', 'naïve', 'os', 'js']);
  });
});

describe('words in any script', () => {
  const cases: [string, string, string[]][] = [
    ['Japanese', '東京は日本の首都です', ['東京', 'は', '日本', 'の', '首都', 'です']],
    ['Chinese', '我们使用向量数据库', ['我们', '使用', '向量', '数据', '库']],
    ['Chinese with Latin', '使用SAP系统', ['使用', 'sap', '系统']],
    ['Thai', 'ภาษาไทยง่ายนิดเดียว', ['ภาษา', 'ไทย', 'ง่าย', 'นิด', 'เดียว']],
    ['Korean', '한국어 텍스트, SAP의 문서', ['한국어', '텍스트', 'sap', '의', '문서']],
    ['Cyrillic', 'Привет, МИР! Поиск-запрос', ['привет', 'мир', 'поиск', 'запрос']],
    ['Greek, final sigma', 'ΟΔΟΣ Αθήνα', ['οδος', 'αθήνα']],
    ['Arabic', 'مرحبا بالعالم، ١٢٣', ['مرحبا', 'بالعالم', '١٢٣']],
    ['Hebrew', 'שלום עולם', ['שלום', 'עולם']],
    ['Devanagari (marks kept)', 'नमस्ते दुनिया', ['नमस्ते', 'दुनिया']],
    ['Latin with marks, composed by NFKC', 'cafe\u0301 Naïve façade', ['café', 'naïve', 'façade']],
  ];

  it.each(cases)('%s', (_, text, words) => {
    expect(none(text)).toEqual(words);
    // No stop word or stem applies to these words, except the ASCII ones, which are stems already.
    expect(english(text)).toEqual(words);
  });

  it('NFKC: full-width, ligatures, superscripts, circled and Roman numerals', () => {
    expect(none('ＡＢＣ Ｆｕｌｌ-ｗｉｄｔｈ')).toEqual(['abc', 'full', 'width']);
    expect(none('ﬁle x² ① Ⅻ ½')).toEqual(['file', 'x2', '1', 'xii', '1', '2']);
  });

  it('gives what whole-text word segmentation gives, cut at non-word characters', () => {
    // The reference the fast paths must agree with: Intl.Segmenter over the
    // whole text, word-like segments cut at every character that is not a
    // letter, mark or number. Random words of many scripts (a mark never first:
    // a mark with no base belongs to no word), joined by separators.
    const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });
    const reference = (text: string): string[] => {
      const out: string[] = [];
      for (const s of segmenter.segment(text.normalize('NFKC').toLowerCase())) {
        if (s.isWordLike) for (const part of s.segment.split(/[^\p{L}\p{M}\p{N}]+/u)) if (part !== '') out.push(part);
      }
      return out;
    };
    const alphabets = [
      'abcxyzÉéüßçñ', 'абвгдеЯ', 'αβγΩάέ', 'אבגדה', 'ابتثجح', 'अआकखग\u093f\u094d', 'কখগঘ', 'ԱԲաբ', 'ქართ',
      '0123456789', '٠١٢٣', '०१२३', '日本語検索使用系统中文', 'ひらがなのを', 'カタカナテキスト', 'ภาษาไทยง่าย',
      'ພາສາລາວ', 'ភាសាខ្មែរ', 'မြန်မာ', '\u0301\u0308\u0327', '⓫½²Ⅻ৴௰', 'ﬁﬀＡＢ１２', '𐌰𐌱𠀀𝒜',
    ].map((a) => [...a]);
    const separators = [' ', ' ', '.', '-', '_', "'", '\u2019', ',', ':', '/', '\n', '\u{1F600}', '\u00AD', '\u2013', '"', ''];
    let seed = 7;
    const pick = <T>(a: T[]): T => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return a[Math.floor((seed / 2 ** 32) * a.length)]!;
    };
    const sizes = [1, 2, 3, 4, 5, 6];
    for (let n = 0; n < 5000; n++) {
      let text = '';
      for (let words = pick(sizes); words > 0; words--) {
        for (let length = pick(sizes), i = 0; i < length; i++) {
          let c = pick(pick(alphabets));
          while (i === 0 && /\p{M}/u.test(c)) c = pick(pick(alphabets));
          text += c;
        }
        text += pick(separators);
      }
      expect(none(text, 1000), JSON.stringify(text)).toEqual(reference(text));
    }
  });

  it('without Intl.Segmenter, a run of letters, marks and numbers is one word', async () => {
    const saved = Intl.Segmenter;
    vi.resetModules();
    const fresh = await import('../../js/src/tokenize.js');
    try {
      (Intl as { Segmenter?: unknown }).Segmenter = undefined;
      expect(fresh.tokenize('東京は日本の首都です。Hello, world', 'none', MAX)).toEqual(['東京は日本の首都です', 'hello', 'world']);
    } finally {
      (Intl as { Segmenter?: unknown }).Segmenter = saved;
    }
  });
});

describe('identifiers and numbers', () => {
  it('splits identifiers at punctuation and keeps numbers', () => {
    expect(none('sap.ui.core fiori-tools my_var ui5.yaml @sap/ux-ui5-tooling')).toEqual(
      ['sap', 'ui', 'core', 'fiori', 'tools', 'my', 'var', 'ui5', 'yaml', 'sap', 'ux', 'ui5', 'tooling']);
    expect(none('Error 404 in v4, pi 3.14, 1,000 users')).toEqual(['error', '404', 'in', 'v4', 'pi', '3', '14', '1', '000', 'users']);
    expect(english('Error 404 in v4, pi 3.14, 1,000 users')).toEqual(['error', '404', 'v4', 'pi', '3', '14', '1', '000', 'user']);
  });
});

describe('stop words', () => {
  it('are dropped with english only', () => {
    const text = 'How do I deploy the application to the Cloud Foundry and what is it?';
    expect(english(text)).toEqual(['deploi', 'applic', 'cloud', 'foundri']);
    expect(none(text)).toEqual(['how', 'do', 'i', 'deploy', 'the', 'application', 'to', 'the', 'cloud', 'foundry', 'and', 'what', 'is', 'it']);
  });

  it('include the parts of contractions and possessives', () => {
    expect(english("The user's settings; don't, isn't, we've, I'm, they’re")).toEqual(['user', 'set']);
    expect(none("user's don't")).toEqual(['user', 's', 'don', 't']);
  });
});

describe('term length', () => {
  it('drops words longer than maxTermBytes UTF-8 bytes', () => {
    expect(none('abcdefgh abcdefghi', 8)).toEqual(['abcdefgh']);
    expect(none('ééééé', 10)).toEqual(['ééééé']); // 2 bytes a letter
    expect(none('ééééé', 9)).toEqual([]);
    expect(none('検索検索', 12)).toEqual(['検索', '検索']); // 3 bytes a letter, 6 a word
    expect(none('𐌰𐌱 𐌰𐌱𐌲', 8)).toEqual(['𐌰𐌱']); // Gothic: 4 bytes a letter (a surrogate pair)
    expect(none('𐌰𐌱', 7)).toEqual([]);
  });

  it('counts the word before stemming', () => {
    expect(english('connections connect', 10)).toEqual(['connect']);
    expect(english('connections', 11)).toEqual(['connect']);
  });
});

describe('no words', () => {
  it('gives no terms', () => {
    for (const text of ['', ' ', '  \n\t\r ', '...', '— “” ¿?', '\u{1F600}\u200D\u{1F4BB}', '\u0301\u0308']) {
      expect(none(text)).toEqual([]);
      expect(english(text)).toEqual([]);
    }
    expect(english('the and of to it')).toEqual([]);
    // Lone surrogates (ill-formed UTF-16) are not words and hide none.
    expect(none('\uD800abc \uDC00def \uD800\uD800\u05D0 x\uD800')).toEqual(['abc', 'def', '\u05D0', 'x']);
  });

  it('knows its languages', () => {
    expect(TEXT_LANGUAGES).toEqual(['english', 'none']);
  });
});
