/* flask_clerk passkeys: the browser's half of WebAuthn, for server-rendered forms.
 *
 * <button type="button" data-clerk-passkey="register|authenticate"
 *         data-options-url="URL" data-form="FORM_ID">
 *   POSTs the form's csrf_token to URL, runs the ceremony with the options it
 *   answers, puts the result (JSON) into the form's input[name=credential] and
 *   submits the form.
 * <form data-clerk-passkey-conditional data-options-url="URL">
 *   Passkey autofill (conditional mediation) on the sign-in form, when available.
 * [data-clerk-passkey-error] (in or next to the form): where errors are shown.
 * [data-clerk-passkey-unsupported]: shown instead of the buttons without WebAuthn.
 *
 * No dependencies, no inline handlers, no eval: fits a strict CSP.
 */
(function () {
  "use strict";

  var MESSAGES = {
    InvalidStateError: "This passkey is already registered.",
    SecurityError: "Passkeys cannot be used on this address.",
    NotSupportedError: "This device has no passkey that works here.",
  };
  var FAILED = "The passkey did not work. Try again, or use another method.";
  var conditional = null; // AbortController of the pending autofill request

  function toBuffer(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The server's JSON options as the API wants them: base64url fields as buffers.
  function parseOptions(json, creating) {
    var parse = creating ? PublicKeyCredential.parseCreationOptionsFromJSON
      : PublicKeyCredential.parseRequestOptionsFromJSON;
    if (parse) return parse.call(PublicKeyCredential, json);
    var ids = function (list) {
      return (list || []).map(function (c) { return Object.assign({}, c, { id: toBuffer(c.id) }); });
    };
    var options = Object.assign({}, json, { challenge: toBuffer(json.challenge) });
    if (creating) {
      options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
      options.excludeCredentials = ids(json.excludeCredentials);
    } else {
      options.allowCredentials = ids(json.allowCredentials);
    }
    return options;
  }

  // The credential as PublicKeyCredential.toJSON() gives it (some password
  // managers hand back objects without toJSON: then by hand).
  function serialise(credential) {
    if (typeof credential.toJSON === "function") {
      try { return JSON.stringify(credential.toJSON()); } catch (e) { /* by hand, below */ }
    }
    var r = credential.response, response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    return JSON.stringify({
      id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type,
      response: response, authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults
        ? credential.getClientExtensionResults() : {},
    });
  }

  function fetchOptions(url, form, signal) {
    var token = form.querySelector('input[name="csrf_token"]');
    return fetch(url, {
      method: "POST", credentials: "same-origin", headers: { Accept: "application/json" },
      body: new URLSearchParams({ csrf_token: token ? token.value : "" }), signal: signal,
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.ok && data) return data;
        var error = new Error(data && data.errors && data.errors[0] ? data.errors[0].message : FAILED);
        error.name = "OptionsError"; // the server's own words, shown as they are
        throw error;
      });
    });
  }

  function submit(form, credential) {
    form.querySelector('input[name="credential"]').value = serialise(credential);
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  function showError(form, button, message) {
    var selector = "[data-clerk-passkey-error]";
    var box = form.querySelector(selector) ||
      (form.parentElement && form.parentElement.querySelector(selector)) ||
      (button && button.parentElement && button.parentElement.querySelector(selector));
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function explain(error) {
    // Cancelling, or a request superseded by another, is not worth a word.
    if (error.name === "NotAllowedError" || error.name === "AbortError") return "";
    if (error.name === "OptionsError") return error.message;
    return MESSAGES[error.name] || FAILED;
  }

  function ceremony(button) {
    var form = document.getElementById(button.dataset.form);
    if (!form) return;
    var register = button.dataset.clerkPasskey === "register";
    if (conditional) conditional.abort(); // browsers run one WebAuthn request at a time
    conditional = null;
    button.disabled = true;
    showError(form, button, "");
    fetchOptions(button.dataset.optionsUrl, form).then(function (json) {
      var publicKey = parseOptions(json, register);
      return register ? navigator.credentials.create({ publicKey: publicKey })
        : navigator.credentials.get({ publicKey: publicKey });
    }).then(function (credential) {
      submit(form, credential); // the button stays disabled while the page goes
    }).catch(function (error) {
      button.disabled = false;
      showError(form, button, explain(error));
      if (!register) startConditional(); // autofill again, since it was stopped
    });
  }

  function startConditional() {
    var form = document.querySelector("form[data-clerk-passkey-conditional][data-options-url]");
    var available = PublicKeyCredential.isConditionalMediationAvailable;
    if (!form || !available || conditional) return;
    var controller = conditional = new AbortController();
    available.call(PublicKeyCredential).then(function (yes) {
      if (!yes || controller.signal.aborted) throw new DOMException("", "AbortError");
      return fetchOptions(form.dataset.optionsUrl, form, controller.signal);
    }).then(function (json) {
      if (controller.signal.aborted) throw new DOMException("", "AbortError");
      return navigator.credentials.get({
        mediation: "conditional", publicKey: parseOptions(json, false), signal: controller.signal,
      });
    }).then(function (credential) {
      submit(form, credential);
    }).catch(function () {
      // Autofill is an offer, not something the user asked for: failures stay quiet.
    }).finally(function () {
      if (conditional === controller) conditional = null;
    });
  }

  function start() {
    if (!window.PublicKeyCredential) {
      document.querySelectorAll("[data-clerk-passkey]").forEach(function (el) { el.hidden = true; });
      document.querySelectorAll("[data-clerk-passkey-unsupported]").forEach(function (el) {
        el.hidden = false;
      });
      return;
    }
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button[data-clerk-passkey]");
      if (button && !button.disabled) ceremony(button);
    });
    startConditional();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
