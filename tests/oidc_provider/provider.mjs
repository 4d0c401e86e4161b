// A real OpenID Connect provider for the tests: node-oidc-provider on 127.0.0.1.
//
// Usage: node provider.mjs '<json config>'; prints "READY <issuer>" once listening.
// Config: {"clients": [{"client_id", "client_secret", "redirect_uris": [...]}],
//          "accounts": {"<sub>": {"email", "email_verified", "name", ...}}}
//
// Its login page lists the accounts ("Continue as ...") and "Deny", for a browser.
// Scripts skip the page: /interaction/<uid>?auto=<sub> consents as that account,
// ?auto=deny refuses (access_denied), exactly as the buttons do.
//
// It also stands in for GitHub's API, which is plain OAuth 2 (no ID token):
// GET /github/user and /github/user/emails with the access token it issued
// answer in GitHub's shapes (an account's "github_emails" lists its addresses).
import http from "node:http";
import Provider from "oidc-provider";

const config = JSON.parse(process.argv[2] || "{}");
const accounts = config.accounts || {};

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients || [],
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "given_name", "family_name", "picture"],
    },
    conformIdTokenClaims: false, // claims in the ID token, as Google's are
    findAccount: (ctx, sub) => accounts[sub] && {
      accountId: sub,
      claims: () => ({ sub, ...accounts[sub] }),
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ["flask-clerk-test-provider"] },
  });
  provider.proxy = false;

  async function finish(req, res, choice) {
    if (choice === "deny" || !accounts[choice]) {
      return provider.interactionFinished(req, res, {
        error: "access_denied", error_description: "The user denied the request",
      }, { mergeWithLastSubmission: false });
    }
    const details = await provider.interactionDetails(req, res);
    const grant = new provider.Grant({ accountId: choice, clientId: details.params.client_id });
    grant.addOIDCScope(String(details.params.scope || "openid"));
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, {
      login: { accountId: choice }, consent: { grantId },
    }, { mergeWithLastSubmission: false });
  }

  async function github(req, res, path) {
    const bearer = (req.headers.authorization || "").replace(/^Bearer /i, "");
    const token = bearer && await provider.AccessToken.find(bearer);
    res.setHeader("Content-Type", "application/json");
    if (!token || !accounts[token.accountId]) {
      res.statusCode = 401;
      return res.end(JSON.stringify({ message: "Bad credentials" }));
    }
    const a = accounts[token.accountId];
    if (path === "/github/user") {
      return res.end(JSON.stringify({
        id: a.github_id, login: a.login, name: a.name || null,
        email: a.public_email || null, avatar_url: a.picture || null,
      }));
    }
    return res.end(JSON.stringify(a.github_emails || []));
  }

  const callback = provider.callback();
  server.on("request", async (req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname === "/github/user" || url.pathname === "/github/user/emails") {
      return github(req, res, url.pathname);
    }
    const match = url.pathname.match(/^\/interaction\/([\w-]+)(\/choose)?$/);
    if (!match) return callback(req, res);
    try {
      if (match[2] && req.method === "POST") {
        let body = "";
        for await (const chunk of req) body += chunk;
        return await finish(req, res, new URLSearchParams(body).get("choice"));
      }
      const auto = url.searchParams.get("auto");
      if (auto) return await finish(req, res, auto);
      const details = await provider.interactionDetails(req, res);
      const buttons = Object.entries(accounts).map(([sub, a]) =>
        `<button name="choice" value="${escape(sub)}">Continue as ${escape(a.email || sub)}</button>`);
      res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.end(`<!doctype html><title>Test IdP</title><h1>Sign in to Test IdP</h1>
        <p>${escape(details.params.client_id)} asks for: ${escape(details.params.scope)}</p>
        <form method="post" action="/interaction/${details.uid}/choose">${buttons.join("")}
        <button name="choice" value="deny">Deny</button></form>`);
    } catch (error) {
      res.statusCode = 400;
      res.end(String(error && error.message));
    }
  });
  process.stdout.write(`READY ${issuer}\n`);
});
