'use strict';
// socket.io peer for the SocketPush load harness.
// Clients connect to /socket.io/?EIO=4&transport=websocket&userId=U[&channel=C] and are put in the
// rooms "u:U" and "c:C" before the namespace accepts them, so a publish that follows the connect
// acknowledgement always finds them. The backend publishes over plain HTTP:
//   POST /publish/channel/C   body: any JSON value -> emitted as event "message" to room c:C
//   POST /publish/user/U      body: any JSON value -> emitted as event "message" to room u:U
//   GET  /stats               -> {"connections": n}
// Ready line on stdout: "SOCKETIO READY port=<port> node=<version> socket.io=<version>".
const http = require('http');
const { Server } = require('socket.io');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '0'));
const maxBody = 1 << 20;

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer();
const io = new Server(server, { serveClient: false, cors: { origin: '*' } });

io.use((socket, next) => {
  const q = socket.handshake.query;
  if (typeof q.userId === 'string' && q.userId.length > 0) socket.join('u:' + q.userId);
  if (typeof q.channel === 'string' && q.channel.length > 0) socket.join('c:' + q.channel);
  next();
});

function publish(room, req, res) {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > maxBody) {
      reply(res, 413, { error: 'message too large' });
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (res.writableEnded) return;
    let message;
    try {
      message = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      reply(res, 400, { error: 'malformed JSON' });
      return;
    }
    const members = io.of('/').adapter.rooms.get(room);
    io.to(room).emit('message', message);
    reply(res, 200, { result: members ? members.size : 0 });
  });
}

server.on('request', (req, res) => {
  // socket.io answers its own path; everything else is ours.
  if (req.url.startsWith('/socket.io/')) return;
  const url = new URL(req.url, 'http://localhost');
  const parts = url.pathname.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  if (req.method === 'POST' && parts.length === 3 && parts[0] === 'publish' && parts[1] === 'channel') {
    publish('c:' + parts[2], req, res);
  } else if (req.method === 'POST' && parts.length === 3 && parts[0] === 'publish' && parts[1] === 'user') {
    publish('u:' + parts[2], req, res);
  } else if (req.method === 'GET' && url.pathname === '/stats') {
    reply(res, 200, { connections: io.engine.clientsCount });
  } else {
    reply(res, 404, { error: 'not found' });
  }
});

server.listen(port, host, () => {
  const version = require('socket.io/package.json').version;
  process.stdout.write(`SOCKETIO READY port=${server.address().port} node=${process.version} socket.io=${version}\n`);
});

function stop() {
  io.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
