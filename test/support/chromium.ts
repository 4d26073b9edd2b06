import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { available } from './requires.js';

/** The machine's Chromium, which the page tests drive (the playground, the console). */
const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser suites run: a missing Chromium skips them (fails them under CI=true). */
export const hasChromium = () => available('Chromium', existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (apt-get install chromium)`);

/**
 * Headless Chromium without the sandbox (it runs as root in containers), the GPU, QUIC (the
 * service speaks HTTP/1.1 on loopback) or any traffic of its own.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
