// What both example pages share: their settings from the address, the status line, the message list, and the
// positions of the streams (what a page recovers from). The connection code, the part worth copying, is in each page.
const query = new URLSearchParams(location.search);
const server = (query.get('server') || 'http://127.0.0.1:8080').replace(/\/$/, '');
const userId = query.get('userId') || '1';
const sessionId = query.get('sessionId') || 'test';

function setStatus(state, text) {
  const status = document.getElementById('status');
  status.dataset.state = state;
  status.textContent = text;
}

// One line of the connection log (newest last): where the page connects, and where `moved` sends it.
function note(text) {
  const item = document.createElement('li');
  item.textContent = new Date().toLocaleTimeString() + ' ' + text;
  document.getElementById('log').append(item);
}

// The last position seen per stream: '' for the user's own stream (user.publish), the channelId for a channel's.
// A message of a stream with history carries its position: an epoch and an offset, +1 per message of the stream.
const positions = new Map();
// While a recovery runs: the positions when it began, and those of the messages that arrived since.
let recovering = null;

function streamOf(message) {
  return message.kind === 'channel' ? message.channelId : '';
}

// A pushed message is {kind: "user" | "channel", channelId?, epoch?, offset?, data}.
function show(message) {
  const item = document.createElement('li');
  item.dataset.kind = message.kind;
  item.textContent = (message.kind === 'channel' ? '#' + message.channelId : 'to me') + ': ' + JSON.stringify(message.data);
  if (typeof message.epoch === 'string') {
    const stream = streamOf(message);
    const position = { epoch: message.epoch, offset: message.offset };
    advance(stream, position);
    if (recovering) {
      recovering.seen.push({ stream, position });
    }
    // Shown after the message by example.css, as epoch:offset.
    item.dataset.position = message.epoch + ':' + message.offset;
  }
  document.getElementById('messages').append(item);
}

// Keeps the newest position of a stream: a later offset, or any offset of a new epoch (the stream started over).
function advance(stream, position) {
  const mine = positions.get(stream);
  if (!mine || mine.epoch !== position.epoch || mine.offset < position.offset) {
    positions.set(stream, position);
  }
}

// The positions as the server takes them (hub method Recover's `since`, /sse's `since`): comma-separated items,
// `u:EPOCH.OFFSET` for the user's stream, `c:CHANNELID:EPOCH.OFFSET` per channel; '' when the page has none yet.
function positionsToken() {
  return Array.from(positions, ([stream, p]) => (stream === '' ? 'u:' : 'c:' + stream + ':') + p.epoch + '.' + p.offset).join(',');
}

// A recovery begins: from now until its `streams` report, count what arrives.
function startRecovery() {
  recovering = { since: new Map(positions), seen: [] };
  setRecovery('recovering', positions.size > 0 ? 'Recovering what was missed…' : 'Asking for the streams\' positions…');
}

// The `streams` report, {user?: {epoch, offset, recovered?}, channels: {channelId: {epoch, offset, recovered?}}}: per
// stream its position now, and whether every message missed since the page's position was sent (true), or not
// (false: the history no longer held them, or the stream started over with a new epoch; the page would then reload
// what it shows some other way). Without `recovered`, the page had no position for the stream.
function showRecovery(report) {
  const run = recovering || { since: new Map(), seen: [] };
  recovering = null;
  const streams = Object.entries(report.channels || {});
  if (report.user) {
    streams.unshift(['', report.user]);
  }
  const parts = [];
  let state = 'recovered';
  for (const [stream, now] of streams) {
    const name = stream === '' ? 'your user stream' : stream;
    const given = run.since.get(stream);
    if (now.recovered === true) {
      // The recovered messages: those of this stream up to the position the report names (later ones are live).
      const count = run.seen.filter(m => m.stream === stream && m.position.epoch === now.epoch && m.position.offset <= now.offset).length;
      parts.push(count > 0 ? 'Recovered ' + count + ' missed message(s) on ' + name : 'Nothing missed on ' + name);
    } else if (now.recovered === false) {
      state = 'incomplete';
      parts.push('Recovery incomplete for ' + name + ': ' + (given && given.epoch !== now.epoch
        ? 'the stream started over (new epoch ' + now.epoch + ')'
        : 'history no longer holds what you missed'));
    } else {
      parts.push(name + ' at ' + now.epoch + ':' + now.offset);
    }
    // The report's position where the page has none, or could not recover up to it: the next recovery starts there.
    const mine = positions.get(stream);
    if (!mine || now.recovered === false) {
      advance(stream, { epoch: now.epoch, offset: now.offset });
    }
  }
  if (!streams.some(([, now]) => 'recovered' in now)) {
    state = 'positions';
  }
  setRecovery(state, parts.length > 0 ? parts.join('; ') + '.' : 'No stream with history.');
}

function setRecovery(state, text) {
  const recovery = document.getElementById('recovery');
  recovery.dataset.state = state;
  recovery.textContent = text;
}
