// What both example pages share: their settings from the address, the status line and the message list.
// The connection code, the part worth copying, is in each page.
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

// A pushed message is {kind: "user" | "channel", channelId?, data}.
function show(message) {
  const item = document.createElement('li');
  item.dataset.kind = message.kind;
  item.textContent = (message.kind === 'channel' ? '#' + message.channelId : 'to me') + ': ' + JSON.stringify(message.data);
  document.getElementById('messages').append(item);
}
