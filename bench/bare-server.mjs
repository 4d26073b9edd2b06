// The baseline: a bare node:http server answering a JSON body of the size a status response has.
import { createServer } from 'node:http';

const body = JSON.stringify({
  code: 200,
  message: 'success',
  data: {
    taskId: '019abcdef0123456789abcdef0123456',
    state: 'success',
    resultJson: JSON.stringify({
      resultUrls: [`http://127.0.0.1:3000/files/results/019abcdef0123456789abcdef0123456.mp4?expires=1767965610&sig=${'x'.repeat(43)}`],
    }),
    createTime: 1767965610929,
    completeTime: 1767965730929,
    costTime: 120000,
    posterUrl: `http://127.0.0.1:3000/files/results/019abcdef0123456789abcdef0123456.jpg?expires=1767965610&sig=${'x'.repeat(43)}`,
  },
});

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
