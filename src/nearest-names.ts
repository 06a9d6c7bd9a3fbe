function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The `count` candidates closest to `name` by edit distance (ties keep the candidates' order). */
export function nearestNames(name: string, candidates: readonly string[], count = 3): string[] {
  return candidates
    .map((candidate, index) => ({ candidate, index, distance: editDistance(name, candidate) }))
    .sort((a, b) => a.distance - b.distance || a.index - b.index)
    .slice(0, count)
    .map((entry) => entry.candidate);
}
