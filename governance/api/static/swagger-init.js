// Starts Swagger UI on the page that /docs serves. It is a file of its own, served from
// /docs/assets like the rest, so that the page's Content-Security-Policy needs no inline script.
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    // The page names the document, so a server behind a path prefix still finds it.
    url: element.dataset.openapiUrl,
    domNode: element,
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // No validator badge: it would send the document's address to a server elsewhere.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
