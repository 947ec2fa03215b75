'use strict';

// The management interface: built at run time from GET /api, so a new method needs no change here.
(() => {
  const byId = (id) => document.getElementById(id);
  const keyStorageName = 'socketpush.apiKey';
  const keyInput = byId('api-key');
  const apiStatus = byId('api-status');
  const toc = byId('toc');
  const servicesRoot = byId('services');
  const methodTemplate = byId('method-template');

  function storedKey() {
    try {
      return window.localStorage.getItem(keyStorageName) || '';
    } catch {
      return '';
    }
  }

  function storeKey(key) {
    try {
      if (key) {
        window.localStorage.setItem(keyStorageName, key);
      } else {
        window.localStorage.removeItem(keyStorageName);
      }
    } catch {
      // Storage can be disabled; the key then lives only in the field.
    }
  }

  function headers(extra) {
    const all = Object.assign({ Accept: 'application/json' }, extra);
    const key = keyInput.value.trim();
    if (key) {
      all.Authorization = 'Bearer ' + key;
    }
    return all;
  }

  function setStatus(element, state, text) {
    element.dataset.state = state;
    element.textContent = text;
  }

  function setApiStatus(state, text) {
    setStatus(apiStatus, state, text);
  }

  async function readJson(response) {
    const text = await response.text();
    try {
      return { json: JSON.parse(text), text };
    } catch {
      return { json: undefined, text };
    }
  }

  function errorText(response, body) {
    const json = body.json;
    if (json && typeof json === 'object' && typeof json.error === 'string') {
      return json.error + (json.code ? ' (' + json.code + ')' : '');
    }
    return body.text || response.statusText;
  }

  // Only the API key's own refusals get a hint about the key: another 403 (auth.check of an unknown session is
  // authorization_failed) is the call's answer, and its message says what it is.
  function keyHint(response, body) {
    const code = body.json && typeof body.json === 'object' ? body.json.code : undefined;
    if (response.status === 401 && code === 'unauthorized') {
      return ' The node needs its API key: enter it above.';
    }
    return response.status === 403 && code === 'forbidden' ? ' The node refused this API key: check it above.' : '';
  }

  // The cluster as this node sees it: GET /manager/status (socket-push's form of manager.status), asked again
  // two seconds after each answer.
  const clusterStatus = byId('cluster-status');
  const memberRows = byId('members').tBodies[0];
  const memberTemplate = byId('member-template');
  const clusterRefreshMilliseconds = 2000;

  async function refreshCluster() {
    try {
      const response = await fetch('/manager/status', { headers: headers(), cache: 'no-store' });
      const body = await readJson(response);
      if (!response.ok) {
        setStatus(clusterStatus, 'error', 'manager.status answered ' + response.status + ': ' + errorText(response, body) + '.' + keyHint(response, body));
      } else if (!body.json || !body.json.result || typeof body.json.result !== 'object') {
        setStatus(clusterStatus, 'error', 'manager.status did not answer an object.');
      } else {
        renderCluster(body.json.result);
      }
    } catch (error) {
      setStatus(clusterStatus, 'error', 'Could not reach the node: ' + error.message);
    } finally {
      window.setTimeout(refreshCluster, clusterRefreshMilliseconds);
    }
  }

  function renderCluster(status) {
    const members = Array.isArray(status.members) ? status.members : [];
    memberRows.replaceChildren(...members.map(memberRow));
    // A member that left is gone on purpose: it is listed, but it is not one of the members that should be alive.
    const current = members.filter((m) => m.state !== 'left');
    const alive = current.filter((m) => m.state === 'alive').length;
    const left = members.length - current.length;
    const text = 'Node ' + status.nodeId + ': ' + alive + ' of ' + current.length + ' members alive'
      + (left > 0 ? ', ' + left + ' left' : '')
      + (status.joined ? '' : ', not joined yet') + ' (updated ' + new Date().toLocaleTimeString() + ').';
    if (status.ringAgreed === false) {
      setStatus(clusterStatus, 'error', text + ' The members disagree on the ring, so calls are not routed: ' + status.ringProblem);
    } else {
      setStatus(clusterStatus, 'ready', text);
    }

    renderReplication(status.replication);
    renderConfig(status.config);
    const records = status.records || {};
    for (const [name, value] of [['users', records.users], ['sessions', records.sessions], ['channels', records.channels], ['pending-handoff', status.pendingHandoff]]) {
      byId('records').querySelector('[data-testid="records-' + name + '"]').textContent = value === undefined ? '?' : String(value);
    }
  }

  const replicationLine = byId('replication');

  function plural(count, one, many) {
    return count + ' ' + (count === 1 ? one : many);
  }

  // "R copies wanted / P possible, N keys below R copies, M copies owed": whether every key has the copies it should.
  function renderReplication(replication) {
    if (!replication || typeof replication !== 'object') {
      replicationLine.dataset.state = 'unknown';
      replicationLine.textContent = 'Replication: not reported by this node.';
      return;
    }
    const under = Number(replication.keysUnderReplicated) || 0;
    const owed = Number(replication.missingCopies) || 0;
    const part = (name, text) => {
      const span = document.createElement('span');
      span.dataset.testid = 'replication-' + name;
      span.textContent = text;
      return span;
    };
    const sample = Array.isArray(replication.keysUnderReplicatedSample) ? replication.keysUnderReplicatedSample : [];
    replicationLine.replaceChildren(
      'Replication: ',
      part('wanted', plural(replication.replicas, 'copy', 'copies') + ' wanted'),
      ' / ',
      part('possible', replication.copiesPossible + ' possible'),
      ', ',
      part('under-replicated', plural(under, 'key', 'keys') + ' below ' + replication.replicas + ' copies'),
      ', ',
      part('missing-copies', plural(owed, 'copy', 'copies') + ' owed'),
      under > 0 && sample.length > 0 ? ' (' + sample.join(', ') + (under > sample.length ? ', …' : '') + ')' : '',
      '.');
    replicationLine.dataset.keysUnderReplicated = String(under);
    replicationLine.dataset.missingCopies = String(owed);
    // degraded: fewer live nodes than cluster.replicas; repairing: copies are still owed.
    replicationLine.dataset.state = under > 0 || owed > 0 ? 'repairing'
      : replication.copiesPossible < replication.replicas ? 'degraded' : 'ok';
  }

  const configLine = byId('config');

  // "Config version V (applied at T)", and what the last reload did when it was not applied in full: refused as a
  // whole (the node keeps its running config) or with keys left as they are until a restart.
  function renderConfig(config) {
    if (!config || typeof config !== 'object') {
      configLine.dataset.state = 'unknown';
      configLine.textContent = 'Config: not reported by this node.';
      return;
    }
    const at = (text) => {
      const date = new Date(text);
      return Number.isNaN(date.getTime()) ? String(text) : date.toLocaleTimeString();
    };
    const part = (name, text) => {
      const span = document.createElement('span');
      span.dataset.testid = 'config-' + name;
      span.textContent = text;
      return span;
    };
    const parts = ['Config ', part('version', 'version ' + config.version), ' (applied at ' + at(config.appliedAt) + ').'];
    const last = config.lastReload && typeof config.lastReload === 'object' ? config.lastReload : null;
    const refusedKeys = last && Array.isArray(last.refused) ? last.refused : [];
    let state = 'ok';
    if (last && last.result === 'refused') {
      state = 'refused';
      parts.push(' ', part('reload', 'The last reload (at ' + at(last.at) + ') was refused: ' + (last.error || 'no reason given')
        + '. The node keeps running on version ' + config.version + '.'));
    } else if (refusedKeys.length > 0) {
      state = 'partly';
      parts.push(' ', part('reload', 'The last reload (at ' + at(last.at) + ') left '
        + refusedKeys.map((r) => r.key + ' (' + r.reason + ')').join(', ') + '.'));
    }
    configLine.replaceChildren(...parts);
    configLine.dataset.state = state;
    configLine.dataset.version = String(config.version);
  }

  function memberRow(member) {
    const row = memberTemplate.content.firstElementChild.cloneNode(true);
    const cell = (name) => row.querySelector('[data-testid="member-' + name + '"]');
    row.dataset.nodeId = member.nodeId;
    row.dataset.state = member.state;
    row.classList.toggle('local', member.local === true);
    cell('node-id').textContent = member.nodeId + (member.local ? ' (this node)' : '');
    // A standby is alive but out of the ring until it stands in for a dead member.
    cell('state').textContent = member.state
      + (member.standby === true ? ' · standby' : member.standsInFor ? ' · stands in for ' + member.standsInFor : '');
    if (/^[a-z]+$/.test(member.state)) {
      cell('state').classList.add('state-' + member.state);
    }
    cell('incarnation').textContent = String(member.incarnation);
    for (const [name, url] of [['client-url', member.clientUrl], ['admin-url', member.adminUrl]]) {
      const link = cell(name);
      link.textContent = url || '—';
      if (url) {
        link.href = url;
      }
    }

    cell('wire-version').textContent = member.wireVersion === null || member.wireVersion === undefined ? '?' : String(member.wireVersion);
    const share = typeof member.ringShare === 'number' ? member.ringShare : 0;
    cell('ring-share').textContent = (share * 100).toFixed(1) + ' %';
    row.querySelector('.share-bar').style.width = (share * 6).toFixed(2) + 'rem';

    // A member that did not answer within a second (a dead one never does) has no records.
    const records = member.records && typeof member.records === 'object' ? member.records : {};
    const count = (name) => (typeof records[name] === 'number' ? String(records[name]) : '—');
    cell('owned').textContent = count('owned');
    cell('copies').textContent = count('copies');
    cell('held').textContent = count('users') + ' / ' + count('sessions') + ' / ' + count('channels');
    if (!member.records) {
      row.title = member.state === 'alive' || member.state === 'suspect'
        ? member.nodeId + ' did not tell its records within a second'
        : member.nodeId + ' is ' + member.state + ': it holds no records of the ring';
    }
    return row;
  }

  async function loadApi() {
    setApiStatus('loading', 'Loading /api…');
    let response;
    let body;
    try {
      response = await fetch('/api', { headers: headers(), cache: 'no-store' });
      body = await readJson(response);
    } catch (error) {
      setApiStatus('error', 'Could not reach the node: ' + error.message);
      return;
    }
    if (!response.ok) {
      setApiStatus('error', 'GET /api answered ' + response.status + ': ' + errorText(response, body) + '.' + keyHint(response, body));
      return;
    }
    if (!body.json || typeof body.json !== 'object') {
      setApiStatus('error', 'GET /api did not answer a JSON object.');
      return;
    }
    render(body.json);
  }

  function render(api) {
    toc.replaceChildren();
    servicesRoot.replaceChildren();
    let methodCount = 0;
    for (const [service, methods] of Object.entries(api)) {
      const section = document.createElement('section');
      section.className = 'service';
      section.id = 'service-' + service;
      section.dataset.testid = 'service-' + service;
      const title = document.createElement('h2');
      title.textContent = service;
      section.append(title);
      for (const [method, description] of Object.entries(methods || {})) {
        section.append(methodForm(service, method, description || {}));
        methodCount += 1;
      }
      servicesRoot.append(section);

      const link = document.createElement('a');
      link.href = '#' + section.id;
      link.textContent = service;
      toc.append(link);
    }
    setApiStatus('ready', Object.keys(api).length + ' services, ' + methodCount + ' methods (from GET /api)');
  }

  function methodForm(service, method, description) {
    const qualified = service + '.' + method;
    const params = Array.isArray(description.params) ? description.params : [];
    const form = methodTemplate.content.firstElementChild.cloneNode(true);
    form.id = 'method-' + service + '-' + method;
    form.dataset.testid = 'method-' + qualified;
    form.dataset.service = service;
    form.dataset.method = method;
    form.querySelector('.signature').textContent =
      qualified + '(' + params.map((p) => p.name + (p.optional ? '?' : '')).join(', ') + ')';
    form.querySelector('.result-type').textContent = description.result ? '→ ' + description.result : '';
    form.querySelector('.description').textContent = description.description || '';

    const paramsRoot = form.querySelector('.params');
    for (const param of params) {
      paramsRoot.append(paramField(form.id, qualified, param));
    }
    const button = form.querySelector('.call');
    button.dataset.testid = 'call-' + qualified;
    const output = form.querySelector('.result');
    output.dataset.testid = 'result-' + qualified;

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      call(service, method, params, form, button, output);
    });
    return form;
  }

  function paramField(formId, qualified, param) {
    // An id or an integer is one line; a JSON value gets room to be typed.
    const isLine = param.type === 'string' || param.type === 'integer';
    const id = formId + '-' + param.name;
    const label = document.createElement('label');
    label.htmlFor = id;
    const name = document.createElement('span');
    name.className = 'param-name';
    name.textContent = param.name;
    const type = document.createElement('span');
    type.className = 'param-type';
    type.textContent = param.type + (param.optional ? ', optional' : '');
    label.append(name, ' ', type);

    const field = document.createElement(isLine ? 'input' : 'textarea');
    field.id = id;
    field.name = param.name;
    field.dataset.type = param.type;
    field.dataset.optional = param.optional ? 'true' : 'false';
    field.dataset.testid = 'param-' + qualified + '.' + param.name;
    field.spellcheck = false;
    if (isLine) {
      // A text field rather than type=number, which would hide what was typed when it is not a number.
      field.type = 'text';
      if (param.type === 'integer') {
        field.inputMode = 'numeric';
        field.addEventListener('input', () => mark(field, parseIntegerField));
      }
      if (param.optional) {
        field.placeholder = 'optional: leave empty to leave it out';
      }
    } else {
      field.rows = 3;
      field.placeholder = '{"text": "hello"}';
      field.addEventListener('input', () => mark(field, parseJsonField));
    }

    const row = document.createElement('div');
    row.className = 'param';
    row.append(label, field);
    return row;
  }

  // A json parameter is any JSON value; it is checked here before anything is sent.
  function parseJsonField(field) {
    const text = field.value.trim();
    if (!text) {
      return { ok: false, error: field.name + ': enter a JSON value, for example {"text": "hello"} or "hello"' };
    }
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      return { ok: false, error: field.name + ' is not valid JSON: ' + error.message };
    }
  }

  // An integer parameter is sent as a JSON number; the node takes 32-bit integers.
  function parseIntegerField(field) {
    const text = field.value.trim();
    const value = Number(text);
    if (!/^[+-]?\d+$/.test(text) || value < -2147483648 || value > 2147483647) {
      return { ok: false, error: field.name + ' must be an integer, for example 10' };
    }
    return { ok: true, value };
  }

  function mark(field, parse) {
    const parsed = parse(field);
    field.setAttribute('aria-invalid', field.value.trim() && !parsed.ok ? 'true' : 'false');
  }

  function showResult(output, state, heading, detail) {
    output.dataset.state = state;
    const head = document.createElement('strong');
    head.textContent = heading;
    const pre = document.createElement('pre');
    pre.textContent = detail;
    output.replaceChildren(head, pre);
  }

  async function call(service, method, params, form, button, output) {
    const body = {};
    for (const param of params) {
      const field = form.elements.namedItem(param.name);
      // An optional parameter left empty is not sent: the node then uses its default.
      if (param.optional && !field.value.trim()) {
        continue;
      }
      if (param.type === 'string') {
        body[param.name] = field.value;
        continue;
      }
      const parsed = param.type === 'integer' ? parseIntegerField(field) : parseJsonField(field);
      if (!parsed.ok) {
        field.setAttribute('aria-invalid', 'true');
        showResult(output, 'error', 'Not sent', parsed.error);
        field.focus();
        return;
      }
      body[param.name] = parsed.value;
    }

    const url = '/api/' + encodeURIComponent(service) + '/' + encodeURIComponent(method);
    button.disabled = true;
    output.dataset.state = 'pending';
    output.textContent = 'Calling ' + service + '.' + method + '…';
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: headers({ 'Content-Type': 'application/json' }),
        body: JSON.stringify(body),
      });
      const answer = await readJson(response);
      const shown = answer.json === undefined ? answer.text : JSON.stringify(answer.json, null, 2);
      if (response.ok) {
        showResult(output, 'ok', response.status + ' OK', shown);
      } else {
        showResult(output, 'error', response.status + ' ' + errorText(response, answer) + keyHint(response, answer), shown);
      }
    } catch (error) {
      showResult(output, 'error', 'Request failed', error.message);
    } finally {
      button.disabled = false;
    }
  }

  byId('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    storeKey(keyInput.value.trim());
    loadApi();
  });

  keyInput.value = storedKey();
  loadApi();
  refreshCluster();
})();
