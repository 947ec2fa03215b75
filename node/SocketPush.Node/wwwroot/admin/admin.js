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

  function setApiStatus(state, text) {
    apiStatus.dataset.state = state;
    apiStatus.textContent = text;
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

  function keyHint(response) {
    if (response.status === 401) {
      return ' The node needs its API key: enter it above.';
    }
    return response.status === 403 ? ' The node refused this API key: check it above.' : '';
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
      setApiStatus('error', 'GET /api answered ' + response.status + ': ' + errorText(response, body) + '.' + keyHint(response));
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
      qualified + '(' + params.map((p) => p.name).join(', ') + ')';
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
    const isString = param.type === 'string';
    const id = formId + '-' + param.name;
    const label = document.createElement('label');
    label.htmlFor = id;
    const name = document.createElement('span');
    name.className = 'param-name';
    name.textContent = param.name;
    const type = document.createElement('span');
    type.className = 'param-type';
    type.textContent = param.type;
    label.append(name, ' ', type);

    const field = document.createElement(isString ? 'input' : 'textarea');
    field.id = id;
    field.name = param.name;
    field.dataset.type = param.type;
    field.dataset.testid = 'param-' + qualified + '.' + param.name;
    field.spellcheck = false;
    if (isString) {
      field.type = 'text';
    } else {
      field.rows = 3;
      field.placeholder = '{"text": "hello"}';
      field.addEventListener('input', () => markJson(field));
    }

    const row = document.createElement('div');
    row.className = 'param';
    row.append(label, field);
    return row;
  }

  // A non-string parameter is any JSON value; it is checked here before anything is sent.
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

  function markJson(field) {
    const parsed = parseJsonField(field);
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
      if (param.type === 'string') {
        body[param.name] = field.value;
        continue;
      }
      const parsed = parseJsonField(field);
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
        showResult(output, 'error', response.status + ' ' + errorText(response, answer) + keyHint(response), shown);
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
})();
