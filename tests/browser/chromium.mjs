// How every browser test here launches Debian's Chromium: headless, and
// without the background networking that keeps trying the closed network.

export const CHROMIUM = process.env.CHROMIUM || '/usr/lib/chromium/chromium';

/** Options for playwright-core's `chromium.launch`. */
export function launchOptions() {
  return {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  };
}
