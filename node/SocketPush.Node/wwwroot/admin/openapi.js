// The interactive reference of the management API: Swagger UI (served by this node, from npm at build
// time) over /openapi/v1.json, with "Try it out" on. The API key saved in the management interface is
// used here too.
(function () {
  'use strict';

  const ui = SwaggerUIBundle({
    url: '/openapi/v1.json',
    dom_id: '#reference',
    deepLinking: true,
    tryItOutEnabled: true,
    displayOperationId: true,
    // No request ever leaves for the online validator.
    validatorUrl: null,
    onComplete: () => {
      const key = window.localStorage.getItem('socketpush.apiKey');
      if (key) {
        ui.preauthorizeApiKey('apiKey', key);
      }
    },
  });
  window.ui = ui;
})();
