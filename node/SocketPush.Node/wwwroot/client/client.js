'use strict';

// The socket-push client demo: one SignalR connection to /push, every received message listed, and what was missed
// while the page was away recovered from the positions of its streams.
(() => {
  const byId = (id) => document.getElementById(id);
  const form = byId('connect-form');
  const userIdInput = byId('user-id');
  const sessionIdInput = byId('session-id');
  const transportSelect = byId('transport');
  const connectButton = byId('connect');
  const disconnectButton = byId('disconnect');
  const status = byId('status');
  const messages = byId('messages');
  const messageCount = byId('message-count');
  const noMessages = byId('no-messages');
  const template = byId('message-template');
  const log = byId('log');
  const recovery = byId('recovery');

  const transportNames = {
    auto: 'auto',
    webSockets: 'WebSockets',
    serverSentEvents: 'Server-Sent Events',
    longPolling: 'long polling',
  };

  // The connection the page currently shows; callbacks of an older connection are ignored.
  let connection = null;
  let received = 0;
  // Bumped by the page's buttons: a start-over (see startOver) that is still trying gives up then.
  let attempt = 0;
  // The last position ({epoch, offset}) seen per stream of positionsUser: '' for the user's own stream
  // (user.publish), the channelId for a channel's. Kept across connections of the same user: it is what they recover from.
  let positions = new Map();
  let positionsUser = null;
  // While a recovery runs: its starting positions, and the positions of the messages that arrived since.
  let recovering = null;

  function setStatus(state, text, detail) {
    status.dataset.state = state;
    status.textContent = text;
    if (detail) {
      const small = document.createElement('small');
      small.className = 'status-detail';
      small.dataset.testid = 'status-detail';
      small.textContent = detail;
      status.append(small);
    }
  }

  function setConnectedControls(active) {
    connectButton.disabled = active;
    disconnectButton.disabled = !active;
    for (const input of [userIdInput, sessionIdInput, transportSelect]) {
      input.disabled = active;
    }
  }

  function showError(error) {
    const text = error && error.message ? error.message : String(error);
    if (/Authorization failed/i.test(text)) {
      setStatus('error', 'Authorization failed: the server refused this userId and sessionId. '
        + 'Set them with auth.set in the management interface.', text);
    } else {
      setStatus('error', 'Error: ' + text);
    }
  }

  function transportOption(name) {
    const types = signalR.HttpTransportType;
    switch (name) {
      case 'webSockets': return { transport: types.WebSockets };
      case 'serverSentEvents': return { transport: types.ServerSentEvents };
      case 'longPolling': return { transport: types.LongPolling };
      default: return {};
    }
  }

  // server: the node to negotiate with; this page's own node at first, the owner named by `moved` later.
  function readForm() {
    return {
      server: window.location.origin,
      userId: userIdInput.value.trim(),
      sessionId: sessionIdInput.value.trim(),
      transport: transportSelect.value,
    };
  }

  // One line of the connection log: where the page connects, redirects, moves.
  function logEvent(event, text) {
    const item = document.createElement('li');
    item.dataset.testid = 'log-entry';
    item.dataset.event = event;
    const time = document.createElement('time');
    time.textContent = clockTime(new Date());
    item.append(time, ' ', text);
    log.prepend(item);
  }

  // SignalR's HTTP client, watching negotiate: a node answers {url} for a user another node owns, and the client
  // negotiates there instead. Only to tell the log where the connection lands.
  function negotiateWatcher(onLanded) {
    class NegotiateWatcher extends signalR.DefaultHttpClient {
      async send(request) {
        const response = await super.send(request);
        const url = new URL(request.url, window.location.href);
        if (url.pathname.endsWith('/negotiate') && typeof response.content === 'string') {
          let answer = {};
          try {
            answer = JSON.parse(response.content);
          } catch {
            // Not a negotiate answer; SignalR reports it itself.
          }
          if (typeof answer.url === 'string') {
            logEvent('redirect', url.origin + ' sent the connection to the node of the user: ' + new URL(answer.url).origin);
          } else if (!answer.error) {
            onLanded(url.origin);
          }
        }
        return response;
      }
    }
    return new NegotiateWatcher(signalR.NullLogger.instance);
  }

  // Reconnecting after a lost connection (its node crashed, say) starts over at target.server, which sends the
  // page to the user's owner again. A crashed owner keeps its users until gossip declares it dead (some seconds
  // to half a minute), so the page tries every 2 s for a minute, then every 10 s, and gives up after 5 minutes;
  // SignalR's default (0, 2, 12 and 42 s, then nothing) leaves long gaps and gives up early.
  const reconnectPolicy = {
    nextRetryDelayInMilliseconds(context) {
      if (context.elapsedMilliseconds >= 5 * 60_000) {
        return null;
      }
      if (context.previousRetryCount === 0) {
        return 0;
      }
      return context.elapsedMilliseconds < 60_000 ? 2000 : 10_000;
    },
  };

  function connectedText(target) {
    return 'Connected as user ' + target.userId + ' (transport: ' + transportNames[target.transport] + ')';
  }

  async function connect(target) {
    if (typeof signalR === 'undefined') {
      setStatus('error', 'Error: the SignalR client (lib/signalr.min.js) did not load. Build the node: it installs the client from npm.');
      return;
    }
    if (positionsUser !== target.userId) {
      positions = new Map();
      positionsUser = target.userId;
    }
    // The userId in the URL only routes negotiate to the node that owns the user; the connection authenticates with
    // Recover (a session in the URL would authenticate it there, and such a connection cannot recover).
    const url = target.server + '/push?userId=' + encodeURIComponent(target.userId);
    let landed = target.server;
    const options = Object.assign({ httpClient: negotiateWatcher((origin) => { landed = origin; }) }, transportOption(target.transport));
    const conn = new signalR.HubConnectionBuilder()
      .withUrl(url, options)
      .withAutomaticReconnect(reconnectPolicy)
      .configureLogging(signalR.LogLevel.Warning)
      .build();

    conn.on('message', (message) => {
      if (conn === connection) {
        showMessage(message);
      }
    });
    // Sent just before Recover answers, with the same report; the page shows the answer.
    conn.on('streams', () => {});
    conn.on('moved', (moved) => {
      if (conn === connection) {
        reconnectAfterMove(conn, target, moved);
      }
    });
    conn.onreconnecting(() => {
      if (conn === connection && target.server !== window.location.origin) {
        startOver(conn, target, landed);
        return;
      }
      if (conn === connection) {
        setStatus('reconnecting', 'Connection lost; reconnecting as user ' + target.userId + '…');
        logEvent('reconnecting', 'Connection to ' + landed + ' lost; reconnecting through ' + target.server);
      }
    });
    // The reconnected connection is a new one: it authenticates again, and recovers what the page missed meanwhile.
    conn.onreconnected(async () => {
      if (conn !== connection) {
        return;
      }
      try {
        if (await recover(conn, target) && conn === connection) {
          setStatus('connected', connectedText(target));
          logEvent('reconnected', 'Reconnected to ' + landed);
        }
      } catch (error) {
        if (conn === connection) {
          connection = null;
          setConnectedControls(false);
          showError(error);
          await conn.stop();
        }
      }
    });
    conn.onclose((error) => {
      if (conn !== connection) {
        return;
      }
      connection = null;
      setConnectedControls(false);
      logEvent('closed', 'Closed by ' + landed + (error ? ': ' + error.message : ''));
      if (error) {
        showError(error);
      } else {
        setStatus('disconnected', 'Disconnected by the server');
      }
    });

    connection = conn;
    setConnectedControls(true);
    setStatus('connecting', 'Connecting as user ' + target.userId + '…');
    logEvent('connecting', 'Connecting to ' + target.server + ' as user ' + target.userId);
    try {
      await conn.start();
      if (await recover(conn, target) && conn === connection) {
        setStatus('connected', connectedText(target));
        logEvent('connected', 'Connected to ' + landed);
        return true;
      }
    } catch (error) {
      if (conn === connection) {
        connection = null;
        setConnectedControls(false);
        showError(error);
        await conn.stop();
      }
    }
    return false;
  }

  // The page was on the node `moved` named and lost it: that node may be the one that went, and SignalR's reconnect
  // would retry it until it came back. The page's own node names the user's owner now; while that fails (the
  // owner is still being declared dead) the page tries again every 2 s, for 5 minutes.
  async function startOver(conn, target, landed) {
    const mine = attempt;
    logEvent('reconnecting', 'Connection to ' + landed + ' lost; starting over through ' + window.location.origin);
    connection = null;
    conn.stop();
    const own = Object.assign({}, target, { server: window.location.origin });
    const started = Date.now();
    while (attempt === mine && connection === null && !(await connect(own))) {
      if (Date.now() - started >= 5 * 60_000) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  // Authenticates with Recover(userId, sessionId, since), since being the page's positions ('' when it has none): before
  // anything live the node sends what each stream missed after them, then answers with the `streams` report. The answer
  // also means the node accepted the session and registered the connection, so every later publish reaches the page.
  // Throws when the node refuses (the session, a limit); false when the connection dropped meanwhile (SignalR
  // reconnects, and recovers again) or the page left it.
  async function recover(conn, target) {
    startRecovery();
    let report;
    try {
      report = await conn.invoke('Recover', target.userId, target.sessionId, positionsToken());
    } catch (error) {
      if (conn === connection && conn.state === signalR.HubConnectionState.Connected) {
        throw error;
      }
      return false;
    }
    if (conn !== connection) {
      return false;
    }
    showRecovery(report);
    return true;
  }

  function streamOf(message) {
    return message.kind === 'channel' ? message.channelId : '';
  }

  // Keeps the newest position of a stream: a later offset, or any offset of a new epoch (the stream started over).
  function advance(stream, position) {
    const mine = positions.get(stream);
    if (!mine || mine.epoch !== position.epoch || mine.offset < position.offset) {
      positions.set(stream, position);
    }
  }

  // The positions as Recover takes them: `u:EPOCH.OFFSET` for the user's stream, `c:CHANNELID:EPOCH.OFFSET` per channel.
  function positionsToken() {
    return Array.from(positions, ([stream, p]) => (stream === '' ? 'u:' : 'c:' + stream + ':') + p.epoch + '.' + p.offset).join(',');
  }

  function startRecovery() {
    recovering = { since: new Map(positions), seen: [] };
    setRecovery('recovering', positions.size > 0 ? 'Recovering what was missed…' : 'Asking for the streams\' positions…');
  }

  function setRecovery(state, text) {
    recovery.hidden = false;
    recovery.dataset.state = state;
    recovery.textContent = text;
  }

  // The `streams` report, {user?: {epoch, offset, recovered?}, channels: {channelId: {...}}}: per stream its position
  // now, and whether every message missed after the page's position was sent (recovered: true), or not (false: the
  // history no longer held them, or the stream started over with a new epoch). Without `recovered` the page had no
  // position for that stream; it takes the report's.
  function showRecovery(report) {
    const run = recovering || { since: new Map(), seen: [] };
    recovering = null;
    const streams = Object.entries(report && report.channels ? report.channels : {});
    if (report && report.user) {
      streams.unshift(['', report.user]);
    }
    const parts = [];
    let state = streams.some(([, now]) => 'recovered' in now) ? 'recovered' : 'positions';
    for (const [stream, now] of streams) {
      const name = stream === '' ? 'your user stream' : stream;
      const given = run.since.get(stream);
      if (now.recovered === true) {
        // What was recovered: the messages of this stream up to the position the report names (later ones are live).
        const count = run.seen.filter((m) => m.stream === stream && m.epoch === now.epoch && m.offset <= now.offset).length;
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
      if (!positions.has(stream) || now.recovered === false) {
        advance(stream, { epoch: now.epoch, offset: now.offset });
      }
    }
    setRecovery(state, parts.length > 0 ? parts.join('; ') + '.' : 'No stream with history.');
  }

  async function disconnect() {
    const conn = connection;
    connection = null;
    setConnectedControls(false);
    if (conn) {
      await conn.stop();
      logEvent('disconnected', 'Disconnected');
    }
    setStatus('disconnected', 'Disconnected');
  }

  // `moved` {url, nodeId}: another node owns the user now (a node joined or left the cluster). The page stops this
  // connection and connects to that node, as the same user with the same session.
  async function reconnectAfterMove(conn, target, moved) {
    connection = null;
    const server = moved && typeof moved.url === 'string' ? moved.url.replace(/\/$/, '') : target.server;
    const node = moved && moved.nodeId ? 'node ' + moved.nodeId : 'another node';
    logEvent('moved', 'moved: user ' + target.userId + ' now belongs to ' + node + ' at ' + server + '; reconnecting there');
    setStatus('reconnecting', 'The server moved user ' + target.userId + ' to ' + node + '; reconnecting…');
    await conn.stop();
    await connect(Object.assign({}, target, { server }));
  }

  function pad(value, width) {
    return String(value).padStart(width, '0');
  }

  function clockTime(date) {
    return pad(date.getHours(), 2) + ':' + pad(date.getMinutes(), 2) + ':'
      + pad(date.getSeconds(), 2) + '.' + pad(date.getMilliseconds(), 3);
  }

  function showMessage(message) {
    const isObject = message !== null && typeof message === 'object';
    const kind = isObject && typeof message.kind === 'string' ? message.kind : 'unknown';
    const channelId = isObject && typeof message.channelId === 'string' ? message.channelId : '';
    const data = isObject && 'data' in message ? message.data : message;
    const now = new Date();

    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.kind = kind;
    item.dataset.channelId = channelId;
    const time = item.querySelector('[data-testid="message-time"]');
    time.dateTime = now.toISOString();
    time.textContent = clockTime(now);
    item.querySelector('[data-testid="message-kind"]').textContent = kind;
    item.querySelector('[data-testid="message-channel"]').textContent = channelId ? 'channel ' + channelId : '';
    item.querySelector('[data-testid="message-data"]').textContent = JSON.stringify(data, null, 2);
    if (isObject && typeof message.epoch === 'string' && typeof message.offset === 'number') {
      const stream = streamOf(message);
      advance(stream, { epoch: message.epoch, offset: message.offset });
      if (recovering) {
        recovering.seen.push({ stream, epoch: message.epoch, offset: message.offset });
      }
      item.dataset.position = message.epoch + ':' + message.offset;
      item.querySelector('[data-testid="message-position"]').textContent = message.epoch + ':' + message.offset;
    }

    messages.prepend(item);
    received += 1;
    messageCount.textContent = String(received);
    noMessages.hidden = true;
  }

  function clearMessages() {
    messages.replaceChildren();
    received = 0;
    messageCount.textContent = '0';
    noMessages.hidden = false;
  }

  // ?userId=..&sessionId=..&transport=.. pre-fills the form, handy for links from a backend.
  function prefillFromQuery() {
    const query = new URLSearchParams(window.location.search);
    if (query.has('userId')) userIdInput.value = query.get('userId');
    if (query.has('sessionId')) sessionIdInput.value = query.get('sessionId');
    if (query.has('transport') && query.get('transport') in transportNames) {
      transportSelect.value = query.get('transport');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const target = readForm();
    if (!target.userId || !target.sessionId) {
      setStatus('error', 'Error: enter both a userId and a sessionId.');
      return;
    }
    attempt++;
    connect(target);
  });
  disconnectButton.addEventListener('click', () => {
    attempt++;
    disconnect();
  });
  byId('clear').addEventListener('click', clearMessages);
  prefillFromQuery();
})();
