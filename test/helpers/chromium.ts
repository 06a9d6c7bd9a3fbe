/** Headless Debian Chromium driven by puppeteer-core, for the tests that check pages in a real browser. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";

export const CHROMIUM = "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);
export const CHROMIUM_SKIP_REASON = `${CHROMIUM} is not installed (apt-get install -y chromium; .ci/run does this)`;

/** Launch Chromium with a throwaway profile under `work` and no network chatter of its own. */
export function launchChromium(work: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: join(work, "profile"),
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
