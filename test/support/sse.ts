/**
 * The `status` events of a whole server-sent event stream (docs/api.md, events), in order: the
 * JSON of each one's `data:` line. Other events (keep-alive comments) are left out.
 */
export function statusEvents(text: string): any[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: status'))
    .map((block) =>
      JSON.parse(
        block
          .split('\n')
          .find((l) => l.startsWith('data: '))!
          .slice(6),
      ),
    );
}
