// Starts ReDoc on /redoc (a same-origin script: the CSP allows no inline script). Search is
// off: it runs in a blob: worker, which the CSP refuses.
"use strict";
window.Redoc.init("openapi.json", { disableSearch: true }, document.getElementById("redoc"));
