// BM25 as core/fulltext.h states it (Lucene's), written plainly for tests to
// compare the store's scores with: per distinct query term in first-appearance
// order, idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))), idf =
// ln(1 + (N - df + 0.5) / (df + 0.5)), summed in double and rounded to float
// once, with k1 and b as the store keeps them (float32). Every document given
// counts in N and the average length, matching or not.
export function bm25Scores(docs: { id: string; terms: string[] }[], queryTerms: string[], k1Given: number, bGiven: number): Map<string, number> {
  const k1 = Math.fround(k1Given);
  const b = Math.fround(bGiven);
  const n = docs.length;
  const avg = docs.reduce((sum, d) => sum + d.terms.length, 0) / n;
  const df = new Map<string, number>();
  for (const d of docs) for (const term of new Set(d.terms)) df.set(term, (df.get(term) ?? 0) + 1);
  const distinct = [...new Set(queryTerms)];
  const scores = new Map<string, number>();
  for (const d of docs) {
    const tf = new Map<string, number>();
    for (const term of d.terms) tf.set(term, (tf.get(term) ?? 0) + 1);
    let score = 0;
    let matched = false;
    for (const term of distinct) {
      const f = tf.get(term);
      if (!f) continue;
      matched = true;
      const freq = df.get(term)!;
      const idf = Math.log(1 + (n - freq + 0.5) / (freq + 0.5));
      score += idf * ((f * (k1 + 1)) / (f + k1 * (1 - b + (b * d.terms.length) / avg)));
    }
    if (matched) scores.set(d.id, Math.fround(score));
  }
  return scores;
}
