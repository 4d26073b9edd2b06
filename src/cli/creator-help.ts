import { DEFAULT_BASE_URL } from '../client/index.js';

/** `longshot <creator command> --help` texts (docs/cli.md has the long form). */
const CONNECTION_HELP = `Connection (also from the environment):
  --base-url URL        API root (LONGSHOT_BASE_URL, default ${DEFAULT_BASE_URL});
                        https://api.apixo.ai/api/v1 works too
  --api-key KEY         API key (LONGSHOT_API_KEY; prefer the variable: flags show in ps)
`;
const WAIT_HELP = `Waiting:
  --wait                poll until the task is final and print the result URL
  --out FILE            download the result to FILE when done (implies --wait)
  --timeout SECONDS     stop waiting after this long (default 1800; exit code 7)
  --first-poll SECONDS  first status read after submit (default 30 fast / 60 quality, as
                        APIXO advises; 0.5 when the base URL is loopback)
  --poll-interval SECONDS  between reads (default 10; 1 when the base URL is loopback)
  --json                print one JSON object instead of progress and text
`;

export const CREATOR_HELP: Record<string, string> = {
  generate: `Usage: longshot generate "PROMPT" [options]

Submits a veo-3-1 task and prints its task id (or, with --wait, the result URL).

Options:
  --mode fast|quality   (API default: quality)
  --aspect 16:9|9:16|auto
  --type TEXT_2_VIDEO|FIRST_AND_LAST_FRAMES_2_VIDEO|REFERENCE_2_VIDEO
  --image URL           an input image; repeat for several (needed by the two image types)
  --seed N              0-4294967295; the same input and seed give the same video
  --watermark TEXT      up to 64 characters drawn on the video
${WAIT_HELP}
${CONNECTION_HELP}`,
  extend: `Usage: longshot extend TASK_ID "PROMPT" [options]

Submits a veo-3-1-extend task: the whole source video followed by a 7 s continuation.

Options:
  --mode fast|quality   (API default: fast)
  --seed N
  --watermark TEXT
${WAIT_HELP}
${CONNECTION_HELP}`,
  status: `Usage: longshot status TASK_ID [--model veo-3-1|veo-3-1-extend] [--wait] [--out FILE] [--json]

Shows a task's state and result URL. Without --model it looks under veo-3-1, then
veo-3-1-extend. With --wait it keeps polling until the task is final (same options as generate).

${WAIT_HELP}
${CONNECTION_HELP}`,
  balance: `Usage: longshot balance [--json]

Prints the key's available balance in USD.

${CONNECTION_HELP}`,
};
