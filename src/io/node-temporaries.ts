/**
 * Temporary files and directories that must not outlive an interrupted write: while any is tracked,
 * SIGINT and SIGTERM remove them all before the process ends.
 */
import { rmSync } from "node:fs";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
const live = new Set<string>();
let listening = false;

function stopListening(): void {
  for (const signal of SIGNALS) process.off(signal, onSignal);
  listening = false;
}

function onSignal(signal: NodeJS.Signals): void {
  for (const path of live) rmSync(path, { recursive: true, force: true });
  live.clear();
  stopListening();
  // With no other listener the signal's default action is back: raising it again ends the process
  // the conventional way (the parent sees "killed by SIGINT", status 130 in a shell). A program
  // with its own listener decides for itself.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Tracks `path` for removal on SIGINT/SIGTERM; call the returned function once it is gone or renamed. */
export function trackTemporary(path: string): () => void {
  live.add(path);
  if (!listening) {
    for (const signal of SIGNALS) process.on(signal, onSignal);
    listening = true;
  }
  return () => {
    live.delete(path);
    if (live.size === 0 && listening) stopListening();
  };
}
