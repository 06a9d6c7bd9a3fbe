/** `--name N` from a bench script's arguments: an integer ≥ min, or `fallback` when absent. */
export function intOption(argv: readonly string[], name: string, fallback: number, min = 1): number {
  const at = argv.indexOf(`--${name}`);
  const raw = at >= 0 ? argv[at + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got ${raw}`);
  return value;
}
