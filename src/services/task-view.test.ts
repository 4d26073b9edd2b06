import { describe, expect, it } from 'vitest';
import { statusResponseJson, type TaskStatus } from './task-view.js';

describe('statusResponseJson', () => {
  // The reference: JSON.stringify of the envelope with the view's keys put in APIXO's order.
  const reference = (data: TaskStatus) =>
    JSON.stringify({
      code: 200,
      message: 'success',
      data: Object.fromEntries(
        [
          'taskId',
          'state',
          'createTime',
          'resultJson',
          'completeTime',
          'costTime',
          'failCode',
          'failMsg',
          'posterUrl',
          'deletedAt',
          'progress',
          'queuePosition',
          'etaSeconds',
        ]
          .filter((k) => data[k as keyof TaskStatus] !== undefined)
          .map((k) => [k, data[k as keyof TaskStatus]]),
      ),
    });
  const cases: TaskStatus[] = [
    { taskId: '019abcdef0123456789abcdef0123456', state: 'pending', createTime: 1767965610929 },
    { taskId: '019abcdef0123456789abcdef0123456', state: 'processing', createTime: 0 },
    { taskId: '019abcdef0123456789abcdef0123456', state: 'pending', createTime: 1, queuePosition: 0 },
    { taskId: '019abcdef0123456789abcdef0123456', state: 'pending', createTime: 1, progress: 40, queuePosition: 12, etaSeconds: 301 },
    { taskId: '019abcdef0123456789abcdef0123456', state: 'processing', createTime: 1, progress: 0, etaSeconds: 0 },
    {
      taskId: '019abcdef0123456789abcdef0123456',
      state: 'success',
      createTime: 1767965610929,
      resultJson: JSON.stringify({ resultUrls: ['https://h.example/files/results/x.mp4?expires=1&sig=a-b_c'] }),
      completeTime: 1767965730929,
      costTime: 120000,
      posterUrl: 'https://h.example/files/results/x.jpg?expires=1&sig=a',
    },
    {
      taskId: '019abcdef0123456789abcdef0123456',
      state: 'failed',
      createTime: 5,
      completeTime: 9,
      failCode: 'CONTENT_VIOLATION',
      failMsg: 'quote " backslash \\ newline \n tab \t nul \u0000 é 😀 lone \ud800 </script>',
    },
    { taskId: '019abcdef0123456789abcdef0123456', state: 'failed', createTime: 5, completeTime: 9, failCode: 'INTERNAL_ERROR', failMsg: '' },
  ];
  it('renders the bytes the route sends, escapes included', () => {
    for (const v of cases) {
      expect(statusResponseJson(v)).toBe(reference(v));
      expect(JSON.parse(statusResponseJson(v)).data).toEqual(v);
    }
  });
  it('keeps the schema order whatever order the view was built in', () => {
    const v = { failMsg: 'm', failCode: 'TIMEOUT', completeTime: 2, createTime: 1, state: 'failed', taskId: 't' };
    expect(statusResponseJson(v)).toBe(
      '{"code":200,"message":"success","data":{"taskId":"t","state":"failed","createTime":1,"completeTime":2,"failCode":"TIMEOUT","failMsg":"m"}}',
    );
  });
});
