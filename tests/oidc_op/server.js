// A real OpenID Provider (the certified `oidc-provider` package) for the SSO tests.
//
// Started by tests/oidc_provider.py: `node server.js CONFIG.json`. CONFIG holds
// {"port": 0, "clients": [...], "accounts": {"id": {claims}}}. Once listening it prints
// one line `LISTENING <port>` on stdout. Everything else is the provider's own code:
// discovery, authorization with PKCE, the token endpoint, JWKS, RP-initiated logout.
//
// Test-only endpoints (under /__test, never part of an OP):
//   POST /__test/rotate        new signing key; the old key stays published for a while.
//   POST /__test/mode?m=...    how the next ID tokens leave the token endpoint:
//                              ok | audience | expired | signature (a misbehaving OP).
// Interactions are a tiny JSON API so tests can sign in with `requests` (and a form for a browser):
//   GET  /interaction/:uid                -> {"uid", "prompt"}, or the sign-in form for Accept: text/html
//   POST /interaction/:uid/login  account=<id>  -> 303 back to the provider (login + consent).
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;
let mode = 'ok';

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

let keys = [newKey()];
let provider;
let issuer;

function build() {
  const op = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // No confirmation page: the test follows the redirect straight back to the RP.
        logoutSource: async (ctx, form) => {
          ctx.body = `<html><body>${form}<script>document.forms[0].submit()</script></body></html>`;
        },
      },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'zoneinfo', 'department', 'job_title'],
    },
    conformIdTokenClaims: false, // put the scope's claims into the ID token as Entra and Google do
    findAccount: async (ctx, sub) => {
      if (!accounts[sub]) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...accounts[sub] }) };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { IdToken: 3600, AccessToken: 3600, Session: 3600, Interaction: 3600, Grant: 3600 },
  });
  op.proxy = false;
  op.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token && mode !== 'ok') {
      ctx.body = { ...ctx.body, id_token: await misbehave(ctx.body.id_token) };
    }
  });
  return op;
}

async function misbehave(idToken) {
  if (mode === 'signature') {
    const [h, p, s] = idToken.split('.');
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    return [h, p, flipped].join('.');
  }
  const claims = jose.decodeJwt(idToken);
  const header = jose.decodeProtectedHeader(idToken);
  if (mode === 'audience') claims.aud = 'some-other-client';
  if (mode === 'expired') {
    claims.iat -= 7200;
    claims.exp = claims.iat + 600;
  }
  const key = await jose.importJWK(keys[0], 'RS256');
  return new jose.SignJWT(claims).setProtectedHeader(header).sign(key);
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(new URLSearchParams(data)));
  });
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

// A browser's sign-in page at the provider: which account signs in (no password: a test OP).
function loginPage(res, uid) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title>
</head><body><main><h1>Test identity provider</h1>
<form method="post" action="/interaction/${encodeURIComponent(uid)}/login">
<label for="account">Account</label> <input id="account" name="account" autocomplete="username">
<button type="submit">Sign in at the provider</button></form></main></body></html>`);
}

async function testRoutes(req, res) {
  const url = new URL(req.url, issuer);
  if (req.method === 'POST' && url.pathname === '/__test/rotate') {
    keys = [newKey(), keys[0]];
    provider = build();
    return json(res, 200, { kids: keys.map((k) => k.kid) });
  }
  if (req.method === 'POST' && url.pathname === '/__test/mode') {
    mode = url.searchParams.get('m') || 'ok';
    return json(res, 200, { mode });
  }
  const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return false;
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET' && !match[2]) {
    if ((req.headers.accept || '').includes('text/html')) return loginPage(res, details.uid);
    return json(res, 200, { uid: details.uid, prompt: details.prompt.name });
  }
  if (req.method === 'POST' && match[2]) {
    const account = (await readBody(req)).get('account');
    if (!accounts[account]) return json(res, 400, { error: 'unknown account' });
    const grant = new provider.Grant({ accountId: account, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(
      req, res, { login: { accountId: account }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    return true;
  }
  return json(res, 405, { error: 'method not allowed' });
}

const server = http.createServer(async (req, res) => {
  try {
    if (await testRoutes(req, res) !== false) return;
  } catch (err) {
    return json(res, 400, { error: String(err) });
  }
  provider.callback()(req, res);
});

server.listen(config.port || 0, '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  provider = build();
  process.stdout.write(`LISTENING ${port}\n`);
});
